//! Publishing an office's slots: its calendars, hours, services and closures become slot rows,
//! reconciled with the slots already published (see `domain::slots`), without ever dropping a
//! booked seat.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    audit::Audit,
    scope::{Need, staff_office},
};
use crate::{
    domain::{
        FieldErrors,
        audit::Action,
        calendar::{DurationsDiffer, shared_duration},
        days::{Day, days_after, today},
        hours::TimeOfDay,
        ids::SlotId,
        office::OfficeCode,
        release::{ReleaseRule, Share, Staggered},
        slots::{
            CalendarPlan, ClosedTimes, ClosureRule, Conflict, ConflictReason, PlannedSlot,
            plan_calendar, reconcile,
        },
        staff::Actor,
        time::{LocalTime, local},
    },
    error::{Answer, Error, Explain, Failure},
    store::{DbConnection, Store, calendars, closures, offices::Office, services, slots},
    use_cases::lottery,
};

/// A calendar whose services do not share one duration: its slots cannot be planned.
#[derive(Debug, thiserror::Error)]
#[error("calendar '{calendar}': {differ}")]
pub struct MixedDurations {
    pub calendar: String,
    pub differ: DurationsDiffer,
}

impl Explain for MixedDurations {
    fn answer(self) -> Answer {
        Answer::Conflict {
            code: "calendar_durations_differ",
            detail: format!("{self}; give them one duration or separate calendars"),
        }
    }
}

impl Failure for MixedDurations {}

pub type PublicationError = Error<MixedDurations>;

/// Whether to create the slots that are missing, or only to take away those no longer open
/// (after a closure: days not yet published stay unpublished).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Create what is missing; the new slots open at `opens_at` when given, else as their
    /// services' release rules say (at once without one); with `shares`, each day's slots
    /// open in those shares (none before the publication opens).
    Publish {
        opens_at: Option<DateTime<Utc>>,
        shares: Option<Staggered>,
    },
    WithdrawOnly,
}

#[derive(Debug)]
pub struct PublishReport {
    pub created: usize,
    pub kept: usize,
    pub removed: usize,
    pub conflicts: Vec<Conflict>,
    /// Lottery draws created for the new slots' openings.
    pub draws: usize,
}

/// Brings the office's slots on the local days `from..=to` in line with its configuration, in
/// the caller's transaction.
pub fn reconcile_slots<F: Failure + From<MixedDurations>>(
    conn: &mut DbConnection,
    office: &Office,
    from: NaiveDate,
    to: NaiveDate,
    mode: Mode,
    now: DateTime<Utc>,
) -> Result<PublishReport, Error<F>> {
    let services = services::list(conn, office.id)?;
    let calendars = calendars::list(conn, office.id)?;
    let rules: Vec<ClosureRule> = closures::overlapping(conn, office.id, from, to)?
        .into_iter()
        .map(|closure| closure.rule)
        .collect();
    let closed = ClosedTimes {
        patron_day: office.details.patron_day,
        closures: &rules,
    };

    let mut planned = Vec::new();
    for calendar in &calendars {
        let served: Vec<&services::OfficeService> = services
            .iter()
            .filter(|service| service.active && calendar.service_ids.contains(&service.id))
            .collect();
        let durations = served
            .iter()
            .map(|s| (&s.appointment_type.code, s.duration_minutes()));
        let slot_minutes = match shared_duration(durations) {
            Ok(Some(minutes)) => minutes,
            Ok(None) => continue,
            Err(differ) => {
                let calendar = calendar.fields.name.clone();
                return Err(Error::Feature(MixedDurations { calendar, differ }.into()));
            }
        };
        let plan = CalendarPlan {
            calendar_id: calendar.id,
            desks: calendar.fields.desks,
            slot_minutes,
            hours: calendar.hours.clone(),
            valid_from: calendar.fields.valid_from,
            valid_until: calendar.fields.valid_until,
            desk_share_percent: served
                .iter()
                .map(|s| s.settings.desk_share_percent)
                .max()
                .unwrap_or(0),
        };
        let zone = office.details.timezone;
        let rules: Vec<ReleaseRule> = served
            .iter()
            .filter_map(|service| service.settings.release_rule)
            .collect();
        let (explicit, shares) = match &mode {
            Mode::Publish { opens_at, shares } => (*opens_at, shares.as_ref()),
            Mode::WithdrawOnly => (None, None),
        };
        let mut calendar_slots = plan_calendar(&plan, zone, from, to, &closed);
        calendar_slots.sort_by_key(|slot| slot.starts_at);
        let share_of = shares_by_day(shares, &calendar_slots);
        for (mut slot, share) in calendar_slots.into_iter().zip(share_of) {
            // A calendar shared by services with different rules opens with the last.
            let by_rule = || {
                let opening = |rule: &ReleaseRule| rule.opens_at(zone, slot.local_date);
                rules.iter().filter_map(opening).max()
            };
            let with_publication = explicit.or_else(by_rule);
            let own = share.and_then(|share| share.opens_at(zone, slot.local_date));
            slot.opens_at = own.max(with_publication).filter(|at| *at > now);
            planned.push(slot);
        }
    }

    let calendar_ids: Vec<_> = calendars.iter().map(|calendar| calendar.id).collect();
    let stored = slots::stored(conn, office.id, &calendar_ids, from, to)?;
    let mut plan = reconcile(planned, stored);
    if mode == Mode::WithdrawOnly {
        plan.create.clear();
        plan.update.clear();
    }
    slots::apply(conn, office.id, &mut plan, now)?;
    let draws = lottery::open_draws_for(conn, office.id, &services, &calendars, &plan.create, now)?;
    Ok(PublishReport {
        created: plan.create.len(),
        kept: plan.kept,
        removed: plan.remove.len(),
        conflicts: plan.conflicts,
        draws,
    })
}

