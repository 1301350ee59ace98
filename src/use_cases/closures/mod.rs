//! Closures: national holidays and the patron saint's day (built in), and the office's own
//! closures, for whole days or part of each day. An unexpected closure over booked days can
//! move or cancel its bookings ([`jobs`]).

pub mod jobs;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use jobs::{ClosureJobView, ClosurePlanView, Outcome};

use super::{
    audit::Audit,
    publication::{ConflictView, MixedDurations, Mode, conflict_views, reconcile_slots},
    scope::{Need, staff_office},
};
use crate::domain::text::parse_line;
use crate::{
    domain::{
        FieldErrors, Parsed,
        audit::Action,
        days::{Day, days_after, today},
        holidays::national_holidays,
        hours::TimeOfDay,
        ids::{ClosureId, ClosureJobId},
        office::OfficeCode,
        rescheduling::Affected,
        slots::ClosureRule,
        staff::Actor,
    },
    error::{Answer, Error, Explain, Failure},
    store::{
        Store,
        closures::{self, Closure},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum ClosureFailure {
    #[error("the office has no closure with this id")]
    NoSuchClosure,
    #[error("the office has no closure job with this id")]
    NoSuchJob,
    #[error(transparent)]
    MixedDurations(#[from] MixedDurations),
}

impl Explain for ClosureFailure {
    fn answer(self) -> Answer {
        match self {
            ClosureFailure::NoSuchClosure => {
                Answer::NotFound("The office has no closure with this id.".into())
            }
            ClosureFailure::NoSuchJob => {
                Answer::NotFound("The office has no closure job with this id.".into())
            }
            ClosureFailure::MixedDurations(mixed) => mixed.answer(),
        }
    }
}

impl Failure for ClosureFailure {}

pub type ClosureError = Error<ClosureFailure>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClosureKind {
    /// One of the office's own closures.
    Office,
    NationalHoliday,
    PatronDay,
}

#[derive(Serialize, ToSchema)]
pub struct ClosureView {
    /// Set for the office's own closures (which can be deleted).
    #[schema(value_type = Option<i64>)]
    pub id: Option<ClosureId>,
    pub kind: ClosureKind,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Closed from this local time each day; none: the whole day.
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub reason: String,
}

impl ClosureView {
    fn of_office(closure: &Closure) -> ClosureView {
        ClosureView {
            id: Some(closure.id),
            kind: ClosureKind::Office,
            from: closure.rule.starts_on,
            to: closure.rule.ends_on,
            start_time: closure.rule.window.map(|(start, _)| start.to_string()),
            end_time: closure.rule.window.map(|(_, end)| end.to_string()),
            reason: closure.reason.clone(),
        }
    }

    /// A closure not created yet (a dry run's).
    fn proposed(rule: &ClosureRule, reason: String) -> ClosureView {
        ClosureView {
            id: None,
            kind: ClosureKind::Office,
            from: rule.starts_on,
            to: rule.ends_on,
            start_time: rule.window.map(|(start, _)| start.to_string()),
            end_time: rule.window.map(|(_, end)| end.to_string()),
            reason,
        }
    }

    fn whole_day(kind: ClosureKind, date: NaiveDate, reason: String) -> ClosureView {
        ClosureView {
            id: None,
            kind,
            from: date,
            to: date,
            start_time: None,
            end_time: None,
            reason,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosureRequest {
    #[schema(value_type = NaiveDate)]
    pub from: Day,
    #[schema(value_type = NaiveDate)]
    pub to: Day,
    #[schema(schema_with = crate::domain::schema::line_200, example = "Staff training")]
    pub reason: String,
    /// With `end_time`: closed only between these local times each day.
    #[schema(schema_with = crate::domain::schema::optional_time_of_day)]
    pub start_time: Option<String>,
    #[schema(schema_with = crate::domain::schema::optional_time_of_day)]
    pub end_time: Option<String>,
    /// What becomes of the bookings inside: `keep` (the default) leaves them and reports them
    /// as conflicts; `move` moves each to the earliest free seat of its service (earlier
    /// bookers first; cancelled when there is none); `cancel` cancels each with the closure's
    /// reason. Each applicant gets one mail. `move` and `cancel` run as a job (answer 202):
    /// poll it at the `Location` given.
    #[serde(default)]
    pub affected: Affected,
    /// Only show what would happen (answer 200): nothing is created, moved or cancelled.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ClosureCreated {
    pub closure: ClosureView,
    /// Published, unbooked slots the closure took away.
    pub withdrawn_slots: usize,
    /// Booked slots inside the closure: left in place, for the office to contact the applicants.
    pub conflicts: Vec<ConflictView>,
}

/// A closure's days, window and reason, checked, and what staff want done with its bookings.
pub struct NewClosure {
    pub rule: ClosureRule,
    pub reason: String,
    pub affected: Affected,
    pub dry_run: bool,
}

/// What asking for a closure did.
pub enum ClosureAnswer {
    /// Created; its bookings left in place.
    Created(ClosureCreated),
    /// Nothing done: what would happen.
    Planned(ClosurePlanView),
    /// Queued: a job creates it and moves or cancels its bookings.
    Queued(ClosureJobView),
}

impl ClosureRequest {
    pub fn parse(&self) -> Result<NewClosure, FieldErrors> {
        let mut errors = FieldErrors::new();
        let (from, to) = (self.from.get(), self.to.get());
        if to < from {
            errors.add("to", "must not be before from");
        } else if (to - from).num_days() > 366 {
            errors.add("to", "must be within a year of from");
        }
        let reason = errors.check("reason", parse_line(&self.reason, 200));
        let window = match (self.start_time.as_deref(), self.end_time.as_deref()) {
            (None, None) => Some(None),
            (Some(start), Some(end)) => {
                let start = errors.check("start_time", TimeOfDay::parse(start));
                let end = errors.check("end_time", TimeOfDay::parse(end));
                match (start, end) {
                    (Some(start), Some(end)) if start < end => Some(Some((start, end))),
                    (Some(_), Some(_)) => {
                        errors.add("end_time", "must be after start_time");
                        None
                    }
                    _ => None,
                }
            }
            (Some(_), None) => {
                errors.add("end_time", "is required with start_time");
                None
            }
            (None, Some(_)) => {
                errors.add("start_time", "is required with end_time");
                None
            }
        };
        match (reason, window) {
            (Some(reason), Some(window)) if errors.is_empty() => Ok(NewClosure {
                rule: ClosureRule {
                    starts_on: from,
                    ends_on: to,
                    window,
                },
                reason,
                affected: self.affected,
                dry_run: self.dry_run,
            }),
            _ => Err(errors),
        }
    }
}

/// Closes the office for some days, or part of each day. Published slots inside it are taken
/// away. Booked ones stay and are reported, so the office can contact those applicants, unless
/// staff asked to move or cancel the bookings: then a job does it all ([`jobs`]). A dry run
/// only says what would happen.
pub async fn create(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    closure: NewClosure,
    now: DateTime<Utc>,
) -> Result<ClosureAnswer, ClosureError> {
    if closure.dry_run {
        return store
            .read(move |conn| {
                let office = staff_office(conn, &actor, &code, Need::Configure)?;
                let NewClosure {
                    rule,
                    reason,
                    affected,
                    ..
                } = closure;
                let plan = jobs::plan(conn, &office, &rule, affected, now)?;
                let bookings = plan.views(office.details.timezone);
                let counted = |outcome| bookings.iter().filter(|b| b.outcome == outcome).count();
                Ok(ClosureAnswer::Planned(ClosurePlanView {
                    moved: counted(Outcome::Moved),
                    cancelled: counted(Outcome::Cancelled),
                    kept: counted(Outcome::Kept),
                    closure: ClosureView::proposed(&rule, reason),
                    affected,
                    bookings,
                }))
            })
            .await;
    }
    store
        .write(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let NewClosure {
                rule,
                reason,
                affected,
                ..
            } = closure;
            if affected != Affected::Keep {
                let asked = (&rule, reason.as_str());
                let job = jobs::queue(conn, &office, actor.staff_id, asked, affected, now)?;
                return Ok(ClosureAnswer::Queued(job));
            }
            let id = closures::insert(conn, office.id, &rule, &reason, actor.staff_id, now)?;
            let (from, to) = (rule.starts_on, rule.ends_on);
            let view = ClosureView::of_office(&Closure {
                id,
                rule,
                reason,
                created_at: now,
            });
            let audit = Audit::by(&actor, now);
            audit.created(conn, Some(office.id), Action::ClosureCreate, id, &view)?;
            let report = reconcile_slots(conn, &office, from, to, Mode::WithdrawOnly, now)?;
            Ok(ClosureAnswer::Created(ClosureCreated {
                closure: view,
                withdrawn_slots: report.removed,
                conflicts: conflict_views(&report.conflicts, office.details.timezone),
            }))
        })
        .await
}

/// A closure job of the office, as staff poll it.
pub async fn job(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    id: ClosureJobId,
) -> Result<ClosureJobView, ClosureError> {
    store
        .read(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            jobs::find(conn, &office, id)
        })
        .await
}

/// The days staff want the closures of.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClosuresQuery {
    /// First day (default today)
    #[param(value_type = Option<NaiveDate>)]
    pub from: Option<Day>,
    /// Last day (default a year on; at most two years)
    #[param(value_type = Option<NaiveDate>)]
    pub to: Option<Day>,
}

/// Every closure in a range of days: national holidays, the patron saint's day and the
/// office's own, in date order.
pub async fn list(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    query: Parsed<ClosuresQuery>,
    now: DateTime<Utc>,
) -> Result<Vec<ClosureView>, ClosureError> {
    let (query, mut errors) = query.into_parts();
    store
        .read(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let from = query
                .from
                .map_or_else(|| today(office.details.timezone, now), Day::get);
            let to = query.to.map_or_else(|| days_after(from, 365), Day::get);
            if to < from || (to - from).num_days() > 731 {
                errors.add("to", "must be from `from` to two years after it");
            }
            errors.or_value(())?;
            let mut views: Vec<ClosureView> = closures::overlapping(conn, office.id, from, to)?
                .iter()
                .map(ClosureView::of_office)
                .collect();
            for year in from.year()..=to.year() {
                for holiday in national_holidays(year) {
                    if from <= holiday.date && holiday.date <= to {
                        let name = holiday.name.to_owned();
                        let kind = ClosureKind::NationalHoliday;
                        views.push(ClosureView::whole_day(kind, holiday.date, name));
                    }
                }
                if let Some(date) = office.details.patron_day.and_then(|day| day.in_year(year))
                    && from <= date
                    && date <= to
                {
                    let reason = format!("Santo patrono di {}", office.details.city);
                    views.push(ClosureView::whole_day(ClosureKind::PatronDay, date, reason));
                }
            }
            views.sort_by_key(|view| (view.from, view.id));
            Ok(views)
        })
        .await
}

/// Removes one of the office's own closures. Slots it took away come back when the office
/// publishes again.
pub async fn remove(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    id: ClosureId,
    now: DateTime<Utc>,
) -> Result<(), ClosureError> {
    store
        .write(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            if !closures::delete(conn, office.id, id)? {
                return Err(ClosureFailure::NoSuchClosure.into());
            }
            let audit = Audit::by(&actor, now);
            audit.removed(conn, Some(office.id), Action::ClosureDelete, id)?;
            Ok(())
        })
        .await
}
