//! The office's mail over HTTP: what is queued, what failed (and trying it again), and how
//! many letters the mail replaced.

use actix_web::{get, post, web};
use chrono::Utc;

use super::{
    AppState,
    extract::Staff,
    problem::{ApiError, Problem},
};
use crate::{
    domain::{Parsed, ids::OutboxId, mail::OutboxEntry, office::OfficeCode},
    use_cases::outbox::{self, MailStats, OutboxQuery, StatsQuery},
};

/// The office's messages, newest first; `?status=failed` lists those given up on, for staff to
/// contact the applicant or try again.
#[utoipa::path(
    tag = "mail",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        OutboxQuery,
    ),
    responses(
        (status = 200, description = "Messages, newest first", body = Vec<OutboxEntry>),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/outbox")]
pub async fn outbox_list(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<OfficeCode>,
    query: Parsed<OutboxQuery>,
) -> Result<web::Json<Vec<OutboxEntry>>, ApiError> {
    let entries = outbox::list(&state.store, staff.actor, code.into_inner(), query).await?;
    Ok(web::Json(entries))
}

/// Tries a failed message again, with a fresh round of attempts.
#[utoipa::path(
    tag = "mail",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("id" = i64, Path, description = "Outbox message id"),
    ),
    responses(
        (status = 200, description = "Queued again", body = OutboxEntry),
        (status = 404, description = "No failed message with this id at the office", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/outbox/{id}/retry")]
pub async fn outbox_retry(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(OfficeCode, OutboxId)>,
) -> Result<web::Json<OutboxEntry>, ApiError> {
    let (code, id) = path.into_inner();
    let entry = outbox::retry(&state.store, staff.actor, code, id, Utc::now()).await?;
    Ok(web::Json(entry))
}

/// How many messages of each kind the office delivered between two local days (inclusive).
#[utoipa::path(
    tag = "mail",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        StatsQuery,
    ),
    responses(
        (status = 200, description = "Delivered messages", body = MailStats),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/mail-stats")]
pub async fn stats(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<OfficeCode>,
    query: Parsed<StatsQuery>,
) -> Result<web::Json<MailStats>, ApiError> {
    let code = code.into_inner();
    let stats = outbox::stats(&state.store, staff.actor, code, query, Utc::now()).await?;
    Ok(web::Json(stats))
}
