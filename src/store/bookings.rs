//! Bookings, their events, and idempotency records. The seats they hold are counted on their
//! slots (see `seats`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::{
    dsl::count_star,
    prelude::*,
    sql_types::{BigInt, Text},
};

use super::{
    DbConnection, corrupt, db_time, named,
    schema::{bookings, idempotency_keys, slots},
    slots::Slot,
};
use crate::domain::{
    Named,
    booking::{CaseNumber, Channel, Reference, Status},
    email::EmailAddress,
    ids::{BookingId, CalendarId, OfficeId, ServiceId, SlotId, StaffId},
    language::Language,
};

#[derive(Debug, Clone)]
pub struct Booking {
    pub id: BookingId,
    pub office_id: OfficeId,
    pub slot_id: SlotId,
    pub office_service_id: ServiceId,
    pub reference: Reference,
    pub token_hash: String,
    pub token_salt: String,
    pub case_number: String,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub language: Language,
    pub channel: Channel,
    pub status: Status,
    pub is_test: bool,
    pub sequence: i32,
    pub created_by: Option<StaffId>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<String>,
    pub cancel_reason: Option<String>,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The accredited intermediary who booked for the applicant.
    pub intermediary_id: Option<StaffId>,
    /// Why the office moved the visit, when its last move was the office's.
    pub moved_reason: Option<String>,
    /// When the applicant was asked to reconfirm the visit, and when they did.
    pub reconfirm_asked_at: Option<DateTime<Utc>>,
    pub reconfirmed_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable, QueryableByName)]
#[diesel(table_name = bookings)]
pub(super) struct BookingRow {
    id: BookingId,
    office_id: OfficeId,
    slot_id: SlotId,
    office_service_id: ServiceId,
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
    created_by: Option<StaffId>,
    cancelled_at: Option<NaiveDateTime>,
    cancelled_by: Option<String>,
    cancel_reason: Option<String>,
    checked_in_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    /// Only queries use it ([`active_for_email`]); it is here because RETURNING can only name
    /// all the columns (diesel's MultiConnection cannot return a selection).
    #[diesel(column_name = mailbox)]
    _mailbox: Option<String>,
    intermediary_id: Option<StaffId>,
    moved_reason: Option<String>,
    reconfirm_asked_at: Option<NaiveDateTime>,
    reconfirmed_at: Option<NaiveDateTime>,
    /// Set once its personal fields are gone; the rest is kept for the counts.
    #[diesel(column_name = anonymised_at)]
    _anonymised_at: Option<NaiveDateTime>,
}

impl BookingRow {
    pub(super) fn into_booking(self) -> QueryResult<Booking> {
        Ok(Booking {
            id: self.id,
            office_id: self.office_id,
            slot_id: self.slot_id,
            office_service_id: self.office_service_id,
            reference: Reference::parse(&self.reference)
                .map_err(|_| corrupt(format!("reference {:?}", self.reference)))?,
            token_hash: self.token_hash,
            token_salt: self.token_salt,
            case_number: self.case_number,
            full_name: self.full_name,
            email: self.email,
            phone: self.phone,
            language: Language::parse(&self.language)
                .map_err(|_| corrupt(format!("language {:?}", self.language)))?,
            channel: named(&self.channel)?,
            status: named(&self.status)?,
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
            intermediary_id: self.intermediary_id,
            moved_reason: self.moved_reason,
            reconfirm_asked_at: self.reconfirm_asked_at.map(|t| t.and_utc()),
            reconfirmed_at: self.reconfirmed_at.map(|t| t.and_utc()),
        })
    }
}

