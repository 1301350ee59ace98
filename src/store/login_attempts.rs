//! Login attempts inside the throttling window, counted per account and client address, and
//! failures counted per client address.
//!
//! Each attempt is inserted and committed before it is counted (no enclosing transaction), so
//! concurrent attempts always see each other: however many arrive at once for one account from
//! one address, at most `max_failures` of them get as far as checking a password. An attempt is
//! marked failed once its password was wrong; only failures count against the address.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::{dsl::count_star, prelude::*};

use super::{DbConnection, db_time, schema::login_attempts};
use crate::domain::{ids::LoginAttemptId, staff::EmailAddress};

/// This attempt, and what the window held when it was recorded.
pub struct RecordedAttempt {
    pub id: LoginAttemptId,
    /// Attempts for this account from this address in the window, this one included.
    pub attempts_in_window: i64,
    /// When the oldest of those happened; the window frees up from then.
    pub oldest: DateTime<Utc>,
    /// Failed logins from this address in the window, whatever the account.
    pub client_failures: i64,
    /// When the oldest of those happened.
    pub oldest_client_failure: DateTime<Utc>,
}

pub fn record(
    conn: &mut DbConnection,
    email: &EmailAddress,
    client: &str,
    now: DateTime<Utc>,
    window_start: DateTime<Utc>,
) -> QueryResult<RecordedAttempt> {
    let since = db_time(window_start);
    // Attempts older than the window never count again; drop them (anyone's) as we go.
    diesel::delete(login_attempts::table.filter(login_attempts::attempted_at.lt(since)))
        .execute(conn)?;
    let id = diesel::insert_into(login_attempts::table)
        .values((
            login_attempts::email.eq(email.as_str()),
            login_attempts::client.eq(client),
            login_attempts::attempted_at.eq(db_time(now)),
        ))
        .returning(login_attempts::id)
        .get_result(conn)?;
    let (attempts_in_window, oldest) = login_attempts::table
        .filter(login_attempts::email.eq(email.as_str()))
        .filter(login_attempts::client.eq(client))
        .filter(login_attempts::attempted_at.ge(since))
        .select((count_star(), diesel::dsl::min(login_attempts::attempted_at)))
        .first::<(i64, Option<NaiveDateTime>)>(conn)?;
    let (client_failures, oldest_client_failure) = login_attempts::table
        .filter(login_attempts::client.eq(client))
        .filter(login_attempts::failed.eq(true))
        .filter(login_attempts::attempted_at.ge(since))
        .select((count_star(), diesel::dsl::min(login_attempts::attempted_at)))
        .first::<(i64, Option<NaiveDateTime>)>(conn)?;
    Ok(RecordedAttempt {
        id,
        attempts_in_window,
        oldest: oldest.map_or(now, |t| t.and_utc()),
        client_failures,
        oldest_client_failure: oldest_client_failure.map_or(now, |t| t.and_utc()),
    })
}

/// Takes back an attempt that was refused without checking the password, so hammering a
/// locked account does not keep it locked forever.
pub fn forget(conn: &mut DbConnection, id: LoginAttemptId) -> QueryResult<()> {
    diesel::delete(login_attempts::table.find(id)).execute(conn)?;
    Ok(())
}

/// The password of this attempt was wrong.
pub fn failed(conn: &mut DbConnection, id: LoginAttemptId) -> QueryResult<()> {
    diesel::update(login_attempts::table.find(id))
        .set(login_attempts::failed.eq(true))
        .execute(conn)?;
    Ok(())
}

/// A successful login wipes the slate for that account from that address.
pub fn clear(conn: &mut DbConnection, email: &EmailAddress, client: &str) -> QueryResult<()> {
    diesel::delete(
        login_attempts::table
            .filter(login_attempts::email.eq(email.as_str()))
            .filter(login_attempts::client.eq(client)),
    )
    .execute(conn)?;
    Ok(())
}
