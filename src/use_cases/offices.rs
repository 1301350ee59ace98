//! Offices: the national administration creates them and moves them through the rollout; each
//! office's manager keeps its details; applicants find pilot and live offices.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    audit::Audit,
    present,
    scope::{Need, staff_office, visible_office},
    services::PublicServiceView,
};
use crate::domain::text::parse_line;
use crate::{
    domain::{
        FieldErrors,
        audit::Action,
        email::EmailAddress,
        hours::{IntervalInput, union_of},
        language::Language,
        office::{
            OfficeCode, OfficeDetails, PatronDay, Stage, check_latitude, check_longitude,
            check_proof_of_work_cost, parse_phone, parse_time_zone,
        },
        staff::{Actor, Role},
    },
    error::{Answer, Error, Explain, Failure},
    store::{
        Store, calendars, is_unique_violation,
        offices::{self, Office},
        services,
    },
};

#[derive(Debug, thiserror::Error)]
pub enum OfficeFailure {
    #[error("an office with the code {0} already exists")]
    CodeTaken(OfficeCode),
}

impl Explain for OfficeFailure {
    fn answer(self) -> Answer {
        match self {
            OfficeFailure::CodeTaken(code) => Answer::Conflict {
                code: "office_code_taken",
                detail: format!("An office with the code {code} already exists."),
            },
        }
    }
}

impl Failure for OfficeFailure {}

pub type OfficeError = Error<OfficeFailure>;

/// An office as staff and applicants see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfficeView {
    #[schema(example = "RM")]
    pub code: String,
    #[schema(example = "Sportello Unico per l'Immigrazione di Roma")]
    pub name: String,
    pub address: String,
    pub city: String,
    /// Province abbreviation, e.g. `RM`.
    pub province: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// IANA time zone; every local time of the office is in it.
    #[schema(example = "Europe/Rome")]
    pub timezone: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Languages spoken at the office.
    pub languages: Vec<String>,
    /// The patron saint's day (MM-DD), when the office is closed.
    #[schema(example = "06-29")]
    pub patron_day: Option<String>,
    pub stage: Stage,
    /// Whether booking and lottery entry online need a solved proof-of-work challenge
    /// (`GET /api/v1/offices/{code}/challenge`, sent back as `altcha`).
    pub proof_of_work: bool,
    /// PBKDF2 iterations per counter a client tries when solving it.
    pub proof_of_work_cost: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Office> for OfficeView {
    fn from(office: &Office) -> OfficeView {
        let d = &office.details;
        OfficeView {
            code: office.code.to_string(),
            name: d.name.clone(),
            address: d.address.clone(),
            city: d.city.clone(),
            province: d.province.clone(),
            latitude: d.latitude,
            longitude: d.longitude,
            timezone: d.timezone.name().to_owned(),
            email: d.email.clone(),
            phone: d.phone.clone(),
            languages: d.languages.iter().map(Language::to_string).collect(),
            patron_day: d.patron_day.map(|day| day.to_string()),
            stage: office.stage,
            proof_of_work: d.proof_of_work,
            proof_of_work_cost: d.proof_of_work_cost,
            created_at: office.created_at,
            updated_at: office.updated_at,
        }
    }
}

/// What applicants need to plan a visit: the office, its services and its opening hours.
#[derive(Serialize, ToSchema)]
pub struct OfficePage {
    #[serde(flatten)]
    pub office: OfficeView,
    /// The services applicants can book (turned-off ones are not listed).
    pub services: Vec<PublicServiceView>,
    /// When the office's desks serve, all calendars together, by ISO weekday.
    pub opening_hours: Vec<IntervalInput>,
    /// When the next seats go on sale, if some are published to open later.
    pub next_seats_open_at: Option<crate::domain::time::LocalTime>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOfficeRequest {
    #[schema(schema_with = crate::domain::schema::office_code)]
    pub code: String,
    #[schema(schema_with = crate::domain::schema::line_200)]
    pub name: String,
    #[schema(schema_with = crate::domain::schema::line_300)]
    pub address: String,
    #[schema(schema_with = crate::domain::schema::line_100)]
    pub city: String,
    #[schema(schema_with = crate::domain::schema::line_10)]
    pub province: String,
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub latitude: Option<f64>,
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub longitude: Option<f64>,
    /// Default `Europe/Rome`.
    #[schema(schema_with = crate::domain::schema::optional_time_zone)]
    pub timezone: Option<String>,
    #[schema(schema_with = crate::domain::schema::optional_email)]
    pub email: Option<String>,
    #[schema(schema_with = crate::domain::schema::optional_phone)]
    pub phone: Option<String>,
    /// Default `["it"]`.
    #[schema(schema_with = crate::domain::schema::optional_languages)]
    pub languages: Option<Vec<String>>,
    /// MM-DD, e.g. `06-29` for Rome.
    #[schema(schema_with = crate::domain::schema::optional_month_day)]
    pub patron_day: Option<String>,
}

/// Fields to change; absent fields stay as they are, `null` clears an optional one.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateOfficeRequest {
    #[schema(schema_with = crate::domain::schema::optional_line_200)]
    pub name: Option<String>,
    #[schema(schema_with = crate::domain::schema::optional_line_300)]
    pub address: Option<String>,
    #[schema(schema_with = crate::domain::schema::optional_line_100)]
    pub city: Option<String>,
    #[schema(schema_with = crate::domain::schema::optional_line_10)]
    pub province: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = -90.0, maximum = 90.0)]
    pub latitude: Option<Option<f64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = -180.0, maximum = 180.0)]
    pub longitude: Option<Option<f64>>,
    #[schema(schema_with = crate::domain::schema::optional_time_zone)]
    pub timezone: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = crate::domain::schema::optional_email)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = crate::domain::schema::optional_phone)]
    pub phone: Option<Option<String>>,
    #[schema(schema_with = crate::domain::schema::optional_languages)]
    pub languages: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = crate::domain::schema::optional_month_day)]
    pub patron_day: Option<Option<String>>,
    /// Ask applicants' browsers to solve a proof-of-work challenge before they book or enter a
    /// lottery (staff and intermediaries are exempt).
    pub proof_of_work: Option<bool>,
    /// PBKDF2 iterations per counter tried; the default 5000 costs a phone a few seconds.
    #[schema(minimum = 1, maximum = 100_000)]
    pub proof_of_work_cost: Option<u32>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageRequest {
    pub stage: Stage,
}

