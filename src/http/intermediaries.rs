//! Intermediaries' accreditations over HTTP: admins accredit, change and revoke; the office's
//! staff list them with how much of each quota is used. Intermediaries book through
//! `POST /api/v1/offices/{code}/bookings` with their own token.

use actix_web::{HttpResponse, delete, get, put, web};
use chrono::Utc;

use super::{
    AppState,
    extract::{JsonBody, Staff},
    problem::{ApiError, Problem},
};
use crate::{
    domain::{ids::StaffId, office::OfficeCode},
    use_cases::intermediaries::{self, AccreditationRequest, AccreditationView},
};

/// The intermediaries accredited at the office (revoked ones too), with their quotas and how
/// much of them is used. Admins and the office's staff.
#[utoipa::path(
    tag = "intermediaries",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    responses(
        (status = 200, description = "The accreditations", body = Vec<AccreditationView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office (for this account)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/intermediaries")]
pub async fn list(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<OfficeCode>,
) -> Result<web::Json<Vec<AccreditationView>>, ApiError> {
    let code = code.into_inner();
    let list = intermediaries::list(&state.store, staff.actor, code, Utc::now()).await?;
    Ok(web::Json(list))
}

/// Accredits an intermediary account (role `intermediary`) at the office with its quotas, or
/// changes them; a revoked accreditation is restored. Its bookings then count against the
/// quotas: active bookings at once, and bookings made per week (Monday to Sunday, office
/// time; cancelled ones too). Admins only; audited.
#[utoipa::path(
    tag = "intermediaries",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("intermediary_id" = i64, Path, description = "The intermediary's account id"),
    ),
    request_body = AccreditationRequest,
    responses(
        (status = 200, description = "Accredited", body = AccreditationView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office, or no active intermediary account with this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/api/v1/offices/{code}/intermediaries/{intermediary_id}")]
pub async fn accredit(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(OfficeCode, StaffId)>,
    JsonBody(body): JsonBody<AccreditationRequest>,
) -> Result<web::Json<AccreditationView>, ApiError> {
    let (code, id) = path.into_inner();
    let view = intermediaries::accredit(&state.store, staff.actor, code, id, body, Utc::now());
    Ok(web::Json(view.await?))
}

/// Revokes an intermediary's accreditation at the office: it books there no more; its
/// clients' bookings stand. Admins only; audited.
#[utoipa::path(
    tag = "intermediaries",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("intermediary_id" = i64, Path, description = "The intermediary's account id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office, or no accreditation in force", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/offices/{code}/intermediaries/{intermediary_id}")]
pub async fn revoke(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(OfficeCode, StaffId)>,
) -> Result<HttpResponse, ApiError> {
    let (code, id) = path.into_inner();
    intermediaries::revoke(&state.store, staff.actor, code, id, Utc::now()).await?;
    Ok(HttpResponse::NoContent().finish())
}