pub(super) fn bookings_of(rows: Vec<BookingRow>) -> QueryResult<Vec<Booking>> {
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

pub fn find(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: BookingId,
) -> QueryResult<Option<Booking>> {
    bookings::table
        .filter(bookings::office_id.eq(office_id))
        .filter(bookings::id.eq(id))
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

/// The names of the active statuses, as stored.
pub(super) fn active_statuses() -> [&'static str; 2] {
    Status::ACTIVE.map(Status::as_str)
}

/// Whether the case already has an active booking of this service.
pub fn case_has_active(
    conn: &mut DbConnection,
    office_id: OfficeId,
    case_number: &CaseNumber,
    office_service_id: ServiceId,
) -> QueryResult<bool> {
    let found: i64 = bookings::table
        .filter(bookings::office_id.eq(office_id))
        .filter(bookings::case_number.eq(case_number.as_str()))
        .filter(bookings::office_service_id.eq(office_service_id))
        .filter(bookings::status.eq_any(active_statuses()))
        .select(count_star())
        .first(conn)?;
    Ok(found > 0)
}

/// Active bookings made with an address reaching this email's mailbox at this office.
pub fn active_for_email(
    conn: &mut DbConnection,
    office_id: OfficeId,
    email: &EmailAddress,
) -> QueryResult<i64> {
    bookings::table
        .filter(bookings::office_id.eq(office_id))
        .filter(bookings::mailbox.eq(email.mailbox()))
        .filter(bookings::status.eq_any(active_statuses()))
        .select(count_star())
        .first(conn)
}

/// Serialises bookings for one mailbox at one office until the transaction ends, so that
/// concurrent requests cannot together pass the per-email limit. SQLite needs nothing: its
/// write transactions already run one at a time.
pub fn lock_email(
    conn: &mut DbConnection,
    office_id: OfficeId,
    email: &EmailAddress,
) -> QueryResult<()> {
    if let DbConnection::Postgres(pg) = conn {
        // `IS NULL` gives the void a type to read (false); typed, diesel prepares it once.
        let lock = pg_advisory_xact_lock(hashtextextended(email.mailbox(), office_id.get()));
        diesel::select(lock.is_null()).get_result::<bool>(pg)?;
    }
    Ok(())
}

diesel::define_sql_function! {
    /// PostgreSQL's 64-bit hash of a text, with a seed.
    fn hashtextextended(text: Text, seed: BigInt) -> BigInt;
}

diesel::define_sql_function! {
    /// PostgreSQL's lock on a number until the transaction ends (it returns void).
    fn pg_advisory_xact_lock(key: BigInt) -> diesel::sql_types::Nullable<Text>;
}

pub struct NewBooking<'a> {
    pub office_id: OfficeId,
    pub slot_id: SlotId,
    pub office_service_id: ServiceId,
    pub reference: &'a Reference,
    pub token_hash: &'a str,
    pub token_salt: &'a str,
    pub case_number: &'a CaseNumber,
    pub full_name: &'a str,
    pub email: Option<&'a EmailAddress>,
    pub phone: Option<&'a str>,
    pub language: &'a Language,
    pub channel: Channel,
    pub is_test: bool,
    pub created_by: Option<StaffId>,
    pub intermediary_id: Option<StaffId>,
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
            bookings::case_number.eq(new.case_number.as_str()),
            bookings::full_name.eq(new.full_name),
            bookings::email.eq(new.email.map(EmailAddress::as_str)),
            bookings::mailbox.eq(new.email.map(EmailAddress::mailbox)),
            bookings::phone.eq(new.phone),
            bookings::language.eq(new.language.as_str()),
            bookings::channel.eq(new.channel.as_str()),
            bookings::status.eq(Status::Confirmed.as_str()),
            bookings::is_test.eq(new.is_test),
            bookings::sequence.eq(0),
            bookings::created_by.eq(new.created_by),
            bookings::intermediary_id.eq(new.intermediary_id),
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
    office_id: OfficeId,
    id: BookingId,
    from: Status,
    to: Status,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let at = db_time(now);
    let target = bookings::table
        .filter(bookings::office_id.eq(office_id))
        .filter(bookings::id.eq(id))
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
    (office_id, id): (OfficeId, BookingId),
    from: Status,
    slot_id: SlotId,
    by: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<Option<i32>> {
    let at = db_time(now);
    let current = bookings::table
        .filter(bookings::office_id.eq(office_id))
        .filter(bookings::id.eq(id))
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

/// Moves a confirmed booking from one slot to another; `reason` is the office's, when the
/// office moves it (an applicant's own move clears the last one). A new time is reconfirmed
/// anew. Returns the new sequence, or `None` when the booking was not confirmed at `from_slot`
/// any more.
pub fn move_to(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: BookingId,
    (from_slot, to_slot): (SlotId, SlotId),
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<Option<i32>> {
    let updated = diesel::update(
        bookings::table
            .filter(bookings::office_id.eq(office_id))
            .filter(bookings::id.eq(id))
            .filter(bookings::slot_id.eq(from_slot))
            .filter(bookings::status.eq(Status::Confirmed.as_str())),
    )
    .set((
        bookings::slot_id.eq(to_slot),
        bookings::moved_reason.eq(reason),
        bookings::reconfirm_asked_at.eq(None::<NaiveDateTime>),
        bookings::reconfirmed_at.eq(None::<NaiveDateTime>),
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
    office_id: OfficeId,
    case_number: Option<&CaseNumber>,
    reference: Option<&Reference>,
) -> QueryResult<Vec<Booking>> {
    let mut query = bookings::table
        .filter(bookings::office_id.eq(office_id))
        .select(BookingRow::as_select())
        .order(bookings::id.desc())
        .limit(200)
        .into_boxed();
    if let Some(case_number) = case_number {
        query = query.filter(bookings::case_number.eq(case_number.as_str()));
    }
    if let Some(reference) = reference {
        query = query.filter(bookings::reference.eq(reference.as_str()));
    }
    bookings_of(query.load(conn)?)
}

/// The confirmed bookings whose visit is on the local days `from..=to` and still to come
/// (after `now`), with their slots, in booking order (earliest booked first).
pub fn confirmed_on_days(
    conn: &mut DbConnection,
    office_id: OfficeId,
    (from, to): (NaiveDate, NaiveDate),
    now: DateTime<Utc>,
) -> QueryResult<Vec<(Booking, Slot)>> {
    bookings::table
        .inner_join(slots::table)
        .filter(bookings::office_id.eq(office_id))
        .filter(slots::local_date.between(from, to))
        .filter(slots::starts_at.gt(db_time(now)))
        .filter(bookings::status.eq(Status::Confirmed.as_str()))
        .order((bookings::created_at, bookings::id))
        .select((BookingRow::as_select(), Slot::as_select()))
        .load::<(BookingRow, Slot)>(conn)?
        .into_iter()
        .map(|(row, slot)| Ok((row.into_booking()?, slot)))
        .collect()
}

/// The bookings (not cancelled) in slots starting in `[from, to)`, with their slots, by time.
pub fn agenda(
    conn: &mut DbConnection,
    office_id: OfficeId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    calendar_id: Option<CalendarId>,
    office_service_id: Option<ServiceId>,
) -> QueryResult<Vec<(Booking, Slot)>> {
    let mut query = bookings::table
        .inner_join(slots::table)
        .filter(bookings::office_id.eq(office_id))
        .filter(slots::starts_at.ge(db_time(from)))
        .filter(slots::starts_at.lt(db_time(to)))
        .filter(bookings::status.ne(Status::Cancelled.as_str()))
        .order((slots::starts_at, slots::calendar_id, bookings::reference))
        .select((BookingRow::as_select(), Slot::as_select()))
        .into_boxed();
    if let Some(calendar_id) = calendar_id {
        query = query.filter(slots::calendar_id.eq(calendar_id));
    }
    if let Some(service_id) = office_service_id {
        query = query.filter(bookings::office_service_id.eq(service_id));
    }
    query
        .load::<(BookingRow, Slot)>(conn)?
        .into_iter()
        .map(|(row, slot)| Ok((row.into_booking()?, slot)))
        .collect()
}

/// A stored idempotency record: the request's fingerprint and the booking it made.
pub struct KeyRecord {
    pub request_hash: String,
    pub booking_id: Option<BookingId>,
}

/// The record of an earlier request with this key.
pub fn find_key(
    conn: &mut DbConnection,
    office_id: OfficeId,
    key: &str,
) -> QueryResult<Option<KeyRecord>> {
    Ok(idempotency_keys::table
        .filter(idempotency_keys::office_id.eq(office_id))
        .filter(idempotency_keys::key.eq(key))
        .select((idempotency_keys::request_hash, idempotency_keys::booking_id))
        .first::<(String, Option<BookingId>)>(conn)
        .optional()?
        .map(|(request_hash, booking_id)| KeyRecord {
            request_hash,
            booking_id,
        }))
}

/// Records the request with this key as the one that made `booking_id`. A concurrent request
/// with the same key waits here (on PostgreSQL) until the first commits, then fails with a
/// unique violation.
pub fn insert_key(
    conn: &mut DbConnection,
    office_id: OfficeId,
    key: &str,
    request_hash: &str,
    booking_id: BookingId,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::office_id.eq(office_id),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::booking_id.eq(booking_id),
            idempotency_keys::created_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forgets idempotency records older than `before`.
pub fn purge_keys(conn: &mut DbConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(db_time(before))))
        .execute(conn)
}
