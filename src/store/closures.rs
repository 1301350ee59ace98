//! An office's own closures (national holidays and the patron day are computed, not stored).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{DbConnection, corrupt, db_time, schema::closures};
use crate::domain::{
    hours::TimeOfDay,
    ids::{ClosureId, OfficeId, StaffId},
    slots::ClosureRule,
};

#[derive(Debug, Clone)]
pub struct Closure {
    pub id: ClosureId,
    pub rule: ClosureRule,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

type ClosureRow = (
    ClosureId,
    NaiveDate,
    NaiveDate,
    Option<i32>,
    Option<i32>,
    String,
    NaiveDateTime,
);

fn closure(
    (id, starts_on, ends_on, start, end, reason, created_at): ClosureRow,
) -> QueryResult<Closure> {
    Ok(Closure {
        id,
        rule: rule_of(starts_on, ends_on, (start, end), || format!("closure {id}"))?,
        reason,
        created_at: created_at.and_utc(),
    })
}

/// A closure's days and window as stored (local minutes, both or neither); `what` names the
/// row for the error when the window is corrupt.
pub(super) fn rule_of(
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    window: (Option<i32>, Option<i32>),
    what: impl FnOnce() -> String,
) -> QueryResult<ClosureRule> {
    let window = match window {
        (None, None) => None,
        (Some(start), Some(end)) => {
            match (TimeOfDay::from_minutes(start), TimeOfDay::from_minutes(end)) {
                (Some(start), Some(end)) => Some((start, end)),
                _ => return Err(corrupt(format!("window of {}", what()))),
            }
        }
        _ => return Err(corrupt(format!("window of {}", what()))),
    };
    Ok(ClosureRule {
        starts_on,
        ends_on,
        window,
    })
}

/// A closure's window as stored: local minutes, both or neither.
pub(super) fn minutes_of(rule: &ClosureRule) -> (Option<i32>, Option<i32>) {
    (
        rule.window.map(|(start, _)| start.minutes()),
        rule.window.map(|(_, end)| end.minutes()),
    )
}

/// Closures touching the days `from..=to`, in date order.
pub fn overlapping(
    conn: &mut DbConnection,
    office_id: OfficeId,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<Closure>> {
    closures::table
        .filter(closures::office_id.eq(office_id))
        .filter(closures::ends_on.ge(from))
        .filter(closures::starts_on.le(to))
        .select((
            closures::id,
            closures::starts_on,
            closures::ends_on,
            closures::start_minute,
            closures::end_minute,
            closures::reason,
            closures::created_at,
        ))
        .order((closures::starts_on, closures::id))
        .load::<ClosureRow>(conn)?
        .into_iter()
        .map(closure)
        .collect()
}

pub fn insert(
    conn: &mut DbConnection,
    office_id: OfficeId,
    rule: &ClosureRule,
    reason: &str,
    created_by: StaffId,
    now: DateTime<Utc>,
) -> QueryResult<ClosureId> {
    diesel::insert_into(closures::table)
        .values((
            closures::office_id.eq(office_id),
            closures::starts_on.eq(rule.starts_on),
            closures::ends_on.eq(rule.ends_on),
            closures::start_minute.eq(minutes_of(rule).0),
            closures::end_minute.eq(minutes_of(rule).1),
            closures::reason.eq(reason),
            closures::created_by.eq(created_by),
            closures::created_at.eq(db_time(now)),
        ))
        .returning(closures::id)
        .get_result(conn)
}

/// Deletes one of the office's closures; false when it has none with this id.
pub fn delete(conn: &mut DbConnection, office_id: OfficeId, id: ClosureId) -> QueryResult<bool> {
    let deleted = diesel::delete(
        closures::table
            .filter(closures::office_id.eq(office_id))
            .filter(closures::id.eq(id)),
    )
    .execute(conn)?;
    Ok(deleted > 0)
}
