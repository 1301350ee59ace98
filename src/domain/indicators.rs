//! What an office achieved over a period, from the stored records' counts: the rules that turn
//! counts into indicators (rates, medians, money saved), the national view's protection of
//! small counts, and the one flat list of named values every format (JSON, CSV, HTML) shows.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        RefOr, Schema,
        schema::{ObjectBuilder, OneOfBuilder, Type},
    },
};

/// Counts below this are shown as "< 5" in the national view, so that no one applicant can be
/// picked out.
pub const SMALL: i64 = 5;

/// A count as shown: exact, or "< 5" where it is small and the view is national.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Exact(i64),
    Few,
}

impl Count {
    pub fn exact(self) -> Option<i64> {
        match self {
            Count::Exact(n) => Some(n),
            Count::Few => None,
        }
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Count::Exact(n) => serializer.serialize_i64(*n),
            Count::Few => serializer.serialize_str("< 5"),
        }
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Count::Exact(n) => n.fmt(f),
            Count::Few => f.write_str("< 5"),
        }
    }
}

impl PartialSchema for Count {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["< 5"])),
            )
            .description(Some(
                "A count; in the national view a count from 1 to 4 is \"< 5\"",
            ))
            .into()
    }
}

impl ToSchema for Count {}

/// The counts an office's records give for a period; they add up across offices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Bookings for visits in the period by channel: web, desk, intermediary, invitation.
    pub by_channel: [i64; 4],
    pub cancelled_by_applicant: i64,
    pub cancelled_by_office: i64,
    pub moves: i64,
    pub attended: i64,
    pub no_shows: i64,
    pub seats_offered: i64,
    pub seats_booked: i64,
    /// Whole days from booking to visit → how many bookings (cancelled ones left out).
    pub days_to_visit: BTreeMap<i64, i64>,
    pub lead_samples: i64,
    pub lead_samples_with_seat: i64,
    pub lead_minutes_total: i64,
    pub lead_minutes_longest: Option<i64>,
    /// Waitlist requests made in the period, by status.
    pub waitlist: BTreeMap<String, i64>,
    /// Lottery entries of draws closing in the period, by status.
    pub lottery: BTreeMap<String, i64>,
    pub mail_queued: i64,
    pub mail_sent: i64,
    pub mail_failed: i64,
    pub mail_bounced: i64,
    pub letters_replaced: i64,
    pub surveys_sent: i64,
    pub surveys_answered: i64,
    /// Answers by rating, 1 to 5.
    pub ratings: [i64; 5],
    pub had_documents: i64,
    /// Answers by desk wait: under 15, 15–30, 30–60, over 60 minutes.
    pub desk_waits: [i64; 4],
}

impl Tally {
    pub fn add(&mut self, other: &Tally) {
        let pairs = |a: &mut [i64], b: &[i64]| a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        pairs(&mut self.by_channel, &other.by_channel);
        pairs(&mut self.ratings, &other.ratings);
        pairs(&mut self.desk_waits, &other.desk_waits);
        self.cancelled_by_applicant += other.cancelled_by_applicant;
        self.cancelled_by_office += other.cancelled_by_office;
        self.moves += other.moves;
        self.attended += other.attended;
        self.no_shows += other.no_shows;
        self.seats_offered += other.seats_offered;
        self.seats_booked += other.seats_booked;
        for (days, n) in &other.days_to_visit {
            *self.days_to_visit.entry(*days).or_default() += n;
        }
        self.lead_samples += other.lead_samples;
        self.lead_samples_with_seat += other.lead_samples_with_seat;
        self.lead_minutes_total += other.lead_minutes_total;
        self.lead_minutes_longest = self.lead_minutes_longest.max(other.lead_minutes_longest);
        for (status, n) in &other.waitlist {
            *self.waitlist.entry(status.clone()).or_default() += n;
        }
        for (status, n) in &other.lottery {
            *self.lottery.entry(status.clone()).or_default() += n;
        }
        self.mail_queued += other.mail_queued;
        self.mail_sent += other.mail_sent;
        self.mail_failed += other.mail_failed;
        self.mail_bounced += other.mail_bounced;
        self.letters_replaced += other.letters_replaced;
        self.surveys_sent += other.surveys_sent;
        self.surveys_answered += other.surveys_answered;
        self.had_documents += other.had_documents;
    }

