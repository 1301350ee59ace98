//! Proof of work, where an office asks for it: the challenge an applicant's browser solves,
//! and the check that a booking or a lottery entry brings a solved one, used once.
//!
//! Staff at the desk and accredited intermediaries book signed in and are never asked: the
//! challenge is against anonymous bots, not accountable accounts.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{BookingError, Policy};
use crate::{
    domain::{FieldErrors, office::OfficeCode},
    store::{
        Store,
        offices::Office,
        spent_challenges::{self, Spent},
    },
    use_cases::scope::visible_office,
};

const FIELD: &str = "altcha";

/// An ALTCHA (PoW v2) challenge, as the ALTCHA widget fetches it from its `challengeurl`.
#[derive(Serialize, ToSchema)]
pub struct ChallengeView {
    /// Signed by the service: `algorithm` (`PBKDF2/SHA-256`), `cost`, `nonce`, `salt`,
    /// `keyLength`, `keyPrefix`, `keySignature`, `expiresAt` (Unix seconds) and `data` (the
    /// office). Send them back unchanged with the solution.
    #[schema(value_type = Object)]
    pub parameters: altcha::ChallengeParameters,
    pub signature: String,
}

/// A fresh challenge for the public office `code`, whether or not it asks for proof of work
/// now (a client may solve one ahead; the office's page says whether it must).
pub async fn challenge(
    store: &Store,
    policy: &Policy,
    code: OfficeCode,
    now: DateTime<Utc>,
) -> Result<ChallengeView, BookingError> {
    let office = store
        .read(move |conn| -> Result<_, BookingError> { visible_office(conn, None, &code) })
        .await?;
    let mut difficulty = policy.proof_of_work.clone();
    difficulty.cost = office.details.proof_of_work_cost;
    // Making a challenge derives its key once: `cost` PBKDF2 iterations, too long for the
    // threads that serve requests.
    let key = policy.challenges.clone();
    let challenge =
        tokio::task::spawn_blocking(move || key.challenge(&office.code, &difficulty, now))
            .await
            .map_err(BookingError::internal)?
            .map_err(|e| BookingError::internal(anyhow::anyhow!("ALTCHA challenge: {e}")))?;
    let signature = challenge
        .signature
        .ok_or_else(|| BookingError::internal(anyhow::anyhow!("ALTCHA challenge unsigned")))?;
    Ok(ChallengeView {
        parameters: challenge.parameters,
        signature,
    })
}

/// Checks that `answer` is a challenge of `office` solved and not yet used, and spends it
/// (committed at once: a refused booking does not give it back). A retry of the same request,
/// by its Idempotency-Key, may show it again. Nothing to check where the office does not ask.
pub(in crate::use_cases) async fn check(
    store: &Store,
    policy: &Policy,
    office: &Office,
    answer: Option<&str>,
    idempotency_key: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    if !office.details.proof_of_work {
        return Ok(());
    }
    let Some(answer) = answer else {
        let message = format!(
            "is required: this office asks for a solved proof-of-work challenge (GET \
             /api/v1/offices/{}/challenge)",
            office.code
        );
        return Err(FieldErrors::single(FIELD, message).into());
    };
    let proof = policy
        .challenges
        .verify(answer, &office.code, now)
        .map_err(|reason| FieldErrors::single(FIELD, reason.message()))?;
    let (office_id, key) = (office.id, idempotency_key.map(str::to_owned));
    let spent = store
        .autocommit(move |conn| -> Result<Spent, BookingError> {
            let key = key.as_deref();
            let expires_at = proof.expires_at;
            Ok(spent_challenges::spend(
                conn,
                office_id,
                &proof.nonce,
                key,
                expires_at,
            )?)
        })
        .await?;
    match spent {
        Spent::Now | Spent::ByTheSameRequest => Ok(()),
        Spent::Already => {
            let message = "has been used already: solve a new challenge";
            Err(FieldErrors::single(FIELD, message).into())
        }
    }
}
