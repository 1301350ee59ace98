//! The earlier-slot waitlist: bookings' requests for an earlier seat, and the offers that hold
//! one for them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::{
    dsl::{exists, not},
    prelude::*,
};

use super::{
    DbConnection, db_time, named,
    schema::{calendar_services, lottery_draws, slots, waitlist_offers, waitlist_requests},
};
use crate::domain::{
    Named,
    booking::Channel,
    ids::{BookingId, EntryId, OfferId, OfficeId, ServiceId, SlotId, WaitRequestId},
    waitlist::{OfferStatus, RequestStatus},
};

#[derive(Debug, Clone)]
pub struct Request {
    pub id: WaitRequestId,
    pub office_id: OfficeId,
    /// The booking that waits for an earlier seat, or…
    pub booking_id: Option<BookingId>,
    /// …the lottery entry that won none and waits for one.
    pub entry_id: Option<EntryId>,
    pub earliest_day: NaiveDate,
    pub latest_day: NaiveDate,
    pub status: RequestStatus,
    pub offers_made: i32,
    pub last_offer_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = waitlist_requests)]
struct RequestRow {
    id: WaitRequestId,
    office_id: OfficeId,
    booking_id: Option<BookingId>,
    #[diesel(column_name = lottery_entry_id)]
    entry_id: Option<EntryId>,
    earliest_day: NaiveDate,
    latest_day: NaiveDate,
    status: String,
    offers_made: i32,
    last_offer_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

impl RequestRow {
    fn into_request(self) -> QueryResult<Request> {
        Ok(Request {
            id: self.id,
            office_id: self.office_id,
            booking_id: self.booking_id,
            entry_id: self.entry_id,
            earliest_day: self.earliest_day,
            latest_day: self.latest_day,
            status: named(&self.status)?,
            offers_made: self.offers_made,
            last_offer_at: self.last_offer_at.map(|at| at.and_utc()),
            created_at: self.created_at.and_utc(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Offer {
    pub id: OfferId,
    pub office_id: OfficeId,
    pub request_id: WaitRequestId,
    pub slot_id: SlotId,
    /// Which seat it holds: the booking's channel (the web's for a lottery entry).
    pub channel: Channel,
    pub token_hash: String,
    pub token_salt: String,
    pub status: OfferStatus,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = waitlist_offers)]
struct OfferRow {
    id: OfferId,
    office_id: OfficeId,
    request_id: WaitRequestId,
    slot_id: SlotId,
    channel: String,
    token_hash: String,
    token_salt: String,
    status: String,
    expires_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

impl OfferRow {
    fn into_offer(self) -> QueryResult<Offer> {
        Ok(Offer {
            id: self.id,
            office_id: self.office_id,
            request_id: self.request_id,
            slot_id: self.slot_id,
            channel: named(&self.channel)?,
            token_hash: self.token_hash,
            token_salt: self.token_salt,
            status: named(&self.status)?,
            expires_at: self.expires_at.and_utc(),
            created_at: self.created_at.and_utc(),
        })
    }
}

const IN_QUEUE: [&str; 2] = ["waiting", "offered"];

/// Who waits: a booking, or a lottery entry that won no seat.
#[derive(Debug, Clone, Copy)]
pub enum Waiter {
    Booking(BookingId),
    Entry(EntryId),
}

/// Puts the booking or entry on the waitlist. A second request while one is in the queue
/// fails with a unique violation.
pub fn insert_request(
    conn: &mut DbConnection,
    office_id: OfficeId,
    waiter: Waiter,
    days: (NaiveDate, NaiveDate),
    now: DateTime<Utc>,
) -> QueryResult<WaitRequestId> {
    let (booking_id, entry_id) = match waiter {
        Waiter::Booking(id) => (Some(id), None),
        Waiter::Entry(id) => (None, Some(id)),
    };
    diesel::insert_into(waitlist_requests::table)
        .values((
            waitlist_requests::office_id.eq(office_id),
            waitlist_requests::booking_id.eq(booking_id),
            waitlist_requests::lottery_entry_id.eq(entry_id),
            waitlist_requests::earliest_day.eq(days.0),
            waitlist_requests::latest_day.eq(days.1),
            waitlist_requests::status.eq(RequestStatus::Waiting.as_str()),
            waitlist_requests::created_at.eq(db_time(now)),
            waitlist_requests::updated_at.eq(db_time(now)),
        ))
        .returning(waitlist_requests::id)
        .get_result(conn)
}

pub fn find_request(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: WaitRequestId,
) -> QueryResult<Option<Request>> {
    waitlist_requests::table
        .filter(waitlist_requests::office_id.eq(office_id))
        .filter(waitlist_requests::id.eq(id))
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?
        .map(RequestRow::into_request)
        .transpose()
}

/// The booking's latest request, in the queue or not.
pub fn latest_request(
    conn: &mut DbConnection,
    office_id: OfficeId,
    booking_id: BookingId,
) -> QueryResult<Option<Request>> {
    waitlist_requests::table
        .filter(waitlist_requests::office_id.eq(office_id))
        .filter(waitlist_requests::booking_id.eq(booking_id))
        .order(waitlist_requests::id.desc())
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?
        .map(RequestRow::into_request)
        .transpose()
}

/// Requests waiting for a seat, longest waiting first: a page of `limit` after the request
/// `after` (its joining time and id), from the start when `None`.
pub fn waiting(
    conn: &mut DbConnection,
    after: Option<(DateTime<Utc>, WaitRequestId)>,
    limit: i64,
) -> QueryResult<Vec<Request>> {
    let mut query = waitlist_requests::table
        .filter(waitlist_requests::status.eq(RequestStatus::Waiting.as_str()))
        .into_boxed();
    if let Some((joined, id)) = after {
        let joined = db_time(joined);
        query = query.filter(
            waitlist_requests::created_at
                .gt(joined)
                .or(waitlist_requests::created_at
                    .eq(joined)
                    .and(waitlist_requests::id.gt(id))),
        );
    }
    query
        .order((waitlist_requests::created_at, waitlist_requests::id))
        .limit(limit)
        .select(RequestRow::as_select())
        .load(conn)?
        .into_iter()
        .map(RequestRow::into_request)
        .collect()
}

/// Moves the request from `from` to `to`; false when it was no longer in `from`.
pub fn set_request_status(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: WaitRequestId,
    from: RequestStatus,
    to: RequestStatus,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        waitlist_requests::table
            .filter(waitlist_requests::office_id.eq(office_id))
            .filter(waitlist_requests::id.eq(id))
            .filter(waitlist_requests::status.eq(from.as_str())),
    )
    .set((
        waitlist_requests::status.eq(to.as_str()),
        waitlist_requests::updated_at.eq(db_time(now)),
    ))
    .execute(conn)
    .map(|changed| changed == 1)
}

/// Notes an offer made to a waiting request; false when it was no longer waiting.
pub fn mark_offered(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: WaitRequestId,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        waitlist_requests::table
            .filter(waitlist_requests::office_id.eq(office_id))
            .filter(waitlist_requests::id.eq(id))
            .filter(waitlist_requests::status.eq(RequestStatus::Waiting.as_str())),
    )
    .set((
        waitlist_requests::status.eq(RequestStatus::Offered.as_str()),
        waitlist_requests::offers_made.eq(waitlist_requests::offers_made + 1),
        waitlist_requests::last_offer_at.eq(db_time(now)),
        waitlist_requests::updated_at.eq(db_time(now)),
    ))
    .execute(conn)
    .map(|changed| changed == 1)
}

/// The waiter's request in the queue, if it has one.
pub fn in_queue(
    conn: &mut DbConnection,
    office_id: OfficeId,
    waiter: Waiter,
) -> QueryResult<Option<Request>> {
    let query = waitlist_requests::table
        .filter(waitlist_requests::office_id.eq(office_id))
        .filter(waitlist_requests::status.eq_any(IN_QUEUE))
        .into_boxed();
    let query = match waiter {
        Waiter::Booking(id) => query.filter(waitlist_requests::booking_id.eq(id)),
        Waiter::Entry(id) => query.filter(waitlist_requests::lottery_entry_id.eq(id)),
    };
    query
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?
        .map(RequestRow::into_request)
        .transpose()
}

/// The earliest slot with a seat on public sale for the service, starting from `not_before`
/// and before `before`, on the local days `days`. Seats not yet open, or shared out by a
/// lottery still taking entries, are not for the waitlist either.
#[allow(clippy::too_many_arguments)]
pub fn earliest_free_seat(
    conn: &mut DbConnection,
    office_id: OfficeId,
    service_id: ServiceId,
    days: (NaiveDate, NaiveDate),
    not_before: DateTime<Utc>,
    before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<Option<SlotId>> {
    let serving = calendar_services::table
        .filter(calendar_services::office_id.eq(office_id))
        .filter(calendar_services::office_service_id.eq(service_id))
        .select(calendar_services::calendar_id);
    let draw_open = lottery_draws::table
        .filter(lottery_draws::office_id.eq(office_id))
        .filter(lottery_draws::office_service_id.eq(service_id))
        .filter(lottery_draws::opens_at.nullable().eq(slots::opens_at))
        .filter(lottery_draws::status.eq("open"));
    slots::table
        .filter(slots::office_id.eq(office_id))
        .filter(slots::calendar_id.eq_any(serving))
        .filter(slots::blocked.eq(false))
        .filter(slots::local_date.between(days.0, days.1))
        .filter(slots::starts_at.ge(db_time(not_before)))
        .filter(slots::starts_at.lt(db_time(before)))
        .filter(
            slots::opens_at
                .is_null()
                .or(slots::opens_at.le(db_time(now))),
        )
        .filter((slots::booked_web + slots::booked_desk + slots::cooling).lt(slots::capacity))
        .filter((slots::booked_web + slots::cooling).lt(slots::capacity - slots::held_for_desk))
        .filter(not(exists(draw_open)))
        .order((slots::starts_at, slots::id))
        .select(slots::id)
        .first(conn)
        .optional()
}

pub struct NewOffer<'a> {
    pub office_id: OfficeId,
    pub request_id: WaitRequestId,
    pub slot_id: SlotId,
    pub channel: Channel,
    pub token_hash: &'a str,
    pub token_salt: &'a str,
    pub expires_at: DateTime<Utc>,
}

pub fn insert_offer(
    conn: &mut DbConnection,
    new: NewOffer<'_>,
    now: DateTime<Utc>,
) -> QueryResult<OfferId> {
    diesel::insert_into(waitlist_offers::table)
        .values((
            waitlist_offers::office_id.eq(new.office_id),
            waitlist_offers::request_id.eq(new.request_id),
            waitlist_offers::slot_id.eq(new.slot_id),
            waitlist_offers::channel.eq(new.channel.as_str()),
            waitlist_offers::token_hash.eq(new.token_hash),
            waitlist_offers::token_salt.eq(new.token_salt),
            waitlist_offers::status.eq(OfferStatus::Open.as_str()),
            waitlist_offers::expires_at.eq(db_time(new.expires_at)),
            waitlist_offers::created_at.eq(db_time(now)),
        ))
        .returning(waitlist_offers::id)
        .get_result(conn)
}

pub fn find_offer(conn: &mut DbConnection, id: OfferId) -> QueryResult<Option<Offer>> {
    waitlist_offers::table
        .find(id)
        .select(OfferRow::as_select())
        .first(conn)
        .optional()?
        .map(OfferRow::into_offer)
        .transpose()
}

/// The request's open offer, if it has one.
pub fn open_offer(
    conn: &mut DbConnection,
    office_id: OfficeId,
    request_id: WaitRequestId,
) -> QueryResult<Option<Offer>> {
    waitlist_offers::table
        .filter(waitlist_offers::office_id.eq(office_id))
        .filter(waitlist_offers::request_id.eq(request_id))
        .filter(waitlist_offers::status.eq(OfferStatus::Open.as_str()))
        .select(OfferRow::as_select())
        .first(conn)
        .optional()?
        .map(OfferRow::into_offer)
        .transpose()
}

/// Open offers whose hold has run out by `now`, oldest first.
pub fn lapsed_offers(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Offer>> {
    waitlist_offers::table
        .filter(waitlist_offers::status.eq(OfferStatus::Open.as_str()))
        .filter(waitlist_offers::expires_at.le(db_time(now)))
        .order(waitlist_offers::id)
        .limit(limit)
        .select(OfferRow::as_select())
        .load(conn)?
        .into_iter()
        .map(OfferRow::into_offer)
        .collect()
}

/// Closes an open offer as `to`; false when it was no longer open (answered or lapsed first).
pub fn close_offer(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: OfferId,
    to: OfferStatus,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        waitlist_offers::table
            .filter(waitlist_offers::office_id.eq(office_id))
            .filter(waitlist_offers::id.eq(id))
            .filter(waitlist_offers::status.eq(OfferStatus::Open.as_str())),
    )
    .set((
        waitlist_offers::status.eq(to.as_str()),
        waitlist_offers::decided_at.eq(db_time(now)),
    ))
    .execute(conn)
    .map(|changed| changed == 1)
}
