//! The services an office offers, over HTTP: catalogue types it turns on, with its own
//! settings.

use actix_web::{HttpResponse, delete, get, put, web};
use chrono::Utc;

use super::{
    AppState,
    extract::{JsonBody, Staff},
    problem::{ApiError, Problem},
};
use crate::{
    domain::{catalogue::TypeCode, office::OfficeCode},
    use_cases::services::{self, ServiceSettingsRequest, ServiceView},
};

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
    code: web::Path<OfficeCode>,
) -> Result<web::Json<Vec<ServiceView>>, ApiError> {
    let services = services::list(&state.store, staff.actor, code.into_inner()).await?;
    Ok(web::Json(services))
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
    path: web::Path<(OfficeCode, TypeCode)>,
    JsonBody(body): JsonBody<ServiceSettingsRequest>,
) -> Result<HttpResponse, ApiError> {
    let (code, type_code) = path.into_inner();
    let settings = body.parse()?;
    let put = services::put(
        &state.store,
        staff.actor,
        code,
        type_code,
        settings,
        Utc::now(),
    )
    .await?;
    match put.created {
        true => Ok(HttpResponse::Created().json(put.service)),
        false => Ok(HttpResponse::Ok().json(put.service)),
    }
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
    path: web::Path<(OfficeCode, TypeCode)>,
) -> Result<web::Json<ServiceView>, ApiError> {
    let (code, type_code) = path.into_inner();
    let service =
        services::turn_off(&state.store, staff.actor, code, type_code, Utc::now()).await?;
    Ok(web::Json(service))
}
