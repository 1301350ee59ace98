//! What keeps seats for people who come, as stored: reconfirmation (who was asked, who
//! answered, which visits were released) and the no-shows the no-show rule counts.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{
    DbConnection,
    bookings::{Booking, BookingRow, bookings_of},
    db_time,
    schema::{bookings, slots},
    slots::Slot,
};
use crate::domain::{
    Named,
    booking::Status,
    ids::{BookingId, OfficeId, ServiceId},
};

/// Confirmed bookings of `service` whose applicant has not been asked to reconfirm yet, with a
/// visit in `(after, until]`, soonest first, at most `limit`.
pub fn not_asked_to_reconfirm(
    conn: &mut DbConnection,
    office_id: OfficeId,
    service: ServiceId,
    (after, until): (DateTime<Utc>, DateTime<Utc>),
    limit: i64,
) -> QueryResult<Vec<Booking>> {
    bookings_of(
        bookings::table
            .inner_join(slots::table)
            .filter(bookings::office_id.eq(office_id))
            .filter(bookings::office_service_id.eq(service))
            .filter(bookings::status.eq(Status::Confirmed.as_str()))
            .filter(bookings::reconfirm_asked_at.is_null())
            .filter(slots::starts_at.gt(db_time(after)))
            .filter(slots::starts_at.le(db_time(until)))
            .order((slots::starts_at, bookings::id))
            .limit(limit)
            .select(BookingRow::as_select())
            .load(conn)?,
    )
}

/// Notes that the applicant was asked to reconfirm; false when someone else did first.
pub fn mark_asked_to_reconfirm(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: BookingId,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let updated = diesel::update(
        bookings::table
            .filter(bookings::office_id.eq(office_id))
            .filter(bookings::id.eq(id))
            .filter(bookings::reconfirm_asked_at.is_null())
            .filter(bookings::status.eq(Status::Confirmed.as_str())),
    )
    .set(bookings::reconfirm_asked_at.eq(db_time(now)))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Confirmed bookings of `service` asked to reconfirm and not reconfirmed, with a visit in
/// `(after, until]`, with their slots, at most `limit`.
pub fn unconfirmed(
    conn: &mut DbConnection,
    office_id: OfficeId,
    service: ServiceId,
    (after, until): (DateTime<Utc>, DateTime<Utc>),
    limit: i64,
) -> QueryResult<Vec<(Booking, Slot)>> {
    bookings::table
        .inner_join(slots::table)
        .filter(bookings::office_id.eq(office_id))
        .filter(bookings::office_service_id.eq(service))
        .filter(bookings::status.eq(Status::Confirmed.as_str()))
        .filter(bookings::reconfirm_asked_at.is_not_null())
        .filter(bookings::reconfirmed_at.is_null())
        .filter(slots::starts_at.gt(db_time(after)))
        .filter(slots::starts_at.le(db_time(until)))
        .order((slots::starts_at, bookings::id))
        .limit(limit)
        .select((BookingRow::as_select(), Slot::as_select()))
        .load::<(BookingRow, Slot)>(conn)?
        .into_iter()
        .map(|(row, slot)| Ok((row.into_booking()?, slot)))
        .collect()
}

/// The applicant reconfirms a confirmed visit (again is harmless); false when it is not
/// confirmed any more.
pub fn reconfirm(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: BookingId,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let updated = diesel::update(
        bookings::table
            .filter(bookings::office_id.eq(office_id))
            .filter(bookings::id.eq(id))
            .filter(bookings::status.eq(Status::Confirmed.as_str())),
    )
    .set(
        bookings::reconfirmed_at.eq(diesel::dsl::case_when(
            bookings::reconfirmed_at.is_null(),
            Some(db_time(now)),
        )
        .otherwise(bookings::reconfirmed_at)),
    )
    .execute(conn)?;
    Ok(updated == 1)
}

/// The reason recorded on a booking the office's reconfirmation rule released (cancelled by
/// the office), which the reconfirmation report counts.
pub const RELEASED_UNCONFIRMED: &str = "not reconfirmed in time";

/// Of the office's visits starting in `[from, to)`: how many applicants were asked to
/// reconfirm, how many did, and how many seats were released unconfirmed.
pub fn reconfirmation_counts(
    conn: &mut DbConnection,
    office_id: OfficeId,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> QueryResult<(i64, i64, i64)> {
    let visits = || {
        bookings::table
            .inner_join(slots::table)
            .filter(bookings::office_id.eq(office_id))
            .filter(slots::starts_at.ge(db_time(from)))
            .filter(slots::starts_at.lt(db_time(to)))
    };
    let asked = visits()
        .filter(bookings::reconfirm_asked_at.is_not_null())
        .count()
        .get_result(conn)?;
    let reconfirmed = visits()
        .filter(bookings::reconfirmed_at.is_not_null())
        .count()
        .get_result(conn)?;
    let released = visits()
        .filter(bookings::cancelled_by.eq("office"))
        .filter(bookings::cancel_reason.eq(RELEASED_UNCONFIRMED))
        .count()
        .get_result(conn)?;
    Ok((asked, reconfirmed, released))
}

/// When the case's no-shows for `service` since `since` were due: what the no-show rule counts.
pub fn no_shows_since(
    conn: &mut DbConnection,
    office_id: OfficeId,
    service: ServiceId,
    case_number: &str,
    since: DateTime<Utc>,
) -> QueryResult<Vec<DateTime<Utc>>> {
    let times: Vec<NaiveDateTime> = bookings::table
        .inner_join(slots::table)
        .filter(bookings::office_id.eq(office_id))
        .filter(bookings::office_service_id.eq(service))
        .filter(bookings::case_number.eq(case_number))
        .filter(bookings::status.eq(Status::NoShow.as_str()))
        .filter(slots::starts_at.ge(db_time(since)))
        .select(slots::starts_at)
        .load(conn)?;
    Ok(times.into_iter().map(|at| at.and_utc()).collect())
}
