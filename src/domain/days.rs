//! The office's local days: where each begins and ends as an instant, what day it is now, and
//! day arithmetic that cannot overflow on a date someone typed.

use chrono::{DateTime, Days, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::{hours::TimeOfDay, validation::Invalid};

/// A calendar day a client sent: exactly `YYYY-MM-DD` (RFC 3339's full-date, what the OpenAPI
/// document's `format: date` promises), years 0000 to 9999. Day arithmetic on it saturates
/// (`days_after`), and every database stores it (PostgreSQL's dates begin in 4713 BC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Day(NaiveDate);

impl Day {
    pub fn parse(text: &str) -> Result<Day, Invalid> {
        let digits_at = |range: std::ops::Range<usize>| {
            text.get(range)
                .is_some_and(|part| part.bytes().all(|b| b.is_ascii_digit()))
        };
        let shaped = text.len() == 10
            && digits_at(0..4)
            && text.get(4..5) == Some("-")
            && digits_at(5..7)
            && text.get(7..8) == Some("-")
            && digits_at(8..10);
        shaped
            .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
            .flatten()
            .map(Day)
            .ok_or_else(|| Invalid::new("must be a date as YYYY-MM-DD, such as 2027-09-13"))
    }

    pub fn get(self) -> NaiveDate {
        self.0
    }
}

impl TryFrom<String> for Day {
    type Error = Invalid;

    fn try_from(text: String) -> Result<Day, Invalid> {
        Day::parse(&text)
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
    fn days_from_clients_are_exactly_rfc_3339_dates() {
        assert_eq!(Day::parse("2027-09-13").unwrap().get(), date(2027, 9, 13));
        assert_eq!(Day::parse("0000-01-01").unwrap().get(), date(0, 1, 1));
        assert_eq!(Day::parse("9999-12-31").unwrap().get(), date(9999, 12, 31));
        for bad in [
            "",
            "+262142-12-31",
            "2027-9-13",
            "2027-02-30",
            "27-09-13",
            " 2027-09-13",
        ] {
            let refused = Day::parse(bad).unwrap_err();
            assert_eq!(
                refused.message(),
                "must be a date as YYYY-MM-DD, such as 2027-09-13"
            );
        }
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
