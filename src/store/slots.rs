//! Published slots and their seat counters.
//!
//! Reads are indexed range reads (`slots (calendar_id, starts_at)`, `slots (office_id,
//! starts_at)`), one query per request whatever the number of slots.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::{
    backend::Backend,
    deserialize::FromStaticSqlRow,
    dsl::{AsSelect, SqlTypeOf, case_when, exists, not},
    prelude::*,
    sql_types::Integer,
};

use super::{
    DbConnection, StoredOptionalTime, StoredTime,
    connection::MultiBackend,
    db_time, on_backend,
    schema::{
        bookings, calendar_services, invitations, lottery_entries, seat_releases, slots,
        waitlist_offers,
    },
};
use crate::domain::{
    ids::{CalendarId, OfficeId, ServiceId, SlotId},
    seats::Seats,
    slots::{Conflict, ConflictReason, ExistingSlot, Reconciliation},
};

/// A slot's seat counters are read straight into the domain's `Seats`, wherever a query
/// embeds them.
impl<DB: Backend> Selectable<DB> for Seats {
    type SelectExpression = (
        slots::capacity,
        slots::held_for_desk,
        slots::booked_web,
        slots::booked_desk,
        slots::cooling,
    );

    fn construct_selection() -> Self::SelectExpression {
        (
            slots::capacity,
            slots::held_for_desk,
            slots::booked_web,
            slots::booked_desk,
            slots::cooling,
        )
    }
}

type SeatColumns = (Integer, Integer, Integer, Integer, Integer);

impl<DB: Backend> Queryable<SeatColumns, DB> for Seats
where
    (i32, i32, i32, i32, i32): FromStaticSqlRow<SeatColumns, DB>,
{
    type Row = (i32, i32, i32, i32, i32);

    fn build(row: Self::Row) -> diesel::deserialize::Result<Seats> {
        let (capacity, held_for_desk, booked_web, booked_desk, cooling) = row;
        Ok(Seats {
            capacity,
            held_for_desk,
            booked_web,
            booked_desk,
            cooling,
        })
    }
}

/// When a slot is: its local day, and its start and end in UTC.
#[derive(Debug, Clone, Copy, Queryable, Selectable)]
#[diesel(table_name = slots)]
pub struct SlotTime {
    pub local_date: NaiveDate,
    #[diesel(deserialize_as = StoredTime)]
    pub starts_at: DateTime<Utc>,
    #[diesel(deserialize_as = StoredTime)]
    pub ends_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = slots)]
pub struct Slot {
    pub id: SlotId,
    pub calendar_id: CalendarId,
    #[diesel(embed)]
    pub time: SlotTime,
    #[diesel(embed)]
    pub seats: Seats,
    pub blocked: bool,
    pub block_reason: Option<String>,
    /// When its seats go on public sale (`None`: on sale).
    #[diesel(deserialize_as = StoredOptionalTime)]
    pub opens_at: Option<DateTime<Utc>>,
}

impl Slot {
    /// Seats an applicant can still book online.
    pub fn web_available(&self) -> i32 {
        if self.blocked {
            0
        } else {
            self.seats.web_available()
        }
    }
}

/// A slot the web can book, read with no more than an applicant is shown: availability is the
/// busiest read of all.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = slots)]
pub struct Bookable {
    pub id: SlotId,
    #[diesel(embed)]
    pub time: SlotTime,
    #[diesel(embed)]
    pub seats: Seats,
    #[diesel(deserialize_as = StoredOptionalTime)]
    pub opens_at: Option<DateTime<Utc>>,
}

