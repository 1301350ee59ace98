//! The services an office offers: catalogue types it turns on, with its own settings.

use actix_web::{HttpResponse, delete, get, http::StatusCode, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    AppState,
    extract::{JsonBody, Staff},
    problem::{ApiError, Problem},
    scope::{Need, audit, staff_office},
};
use crate::{
    domain::{
        FieldErrors,
        catalogue::{DocumentLists, Texts, TypeCode, check_duration},
    },
    store::{
        DbConnection, calendars, catalogue,
        services::{self, OfficeService, ServiceSettings},
    },
};

/// A service as applicants see it.
#[derive(Serialize, ToSchema)]
pub struct PublicServiceView {
    #[schema(example = "document_delivery")]
    pub code: String,
    pub names: Texts,
    pub descriptions: Texts,
    /// What to bring, by language.
    pub documents: DocumentLists,
    pub duration_minutes: i32,
    /// Booked by invitation only, not by applicants themselves.
    pub invite_only: bool,
}

impl From<&OfficeService> for PublicServiceView {
    fn from(service: &OfficeService) -> PublicServiceView {
        let texts = &service.appointment_type.texts;
        PublicServiceView {
            code: service.appointment_type.code.to_string(),
            names: texts.names.clone(),
            descriptions: texts.descriptions.clone(),
            documents: texts.documents.clone(),
            duration_minutes: service.duration_minutes(),
            invite_only: service.settings.invite_only,
        }
    }
}

/// A service with the office's settings, as staff see it.
#[derive(Serialize, ToSchema)]
pub struct ServiceView {
    #[schema(example = "document_delivery")]
    pub code: String,
    pub names: Texts,
    /// The duration in force: the office's own, or the catalogue's default.
    pub duration_minutes: i32,
    /// The office's own duration, when it overrides the catalogue's.
    pub duration_override: Option<i32>,
    pub invite_only: bool,
    pub min_notice_hours: i32,
    pub horizon_days: i32,
    pub desk_share_percent: i32,
    pub change_cutoff_hours: i32,
    /// Turned-off services are hidden from applicants; their bookings stay valid.
    pub active: bool,
    pub updated_at: DateTime<Utc>,
}

impl From<&OfficeService> for ServiceView {
    fn from(service: &OfficeService) -> ServiceView {
        ServiceView {
            code: service.appointment_type.code.to_string(),
            names: service.appointment_type.texts.names.clone(),
            duration_minutes: service.duration_minutes(),
            duration_override: service.settings.duration_minutes,
            invite_only: service.settings.invite_only,
            min_notice_hours: service.settings.min_notice_hours,
            horizon_days: service.settings.horizon_days,
            desk_share_percent: service.settings.desk_share_percent,
            change_cutoff_hours: service.settings.change_cutoff_hours,
            active: service.active,
            updated_at: service.updated_at,
        }
    }
}

/// The office's settings for a service. Absent fields take the defaults: the catalogue's
/// duration, not invite-only, 24 hours' notice, 60 days ahead, no desk share.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettingsRequest {
    #[schema(example = 20)]
    pub duration_minutes: Option<i32>,
    pub invite_only: Option<bool>,
    #[schema(example = 24)]
    pub min_notice_hours: Option<i32>,
    #[schema(example = 60)]
    pub horizon_days: Option<i32>,
    #[schema(example = 20)]
    pub desk_share_percent: Option<i32>,
    /// Applicants may cancel or move a visit until this many hours before it (default 24).
    #[schema(example = 24)]
    pub change_cutoff_hours: Option<i32>,
}

fn check_settings(body: ServiceSettingsRequest) -> Result<ServiceSettings, FieldErrors> {
    let defaults = ServiceSettings::default();
    let mut errors = FieldErrors::new();
    let mut within =
        |field: &str, value: Option<i32>, range: std::ops::RangeInclusive<i32>, default: i32| {
            let value = value.unwrap_or(default);
            if range.contains(&value) {
                value
            } else {
                errors.add(
                    field,
                    format!("must be from {} to {}", range.start(), range.end()),
                );
                default
            }
        };
    let min_notice_hours = within(
        "min_notice_hours",
        body.min_notice_hours,
        0..=720,
        defaults.min_notice_hours,
    );
    let horizon_days = within(
        "horizon_days",
        body.horizon_days,
        1..=730,
        defaults.horizon_days,
    );
    let desk_share_percent = within(
        "desk_share_percent",
        body.desk_share_percent,
        0..=100,
        defaults.desk_share_percent,
    );
    let change_cutoff_hours = within(
        "change_cutoff_hours",
        body.change_cutoff_hours,
        0..=720,
        defaults.change_cutoff_hours,
    );
    let duration_minutes = body
        .duration_minutes
        .and_then(|d| errors.check("duration_minutes", check_duration(d)));
    let settings = ServiceSettings {
        duration_minutes,
        invite_only: body.invite_only.unwrap_or(false),
        min_notice_hours,
        horizon_days,
        desk_share_percent,
        change_cutoff_hours,
    };
    if errors.is_empty() {
        Ok(settings)
    } else {
        Err(errors)
    }
}

