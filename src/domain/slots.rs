//! Published slots: which ones a calendar should have over some days, and how to bring the
//! stored slots in line with that without ever dropping a booked seat.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    days::instant,
    holidays::national_holiday,
    hours::{TimeOfDay, WeeklyHours},
    ids::{CalendarId, SlotId},
    office::PatronDay,
};

/// What publishing needs to know about one calendar.
#[derive(Debug, Clone)]
pub struct CalendarPlan {
    pub calendar_id: CalendarId,
    pub desks: i32,
    /// The duration shared by the services the calendar serves.
    pub slot_minutes: i32,
    pub hours: WeeklyHours,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    /// Share of the seats held back for the desk and phone channel.
    pub desk_share_percent: i32,
}

/// An office closure: whole days, or a window of each day in the range.
#[derive(Debug, Clone)]
pub struct ClosureRule {
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub window: Option<(TimeOfDay, TimeOfDay)>,
}

impl ClosureRule {
    /// Whether the closure takes away the time `[start, end)` (local minutes) of `date`.
    pub fn covers(&self, date: NaiveDate, start: i32, end: i32) -> bool {
        self.starts_on <= date
            && date <= self.ends_on
            && match self.window {
                None => true,
                Some((from, to)) => start < to.minutes() && from.minutes() < end,
            }
    }

    /// Whether the closure takes away the slot `[starts_at, ends_at)` of an office in `zone`.
    pub fn covers_slot(&self, zone: Tz, starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> bool {
        let local = starts_at.with_timezone(&zone);
        let start = minutes_of_day(local.time());
        let length = i32::try_from((ends_at - starts_at).num_minutes()).unwrap_or(i32::MAX);
        self.covers(local.date_naive(), start, start.saturating_add(length))
    }
}

fn minutes_of_day(time: chrono::NaiveTime) -> i32 {
    use chrono::Timelike;
    (time.hour() * 60 + time.minute()) as i32
}

/// When an office is closed: national holidays, its patron saint's day, its own closures.
pub struct ClosedTimes<'a> {
    pub patron_day: Option<PatronDay>,
    pub closures: &'a [ClosureRule],
}

impl ClosedTimes<'_> {
    pub fn whole_day(&self, date: NaiveDate) -> bool {
        national_holiday(date).is_some()
            || self.patron_day.is_some_and(|day| day.falls_on(date))
            || self
                .closures
                .iter()
                .any(|c| c.window.is_none() && c.starts_on <= date && date <= c.ends_on)
    }

    /// Whether a closure window covers any part of `[start, end)` on `date`.
    pub fn overlaps(&self, date: NaiveDate, start: i32, end: i32) -> bool {
        self.closures
            .iter()
            .any(|c| c.window.is_some() && c.covers(date, start, end))
    }
}

/// A slot as publishing wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSlot {
    pub calendar_id: CalendarId,
    /// The day in the office's time zone.
    pub local_date: NaiveDate,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub held_for_desk: i32,
    /// When its seats go on public sale (`None`: as soon as it is published).
    pub opens_at: Option<DateTime<Utc>>,
}

/// The slots `calendar` should have from `from` to `to` (inclusive), in the office's zone.
///
/// Times are wall-clock times in `zone`: a 09:00 slot is at 09:00 in Rome in summer and in
/// winter. A time skipped by the spring change gets no slot; a time repeated by the autumn
/// change gets one, at its first occurrence.
pub fn plan_calendar(
    calendar: &CalendarPlan,
    zone: Tz,
    from: NaiveDate,
    to: NaiveDate,
    closed: &ClosedTimes<'_>,
) -> Vec<PlannedSlot> {
    let mut planned = Vec::new();
    if calendar.slot_minutes <= 0 || calendar.desks <= 0 {
        return planned;
    }
    let length = Duration::minutes(i64::from(calendar.slot_minutes));
    for date in from.iter_days().take_while(|date| *date <= to) {
        let in_validity = calendar.valid_from.is_none_or(|first| first <= date)
            && calendar.valid_until.is_none_or(|last| date <= last);
        if !in_validity || closed.whole_day(date) {
            continue;
        }
        let weekday = date.weekday().number_from_monday() as u8;
        let mut starts = Vec::new();
        for interval in calendar.hours.on(weekday) {
            let mut start = interval.opens.minutes();
            while start + calendar.slot_minutes <= interval.closes.minutes() {
                let end = start + calendar.slot_minutes;
                if !closed.overlaps(date, start, end)
                    && let Some(starts_at) =
                        TimeOfDay::from_minutes(start).and_then(|t| instant(zone, date, t))
                    && starts.last().is_none_or(|previous| *previous < starts_at)
                {
                    starts.push(starts_at);
                }
                start = end;
            }
        }
        let held = spread_held_seats(starts.len(), calendar.desks, calendar.desk_share_percent);
        planned.extend(
            starts
                .into_iter()
                .zip(held)
                .map(|(starts_at, held_for_desk)| PlannedSlot {
                    calendar_id: calendar.calendar_id,
                    local_date: date,
                    starts_at,
                    ends_at: starts_at + length,
                    capacity: calendar.desks,
                    held_for_desk,
                    opens_at: None,
                }),
        );
    }
    planned
}

