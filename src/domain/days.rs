//! The office's local days: where each begins and ends as an instant, what day it is now, and
//! day arithmetic that cannot overflow on a date someone typed.

use chrono::{DateTime, Days, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::hours::TimeOfDay;

/// The instant of a wall-clock time, or `None` when the clocks skip it.
pub fn instant(zone: Tz, date: NaiveDate, time: TimeOfDay) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&date.and_time(time.as_naive())) {
        LocalResult::Single(at) => Some(at.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

/// The instant a local day begins in `zone` (midnight, or the first minute after it that
/// exists when a clock change skips midnight).
pub fn start_of_day(zone: Tz, date: NaiveDate) -> DateTime<Utc> {
    (0..=180)
        .step_by(30)
        .find_map(|minutes| {
            TimeOfDay::from_minutes(minutes).and_then(|time| instant(zone, date, time))
        })
        .unwrap_or_else(|| date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

/// The instant the day after `date` begins in `zone`: where a range of local days ends.
pub fn end_of_day(zone: Tz, date: NaiveDate) -> DateTime<Utc> {
    match date.succ_opt() {
        Some(next) => start_of_day(zone, next),
        None => DateTime::<Utc>::MAX_UTC,
    }
}

/// `days` days after `date`, or the last day chrono knows: arithmetic on a date someone typed
/// must not overflow.
pub fn days_after(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_add_days(Days::new(days))
        .unwrap_or(NaiveDate::MAX)
}

/// `days` days before `date`, or the first day chrono knows.
pub fn days_before(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_sub_days(Days::new(days))
        .unwrap_or(NaiveDate::MIN)
}

/// The local date in `zone` at the instant `now`.
pub fn today(zone: Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&zone).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Rome;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn day_arithmetic_on_typed_dates_stops_at_the_ends_of_the_calendar() {
        assert_eq!(days_after(NaiveDate::MAX, 30), NaiveDate::MAX);
        assert_eq!(days_before(NaiveDate::MIN, 30), NaiveDate::MIN);
        assert_eq!(end_of_day(Rome, NaiveDate::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(days_after(date(2027, 12, 31), 1), date(2028, 1, 1));
    }

    #[test]
    fn a_day_begins_at_local_midnight() {
        assert_eq!(
            start_of_day(Rome, date(2027, 7, 1)).to_rfc3339(),
            "2027-06-30T22:00:00+00:00"
        );
        assert_eq!(
            end_of_day(Rome, date(2027, 12, 31)).to_rfc3339(),
            "2027-12-31T23:00:00+00:00"
        );
    }
}