/// Refuses a duration that would give a calendar services of different lengths.
fn check_calendars_agree(
    conn: &mut DbConnection,
    office_id: i64,
    service_id: i64,
    duration: i32,
) -> Result<(), ApiError> {
    let services = services::list(conn, office_id)?;
    for calendar in calendars::list(conn, office_id)? {
        if !calendar.service_ids.contains(&service_id) {
            continue;
        }
        let other = services.iter().find(|s| {
            s.active
                && s.id != service_id
                && calendar.service_ids.contains(&s.id)
                && s.duration_minutes() != duration
        });
        if let Some(other) = other {
            return Err(ApiError::field(
                "duration_minutes",
                format!(
                    "calendar '{}' also serves {} ({} min); the services of one calendar share one duration",
                    calendar.fields.name,
                    other.appointment_type.code,
                    other.duration_minutes()
                ),
            ));
        }
    }
    Ok(())
}

fn no_such_type() -> ApiError {
    ApiError::not_found("There is no appointment type with this code in the catalogue.")
}

/// The office's services, turned on or off. Staff of the office and admins.
#[utoipa::path(
    tag = "services",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    responses(
        (status = 200, description = "Services by code", body = Vec<ServiceView>),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/services")]
pub async fn list(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<String>,
) -> Result<web::Json<Vec<ServiceView>>, ApiError> {
    let actor = staff.actor;
    let list = state
        .store
        .read(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            Ok(services::list(conn, office.id)?)
        })
        .await?;
    Ok(web::Json(list.iter().map(ServiceView::from).collect()))
}

/// Turns a catalogue type on for the office, or replaces its settings (turning it back on).
#[utoipa::path(
    tag = "services",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("type_code" = String, Path, description = "Appointment type", example = "document_delivery"),
    ),
    request_body = ServiceSettingsRequest,
    responses(
        (status = 200, description = "Settings replaced", body = ServiceView),
        (status = 201, description = "Turned on", body = ServiceView),
        (status = 404, description = "No such office or type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid settings", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/api/v1/offices/{code}/services/{type_code}")]
pub async fn put(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
    JsonBody(body): JsonBody<ServiceSettingsRequest>,
) -> Result<HttpResponse, ApiError> {
    let (code, type_code) = path.into_inner();
    let settings = check_settings(body)?;
    let actor = staff.actor;
    let (created, view) = state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let type_code = TypeCode::parse(&type_code).map_err(|_| no_such_type())?;
            let appointment_type =
                catalogue::find_by_code(conn, &type_code)?.ok_or_else(no_such_type)?;
            let now = Utc::now();
            let existing = services::find(conn, office.id, appointment_type.id)?;
            let before = existing.as_ref().map(ServiceView::from);
            let id = match &existing {
                Some(service) => {
                    let duration = settings
                        .duration_minutes
                        .unwrap_or(appointment_type.default_duration_minutes);
                    check_calendars_agree(conn, office.id, service.id, duration)?;
                    services::update(conn, service.id, &settings, now)?;
                    service.id
                }
                None => services::insert(conn, office.id, appointment_type.id, &settings, now)?,
            };
            let service = services::find(conn, office.id, appointment_type.id)?
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("service {id} vanished")))?;
            let view = ServiceView::from(&service);
            audit(
                conn,
                &actor,
                Some(office.id),
                "service.put",
                &type_code,
                before.as_ref(),
                Some(&view),
            )?;
            Ok((existing.is_none(), view))
        })
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(view))
}

/// Turns a service off: applicants no longer see it; bookings already made stay valid.
#[utoipa::path(
    tag = "services",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("type_code" = String, Path, description = "Appointment type", example = "document_delivery"),
    ),
    responses(
        (status = 200, description = "Turned off", body = ServiceView),
        (status = 404, description = "The office does not offer this type", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/offices/{code}/services/{type_code}")]
pub async fn turn_off(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
) -> Result<web::Json<ServiceView>, ApiError> {
    let (code, type_code) = path.into_inner();
    let actor = staff.actor;
    let view = state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let not_offered =
                || ApiError::not_found("The office does not offer this appointment type.");
            let type_code = TypeCode::parse(&type_code).map_err(|_| not_offered())?;
            let appointment_type =
                catalogue::find_by_code(conn, &type_code)?.ok_or_else(not_offered)?;
            let service =
                services::find(conn, office.id, appointment_type.id)?.ok_or_else(not_offered)?;
            services::set_active(conn, service.id, false, Utc::now())?;
            let before = ServiceView::from(&service);
            let after = ServiceView {
                active: false,
                ..ServiceView::from(&service)
            };
            audit(
                conn,
                &actor,
                Some(office.id),
                "service.turn_off",
                &type_code,
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}