impl CreateOfficeRequest {
    /// The code and the details, every field checked.
    fn parse(self) -> Result<(OfficeCode, OfficeDetails), FieldErrors> {
        let code = OfficeCode::parse(&self.code);
        // Every field is set from the request; only the defaults are taken from here.
        let blank = OfficeDetails::new("", "", "", "");
        let changes = UpdateOfficeRequest {
            name: Some(self.name),
            address: Some(self.address),
            city: Some(self.city),
            province: Some(self.province),
            latitude: Some(self.latitude),
            longitude: Some(self.longitude),
            timezone: self.timezone,
            email: Some(self.email),
            phone: Some(self.phone),
            languages: self.languages,
            patron_day: Some(self.patron_day),
            proof_of_work: None,
            proof_of_work_cost: None,
        };
        let details = changes.apply_to(blank);
        match (code, details) {
            (Ok(code), Ok(details)) => Ok((code, details)),
            (code, details) => {
                let mut errors = details.err().unwrap_or_default();
                if let Err(reason) = code {
                    errors.add("code", reason.message());
                }
                Err(errors)
            }
        }
    }
}

impl UpdateOfficeRequest {
    /// `details` with these changes, checking every field that changes.
    fn apply_to(self, mut details: OfficeDetails) -> Result<OfficeDetails, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut text = |field: &str, value: Option<String>, max: usize, target: &mut String| {
            if let Some(value) = value
                && let Some(value) = errors.check(field, parse_line(&value, max))
            {
                *target = value;
            }
        };
        text("name", self.name, 200, &mut details.name);
        text("address", self.address, 300, &mut details.address);
        text("city", self.city, 100, &mut details.city);
        text("province", self.province, 10, &mut details.province);
        if let Some(latitude) = self.latitude {
            details.latitude = latitude.and_then(|v| errors.check("latitude", check_latitude(v)));
        }
        if let Some(longitude) = self.longitude {
            details.longitude =
                longitude.and_then(|v| errors.check("longitude", check_longitude(v)));
        }
        if let Some(zone) = self.timezone
            && let Some(zone) = errors.check("timezone", parse_time_zone(&zone))
        {
            details.timezone = zone;
        }
        if let Some(email) = self.email {
            details.email = email.and_then(|e| {
                errors
                    .check("email", EmailAddress::parse(&e))
                    .map(|e| e.to_string())
            });
        }
        if let Some(phone) = self.phone {
            details.phone = phone.and_then(|p| errors.check("phone", parse_phone(&p)));
        }
        if let Some(languages) = self.languages {
            let mut checked = Vec::new();
            for (i, language) in languages.iter().enumerate() {
                if let Some(language) =
                    errors.check(&format!("languages[{i}]"), Language::parse(language))
                    && !checked.contains(&language)
                {
                    checked.push(language);
                }
            }
            if languages.is_empty() {
                errors.add("languages", "must name at least one language");
            }
            details.languages = checked;
        }
        if let Some(patron_day) = self.patron_day {
            details.patron_day =
                patron_day.and_then(|d| errors.check("patron_day", PatronDay::parse(&d)));
        }
        if let Some(required) = self.proof_of_work {
            details.proof_of_work = required;
        }
        if let Some(cost) = self.proof_of_work_cost
            && let Some(cost) = errors.check("proof_of_work_cost", check_proof_of_work_cost(cost))
        {
            details.proof_of_work_cost = cost;
        }
        errors.or_value(details)
    }
}

