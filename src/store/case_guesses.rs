//! Attempts to prove a registered case with its verification secret, inside the throttling
//! window. An attempt whose secret was right is taken back, so what stays are the guesses that
//! failed (or are being checked right now).
//!
//! As with logins, each attempt is inserted and committed before it is counted (no enclosing
//! transaction): a burst of concurrent guesses sees every one of its members.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::{dsl::count_star, prelude::*};

use super::{DbConnection, db_time, schema::case_verification_attempts as guesses};
use crate::domain::{
    booking::CaseNumber,
    ids::{CaseGuessId, OfficeId},
};

/// This attempt, and what the window held when it was recorded.
pub struct RecordedGuess {
    pub id: CaseGuessId,
    /// Guesses at this case in the window, from anywhere, this one included.
    pub for_case: i64,
    /// When the oldest of those happened; the window frees up from then.
    pub oldest_for_case: DateTime<Utc>,
    /// Guesses from this address in the window, at any case, this one included.
    pub from_client: i64,
    pub oldest_from_client: DateTime<Utc>,
}

pub fn record(
    conn: &mut DbConnection,
    office_id: OfficeId,
    case_number: &CaseNumber,
    client: &str,
    now: DateTime<Utc>,
    window_start: DateTime<Utc>,
) -> QueryResult<RecordedGuess> {
    let since = db_time(window_start);
    // Guesses older than the window never count again; drop them (anyone's) as we go.
    diesel::delete(guesses::table.filter(guesses::attempted_at.lt(since))).execute(conn)?;
    let id = diesel::insert_into(guesses::table)
        .values((
            guesses::office_id.eq(office_id),
            guesses::case_number.eq(case_number.as_str()),
            guesses::client.eq(client),
            guesses::attempted_at.eq(db_time(now)),
        ))
        .returning(guesses::id)
        .get_result(conn)?;
    let (for_case, oldest_for_case) = guesses::table
        .filter(guesses::office_id.eq(office_id))
        .filter(guesses::case_number.eq(case_number.as_str()))
        .filter(guesses::attempted_at.ge(since))
        .select((count_star(), diesel::dsl::min(guesses::attempted_at)))
        .first::<(i64, Option<NaiveDateTime>)>(conn)?;
    let (from_client, oldest_from_client) = guesses::table
        .filter(guesses::client.eq(client))
        .filter(guesses::attempted_at.ge(since))
        .select((count_star(), diesel::dsl::min(guesses::attempted_at)))
        .first::<(i64, Option<NaiveDateTime>)>(conn)?;
    Ok(RecordedGuess {
        id,
        for_case,
        oldest_for_case: oldest_for_case.map_or(now, |t| t.and_utc()),
        from_client,
        oldest_from_client: oldest_from_client.map_or(now, |t| t.and_utc()),
    })
}

/// Takes an attempt back: its secret was right, or it was refused unchecked (so hammering a
/// throttled case does not keep it throttled for ever).
pub fn forget(conn: &mut DbConnection, office_id: OfficeId, id: CaseGuessId) -> QueryResult<()> {
    let guess = guesses::table
        .filter(guesses::office_id.eq(office_id))
        .filter(guesses::id.eq(id));
    diesel::delete(guess).execute(conn)?;
    Ok(())
}
