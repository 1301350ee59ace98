//! Offices: the national administration creates them and moves them through the rollout; each
//! office's manager keeps its details; applicants find pilot and live offices.

use actix_web::{HttpResponse, get, http::StatusCode, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::{
    AppState,
    extract::{JsonBody, MaybeStaff, Staff},
    problem::{ApiError, Problem},
    scope::{Need, audit, staff_office, visible_office},
    services::PublicServiceView,
};
use crate::{
    domain::{
        FieldErrors,
        email::EmailAddress,
        hours::{IntervalInput, union_of},
        office::{
            OfficeCode, PatronDay, Stage, check_latitude, check_longitude, parse_language,
            parse_phone, parse_text, parse_time_zone,
        },
        staff::Role,
    },
    store::{
        calendars, is_unique_violation,
        offices::{self, Office, OfficeDetails},
        services,
    },
};

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
            languages: d.languages.clone(),
            patron_day: d.patron_day.map(|day| day.to_string()),
            stage: office.stage,
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
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOfficeRequest {
    #[schema(example = "RM")]
    pub code: String,
    pub name: String,
    pub address: String,
    pub city: String,
    pub province: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Default `Europe/Rome`.
    pub timezone: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Default `["it"]`.
    pub languages: Option<Vec<String>>,
    /// MM-DD, e.g. `06-29` for Rome.
    pub patron_day: Option<String>,
}

/// Fields to change; absent fields stay as they are, `null` clears an optional one.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateOfficeRequest {
    pub name: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>)]
    pub latitude: Option<Option<f64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>)]
    pub longitude: Option<Option<f64>>,
    pub timezone: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    pub languages: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub patron_day: Option<Option<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from a field not sent (`None`).
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageRequest {
    pub stage: Stage,
}

