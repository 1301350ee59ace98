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

/// A staggered release: the slots of a publication open in shares, such as 20% with the
/// publication, 50% a week before the visit day and 30% two days before, so that people who
/// cannot plan weeks ahead still find seats. A share is of slots (each with all its desks),
/// spread evenly over every day, so that every share has early and late times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staggered(Vec<Share>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub percent: u8,
    /// Opens this many days before the visit day, at `at`; `None`: with the publication (at
    /// its `opens_at`, or as its release rule says, or at once).
    pub days_before: Option<u16>,
    pub at: TimeOfDay,
}

impl Staggered {
    pub const MAX_SHARES: usize = 10;
    pub const DAYS_BEFORE: std::ops::RangeInclusive<u16> = 1..=365;

    /// The shares, if they add up to 100% and each is more than nothing.
    pub fn new(shares: Vec<Share>) -> Result<Staggered, &'static str> {
        if shares.is_empty() || shares.len() > Staggered::MAX_SHARES {
            return Err("must hold 1 to 10 shares");
        }
        if shares.iter().any(|share| share.percent == 0) {
            return Err("every share must be more than 0 percent");
        }
        if shares
            .iter()
            .map(|share| u32::from(share.percent))
            .sum::<u32>()
            != 100
        {
            return Err("the percentages must add up to 100");
        }
        Ok(Staggered(shares))
    }

    /// The share of each of a day's `count` slots, in time order: each share gets its
    /// percentage of them (largest remainder), interleaved so that none gets only the
    /// mornings.
    pub fn assign(&self, count: usize) -> Vec<Share> {
        let quotas = self.quotas(count);
        let mut given = vec![0usize; quotas.len()];
        (0..count)
            .map(|position| {
                // The share furthest behind its even pace, measured at this position.
                let behind =
                    |k: usize| (quotas[k] * (position + 1)) as f64 / count as f64 - given[k] as f64;
                let pick = (0..quotas.len())
                    .filter(|&k| given[k] < quotas[k])
                    .max_by(|&a, &b| behind(a).total_cmp(&behind(b)).then(b.cmp(&a)))
                    .unwrap_or(0);
                given[pick] += 1;
                self.0[pick]
            })
            .collect()
    }

    /// How many of `count` slots each share gets: its percentage, rounded by largest
    /// remainder so that they add up to `count`.
    fn quotas(&self, count: usize) -> Vec<usize> {
        let exact: Vec<usize> = self
            .0
            .iter()
            .map(|s| usize::from(s.percent) * count)
            .collect();
        let mut quotas: Vec<usize> = exact.iter().map(|e| e / 100).collect();
        let mut left = count - quotas.iter().sum::<usize>();
        let mut by_remainder: Vec<usize> = (0..quotas.len()).collect();
        by_remainder.sort_by_key(|&k| (std::cmp::Reverse(exact[k] % 100), k));
        for k in by_remainder {
            if left == 0 {
                break;
            }
            quotas[k] += 1;
            left -= 1;
        }
        quotas
    }
}

impl Share {
    /// When this share's slots of the local day `visit_day` open; `None` when they open with
    /// the publication.
    pub fn opens_at(&self, zone: Tz, visit_day: NaiveDate) -> Option<DateTime<Utc>> {
        let days = self.days_before?;
        let day = visit_day - Duration::days(i64::from(days));
        instant(zone, day, self.at).or_else(|| {
            TimeOfDay::from_minutes(self.at.minutes() + 60)
                .and_then(|later| instant(zone, day, later))
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

    fn share(percent: u8, days_before: Option<u16>) -> Share {
        Share {
            percent,
            days_before,
            at: TimeOfDay::parse("09:00").unwrap(),
        }
    }

    #[test]
    fn shares_of_a_day_are_counted_by_largest_remainder_and_interleaved() {
        let staggered = Staggered::new(vec![
            share(20, None),
            share(50, Some(7)),
            share(30, Some(2)),
        ])
        .unwrap();
        let day = staggered.assign(11);
        let count = |days: Option<u16>| day.iter().filter(|s| s.days_before == days).count();
        assert_eq!((count(None), count(Some(7)), count(Some(2))), (2, 6, 3));
        // Interleaved: the week-ahead share has a morning and an afternoon time.
        assert_eq!(day[0].days_before, Some(7));
        assert!(day[6..].iter().any(|s| s.days_before == Some(7)));
        assert!(day[..6].iter().any(|s| s.days_before == Some(2)));
        assert_eq!(
            Staggered::new(vec![share(60, None), share(30, Some(2))]).unwrap_err(),
            "the percentages must add up to 100"
        );
    }

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
