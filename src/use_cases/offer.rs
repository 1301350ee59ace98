//! What applicants can book, kept in memory: availability is most of a release day's traffic,
//! and reading it from the database for every refresh caps an instance at a few thousand
//! answers a second.
//!
//! For each public office and service asked about, an instance keeps every slot with seats
//! the web can book, from when it read them to the end of the booking horizon, and the instants
//! at which seats will open. Each answer is computed from those with the request's own `now`, so
//! the minimum notice, the horizon and the opening times stay exact. Only the seats can be old,
//! and only this old:
//! - kept seats are served while the office's [`Generation`] is still the one they were read
//!   at. The instance that changed an office knows before it answers; the others within
//!   milliseconds ([`crate::store::changes`]);
//! - once the office changed, the first request reads it again. Requests meanwhile get the
//!   seats being replaced only while those are younger than [`YOUNG`]: on a release morning
//!   seats change every millisecond, and one read at a time per office keeps the database free
//!   for bookings;
//! - nothing is served from memory while another instance's change could go unheard.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration as StdDuration, Instant},
};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::slots::{
    Availability, AvailabilityQuery, OfferedSlot, SlotError, availability_of, bookable_window,
    day_range,
};
use crate::{
    domain::{FieldErrors, days::today, ids::SlotId, office::OfficeCode},
    store::{
        DbConnection,
        changes::{Generation, OfficeChanges},
        offices::Office,
        services::Rules,
        slots,
    },
};

/// How old the seats of an office that changed may be while they are read again.
pub const YOUNG: StdDuration = StdDuration::from_millis(500);
/// How many offices' services an instance keeps at most; past that it starts again.
const MOST_KEPT: usize = 4_096;
/// Slots are read this far beyond the horizon, so that what was read stays complete for a day.
const READ_AHEAD: Duration = Duration::days(1);
/// And from this long before `now`, for requests that began a moment before the read.
const READ_BEHIND: Duration = Duration::minutes(5);

/// What an instance keeps of one office: its services by code.
type KeptServices = HashMap<String, Arc<Kept>>;

/// This instance's kept offer, by office code and service code. Cloning it is cheap.
#[derive(Clone, Default)]
pub struct Offer(Arc<RwLock<HashMap<String, KeptServices>>>);

impl Offer {
    /// The office's service as kept, if it may be served now; `None`: read it.
    pub fn kept(
        &self,
        changes: &OfficeChanges,
        office: &OfficeCode,
        service: &str,
    ) -> Option<Arc<Kept>> {
        let kept = {
            let offices = self.0.read().unwrap_or_else(|e| e.into_inner());
            offices.get(office.as_str())?.get(service.trim())?.clone()
        };
        let now = Instant::now();
        let current = changes.generation(kept.office.id)?;
        if Some(current) == kept.generation && now < kept.complete_until {
            return Some(kept);
        }
        // Out of date: one request reads again; the others may have the old seats while young.
        let reading = kept.being_replaced.swap(true, Ordering::AcqRel);
        (reading && now.duration_since(kept.read) < YOUNG).then_some(kept)
    }

    /// Keeps what was read, unless changes may have gone unheard while it was read.
    pub fn keep(&self, office: OfficeCode, service: &str, kept: Kept) {
        if kept.generation.is_none() {
            return;
        }
        let mut offices = self.0.write().unwrap_or_else(|e| e.into_inner());
        if offices.values().map(HashMap::len).sum::<usize>() >= MOST_KEPT {
            offices.clear();
        }
        offices
            .entry(office.as_str().to_owned())
            .or_default()
            .insert(service.trim().to_owned(), Arc::new(kept));
    }
}

/// One public office's service as read at one moment.
pub struct Kept {
    office: Office,
    service: Rules,
    /// `None`: read while changes could go unheard, not to be kept.
    generation: Option<Generation>,
    read: Instant,
    /// Past this, slots inside the horizon may not have been read.
    complete_until: Instant,
    /// In time order.
    slots: Vec<KeptSlot>,
    /// The few slots published to go on sale later: their index in `slots`, and when (in
    /// microseconds), by index.
    on_sale_later: Vec<(usize, i64)>,
    /// Instants at which seats open, earliest first.
    openings: Vec<DateTime<Utc>>,
    being_replaced: AtomicBool,
}

/// A slot with seats the web can book, in 32 bytes (instants in microseconds since 1970).
#[derive(Clone, Copy)]
struct KeptSlot {
    id: SlotId,
    starts_at: i64,
    ends_at: i64,
    local_date: NaiveDate,
    available: i32,
}

fn instant(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

impl Kept {
    /// Reads the office's service: its bookable slots from `now` to beyond the horizon, and its
    /// openings. The office's generation is taken first, so a change while reading is not
    /// mistaken for one already in.
    pub fn read(
        conn: &mut DbConnection,
        changes: &OfficeChanges,
        office: Office,
        service: Rules,
        now: DateTime<Utc>,
    ) -> diesel::QueryResult<Kept> {
        let generation = changes.generation(office.id);
        let read = Instant::now();
        let horizon = Duration::days(i64::from(service.settings.horizon_days));
        let found = slots::web_bookable(
            conn,
            service.id,
            now - READ_BEHIND,
            now + horizon + READ_AHEAD,
        )?;
        let slots = found
            .iter()
            .map(|slot| KeptSlot {
                id: slot.id,
                starts_at: slot.time.starts_at.timestamp_micros(),
                ends_at: slot.time.ends_at.timestamp_micros(),
                local_date: slot.time.local_date,
                available: slot.seats.web_available(),
            })
            .collect();
        let on_sale_later = found
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| Some((index, slot.opens_at?.timestamp_micros())))
            .collect();
        let openings = slots::openings(conn, office.id, service.id, now)?;
        Ok(Kept {
            office,
            service,
            generation,
            read,
            complete_until: read + READ_AHEAD.to_std().unwrap_or_default(),
            slots,
            on_sale_later,
            openings,
            being_replaced: AtomicBool::new(false),
        })
    }

    /// When the slot at `index` goes on sale, if it was published to go on sale later.
    fn opens_at(&self, index: usize) -> Option<DateTime<Utc>> {
        let later = &self.on_sale_later;
        let found = later.binary_search_by_key(&index, |(at, _)| *at).ok()?;
        Some(instant(later[found].1))
    }

    /// The answer to `query` at `now`.
    pub fn availability(
        &self,
        query: &AvailabilityQuery,
        mut errors: FieldErrors,
        now: DateTime<Utc>,
    ) -> Result<Availability, SlotError> {
        let zone = self.office.details.timezone;
        let (from, to) = day_range(&mut errors, query.from, query.to, today(zone, now), 27, 92);
        errors.or_value(())?;
        let offered = match bookable_window(zone, &self.service.settings, from, to, now) {
            Some((start, end)) => {
                let (start, end) = (start.timestamp_micros(), end.timestamp_micros());
                let first = self.slots.partition_point(|slot| slot.starts_at < start);
                let past = self.slots.partition_point(|slot| slot.starts_at < end);
                first..past.max(first)
            }
            None => 0..0,
        };
        let slots = offered.map(|index| {
            let slot = &self.slots[index];
            OfferedSlot {
                id: slot.id,
                local_date: slot.local_date,
                starts_at: instant(slot.starts_at),
                ends_at: instant(slot.ends_at),
                available: slot.available,
                opens_at: self.opens_at(index),
            }
        });
        let next = self.openings[self.openings.partition_point(|at| *at <= now)..]
            .first()
            .copied();
        Ok(availability_of(
            &self.office,
            &query.service,
            slots,
            next,
            now,
        ))
    }
}
