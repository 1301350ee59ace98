//! Staff login and "who am I".

use actix_web::{get, post, web};
use chrono::Utc;

use super::{
    AppState,
    extract::{JsonBody, Staff},
    problem::{ApiError, Problem},
};
use crate::use_cases::{
    login::{LoginRequest, TokenResponse},
    staff::StaffView,
};

/// Exchanges a staff email and password for an access token. A wrong password, an unknown
/// email and a deactivated account get the same answer. After repeated failures for one email
/// further attempts are refused with 429 and `Retry-After` until the window frees up.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed email or missing password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts for this email", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let (email, password) = body.parse()?;
    let (store, hasher) = (&state.store, &state.hasher);
    let (throttle, tokens) = (&state.throttle, &state.tokens);
    let now = Utc::now();
    let token =
        crate::use_cases::login::login(store, hasher, throttle, tokens, email, password, now)
            .await?;
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