    fn answers(&self) -> i64 {
        self.ratings.iter().sum()
    }
}

/// The median of values given as value → how many; the mean of the middle two for an even
/// count. `None` when there are none.
pub fn median(histogram: &BTreeMap<i64, i64>) -> Option<f64> {
    let total: i64 = histogram.values().sum();
    if total <= 0 {
        return None;
    }
    let value_at = |position: i64| {
        let mut seen = 0;
        for (value, n) in histogram {
            seen += n;
            if seen > position {
                return *value;
            }
        }
        0
    };
    let (low, high) = (value_at((total - 1) / 2), value_at(total / 2));
    Some((low + high) as f64 / 2.0)
}

/// A value rounded to `decimals` places: what every format shows.
fn rounded(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// `part / whole` as a percentage with one decimal; `None` when the whole is nothing.
pub fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| rounded(part as f64 * 100.0 / whole as f64, 1))
}

/// The mean of `samples` lead times totalling `total_minutes`, in days with one decimal.
pub fn mean_days(total_minutes: i64, samples: i64) -> Option<f64> {
    (samples > 0).then(|| rounded(total_minutes as f64 / samples as f64 / 1440.0, 1))
}

/// How counts are shown: exactly (an office's own report), or with small ones hidden (the
/// national view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    Exact,
    National,
}

impl Disclosure {
    fn count(self, n: i64) -> Count {
        match self {
            Disclosure::National if (1..SMALL).contains(&n) => Count::Few,
            _ => Count::Exact(n),
        }
    }

    /// A figure computed from `basis` counts, hidden with them.
    fn figure(self, value: Option<f64>, basis: i64) -> Option<f64> {
        match self.count(basis) {
            Count::Few => None,
            Count::Exact(_) => value,
        }
    }
}

/// Bookings for visits in the period, by how they were made.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ByChannel {
    pub web: Count,
    pub desk: Count,
    /// By an accredited intermediary.
    pub intermediary: Count,
    /// Through the office's invitation.
    pub invitation: Count,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cancelled {
    pub by_applicant: Count,
    pub by_office: Count,
}

/// The first free web seat of each service, sampled once a day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadTime {
    pub samples: Count,
    /// Mean days to the first free seat, over the samples that found one.
    pub mean_days: Option<f64>,
    pub longest_days: Option<f64>,
    /// Samples that found no free seat within the service's horizon.
    pub without_free_seat: Count,
}

/// Waitlist requests made in the period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WaitlistOutcomes {
    pub joined: Count,
    /// Moved to an earlier seat (or booked, for a lottery entry).
    pub served: Count,
    pub still_waiting: Count,
    pub withdrawn: Count,
    /// Offered the most times without taking one.
    pub exhausted: Count,
}

/// Entries of the lottery draws that closed in the period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LotteryOutcomes {
    pub entries: Count,
    pub won: Count,
    pub lost: Count,
}

/// Mail queued in the period and where it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MailDelivery {
    pub queued: Count,
    pub sent: Count,
    /// Given up after the last attempt.
    pub failed: Count,
    /// Refused for good by the recipient's server.
    pub bounced: Count,
}

/// Answers by how long the applicant waited at the desk.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeskWaits {
    pub under_15: Count,
    pub from_15_to_30: Count,
    pub from_30_to_60: Count,
    pub over_60: Count,
}

/// Answers by rating.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ratings {
    #[serde(rename = "1")]
    pub one: Count,
    #[serde(rename = "2")]
    pub two: Count,
    #[serde(rename = "3")]
    pub three: Count,
    #[serde(rename = "4")]
    pub four: Count,
    #[serde(rename = "5")]
    pub five: Count,
}

