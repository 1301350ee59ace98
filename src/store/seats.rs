//! The seats of a slot: claimed (by a booking, or held for an invitation's proposal), given
//! back, cooling down after a cancellation.
//!
//! A seat is claimed by one conditional UPDATE of the slot's counters: it succeeds only while a
//! seat is free, so however many requests race for a slot, no more succeed than there are
//! seats (and the table's CHECK would refuse an oversale anyway).

use chrono::{DateTime, Duration, Utc};
use diesel::{
    dsl::{case_when, count_star, sql},
    prelude::*,
    sql_types::Bool,
};

use super::{
    DbConnection, db_time,
    schema::{seat_releases, slots},
};
use crate::domain::{
    booking::Channel,
    ids::{BookingId, OfficeId, SlotId},
};

/// Locks the slots' rows until the transaction ends, in ascending id order. Every change that
/// touches a booking locks its slots first, and several slots always in this order, so two
/// transactions never wait for each other in a circle. (PostgreSQL only: SQLite's write
/// transactions already run one at a time.)
pub fn lock_slots(conn: &mut DbConnection, office_id: OfficeId, ids: &[SlotId]) -> QueryResult<()> {
    if let DbConnection::Postgres(pg) = conn {
        slots::table
            .filter(slots::office_id.eq(office_id))
            .filter(slots::id.eq_any(ids))
            .order(slots::id)
            .select(slots::id)
            .for_update()
            .load::<SlotId>(pg)?;
    }
    Ok(())
}

/// Where a slot has a seat `channel` may take, as SQL over the slot's columns: the web takes
/// neither the seats held for the desk nor those cooling down after a cancellation; the desk
/// takes any seat not booked. Stated once, for [`claim_seat`] and for the statement that
/// records a new booking (`new_bookings`).
pub(super) fn free_for(channel: Channel) -> &'static str {
    match channel {
        Channel::Web => {
            "booked_web + booked_desk + cooling < capacity \
             AND booked_web + cooling < capacity - held_for_desk"
        }
        Channel::Desk => "booked_web + booked_desk < capacity",
    }
}

/// The column counting the seats `channel` has booked.
pub(super) fn counter(channel: Channel) -> &'static str {
    match channel {
        Channel::Web => "booked_web",
        Channel::Desk => "booked_desk",
    }
}

/// Takes one seat of `channel` in the slot, if the office still sells one there (see
/// [`free_for`]).
pub fn claim_seat(
    conn: &mut DbConnection,
    office_id: OfficeId,
    slot_id: SlotId,
    channel: Channel,
) -> QueryResult<bool> {
    let slot = slots::table
        .filter(slots::id.eq(slot_id))
        .filter(slots::office_id.eq(office_id))
        .filter(slots::blocked.eq(false))
        .filter(sql::<Bool>(free_for(channel)));
    let claimed = match channel {
        Channel::Web => diesel::update(slot)
            .set(slots::booked_web.eq(slots::booked_web + 1))
            .execute(conn)?,
        Channel::Desk => diesel::update(slot)
            .set(slots::booked_desk.eq(slots::booked_desk + 1))
            .execute(conn)?,
    };
    Ok(claimed == 1)
}

/// Takes one seat for a booking of `channel` that the office moves into the slot: any seat
/// not booked, as the desk may give (its held share, and seats cooling down, included); it
/// counts under the booking's own channel, which the move keeps.
pub fn claim_seat_for_office(
    conn: &mut DbConnection,
    office_id: OfficeId,
    slot_id: SlotId,
    channel: Channel,
) -> QueryResult<bool> {
    let slot = slots::table
        .filter(slots::id.eq(slot_id))
        .filter(slots::office_id.eq(office_id))
        .filter(slots::blocked.eq(false))
        .filter((slots::booked_web + slots::booked_desk).lt(slots::capacity));
    let claimed = match channel {
        Channel::Web => diesel::update(slot)
            .set(slots::booked_web.eq(slots::booked_web + 1))
            .execute(conn)?,
        Channel::Desk => diesel::update(slot)
            .set(slots::booked_desk.eq(slots::booked_desk + 1))
            .execute(conn)?,
    };
    Ok(claimed == 1)
}

