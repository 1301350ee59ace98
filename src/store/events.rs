//! The event log: every change of a booking, written in the change's transaction, read back in
//! the order transactions committed.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::{
    dsl::sql,
    prelude::*,
    sql_types::{BigInt, Nullable},
};
use serde_json::Value;

use super::{
    DbConnection, db_time, named,
    schema::{events, offices},
};
use crate::domain::{
    Named,
    booking::EventKind,
    events::Cursor,
    ids::{BookingId, EventId, IntegrationClientId, OfficeId, StaffId},
};

/// An event as written.
pub struct NewEvent<'a> {
    pub office_id: OfficeId,
    pub booking_id: Option<BookingId>,
    pub kind: EventKind,
    /// For the booking's own history: a cancellation's reason, the slot moved from.
    pub detail: Option<Value>,
    pub actor_id: Option<StaffId>,
    pub client_id: Option<IntegrationClientId>,
    /// What the event publishes, as it is now.
    pub data: &'a Value,
}

pub fn insert(
    conn: &mut DbConnection,
    event: NewEvent<'_>,
    now: DateTime<Utc>,
) -> QueryResult<EventId> {
    diesel::insert_into(events::table)
        .values((
            events::office_id.eq(event.office_id),
            events::booking_id.eq(event.booking_id),
            events::kind.eq(event.kind.as_str()),
            events::detail.eq(event.detail.map(|d| d.to_string())),
            events::actor_id.eq(event.actor_id),
            events::client_id.eq(event.client_id),
            events::data.eq(event.data.to_string()),
            events::created_at.eq(db_time(now)),
        ))
        .returning(events::id)
        .get_result(conn)
}

/// An event as the feed and the webhooks publish it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: EventId,
    pub cursor: Cursor,
    pub office_code: String,
    pub kind: EventKind,
    /// JSON; `{}` for an event of an older version that recorded none.
    pub data: String,
    pub created_at: DateTime<Utc>,
}

type Row = (EventId, i64, String, String, Option<String>, NaiveDateTime);

/// What an event is read with: its row and its office's code.
const COLUMNS: (
    events::id,
    events::tx_id,
    offices::code,
    events::kind,
    events::data,
    events::created_at,
) = (
    events::id,
    events::tx_id,
    offices::code,
    events::kind,
    events::data,
    events::created_at,
);

fn stored((id, tx, office_code, kind, data, created_at): Row) -> QueryResult<StoredEvent> {
    Ok(StoredEvent {
        id,
        cursor: Cursor { tx, id: id.get() },
        office_code,
        kind: named(&kind)?,
        data: data.unwrap_or_else(|| "{}".to_owned()),
        created_at: created_at.and_utc(),
    })
}

/// The transaction ids below which every transaction that could write an event has ended:
/// their events are all there to read, and no event of theirs can still appear. On SQLite,
/// writers take turns and ids are in commit order, so every committed event may be read.
///
/// On PostgreSQL: the next transaction id, or the oldest one still running in this database if
/// that is lower. Transactions in the cluster's other databases cannot write our events, so
/// they do not hold the feed back (the cluster-wide `pg_snapshot_xmin` would). The two reads
/// are separate statements, in this order: a transaction that takes an id after the first read
/// takes one at or above it. `pg_stat_activity` shows `backend_xid` only for sessions of the
/// same role (or with `pg_read_all_stats`): the service writes with one role.
fn settled_below(conn: &mut DbConnection) -> QueryResult<i64> {
    let DbConnection::Postgres(pg) = conn else {
        return Ok(i64::MAX);
    };
    let next: i64 = diesel::select(sql::<BigInt>(
        "pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
    ))
    .get_result(pg)?;
    // `backend_xid` is a 32-bit xid; widened against `next` (running ones are older, and never
    // 2^32 behind).
    let oldest_running: Option<i64> = diesel::select(sql::<Nullable<BigInt>>(&format!(
        "(SELECT min({next} - ((({next} % 4294967296) - backend_xid::text::bigint + 4294967296) \
         % 4294967296)) FROM pg_stat_activity \
         WHERE datname = current_database() AND backend_xid IS NOT NULL)"
    )))
    .get_result(pg)?;
    Ok(oldest_running.map_or(next, |oldest| oldest.min(next)))
}

/// Up to `limit` events after `after`, of one office or all, in commit order. An event written
/// by a transaction still running stays unread, and so does every later one, until it ends.
pub fn after(
    conn: &mut DbConnection,
    office_id: Option<OfficeId>,
    after: Cursor,
    limit: i64,
) -> QueryResult<Vec<StoredEvent>> {
    let settled = settled_below(conn)?;
    let mut query = events::table
        .inner_join(offices::table)
        .filter(
            events::tx_id
                .gt(after.tx)
                .or(events::tx_id.eq(after.tx).and(events::id.gt(after.id))),
        )
        .filter(events::tx_id.lt(settled))
        .select(COLUMNS)
        .order((events::tx_id, events::id))
        .limit(limit)
        .into_boxed();
    if let Some(office_id) = office_id {
        query = query.filter(events::office_id.eq(office_id));
    }
    query.load::<Row>(conn)?.into_iter().map(stored).collect()
}

/// Events by id, as webhooks deliver them.
pub fn find_many(conn: &mut DbConnection, ids: &[EventId]) -> QueryResult<Vec<StoredEvent>> {
    events::table
        .inner_join(offices::table)
        .filter(events::id.eq_any(ids))
        .select(COLUMNS)
        .load::<Row>(conn)?
        .into_iter()
        .map(stored)
        .collect()
}

/// How many times a booking was moved.
pub fn times_moved(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: BookingId,
) -> QueryResult<i64> {
    events::table
        .filter(events::office_id.eq(office_id))
        .filter(events::booking_id.eq(id))
        .filter(events::kind.eq(EventKind::Rescheduled.as_str()))
        .count()
        .get_result(conn)
}
