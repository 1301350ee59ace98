//! The pilot's evaluation: what an office achieved over a period (its staff see it), and every
//! office side by side (administrators, in `national`). Counts come from the database's
//! aggregation (`store::indicators`), the rules that make them indicators from the domain.

pub mod national;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::scope::{Need, staff_office};
use crate::{
    domain::{
        FieldErrors, Parsed,
        catalogue::pick,
        days::{Day, days_after, days_before, end_of_day, start_of_day, today},
        ids::{OfficeId, ServiceId},
        indicators::{Disclosure, Indicators, mean_days, percent},
        office::{OfficeCode, Stage},
        staff::Actor,
    },
    error::Error,
    store::{
        DbConnection, Store, StoreError,
        indicators::{self as counted, Scope},
        offices, services, slots,
    },
};

pub type IndicatorError = Error<std::convert::Infallible>;

/// The period a report covers: a day, week or month around a day, or any range of local days.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// First local day (default: 29 days before `to`)
    #[param(value_type = Option<NaiveDate>)]
    pub from: Option<Day>,
    /// Last local day, included (default: today)
    #[param(value_type = Option<NaiveDate>)]
    pub to: Option<Day>,
    /// Instead of `from` and `to`: the `day`, ISO `week` (Monday to Sunday) or calendar `month`
    /// around `on`
    #[param(value_type = Option<String>, pattern = "^(day|week|month)$")]
    pub period: Option<String>,
    /// The day the period is around (default: today)
    #[param(value_type = Option<NaiveDate>)]
    pub on: Option<Day>,
    /// `json` (default), `csv` for spreadsheets, or `html`: a printable page with charts
    #[param(value_type = Option<String>, pattern = "^(json|csv|html)$")]
    pub format: Option<String>,
}

/// The longest period a report covers.
const LONGEST_DAYS: i64 = 366;

impl PeriodQuery {
    /// The first and last local day, checked; `today` is the office's (or Rome's) today.
    pub fn days(&self, today: NaiveDate, errors: &mut FieldErrors) -> (NaiveDate, NaiveDate) {
        if let Some(period) = &self.period {
            if self.from.is_some() || self.to.is_some() {
                errors.add("period", "give a period, or from and to, not both");
            }
            let on = self.on.map_or(today, Day::get);
            let monday = days_before(on, u64::from(on.weekday().num_days_from_monday()));
            let first_of_month = on.with_day(1).unwrap_or(on);
            let last_of_month = first_of_month
                .checked_add_months(chrono::Months::new(1))
                .map_or(NaiveDate::MAX, |next| days_before(next, 1));
            return match period.as_str() {
                "day" => (on, on),
                "week" => (monday, days_after(monday, 6)),
                "month" => (first_of_month, last_of_month),
                _ => {
                    errors.add("period", "must be day, week or month");
                    (on, on)
                }
            };
        }
        if self.on.is_some() {
            errors.add("on", "goes with a period (day, week or month)");
        }
        let to = self.to.map_or(today, Day::get);
        let from = self.from.map_or_else(|| to - Duration::days(29), Day::get);
        if to < from {
            errors.add("to", "must not be before from");
        } else if (to - from).num_days() >= LONGEST_DAYS {
            errors.add("to", format!("must be within {LONGEST_DAYS} days of from"));
        }
        (from, to)
    }
}

/// The scope of a report over local days `from..=to` in `zone`.
pub(crate) fn scope(
    zone: chrono_tz::Tz,
    (from, to): (NaiveDate, NaiveDate),
    office: Option<crate::domain::ids::OfficeId>,
) -> Scope {
    Scope {
        from,
        to,
        starts: start_of_day(zone, from).naive_utc(),
        ends: end_of_day(zone, to).naive_utc(),
        office,
    }
}

/// Seats and lead time of one service of the office.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceIndicators {
    /// The service's name in Italian.
    pub name: String,
    pub seats_offered: i64,
    pub seats_booked: i64,
    pub utilisation_percent: Option<f64>,
    pub lead_time_samples: i64,
    pub lead_time_mean_days: Option<f64>,
}

/// Seats offered and booked at one local hour of one weekday, over the period.
#[derive(Debug, Serialize, ToSchema, Default)]
pub struct HourSeats {
    pub seats_offered: i64,
    pub seats_booked: i64,
    pub utilisation_percent: Option<f64>,
}

/// An office's report: its indicators over the period, with utilisation by service and by
/// weekday and hour.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfficeReport {
    pub office: String,
    pub office_name: String,
    pub stage: Stage,
    pub timezone: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// What a registered letter is counted at.
    pub letter_cost_eur: f64,
    pub indicators: Indicators,
    /// By appointment type code.
    pub by_service: BTreeMap<String, ServiceIndicators>,
    /// By ISO weekday and local hour: `mon-09` is Mondays from 09:00 to 09:59.
    pub by_weekday_hour: BTreeMap<String, HourSeats>,
    pub generated_at: DateTime<Utc>,
}

