//! Keeping seats for people who come: reconfirmation (asked some days before the visit, the
//! seat released when nobody answers) and the no-show rule (a case that missed too many visits
//! books only at the desk for a while). Both optional, per office service.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::FieldErrors;

/// When an applicant is asked to reconfirm, and when an unconfirmed seat is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reconfirmation {
    /// Days before the visit the applicant is asked (by mail) to reconfirm.
    #[schema(minimum = 1, maximum = 30, example = 3)]
    pub ask_days_before: i32,
    /// Hours before the visit a booking not reconfirmed is released (and the applicant told).
    #[schema(minimum = 1, maximum = 719, example = 24)]
    pub release_hours_before: i32,
}

impl Reconfirmation {
    /// When the applicant of a visit at `starts_at` is asked.
    pub fn asks_at(&self, starts_at: DateTime<Utc>) -> DateTime<Utc> {
        starts_at - Duration::days(i64::from(self.ask_days_before))
    }

    /// When the visit at `starts_at` is released if not reconfirmed.
    pub fn releases_at(&self, starts_at: DateTime<Utc>) -> DateTime<Utc> {
        starts_at - Duration::hours(i64::from(self.release_hours_before))
    }

    pub fn check(&self, errors: &mut FieldErrors) {
        if !(1..=30).contains(&self.ask_days_before) {
            errors.add("reconfirmation.ask_days_before", "must be from 1 to 30");
        } else if !(1..self.ask_days_before * 24).contains(&self.release_hours_before) {
            let message = format!(
                "must be from 1 to {}: the applicant is asked first",
                self.ask_days_before * 24 - 1
            );
            errors.add("reconfirmation.release_hours_before", message);
        }
    }
}

/// After `limit` no-shows within `within_days`, a case books only at the desk for
/// `desk_only_days` after the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoShowRule {
    #[schema(minimum = 1, maximum = 20, example = 2)]
    pub limit: i32,
    #[schema(minimum = 1, maximum = 730, example = 180)]
    pub within_days: i32,
    #[schema(minimum = 1, maximum = 730, example = 90)]
    pub desk_only_days: i32,
}

impl NoShowRule {
    pub fn check(&self, errors: &mut FieldErrors) {
        if !(1..=20).contains(&self.limit) {
            errors.add("no_show_rule.limit", "must be from 1 to 20");
        }
        if !(1..=730).contains(&self.within_days) {
            errors.add("no_show_rule.within_days", "must be from 1 to 730");
        }
        if !(1..=730).contains(&self.desk_only_days) {
            errors.add("no_show_rule.desk_only_days", "must be from 1 to 730");
        }
    }

    /// Since when no-shows count at `now`.
    pub fn counts_since(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::days(i64::from(self.within_days))
    }

    /// Until when a case whose counted no-shows (the visits' times, any order) are `missed` may
    /// book only at the desk; `None` when it may book online.
    pub fn desk_only_until(
        &self,
        missed: &[DateTime<Utc>],
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let since = self.counts_since(now);
        let counted: Vec<_> = missed
            .iter()
            .filter(|at| **at >= since && **at <= now)
            .collect();
        if counted.len() < usize::try_from(self.limit).unwrap_or(usize::MAX) {
            return None;
        }
        let last = **counted.iter().max()?;
        let until = last + Duration::days(i64::from(self.desk_only_days));
        (until > now).then_some(until)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, d, 9, 0, 0).unwrap()
    }

    #[test]
    fn the_applicant_is_asked_days_before_and_released_hours_before() {
        let rule = Reconfirmation {
            ask_days_before: 3,
            release_hours_before: 24,
        };
        assert_eq!(rule.asks_at(day(10)), day(7));
        assert_eq!(rule.releases_at(day(10)), day(9));
        let mut errors = FieldErrors::new();
        Reconfirmation {
            ask_days_before: 1,
            release_hours_before: 24,
        }
        .check(&mut errors);
        assert!(!errors.is_empty(), "released no sooner than asked");
    }

    #[test]
    fn a_case_books_at_the_desk_only_after_the_limit_and_for_a_while() {
        let rule = NoShowRule {
            limit: 2,
            within_days: 30,
            desk_only_days: 10,
        };
        assert_eq!(rule.desk_only_until(&[day(1)], day(5)), None);
        assert_eq!(
            rule.desk_only_until(&[day(1), day(3)], day(5)),
            Some(day(13))
        );
        assert_eq!(
            rule.desk_only_until(&[day(1), day(3)], day(14)),
            None,
            "over"
        );
        let old = day(1) - Duration::days(40);
        assert_eq!(
            rule.desk_only_until(&[old, day(3)], day(5)),
            None,
            "too old"
        );
    }
}
