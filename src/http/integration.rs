//! Integration clients over HTTP: national administrators create, list and revoke the case
//! system's machine accounts.

use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;

use super::{
    AppState,
    extract::{JsonBody, Staff},
    problem::{ApiError, Problem},
};
use crate::{
    domain::ids::IntegrationClientId,
    use_cases::integration_clients::{
        self, CreateClientRequest, CreatedClient, IntegrationClientView,
    },
};

/// Creates an integration client, national or bound to one office (admins only). The answer
/// carries the `client_secret`, shown this once.
#[utoipa::path(
    tag = "integration",
    security(("bearer" = [])),
    request_body = CreateClientRequest,
    responses(
        (status = 201, description = "Created; keep the secret, it is not shown again", body = CreatedClient),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or no office has this code", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/integration-clients")]
pub async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<CreateClientRequest>,
) -> Result<HttpResponse, ApiError> {
    let input = body.parse()?;
    let created = integration_clients::create(&state.store, staff.actor, input, Utc::now()).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Every integration client, revoked ones included (admins only).
#[utoipa::path(
    tag = "integration",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Clients, oldest first", body = Vec<IntegrationClientView>),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/integration-clients")]
pub async fn list(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<web::Json<Vec<IntegrationClientView>>, ApiError> {
    Ok(web::Json(
        integration_clients::list(&state.store, staff.actor).await?,
    ))
}

/// Revokes a client: its secret and its tokens stop working at once (admins only). Revoking
/// it again changes nothing.
#[utoipa::path(
    tag = "integration",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The client's id")),
    responses(
        (status = 200, description = "Revoked", body = IntegrationClientView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/integration-clients/{id}/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<IntegrationClientId>,
) -> Result<web::Json<IntegrationClientView>, ApiError> {
    let id = id.into_inner();
    let revoked = integration_clients::revoke(&state.store, staff.actor, id, Utc::now()).await?;
    Ok(web::Json(revoked))
}