/// Weekday names as `by_weekday_hour` keys them.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The office's indicators over the period. Staff of the office (all roles) and admins.
pub async fn office_report(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    query: Parsed<PeriodQuery>,
    letter_cost_cents: i64,
    now: DateTime<Utc>,
) -> Result<OfficeReport, IndicatorError> {
    let (query, mut errors) = query.into_parts();
    store
        .read(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let zone = office.details.timezone;
            let days = query.days(today(zone, now), &mut errors);
            errors.or_value(())?;
            let scope = scope(zone, days, Some(office.id));
            let tally = counted::tallies(conn, &scope)?
                .remove(&office.id)
                .unwrap_or_default();
            let names: BTreeMap<_, _> = services::list(conn, office.id)?
                .into_iter()
                .map(|s| {
                    let name = pick(&s.appointment_type.texts.names, "it").cloned();
                    (
                        s.id,
                        (
                            s.appointment_type.code.to_string(),
                            name.unwrap_or_default(),
                        ),
                    )
                })
                .collect();
            let mut by_service = BTreeMap::new();
            for (id, seats) in counted::by_service(conn, &scope)? {
                let Some((code, name)) = names.get(&id).cloned() else {
                    continue;
                };
                let mean = mean_days(seats.lead_minutes_total, seats.lead_samples_with_seat);
                by_service.insert(
                    code,
                    ServiceIndicators {
                        name,
                        seats_offered: seats.offered,
                        seats_booked: seats.booked,
                        utilisation_percent: percent(seats.booked, seats.offered),
                        lead_time_samples: seats.lead_samples,
                        lead_time_mean_days: mean,
                    },
                );
            }
            let mut by_weekday_hour: BTreeMap<String, HourSeats> = BTreeMap::new();
            for seats in counted::by_start(conn, &scope)? {
                let weekday = seats.local_date.weekday().num_days_from_monday() as usize;
                let hour = seats.starts_at.and_utc().with_timezone(&zone).format("%H");
                let key = format!("{}-{hour}", WEEKDAYS[weekday]);
                let cell = by_weekday_hour.entry(key).or_default();
                cell.seats_offered += seats.offered;
                cell.seats_booked += seats.booked;
            }
            for cell in by_weekday_hour.values_mut() {
                cell.utilisation_percent = percent(cell.seats_booked, cell.seats_offered);
            }
            Ok(OfficeReport {
                office: office.code.to_string(),
                office_name: office.details.name.clone(),
                stage: office.stage,
                timezone: zone.name().to_owned(),
                from: days.0,
                to: days.1,
                letter_cost_eur: letter_cost_cents as f64 / 100.0,
                indicators: Indicators::of(&tally, letter_cost_cents, Disclosure::Exact),
                by_service,
                by_weekday_hour,
                generated_at: now,
            })
        })
        .await
}

/// A service of a public office that has no lead-time sample for its office's local day yet,
/// and the window its first free web seat is looked for in (notice to horizon).
struct DueSample {
    office: OfficeId,
    service: ServiceId,
    on: NaiveDate,
    window: (DateTime<Utc>, DateTime<Utc>),
}

/// The day's lead-time sample of every active service of the offices open to the public: how
/// far ahead its first free web seat is. Once a day per service, whichever instance comes
/// first; returns how many were taken. Every housekeeping round asks, so the asking only reads:
/// a write transaction opens only on the round that has samples to take.
pub async fn sample_lead_times(store: &Store, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let due = store.read(move |conn| due_samples(conn, now)).await?;
    if due.is_empty() {
        return Ok(0);
    }
    store
        .write(move |conn| -> Result<usize, StoreError> {
            let mut taken = 0;
            for due in due {
                // Another instance may have taken it since the read.
                if counted::sampled(conn, (due.office, due.service), due.on)? {
                    continue;
                }
                let (from, to) = due.window;
                let first =
                    slots::first_web_bookable(conn, due.office, due.service, from, to, now)?
                        .map(|slot| slot.time.starts_at);
                counted::sample(conn, (due.office, due.service), due.on, first, now)?;
                taken += 1;
            }
            Ok(taken)
        })
        .await
}

fn due_samples(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Vec<DueSample>, StoreError> {
    let mut due = Vec::new();
    for office in offices::list(conn, Some(&[Stage::Pilot, Stage::Live]), None)? {
        let on = today(office.details.timezone, now);
        for service in services::list(conn, office.id)? {
            if !service.active || counted::sampled(conn, (service.office_id, service.id), on)? {
                continue;
            }
            let settings = &service.settings;
            due.push(DueSample {
                office: office.id,
                service: service.id,
                on,
                window: (
                    now + Duration::hours(i64::from(settings.min_notice_hours)),
                    now + Duration::days(i64::from(settings.horizon_days)),
                ),
            });
        }
    }
    Ok(due)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(period: &str, on: &str) -> PeriodQuery {
        PeriodQuery {
            from: None,
            to: None,
            period: Some(period.into()),
            on: Some(Day::parse(on).unwrap()),
            format: None,
        }
    }

    #[test]
    fn a_period_is_the_day_week_or_month_around_a_day() {
        let today = NaiveDate::from_ymd_opt(2027, 3, 10).unwrap();
        let mut errors = FieldErrors::new();
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            query("week", "2027-03-10").days(today, &mut errors),
            (day(2027, 3, 8), day(2027, 3, 14))
        );
        assert_eq!(
            query("month", "2028-02-10").days(today, &mut errors),
            (day(2028, 2, 1), day(2028, 2, 29))
        );
        assert!(errors.is_empty());
        query("year", "2027-03-10").days(today, &mut errors);
        assert_eq!(errors.as_slice()[0].field, "period");
    }
}
