//! Bookings, the seats they hold, their events, and idempotency records.
//!
//! A seat is claimed by one conditional UPDATE of the slot's counters: it succeeds only while a
//! seat is free, so however many requests race for a slot, no more succeed than there are
//! seats (and the table's CHECK would refuse an oversale anyway).

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::{
    dsl::{case_when, count_star},
    prelude::*,
    sql_types::{BigInt, Text},
};
use serde_json::Value;

use super::{
    DbConnection, corrupt, db_time,
    schema::{booking_events, bookings, idempotency_keys, seat_releases, slots},
    slots::{Slot, SlotRow},
};
use crate::domain::booking::{Channel, Reference, Status};

#[derive(Debug, Clone)]
pub struct Booking {
    pub id: i64,
    pub office_id: i64,
    pub slot_id: i64,
    pub office_service_id: i64,
    pub reference: Reference,
    pub token_hash: String,
    pub token_salt: String,
    pub case_number: String,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub language: String,
    pub channel: Channel,
    pub status: Status,
    pub is_test: bool,
    pub sequence: i32,
    pub created_by: Option<i64>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<String>,
    pub cancel_reason: Option<String>,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = bookings)]
struct BookingRow {
    id: i64,
    office_id: i64,
    slot_id: i64,
    office_service_id: i64,
    reference: String,
    token_hash: String,
    token_salt: String,
    case_number: String,
    full_name: String,
    email: Option<String>,
    phone: Option<String>,
    language: String,
    channel: String,
    status: String,
    is_test: bool,
    sequence: i32,
    created_by: Option<i64>,
    cancelled_at: Option<NaiveDateTime>,
    cancelled_by: Option<String>,
    cancel_reason: Option<String>,
    checked_in_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl BookingRow {
    fn into_booking(self) -> QueryResult<Booking> {
        Ok(Booking {
            id: self.id,
            office_id: self.office_id,
            slot_id: self.slot_id,
            office_service_id: self.office_service_id,
            reference: Reference::parse(&self.reference)
                .ok_or_else(|| corrupt(format!("reference {:?}", self.reference)))?,
            token_hash: self.token_hash,
            token_salt: self.token_salt,
            case_number: self.case_number,
            full_name: self.full_name,
            email: self.email,
            phone: self.phone,
            language: self.language,
            channel: Channel::parse(&self.channel)
                .ok_or_else(|| corrupt(format!("channel {:?}", self.channel)))?,
            status: Status::parse(&self.status)
                .ok_or_else(|| corrupt(format!("status {:?}", self.status)))?,
            is_test: self.is_test,
            sequence: self.sequence,
            created_by: self.created_by,
            cancelled_at: self.cancelled_at.map(|t| t.and_utc()),
            cancelled_by: self.cancelled_by,
            cancel_reason: self.cancel_reason,
            checked_in_at: self.checked_in_at.map(|t| t.and_utc()),
            closed_at: self.closed_at.map(|t| t.and_utc()),
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
        })
    }
}

fn bookings_of(rows: Vec<BookingRow>) -> QueryResult<Vec<Booking>> {
    rows.into_iter().map(BookingRow::into_booking).collect()
}

pub fn find_by_reference(
    conn: &mut DbConnection,
    reference: &Reference,
) -> QueryResult<Option<Booking>> {
    bookings::table
        .filter(bookings::reference.eq(reference.as_str()))
        .select(BookingRow::as_select())
        .first(conn)
        .optional()?
        .map(BookingRow::into_booking)
        .transpose()
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Booking>> {
    bookings::table
        .find(id)
        .select(BookingRow::as_select())
        .first(conn)
        .optional()?
        .map(BookingRow::into_booking)
        .transpose()
}

pub fn reference_taken(conn: &mut DbConnection, reference: &Reference) -> QueryResult<bool> {
    let found: i64 = bookings::table
        .filter(bookings::reference.eq(reference.as_str()))
        .select(count_star())
        .first(conn)?;
    Ok(found > 0)
}

/// Whether the case already has an active booking of this service.
pub fn case_has_active(
    conn: &mut DbConnection,
    office_id: i64,
    case_number: &str,
    office_service_id: i64,
) -> QueryResult<bool> {
    let found: i64 = bookings::table
        .filter(bookings::office_id.eq(office_id))
        .filter(bookings::case_number.eq(case_number))
        .filter(bookings::office_service_id.eq(office_service_id))
        .filter(bookings::status.eq_any([Status::Confirmed.as_str(), Status::CheckedIn.as_str()]))
        .select(count_star())
        .first(conn)?;
    Ok(found > 0)
}

/// Active bookings made with this email address at this office.
pub fn active_for_email(conn: &mut DbConnection, office_id: i64, email: &str) -> QueryResult<i64> {
    bookings::table
        .filter(bookings::office_id.eq(office_id))
        .filter(bookings::email.eq(email))
        .filter(bookings::status.eq_any([Status::Confirmed.as_str(), Status::CheckedIn.as_str()]))
        .select(count_star())
        .first(conn)
}

/// Serialises bookings for one email address at one office until the transaction ends, so
/// that concurrent requests cannot together pass the per-email limit. SQLite needs nothing:
/// its write transactions already run one at a time.
pub fn lock_email(conn: &mut DbConnection, office_id: i64, email: &str) -> QueryResult<()> {
    if let DbConnection::Postgres(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))")
            .bind::<Text, _>(email)
            .bind::<BigInt, _>(office_id)
            .execute(pg)?;
    }
    Ok(())
}