/// The applicants' verdict on visits in the period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Satisfaction {
    pub surveys_sent: Count,
    pub answers: Count,
    pub response_rate_percent: Option<f64>,
    /// 1 to 5.
    pub mean_rating: Option<f64>,
    pub ratings: Ratings,
    /// Answers saying they had every document they needed.
    pub had_documents_percent: Option<f64>,
    pub desk_wait: DeskWaits,
}

/// What an office achieved over a period. Visits count on the local day of the visit; mail on
/// the day it was queued; lead time on the day it was sampled.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Indicators {
    /// Bookings for visits in the period (test bookings left out), whatever became of them.
    pub bookings: Count,
    pub by_channel: ByChannel,
    pub cancelled: Cancelled,
    /// Moves to another time, by the applicant or the office.
    pub moves: Count,
    pub attended: Count,
    pub no_shows: Count,
    /// No-shows among visits that were due and marked (attended + no-shows).
    pub no_show_rate_percent: Option<f64>,
    /// Seats of the published slots (blocked slots offer none).
    pub seats_offered: Count,
    /// Of those, seats held by a visit that was not cancelled.
    pub seats_booked: Count,
    pub utilisation_percent: Option<f64>,
    /// Median whole days between booking and visit (cancelled bookings left out).
    pub median_days_to_visit: Option<f64>,
    pub lead_time: LeadTime,
    pub waitlist: WaitlistOutcomes,
    pub lottery: LotteryOutcomes,
    pub mail: MailDelivery,
    /// Confirmations and invitations delivered by mail, each once a registered letter.
    pub letters_replaced: Count,
    /// Letters replaced × the cost of a registered letter, in euros.
    pub money_saved_eur: Option<f64>,
    pub satisfaction: Satisfaction,
}

impl Indicators {
    /// The indicators of `tally`, with a registered letter costing `letter_cost_cents`.
    pub fn of(tally: &Tally, letter_cost_cents: i64, disclosure: Disclosure) -> Indicators {
        let c = |n: i64| disclosure.count(n);
        let bookings: i64 = tally.by_channel.iter().sum();
        let marked = tally.attended + tally.no_shows;
        let waitlist = |statuses: &[&str]| -> i64 {
            statuses.iter().filter_map(|s| tally.waitlist.get(*s)).sum()
        };
        let lottery = |status: &str| tally.lottery.get(status).copied().unwrap_or(0);
        let answers = tally.answers();
        let rating_sum: i64 = (1..).zip(tally.ratings).map(|(r, n)| r * n).sum();
        Indicators {
            bookings: c(bookings),
            by_channel: ByChannel {
                web: c(tally.by_channel[0]),
                desk: c(tally.by_channel[1]),
                intermediary: c(tally.by_channel[2]),
                invitation: c(tally.by_channel[3]),
            },
            cancelled: Cancelled {
                by_applicant: c(tally.cancelled_by_applicant),
                by_office: c(tally.cancelled_by_office),
            },
            moves: c(tally.moves),
            attended: c(tally.attended),
            no_shows: c(tally.no_shows),
            no_show_rate_percent: disclosure
                .figure(percent(tally.no_shows, marked), tally.no_shows),
            seats_offered: c(tally.seats_offered),
            seats_booked: c(tally.seats_booked),
            utilisation_percent: percent(tally.seats_booked, tally.seats_offered),
            median_days_to_visit: disclosure.figure(
                median(&tally.days_to_visit),
                tally.days_to_visit.values().sum(),
            ),
            lead_time: LeadTime {
                samples: Count::Exact(tally.lead_samples),
                mean_days: mean_days(tally.lead_minutes_total, tally.lead_samples_with_seat),
                longest_days: tally
                    .lead_minutes_longest
                    .and_then(|minutes| mean_days(minutes, 1)),
                without_free_seat: Count::Exact(tally.lead_samples - tally.lead_samples_with_seat),
            },
            waitlist: WaitlistOutcomes {
                joined: c(tally.waitlist.values().sum()),
                served: c(waitlist(&["moved", "booked"])),
                still_waiting: c(waitlist(&["waiting", "offered"])),
                withdrawn: c(waitlist(&["withdrawn"])),
                exhausted: c(waitlist(&["exhausted"])),
            },
            lottery: LotteryOutcomes {
                entries: c(tally.lottery.values().sum()),
                won: c(lottery("won")),
                lost: c(lottery("lost")),
            },
            mail: MailDelivery {
                queued: c(tally.mail_queued),
                sent: c(tally.mail_sent),
                failed: c(tally.mail_failed),
                bounced: c(tally.mail_bounced),
            },
            letters_replaced: c(tally.letters_replaced),
            money_saved_eur: disclosure.figure(
                Some(rounded(
                    (tally.letters_replaced * letter_cost_cents) as f64 / 100.0,
                    2,
                )),
                tally.letters_replaced,
            ),
            satisfaction: Satisfaction {
                surveys_sent: c(tally.surveys_sent),
                answers: c(answers),
                response_rate_percent: disclosure
                    .figure(percent(tally.surveys_answered, tally.surveys_sent), answers),
                mean_rating: disclosure.figure(
                    (answers > 0).then(|| rounded(rating_sum as f64 / answers as f64, 2)),
                    answers,
                ),
                ratings: Ratings {
                    one: c(tally.ratings[0]),
                    two: c(tally.ratings[1]),
                    three: c(tally.ratings[2]),
                    four: c(tally.ratings[3]),
                    five: c(tally.ratings[4]),
                },
                had_documents_percent: disclosure
                    .figure(percent(tally.had_documents, answers), answers),
                desk_wait: DeskWaits {
                    under_15: c(tally.desk_waits[0]),
                    from_15_to_30: c(tally.desk_waits[1]),
                    from_30_to_60: c(tally.desk_waits[2]),
                    over_60: c(tally.desk_waits[3]),
                },
            },
        }
    }

