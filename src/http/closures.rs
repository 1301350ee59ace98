//! Closures over HTTP: national holidays and the patron saint's day (built in), and the office's
//! own closures, for whole days or part of each day.

use actix_web::{HttpResponse, delete, get, http::header, post, web};
use chrono::Utc;

use super::{
    AppState,
    extract::{JsonBody, Staff},
    problem::{ApiError, Problem},
};
use crate::{
    domain::{
        Parsed,
        ids::{ClosureId, ClosureJobId},
        office::OfficeCode,
    },
    use_cases::closures::{
        self, ClosureAnswer, ClosureCreated, ClosureRequest, ClosureView, ClosuresQuery,
        jobs::{ClosureJobView, ClosurePlanView},
    },
};

/// Closes the office for some days, or part of each day. Published slots inside it are taken
/// away. Booked ones stay and are reported (201), so the office can contact those applicants,
/// unless `affected` asks to move or cancel them: then a job creates the closure and moves or
/// cancels every booking in one transaction, each applicant mailed once (202, poll the job at
/// `Location`). With `dry_run`, nothing changes and the answer (200) says what would happen.
#[utoipa::path(
    tag = "closures",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    request_body = ClosureRequest,
    responses(
        (status = 200, description = "Dry run: what would happen; nothing changed", body = ClosurePlanView),
        (status = 201, description = "Closed", body = ClosureCreated),
        (status = 202, description = "Queued: a job closes the office and moves or cancels the bookings", body = ClosureJobView,
            headers(("Location" = String, description = "The job, to poll"))),
        (status = 403, description = "Operators cannot configure", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/closures")]
pub async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<OfficeCode>,
    JsonBody(body): JsonBody<ClosureRequest>,
) -> Result<HttpResponse, ApiError> {
    let closure = body.parse()?;
    let code = code.into_inner();
    let path = format!("/api/v1/offices/{code}/closure-jobs");
    let answer = closures::create(&state.store, staff.actor, code, closure, Utc::now()).await?;
    Ok(match answer {
        ClosureAnswer::Created(created) => HttpResponse::Created().json(created),
        ClosureAnswer::Planned(plan) => HttpResponse::Ok().json(plan),
        ClosureAnswer::Queued(queued) => HttpResponse::Accepted()
            .insert_header((header::LOCATION, format!("{path}/{}", queued.id)))
            .json(queued),
    })
}

/// A closure job: how far it got moving or cancelling the closure's bookings, and, once done,
/// what became of each.
#[utoipa::path(
    tag = "closures",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("id" = i64, Path, description = "Closure job id"),
    ),
    responses(
        (status = 200, description = "The job", body = ClosureJobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/closure-jobs/{id}")]
pub async fn job(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(OfficeCode, ClosureJobId)>,
) -> Result<web::Json<ClosureJobView>, ApiError> {
    let (code, id) = path.into_inner();
    Ok(web::Json(
        closures::job(&state.store, staff.actor, code, id).await?,
    ))
}

/// Every closure in a range of days: national holidays, the patron saint's day and the
/// office's own, in date order.
#[utoipa::path(
    tag = "closures",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ClosuresQuery,
    ),
    responses(
        (status = 200, description = "Closures in date order", body = Vec<ClosureView>),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/closures")]
pub async fn list(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<OfficeCode>,
    query: Parsed<ClosuresQuery>,
) -> Result<web::Json<Vec<ClosureView>>, ApiError> {
    let code = code.into_inner();
    let closures = closures::list(&state.store, staff.actor, code, query, Utc::now()).await?;
    Ok(web::Json(closures))
}

/// Removes one of the office's own closures. Slots it took away come back when the office
/// publishes again.
#[utoipa::path(
    tag = "closures",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("id" = i64, Path, description = "Closure id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such closure", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/offices/{code}/closures/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(OfficeCode, ClosureId)>,
) -> Result<HttpResponse, ApiError> {
    let (code, id) = path.into_inner();
    closures::remove(&state.store, staff.actor, code, id, Utc::now()).await?;
    Ok(HttpResponse::NoContent().finish())
}