pub struct NewBooking<'a> {
    pub office_id: i64,
    pub slot_id: i64,
    pub office_service_id: i64,
    pub reference: &'a Reference,
    pub token_hash: &'a str,
    pub token_salt: &'a str,
    pub case_number: &'a str,
    pub full_name: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub language: &'a str,
    pub channel: Channel,
    pub is_test: bool,
    pub created_by: Option<i64>,
}

/// Records a confirmed booking. A second active booking for the same case and service fails
/// with a unique violation (the partial index), whatever the races before it.
pub fn insert(
    conn: &mut DbConnection,
    new: NewBooking<'_>,
    now: DateTime<Utc>,
) -> QueryResult<Booking> {
    diesel::insert_into(bookings::table)
        .values((
            bookings::office_id.eq(new.office_id),
            bookings::slot_id.eq(new.slot_id),
            bookings::office_service_id.eq(new.office_service_id),
            bookings::reference.eq(new.reference.as_str()),
            bookings::token_hash.eq(new.token_hash),
            bookings::token_salt.eq(new.token_salt),
            bookings::case_number.eq(new.case_number),
            bookings::full_name.eq(new.full_name),
            bookings::email.eq(new.email),
            bookings::phone.eq(new.phone),
            bookings::language.eq(new.language),
            bookings::channel.eq(new.channel.as_str()),
            bookings::status.eq(Status::Confirmed.as_str()),
            bookings::is_test.eq(new.is_test),
            bookings::sequence.eq(0),
            bookings::created_by.eq(new.created_by),
            bookings::created_at.eq(db_time(now)),
            bookings::updated_at.eq(db_time(now)),
        ))
        .returning(bookings::all_columns)
        .get_result::<BookingRow>(conn)?
        .into_booking()
}

/// Moves the booking from status `from` to `to`, noting when; false when it was no longer in
/// `from` (another request changed it first).
pub fn set_status(
    conn: &mut DbConnection,
    id: i64,
    from: Status,
    to: Status,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let at = db_time(now);
    let target = bookings::table
        .find(id)
        .filter(bookings::status.eq(from.as_str()));
    let updated = match to {
        Status::CheckedIn => diesel::update(target)
            .set((
                bookings::status.eq(to.as_str()),
                bookings::checked_in_at.eq(at),
                bookings::updated_at.eq(at),
            ))
            .execute(conn)?,
        _ => diesel::update(target)
            .set((
                bookings::status.eq(to.as_str()),
                bookings::closed_at.eq(at),
                bookings::updated_at.eq(at),
            ))
            .execute(conn)?,
    };
    Ok(updated == 1)
}