    /// Every indicator by its path in the JSON (`by_channel.web`), in the order reports show
    /// them: CSV columns, HTML tables, medians and rankings all read this one list.
    pub fn rows(&self) -> Vec<(&'static str, Value)> {
        use Value::{Number as N, Of as C};
        let s = &self.satisfaction;
        vec![
            ("bookings", C(self.bookings)),
            ("by_channel.web", C(self.by_channel.web)),
            ("by_channel.desk", C(self.by_channel.desk)),
            ("by_channel.intermediary", C(self.by_channel.intermediary)),
            ("by_channel.invitation", C(self.by_channel.invitation)),
            ("cancelled.by_applicant", C(self.cancelled.by_applicant)),
            ("cancelled.by_office", C(self.cancelled.by_office)),
            ("moves", C(self.moves)),
            ("attended", C(self.attended)),
            ("no_shows", C(self.no_shows)),
            ("no_show_rate_percent", N(self.no_show_rate_percent)),
            ("seats_offered", C(self.seats_offered)),
            ("seats_booked", C(self.seats_booked)),
            ("utilisation_percent", N(self.utilisation_percent)),
            ("median_days_to_visit", N(self.median_days_to_visit)),
            ("lead_time.samples", C(self.lead_time.samples)),
            ("lead_time.mean_days", N(self.lead_time.mean_days)),
            ("lead_time.longest_days", N(self.lead_time.longest_days)),
            (
                "lead_time.without_free_seat",
                C(self.lead_time.without_free_seat),
            ),
            ("waitlist.joined", C(self.waitlist.joined)),
            ("waitlist.served", C(self.waitlist.served)),
            ("waitlist.still_waiting", C(self.waitlist.still_waiting)),
            ("waitlist.withdrawn", C(self.waitlist.withdrawn)),
            ("waitlist.exhausted", C(self.waitlist.exhausted)),
            ("lottery.entries", C(self.lottery.entries)),
            ("lottery.won", C(self.lottery.won)),
            ("lottery.lost", C(self.lottery.lost)),
            ("mail.queued", C(self.mail.queued)),
            ("mail.sent", C(self.mail.sent)),
            ("mail.failed", C(self.mail.failed)),
            ("mail.bounced", C(self.mail.bounced)),
            ("letters_replaced", C(self.letters_replaced)),
            ("money_saved_eur", N(self.money_saved_eur)),
            ("satisfaction.surveys_sent", C(s.surveys_sent)),
            ("satisfaction.answers", C(s.answers)),
            (
                "satisfaction.response_rate_percent",
                N(s.response_rate_percent),
            ),
            ("satisfaction.mean_rating", N(s.mean_rating)),
            ("satisfaction.ratings.1", C(s.ratings.one)),
            ("satisfaction.ratings.2", C(s.ratings.two)),
            ("satisfaction.ratings.3", C(s.ratings.three)),
            ("satisfaction.ratings.4", C(s.ratings.four)),
            ("satisfaction.ratings.5", C(s.ratings.five)),
            (
                "satisfaction.had_documents_percent",
                N(s.had_documents_percent),
            ),
            ("satisfaction.desk_wait.under_15", C(s.desk_wait.under_15)),
            (
                "satisfaction.desk_wait.from_15_to_30",
                C(s.desk_wait.from_15_to_30),
            ),
            (
                "satisfaction.desk_wait.from_30_to_60",
                C(s.desk_wait.from_30_to_60),
            ),
            ("satisfaction.desk_wait.over_60", C(s.desk_wait.over_60)),
        ]
    }
}

