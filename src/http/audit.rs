//! Reading the audit log over HTTP: an office's to its manager, everyone's to the
//! administration.

use actix_web::{get, web};

use super::{
    AppState,
    extract::Staff,
    problem::{ApiError, Problem},
};
use crate::{
    domain::audit::AuditEntry,
    domain::{Parsed, office::OfficeCode},
    use_cases::audit_log::{self, AuditPage},
};

/// The office's configuration changes, newest first. Managers and admins.
#[utoipa::path(
    tag = "audit",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        AuditPage,
    ),
    responses(
        (status = 200, description = "Entries, newest first", body = Vec<AuditEntry>),
        (status = 403, description = "Operators cannot read the audit log", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/audit")]
pub async fn office_log(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<OfficeCode>,
    page: Parsed<AuditPage>,
) -> Result<web::Json<Vec<AuditEntry>>, ApiError> {
    let code = code.into_inner();
    let entries = audit_log::of_office(&state.store, staff.actor, code, page).await?;
    Ok(web::Json(entries))
}

/// Every change, national and per office, newest first. Admins only.
#[utoipa::path(
    tag = "audit",
    security(("bearer" = [])),
    params(
        AuditPage,
    ),
    responses(
        (status = 200, description = "Entries, newest first", body = Vec<AuditEntry>),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/audit")]
pub async fn national_log(
    state: web::Data<AppState>,
    staff: Staff,
    page: Parsed<AuditPage>,
) -> Result<web::Json<Vec<AuditEntry>>, ApiError> {
    Ok(web::Json(
        audit_log::national(&state.store, staff.actor, page).await?,
    ))
}
