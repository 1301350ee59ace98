//! Endpoints for operators of the service (not office operators): liveness, readiness, metrics.

use actix_web::{HttpResponse, get, http::StatusCode, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::{AppState, problem::ApiError};

#[derive(Serialize, ToSchema)]
pub struct Status {
    /// `ok` (alive) or `ready` (ready to serve).
    pub status: &'static str,
}

/// The process is up. Says nothing about the database; see `/ready`.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Alive", body = Status)))]
#[get("/health")]
pub async fn health() -> web::Json<Status> {
    web::Json(Status { status: "ok" })
}

/// The database answers, every migration this build knows has been applied, and the background
/// workers of this instance are running and finishing their rounds.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Status),
        (status = 503, description = "Database unreachable or not migrated, or a background worker down or stuck", body = super::problem::Problem,
         content_type = "application/problem+json"),
    )
)]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<web::Json<Status>, ApiError> {
    let not_ready =
        |detail: &str| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", detail);
    match state.store.is_ready().await {
        Ok(true) => match state.workers.troubles().as_slice() {
            [] => Ok(web::Json(Status { status: "ready" })),
            troubles => Err(not_ready(&format!("{}.", troubles.join("; ")))),
        },
        Ok(false) => Err(not_ready(
            "The database has migrations this instance has not applied yet.",
        )),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check failed");
            Err(not_ready("The database cannot be reached."))
        }
    }
}

/// Prometheus text format: request counts and latency histograms by route and status, and the
/// database pool's connections.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Prometheus metrics", body = String, content_type = "text/plain"))
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let text = state
        .metrics
        .render(&state.store, &state.workers)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
