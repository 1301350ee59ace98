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

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

use super::{
    availability::{
        Availability, AvailabilityQuery, OfferedSlot, availability_of, bookable_window,
    },
    slots::{SlotError, day_range},
};
use crate::{
    domain::{
        FieldErrors,
        days::today,
        ids::SlotId,
        office::OfficeCode,
        time::{LocalTime, local},
    },
    store::{
        DbConnection,
        changes::{Generation, OfficeChanges},
        offices::Office,
        services::Rules,
        slots::{self, Bookable},
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
#[derive(Clone)]
pub struct Offer {
    kept: Arc<RwLock<HashMap<String, KeptServices>>>,
    /// Turns to read an office's service into memory. A read holds a year of slots twice over
    /// while it is turned into kept ones: when a crowd asks at once for offices not kept yet
    /// (a restart, a new release), taking turns keeps the instance's memory and the database's
    /// work to a few reads at a time, and the ones who waited find what the turn before read.
    filling: Arc<tokio::sync::Semaphore>,
}

/// How many reads of offices' services into memory an instance makes at once.
const FILLS_AT_ONCE: usize = 2;

impl Default for Offer {
    fn default() -> Offer {
        Offer {
            kept: Arc::default(),
            filling: Arc::new(tokio::sync::Semaphore::new(FILLS_AT_ONCE)),
        }
    }
}

impl Offer {
    /// A turn to read an office's service into memory (see [`Offer::filling`]).
    pub async fn turn_to_fill(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.filling.acquire().await.ok()
    }

    /// The office's service as kept, if it may be served now; `None`: read it.
    pub fn kept(
        &self,
        changes: &OfficeChanges,
        office: &OfficeCode,
        service: &str,
    ) -> Option<Arc<Kept>> {
        let kept = self.find(office, service)?;
        if kept.is_current(changes) {
            return Some(kept);
        }
        // Out of date: one request reads again; the others may have the old seats while young.
        let reading = kept.being_replaced.swap(true, Ordering::AcqRel);
        (reading && kept.read.elapsed() < YOUNG).then_some(kept)
    }

    /// The office's service as kept, only if it is up to date: what a request that waited for
    /// its turn to read finds when the turn before read it.
    pub fn current(
        &self,
        changes: &OfficeChanges,
        office: &OfficeCode,
        service: &str,
    ) -> Option<Arc<Kept>> {
        self.find(office, service)
            .filter(|kept| kept.is_current(changes))
    }

    fn find(&self, office: &OfficeCode, service: &str) -> Option<Arc<Kept>> {
        let offices = self.kept.read().unwrap_or_else(|e| e.into_inner());
        offices.get(office.as_str())?.get(service.trim()).cloned()
    }

    /// Keeps what was read, unless changes may have gone unheard while it was read.
    pub fn keep(&self, office: OfficeCode, service: &str, kept: Kept) {
        if kept.generation.is_none() {
            return;
        }
        let mut offices = self.kept.write().unwrap_or_else(|e| e.into_inner());
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
    /// What the slots' ids count from.
    base_id: i64,
    /// In time order.
    slots: Vec<KeptSlot>,
    /// The few slots published to go on sale later: their index in `slots`, and when (in
    /// microseconds), by index.
    on_sale_later: Vec<(usize, i64)>,
    /// Instants at which seats open, earliest first.
    openings: Vec<DateTime<Utc>>,
    being_replaced: AtomicBool,
}

/// A slot with seats the web can book, in 16 bytes (a year of a hundred offices' slots is a
/// million of them): its id from the base id, and its times as the office's clock reads them,
/// written into every answer without looking up the time zone again; its instant, to choose a
/// window by, follows from those.
#[derive(Clone, Copy)]
struct KeptSlot {
    id: u32,
    local_date: NaiveDate,
    /// Minutes from the start of `local_date`.
    starts_minute: u16,
    ends_minute: u16,
    available: u16,
    /// Offsets east of UTC in quarter hours, as every zone's offset has been since 1980.
    starts_offset: i8,
    ends_offset: i8,
}

/// The days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_FROM_CE: i64 = 719_163;

impl KeptSlot {
    /// `slot` as kept, when it fits: always, but for instants off the minute, offsets off the
    /// quarter hour, or ids or seats beyond what the fields hold.
    fn of(slot: &Bookable, zone: Tz, base_id: i64) -> Option<KeptSlot> {
        let (starts, ends) = (slot.time.starts_at, slot.time.ends_at);
        let date = slot.time.local_date;
        let (starts_minute, starts_offset) = local(starts, zone).minutes_from(date)?;
        let (ends_minute, ends_offset) = local(ends, zone).minutes_from(date)?;
        let quarters = |offset: i32| (offset % 15 == 0).then(|| i8::try_from(offset / 15).ok())?;
        let kept = KeptSlot {
            id: u32::try_from(slot.id.get().checked_sub(base_id)?).ok()?,
            local_date: date,
            starts_minute: u16::try_from(starts_minute).ok()?,
            ends_minute: u16::try_from(ends_minute).ok()?,
            available: u16::try_from(slot.seats.web_available()).ok()?,
            starts_offset: quarters(starts_offset)?,
            ends_offset: quarters(ends_offset)?,
        };
        let exact = starts.timestamp_subsec_nanos() == 0
            && kept.start_second() == starts.timestamp()
            && kept.starts_at() == Some(local(starts, zone))
            && kept.ends_at() == Some(local(ends, zone));
        exact.then_some(kept)
    }

    /// Its start, in seconds since 1970.
    fn start_second(&self) -> i64 {
        let days = i64::from(self.local_date.num_days_from_ce()) - UNIX_EPOCH_FROM_CE;
        days * 86_400 + i64::from(self.starts_minute) * 60 - i64::from(self.starts_offset) * 900
    }

    fn starts_at(&self) -> Option<LocalTime> {
        let (minute, offset) = (self.starts_minute, self.starts_offset);
        LocalTime::at(self.local_date, u32::from(minute), i32::from(offset) * 15)
    }

    fn ends_at(&self) -> Option<LocalTime> {
        let (minute, offset) = (self.ends_minute, self.ends_offset);
        LocalTime::at(self.local_date, u32::from(minute), i32::from(offset) * 15)
    }
}

fn instant(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

impl Kept {
    /// Reads the office's service: its bookable slots from `now` to beyond the horizon, and its
    /// openings. The office's generation is taken first, so a change while reading is not
    /// mistaken for one already in. `None`: a slot would not fit in memory as kept (see
    /// [`KeptSlot::of`]); the database answers for this office.
    pub fn read(
        conn: &mut DbConnection,
        changes: &OfficeChanges,
        office: Office,
        service: Rules,
        now: DateTime<Utc>,
    ) -> diesel::QueryResult<Option<Kept>> {
        let generation = changes.generation(office.id);
        let read = Instant::now();
        let horizon = Duration::days(i64::from(service.settings.horizon_days));
        let from = now - READ_BEHIND;
        let found = slots::web_bookable(
            conn,
            office.id,
            service.id,
            from,
            now + horizon + READ_AHEAD,
        )?;
        let zone = office.details.timezone;
        let base_id = found.iter().map(|slot| slot.id.get()).min().unwrap_or(0);
        // Sized once: collected through an `Option`, the vector would grow by doubling and
        // keep up to twice the slots' memory for as long as they are kept.
        let mut slots = Vec::with_capacity(found.len());
        for slot in &found {
            let Some(kept) = KeptSlot::of(slot, zone, base_id) else {
                return Ok(None);
            };
            slots.push(kept);
        }
        let on_sale_later = found
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| Some((index, slot.opens_at?.timestamp_micros())))
            .collect();
        let openings = slots::openings(conn, office.id, service.id, now)?;
        Ok(Some(Kept {
            office,
            service,
            generation,
            read,
            complete_until: read + READ_AHEAD.to_std().unwrap_or_default(),
            base_id,
            slots,
            on_sale_later,
            openings,
            being_replaced: AtomicBool::new(false),
        }))
    }

    /// Read at the office's present generation, and complete for the horizon still.
    fn is_current(&self, changes: &OfficeChanges) -> bool {
        let present = changes.generation(self.office.id);
        present.is_some() && present == self.generation && Instant::now() < self.complete_until
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
                // Whether a slot (starting on a whole second) starts before the instant `at`.
                let before = |at: DateTime<Utc>| {
                    let (second, into_it) = (at.timestamp(), at.timestamp_subsec_nanos() > 0);
                    move |slot: &KeptSlot| {
                        let start = slot.start_second();
                        start < second || (start == second && into_it)
                    }
                };
                let first = self.slots.partition_point(before(start));
                let past = self.slots.partition_point(before(end));
                first..past.max(first)
            }
            None => 0..0,
        };
        let slots = offered.filter_map(|index| {
            let slot = &self.slots[index];
            Some(OfferedSlot {
                id: SlotId::new(self.base_id + i64::from(slot.id)),
                local_date: slot.local_date,
                starts_at: slot.starts_at()?,
                ends_at: slot.ends_at()?,
                available: i32::from(slot.available),
                opens_at: self.opens_at(index),
            })
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::{domain::seats::Seats, store::slots::SlotTime};

    fn slot(zone: Tz, date: NaiveDate, starts: (u32, u32), ends: (u32, u32)) -> Bookable {
        let at = |(hour, minute)| {
            let reading = date.and_hms_opt(hour, minute, 0).unwrap();
            zone.from_local_datetime(&reading)
                .earliest()
                .unwrap()
                .to_utc()
        };
        Bookable {
            id: SlotId::new(1_000_042),
            time: SlotTime {
                local_date: date,
                starts_at: at(starts),
                ends_at: at(ends),
            },
            seats: Seats {
                capacity: 3,
                held_for_desk: 1,
                booked_web: 0,
                booked_desk: 0,
                cooling: 0,
            },
            opens_at: None,
        }
    }

    #[test]
    fn a_kept_slot_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<KeptSlot>(), 16);
    }

    #[test]
    fn a_slot_across_the_spring_change_keeps_its_instants_and_readings() {
        let zone = chrono_tz::Europe::Rome;
        let date = NaiveDate::from_ymd_opt(2027, 3, 28).unwrap();
        let bookable = slot(zone, date, (1, 30), (3, 30));
        let kept = KeptSlot::of(&bookable, zone, 1_000_000).unwrap();
        assert_eq!(kept.id, 42);
        assert_eq!(kept.available, 2);
        assert_eq!(kept.start_second(), bookable.time.starts_at.timestamp());
        assert_eq!(kept.starts_at().unwrap().instant(), bookable.time.starts_at);
        assert_eq!(kept.ends_at().unwrap().instant(), bookable.time.ends_at);
        assert_eq!(kept.ends_at(), Some(local(bookable.time.ends_at, zone)));
    }

    #[test]
    fn offsets_on_the_quarter_hour_fit_and_others_are_left_to_the_database() {
        let date = NaiveDate::from_ymd_opt(2027, 6, 1).unwrap();
        for zone in [chrono_tz::Asia::Kathmandu, chrono_tz::Asia::Kolkata] {
            let bookable = slot(zone, date, (9, 0), (9, 30));
            let kept = KeptSlot::of(&bookable, zone, 1_000_000).unwrap();
            assert_eq!(kept.start_second(), bookable.time.starts_at.timestamp());
        }
        // Rome kept its mean solar time, 49 minutes 56 seconds east, until 1893.
        let old = NaiveDate::from_ymd_opt(1890, 6, 1).unwrap();
        let zone = chrono_tz::Europe::Rome;
        assert!(KeptSlot::of(&slot(zone, old, (9, 0), (9, 30)), zone, 1_000_000).is_none());
    }
}
