//! Staff login, "who am I", and the integration clients' token.

use actix_web::{get, post, web};
use chrono::Utc;

use super::{
    AppState,
    extract::{JsonBody, Staff},
    problem::{ApiError, Problem},
};
use crate::{
    domain::client::ClientAddress,
    use_cases::{
        integration_clients::{self, ClientCredentialsRequest},
        login::{LoginRequest, TokenResponse, login as log_in},
        staff::StaffView,
    },
};

/// Exchanges a staff email and password for an access token. A wrong password, an unknown
/// email and a deactivated account get the same answer. After repeated failures for one account
/// from one address, or from one address for any accounts, further attempts from that address
/// are refused with 429 `too_many_attempts` and `Retry-After` until the window frees up; too
/// many requests at once get 429 `rate_limited`.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed email or missing password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts` (failed logins) or `rate_limited` (requests)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many password checks waiting", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    client: ClientAddress,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let (email, password) = body.parse()?;
    let (store, hasher) = (&state.store, &state.hasher);
    let (throttle, tokens) = (&state.throttle, &state.tokens);
    let (credentials, now) = ((email, password), Utc::now());
    let token = log_in(store, hasher, throttle, tokens, credentials, client, now).await?;
    Ok(web::Json(token))
}

/// Exchanges an integration client's id and secret for an access token with the role
/// `integration` (OAuth2 client credentials, sent as JSON). An unknown client, a wrong secret
/// and a revoked client get the same answer.
#[utoipa::path(
    tag = "auth",
    request_body = ClientCredentialsRequest,
    responses(
        (status = 200, description = "An access token for the client", body = TokenResponse),
        (status = 401, description = "Wrong client id or secret, or a revoked client", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not `client_credentials`, or a missing field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/auth/token")]
pub async fn client_token(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<ClientCredentialsRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let credentials = body.parse()?;
    let token =
        integration_clients::token(&state.store, &state.tokens, credentials, Utc::now()).await?;
    Ok(web::Json(token))
}

/// The staff member the access token belongs to.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in staff member", body = StaffView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/auth/me")]
pub async fn me(staff: Staff) -> web::Json<StaffView> {
    web::Json(StaffView::from(&staff.member))
}
