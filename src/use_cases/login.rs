//! Staff log in: an email and a password become an access token, with a throttle on repeated
//! failures that every instance behind the load balancer shares.
//!
//! Failures count per account *and client address*: after `max_failures` wrong passwords for
//! one account from one address, that address must wait. An attacker who knows a staff member's
//! email can thus only lock the addresses they use, never the staff member at their desk (who
//! logs in from elsewhere, and whose success there clears their own count). Spraying many
//! accounts from one address is stopped by the second count, failures per address whatever the
//! account (`max_failures_per_client`). Both are in the database, shared by every instance;
//! the edge's per-address request limits bound bursts on top.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::integration_clients;
use crate::{
    auth::{
        password::Hasher,
        token::{Claims, IssuedToken, TokenRole, Tokens},
    },
    domain::{
        FieldErrors,
        client::ClientAddress,
        ids::{LoginAttemptId, StaffId},
        integration::Caller,
        staff::{EmailAddress, Forbidden},
    },
    error::{Answer, Error, Explain, Failure},
    store::{
        Store, StoreError, login_attempts,
        staff::{self, Credentials, StaffMember},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum LoginFailure {
    /// Wrong password, unknown email, or a deactivated account: all answered alike.
    #[error("the email or the password is not correct")]
    Refused,
    #[error("too many failed logins for this email from this address")]
    Throttled { retry_after: Duration },
    #[error("too many failed logins from this address")]
    ClientThrottled { retry_after: Duration },
    /// An access token that names nobody who may act now; the reason is for the client.
    #[error("{0}")]
    NotSignedIn(&'static str),
}

impl Explain for LoginFailure {
    fn answer(self) -> Answer {
        match self {
            LoginFailure::Refused => {
                Answer::Unauthorized("The email or the password is not correct.".into())
            }
            LoginFailure::Throttled { retry_after } => Answer::TooManyRequests {
                code: "too_many_attempts",
                detail: format!(
                    "Too many failed logins for this email. Try again in {} minute(s).",
                    retry_after.as_secs().max(1).div_ceil(60)
                ),
                retry_after,
            },
            LoginFailure::ClientThrottled { retry_after } => Answer::TooManyRequests {
                code: "too_many_attempts",
                detail: format!(
                    "Too many failed logins from your address. Try again in {} minute(s).",
                    retry_after.as_secs().max(1).div_ceil(60)
                ),
                retry_after,
            },
            LoginFailure::NotSignedIn(reason) => Answer::Unauthorized(reason.into()),
        }
    }
}

impl Failure for LoginFailure {}

pub type LoginError = Error<LoginFailure>;

/// How many failed logins one account may have from one address, and one address for any
/// accounts, inside the window before attempts are refused unchecked. Kept in the database, so
/// every instance behind the load balancer agrees.
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    pub max_failures: u32,
    pub max_failures_per_client: u32,
    pub window: Duration,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(schema_with = crate::domain::schema::email)]
    pub email: String,
    #[schema(format = Password, min_length = 1)]
    pub password: String,
}

impl LoginRequest {
    pub fn parse(self) -> Result<(EmailAddress, SecretString), FieldErrors> {
        let email = EmailAddress::parse(&self.email)
            .map_err(|reason| FieldErrors::single("email", reason.message()))?;
        if self.password.is_empty() {
            return Err(FieldErrors::single("password", "is required"));
        }
        Ok((email, SecretString::from(self.password)))
    }
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

impl From<IssuedToken> for TokenResponse {
    fn from(issued: IssuedToken) -> TokenResponse {
        TokenResponse {
            access_token: issued.token,
            token_type: "Bearer",
            expires_in: issued.expires_in.as_secs(),
        }
    }
}

/// Exchanges a staff email and password for an access token. Unknown emails cost the same
/// password check as known ones, so neither the answer nor its timing tells whether an account
/// exists.
pub async fn login(
    store: &Store,
    hasher: &Hasher,
    throttle: &LoginThrottle,
    tokens: &Tokens,
    (email, password): (EmailAddress, SecretString),
    client: ClientAddress,
    now: DateTime<Utc>,
) -> Result<TokenResponse, LoginError> {
    let client = client.to_string();
    let (attempt, credentials) =
        check_throttle(store, throttle, email.clone(), client.clone(), now).await?;
    let (member, hash) = match credentials {
        Some(c) => (Some(c.member), Some(c.password_hash)),
        None => (None, None),
    };
    // Argon2 is deliberately slow: it runs without holding a database connection.
    let password_matches = hasher.verify(password, hash).await?;
    let member: StaffMember = match member {
        Some(member) if password_matches && member.active => member,
        _ => {
            store
                .autocommit(move |conn| {
                    login_attempts::failed(conn, attempt).map_err(StoreError::from)
                })
                .await?;
            return Err(LoginFailure::Refused.into());
        }
    };
    store
        .autocommit(move |conn| {
            login_attempts::clear(conn, &email, &client).map_err(StoreError::from)
        })
        .await?;
    let issued = tokens.issue(&member, now).map_err(Error::internal)?;
    Ok(TokenResponse::from(issued))
}

/// Counts this attempt and, unless the account from this address or the address itself has
/// failed too often lately, reads the account.
async fn check_throttle(
    store: &Store,
    throttle: &LoginThrottle,
    email: EmailAddress,
    client: String,
    now: DateTime<Utc>,
) -> Result<(LoginAttemptId, Option<Credentials>), LoginError> {
    let window = chrono::Duration::from_std(throttle.window).unwrap_or(chrono::Duration::MAX);
    let max_failures = i64::from(throttle.max_failures);
    let max_client_failures = i64::from(throttle.max_failures_per_client);
    let wait_until = move |frees_at: DateTime<Utc>| {
        let retry_after = (frees_at - now).to_std().unwrap_or_default();
        retry_after.max(Duration::from_secs(1))
    };
    // Deliberately no transaction: each statement commits on its own, so the attempt is visible
    // before it is counted, and a burst of concurrent guesses counts every one of them. In a
    // transaction each guess would count without the others' uncommitted attempts and a burst
    // would get more password checks than allowed (the burst test catches it on PostgreSQL).
    store
        .autocommit(move |conn| {
            let attempt = login_attempts::record(conn, &email, &client, now, now - window)?;
            if attempt.attempts_in_window > max_failures {
                login_attempts::forget(conn, attempt.id)?;
                let retry_after = wait_until(attempt.oldest + window);
                return Err(LoginFailure::Throttled { retry_after }.into());
            }
            if attempt.client_failures >= max_client_failures {
                login_attempts::forget(conn, attempt.id)?;
                let retry_after = wait_until(attempt.oldest_client_failure + window);
                return Err(LoginFailure::ClientThrottled { retry_after }.into());
            }
            Ok((attempt.id, staff::find_credentials(conn, &email)?))
        })
        .await
}

/// The staff member an access token belongs to, read afresh: a deactivated account stops
/// working at once, not when its token expires. An integration client's token is refused:
/// clients may use only the case system's endpoints.
pub async fn signed_in(
    store: &Store,
    tokens: &Tokens,
    token: &str,
) -> Result<StaffMember, LoginError> {
    let claims = verify(tokens, token)?;
    if claims.role == TokenRole::Integration {
        return Err(Forbidden(
            "Integration clients may use only the case system's endpoints (cases, invitations, \
             events).",
        )
        .into());
    }
    staff_of(store, claims).await
}

/// Who a token belongs to, on the endpoints both staff and the case system use.
pub async fn caller(store: &Store, tokens: &Tokens, token: &str) -> Result<Caller, LoginError> {
    let claims = verify(tokens, token)?;
    Ok(match claims.role {
        TokenRole::Integration => {
            Caller::Integration(integration_clients::signed_in(store, claims).await?)
        }
        TokenRole::Staff(_) => Caller::Staff(staff_of(store, claims).await?.actor()),
    })
}

fn verify(tokens: &Tokens, token: &str) -> Result<Claims, LoginError> {
    tokens.verify(token).map_err(|reason| {
        tracing::info!(%reason, "refused an access token");
        LoginFailure::NotSignedIn("The access token is invalid or has expired. Log in again.")
            .into()
    })
}

async fn staff_of(store: &Store, claims: Claims) -> Result<StaffMember, LoginError> {
    let id: StaffId = claims.staff_id().ok_or(LoginFailure::NotSignedIn(
        "The access token does not name a staff member.",
    ))?;
    let member = store
        .read(move |conn| Ok::<_, LoginError>(staff::find(conn, id)?))
        .await?;
    match member {
        Some(member) if member.active => Ok(member),
        _ => Err(LoginFailure::NotSignedIn("This staff account is no longer active.").into()),
    }
}

/// Whether `presented` (a bearer token) may read the metrics: the scrape token when one is
/// configured, or the token of a national administrator. Metrics say how busy and how broken
/// the service is; that is for the platform team, not for anyone on the internet.
pub async fn may_read_metrics(
    store: &Store,
    tokens: &Tokens,
    scrape_token: &SecretString,
    presented: &str,
) -> Result<(), LoginError> {
    let scrape = scrape_token.expose_secret().as_bytes();
    if !scrape.is_empty() && bool::from(scrape.ct_eq(presented.as_bytes())) {
        return Ok(());
    }
    let member = signed_in(store, tokens, presented).await?;
    member
        .actor()
        .must_be_admin("Metrics are for national administrators and the metrics scraper.")?;
    Ok(())
}