/// A booked slot publishing could not change, for the office to sort out.
#[derive(Serialize, ToSchema)]
pub struct ConflictView {
    #[schema(value_type = i64)]
    pub slot_id: SlotId,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    /// Seats booked in it.
    pub booked: i32,
    pub reason: ConflictReason,
}

pub fn conflict_views(conflicts: &[Conflict], zone: Tz) -> Vec<ConflictView> {
    conflicts
        .iter()
        .map(|c| ConflictView {
            slot_id: c.slot_id,
            starts_at: local(c.starts_at, zone),
            ends_at: local(c.ends_at, zone),
            booked: c.booked,
            reason: c.reason,
        })
        .collect()
}

/// The share of each slot (in time order) under a staggered release: each day's slots are
/// shared out on their own.
fn shares_by_day(shares: Option<&Staggered>, slots: &[PlannedSlot]) -> Vec<Option<Share>> {
    let Some(shares) = shares else {
        return vec![None; slots.len()];
    };
    let mut result = Vec::with_capacity(slots.len());
    let mut start = 0;
    while start < slots.len() {
        let day = slots[start].local_date;
        let end = start
            + slots[start..]
                .iter()
                .take_while(|s| s.local_date == day)
                .count();
        result.extend(shares.assign(end - start).into_iter().map(Some));
        start = end;
    }
    result
}

/// One share of a staggered release.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// Percent of each day's slots.
    #[schema(minimum = 1, maximum = 100)]
    pub percent: u8,
    /// Opens this many days before the visit day; without it, with the publication.
    #[schema(minimum = 1, maximum = 365)]
    pub days_before: Option<u16>,
    /// At this local time on that day (`HH:MM`, default `00:00`).
    #[schema(schema_with = crate::domain::schema::optional_time_of_day)]
    pub time: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// First local day to publish (today or later).
    #[schema(value_type = Option<NaiveDate>)]
    pub from: Option<Day>,
    /// Last local day to publish.
    #[schema(value_type = Option<NaiveDate>)]
    pub to: Option<Day>,
    /// Instead of `from`/`to`: a rolling horizon of this many days from today.
    #[schema(example = 60, minimum = 1, maximum = 731)]
    pub days: Option<i32>,
    /// When the slots this publication creates go on public sale (RFC 3339). Without it they
    /// open as their services' release rules say, or at once. Slots already published keep
    /// their opening.
    pub opens_at: Option<DateTime<Utc>>,
    /// A staggered release of the new slots: shares of each day's slots (percentages adding
    /// up to 100), each opening `days_before` the visit day at `time`, or with the
    /// publication when it names no days, e.g. 20% now, 50% a week before, 30% two days
    /// before. Shares are of whole slots, spread over each day; none opens before the
    /// publication does.
    #[schema(max_items = 10)]
    pub shares: Option<Vec<ShareRequest>>,
}

