//! Staff login and "who am I".

use actix_web::{get, post, web};
use chrono::Utc;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    AppState,
    extract::{JsonBody, Staff},
    problem::{ApiError, Problem},
    staff::StaffView,
};
use crate::{
    auth::{self, LoginOutcome},
    domain::staff::EmailAddress,
};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "anna.rossi@prefettura.it")]
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT to send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the token expires.
    #[schema(example = 3600)]
    pub expires_in: u64,
}

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
    let email =
        EmailAddress::parse(&body.email).map_err(|message| ApiError::field("email", message))?;
    if body.password.is_empty() {
        return Err(ApiError::field("password", "is required"));
    }
    let outcome = auth::login(
        &state.store,
        &state.throttle,
        email,
        SecretString::from(body.password),
    )
    .await?;
    match outcome {
        LoginOutcome::Authenticated(member) => {
            let issued = state
                .tokens
                .issue(&member, Utc::now())
                .map_err(ApiError::internal)?;
            Ok(web::Json(TokenResponse {
                access_token: issued.token,
                token_type: "Bearer",
                expires_in: issued.expires_in.as_secs(),
            }))
        }
        LoginOutcome::Refused => Err(ApiError::unauthorized(
            "The email or the password is not correct.",
        )),
        LoginOutcome::Throttled { retry_after } => {
            let seconds = retry_after.as_secs().max(1);
            Err(ApiError::too_many_requests(
                "too_many_attempts",
                format!(
                    "Too many failed logins for this email. Try again in {} minute(s).",
                    seconds.div_ceil(60)
                ),
                seconds,
            ))
        }
    }
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
    web::Json(StaffView::from(staff.member))
}