/// Spreads the desk share over a day's slots by cumulative rounding, so the day as a whole
/// holds back the right share even when one slot's share is a fraction of a seat (20% of 3
/// desks holds one seat in every other slot, not none).
fn spread_held_seats(slots: usize, capacity: i32, share_percent: i32) -> Vec<i32> {
    let per_slot = i64::from(capacity) * i64::from(share_percent.clamp(0, 100));
    let rounded = |i: i64| (i * per_slot + 50) / 100;
    (0..slots as i64)
        .map(|i| {
            i32::try_from(rounded(i + 1) - rounded(i))
                .unwrap_or(0)
                .min(capacity)
        })
        .collect()
}

/// A slot as stored.
#[derive(Debug, Clone)]
pub struct ExistingSlot {
    pub id: SlotId,
    pub calendar_id: CalendarId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub held_for_desk: i32,
    /// Seats taken, by any channel.
    pub booked: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictReason {
    /// The slot is no longer inside the opening hours, or the office is closed then.
    NoLongerOpen,
    /// The calendar now has fewer desks than the slot has bookings.
    FewerDesksThanBookings,
    /// The service duration changed; the booked slot keeps its old length.
    DurationChanged,
}

/// A booked slot that publishing left as it was, for the office to sort out with the people
/// who booked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub slot_id: SlotId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub booked: i32,
    pub reason: ConflictReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotUpdate {
    pub id: SlotId,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub held_for_desk: i32,
}

/// The changes that bring the stored slots in line with the planned ones.
#[derive(Debug, Default)]
pub struct Reconciliation {
    pub create: Vec<PlannedSlot>,
    pub update: Vec<SlotUpdate>,
    pub remove: Vec<SlotId>,
    /// Planned slots that already existed (updated in place or unchanged).
    pub kept: usize,
    pub conflicts: Vec<Conflict>,
}

/// Compares planned slots with the stored ones of the same calendars and days. Unbooked slots
/// are created, adjusted or removed freely; a booked seat is never dropped: its slot stays and
/// is reported as a conflict instead.
pub fn reconcile(planned: Vec<PlannedSlot>, existing: Vec<ExistingSlot>) -> Reconciliation {
    let mut stored: HashMap<(CalendarId, DateTime<Utc>), ExistingSlot> = existing
        .into_iter()
        .map(|slot| ((slot.calendar_id, slot.starts_at), slot))
        .collect();
    let mut result = Reconciliation::default();
    for want in planned {
        let Some(have) = stored.remove(&(want.calendar_id, want.starts_at)) else {
            result.create.push(want);
            continue;
        };
        result.kept += 1;
        if have.ends_at != want.ends_at && have.booked > 0 {
            result
                .conflicts
                .push(conflict(&have, ConflictReason::DurationChanged));
            continue;
        }
        let capacity = want.capacity.max(have.booked);
        if have.booked > want.capacity {
            result
                .conflicts
                .push(conflict(&have, ConflictReason::FewerDesksThanBookings));
        }
        let update = SlotUpdate {
            id: have.id,
            ends_at: want.ends_at,
            capacity,
            held_for_desk: want.held_for_desk.min(capacity),
        };
        if (have.ends_at, have.capacity, have.held_for_desk)
            != (update.ends_at, update.capacity, update.held_for_desk)
        {
            result.update.push(update);
        }
    }
    let mut leftovers: BTreeMap<(DateTime<Utc>, SlotId), ExistingSlot> = stored
        .into_values()
        .map(|slot| ((slot.starts_at, slot.id), slot))
        .collect();
    while let Some((_, slot)) = leftovers.pop_first() {
        if slot.booked > 0 {
            result
                .conflicts
                .push(conflict(&slot, ConflictReason::NoLongerOpen));
        } else if slot.capacity > 0 {
            result.remove.push(slot.id);
        }
        // A slot without seats was withdrawn already; it stays only because cancelled bookings
        // point at it.
    }
    result.conflicts.sort_by_key(|c| (c.starts_at, c.slot_id));
    result
}

fn conflict(slot: &ExistingSlot, reason: ConflictReason) -> Conflict {
    Conflict {
        slot_id: slot.id,
        starts_at: slot.starts_at,
        ends_at: slot.ends_at,
        booked: slot.booked,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hours::IntervalInput;
    use chrono::TimeZone;
    use chrono_tz::Europe::Rome;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn calendar(hours: &[(i32, &str, &str)], slot_minutes: i32, desks: i32) -> CalendarPlan {
        let input: Vec<IntervalInput> = hours
            .iter()
            .map(|(weekday, opens, closes)| IntervalInput {
                weekday: *weekday,
                opens: (*opens).into(),
                closes: (*closes).into(),
            })
            .collect();
        CalendarPlan {
            calendar_id: CalendarId::new(1),
            desks,
            slot_minutes,
            hours: WeeklyHours::parse(&input).unwrap(),
            valid_from: None,
            valid_until: None,
            desk_share_percent: 0,
        }
    }

    fn open() -> ClosedTimes<'static> {
        ClosedTimes {
            patron_day: None,
            closures: &[],
        }
    }

    fn local_times(slots: &[PlannedSlot]) -> Vec<String> {
        slots
            .iter()
            .map(|s| {
                s.starts_at
                    .with_timezone(&Rome)
                    .format("%Y-%m-%d %H:%M %:z")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn nine_oclock_is_nine_oclock_in_rome_on_both_sides_of_each_clock_change() {
        let every_day: Vec<(i32, &str, &str)> = (1..=7).map(|d| (d, "09:00", "09:30")).collect();
        let plan = calendar(&every_day, 30, 1);
        // 2027: clocks go forward on 28 March and back on 31 October.
        let spring = plan_calendar(&plan, Rome, date(2027, 3, 27), date(2027, 3, 30), &open());
        assert_eq!(
            local_times(&spring),
            [
                "2027-03-27 09:00 +01:00",
                // 28 March is Easter Sunday; 29 March Easter Monday: closed.
                "2027-03-30 09:00 +02:00"
            ]
        );
        let autumn = plan_calendar(&plan, Rome, date(2027, 10, 30), date(2027, 11, 2), &open());
        assert_eq!(
            local_times(&autumn),
            [
                "2027-10-30 09:00 +02:00",
                "2027-10-31 09:00 +01:00",
                "2027-11-02 09:00 +01:00"
            ]
        );
        assert_eq!(
            autumn[0].starts_at.to_rfc3339(),
            "2027-10-30T07:00:00+00:00"
        );
        assert_eq!(
            autumn[1].starts_at.to_rfc3339(),
            "2027-10-31T08:00:00+00:00"
        );
    }

    #[test]
    fn the_skipped_hour_has_no_slot_and_the_repeated_hour_no_double() {
        // A (strange) night desk open 01:00–04:00 on Sundays, in 30-minute slots.
        let plan = calendar(&[(7, "01:00", "04:00")], 30, 1);
        let spring = plan_calendar(
            &plan,
            Rome,
            date(2027, 3, 28),
            date(2027, 3, 28),
            &ClosedTimes {
                patron_day: None,
                closures: &[],
            },
        );
        // Easter Sunday 2027 is a holiday; use the 2026 change (29 March) instead.
        assert!(spring.is_empty());
        let spring = plan_calendar(&plan, Rome, date(2026, 3, 29), date(2026, 3, 29), &open());
        assert_eq!(
            local_times(&spring),
            [
                "2026-03-29 01:00 +01:00",
                "2026-03-29 01:30 +01:00",
                "2026-03-29 03:00 +02:00",
                "2026-03-29 03:30 +02:00"
            ]
        );
        let autumn = plan_calendar(&plan, Rome, date(2026, 10, 25), date(2026, 10, 25), &open());
        assert_eq!(
            local_times(&autumn),
            [
                "2026-10-25 01:00 +02:00",
                "2026-10-25 01:30 +02:00",
                "2026-10-25 02:00 +02:00",
                "2026-10-25 02:30 +02:00",
                "2026-10-25 03:00 +01:00",
                "2026-10-25 03:30 +01:00"
            ]
        );
    }

    #[test]
    fn breaks_holidays_patron_days_and_closures_have_no_slots() {
        let weekdays: Vec<(i32, &str, &str)> = (1..=5)
            .flat_map(|d| [(d, "09:00", "10:00"), (d, "14:00", "15:00")])
            .collect();
        let plan = calendar(&weekdays, 30, 3);
        let closures = [
            ClosureRule {
                starts_on: date(2027, 7, 1),
                ends_on: date(2027, 7, 1),
                window: None,
            },
            ClosureRule {
                starts_on: date(2027, 7, 2),
                ends_on: date(2027, 7, 2),
                window: Some((
                    TimeOfDay::parse("09:15").unwrap(),
                    TimeOfDay::parse("10:00").unwrap(),
                )),
            },
        ];
        let closed = ClosedTimes {
            patron_day: Some(PatronDay::parse("06-29").unwrap()),
            closures: &closures,
        };
        // Mon 28 June .. Fri 2 July 2027: 29 June is Rome's patron day, 1 July closed, 2 July
        // closed from 09:15.
        let slots = plan_calendar(&plan, Rome, date(2027, 6, 28), date(2027, 7, 2), &closed);
        let times = local_times(&slots);
        assert_eq!(
            times,
            [
                "2027-06-28 09:00 +02:00",
                "2027-06-28 09:30 +02:00",
                "2027-06-28 14:00 +02:00",
                "2027-06-28 14:30 +02:00",
                "2027-06-30 09:00 +02:00",
                "2027-06-30 09:30 +02:00",
                "2027-06-30 14:00 +02:00",
                "2027-06-30 14:30 +02:00",
                "2027-07-02 14:00 +02:00",
                "2027-07-02 14:30 +02:00"
            ]
        );
        assert!(
            slots
                .iter()
                .all(|s| s.capacity == 3 && s.ends_at - s.starts_at == Duration::minutes(30))
        );
    }

    #[test]
    fn a_validity_period_bounds_the_calendar() {
        let mut plan = calendar(&[(1, "09:00", "09:30")], 30, 1);
        plan.valid_from = Some(date(2027, 9, 13));
        plan.valid_until = Some(date(2027, 9, 20));
        let slots = plan_calendar(&plan, Rome, date(2027, 9, 1), date(2027, 9, 30), &open());
        assert_eq!(
            slots.iter().map(|s| s.local_date).collect::<Vec<_>>(),
            [date(2027, 9, 13), date(2027, 9, 20)]
        );
    }

    #[test]
    fn the_desk_share_holds_back_the_right_share_of_a_day() {
        assert_eq!(spread_held_seats(5, 3, 20), [1, 0, 1, 0, 1]);
        assert_eq!(spread_held_seats(4, 2, 0), [0, 0, 0, 0]);
        assert_eq!(spread_held_seats(3, 2, 100), [2, 2, 2]);
        let held: i32 = spread_held_seats(28, 4, 25).iter().sum();
        assert_eq!(held, 28);
    }

    fn planned(minute: i64, capacity: i32) -> PlannedSlot {
        let starts_at =
            Utc.with_ymd_and_hms(2027, 6, 28, 7, 0, 0).unwrap() + Duration::minutes(minute);
        PlannedSlot {
            calendar_id: CalendarId::new(1),
            local_date: date(2027, 6, 28),
            starts_at,
            ends_at: starts_at + Duration::minutes(30),
            capacity,
            held_for_desk: 0,
            opens_at: None,
        }
    }

    fn stored(id: i64, minute: i64, capacity: i32, booked: i32) -> ExistingSlot {
        let slot = planned(minute, capacity);
        ExistingSlot {
            id: SlotId::new(id),
            calendar_id: CalendarId::new(1),
            starts_at: slot.starts_at,
            ends_at: slot.ends_at,
            capacity,
            held_for_desk: 0,
            booked,
        }
    }

    #[test]
    fn publishing_twice_changes_nothing() {
        let result = reconcile(
            vec![planned(0, 3), planned(30, 3)],
            vec![stored(1, 0, 3, 0), stored(2, 30, 3, 2)],
        );
        assert!(result.create.is_empty() && result.update.is_empty() && result.remove.is_empty());
        assert_eq!((result.kept, result.conflicts.len()), (2, 0));
    }

    #[test]
    fn shorter_hours_remove_free_slots_and_report_booked_ones() {
        // Hours now end after the first slot; slot 2 is free, slot 3 has a booking.
        let result = reconcile(
            vec![planned(0, 3)],
            vec![stored(1, 0, 3, 0), stored(2, 30, 3, 0), stored(3, 60, 3, 1)],
        );
        assert_eq!(result.remove, [SlotId::new(2)]);
        assert_eq!(result.conflicts.len(), 1);
        assert_eq!(
            (result.conflicts[0].slot_id, result.conflicts[0].reason),
            (SlotId::new(3), ConflictReason::NoLongerOpen)
        );
    }

    #[test]
    fn fewer_desks_never_go_below_the_bookings() {
        let result = reconcile(
            vec![planned(0, 1), planned(30, 1)],
            vec![stored(1, 0, 3, 2), stored(2, 30, 3, 0)],
        );
        assert_eq!(
            result.conflicts[0].reason,
            ConflictReason::FewerDesksThanBookings
        );
        let capacities: Vec<(i64, i32)> = result
            .update
            .iter()
            .map(|u| (u.id.get(), u.capacity))
            .collect();
        assert_eq!(capacities, [(1, 2), (2, 1)]);
    }
}
