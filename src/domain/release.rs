//! When seats go on public sale, and how: first come, or shared out by a lottery among the
//! entries made in a window after they open (see [`lottery`](super::lottery)).

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{days::instant, hours::TimeOfDay, validation::Named};

/// How a service's seats are released when they open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseMode {
    /// Whoever books first gets the seat.
    #[default]
    FirstCome,
    /// For a window after the seats open, requests are entries in a draw; at its close the
    /// seats are shared out by lot, and what is left goes first come.
    Lottery,
}

impl Named for ReleaseMode {
    const ALL: &'static [ReleaseMode] = &[ReleaseMode::FirstCome, ReleaseMode::Lottery];

    fn as_str(self) -> &'static str {
        match self {
            ReleaseMode::FirstCome => "first_come",
            ReleaseMode::Lottery => "lottery",
        }
    }
}

/// A standing rule for when published slots open, such as "every Monday at 09:00, the week
/// four weeks ahead": the slots of a week open on `weekday` at `at` (office time),
/// `weeks_ahead` weeks before that week's Monday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseRule {
    /// ISO weekday, Monday = 1.
    pub weekday: u8,
    pub at: TimeOfDay,
    pub weeks_ahead: u8,
}

impl ReleaseRule {
    pub const WEEKDAYS: std::ops::RangeInclusive<i32> = 1..=7;
    pub const WEEKS_AHEAD: std::ops::RangeInclusive<i32> = 1..=52;

    /// When the slots of the local day `visit_day` open under this rule. A release time the
    /// clocks skip (spring forward) opens at the next hour's same minute.
    pub fn opens_at(&self, zone: Tz, visit_day: NaiveDate) -> Option<DateTime<Utc>> {
        let monday =
            visit_day - Duration::days(i64::from(visit_day.weekday().num_days_from_monday()));
        let release_day = monday - Duration::weeks(i64::from(self.weeks_ahead))
            + Duration::days(i64::from(self.weekday.saturating_sub(1)));
        instant(zone, release_day, self.at).or_else(|| {
            TimeOfDay::from_minutes(self.at.minutes() + 60)
                .and_then(|later| instant(zone, release_day, later))
        })
    }
}

/// Where a slot stands in its release at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// On sale, first come.
    OnSale,
    /// Not on sale before this instant.
    NotYet(DateTime<Utc>),
}

impl Release {
    pub fn of(opens_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Release {
        match opens_at {
            Some(opens_at) if opens_at > now => Release::NotYet(opens_at),
            _ => Release::OnSale,
        }
    }
}

/// The bounds of a lottery's entry window, in minutes.
pub const LOTTERY_WINDOW_MINUTES: std::ops::RangeInclusive<i32> = 5..=1440;

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_weekly_rule_opens_the_week_four_weeks_ahead_on_monday_morning() {
        let rule = ReleaseRule {
            weekday: 1,
            at: TimeOfDay::parse("09:00").unwrap(),
            weeks_ahead: 4,
        };
        let rome = chrono_tz::Europe::Rome;
        // Thursday 2027-03-18 is in the week of Monday 2027-03-15: it opens on Monday
        // 2027-02-15 at 09:00 in Rome (08:00 UTC, winter time).
        let opens = rule.opens_at(rome, day("2027-03-18")).unwrap();
        assert_eq!(opens.to_rfc3339(), "2027-02-15T08:00:00+00:00");
        // Every day of that week opens at the same instant.
        assert_eq!(rule.opens_at(rome, day("2027-03-15")), Some(opens));
        assert_eq!(rule.opens_at(rome, day("2027-03-21")), Some(opens));
        assert_ne!(rule.opens_at(rome, day("2027-03-22")), Some(opens));
    }

    #[test]
    fn a_release_time_the_clocks_skip_opens_an_hour_later() {
        let rule = ReleaseRule {
            weekday: 7,
            at: TimeOfDay::parse("02:30").unwrap(),
            weeks_ahead: 1,
        };
        // Sunday 2027-03-28 02:30 does not exist in Rome; the week after is the visit's.
        let opens = rule
            .opens_at(chrono_tz::Europe::Rome, day("2027-04-01"))
            .unwrap();
        assert_eq!(opens.to_rfc3339(), "2027-03-28T01:30:00+00:00");
    }

    #[test]
    fn a_slot_is_on_sale_from_its_opening() {
        let at = "2027-02-15T08:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(Release::of(None, at), Release::OnSale);
        assert_eq!(Release::of(Some(at), at), Release::OnSale);
        let before = at - Duration::seconds(1);
        assert_eq!(Release::of(Some(at), before), Release::NotYet(at));
    }
}