/// Gives back a seat of `channel` that booking `held_by` had (`None`: an invitation's proposal
/// held it). It cools down for `cooldown` before the web can book it again, so a freed seat
/// cannot be handed straight to someone waiting for it.
pub fn release_seat(
    conn: &mut DbConnection,
    office_id: OfficeId,
    slot_id: SlotId,
    channel: Channel,
    held_by: Option<BookingId>,
    cooldown: Duration,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let cooling = if cooldown > Duration::zero() { 1 } else { 0 };
    let target = slots::table
        .filter(slots::office_id.eq(office_id))
        .filter(slots::id.eq(slot_id));
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
                seat_releases::office_id.eq(office_id),
                seat_releases::slot_id.eq(slot_id),
                seat_releases::available_at.eq(db_time(now + cooldown)),
                seat_releases::booking_id.eq(held_by),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The slots where seats that `booking` gave back are still cooling down.
pub fn cooling_after(
    conn: &mut DbConnection,
    office_id: OfficeId,
    booking: BookingId,
) -> QueryResult<Vec<SlotId>> {
    seat_releases::table
        .filter(seat_releases::office_id.eq(office_id))
        .filter(seat_releases::booking_id.eq(booking))
        .select(seat_releases::slot_id)
        .load(conn)
}

/// Puts the seats that `booking` gave back straight on sale, cooled down or not.
pub fn end_cooling_after(
    conn: &mut DbConnection,
    office_id: OfficeId,
    booking: BookingId,
) -> QueryResult<()> {
    let slot_ids: Vec<SlotId> = diesel::delete(
        seat_releases::table
            .filter(seat_releases::office_id.eq(office_id))
            .filter(seat_releases::booking_id.eq(booking)),
    )
    .returning(seat_releases::slot_id)
    .get_results(conn)?;
    for slot_id in slot_ids {
        less_cooling(conn, office_id, slot_id, 1)?;
    }
    Ok(())
}

/// Takes `seats` off the slot's cooling count (never below zero).
fn less_cooling(
    conn: &mut DbConnection,
    office_id: OfficeId,
    slot_id: SlotId,
    seats: i32,
) -> QueryResult<()> {
    let slot = slots::table
        .filter(slots::office_id.eq(office_id))
        .filter(slots::id.eq(slot_id));
    diesel::update(slot)
        .set(
            slots::cooling
                .eq(case_when(slots::cooling.gt(seats), slots::cooling - seats).otherwise(0)),
        )
        .execute(conn)?;
    Ok(())
}

/// Puts the slot's seats whose cool-down has passed back on sale; returns how many.
pub fn release_cooled(
    conn: &mut DbConnection,
    office_id: OfficeId,
    slot_id: SlotId,
    now: DateTime<Utc>,
) -> QueryResult<i32> {
    let released = diesel::delete(
        seat_releases::table
            .filter(seat_releases::office_id.eq(office_id))
            .filter(seat_releases::slot_id.eq(slot_id))
            .filter(seat_releases::available_at.le(db_time(now))),
    )
    .execute(conn)?;
    let released = i32::try_from(released).unwrap_or(i32::MAX);
    if released > 0 {
        less_cooling(conn, office_id, slot_id, released)?;
    }
    Ok(released)
}

/// Whether a seat of the slot has finished cooling down (and can go back on sale).
pub fn has_cooled_seat(
    conn: &mut DbConnection,
    office_id: OfficeId,
    slot_id: SlotId,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let due: i64 = seat_releases::table
        .filter(seat_releases::office_id.eq(office_id))
        .filter(seat_releases::slot_id.eq(slot_id))
        .filter(seat_releases::available_at.le(db_time(now)))
        .select(count_star())
        .first(conn)?;
    Ok(due > 0)
}

/// The slots (with their offices) with seats whose cool-down has passed, for the periodic
/// sweep.
pub fn slots_with_cooled_seats(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<(OfficeId, SlotId)>> {
    seat_releases::table
        .filter(seat_releases::available_at.le(db_time(now)))
        .select((seat_releases::office_id, seat_releases::slot_id))
        .distinct()
        .limit(limit)
        .load(conn)
}
