//! Every office side by side, for administrators: the same indicators, ranked, with the
//! national median; the pilot offices against the rest; and before and after a chosen day (a
//! go-live). Counts from 1 to 4 show as "< 5".

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{IndicatorError, PeriodQuery, scope};
use crate::{
    domain::{
        Parsed,
        comparison::{median_of, ranks},
        days::{Day, days_before, today},
        indicators::{Disclosure, Indicators, Tally},
        office::{OfficeCode, Stage},
        staff::Actor,
    },
    store::{DbConnection, Store, StoreError, indicators as counted, offices},
};

/// What the national view compares on, and over which period (the period's parameters are the
/// office report's).
#[derive(Deserialize)]
pub struct NationalQuery {
    #[serde(flatten)]
    pub period: PeriodQuery,
    #[serde(flatten)]
    pub comparison: Comparison,
}

/// How offices are compared.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Comparison {
    /// The indicator offices are ranked by, as named in `indicators` (default
    /// `utilisation_percent`); rates of trouble (no-shows, cancellations, waiting) rank lowest
    /// first
    #[param(example = "utilisation_percent")]
    pub rank_by: Option<String>,
    /// Office codes of the pilot group, comma-separated (default: offices in stage `pilot`)
    #[param(example = "RM,LT")]
    pub pilot: Option<String>,
    /// A day within the period (a go-live): the groups are also compared before it and from it
    #[param(value_type = Option<NaiveDate>)]
    pub split: Option<Day>,
}

impl IntoParams for NationalQuery {
    fn into_params(
        parameter_in: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        let mut params = PeriodQuery::into_params(&parameter_in);
        params.extend(Comparison::into_params(&parameter_in));
        params
    }
}

/// One office in the national view.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfficeRow {
    pub code: String,
    pub name: String,
    pub stage: Stage,
    pub pilot: bool,
    /// Its place by `ranked_by` (ties share one); none where the office has no value or it is
    /// hidden.
    pub rank: Option<usize>,
    pub indicators: Indicators,
}

/// The pilot offices, the others, and all together.
#[derive(Debug, Serialize, ToSchema)]
pub struct Groups {
    pub pilot: Indicators,
    pub rest: Indicators,
    pub all: Indicators,
}

/// The groups before a day and from it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Split {
    pub on: NaiveDate,
    pub before: Groups,
    pub after: Groups,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NationalReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub ranked_by: String,
    pub letter_cost_eur: f64,
    /// Ranked: first the best by `ranked_by`.
    pub offices: Vec<OfficeRow>,
    /// The median of every indicator (by its path in `indicators`) over the listed offices
    /// whose value is shown: a figure hidden as "< 5" takes no part.
    #[schema(value_type = BTreeMap<String, Option<f64>>)]
    pub national_median: BTreeMap<&'static str, Option<f64>>,
    pub groups: Groups,
    pub split: Option<Split>,
    pub generated_at: DateTime<Utc>,
}

/// Indicators where less is better, so they rank lowest first.
fn lower_is_better(key: &str) -> bool {
    key.starts_with("cancelled.")
        || key.starts_with("no_show")
        || key.starts_with("lead_time.")
        || key == "median_days_to_visit"
        || key == "mail.failed"
        || key == "mail.bounced"
}

