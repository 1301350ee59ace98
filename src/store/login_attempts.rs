//! Login attempts inside the throttling window, counted per email.
//!
//! Each attempt is inserted and committed before it is counted (no enclosing transaction), so
//! concurrent attempts always see each other: however many arrive at once, at most
//! `max_failures` of them get as far as checking a password.

use chrono::{DateTime, Utc};
use diesel::{dsl::count_star, prelude::*};

use super::{DbConnection, db_time, schema::login_attempts};
use crate::domain::{ids::LoginAttemptId, staff::EmailAddress};

/// This attempt, and what the window held when it was recorded.
pub struct RecordedAttempt {
    pub id: LoginAttemptId,
    /// Attempts in the window, this one included.
    pub attempts_in_window: i64,
    /// When the oldest attempt in the window happened; the window frees up from then.
    pub oldest: DateTime<Utc>,
}

pub fn record(
    conn: &mut DbConnection,
    email: &EmailAddress,
    now: DateTime<Utc>,
    window_start: DateTime<Utc>,
) -> QueryResult<RecordedAttempt> {
    // Attempts older than the window never count again; drop them (anyone's) as we go.
    diesel::delete(
        login_attempts::table.filter(login_attempts::attempted_at.lt(db_time(window_start))),
    )
    .execute(conn)?;
    let id = diesel::insert_into(login_attempts::table)
        .values((
            login_attempts::email.eq(email.as_str()),
            login_attempts::attempted_at.eq(db_time(now)),
        ))
        .returning(login_attempts::id)
        .get_result(conn)?;
    let (attempts_in_window, oldest) = login_attempts::table
        .filter(login_attempts::email.eq(email.as_str()))
        .filter(login_attempts::attempted_at.ge(db_time(window_start)))
        .select((count_star(), diesel::dsl::min(login_attempts::attempted_at)))
        .first::<(i64, Option<chrono::NaiveDateTime>)>(conn)?;
    Ok(RecordedAttempt {
        id,
        attempts_in_window,
        oldest: oldest.map_or(now, |t| t.and_utc()),
    })
}

/// Takes back an attempt that was refused without checking the password, so hammering a
/// locked account does not keep it locked forever.
pub fn forget(conn: &mut DbConnection, id: LoginAttemptId) -> QueryResult<()> {
    diesel::delete(login_attempts::table.find(id)).execute(conn)?;
    Ok(())
}

/// A successful login wipes the slate for that email.
pub fn clear(conn: &mut DbConnection, email: &EmailAddress) -> QueryResult<()> {
    diesel::delete(login_attempts::table.filter(login_attempts::email.eq(email.as_str())))
        .execute(conn)?;
    Ok(())
}
