//! Calendars: groups of desks serving in parallel, the services they serve and their weekly
//! hours. Changes take effect on slots when the office publishes again.

use actix_web::{HttpResponse, get, http::StatusCode, patch, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    AppState,
    extract::{JsonBody, Staff},
    offices::present,
    problem::{ApiError, Problem},
    scope::{Need, audit, staff_office},
};
use crate::{
    domain::{
        FieldErrors,
        hours::{IntervalInput, WeeklyHours},
        office::parse_text,
    },
    store::{
        DbConnection,
        calendars::{self, Calendar, CalendarFields},
        services::{self, OfficeService},
    },
};

#[derive(Serialize, ToSchema)]
pub struct CalendarView {
    pub id: i64,
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

fn view(calendar: &Calendar, services: &[OfficeService]) -> CalendarView {
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCalendarRequest {
    pub name: String,
    pub desks: i32,
    #[schema(example = json!(["document_delivery"]))]
    pub service_codes: Vec<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
}

/// Fields to change; absent ones stay, `null` clears a validity bound.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCalendarRequest {
    pub name: Option<String>,
    pub desks: Option<i32>,
    pub service_codes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<NaiveDate>)]
    pub valid_from: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<NaiveDate>)]
    pub valid_until: Option<Option<NaiveDate>>,
}

/// Checks a calendar's fields and services against the office's services: each must be on,
/// and all must share one duration (a slot is one visit, whichever the service).
fn check(
    errors: &mut FieldErrors,
    fields: &CalendarFields,
    service_codes: &[String],
    offered: &[OfficeService],
) -> Vec<i64> {
    if !(1..=500).contains(&fields.desks) {
        errors.add("desks", "must be from 1 to 500");
    }
    if let (Some(from), Some(until)) = (fields.valid_from, fields.valid_until)
        && until < from
    {
        errors.add("valid_until", "must not be before valid_from");
    }
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
    if let Some(first) = chosen.first()
        && chosen
            .iter()
            .any(|s| s.duration_minutes() != first.duration_minutes())
    {
        let durations: Vec<String> = chosen
            .iter()
            .map(|s| format!("{} {} min", s.appointment_type.code, s.duration_minutes()))
            .collect();
        errors.add(
            "service_codes",
            format!(
                "the services of one calendar share one duration ({})",
                durations.join(", ")
            ),
        );
    }
    chosen.iter().map(|s| s.id).collect()
}

fn no_such_calendar() -> ApiError {
    ApiError::not_found("The office has no calendar with this id.")
}

fn reread(conn: &mut DbConnection, office_id: i64, id: i64) -> Result<CalendarView, ApiError> {
    let calendar = calendars::find(conn, office_id, id)?.ok_or_else(no_such_calendar)?;
    Ok(view(&calendar, &services::list(conn, office_id)?))
}

/// The office's calendars.
#[utoipa::path(
    tag = "calendars",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    responses(
        (status = 200, description = "Calendars, oldest first", body = Vec<CalendarView>),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/calendars")]
pub async fn list(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<String>,
) -> Result<web::Json<Vec<CalendarView>>, ApiError> {
    let actor = staff.actor;
    let views = state
        .store
        .read(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let offered = services::list(conn, office.id)?;
            Ok(calendars::list(conn, office.id)?
                .iter()
                .map(|c| view(c, &offered))
                .collect())
        })
        .await?;
    Ok(web::Json(views))
}

/// Adds a calendar. Its hours are set with `PUT …/hours`.
#[utoipa::path(
    tag = "calendars",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    request_body = CreateCalendarRequest,
    responses(
        (status = 201, description = "Created", body = CalendarView),
        (status = 403, description = "Operators cannot configure", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/calendars")]
pub async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<String>,
    JsonBody(body): JsonBody<CreateCalendarRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = staff.actor;
    let view = state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let offered = services::list(conn, office.id)?;
            let mut errors = FieldErrors::new();
            let name = errors
                .check("name", parse_text(&body.name, 100))
                .unwrap_or_default();
            let fields = CalendarFields {
                name,
                desks: body.desks,
                valid_from: body.valid_from,
                valid_until: body.valid_until,
            };
            let service_ids = check(&mut errors, &fields, &body.service_codes, &offered);
            if !errors.is_empty() {
                return Err(errors.into());
            }
            let id = calendars::insert(conn, office.id, &fields, &service_ids, Utc::now())?;
            let view = reread(conn, office.id, id)?;
            audit(
                conn,
                &actor,
                Some(office.id),
                "calendar.create",
                id,
                None::<&()>,
                Some(&view),
            )?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(view))
}

/// Changes a calendar's name, desks, services or validity.
#[utoipa::path(
    tag = "calendars",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("id" = i64, Path, description = "Calendar id"),
    ),
    request_body = UpdateCalendarRequest,
    responses(
        (status = 200, description = "Updated", body = CalendarView),
        (status = 404, description = "No such calendar", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/v1/offices/{code}/calendars/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, i64)>,
    JsonBody(body): JsonBody<UpdateCalendarRequest>,
) -> Result<web::Json<CalendarView>, ApiError> {
    let (code, id) = path.into_inner();
    let actor = staff.actor;
    let view = state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let current = calendars::find(conn, office.id, id)?.ok_or_else(no_such_calendar)?;
            let offered = services::list(conn, office.id)?;
            let before = view(&current, &offered);
            let mut errors = FieldErrors::new();
            let name = match body.name {
                Some(name) => errors
                    .check("name", parse_text(&name, 100))
                    .unwrap_or_default(),
                None => current.fields.name.clone(),
            };
            let fields = CalendarFields {
                name,
                desks: body.desks.unwrap_or(current.fields.desks),
                valid_from: body.valid_from.unwrap_or(current.fields.valid_from),
                valid_until: body.valid_until.unwrap_or(current.fields.valid_until),
            };
            let codes = body
                .service_codes
                .unwrap_or_else(|| before.service_codes.clone());
            let service_ids = check(&mut errors, &fields, &codes, &offered);
            if !errors.is_empty() {
                return Err(errors.into());
            }
            calendars::update(conn, id, &fields, &service_ids, Utc::now())?;
            let after = reread(conn, office.id, id)?;
            audit(
                conn,
                &actor,
                Some(office.id),
                "calendar.update",
                id,
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}

/// Replaces the calendar's weekly hours: a list of intervals, several a day for breaks.
#[utoipa::path(
    tag = "calendars",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("id" = i64, Path, description = "Calendar id"),
    ),
    request_body = Vec<IntervalInput>,
    responses(
        (status = 200, description = "The calendar with its new hours", body = CalendarView),
        (status = 404, description = "No such calendar", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or overlapping intervals", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/api/v1/offices/{code}/calendars/{id}/hours")]
pub async fn put_hours(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, i64)>,
    JsonBody(body): JsonBody<Vec<IntervalInput>>,
) -> Result<web::Json<CalendarView>, ApiError> {
    let (code, id) = path.into_inner();
    let hours = WeeklyHours::parse(&body)?;
    let actor = staff.actor;
    let view = state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let before = reread(conn, office.id, id)?;
            calendars::replace_hours(conn, id, &hours, Utc::now())?;
            let after = reread(conn, office.id, id)?;
            audit(
                conn,
                &actor,
                Some(office.id),
                "calendar.hours",
                id,
                Some(&before.hours),
                Some(&after.hours),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}
