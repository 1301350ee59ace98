//! Proof-of-work challenges already answered: each is good once, until it expires.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{DbConnection, db_time, is_unique_violation, schema::spent_challenges};
use crate::domain::ids::OfficeId;

/// What spending a challenge found.
#[derive(Debug, PartialEq, Eq)]
pub enum Spent {
    /// First use: it is spent now.
    Now,
    /// Spent before by a request with the same Idempotency-Key: a retry of that request.
    ByTheSameRequest,
    /// Spent before by another request.
    Already,
}

/// Marks the challenge `nonce` used, by a request with `idempotency_key` if it has one. Runs
/// in autocommit: a challenge is spent even when the booking it came with is refused.
pub fn spend(
    conn: &mut DbConnection,
    office_id: OfficeId,
    nonce: &str,
    idempotency_key: Option<&str>,
    expires_at: DateTime<Utc>,
) -> QueryResult<Spent> {
    let inserted = diesel::insert_into(spent_challenges::table)
        .values((
            spent_challenges::nonce.eq(nonce),
            spent_challenges::office_id.eq(office_id),
            spent_challenges::idempotency_key.eq(idempotency_key),
            spent_challenges::expires_at.eq(db_time(expires_at)),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(Spent::Now),
        Err(error) if is_unique_violation(&error) => {
            let first: Option<String> = spent_challenges::table
                .filter(spent_challenges::office_id.eq(office_id))
                .filter(spent_challenges::nonce.eq(nonce))
                .select(spent_challenges::idempotency_key)
                .first(conn)?;
            match (first, idempotency_key) {
                (Some(first), Some(key)) if first == key => Ok(Spent::ByTheSameRequest),
                _ => Ok(Spent::Already),
            }
        }
        Err(error) => Err(error),
    }
}

/// Forgets challenges that expired before `now` (they can no longer be answered anyway).
pub fn purge_expired(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(spent_challenges::table.filter(spent_challenges::expires_at.lt(db_time(now))))
        .execute(conn)
}
