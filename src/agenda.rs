//! Publishing an office's agenda: its calendars, hours, services and closures become slot rows,
//! reconciled with the slots already published (see `domain::slots`).

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};

use crate::{
    domain::slots::{CalendarPlan, ClosedTimes, ClosureRule, Conflict, plan_calendar, reconcile},
    store::{DbConnection, calendars, closures, offices::Office, services, slots},
};

/// Whether to create the slots that are missing, or only to take away those no longer open
/// (after a closure: days not yet published stay unpublished).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Publish,
    WithdrawOnly,
}

#[derive(Debug)]
pub struct PublishReport {
    pub created: usize,
    pub kept: usize,
    pub removed: usize,
    pub conflicts: Vec<Conflict>,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("calendar '{calendar}' serves services of different durations ({durations})")]
    MixedDurations { calendar: String, durations: String },
    #[error(transparent)]
    Store(#[from] diesel::result::Error),
}

/// Brings the office's slots on the local days `from..=to` in line with its configuration.
/// Runs inside the caller's transaction.
pub fn publish(
    conn: &mut DbConnection,
    office: &Office,
    from: NaiveDate,
    to: NaiveDate,
    mode: Mode,
    now: DateTime<Utc>,
) -> Result<PublishReport, PublishError> {
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
        if served.is_empty() {
            continue;
        }
        let durations: BTreeSet<i32> = served
            .iter()
            .map(|service| service.duration_minutes())
            .collect();
        let [slot_minutes] = durations.iter().copied().collect::<Vec<_>>()[..] else {
            return Err(PublishError::MixedDurations {
                calendar: calendar.fields.name.clone(),
                durations: served
                    .iter()
                    .map(|s| format!("{} {} min", s.appointment_type.code, s.duration_minutes()))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
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
        planned.extend(plan_calendar(
            &plan,
            office.details.timezone,
            from,
            to,
            &closed,
        ));
    }

    let calendar_ids: Vec<i64> = calendars.iter().map(|calendar| calendar.id).collect();
    let stored = slots::stored(conn, &calendar_ids, from, to)?;
    let mut plan = reconcile(planned, stored);
    if mode == Mode::WithdrawOnly {
        plan.create.clear();
        plan.update.clear();
    }
    slots::apply(conn, office.id, &mut plan, now)?;
    Ok(PublishReport {
        created: plan.create.len(),
        kept: plan.kept,
        removed: plan.remove.len(),
        conflicts: plan.conflicts,
    })
}
