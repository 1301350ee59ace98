//! Offices over HTTP: the national administration creates them and moves them through the
//! rollout; each office's manager keeps its details; applicants find pilot and live offices.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::Utc;

use super::{
    AppState,
    extract::{JsonBody, MaybeStaff, Staff},
    problem::{ApiError, Problem},
};
use crate::{
    domain::office::OfficeCode,
    use_cases::offices::{
        self, CreateOfficeRequest, OfficePage, OfficeView, StageRequest, UpdateOfficeRequest,
    },
};

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
    let office = offices::create(&state.store, staff.actor, body, Utc::now()).await?;
    Ok(HttpResponse::Created().json(office))
}

/// The public directory: offices in stage `pilot` or `live`. With a staff token, also the
/// offices that staff member may see in other stages.
#[utoipa::path(
    tag = "offices",
    security((), ("bearer" = [])),
    responses((status = 200, description = "Offices by code", body = Vec<OfficeView>))
)]
#[get("/api/v1/offices")]
pub async fn list(
    state: web::Data<AppState>,
    viewer: MaybeStaff,
) -> Result<web::Json<Vec<OfficeView>>, ApiError> {
    let offices = offices::directory(&state.store, viewer.actor()).await?;
    Ok(web::Json(offices))
}

/// An office with the services applicants can book and its opening hours. Offices that are
/// not yet public answer 404, except to their own staff.
#[utoipa::path(
    tag = "offices",
    security((), ("bearer" = [])),
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
    code: web::Path<OfficeCode>,
) -> Result<web::Json<OfficePage>, ApiError> {
    let page = offices::page(&state.store, viewer.actor(), code.into_inner(), Utc::now()).await?;
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
    code: web::Path<OfficeCode>,
    JsonBody(body): JsonBody<UpdateOfficeRequest>,
) -> Result<web::Json<OfficeView>, ApiError> {
    let code = code.into_inner();
    let office = offices::update(&state.store, staff.actor, code, body, Utc::now()).await?;
    Ok(web::Json(office))
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
    code: web::Path<OfficeCode>,
    JsonBody(body): JsonBody<StageRequest>,
) -> Result<web::Json<OfficeView>, ApiError> {
    let (code, stage) = (code.into_inner(), body.stage);
    let office = offices::set_stage(&state.store, staff.actor, code, stage, Utc::now()).await?;
    Ok(web::Json(office))
}
