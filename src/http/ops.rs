//! Endpoints for operators of the service (not office operators): liveness, readiness, metrics.

use actix_web::{HttpResponse, get, http::StatusCode, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::{AppState, extract::MetricsReader, problem::ApiError};

#[derive(Serialize, ToSchema)]
pub struct ServiceHealth {
    /// `ok` (alive) or `ready` (ready to serve).
    pub status: &'static str,
}

/// The process is up. Says nothing about the database; see `/ready`.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Alive", body = ServiceHealth)))]
#[get("/health")]
pub async fn health() -> web::Json<ServiceHealth> {
    web::Json(ServiceHealth { status: "ok" })
}

/// The database answers, every migration this build knows has been applied, and the background
/// workers of this instance are running and finishing their rounds.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = ServiceHealth),
        (status = 503, description = "Database unreachable or not migrated, or a background worker down or stuck", body = super::problem::Problem,
         content_type = "application/problem+json"),
    )
)]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<web::Json<ServiceHealth>, ApiError> {
    let not_ready =
        |detail: &str| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", detail);
    match state.store.is_ready().await {
        Ok(true) => match state.workers.troubles().as_slice() {
            [] => Ok(web::Json(ServiceHealth { status: "ready" })),
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

/// Prometheus text format: request counts and latency histograms by route and status, the
/// database pool's connections, and the background workers. Not public: send the scrape token
/// (`metrics.token`) or a national administrator's access token; or scrape the separate
/// `metrics.listen` address.
#[utoipa::path(
    tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus metrics", body = String, content_type = "text/plain"),
        (status = 401, description = "No token, or not a valid one", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "A staff token that is not an administrator's", body = super::problem::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/metrics")]
pub async fn metrics(
    state: web::Data<AppState>,
    _reader: MetricsReader,
) -> Result<HttpResponse, ApiError> {
    open_metrics(state).await
}

/// The metrics, to anyone: only on the separate `metrics.listen` address.
pub async fn open_metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let text = state
        .metrics
        .render(&state.store, &state.workers)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
