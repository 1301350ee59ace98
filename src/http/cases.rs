//! Registered cases over HTTP: the case system (an integration client) or the office's
//! managers register cases one by one or by the file, and look one up.

use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;

use super::{
    AppState,
    extract::{ImportBody, JsonBody, SignedCaller},
    problem::{ApiError, Problem},
};
use crate::{
    domain::{Parsed, office::OfficeCode},
    use_cases::{
        case_files,
        cases::{self, CaseQuery, CaseRequest, CaseView, ImportReport},
    },
};

/// Registers a case with the office, or changes it to what is sent (by case number). Sending
/// the same case again changes nothing. For integration clients of the office or national ones,
/// managers and admins.
#[utoipa::path(
    tag = "cases",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    request_body = CaseRequest,
    responses(
        (status = 200, description = "The case was registered already; now it is as sent", body = CaseView),
        (status = 201, description = "Registered", body = CaseView),
        (status = 403, description = "Operators cannot register cases", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office (for this caller)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or an appointment type the catalogue lacks", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/cases")]
pub async fn register(
    state: web::Data<AppState>,
    SignedCaller(caller): SignedCaller,
    code: web::Path<OfficeCode>,
    JsonBody(body): JsonBody<CaseRequest>,
) -> Result<HttpResponse, ApiError> {
    let case = body.parse()?;
    let key = &state.booking_policy.case_key;
    let registered = cases::register(
        &state.store,
        key,
        caller,
        code.into_inner(),
        case,
        Utc::now(),
    )
    .await?;
    Ok(match registered.created {
        true => HttpResponse::Created().json(registered.case),
        false => HttpResponse::Ok().json(registered.case),
    })
}

/// Registers a file of cases: a JSON array of cases (each as `CaseRequest`; an item that is
/// not one is reported on its line, not refused with the file), or CSV with the header
/// `case_number,email,language,verification_secret,ready_for` (`ready_for`: types separated by
/// spaces, each optionally `type:YYYY-MM-DD`). Idempotent by case number. A case that cannot be
/// registered is reported with its line and why; every other case is registered. At most 50,000
/// cases per file.
#[utoipa::path(
    tag = "cases",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    request_body(
        content(
            (Vec<serde_json::Value> = "application/json"),
            (String = "text/csv", example = "case_number,email,language,verification_secret,ready_for\nRM/2026/000001,amina@example.org,fr,K7P3Q9XD,document_delivery:2027-03-01\n"),
        ),
    ),
    responses(
        (status = 200, description = "What was registered, and the cases that were not", body = ImportReport),
        (status = 403, description = "Operators cannot register cases", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office (for this caller)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor CSV", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The file cannot be read as cases at all", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/cases/import")]
pub async fn import(
    state: web::Data<AppState>,
    SignedCaller(caller): SignedCaller,
    code: web::Path<OfficeCode>,
    body: ImportBody,
) -> Result<web::Json<ImportReport>, ApiError> {
    let rows = case_files::read_import(body.format, &body.bytes)?;
    let key = &state.booking_policy.case_key;
    let report = cases::import(
        &state.store,
        key,
        caller,
        code.into_inner(),
        rows,
        Utc::now(),
    )
    .await?;
    Ok(web::Json(report))
}

/// One registered case: the types it is ready for and its contact (never its secret).
#[utoipa::path(
    tag = "cases",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM"), CaseQuery),
    responses(
        (status = 200, description = "The case", body = CaseView),
        (status = 403, description = "Operators cannot see registrations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office, or no such case", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/cases")]
pub async fn find(
    state: web::Data<AppState>,
    SignedCaller(caller): SignedCaller,
    code: web::Path<OfficeCode>,
    query: Parsed<CaseQuery>,
) -> Result<web::Json<CaseView>, ApiError> {
    let case_number = CaseQuery::parse(query)?;
    let case = cases::find(&state.store, caller, code.into_inner(), case_number).await?;
    Ok(web::Json(case))
}
