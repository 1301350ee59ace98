//! Lottery draws and their entries. A draw is taken by one instance only: the conditional
//! update from `open` to `drawn` decides who, inside the transaction that books the winners.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::{dsl::count_star, prelude::*};

use super::{
    DbConnection, StoredOptionalTime, StoredTime, db_time,
    schema::{calendar_services, lottery_draws, lottery_entries, slots},
};
use crate::domain::{
    booking::CaseNumber,
    email::EmailAddress,
    ids::{BookingId, DrawId, EntryId, OfficeId, ServiceId, SlotId},
    language::Language,
};

pub const OPEN: &str = "open";
pub const DRAWN: &str = "drawn";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lottery_draws)]
pub struct Draw {
    pub id: DrawId,
    pub office_id: OfficeId,
    pub office_service_id: ServiceId,
    #[diesel(deserialize_as = StoredTime)]
    pub opens_at: DateTime<Utc>,
    #[diesel(deserialize_as = StoredTime)]
    pub closes_at: DateTime<Utc>,
    pub seed: String,
    pub seed_hash: String,
    pub status: String,
    /// JSON: `[[slot_id, free seats], …]` as the draw found them.
    pub seats: Option<String>,
    #[diesel(deserialize_as = StoredOptionalTime)]
    pub drawn_at: Option<DateTime<Utc>>,
}

impl Draw {
    pub fn is_drawn(&self) -> bool {
        self.status == DRAWN
    }
}