/// One indicator's value, as every format shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Of(Count),
    /// A rate, mean or amount; `None` where there is nothing to compute it from (or it would
    /// reveal a small count).
    Number(Option<f64>),
}

impl Value {
    /// The value as a number, where it is one.
    pub fn number(self) -> Option<f64> {
        match self {
            Value::Of(count) => count.exact().map(|n| n as f64),
            Value::Number(number) => number,
        }
    }
}

impl std::fmt::Display for Value {
    /// As CSV and HTML show it: the number as JSON writes it, "< 5", or nothing.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Of(count) => count.fmt(f),
            Value::Number(Some(number)) => f.write_str(&json_number(*number)),
            Value::Number(None) => Ok(()),
        }
    }
}

/// A number written as the JSON writes it (`100.0`, `33.3`), for the formats that show it as
/// text.
pub fn json_number(number: f64) -> String {
    serde_json::Number::from_f64(number).map_or_else(String::new, |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_a_histogram_takes_the_middle_two_when_even() {
        let odd = BTreeMap::from([(1, 2), (10, 1)]);
        assert_eq!(median(&odd), Some(1.0));
        let even = BTreeMap::from([(2, 1), (3, 1), (7, 1), (30, 1)]);
        assert_eq!(median(&even), Some(5.0));
        assert_eq!(median(&BTreeMap::new()), None);
    }

    #[test]
    fn the_national_view_hides_small_counts_and_what_they_would_reveal() {
        let tally = Tally {
            by_channel: [20, 3, 0, 0],
            attended: 19,
            no_shows: 3,
            letters_replaced: 4,
            ..Tally::default()
        };
        let national = Indicators::of(&tally, 635, Disclosure::National);
        assert_eq!(national.by_channel.web, Count::Exact(20));
        assert_eq!(national.by_channel.desk, Count::Few);
        assert_eq!(national.by_channel.intermediary, Count::Exact(0));
        assert_eq!(national.no_show_rate_percent, None);
        assert_eq!(national.money_saved_eur, None);
        let own = Indicators::of(&tally, 635, Disclosure::Exact);
        assert_eq!(own.no_show_rate_percent, Some(13.6));
        assert_eq!(own.money_saved_eur, Some(25.4));
        assert_eq!(
            serde_json::to_value(national.by_channel.desk).unwrap(),
            "< 5"
        );
    }
}