/// Applies `changes` to `details`, checking every field that changes.
fn apply_changes(
    changes: UpdateOfficeRequest,
    mut details: OfficeDetails,
) -> Result<OfficeDetails, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut text = |field: &str, value: Option<String>, max: usize, target: &mut String| {
        if let Some(value) = value
            && let Some(value) = errors.check(field, parse_text(&value, max))
        {
            *target = value;
        }
    };
    text("name", changes.name, 200, &mut details.name);
    text("address", changes.address, 300, &mut details.address);
    text("city", changes.city, 100, &mut details.city);
    text("province", changes.province, 10, &mut details.province);
    if let Some(latitude) = changes.latitude {
        details.latitude = latitude.and_then(|v| errors.check("latitude", check_latitude(v)));
    }
    if let Some(longitude) = changes.longitude {
        details.longitude = longitude.and_then(|v| errors.check("longitude", check_longitude(v)));
    }
    if let Some(zone) = changes.timezone
        && let Some(zone) = errors.check("timezone", parse_time_zone(&zone))
    {
        details.timezone = zone;
    }
    if let Some(email) = changes.email {
        details.email = email.and_then(|e| {
            errors
                .check("email", EmailAddress::parse(&e))
                .map(|e| e.to_string())
        });
    }
    if let Some(phone) = changes.phone {
        details.phone = phone.and_then(|p| errors.check("phone", parse_phone(&p)));
    }
    if let Some(languages) = changes.languages {
        let mut checked = Vec::new();
        for (i, language) in languages.iter().enumerate() {
            if let Some(language) =
                errors.check(&format!("languages[{i}]"), parse_language(language))
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
    if let Some(patron_day) = changes.patron_day {
        details.patron_day =
            patron_day.and_then(|d| errors.check("patron_day", PatronDay::parse(&d)));
    }
    if errors.is_empty() {
        Ok(details)
    } else {
        Err(errors)
    }
}

/// Creates an office, in stage `draft`. Admins only.
#[utoipa::path(
    tag = "offices",
    security(("bearer" = [])),
    request_body = CreateOfficeRequest,
    responses(
        (status = 201, description = "Created", body = OfficeView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`office_code_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices")]
pub async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<CreateOfficeRequest>,
) -> Result<HttpResponse, ApiError> {
    staff
        .actor
        .must_be_admin("Only the national administration creates offices.")?;
    let code = OfficeCode::parse(&body.code);
    // Every field below is set from the request; only the defaults are taken from here.
    let blank = OfficeDetails::new("", "", "", "");
    let changes = UpdateOfficeRequest {
        name: Some(body.name),
        address: Some(body.address),
        city: Some(body.city),
        province: Some(body.province),
        latitude: Some(body.latitude),
        longitude: Some(body.longitude),
        timezone: body.timezone,
        email: Some(body.email),
        phone: Some(body.phone),
        languages: body.languages,
        patron_day: Some(body.patron_day),
    };
    let details = apply_changes(changes, blank);
    let (code, details) = match (code, details) {
        (Ok(code), Ok(details)) => (code, details),
        (code, details) => {
            let mut errors = details.err().unwrap_or_default();
            if let Err(message) = code {
                errors.add("code", message);
            }
            return Err(errors.into());
        }
    };
    let actor = staff.actor;
    let office = state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            let id = offices::insert(conn, &code, &details, Utc::now()).map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::conflict(
                        "office_code_taken",
                        format!("An office with the code {code} already exists."),
                    )
                } else {
                    e.into()
                }
            })?;
            let office = offices::find_by_code(conn, &code)?.ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("office {id} vanished after insert"))
            })?;
            let view = OfficeView::from(&office);
            audit(
                conn,
                &actor,
                Some(id),
                "office.create",
                &code,
                None::<&()>,
                Some(&view),
            )?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(office))
}

/// The public directory: offices in stage `pilot` or `live`. With a staff token, also the
/// offices that staff member may see in other stages.
#[utoipa::path(
    tag = "offices",
    responses((status = 200, description = "Offices by code", body = Vec<OfficeView>))
)]
#[get("/api/v1/offices")]
pub async fn list(
    state: web::Data<AppState>,
    viewer: MaybeStaff,
) -> Result<web::Json<Vec<OfficeView>>, ApiError> {
    let actor = viewer.actor().cloned();
    let list = state
        .store
        .read(move |conn| -> Result<_, ApiError> {
            let public = [Stage::Pilot, Stage::Live];
            Ok(match &actor {
                Some(actor) if actor.role == Role::Admin => offices::list(conn, None, None)?,
                Some(actor) => {
                    let own = match &actor.office {
                        Some(code) => offices::id_by_code(conn, code)?,
                        None => None,
                    };
                    offices::list(conn, Some(&public), own)?
                }
                None => offices::list(conn, Some(&public), None)?,
            })
        })
        .await?;
    Ok(web::Json(list.iter().map(OfficeView::from).collect()))
}

/// An office with the services applicants can book and its opening hours. Offices that are
/// not yet public answer 404, except to their own staff.
#[utoipa::path(
    tag = "offices",
    params(("code" = String, Path, description = "Office code", example = "RM")),
    responses(
        (status = 200, description = "The office", body = OfficePage),
        (status = 404, description = "No such (public) office", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}")]
pub async fn show(
    state: web::Data<AppState>,
    viewer: MaybeStaff,
    code: web::Path<String>,
) -> Result<web::Json<OfficePage>, ApiError> {
    let actor = viewer.actor().cloned();
    let page = state
        .store
        .read(move |conn| -> Result<_, ApiError> {
            let office = visible_office(conn, actor.as_ref(), &code)?;
            let services = services::list(conn, office.id)?;
            let active: Vec<i64> = services.iter().filter(|s| s.active).map(|s| s.id).collect();
            let calendars = calendars::list(conn, office.id)?;
            let serving: Vec<_> = calendars
                .iter()
                .filter(|calendar| calendar.service_ids.iter().any(|id| active.contains(id)))
                .map(|calendar| &calendar.hours)
                .collect();
            Ok(OfficePage {
                office: OfficeView::from(&office),
                services: services
                    .iter()
                    .filter(|s| s.active)
                    .map(PublicServiceView::from)
                    .collect(),
                opening_hours: union_of(serving)
                    .into_iter()
                    .map(|interval| interval.to_input())
                    .collect(),
            })
        })
        .await?;
    Ok(web::Json(page))
}

/// Changes an office's details. Admins, and the office's own manager.
#[utoipa::path(
    tag = "offices",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    request_body = UpdateOfficeRequest,
    responses(
        (status = 200, description = "Updated", body = OfficeView),
        (status = 403, description = "Operators cannot change the office", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/v1/offices/{code}")]
pub async fn update(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<String>,
    JsonBody(body): JsonBody<UpdateOfficeRequest>,
) -> Result<web::Json<OfficeView>, ApiError> {
    let actor = staff.actor;
    let view = state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let details = apply_changes(body, office.details.clone())?;
            offices::update_details(conn, office.id, &details, Utc::now())?;
            let updated = offices::find_by_code(conn, &office.code)?
                .ok_or_else(|| ApiError::not_found("gone"))?;
            let (before, after) = (OfficeView::from(&office), OfficeView::from(&updated));
            audit(
                conn,
                &actor,
                Some(office.id),
                "office.update",
                &office.code,
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}

/// Moves an office through the rollout: `draft`, `preview` (its staff try it), `pilot` and
/// `live` (open to applicants), `suspended`. Admins only; every change is audited.
#[utoipa::path(
    tag = "offices",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    request_body = StageRequest,
    responses(
        (status = 200, description = "The office in its new stage", body = OfficeView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/stage")]
pub async fn set_stage(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<String>,
    JsonBody(body): JsonBody<StageRequest>,
) -> Result<web::Json<OfficeView>, ApiError> {
    let actor = staff.actor;
    let view = state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            actor.must_be_admin("Only the national administration changes an office's stage.")?;
            offices::set_stage(conn, office.id, body.stage, Utc::now())?;
            #[derive(Serialize)]
            struct StageChange {
                stage: Stage,
            }
            audit(
                conn,
                &actor,
                Some(office.id),
                "office.stage",
                &office.code,
                Some(&StageChange {
                    stage: office.stage,
                }),
                Some(&StageChange { stage: body.stage }),
            )?;
            let updated = offices::find_by_code(conn, &office.code)?
                .ok_or_else(|| ApiError::not_found("gone"))?;
            Ok(OfficeView::from(&updated))
        })
        .await?;
    tracing::info!(office = %view.code, stage = %view.stage, "office stage changed");
    Ok(web::Json(view))
}