/// Opens the draw of `service`'s seats opening at `opens_at`, unless there is one. Returns
/// whether it was created.
pub fn ensure_draw(
    conn: &mut DbConnection,
    office_id: OfficeId,
    service: ServiceId,
    window: (DateTime<Utc>, DateTime<Utc>),
    seed: (&str, &str),
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let (opens_at, closes_at) = window;
    let exists: i64 = lottery_draws::table
        .filter(lottery_draws::office_id.eq(office_id))
        .filter(lottery_draws::office_service_id.eq(service))
        .filter(lottery_draws::opens_at.eq(db_time(opens_at)))
        .select(count_star())
        .first(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    diesel::insert_into(lottery_draws::table)
        .values((
            lottery_draws::office_id.eq(office_id),
            lottery_draws::office_service_id.eq(service),
            lottery_draws::opens_at.eq(db_time(opens_at)),
            lottery_draws::closes_at.eq(db_time(closes_at)),
            lottery_draws::seed.eq(seed.0),
            lottery_draws::seed_hash.eq(seed.1),
            lottery_draws::status.eq(OPEN),
            lottery_draws::created_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(true)
}

pub fn find_draw(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: DrawId,
) -> QueryResult<Option<Draw>> {
    lottery_draws::table
        .filter(lottery_draws::office_id.eq(office_id))
        .filter(lottery_draws::id.eq(id))
        .select(Draw::as_select())
        .first(conn)
        .optional()
}

/// The draw of `service`'s seats opening at `opens_at`, if the service had one.
pub fn draw_at(
    conn: &mut DbConnection,
    (office_id, service): (OfficeId, ServiceId),
    opens_at: DateTime<Utc>,
) -> QueryResult<Option<Draw>> {
    lottery_draws::table
        .filter(lottery_draws::office_id.eq(office_id))
        .filter(lottery_draws::office_service_id.eq(service))
        .filter(lottery_draws::opens_at.eq(db_time(opens_at)))
        .select(Draw::as_select())
        .first(conn)
        .optional()
}

/// The office's draws whose window closes after `since`, soonest first, at most `limit`.
pub fn draws_of_office(
    conn: &mut DbConnection,
    office_id: OfficeId,
    since: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Draw>> {
    lottery_draws::table
        .filter(lottery_draws::office_id.eq(office_id))
        .filter(lottery_draws::closes_at.gt(db_time(since)))
        .order((lottery_draws::opens_at, lottery_draws::id))
        .limit(limit)
        .select(Draw::as_select())
        .load(conn)
}

/// Draws whose window has closed and which are not drawn yet.
pub fn due(conn: &mut DbConnection, now: DateTime<Utc>, limit: i64) -> QueryResult<Vec<Draw>> {
    lottery_draws::table
        .filter(lottery_draws::status.eq(OPEN))
        .filter(lottery_draws::closes_at.le(db_time(now)))
        .order(lottery_draws::closes_at)
        .limit(limit)
        .select(Draw::as_select())
        .load(conn)
}

/// Marks the draw drawn, if it still is open: `false` when another instance drew it first.
pub fn mark_drawn(
    conn: &mut DbConnection,
    (office_id, id): (OfficeId, DrawId),
    seats: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let changed = diesel::update(
        lottery_draws::table
            .filter(lottery_draws::office_id.eq(office_id))
            .filter(lottery_draws::id.eq(id))
            .filter(lottery_draws::status.eq(OPEN)),
    )
    .set((
        lottery_draws::status.eq(DRAWN),
        lottery_draws::seats.eq(seats),
        lottery_draws::drawn_at.eq(db_time(now)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Which of a draw's slots to read.
#[derive(Clone, Copy)]
pub enum Among<'a> {
    All,
    /// Those of these ids that are the draw's.
    Slots(&'a [SlotId]),
    /// Those on these local days.
    Days(NaiveDate, NaiveDate),
}

/// The slots whose seats the draw shares out (`among` them): those of the service's calendars
/// opening at its instant, not blocked, in time order, with the seats the web may take now.
pub fn draw_slots(
    conn: &mut DbConnection,
    draw: &Draw,
    among: Among<'_>,
) -> QueryResult<Vec<(SlotId, NaiveDate, i32)>> {
    let calendars = calendar_services::table
        .filter(calendar_services::office_id.eq(draw.office_id))
        .filter(calendar_services::office_service_id.eq(draw.office_service_id))
        .select(calendar_services::calendar_id);
    let mut query = slots::table
        .filter(slots::calendar_id.eq_any(calendars))
        .filter(slots::office_id.eq(draw.office_id))
        .filter(slots::opens_at.eq(db_time(draw.opens_at)))
        .filter(slots::blocked.eq(false))
        .into_boxed();
    match among {
        Among::All => {}
        Among::Slots(ids) => query = query.filter(slots::id.eq_any(ids)),
        Among::Days(from, to) => query = query.filter(slots::local_date.between(from, to)),
    }
    let rows: Vec<(SlotId, NaiveDate, i32, i32, i32, i32)> = query
        .order((slots::starts_at, slots::id))
        .select((
            slots::id,
            slots::local_date,
            slots::capacity,
            slots::held_for_desk,
            slots::booked_web,
            slots::cooling,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, day, capacity, held, booked_web, cooling)| {
            (id, day, (capacity - held - booked_web - cooling).max(0))
        })
        .collect())
}

/// The local days of these slots, in time order.
pub fn days_of(
    conn: &mut DbConnection,
    office_id: OfficeId,
    ids: &[SlotId],
) -> QueryResult<Vec<(SlotId, NaiveDate)>> {
    slots::table
        .filter(slots::office_id.eq(office_id))
        .filter(slots::id.eq_any(ids))
        .order((slots::starts_at, slots::id))
        .select((slots::id, slots::local_date))
        .load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lottery_entries)]
pub struct Entry {
    pub id: EntryId,
    pub office_id: OfficeId,
    pub draw_id: DrawId,
    pub reference: String,
    pub case_number: String,
    pub full_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub language: String,
    /// JSON array of slot ids.
    pub preferences: String,
    pub any_from: Option<NaiveDate>,
    pub any_to: Option<NaiveDate>,
    pub status: String,
    pub won_slot_id: Option<SlotId>,
    pub booking_id: Option<BookingId>,
    pub sequence: i32,
    #[diesel(deserialize_as = StoredTime)]
    pub created_at: DateTime<Utc>,
    /// Should it win no seat, it waits for one freed later on its days.
    pub join_waitlist: bool,
}

pub struct NewEntry<'a> {
    pub office_id: OfficeId,
    pub draw_id: DrawId,
    pub reference: &'a str,
    pub case_number: &'a CaseNumber,
    pub full_name: &'a str,
    pub email: &'a EmailAddress,
    pub phone: Option<&'a str>,
    pub language: &'a Language,
    pub preferences: &'a str,
    pub any_days: Option<(NaiveDate, NaiveDate)>,
    pub join_waitlist: bool,
}

/// Records an entry; a second entry of the same case in the same draw is a unique violation.
pub fn insert_entry(
    conn: &mut DbConnection,
    new: NewEntry<'_>,
    now: DateTime<Utc>,
) -> QueryResult<Entry> {
    let at = db_time(now);
    diesel::insert_into(lottery_entries::table)
        .values((
            lottery_entries::office_id.eq(new.office_id),
            lottery_entries::draw_id.eq(new.draw_id),
            lottery_entries::reference.eq(new.reference),
            lottery_entries::case_number.eq(new.case_number.as_str()),
            lottery_entries::full_name.eq(new.full_name),
            lottery_entries::email.eq(new.email.as_str()),
            lottery_entries::mailbox.eq(new.email.mailbox()),
            lottery_entries::phone.eq(new.phone),
            lottery_entries::language.eq(new.language.as_str()),
            lottery_entries::preferences.eq(new.preferences),
            lottery_entries::any_from.eq(new.any_days.map(|days| days.0)),
            lottery_entries::any_to.eq(new.any_days.map(|days| days.1)),
            lottery_entries::status.eq("entered"),
            lottery_entries::join_waitlist.eq(new.join_waitlist),
            lottery_entries::created_at.eq(at),
            lottery_entries::updated_at.eq(at),
        ))
        .execute(conn)?;
    lottery_entries::table
        .filter(lottery_entries::office_id.eq(new.office_id))
        .filter(lottery_entries::reference.eq(new.reference))
        .select(Entry::as_select())
        .first(conn)
}

/// Entries still waiting for a draw made with this email's mailbox at the office: they count
/// against its limit of bookings, as the bookings they may become.
pub fn waiting_for_email(
    conn: &mut DbConnection,
    office_id: OfficeId,
    email: &EmailAddress,
) -> QueryResult<i64> {
    lottery_entries::table
        .filter(lottery_entries::office_id.eq(office_id))
        .filter(lottery_entries::mailbox.eq(email.mailbox()))
        .filter(lottery_entries::status.eq("entered"))
        .select(count_star())
        .first(conn)
}

pub fn entries_of(
    conn: &mut DbConnection,
    (office_id, draw): (OfficeId, DrawId),
) -> QueryResult<Vec<Entry>> {
    lottery_entries::table
        .filter(lottery_entries::office_id.eq(office_id))
        .filter(lottery_entries::draw_id.eq(draw))
        .order(lottery_entries::id)
        .select(Entry::as_select())
        .load(conn)
}

pub fn find_entry(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: EntryId,
) -> QueryResult<Option<Entry>> {
    lottery_entries::table
        .filter(lottery_entries::office_id.eq(office_id))
        .filter(lottery_entries::id.eq(id))
        .select(Entry::as_select())
        .first(conn)
        .optional()
}

pub fn count_entries(
    conn: &mut DbConnection,
    (office_id, draw): (OfficeId, DrawId),
) -> QueryResult<(i64, i64)> {
    let of_draw = || {
        lottery_entries::table
            .filter(lottery_entries::office_id.eq(office_id))
            .filter(lottery_entries::draw_id.eq(draw))
    };
    let all = of_draw().select(count_star()).first(conn)?;
    let won = of_draw()
        .filter(lottery_entries::status.eq("won"))
        .select(count_star())
        .first(conn)?;
    Ok((all, won))
}

/// Records what the draw gave an entry: `won` with its slot and booking, `lost`, or `void`
/// (won a seat a booking rule then refused), bumping its sequence for the mail it gets.
pub fn settle_entry(
    conn: &mut DbConnection,
    (office_id, id): (OfficeId, EntryId),
    status: &str,
    won: Option<(SlotId, Option<BookingId>)>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let entry = lottery_entries::table
        .filter(lottery_entries::office_id.eq(office_id))
        .filter(lottery_entries::id.eq(id));
    diesel::update(entry)
        .set((
            lottery_entries::status.eq(status),
            lottery_entries::won_slot_id.eq(won.map(|w| w.0)),
            lottery_entries::booking_id.eq(won.and_then(|w| w.1)),
            lottery_entries::sequence.eq(lottery_entries::sequence + 1),
            lottery_entries::updated_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks every entry of the draw still waiting as lost; returns them.
pub fn lose_the_rest(
    conn: &mut DbConnection,
    (office_id, draw): (OfficeId, DrawId),
    now: DateTime<Utc>,
) -> QueryResult<Vec<(EntryId, String, String, i32)>> {
    let waiting = || {
        lottery_entries::table
            .filter(lottery_entries::office_id.eq(office_id))
            .filter(lottery_entries::draw_id.eq(draw))
            .filter(lottery_entries::status.eq("entered"))
    };
    let lost: Vec<(EntryId, String, String, i32)> = waiting()
        .select((
            lottery_entries::id,
            lottery_entries::reference,
            lottery_entries::email,
            lottery_entries::sequence,
        ))
        .load(conn)?;
    diesel::update(waiting())
        .set((
            lottery_entries::status.eq("lost"),
            lottery_entries::sequence.eq(lottery_entries::sequence + 1),
            lottery_entries::updated_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(lost
        .into_iter()
        .map(|(id, reference, email, sequence)| (id, reference, email, sequence + 1))
        .collect())
}
