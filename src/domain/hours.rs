//! Weekly opening hours: several intervals a day (a morning and an afternoon, with a break).

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{FieldErrors, Invalid};

/// A wall-clock time in the office's time zone, to the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// Parses `HH:MM` (24-hour).
    pub fn parse(text: &str) -> Result<TimeOfDay, Invalid> {
        let invalid = || Invalid::new("must be a time as HH:MM, such as 09:00");
        let (hours, minutes) = text.split_once(':').ok_or_else(invalid)?;
        let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(hours) || !two_digits(minutes) {
            return Err(invalid());
        }
        let hours: u16 = hours.parse().map_err(|_| invalid())?;
        let minutes: u16 = minutes.parse().map_err(|_| invalid())?;
        if hours > 23 || minutes > 59 {
            return Err(invalid());
        }
        Ok(TimeOfDay(hours * 60 + minutes))
    }

    pub fn from_minutes(minutes: i32) -> Option<TimeOfDay> {
        u16::try_from(minutes)
            .ok()
            .filter(|m| *m < 24 * 60)
            .map(TimeOfDay)
    }

    pub fn minutes(self) -> i32 {
        i32::from(self.0)
    }

    pub fn as_naive(self) -> chrono::NaiveTime {
        chrono::NaiveTime::from_hms_opt(u32::from(self.0 / 60), u32::from(self.0 % 60), 0)
            .unwrap_or_default()
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// One opening interval as clients send and receive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntervalInput {
    /// ISO weekday: Monday = 1 … Sunday = 7.
    #[schema(minimum = 1, maximum = 7, example = 1)]
    pub weekday: i32,
    #[schema(schema_with = super::schema::time_of_day)]
    pub opens: String,
    #[schema(schema_with = super::schema::time_of_day)]
    pub closes: String,
}

/// An interval in which the desks serve, on one weekday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    /// ISO weekday: Monday = 1 … Sunday = 7.
    pub weekday: u8,
    pub opens: TimeOfDay,
    pub closes: TimeOfDay,
}

impl Interval {
    pub fn to_input(self) -> IntervalInput {
        IntervalInput {
            weekday: i32::from(self.weekday),
            opens: self.opens.to_string(),
            closes: self.closes.to_string(),
        }
    }
}

/// A week of opening intervals, sorted, none overlapping another on the same day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeeklyHours(Vec<Interval>);

impl WeeklyHours {
    /// Checks every interval, naming each bad one by its position (`[2].closes`).
    pub fn parse(input: &[IntervalInput]) -> Result<WeeklyHours, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut intervals = Vec::new();
        for (i, item) in input.iter().enumerate() {
            let weekday = u8::try_from(item.weekday)
                .ok()
                .filter(|d| (1..=7).contains(d));
            if weekday.is_none() {
                errors.add(format!("[{i}].weekday"), "must be 1 (Monday) to 7 (Sunday)");
            }
            let opens = errors.check(&format!("[{i}].opens"), TimeOfDay::parse(&item.opens));
            let closes = errors.check(&format!("[{i}].closes"), TimeOfDay::parse(&item.closes));
            if let (Some(weekday), Some(opens), Some(closes)) = (weekday, opens, closes) {
                if opens >= closes {
                    errors.add(format!("[{i}].closes"), "must be after opens");
                } else {
                    intervals.push((
                        i,
                        Interval {
                            weekday,
                            opens,
                            closes,
                        },
                    ));
                }
            }
        }
        intervals.sort_by_key(|(_, interval)| *interval);
        for pair in intervals.windows(2) {
            let ((_, first), (i, second)) = (pair[0], pair[1]);
            if first.weekday == second.weekday && second.opens < first.closes {
                errors.add(
                    format!("[{i}].opens"),
                    format!("overlaps {}–{} on the same day", first.opens, first.closes),
                );
            }
        }
        if errors.is_empty() {
            Ok(WeeklyHours(
                intervals
                    .into_iter()
                    .map(|(_, interval)| interval)
                    .collect(),
            ))
        } else {
            Err(errors)
        }
    }

    pub fn from_intervals(mut intervals: Vec<Interval>) -> WeeklyHours {
        intervals.sort();
        WeeklyHours(intervals)
    }

    pub fn intervals(&self) -> &[Interval] {
        &self.0
    }

    /// The intervals of one ISO weekday, in order.
    pub fn on(&self, weekday: u8) -> impl Iterator<Item = &Interval> {
        self.0
            .iter()
            .filter(move |interval| interval.weekday == weekday)
    }
}

/// When at least one of several weeks of hours is open: overlapping and touching intervals of
/// the same weekday merged.
pub fn union_of<'a>(weeks: impl IntoIterator<Item = &'a WeeklyHours>) -> Vec<Interval> {
    let mut all: Vec<Interval> = weeks
        .into_iter()
        .flat_map(|week| week.0.iter().copied())
        .collect();
    all.sort();
    let mut merged: Vec<Interval> = Vec::new();
    for interval in all {
        match merged.last_mut() {
            Some(last) if last.weekday == interval.weekday && interval.opens <= last.closes => {
                last.closes = last.closes.max(interval.closes);
            }
            _ => merged.push(interval),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(weekday: i32, opens: &str, closes: &str) -> IntervalInput {
        IntervalInput {
            weekday,
            opens: opens.into(),
            closes: closes.into(),
        }
    }

    #[test]
    fn times_are_hh_mm() {
        assert_eq!(TimeOfDay::parse("09:05").unwrap().minutes(), 545);
        assert_eq!(TimeOfDay::parse("23:59").unwrap().to_string(), "23:59");
        for bad in ["9:00", "24:00", "12:60", "noon", "12-30"] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_day_may_have_a_break() {
        let hours =
            WeeklyHours::parse(&[input(1, "14:00", "16:00"), input(1, "09:00", "12:30")]).unwrap();
        let monday: Vec<String> = hours
            .on(1)
            .map(|i| format!("{}-{}", i.opens, i.closes))
            .collect();
        assert_eq!(monday, ["09:00-12:30", "14:00-16:00"]);
        assert_eq!(hours.on(2).count(), 0);
    }

    #[test]
    fn the_union_of_calendars_merges_what_overlaps_or_touches() {
        let a =
            WeeklyHours::parse(&[input(1, "09:00", "12:00"), input(2, "09:00", "10:00")]).unwrap();
        let b = WeeklyHours::parse(&[
            input(1, "11:00", "13:00"),
            input(1, "13:00", "14:00"),
            input(1, "15:00", "16:00"),
        ])
        .unwrap();
        let union: Vec<String> = union_of([&a, &b])
            .iter()
            .map(|i| format!("{} {}-{}", i.weekday, i.opens, i.closes))
            .collect();
        assert_eq!(union, ["1 09:00-14:00", "1 15:00-16:00", "2 09:00-10:00"]);
    }

    #[test]
    fn overlaps_reversed_intervals_and_bad_weekdays_are_named() {
        let errors = WeeklyHours::parse(&[
            input(1, "09:00", "12:30"),
            input(1, "12:00", "13:00"),
            input(8, "09:00", "10:00"),
            input(2, "11:00", "10:00"),
        ])
        .unwrap_err();
        let fields: Vec<&str> = errors.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["[2].weekday", "[3].closes", "[1].opens"]);
    }
}
