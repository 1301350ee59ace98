//! Intermediaries (patronati, associations, employers' consultants): accredited per office,
//! they book for their clients within quotas, so that no agency can corner an office's seats.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::booking::Refusal;

/// What an accreditation allows at one office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Bookings of the intermediary's clients active at once.
    pub max_active: i64,
    /// Bookings made in one week (Monday to Sunday, office time).
    pub max_per_week: i64,
}

/// The largest quota an admin may set: more is not a quota.
pub const MAX_QUOTA: i64 = 100_000;

impl Quota {
    /// Whether one more booking fits, given the active bookings and those made this week.
    pub fn admits(&self, active: i64, this_week: i64) -> Result<(), Refusal> {
        if active >= self.max_active {
            return Err(Refusal::QuotaReached {
                limit: self.max_active,
                per_week: false,
            });
        }
        if this_week >= self.max_per_week {
            return Err(Refusal::QuotaReached {
                limit: self.max_per_week,
                per_week: true,
            });
        }
        Ok(())
    }
}

/// When the office's week that holds `now` began: Monday 00:00 office time (or the first
/// instant of that Monday, should the clocks skip midnight).
pub fn week_start(now: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
    let local = now.with_timezone(&zone).date_naive();
    let monday = local - Duration::days(i64::from(local.weekday().num_days_from_monday()));
    let midnight = monday.and_time(NaiveTime::MIN);
    zone.from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(midnight + Duration::hours(1)))
                .earliest()
        })
        .map(|start| start.with_timezone(&Utc))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_admits_up_to_its_limits_and_names_the_one_reached() {
        let quota = Quota {
            max_active: 3,
            max_per_week: 5,
        };
        assert!(quota.admits(2, 4).is_ok());
        assert_eq!(
            quota.admits(3, 0),
            Err(Refusal::QuotaReached {
                limit: 3,
                per_week: false
            })
        );
        assert_eq!(
            quota.admits(0, 5),
            Err(Refusal::QuotaReached {
                limit: 5,
                per_week: true
            })
        );
    }

    #[test]
    fn the_week_begins_on_monday_at_midnight_in_rome() {
        let rome = chrono_tz::Europe::Rome;
        // Sunday 29 March 2026 at 12:00 in Rome (the clocks went forward that night).
        let sunday = rome.with_ymd_and_hms(2026, 3, 29, 12, 0, 0).unwrap();
        let start = week_start(sunday.with_timezone(&Utc), rome);
        let monday = rome.with_ymd_and_hms(2026, 3, 23, 0, 0, 0).unwrap();
        assert_eq!(start, monday.with_timezone(&Utc));
        // Monday midnight itself opens a new week.
        let next = rome.with_ymd_and_hms(2026, 3, 30, 0, 0, 0).unwrap();
        assert_eq!(week_start(next.with_timezone(&Utc), rome), next);
    }
}