/// The stored slots of these calendars of the office on the local days `from..=to`, for
/// publishing.
pub fn stored(
    conn: &mut DbConnection,
    office_id: OfficeId,
    calendar_ids: &[CalendarId],
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<ExistingSlot>> {
    Ok(slots::table
        .filter(slots::office_id.eq(office_id))
        .filter(slots::calendar_id.eq_any(calendar_ids))
        .filter(slots::local_date.between(from, to))
        .select(Slot::as_select())
        .load(conn)?
        .into_iter()
        .map(|row| ExistingSlot {
            id: row.id,
            calendar_id: row.calendar_id,
            starts_at: row.time.starts_at,
            ends_at: row.time.ends_at,
            capacity: row.seats.capacity,
            held_for_desk: row.seats.held_for_desk,
            booked: row.seats.booked_web + row.seats.booked_desk,
        })
        .collect())
}

#[derive(Insertable)]
#[diesel(table_name = slots)]
struct NewSlot {
    office_id: OfficeId,
    calendar_id: CalendarId,
    local_date: NaiveDate,
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
    capacity: i32,
    held_for_desk: i32,
    booked_web: i32,
    booked_desk: i32,
    blocked: bool,
    opens_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Rows per multi-row INSERT: well inside both backends' limits on bound parameters.
const INSERT_CHUNK: usize = 1000;

/// Writes a reconciliation. Removals skip any slot booked since it was read (and report it as
/// a conflict), capacities never drop below the seats booked at the moment of writing, so a
/// booking racing with publication is never lost, and booked slots outside the new hours are
/// blocked.
pub fn apply(
    conn: &mut DbConnection,
    office_id: OfficeId,
    plan: &mut Reconciliation,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let now = db_time(now);
    // Existing rows are changed in ascending id order, the order every other writer locks
    // slots in, so publication cannot deadlock with bookings.
    plan.update.sort_by_key(|update| update.id);
    plan.remove.sort_unstable();
    for chunk in plan.create.chunks(INSERT_CHUNK) {
        let rows: Vec<NewSlot> = chunk
            .iter()
            .map(|slot| NewSlot {
                office_id,
                calendar_id: slot.calendar_id,
                local_date: slot.local_date,
                starts_at: db_time(slot.starts_at),
                ends_at: db_time(slot.ends_at),
                capacity: slot.capacity,
                held_for_desk: slot.held_for_desk,
                booked_web: 0,
                booked_desk: 0,
                blocked: false,
                opens_at: slot.opens_at.map(db_time),
                created_at: now,
                updated_at: now,
            })
            .collect();
        on_backend!(conn, |c| diesel::insert_into(slots::table)
            .values(&rows)
            .execute(c))?;
    }

    for update in &plan.update {
        let booked = slots::booked_web + slots::booked_desk;
        let slot = slots::table
            .filter(slots::office_id.eq(office_id))
            .filter(slots::id.eq(update.id));
        diesel::update(slot)
            .set((
                slots::ends_at.eq(db_time(update.ends_at)),
                slots::capacity
                    .eq(case_when(booked.gt(update.capacity), booked).otherwise(update.capacity)),
                slots::held_for_desk.eq(update.held_for_desk),
                slots::updated_at.eq(now),
            ))
            .execute(conn)?;
    }

    // An unbooked slot goes, unless a booking (cancelled, or moved away), an invitation's
    // proposal, a waitlist offer or a lottery win still points at it: that one stays, for their
    // history, with no seats (and no cooling seat) left to sell.
    for chunk in plan.remove.chunks(INSERT_CHUNK) {
        let unbooked = || {
            slots::table
                .filter(slots::office_id.eq(office_id))
                .filter(slots::id.eq_any(chunk))
                .filter(slots::booked_web.eq(0))
                .filter(slots::booked_desk.eq(0))
        };
        diesel::delete(
            seat_releases::table
                .filter(seat_releases::office_id.eq(office_id))
                .filter(seat_releases::slot_id.eq_any(unbooked().select(slots::id))),
        )
        .execute(conn)?;
        let referenced_by_booking = exists(
            bookings::table
                .filter(bookings::office_id.eq(office_id))
                .filter(bookings::slot_id.eq(slots::id)),
        );
        let proposed = exists(
            invitations::table
                .filter(invitations::office_id.eq(office_id))
                .filter(invitations::proposed_slot_id.eq(slots::id.nullable())),
        );
        let offered = exists(
            waitlist_offers::table
                .filter(waitlist_offers::office_id.eq(office_id))
                .filter(waitlist_offers::slot_id.eq(slots::id)),
        );
        let won = exists(
            lottery_entries::table
                .filter(lottery_entries::office_id.eq(office_id))
                .filter(lottery_entries::won_slot_id.eq(slots::id.nullable())),
        );
        diesel::delete(
            unbooked()
                .filter(not(referenced_by_booking))
                .filter(not(proposed))
                .filter(not(offered))
                .filter(not(won)),
        )
        .execute(conn)?;
        diesel::update(unbooked())
            .set((
                slots::capacity.eq(0),
                slots::held_for_desk.eq(0),
                slots::cooling.eq(0),
                slots::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    // Slots that were booked between reading and removing them stay, as conflicts.
    let remaining: Vec<Slot> = slots::table
        .filter(slots::office_id.eq(office_id))
        .filter(slots::id.eq_any(&plan.remove))
        .filter(slots::capacity.gt(0))
        .select(Slot::as_select())
        .load(conn)?;
    if !remaining.is_empty() {
        plan.remove
            .retain(|id| !remaining.iter().any(|row| row.id == *id));
        plan.conflicts
            .extend(remaining.into_iter().map(|row| Conflict {
                slot_id: row.id,
                starts_at: row.time.starts_at,
                ends_at: row.time.ends_at,
                booked: row.seats.booked_web + row.seats.booked_desk,
                reason: ConflictReason::NoLongerOpen,
            }));
    }

    // A booked slot the office no longer holds keeps its bookings but sells nothing more, not
    // even a seat freed by a cancellation.
    let mut to_block: Vec<(SlotId, &str)> = plan
        .conflicts
        .iter()
        .filter_map(|conflict| match conflict.reason {
            ConflictReason::NoLongerOpen => {
                Some((conflict.slot_id, "No longer within the opening hours"))
            }
            ConflictReason::DurationChanged => {
                Some((conflict.slot_id, "The service's duration has changed"))
            }
            ConflictReason::FewerDesksThanBookings => None,
        })
        .collect();
    to_block.sort_unstable();
    for (slot_id, reason) in to_block {
        let slot = slots::table
            .filter(slots::office_id.eq(office_id))
            .filter(slots::id.eq(slot_id));
        diesel::update(slot)
            .set((
                slots::blocked.eq(true),
                slots::block_reason.eq(reason),
                slots::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// All of an office's slots starting in `[from, to)`, optionally only those serving one
/// office service, for the staff view.
pub fn for_staff(
    conn: &mut DbConnection,
    office_id: OfficeId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    office_service_id: Option<ServiceId>,
) -> QueryResult<Vec<Slot>> {
    let mut query = slots::table
        .filter(slots::office_id.eq(office_id))
        .filter(slots::starts_at.ge(db_time(from)))
        .filter(slots::starts_at.lt(db_time(to)))
        .select(Slot::as_select())
        .order((slots::starts_at, slots::calendar_id))
        .into_boxed();
    if let Some(service_id) = office_service_id {
        query = query.filter(
            slots::calendar_id.eq_any(
                calendar_services::table
                    .filter(calendar_services::office_id.eq(office_id))
                    .filter(calendar_services::office_service_id.eq(service_id))
                    .select(calendar_services::calendar_id),
            ),
        );
    }
    query.load(conn)
}

/// Slots of the office's calendars serving `office_service_id`, starting in `[from, to)`, with
/// at least one seat the web may book, in time order.
pub fn web_bookable(
    conn: &mut DbConnection,
    office_id: OfficeId,
    office_service_id: ServiceId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<Bookable>> {
    web_bookable_from(office_id, office_service_id, from, to).load(conn)
}

/// The first of [`web_bookable`]'s slots already on sale at `now`.
pub fn first_web_bookable(
    conn: &mut DbConnection,
    office_id: OfficeId,
    office_service_id: ServiceId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<Option<Bookable>> {
    web_bookable_from(office_id, office_service_id, from, to)
        .filter(
            slots::opens_at
                .is_null()
                .or(slots::opens_at.le(db_time(now)).assume_not_null()),
        )
        .first(conn)
        .optional()
}

/// The query of [`web_bookable`], to load or to take the first of.
fn web_bookable_from<'a>(
    office_id: OfficeId,
    office_service_id: ServiceId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> slots::BoxedQuery<'a, MultiBackend, SqlTypeOf<AsSelect<Bookable, MultiBackend>>> {
    let calendars = calendar_services::table
        .filter(calendar_services::office_id.eq(office_id))
        .filter(calendar_services::office_service_id.eq(office_service_id))
        .select(calendar_services::calendar_id);
    slots::table
        .filter(slots::office_id.eq(office_id))
        .filter(slots::calendar_id.eq_any(calendars))
        .filter(slots::starts_at.ge(db_time(from)))
        .filter(slots::starts_at.lt(db_time(to)))
        .filter(slots::blocked.eq(false))
        .filter((slots::booked_web + slots::booked_desk + slots::cooling).lt(slots::capacity))
        .filter((slots::booked_web + slots::cooling).lt(slots::capacity - slots::held_for_desk))
        .select(Bookable::as_select())
        .order((slots::starts_at, slots::id))
        .into_boxed()
}

/// The office's slots starting from `from` that have a seat nobody booked, on sale by `now`
/// (opened, not blocked), in time order: where the office can move bookings to.
pub fn with_free_seats(
    conn: &mut DbConnection,
    office_id: OfficeId,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<Vec<Slot>> {
    slots::table
        .filter(slots::office_id.eq(office_id))
        .filter(slots::starts_at.ge(db_time(from)))
        .filter(slots::blocked.eq(false))
        .filter((slots::booked_web + slots::booked_desk).lt(slots::capacity))
        .filter(
            slots::opens_at
                .is_null()
                .or(slots::opens_at.le(db_time(now)).assume_not_null()),
        )
        .select(Slot::as_select())
        .order((slots::starts_at, slots::id))
        .load(conn)
}

/// Locks every slot of the office starting from `from` until the transaction ends, in
/// ascending id order as every writer locks slots (PostgreSQL only, as
/// [`super::seats::lock_slots`]): a change to many bookings at once then sees seats nobody else
/// can take before it is done.
pub fn lock_from(
    conn: &mut DbConnection,
    office_id: OfficeId,
    from: DateTime<Utc>,
) -> QueryResult<()> {
    if let DbConnection::Postgres(pg) = conn {
        slots::table
            .filter(slots::office_id.eq(office_id))
            .filter(slots::starts_at.ge(db_time(from)))
            .order(slots::id)
            .select(slots::id)
            .for_update()
            .load::<SlotId>(pg)?;
    }
    Ok(())
}

pub fn find(conn: &mut DbConnection, office_id: OfficeId, id: SlotId) -> QueryResult<Option<Slot>> {
    slots::table
        .filter(slots::office_id.eq(office_id))
        .filter(slots::id.eq(id))
        .select(Slot::as_select())
        .first(conn)
        .optional()
}

pub fn set_blocked(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: SlotId,
    blocked: bool,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let slot = slots::table
        .filter(slots::office_id.eq(office_id))
        .filter(slots::id.eq(id));
    diesel::update(slot)
        .set((
            slots::blocked.eq(blocked),
            slots::block_reason.eq(reason),
            slots::updated_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Every instant after `after` at which seats of the service open, earliest first.
pub fn openings(
    conn: &mut DbConnection,
    office_id: OfficeId,
    service: ServiceId,
    after: DateTime<Utc>,
) -> QueryResult<Vec<DateTime<Utc>>> {
    let found: Vec<Option<NaiveDateTime>> = slots::table
        .filter(slots::office_id.eq(office_id))
        .filter(slots::opens_at.gt(db_time(after)))
        .filter(
            slots::calendar_id.eq_any(
                calendar_services::table
                    .filter(calendar_services::office_id.eq(office_id))
                    .filter(calendar_services::office_service_id.eq(service))
                    .select(calendar_services::calendar_id),
            ),
        )
        .select(slots::opens_at)
        .distinct()
        .order(slots::opens_at)
        .load(conn)?;
    Ok(found.into_iter().flatten().map(|at| at.and_utc()).collect())
}

/// The earliest instant after `now` at which some of the office's seats open (of one service
/// when given).
pub fn next_opening(
    conn: &mut DbConnection,
    office_id: OfficeId,
    service: Option<ServiceId>,
    now: DateTime<Utc>,
) -> QueryResult<Option<DateTime<Utc>>> {
    let mut query = slots::table
        .filter(slots::office_id.eq(office_id))
        .filter(slots::opens_at.gt(db_time(now)))
        .select(diesel::dsl::min(slots::opens_at))
        .into_boxed();
    if let Some(service) = service {
        query = query.filter(
            slots::calendar_id.eq_any(
                calendar_services::table
                    .filter(calendar_services::office_id.eq(office_id))
                    .filter(calendar_services::office_service_id.eq(service))
                    .select(calendar_services::calendar_id),
            ),
        );
    }
    let first: Option<NaiveDateTime> = query.first(conn)?;
    Ok(first.map(|at| at.and_utc()))
}
