//! The national catalogue of appointment types over HTTP: kept by the administration, read by
//! everyone.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::Utc;

use super::{
    AppState,
    extract::{JsonBody, Staff},
    problem::{ApiError, Problem},
};
use crate::{
    domain::catalogue::TypeCode,
    use_cases::catalogue::{self, AppointmentTypeView, CreateTypeRequest, UpdateTypeRequest},
};

/// The national catalogue. Public.
#[utoipa::path(
    tag = "catalogue",
    responses((status = 200, description = "Appointment types by code", body = Vec<AppointmentTypeView>))
)]
#[get("/api/v1/appointment-types")]
pub async fn list(
    state: web::Data<AppState>,
) -> Result<web::Json<Vec<AppointmentTypeView>>, ApiError> {
    Ok(web::Json(catalogue::list(&state.store).await?))
}

/// Adds a type to the national catalogue. Admins only.
#[utoipa::path(
    tag = "catalogue",
    security(("bearer" = [])),
    request_body = CreateTypeRequest,
    responses(
        (status = 201, description = "Added", body = AppointmentTypeView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`type_code_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/appointment-types")]
pub async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<CreateTypeRequest>,
) -> Result<HttpResponse, ApiError> {
    let created = catalogue::create(&state.store, staff.actor, body, Utc::now()).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Changes a catalogue type's texts or default duration. Admins only. Offices that set their
/// own duration keep it.
#[utoipa::path(
    tag = "catalogue",
    security(("bearer" = [])),
    params(("type_code" = String, Path, description = "Appointment type", example = "document_delivery")),
    request_body = UpdateTypeRequest,
    responses(
        (status = 200, description = "Updated", body = AppointmentTypeView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/v1/appointment-types/{type_code}")]
pub async fn update(
    state: web::Data<AppState>,
    staff: Staff,
    type_code: web::Path<TypeCode>,
    JsonBody(body): JsonBody<UpdateTypeRequest>,
) -> Result<web::Json<AppointmentTypeView>, ApiError> {
    let code = type_code.into_inner();
    let updated = catalogue::update(&state.store, staff.actor, code, body, Utc::now()).await?;
    Ok(web::Json(updated))
}
