//! Proving a registered case: where a service books registered cases only, the applicant types
//! the case's verification secret with the case number. Guessing is throttled per case (from
//! anywhere) and per client address (at any case), and an unknown case costs the same work and
//! gets the same answer as a wrong secret, so the answer never tells which case numbers exist.

use chrono::{DateTime, Duration, Utc};

use super::{BookingError, BookingFailure, Policy};
use crate::{
    domain::{
        booking::{CaseNumber, Refusal},
        cases::VerificationSecret,
        client::ClientAddress,
        ids::OfficeId,
    },
    store::{Store, StoreError, case_guesses, registered_cases},
};

/// How many guesses at a case's secret may fail inside the window, per case and per address.
#[derive(Debug, Clone)]
pub struct GuessLimits {
    pub per_case: i64,
    pub per_client: i64,
    pub window: Duration,
}

/// What an unknown case's guess is checked against, so that it costs what a known case's does.
const NO_CASE_SALT: &str = "AAAAAAAAAAAAAAAAAAAAAA";
const NO_CASE_HASH: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Whether `secret` is the verification secret of the office's registered case `case_number`.
/// Every attempt is counted before it is checked; a right one is taken back.
pub async fn prove_case(
    store: &Store,
    policy: &Policy,
    office_id: OfficeId,
    case_number: CaseNumber,
    secret: VerificationSecret,
    from: ClientAddress,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let (key, limits) = (policy.case_key.clone(), policy.guesses.clone());
    let wait_until = move |frees_at: DateTime<Utc>| {
        let retry_after = (frees_at - now).to_std().unwrap_or_default();
        retry_after.max(std::time::Duration::from_secs(1))
    };
    // No transaction, as for logins: each guess commits before it is counted, so a burst of
    // concurrent guesses counts every one of them.
    store
        .autocommit(move |conn| {
            let client = from.to_string();
            let window_start = now - limits.window;
            let guess =
                case_guesses::record(conn, office_id, &case_number, &client, now, window_start)?;
            let throttled_since = if guess.for_case > limits.per_case {
                Some(guess.oldest_for_case)
            } else if guess.from_client > limits.per_client {
                Some(guess.oldest_from_client)
            } else {
                None
            };
            if let Some(oldest) = throttled_since {
                case_guesses::forget(conn, office_id, guess.id)?;
                let retry_after = wait_until(oldest + limits.window);
                return Err(BookingFailure::TooManyGuesses { retry_after }.into());
            }
            let case = registered_cases::find(conn, office_id, case_number.as_str())
                .map_err(StoreError::from)?;
            let (salt, hash) = match &case {
                Some(case) => (case.secret_salt.as_str(), case.secret_hash.as_str()),
                None => (NO_CASE_SALT, NO_CASE_HASH),
            };
            let right = key.matches(salt, secret.as_str(), hash) && case.is_some();
            if !right {
                return Err(Refusal::CaseNotVerified.into());
            }
            case_guesses::forget(conn, office_id, guess.id)?;
            Ok(())
        })
        .await
}