#[derive(Serialize, ToSchema)]
pub struct PublishResponse {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Slots added.
    pub created: usize,
    /// Slots that already existed (adjusted to new desks or shares where needed).
    pub kept: usize,
    /// Unbooked slots taken away (outside the hours now, or closed).
    pub removed: usize,
    /// Booked slots left as they were, for the office to sort out.
    pub conflicts: Vec<ConflictView>,
    /// Lottery draws opened for the new slots (services in `lottery` release mode).
    pub draws: usize,
}

/// Longest span one publication covers.
const MAX_PUBLISH_DAYS: u64 = 731;

impl PublishRequest {
    /// The staggered release, when the request asks for one.
    fn staggered(&self) -> Result<Option<Staggered>, FieldErrors> {
        let Some(requested) = &self.shares else {
            return Ok(None);
        };
        let mut errors = FieldErrors::new();
        let mut shares = Vec::new();
        for (i, share) in requested.iter().enumerate() {
            if let Some(days) = share.days_before
                && !Staggered::DAYS_BEFORE.contains(&days)
            {
                errors.add(format!("shares[{i}].days_before"), "must be from 1 to 365");
            }
            let at = match share.time.as_deref() {
                Some(time) => errors.check(&format!("shares[{i}].time"), TimeOfDay::parse(time)),
                None => TimeOfDay::from_minutes(0),
            };
            if let Some(at) = at {
                shares.push(Share {
                    percent: share.percent,
                    days_before: share.days_before,
                    at,
                });
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Staggered::new(shares)
            .map(Some)
            .map_err(|reason| FieldErrors::single("shares", reason))
    }

    /// The days to publish: `from`..=`to`, or `days` from `today` (the office's).
    fn range(&self, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), FieldErrors> {
        let mut errors = FieldErrors::new();
        let range = match (self.days, self.from, self.to) {
            (Some(days), None, None) => match u64::try_from(days) {
                Ok(days @ 1..=MAX_PUBLISH_DAYS) => Some((today, days_after(today, days - 1))),
                _ => {
                    errors.add("days", format!("must be from 1 to {MAX_PUBLISH_DAYS}"));
                    None
                }
            },
            (None, Some(from), Some(to)) => Some((from.get(), to.get())),
            (Some(_), _, _) => {
                errors.add("days", "give either days or from and to, not both");
                None
            }
            (None, from, to) => {
                if from.is_none() {
                    errors.add("from", "is required (or give days)");
                }
                if to.is_none() {
                    errors.add("to", "is required (or give days)");
                }
                None
            }
        };
        if let Some((from, to)) = range {
            if from < today {
                errors.add(
                    "from",
                    format!("must not be in the past (today is {today} at the office)"),
                );
            }
            if to < from {
                errors.add("to", "must not be before from");
            } else if (to - from).num_days() >= MAX_PUBLISH_DAYS as i64 {
                errors.add(
                    "to",
                    format!("must be within {MAX_PUBLISH_DAYS} days of from"),
                );
            }
        }
        match range {
            Some(range) if errors.is_empty() => Ok(range),
            _ => Err(errors),
        }
    }
}

/// Generates the slots of the office's calendars over a range of days or a rolling horizon.
/// Publishing again is safe: existing slots are kept, unbooked slots no longer open are taken
/// away, and booked ones are never dropped: they come back as `conflicts`.
pub async fn publish(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    request: PublishRequest,
    now: DateTime<Utc>,
) -> Result<PublishResponse, PublicationError> {
    store
        .write(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let zone = office.details.timezone;
            let (from, to) = request.range(today(zone, now))?;
            let shares = request.staggered()?;
            let mode = Mode::Publish {
                opens_at: request.opens_at,
                shares,
            };
            let report = reconcile_slots(conn, &office, from, to, mode, now)?;
            let response = PublishResponse {
                from,
                to,
                created: report.created,
                kept: report.kept,
                removed: report.removed,
                conflicts: conflict_views(&report.conflicts, zone),
                draws: report.draws,
            };
            let audit = Audit::by(&actor, now);
            let range = format!("{from}..{to}");
            audit.created(
                conn,
                Some(office.id),
                Action::SlotsPublish,
                range,
                &response,
            )?;
            Ok(response)
        })
        .await
}