/// Creates an office, in stage `draft`. Admins only.
pub async fn create(
    store: &Store,
    actor: Actor,
    request: CreateOfficeRequest,
    now: DateTime<Utc>,
) -> Result<OfficeView, OfficeError> {
    actor.must_be_admin("Only the national administration creates offices.")?;
    let (code, details) = request.parse()?;
    store
        .write(move |conn| {
            let id = offices::insert(conn, &code, &details, now).map_err(|e| {
                if is_unique_violation(&e) {
                    OfficeFailure::CodeTaken(code.clone()).into()
                } else {
                    OfficeError::from(e)
                }
            })?;
            let office = offices::find_by_id(conn, id)?.ok_or_else(|| Error::vanished(&code))?;
            let view = OfficeView::from(&office);
            let audit = Audit::by(&actor, now);
            audit.created(conn, Some(id), Action::OfficeCreate, &code, &view)?;
            Ok(view)
        })
        .await
}

/// The public directory: offices in stage `pilot` or `live`. With a staff member, also the
/// offices they may see in other stages: every one for admins, their own for the others.
pub async fn directory(
    store: &Store,
    viewer: Option<Actor>,
) -> Result<Vec<OfficeView>, OfficeError> {
    store
        .read(move |conn| {
            let offices = match &viewer {
                Some(actor) if actor.role == Role::Admin => offices::list(conn, None, None)?,
                Some(Actor {
                    office: Some(own), ..
                }) => {
                    let own = offices::id_by_code(conn, own)?;
                    offices::list(conn, Some(&Stage::PUBLIC), own)?
                }
                _ => offices::list(conn, Some(&Stage::PUBLIC), None)?,
            };
            Ok(offices.iter().map(OfficeView::from).collect())
        })
        .await
}

/// An office with the services applicants can book and its opening hours. Offices that are
/// not yet public are for their own staff only.
pub async fn page(
    store: &Store,
    viewer: Option<Actor>,
    code: OfficeCode,
    now: DateTime<Utc>,
) -> Result<OfficePage, OfficeError> {
    store
        .read(move |conn| {
            let office = visible_office(conn, viewer.as_ref(), &code)?;
            let next_opening = crate::store::slots::next_opening(conn, office.id, None, now)?;
            let zone = office.details.timezone;
            let offered: Vec<_> = services::list(conn, office.id)?
                .into_iter()
                .filter(|service| service.active)
                .collect();
            let calendars = calendars::list(conn, office.id)?;
            let serving = calendars
                .iter()
                .filter(|calendar| {
                    offered
                        .iter()
                        .any(|service| calendar.service_ids.contains(&service.id))
                })
                .map(|calendar| &calendar.hours);
            Ok(OfficePage {
                office: OfficeView::from(&office),
                services: offered.iter().map(PublicServiceView::from).collect(),
                opening_hours: union_of(serving)
                    .into_iter()
                    .map(|interval| interval.to_input())
                    .collect(),
                next_seats_open_at: next_opening.map(|at| crate::domain::time::local(at, zone)),
            })
        })
        .await
}

/// Changes an office's details. Admins, and the office's own manager.
pub async fn update(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    changes: UpdateOfficeRequest,
    now: DateTime<Utc>,
) -> Result<OfficeView, OfficeError> {
    store
        .write(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let details = changes.apply_to(office.details.clone())?;
            offices::update_details(conn, office.id, &details, now)?;
            let updated =
                offices::find_by_id(conn, office.id)?.ok_or_else(|| Error::vanished(&code))?;
            let (before, after) = (OfficeView::from(&office), OfficeView::from(&updated));
            let audit = Audit::by(&actor, now);
            audit.changed(
                conn,
                Some(office.id),
                Action::OfficeUpdate,
                &code,
                &before,
                &after,
            )?;
            Ok(after)
        })
        .await
}

/// Moves an office through the rollout. Admins only; audited.
pub async fn set_stage(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    stage: Stage,
    now: DateTime<Utc>,
) -> Result<OfficeView, OfficeError> {
    #[derive(Serialize)]
    struct StageChange {
        stage: Stage,
    }
    let view = store
        .write(move |conn| -> Result<_, OfficeError> {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            actor.must_be_admin("Only the national administration changes an office's stage.")?;
            offices::set_stage(conn, office.id, stage, now)?;
            let (before, after) = (
                StageChange {
                    stage: office.stage,
                },
                StageChange { stage },
            );
            let audit = Audit::by(&actor, now);
            audit.changed(
                conn,
                Some(office.id),
                Action::OfficeStage,
                &code,
                &before,
                &after,
            )?;
            let updated =
                offices::find_by_id(conn, office.id)?.ok_or_else(|| Error::vanished(&code))?;
            Ok(OfficeView::from(&updated))
        })
        .await?;
    tracing::info!(office = %view.code, stage = %view.stage, "office stage changed");
    Ok(view)
}
