//! Closures whose bookings a background job moves or cancels: what staff asked, and how far the
//! job got. Any instance may take a job up; a claim is one conditional UPDATE, so only one does.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{
    DbConnection, StoredOptionalTime,
    closures::{minutes_of, rule_of},
    db_time, named,
    schema::closure_jobs,
};
use crate::domain::{
    Named,
    ids::{ClosureId, ClosureJobId, OfficeId, StaffId},
    rescheduling::{Affected, JobStatus},
    slots::ClosureRule,
};

/// A closure job as stored.
#[derive(Debug, Clone)]
pub struct ClosureJob {
    pub id: ClosureJobId,
    pub office_id: OfficeId,
    pub requested_by: StaffId,
    pub rule: ClosureRule,
    pub reason: String,
    pub affected: Affected,
    pub status: JobStatus,
    pub total: Option<i32>,
    pub processed: i32,
    pub moved: i32,
    pub cancelled: i32,
    pub closure_id: Option<ClosureId>,
    /// What became of each booking, as JSON, once done.
    pub outcome: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = closure_jobs)]
struct JobRow {
    id: ClosureJobId,
    office_id: OfficeId,
    requested_by: StaffId,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    start_minute: Option<i32>,
    end_minute: Option<i32>,
    reason: String,
    affected: String,
    status: String,
    total: Option<i32>,
    processed: i32,
    moved: i32,
    cancelled: i32,
    closure_id: Option<ClosureId>,
    outcome: Option<String>,
    error: Option<String>,
    created_at: NaiveDateTime,
    #[diesel(deserialize_as = StoredOptionalTime)]
    started_at: Option<DateTime<Utc>>,
    #[diesel(deserialize_as = StoredOptionalTime)]
    finished_at: Option<DateTime<Utc>>,
}

impl JobRow {
    fn into_job(self) -> QueryResult<ClosureJob> {
        let id = self.id;
        let window = (self.start_minute, self.end_minute);
        Ok(ClosureJob {
            id,
            office_id: self.office_id,
            requested_by: self.requested_by,
            rule: rule_of(self.starts_on, self.ends_on, window, || {
                format!("closure job {id}")
            })?,
            reason: self.reason,
            affected: named(&self.affected)?,
            status: named(&self.status)?,
            total: self.total,
            processed: self.processed,
            moved: self.moved,
            cancelled: self.cancelled,
            closure_id: self.closure_id,
            outcome: self.outcome,
            error: self.error,
            created_at: self.created_at.and_utc(),
            started_at: self.started_at,
            finished_at: self.finished_at,
        })
    }
}

/// Queues a job for a closure of `rule` whose bookings are `affected` so.
pub fn insert(
    conn: &mut DbConnection,
    office_id: OfficeId,
    requested_by: StaffId,
    (rule, reason): (&ClosureRule, &str),
    affected: Affected,
    now: DateTime<Utc>,
) -> QueryResult<ClosureJobId> {
    let (start_minute, end_minute) = minutes_of(rule);
    diesel::insert_into(closure_jobs::table)
        .values((
            closure_jobs::office_id.eq(office_id),
            closure_jobs::requested_by.eq(requested_by),
            closure_jobs::starts_on.eq(rule.starts_on),
            closure_jobs::ends_on.eq(rule.ends_on),
            closure_jobs::start_minute.eq(start_minute),
            closure_jobs::end_minute.eq(end_minute),
            closure_jobs::reason.eq(reason),
            closure_jobs::affected.eq(affected.as_str()),
            closure_jobs::status.eq(JobStatus::Pending.as_str()),
            closure_jobs::created_at.eq(db_time(now)),
        ))
        .returning(closure_jobs::id)
        .get_result(conn)
}

/// The office's job `id`.
pub fn find(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: ClosureJobId,
) -> QueryResult<Option<ClosureJob>> {
    closure_jobs::table
        .filter(closure_jobs::office_id.eq(office_id))
        .filter(closure_jobs::id.eq(id))
        .select(JobRow::as_select())
        .first(conn)
        .optional()?
        .map(JobRow::into_job)
        .transpose()
}

