//! Calendars: groups of desks serving in parallel, the services they serve and their weekly
//! hours. Changes take effect on slots when the office publishes again.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    audit::Audit,
    present,
    scope::{Need, staff_office},
};
use crate::domain::text::parse_line;
use crate::{
    domain::{
        FieldErrors,
        audit::Action,
        calendar::{CalendarFields, shared_duration},
        days::Day,
        hours::{IntervalInput, WeeklyHours},
        ids::{CalendarId, OfficeId, ServiceId},
        office::OfficeCode,
        staff::Actor,
    },
    error::{Answer, Error, Explain, Failure},
    store::{
        DbConnection, Store,
        calendars::{self, Calendar},
        services::{self, OfficeService},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum CalendarFailure {
    #[error("the office has no calendar with this id")]
    NoSuchCalendar,
}

impl Explain for CalendarFailure {
    fn answer(self) -> Answer {
        match self {
            CalendarFailure::NoSuchCalendar => {
                Answer::NotFound("The office has no calendar with this id.".into())
            }
        }
    }
}

impl Failure for CalendarFailure {}

pub type CalendarError = Error<CalendarFailure>;

#[derive(Serialize, ToSchema)]
pub struct CalendarView {
    #[schema(value_type = i64)]
    pub id: CalendarId,
    #[schema(example = "Sportelli 1-3")]
    pub name: String,
    /// Desks serving in parallel: each slot's seats.
    #[schema(example = 3)]
    pub desks: i32,
    /// The appointment types these desks serve.
    pub service_codes: Vec<String>,
    /// First day the calendar applies (none: from the start).
    pub valid_from: Option<NaiveDate>,
    /// Last day the calendar applies (none: open-ended).
    pub valid_until: Option<NaiveDate>,
    /// Weekly hours, several intervals a day allowed.
    pub hours: Vec<IntervalInput>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CalendarView {
    fn new(calendar: &Calendar, services: &[OfficeService]) -> CalendarView {
        CalendarView {
            id: calendar.id,
            name: calendar.fields.name.clone(),
            desks: calendar.fields.desks,
            service_codes: services
                .iter()
                .filter(|service| calendar.service_ids.contains(&service.id))
                .map(|service| service.appointment_type.code.to_string())
                .collect(),
            valid_from: calendar.fields.valid_from,
            valid_until: calendar.fields.valid_until,
            hours: calendar
                .hours
                .intervals()
                .iter()
                .map(|interval| interval.to_input())
                .collect(),
            created_at: calendar.created_at,
            updated_at: calendar.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCalendarRequest {
    #[schema(schema_with = crate::domain::schema::line_100)]
    pub name: String,
    #[schema(minimum = 1, maximum = 500)]
    pub desks: i32,
    #[schema(schema_with = crate::domain::schema::type_codes)]
    pub service_codes: Vec<String>,
    #[schema(value_type = Option<NaiveDate>)]
    pub valid_from: Option<Day>,
    #[schema(value_type = Option<NaiveDate>)]
    pub valid_until: Option<Day>,
}

/// Fields to change; absent ones stay, `null` clears a validity bound.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCalendarRequest {
    #[schema(schema_with = crate::domain::schema::optional_line_100)]
    pub name: Option<String>,
    #[schema(minimum = 1, maximum = 500)]
    pub desks: Option<i32>,
    #[schema(schema_with = crate::domain::schema::optional_type_codes)]
    pub service_codes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<NaiveDate>)]
    pub valid_from: Option<Option<Day>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<NaiveDate>)]
    pub valid_until: Option<Option<Day>>,
}

/// A calendar's fields and services, checked against the office's services: each must be on,
/// and all must share one duration.
fn check(
    mut errors: FieldErrors,
    fields: CalendarFields,
    service_codes: &[String],
    offered: &[OfficeService],
) -> Result<(CalendarFields, Vec<ServiceId>), FieldErrors> {
    fields.check(&mut errors);
    let mut chosen: Vec<&OfficeService> = Vec::new();
    for (i, code) in service_codes.iter().enumerate() {
        match offered
            .iter()
            .find(|s| s.active && s.appointment_type.code.as_str() == code.trim())
        {
            Some(service) if !chosen.iter().any(|c| c.id == service.id) => chosen.push(service),
            Some(_) => errors.add(format!("service_codes[{i}]"), "is listed twice"),
            None => errors.add(
                format!("service_codes[{i}]"),
                format!("the office does not offer {code:?}; turn the service on first"),
            ),
        }
    }
    if service_codes.is_empty() {
        errors.add("service_codes", "must name at least one service");
    }
    let durations = chosen
        .iter()
        .map(|s| (&s.appointment_type.code, s.duration_minutes()));
    if let Err(differ) = shared_duration(durations) {
        errors.add("service_codes", differ.to_string());
    }
    let ids = chosen.iter().map(|s| s.id).collect();
    errors.or_value((fields, ids))
}

fn read_back(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: CalendarId,
) -> Result<CalendarView, CalendarError> {
    let calendar = calendars::find(conn, office_id, id)?.ok_or(CalendarFailure::NoSuchCalendar)?;
    Ok(CalendarView::new(
        &calendar,
        &services::list(conn, office_id)?,
    ))
}

/// The office's calendars, oldest first.
pub async fn list(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
) -> Result<Vec<CalendarView>, CalendarError> {
    store
        .read(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let offered = services::list(conn, office.id)?;
            Ok(calendars::list(conn, office.id)?
                .iter()
                .map(|calendar| CalendarView::new(calendar, &offered))
                .collect())
        })
        .await
}

