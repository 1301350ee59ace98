//! The earlier-slot waitlist's rules: what range an applicant may wait for, and when the
//! waitlist may make a booking another offer (at most one a day, a few in all: an applicant
//! is told of a seat, not flooded with them).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{FieldErrors, Named};

/// The furthest apart the days of a wait may be.
pub const MAX_RANGE_DAYS: i64 = 366;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// In the queue for a seat.
    Waiting,
    /// A seat is held for it: the applicant accepts or declines.
    Offered,
    /// An offer was accepted: the booking moved to the earlier seat.
    Moved,
    /// An offer was accepted: the lottery entry that waited is booked there.
    Booked,
    /// The applicant left the waitlist (or the booking was cancelled or changed).
    Withdrawn,
    /// Every offer it may have was made.
    Exhausted,
}

impl Named for RequestStatus {
    const ALL: &'static [RequestStatus] = &[
        RequestStatus::Waiting,
        RequestStatus::Offered,
        RequestStatus::Moved,
        RequestStatus::Booked,
        RequestStatus::Withdrawn,
        RequestStatus::Exhausted,
    ];

    fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Waiting => "waiting",
            RequestStatus::Offered => "offered",
            RequestStatus::Moved => "moved",
            RequestStatus::Booked => "booked",
            RequestStatus::Withdrawn => "withdrawn",
            RequestStatus::Exhausted => "exhausted",
        }
    }
}

/// Where an offer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfferStatus {
    Open,
    Accepted,
    Declined,
    /// Not answered in time: the seat passed on.
    Expired,
}

impl Named for OfferStatus {
    const ALL: &'static [OfferStatus] = &[
        OfferStatus::Open,
        OfferStatus::Accepted,
        OfferStatus::Declined,
        OfferStatus::Expired,
    ];

    fn as_str(self) -> &'static str {
        match self {
            OfferStatus::Open => "open",
            OfferStatus::Accepted => "accepted",
            OfferStatus::Declined => "declined",
            OfferStatus::Expired => "expired",
        }
    }
}

/// The local days a booking waits for an earlier seat in: from `earliest` (not before today)
/// to `latest` (before the day of the visit it has, or the seat would not be earlier).
pub fn check_range(
    earliest: NaiveDate,
    latest: NaiveDate,
    today: NaiveDate,
    visit_day: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), FieldErrors> {
    let mut errors = FieldErrors::new();
    if earliest < today {
        errors.add("earliest_day", "must not be in the past");
    }
    if latest < earliest {
        errors.add("latest_day", "must not be before earliest_day");
    } else if latest - earliest > Duration::days(MAX_RANGE_DAYS) {
        errors.add(
            "latest_day",
            format!("must be within {MAX_RANGE_DAYS} days of earliest_day"),
        );
    }
    if latest > visit_day {
        errors.add(
            "latest_day",
            "must not be after the day of the visit you have",
        );
    }
    errors.or_value((earliest, latest))
}

/// Whether a request may be offered a seat at `now`: fewer than `max_offers` made, and none
/// yet on the office's day of `now`.
pub fn may_offer(
    offers_made: i32,
    last_offer_at: Option<DateTime<Utc>>,
    max_offers: i32,
    now: DateTime<Utc>,
    zone: Tz,
) -> bool {
    let today = now.with_timezone(&zone).date_naive();
    let offered_today =
        last_offer_at.is_some_and(|at| at.with_timezone(&zone).date_naive() == today);
    offers_made < max_offers && !offered_today
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 9, d).unwrap()
    }

    #[test]
    fn a_wait_is_for_days_from_today_up_to_the_visit() {
        assert!(check_range(day(2), day(10), day(1), day(14)).is_ok());
        let fields = |e: FieldErrors| {
            e.into_vec()
                .into_iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fields(check_range(day(1), day(10), day(2), day(14)).unwrap_err()),
            ["earliest_day"]
        );
        assert_eq!(
            fields(check_range(day(10), day(5), day(1), day(14)).unwrap_err()),
            ["latest_day"]
        );
        assert_eq!(
            fields(check_range(day(2), day(20), day(1), day(14)).unwrap_err()),
            ["latest_day"]
        );
    }

    #[test]
    fn one_offer_a_day_in_the_office_time_zone_and_no_more_than_the_cap() {
        let rome = chrono_tz::Europe::Rome;
        let at = |h: u32| {
            rome.with_ymd_and_hms(2026, 9, 7, h, 0, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        assert!(may_offer(0, None, 3, at(9), rome));
        assert!(!may_offer(1, Some(at(0)), 3, at(23), rome));
        // 23:30 UTC on the 6th is 01:30 on the 7th in Rome: the same office day.
        let late = Utc.with_ymd_and_hms(2026, 9, 6, 23, 30, 0).unwrap();
        assert!(!may_offer(1, Some(late), 3, at(9), rome));
        let next_day = at(9) + Duration::days(1);
        assert!(may_offer(1, Some(at(9)), 3, next_day, rome));
        assert!(!may_offer(3, Some(at(9)), 3, next_day, rome));
    }
}