/// The oldest job waiting to run: pending, or running on an instance whose lease has passed.
pub fn next_due(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<Option<ClosureJob>> {
    let pending = closure_jobs::status.eq(JobStatus::Pending.as_str());
    let abandoned = closure_jobs::status
        .eq(JobStatus::Running.as_str())
        .and(closure_jobs::claimed_until.lt(db_time(now)));
    closure_jobs::table
        .filter(pending.or(abandoned.assume_not_null()))
        .order(closure_jobs::id)
        .select(JobRow::as_select())
        .first(conn)
        .optional()?
        .map(JobRow::into_job)
        .transpose()
}

/// Takes `job` for `lease`, if it is still waiting (no other instance took it meanwhile).
pub fn claim(
    conn: &mut DbConnection,
    job: &ClosureJob,
    lease: Duration,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let pending = closure_jobs::status.eq(JobStatus::Pending.as_str());
    let abandoned = closure_jobs::status
        .eq(JobStatus::Running.as_str())
        .and(closure_jobs::claimed_until.lt(db_time(now)));
    let claimed = diesel::update(
        closure_jobs::table
            .filter(closure_jobs::office_id.eq(job.office_id))
            .filter(closure_jobs::id.eq(job.id))
            .filter(pending.or(abandoned.assume_not_null())),
    )
    .set((
        closure_jobs::status.eq(JobStatus::Running.as_str()),
        closure_jobs::claimed_until.eq(db_time(now + lease)),
        closure_jobs::started_at.eq(db_time(now)),
        closure_jobs::attempts.eq(closure_jobs::attempts + 1),
    ))
    .execute(conn)?;
    Ok(claimed == 1)
}

/// How far a running job got.
pub fn progress(
    conn: &mut DbConnection,
    (office_id, id): (OfficeId, ClosureJobId),
    total: i32,
    processed: i32,
) -> QueryResult<()> {
    diesel::update(of_office(office_id, id))
        .set((
            closure_jobs::total.eq(total),
            closure_jobs::processed.eq(processed),
        ))
        .execute(conn)?;
    Ok(())
}

/// What a job did, recorded in the transaction that did it.
pub struct Finished<'a> {
    pub closure_id: ClosureId,
    pub total: i32,
    pub moved: i32,
    pub cancelled: i32,
    pub outcome: &'a str,
}

pub fn finish(
    conn: &mut DbConnection,
    (office_id, id): (OfficeId, ClosureJobId),
    finished: Finished<'_>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(of_office(office_id, id))
        .set((
            closure_jobs::status.eq(JobStatus::Done.as_str()),
            closure_jobs::closure_id.eq(finished.closure_id),
            closure_jobs::total.eq(finished.total),
            closure_jobs::processed.eq(finished.total),
            closure_jobs::moved.eq(finished.moved),
            closure_jobs::cancelled.eq(finished.cancelled),
            closure_jobs::outcome.eq(finished.outcome),
            closure_jobs::claimed_until.eq(None::<NaiveDateTime>),
            closure_jobs::finished_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The job failed and changed nothing; `error` is what staff are told.
pub fn fail(
    conn: &mut DbConnection,
    (office_id, id): (OfficeId, ClosureJobId),
    error: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(of_office(office_id, id))
        .set((
            closure_jobs::status.eq(JobStatus::Failed.as_str()),
            closure_jobs::processed.eq(0),
            closure_jobs::error.eq(error),
            closure_jobs::claimed_until.eq(None::<NaiveDateTime>),
            closure_jobs::finished_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Puts a job the database was too busy for back in the queue, to be tried again.
pub fn requeue(
    conn: &mut DbConnection,
    (office_id, id): (OfficeId, ClosureJobId),
) -> QueryResult<()> {
    diesel::update(of_office(office_id, id))
        .set((
            closure_jobs::status.eq(JobStatus::Pending.as_str()),
            closure_jobs::processed.eq(0),
            closure_jobs::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// The office's job `id`, to change.
fn of_office(
    office_id: OfficeId,
    id: ClosureJobId,
) -> diesel::dsl::Filter<
    diesel::dsl::Filter<closure_jobs::table, diesel::dsl::Eq<closure_jobs::office_id, OfficeId>>,
    diesel::dsl::Eq<closure_jobs::id, ClosureJobId>,
> {
    closure_jobs::table
        .filter(closure_jobs::office_id.eq(office_id))
        .filter(closure_jobs::id.eq(id))
}