/// Adds a calendar. Its hours are set with [`put_hours`].
pub async fn create(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    request: CreateCalendarRequest,
    now: DateTime<Utc>,
) -> Result<CalendarView, CalendarError> {
    store
        .write(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let offered = services::list(conn, office.id)?;
            let mut errors = FieldErrors::new();
            let name = errors
                .check("name", parse_line(&request.name, 100))
                .unwrap_or_default();
            let fields = CalendarFields {
                name,
                desks: request.desks,
                valid_from: request.valid_from.map(Day::get),
                valid_until: request.valid_until.map(Day::get),
            };
            let (fields, service_ids) = check(errors, fields, &request.service_codes, &offered)?;
            let id = calendars::insert(conn, office.id, &fields, &service_ids, now)?;
            let view = read_back(conn, office.id, id)?;
            let audit = Audit::by(&actor, now);
            audit.created(conn, Some(office.id), Action::CalendarCreate, id, &view)?;
            Ok(view)
        })
        .await
}

/// Changes a calendar's name, desks, services or validity.
pub async fn update(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    id: CalendarId,
    request: UpdateCalendarRequest,
    now: DateTime<Utc>,
) -> Result<CalendarView, CalendarError> {
    store
        .write(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let current =
                calendars::find(conn, office.id, id)?.ok_or(CalendarFailure::NoSuchCalendar)?;
            let offered = services::list(conn, office.id)?;
            let before = CalendarView::new(&current, &offered);
            let mut errors = FieldErrors::new();
            let name = match request.name {
                Some(name) => errors
                    .check("name", parse_line(&name, 100))
                    .unwrap_or_default(),
                None => current.fields.name.clone(),
            };
            let fields = CalendarFields {
                name,
                desks: request.desks.unwrap_or(current.fields.desks),
                valid_from: match request.valid_from {
                    Some(day) => day.map(Day::get),
                    None => current.fields.valid_from,
                },
                valid_until: match request.valid_until {
                    Some(day) => day.map(Day::get),
                    None => current.fields.valid_until,
                },
            };
            // Services not named stay as they are, turned off or not: changing the desks must
            // not need the services sent again.
            let (fields, service_ids) = match &request.service_codes {
                Some(codes) => check(errors, fields, codes, &offered)?,
                None => {
                    fields.check(&mut errors);
                    errors.or_value((fields, current.service_ids.clone()))?
                }
            };
            calendars::update(conn, office.id, id, &fields, &service_ids, now)?;
            let after = read_back(conn, office.id, id)?;
            let audit = Audit::by(&actor, now);
            audit.changed(
                conn,
                Some(office.id),
                Action::CalendarUpdate,
                id,
                &before,
                &after,
            )?;
            Ok(after)
        })
        .await
}

/// Replaces the calendar's weekly hours.
pub async fn put_hours(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    id: CalendarId,
    hours: WeeklyHours,
    now: DateTime<Utc>,
) -> Result<CalendarView, CalendarError> {
    store
        .write(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let before = read_back(conn, office.id, id)?;
            calendars::replace_hours(conn, office.id, id, &hours, now)?;
            let after = read_back(conn, office.id, id)?;
            let audit = Audit::by(&actor, now);
            let (office_id, action) = (Some(office.id), Action::CalendarHours);
            audit.changed(conn, office_id, action, id, &before.hours, &after.hours)?;
            Ok(after)
        })
        .await
}