/// The national view over the period. Administrators only.
pub async fn report(
    store: &Store,
    actor: Actor,
    query: Parsed<NationalQuery>,
    letter_cost_cents: i64,
    now: DateTime<Utc>,
) -> Result<NationalReport, IndicatorError> {
    actor.must_be_admin("only administrators compare offices")?;
    let (
        NationalQuery {
            period,
            comparison: query,
        },
        mut errors,
    ) = query.into_parts();
    let zone = chrono_tz::Europe::Rome;
    let (from, to) = period.days(today(zone, now), &mut errors);
    let ranked_by = query
        .rank_by
        .clone()
        .unwrap_or_else(|| "utilisation_percent".to_owned());
    let known = Indicators::of(&Tally::default(), 0, Disclosure::Exact).rows();
    if !known.iter().any(|(key, _)| *key == ranked_by) {
        errors.add(
            "rank_by",
            "must name an indicator, as `indicators` does (utilisation_percent, by_channel.web, …)",
        );
    }
    let split = query.split.map(Day::get);
    if let Some(on) = split
        && (on <= from || on > to)
    {
        errors.add("split", "must be a day after from, up to to");
    }
    store
        .read(move |conn| {
            let listed = offices::list(conn, None, None)?;
            let pilot_codes: Option<Vec<String>> = query.pilot.as_deref().map(|codes| {
                codes
                    .split(',')
                    .map(|c| c.trim().to_uppercase())
                    .filter(|c| !c.is_empty())
                    .collect()
            });
            if let Some(codes) = &pilot_codes {
                for code in codes {
                    if OfficeCode::parse(code).is_err()
                        || !listed.iter().any(|o| o.code.as_str() == code)
                    {
                        errors.add("pilot", format!("there is no office {code}"));
                    }
                }
            }
            errors.or_value(())?;
            let is_pilot = |office: &offices::Office| match &pilot_codes {
                Some(codes) => codes.iter().any(|c| c == office.code.as_str()),
                None => office.stage == Stage::Pilot,
            };
            let whole = tallies(conn, (from, to))?;
            let nothing = Tally::default();
            let tally_of = |office: &offices::Office| whole.get(&office.id).unwrap_or(&nothing);
            let shown: Vec<&offices::Office> = listed
                .iter()
                .filter(|o| {
                    is_pilot(o)
                        || !matches!(o.stage, Stage::Draft | Stage::Preview)
                        || whole.contains_key(&o.id)
                })
                .collect();
            // Every office's indicators as the national view shows them, and as the list of
            // named values, read once. The median and the ranks use only the values shown: a
            // figure hidden as "< 5" takes no part, so neither reveals it (the median of one
            // office's hidden no-show rate would be that rate). They look values up by
            // position, which is the same for every office.
            let indicators: Vec<Indicators> = shown
                .iter()
                .map(|o| Indicators::of(tally_of(o), letter_cost_cents, Disclosure::National))
                .collect();
            let values: Vec<Vec<Option<f64>>> = indicators
                .iter()
                .map(|i| i.rows().into_iter().map(|(_, v)| v.number()).collect())
                .collect();
            let national_median = known
                .iter()
                .enumerate()
                .map(|(at, (key, _))| (*key, median_of(values.iter().map(|v| v[at]))))
                .collect();
            let ranked_at = known
                .iter()
                .position(|(key, _)| *key == ranked_by)
                .unwrap_or(0);
            let ranked: Vec<Option<f64>> = values.iter().map(|v| v[ranked_at]).collect();
            let places = ranks(&ranked, lower_is_better(&ranked_by));
            let mut offices: Vec<OfficeRow> = shown
                .iter()
                .zip(places)
                .zip(indicators)
                .map(|((office, rank), indicators)| OfficeRow {
                    code: office.code.to_string(),
                    name: office.details.name.clone(),
                    stage: office.stage,
                    pilot: is_pilot(office),
                    rank,
                    indicators,
                })
                .collect();
            offices.sort_by_key(|row| (row.rank.is_none(), row.rank, row.code.clone()));
            let group_of = |tallies: &BTreeMap<_, Tally>| {
                let (mut pilot, mut rest) = (Tally::default(), Tally::default());
                for office in &shown {
                    if let Some(tally) = tallies.get(&office.id) {
                        match is_pilot(office) {
                            true => pilot.add(tally),
                            false => rest.add(tally),
                        }
                    }
                }
                let mut all = pilot.clone();
                all.add(&rest);
                let shown = |t: &Tally| Indicators::of(t, letter_cost_cents, Disclosure::National);
                Groups {
                    pilot: shown(&pilot),
                    rest: shown(&rest),
                    all: shown(&all),
                }
            };
            let groups = group_of(&whole);
            let split = match split {
                Some(on) => Some(Split {
                    on,
                    before: group_of(&tallies(conn, (from, days_before(on, 1)))?),
                    after: group_of(&tallies(conn, (on, to))?),
                }),
                None => None,
            };
            Ok(NationalReport {
                from,
                to,
                ranked_by: ranked_by.clone(),
                letter_cost_eur: letter_cost_cents as f64 / 100.0,
                offices,
                national_median,
                groups,
                split,
                generated_at: now,
            })
        })
        .await
}

/// Every office's counts over local days `from..=to` (Italian offices share Rome's days).
fn tallies(
    conn: &mut DbConnection,
    days: (NaiveDate, NaiveDate),
) -> Result<BTreeMap<crate::domain::ids::OfficeId, Tally>, StoreError> {
    Ok(counted::tallies(
        conn,
        &scope(chrono_tz::Europe::Rome, days, None),
    )?)
}
