//! Staff authentication: password hashing, signed access tokens, and the login procedure with
//! its throttle.

pub mod password;
pub mod token;

use std::time::Duration;

use chrono::Utc;
use secrecy::SecretString;

use crate::{
    domain::staff::EmailAddress,
    store::{
        Store, StoreError, login_attempts,
        staff::{self, Credentials, StaffMember},
    },
};

/// How many failed logins one email may have inside the window before attempts are refused
/// unchecked. Kept in the database, so every instance behind the load balancer agrees.
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    pub max_failures: u32,
    pub window: Duration,
}

pub enum LoginOutcome {
    Authenticated(StaffMember),
    /// Wrong password, unknown email, or a deactivated account: the caller answers all alike.
    Refused,
    Throttled {
        retry_after: Duration,
    },
}

/// Checks an email and password. Unknown emails cost the same password check as known ones, so
/// neither the answer nor its timing tells whether an account exists.
pub async fn login(
    store: &Store,
    throttle: &LoginThrottle,
    email: EmailAddress,
    password: SecretString,
) -> Result<LoginOutcome, StoreError> {
    let now = Utc::now();
    let window = chrono::Duration::from_std(throttle.window).unwrap_or(chrono::Duration::MAX);
    let max_failures = i64::from(throttle.max_failures);

    let lookup_email = email.clone();
    // Deliberately no transaction: each statement commits on its own, so the attempt is visible
    // before it is counted, and a burst of concurrent guesses counts every one of them. In a
    // transaction each guess would count without the others' uncommitted attempts and a burst
    // would get more password checks than allowed (the burst test catches it on PostgreSQL).
    let credentials = store
        .read(
            move |conn| -> Result<Result<Option<Credentials>, Duration>, StoreError> {
                let attempt = login_attempts::record(conn, &lookup_email, now, now - window)?;
                if attempt.attempts_in_window > max_failures {
                    login_attempts::forget(conn, attempt.id)?;
                    let frees_at = attempt.oldest + window;
                    let retry_after = (frees_at - now).to_std().unwrap_or_default();
                    return Ok(Err(retry_after));
                }
                Ok(Ok(staff::find_credentials(conn, &lookup_email)?))
            },
        )
        .await?;
    let credentials = match credentials {
        Ok(credentials) => credentials,
        Err(retry_after) => {
            return Ok(LoginOutcome::Throttled {
                retry_after: retry_after.max(Duration::from_secs(1)),
            });
        }
    };

    let (member, hash) = match credentials {
        Some(c) => (Some(c.member), Some(c.password_hash)),
        None => (None, None),
    };
    // Argon2 is deliberately slow: run it off the async threads and without holding a
    // database connection.
    let password_matches =
        tokio::task::spawn_blocking(move || password::verify(&password, hash.as_deref())).await?;

    match member {
        Some(member) if password_matches && member.active => {
            store
                .read(move |conn| login_attempts::clear(conn, &email).map_err(StoreError::from))
                .await?;
            Ok(LoginOutcome::Authenticated(member))
        }
        _ => Ok(LoginOutcome::Refused),
    }
}
