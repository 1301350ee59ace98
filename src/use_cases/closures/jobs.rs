//! An unexpected closure over booked days: its bookings moved to the earliest free seats of
//! their services, or cancelled, each applicant mailed once. Planned by one function for the dry
//! run and the real run alike; the real run is a background job (ten thousand bookings take
//! longer than a request should) that does everything in one transaction, so a failure leaves
//! nothing half-done, and reports how far it got while it runs.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ClosureError, ClosureFailure, ClosureView};
use crate::{
    domain::{
        audit::Action,
        booking::Channel,
        cases::is_ready,
        ids::{ClosureJobId, ServiceId, SlotId, StaffId},
        integration::Author,
        rescheduling::{Affected, Candidate, Displaced, JobStatus, Placement, place},
        service::Eligibility,
        slots::ClosureRule,
        time::{LocalTime, local},
    },
    error::Error,
    store::{
        DbConnection, Store, StoreError, bookings, calendars,
        closure_jobs::{self, ClosureJob, Finished},
        closures::{self, Closure},
        offices::{self, Office},
        registered_cases,
        services::{self, OfficeService},
        slots::{self, Slot},
    },
    use_cases::{
        audit::Audit,
        bookings::{
            BookingError, Canceller, Details, Policy, cancel, draw_under_way,
            manage::{Mover, relocate},
        },
        publication::{Mode, reconcile_slots},
    },
};

/// How long an instance may run a job before another takes it up as abandoned: far longer than
/// ten thousand bookings take, so a live job is never run twice.
const LEASE: Duration = Duration::minutes(30);

/// How often a running job reports its progress, in bookings.
const PROGRESS_EVERY: usize = 250;

/// What becomes of one booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Left in place (`affected: keep`).
    Kept,
    Moved,
    Cancelled,
}

/// A booking inside the closure and what becomes of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DisplacedView {
    pub reference: String,
    /// The service's catalogue code.
    pub service: String,
    pub channel: Channel,
    /// The visit as booked.
    pub starts_at: LocalTime,
    pub outcome: Outcome,
    /// Where it moves.
    #[schema(value_type = Option<i64>)]
    pub to_slot_id: Option<SlotId>,
    pub to_starts_at: Option<LocalTime>,
}

/// What a closure would do, shown and changed nothing (`dry_run`).
#[derive(Serialize, ToSchema)]
pub struct ClosurePlanView {
    /// The closure as it would be created (no id yet).
    pub closure: ClosureView,
    pub affected: Affected,
    /// Bookings inside the closure, in booking order (earliest booked first, as they are
    /// placed).
    pub bookings: Vec<DisplacedView>,
    pub moved: usize,
    pub cancelled: usize,
    pub kept: usize,
}