/// Cancels a booking still in status `from` and in slot `slot_id`, noting by whom
/// (`applicant` or `office`) and why, and raises its sequence; returns the new sequence, or
/// `None` when another request changed it first (so its seat is not freed twice).
pub fn cancel(
    conn: &mut DbConnection,
    id: i64,
    from: Status,
    slot_id: i64,
    by: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<Option<i32>> {
    let at = db_time(now);
    let current = bookings::table
        .find(id)
        .filter(bookings::status.eq(from.as_str()))
        .filter(bookings::slot_id.eq(slot_id));
    let updated = diesel::update(current)
        .set((
            bookings::status.eq(Status::Cancelled.as_str()),
            bookings::cancelled_at.eq(at),
            bookings::cancelled_by.eq(by),
            bookings::cancel_reason.eq(reason),
            bookings::sequence.eq(bookings::sequence + 1),
            bookings::updated_at.eq(at),
        ))
        .returning(bookings::sequence)
        .get_result(conn)
        .optional()?;
    Ok(updated)
}

/// Moves a confirmed booking from one slot to another, now held by `channel`, and raises its
/// sequence; returns the new sequence, or `None` when it was no longer confirmed in
/// `from_slot`.
pub fn move_to(
    conn: &mut DbConnection,
    id: i64,
    from_slot: i64,
    to_slot: i64,
    channel: Channel,
    now: DateTime<Utc>,
) -> QueryResult<Option<i32>> {
    let updated = diesel::update(
        bookings::table
            .find(id)
            .filter(bookings::slot_id.eq(from_slot))
            .filter(bookings::status.eq(Status::Confirmed.as_str())),
    )
    .set((
        bookings::slot_id.eq(to_slot),
        bookings::channel.eq(channel.as_str()),
        bookings::sequence.eq(bookings::sequence + 1),
        bookings::updated_at.eq(db_time(now)),
    ))
    .returning(bookings::sequence)
    .get_result(conn)
    .optional()?;
    Ok(updated)
}

/// The office's bookings with this case number or reference, newest first.
pub fn search(
    conn: &mut DbConnection,
    office_id: i64,
    case_number: Option<&str>,
    reference: Option<&Reference>,
) -> QueryResult<Vec<Booking>> {
    let mut query = bookings::table
        .filter(bookings::office_id.eq(office_id))
        .select(BookingRow::as_select())
        .order(bookings::id.desc())
        .limit(200)
        .into_boxed();
    if let Some(case_number) = case_number {
        query = query.filter(bookings::case_number.eq(case_number));
    }
    if let Some(reference) = reference {
        query = query.filter(bookings::reference.eq(reference.as_str()));
    }
    bookings_of(query.load(conn)?)
}

/// The bookings (not cancelled) in slots starting in `[from, to)`, with their slots, by time.
pub fn agenda(
    conn: &mut DbConnection,
    office_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    calendar_id: Option<i64>,
    office_service_id: Option<i64>,
) -> QueryResult<Vec<(Booking, Slot)>> {
    let mut query = bookings::table
        .inner_join(slots::table)
        .filter(bookings::office_id.eq(office_id))
        .filter(slots::starts_at.ge(db_time(from)))
        .filter(slots::starts_at.lt(db_time(to)))
        .filter(bookings::status.ne(Status::Cancelled.as_str()))
        .order((slots::starts_at, slots::calendar_id, bookings::reference))
        .select((BookingRow::as_select(), SlotRow::as_select()))
        .into_boxed();
    if let Some(calendar_id) = calendar_id {
        query = query.filter(slots::calendar_id.eq(calendar_id));
    }
    if let Some(service_id) = office_service_id {
        query = query.filter(bookings::office_service_id.eq(service_id));
    }
    query
        .load::<(BookingRow, SlotRow)>(conn)?
        .into_iter()
        .map(|(row, slot)| Ok((row.into_booking()?, Slot::from(slot))))
        .collect()
}

/// Locks the slots' rows until the transaction ends, in ascending id order. Every change that
/// touches a booking locks its slots first, and several slots always in this order, so two
/// transactions never wait for each other in a circle. (PostgreSQL only: SQLite's write
/// transactions already run one at a time.)
pub fn lock_slots(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<()> {
    if let DbConnection::Postgres(pg) = conn {
        slots::table
            .filter(slots::id.eq_any(ids))
            .order(slots::id)
            .select(slots::id)
            .for_update()
            .load::<i64>(pg)?;
    }
    Ok(())
}

/// Takes one seat of `channel` in the slot, if the office still sells one there. The web may
/// not take seats held for the desk, nor seats cooling down after a cancellation.
pub fn claim_seat(
    conn: &mut DbConnection,
    office_id: i64,
    slot_id: i64,
    channel: Channel,
) -> QueryResult<bool> {
    let slot = slots::table
        .filter(slots::id.eq(slot_id))
        .filter(slots::office_id.eq(office_id))
        .filter(slots::blocked.eq(false));
    let claimed = match channel {
        Channel::Web => diesel::update(
            slot.filter(
                (slots::booked_web + slots::booked_desk + slots::cooling).lt(slots::capacity),
            )
            .filter(
                (slots::booked_web + slots::cooling).lt(slots::capacity - slots::held_for_desk),
            ),
        )
        .set(slots::booked_web.eq(slots::booked_web + 1))
        .execute(conn)?,
        Channel::Desk => diesel::update(
            slot.filter((slots::booked_web + slots::booked_desk).lt(slots::capacity)),
        )
        .set(slots::booked_desk.eq(slots::booked_desk + 1))
        .execute(conn)?,
    };
    Ok(claimed == 1)
}

/// Gives back a seat of `channel`. It cools down for `cooldown` before the web can book it
/// again, so a cancelled seat cannot be handed straight to someone waiting for it.
pub fn release_seat(
    conn: &mut DbConnection,
    slot_id: i64,
    channel: Channel,
    cooldown: Duration,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let cooling = if cooldown > Duration::zero() { 1 } else { 0 };
    let target = slots::table.find(slot_id);
    match channel {
        Channel::Web => diesel::update(target)
            .set((
                slots::booked_web.eq(slots::booked_web - 1),
                slots::cooling.eq(slots::cooling + cooling),
            ))
            .execute(conn)?,
        Channel::Desk => diesel::update(target)
            .set((
                slots::booked_desk.eq(slots::booked_desk - 1),
                slots::cooling.eq(slots::cooling + cooling),
            ))
            .execute(conn)?,
    };
    if cooling > 0 {
        diesel::insert_into(seat_releases::table)
            .values((
                seat_releases::slot_id.eq(slot_id),
                seat_releases::available_at.eq(db_time(now + cooldown)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Puts the slot's seats whose cool-down has passed back on sale; returns how many.
pub fn release_cooled(
    conn: &mut DbConnection,
    slot_id: i64,
    now: DateTime<Utc>,
) -> QueryResult<i32> {
    let released = diesel::delete(
        seat_releases::table
            .filter(seat_releases::slot_id.eq(slot_id))
            .filter(seat_releases::available_at.le(db_time(now))),
    )
    .execute(conn)?;
    let released = i32::try_from(released).unwrap_or(i32::MAX);
    if released > 0 {
        diesel::update(slots::table.find(slot_id))
            .set(
                slots::cooling.eq(case_when(
                    slots::cooling.gt(released),
                    slots::cooling - released,
                )
                .otherwise(0)),
            )
            .execute(conn)?;
    }
    Ok(released)
}

/// Whether a seat of the slot has finished cooling down (and can go back on sale).
pub fn has_cooled_seat(
    conn: &mut DbConnection,
    slot_id: i64,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let due: i64 = seat_releases::table
        .filter(seat_releases::slot_id.eq(slot_id))
        .filter(seat_releases::available_at.le(db_time(now)))
        .select(count_star())
        .first(conn)?;
    Ok(due > 0)
}

/// The slots with seats whose cool-down has passed, for the periodic sweep.
pub fn slots_with_cooled_seats(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    seat_releases::table
        .filter(seat_releases::available_at.le(db_time(now)))
        .select(seat_releases::slot_id)
        .distinct()
        .limit(limit)
        .load(conn)
}

/// One thing that happened to a booking, as the mailer and the history read it.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub booking_id: i64,
    pub kind: String,
    pub detail: Option<Value>,
    pub actor_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

pub fn record_event(
    conn: &mut DbConnection,
    booking: &Booking,
    kind: &str,
    detail: Option<Value>,
    actor_id: Option<i64>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(booking_events::table)
        .values((
            booking_events::office_id.eq(booking.office_id),
            booking_events::booking_id.eq(booking.id),
            booking_events::kind.eq(kind),
            booking_events::detail.eq(detail.map(|d| d.to_string())),
            booking_events::actor_id.eq(actor_id),
            booking_events::created_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = booking_events)]
struct EventRow {
    id: i64,
    booking_id: i64,
    kind: String,
    detail: Option<String>,
    actor_id: Option<i64>,
    created_at: NaiveDateTime,
}

/// A booking's events, oldest first.
pub fn events(conn: &mut DbConnection, booking_id: i64) -> QueryResult<Vec<Event>> {
    let rows: Vec<EventRow> = booking_events::table
        .filter(booking_events::booking_id.eq(booking_id))
        .select(EventRow::as_select())
        .order(booking_events::id)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| Event {
            id: row.id,
            booking_id: row.booking_id,
            kind: row.kind,
            detail: row.detail.and_then(|d| serde_json::from_str(&d).ok()),
            actor_id: row.actor_id,
            created_at: row.created_at.and_utc(),
        })
        .collect())
}

/// A stored idempotency record: the request's fingerprint and the booking it made.
pub struct KeyRecord {
    pub request_hash: String,
    pub booking_id: Option<i64>,
}

pub fn find_key(
    conn: &mut DbConnection,
    office_id: i64,
    key: &str,
) -> QueryResult<Option<KeyRecord>> {
    Ok(idempotency_keys::table
        .filter(idempotency_keys::office_id.eq(office_id))
        .filter(idempotency_keys::key.eq(key))
        .select((idempotency_keys::request_hash, idempotency_keys::booking_id))
        .first::<(String, Option<i64>)>(conn)
        .optional()?
        .map(|(request_hash, booking_id)| KeyRecord {
            request_hash,
            booking_id,
        }))
}

/// Claims the key for this request. A concurrent request with the same key waits here (on
/// PostgreSQL) until the first commits, then fails with a unique violation.
pub fn insert_key(
    conn: &mut DbConnection,
    office_id: i64,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::office_id.eq(office_id),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::created_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_key_booking(
    conn: &mut DbConnection,
    office_id: i64,
    key: &str,
    booking_id: i64,
) -> QueryResult<()> {
    diesel::update(
        idempotency_keys::table
            .filter(idempotency_keys::office_id.eq(office_id))
            .filter(idempotency_keys::key.eq(key)),
    )
    .set(idempotency_keys::booking_id.eq(booking_id))
    .execute(conn)?;
    Ok(())
}

/// Forgets idempotency records older than `before`.
pub fn purge_keys(conn: &mut DbConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(db_time(before))))
        .execute(conn)
}
