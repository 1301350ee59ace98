//! The office's local days: where each begins and ends as an instant, what day it is now, and
//! day arithmetic that cannot overflow on a date someone typed.

use chrono::{DateTime, Days, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::{hours::TimeOfDay, validation::Invalid};

/// A calendar day a client sent (`YYYY-MM-DD`), within the years this service keeps: far enough
/// for any visit or record, near enough that day arithmetic cannot overflow and every database
/// can store it (PostgreSQL's dates and timestamps begin in 4713 BC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "NaiveDate")]
pub struct Day(NaiveDate);

impl Day {
    pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=9999;

    pub fn get(self) -> NaiveDate {
        self.0
    }
}

impl TryFrom<NaiveDate> for Day {
    type Error = Invalid;

    fn try_from(date: NaiveDate) -> Result<Day, Invalid> {
        use chrono::Datelike;
        if Day::YEARS.contains(&date.year()) {
            Ok(Day(date))
        } else {
            Err(Invalid::new(format!(
                "must be a date from {}-01-01 to {}-12-31",
                Day::YEARS.start(),
                Day::YEARS.end()
            )))
        }
    }
}

impl From<Day> for NaiveDate {
    fn from(day: Day) -> NaiveDate {
        day.0
    }
}

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
    fn days_from_clients_stay_within_the_years_the_service_keeps() {
        assert!(Day::try_from(date(2027, 9, 13)).is_ok());
        assert!(Day::try_from(date(9999, 12, 31)).is_ok());
        let far = Day::try_from(NaiveDate::MAX).unwrap_err();
        assert_eq!(
            far.message(),
            "must be a date from 1900-01-01 to 9999-12-31"
        );
        assert!(Day::try_from(NaiveDate::MIN).is_err());
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
