//! Data subjects' requests over HTTP (GDPR articles 15 and 17): everything the office holds
//! about a case number or an email address, in one download, and its erasure. Managers.

use actix_web::{HttpResponse, get, http::header, post, web};
use chrono::Utc;

use super::{
    AppState,
    extract::{JsonBody, Staff},
    problem::{ApiError, Problem},
};
use crate::{
    domain::{Parsed, office::OfficeCode},
    use_cases::personal_data::{self, ErasureReport, PersonalDataExport, SubjectQuery},
};

/// Everything the office holds about a case number or an email address (its mailbox, +tags
/// included), as one JSON download: bookings, their events and messages, invitations, lottery
/// entries, the registered case. The export is audited without the data.
#[utoipa::path(
    tag = "personal data",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        SubjectQuery,
    ),
    responses(
        (status = 200, description = "The export, as an attachment", body = PersonalDataExport),
        (status = 403, description = "Operators cannot", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither a case number nor an email address, or one malformed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/personal-data")]
pub async fn export(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<OfficeCode>,
    query: Parsed<SubjectQuery>,
) -> Result<HttpResponse, ApiError> {
    let (query, errors) = query.into_parts();
    errors.or_value(())?;
    let subject = query.parse()?;
    let code = code.into_inner();
    let export =
        personal_data::export(&state.store, staff.actor, code, subject, Utc::now()).await?;
    let name = format!(
        "personal-data-{}.json",
        export.exported_at.format("%Y%m%dT%H%M%SZ")
    );
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .json(export))
}

/// Erases a case number's or an email address's personal data at the office: personal fields
/// replaced everywhere they are copied (counts kept), unsent mail suppressed, the registered
/// case forgotten. Audited without the erased data.
#[utoipa::path(
    tag = "personal data",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    request_body = SubjectQuery,
    responses(
        (status = 200, description = "Erased", body = ErasureReport),
        (status = 403, description = "Operators cannot", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither a case number nor an email address, or one malformed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/personal-data/erase")]
pub async fn erase(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<OfficeCode>,
    JsonBody(body): JsonBody<SubjectQuery>,
) -> Result<web::Json<ErasureReport>, ApiError> {
    let subject = body.parse()?;
    let code = code.into_inner();
    let report = personal_data::erase(&state.store, staff.actor, code, subject, Utc::now()).await?;
    Ok(web::Json(report))
}