/// A closure whose bookings are being moved or cancelled, as staff poll it.
#[derive(Serialize, ToSchema)]
pub struct ClosureJobView {
    #[schema(value_type = i64)]
    pub id: ClosureJobId,
    pub status: JobStatus,
    pub affected: Affected,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub reason: String,
    /// Bookings inside the closure, once the job has read them.
    pub total: Option<i32>,
    /// Bookings done so far. On PostgreSQL it grows while the job runs; on SQLite, whose one
    /// writer is the job, it jumps to `total` when the job is done. Nothing is visible to
    /// applicants before the job is done: it commits everything at once.
    pub processed: i32,
    pub moved: i32,
    pub cancelled: i32,
    /// The closure, once created.
    #[schema(value_type = Option<i64>)]
    pub closure_id: Option<crate::domain::ids::ClosureId>,
    /// Why nothing was done, when the job failed (the log has the cause).
    pub error: Option<String>,
    /// What became of each booking, once done.
    #[schema(value_type = Option<Vec<DisplacedView>>)]
    pub bookings: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl ClosureJobView {
    pub(super) fn new(job: ClosureJob) -> ClosureJobView {
        ClosureJobView {
            id: job.id,
            status: job.status,
            affected: job.affected,
            from: job.rule.starts_on,
            to: job.rule.ends_on,
            start_time: job.rule.window.map(|(start, _)| start.to_string()),
            end_time: job.rule.window.map(|(_, end)| end.to_string()),
            reason: job.reason,
            total: job.total,
            processed: job.processed,
            moved: job.moved,
            cancelled: job.cancelled,
            closure_id: job.closure_id,
            error: job.error,
            bookings: job
                .outcome
                .and_then(|outcome| serde_json::from_str(&outcome).ok()),
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
        }
    }
}

/// The bookings a closure of `rule` displaces, and where each goes when they are `affected` so.
pub(super) struct Plan {
    displaced: Vec<Details>,
    placements: Vec<Option<Placement>>,
    /// The slots bookings move to.
    targets: HashMap<SlotId, Slot>,
}

impl Plan {
    /// What becomes of each booking, in booking order.
    pub(super) fn views(&self, zone: chrono_tz::Tz) -> Vec<DisplacedView> {
        self.displaced
            .iter()
            .zip(&self.placements)
            .map(|(details, placement)| {
                let booking = &details.booking;
                let (outcome, to) = match placement {
                    None => (Outcome::Kept, None),
                    Some(Placement::Moved { to, starts_at, .. }) => {
                        (Outcome::Moved, Some((*to, *starts_at)))
                    }
                    Some(Placement::Unplaced { .. }) => (Outcome::Cancelled, None),
                };
                DisplacedView {
                    reference: booking.reference.to_string(),
                    service: details.service.appointment_type.code.to_string(),
                    channel: booking.channel,
                    starts_at: local(details.slot.time.starts_at, zone),
                    outcome,
                    to_slot_id: to.map(|(slot, _)| slot),
                    to_starts_at: to.map(|(_, starts_at)| local(starts_at, zone)),
                }
            })
            .collect()
    }
}

/// Plans a closure of `rule` at `office`, in the caller's transaction (a read for the dry run,
/// the job's write for the real run). Bookings moved go to free seats outside the closure, on
/// sale already, by the share rules of their channel, no sooner than their service's notice,
/// never into a draw still under way, and, for registered-only services, on a day their case
/// is ready.
pub(super) fn plan(
    conn: &mut DbConnection,
    office: &Office,
    rule: &ClosureRule,
    affected: Affected,
    now: DateTime<Utc>,
) -> Result<Plan, ClosureError> {
    let zone = office.details.timezone;
    let services: HashMap<ServiceId, OfficeService> = services::list(conn, office.id)?
        .into_iter()
        .map(|service| (service.id, service))
        .collect();
    let mut displaced = Vec::new();
    let days = (rule.starts_on, rule.ends_on);
    for (booking, slot) in bookings::confirmed_on_days(conn, office.id, days, now)? {
        if !rule.covers_slot(zone, slot.time.starts_at, slot.time.ends_at) {
            continue;
        }
        let service = services
            .get(&booking.office_service_id)
            .cloned()
            .ok_or_else(|| Error::vanished(format!("service of booking {}", booking.id)))?;
        displaced.push(Details {
            booking,
            slot,
            service,
            office: office.clone(),
        });
    }
    let placements = match affected {
        Affected::Keep => displaced.iter().map(|_| None).collect(),
        Affected::Cancel => displaced
            .iter()
            .map(|details| {
                let booking = details.booking.id;
                Some(Placement::Unplaced { booking })
            })
            .collect(),
        Affected::Move => {
            let (placements, targets) = placements(conn, office, rule, &displaced, now)?;
            return Ok(Plan {
                placements: placements.into_iter().map(Some).collect(),
                displaced,
                targets,
            });
        }
    };
    Ok(Plan {
        displaced,
        placements,
        targets: HashMap::new(),
    })
}

/// Where each displaced booking moves ([`place`] decides), and the slots they move to.
fn placements(
    conn: &mut DbConnection,
    office: &Office,
    rule: &ClosureRule,
    displaced: &[Details],
    now: DateTime<Utc>,
) -> Result<(Vec<Placement>, HashMap<SlotId, Slot>), ClosureError> {
    let zone = office.details.timezone;
    let serving: HashMap<_, _> = calendars::list(conn, office.id)?
        .into_iter()
        .map(|calendar| (calendar.id, calendar.service_ids))
        .collect();
    let free: HashMap<SlotId, Slot> = slots::with_free_seats(conn, office.id, now, now)?
        .into_iter()
        .filter(|slot| !rule.covers_slot(zone, slot.time.starts_at, slot.time.ends_at))
        .map(|slot| (slot.id, slot))
        .collect();
    let candidates = free
        .values()
        .map(|slot| Candidate {
            slot: slot.id,
            starts_at: slot.time.starts_at,
            services: serving.get(&slot.calendar_id).cloned().unwrap_or_default(),
            seats: slot.seats,
        })
        .collect();
    let order: Vec<Displaced> = displaced
        .iter()
        .map(|details| Displaced {
            booking: details.booking.id,
            service: details.service.id,
            channel: details.booking.channel,
        })
        .collect();
    let by_id: HashMap<_, _> = displaced
        .iter()
        .map(|details| (details.booking.id, details))
        .collect();

    // The booking's own rules, read once per draw and per case however many slots are tried.
    let mut failure = None;
    let mut drawing: HashMap<(ServiceId, DateTime<Utc>), bool> = HashMap::new();
    let mut cases = HashMap::new();
    let fits = |booking: &Displaced, candidate: &Candidate| {
        let (Some(details), Some(slot)) = (by_id.get(&booking.booking), free.get(&candidate.slot))
        else {
            return false;
        };
        let service = &details.service;
        let notice = Duration::hours(i64::from(service.settings.min_notice_hours));
        if candidate.starts_at < now + notice {
            return false;
        }
        let mut checked = || -> Result<bool, BookingError> {
            if let Some(opens_at) = slot.opens_at {
                let key = (service.id, opens_at);
                let under_way = match drawing.get(&key) {
                    Some(under_way) => *under_way,
                    None => {
                        let under_way = draw_under_way(conn, service, opens_at)?.is_some();
                        *drawing.entry(key).or_insert(under_way)
                    }
                };
                if under_way {
                    return Ok(false);
                }
            }
            if service.settings.eligibility != Eligibility::Registered {
                return Ok(true);
            }
            let case_number = details.booking.case_number.clone();
            let case = match cases.get(&case_number) {
                Some(case) => case,
                None => {
                    let found = registered_cases::find(conn, office.id, &case_number)?;
                    cases.entry(case_number).or_insert(found)
                }
            };
            let day = candidate.starts_at.with_timezone(&zone).date_naive();
            let code = &service.appointment_type.code;
            Ok(case
                .as_ref()
                .is_some_and(|case| is_ready(&case.ready_for, code, day)))
        };
        match checked() {
            Ok(fits) => fits,
            Err(error) => {
                failure.get_or_insert(error);
                false
            }
        }
    };
    let placements = place(&order, candidates, fits);
    if let Some(error) = failure {
        return Err(error.unexpected());
    }
    let targets = placements
        .iter()
        .filter_map(|placement| match placement {
            Placement::Moved { to, .. } => free.get(to).map(|slot| (*to, slot.clone())),
            Placement::Unplaced { .. } => None,
        })
        .collect();
    Ok((placements, targets))
}

/// Queues the job that closes the office as `rule` says and moves or cancels the bookings
/// inside, as staff member `staff` asked.
pub(super) fn queue(
    conn: &mut DbConnection,
    office: &Office,
    staff: StaffId,
    (rule, reason): (&ClosureRule, &str),
    affected: Affected,
    now: DateTime<Utc>,
) -> Result<ClosureJobView, ClosureError> {
    let id = closure_jobs::insert(conn, office.id, staff, (rule, reason), affected, now)?;
    let job = closure_jobs::find(conn, office.id, id)?
        .ok_or_else(|| Error::vanished(format!("closure job {id}")))?;
    Ok(ClosureJobView::new(job))
}

/// Background work: runs every closure job waiting (pending, or abandoned by an instance that
/// died), one at a time; returns how many it finished, done or failed. Safe with several
/// instances: each job is claimed by one conditional UPDATE.
pub async fn run_due(store: &Store, policy: &Policy, now: DateTime<Utc>) -> usize {
    let mut finished = 0;
    loop {
        let claimed = store
            .autocommit(move |conn| -> Result<Option<ClosureJob>, StoreError> {
                let Some(job) = closure_jobs::next_due(conn, now)? else {
                    return Ok(None);
                };
                Ok(closure_jobs::claim(conn, &job, LEASE, now)?.then_some(job))
            })
            .await;
        let job = match claimed {
            Ok(Some(job)) => job,
            Ok(None) => return finished,
            Err(error) => {
                tracing::warn!(?error, "closure jobs could not be read; trying again");
                return finished;
            }
        };
        let (id, key) = (job.id, (job.office_id, job.id));
        match run(store, policy, job, now).await {
            Ok(()) => {
                tracing::info!(job = %id, "closure job done");
                finished += 1;
            }
            Err(Error::Busy(what)) => {
                tracing::warn!(job = %id, what, "closure job met a busy database; queued again");
                let requeued = store
                    .autocommit(move |conn| {
                        closure_jobs::requeue(conn, key).map_err(StoreError::from)
                    })
                    .await;
                if let Err(error) = requeued {
                    tracing::error!(job = %id, ?error, "closure job could not be queued again");
                }
                return finished;
            }
            Err(error) => {
                tracing::error!(job = %id, ?error, "closure job failed; nothing was changed");
                let told = "The closure could not be applied and nothing was changed; \
                            try again, or ask the service's operators (the log has the cause).";
                let failed = store
                    .autocommit(move |conn| {
                        closure_jobs::fail(conn, key, told, now).map_err(StoreError::from)
                    })
                    .await;
                if let Err(error) = failed {
                    tracing::error!(job = %id, ?error, "closure job's failure not recorded");
                }
                finished += 1;
            }
        }
    }
}

/// Runs one job: in one transaction the closure is created, every booking inside it moved or
/// cancelled (with its event and its one mail), the slots inside withdrawn, the audit entry
/// and the job's result written.
async fn run(
    store: &Store,
    policy: &Policy,
    job: ClosureJob,
    now: DateTime<Utc>,
) -> Result<(), ClosureError> {
    let policy = policy.clone();
    let beside = store.beside();
    store
        .write(move |conn| {
            let office = offices::find_by_id(conn, job.office_id)?
                .ok_or_else(|| Error::vanished(format!("office {}", job.office_id)))?;
            let closure = Closure {
                id: closures::insert(
                    conn,
                    office.id,
                    &job.rule,
                    &job.reason,
                    job.requested_by,
                    now,
                )?,
                rule: job.rule.clone(),
                reason: job.reason.clone(),
                created_at: now,
            };
            // No seat of the office changes hands while the plan is carried out.
            slots::lock_from(conn, office.id, now)?;
            let plan = plan(conn, &office, &job.rule, job.affected, now)?;
            let total = plan.displaced.len();
            let report = |done: usize| {
                let Some(beside) = &beside else { return };
                let (total, done) = (count(total), count(done));
                let shown = beside.run(|other| {
                    closure_jobs::progress(other, (job.office_id, job.id), total, done)
                });
                if let Err(error) = shown {
                    tracing::warn!(job = %job.id, ?error, "closure job's progress not shown");
                }
            };
            report(0);
            let (moved, cancelled) = apply(conn, &plan, &job, &policy, now, report)?;
            let (from, to) = (job.rule.starts_on, job.rule.ends_on);
            reconcile_slots::<ClosureFailure>(conn, &office, from, to, Mode::WithdrawOnly, now)?;

            let views = plan.views(office.details.timezone);
            let outcome = serde_json::to_string(&views).map_err(Error::internal)?;
            let finished = Finished {
                closure_id: closure.id,
                total: count(total),
                moved: count(moved),
                cancelled: count(cancelled),
                outcome: &outcome,
            };
            // When it really finished, for staff and the benchmark: `now` is when it began.
            closure_jobs::finish(conn, (job.office_id, job.id), finished, Utc::now())?;
            let audit = Audit::by(Author::Staff(job.requested_by), now);
            let after = AppliedClosure {
                closure: ClosureView::of_office(&closure),
                affected: job.affected,
                job: job.id,
                moved,
                cancelled,
            };
            audit.created(
                conn,
                Some(office.id),
                Action::ClosureCreate,
                closure.id,
                &after,
            )?;
            Ok(())
        })
        .await
}

/// A closure's audit entry when its bookings were moved or cancelled.
#[derive(Serialize)]
struct AppliedClosure {
    closure: ClosureView,
    affected: Affected,
    job: ClosureJobId,
    moved: usize,
    cancelled: usize,
}

/// Moves or cancels each booking as planned, reporting progress every few hundred; returns
/// how many moved and how many were cancelled.
fn apply(
    conn: &mut DbConnection,
    plan: &Plan,
    job: &ClosureJob,
    policy: &Policy,
    now: DateTime<Utc>,
    mut report: impl FnMut(usize),
) -> Result<(usize, usize), ClosureError> {
    let reason = job.reason.as_str();
    let (mut moved, mut cancelled) = (0, 0);
    for (done, (details, placement)) in plan.displaced.iter().zip(&plan.placements).enumerate() {
        if done > 0 && done % PROGRESS_EVERY == 0 {
            report(done);
        }
        match placement {
            None => {}
            Some(Placement::Moved { to, .. }) => {
                let target = plan
                    .targets
                    .get(to)
                    .ok_or_else(|| Error::vanished(format!("slot {to}")))?;
                let mover = Mover::Closure { reason };
                relocate(conn, details, target, mover, policy, now).map_err(Error::unexpected)?;
                moved += 1;
            }
            Some(Placement::Unplaced { .. }) => {
                let by = Canceller::Office {
                    staff: job.requested_by,
                    reason: Some(reason),
                };
                let done = cancel(conn, details, by, policy, now).map_err(Error::unexpected)?;
                if done.is_none() {
                    let booking = details.booking.id;
                    let changed = anyhow::anyhow!("booking {booking} changed under a slot lock");
                    return Err(Error::internal(changed));
                }
                cancelled += 1;
            }
        }
    }
    Ok((moved, cancelled))
}

/// A count of bookings as stored (an office never has two billion).
fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The office's closure job `id`.
pub(super) fn find(
    conn: &mut DbConnection,
    office: &Office,
    id: ClosureJobId,
) -> Result<ClosureJobView, ClosureError> {
    closure_jobs::find(conn, office.id, id)?
        .map(ClosureJobView::new)
        .ok_or(ClosureFailure::NoSuchJob.into())
}
