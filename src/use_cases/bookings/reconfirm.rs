//! Reconfirmation, where a service asks for it: some days before the visit the applicant is
//! mailed to reconfirm from the visit's page; a visit not reconfirmed by the set time before it
//! is released (the applicant told), and its seat, after the usual cool-down, goes to the
//! waitlist first. Staff see how many seats it freed.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    BookingError, Canceller, Details, Policy, about, cancel, manage::change_visit,
    views::BookingView,
};
use crate::{
    domain::{
        Parsed,
        booking::{Refusal, Status},
        days::{Day, start_of_day},
        mail::MessageKind,
        office::OfficeCode,
        staff::Actor,
    },
    error::Error,
    store::{Store, attendance, offices, outbox, services},
    use_cases::scope::{Need, staff_office},
};

/// Bookings asked or released per service in one housekeeping round; the rest wait for the
/// next.
const BATCH: i64 = 500;

/// The applicant reconfirms the visit, any time before it would be released (again is
/// harmless).
pub async fn reconfirm(
    store: &Store,
    policy: &Policy,
    reference: String,
    token: String,
    now: DateTime<Utc>,
) -> Result<BookingView, BookingError> {
    change_visit(
        store,
        policy,
        (reference, token),
        now,
        |conn, details, _, now| {
            let Some(rule) = details.service.settings.reconfirmation else {
                return Err(Refusal::NoReconfirmation.into());
            };
            let status = details.booking.status;
            if status != Status::Confirmed || now >= rule.releases_at(details.slot.time.starts_at) {
                return Err(Refusal::NotChangeable { status }.into());
            }
            if !attendance::reconfirm(conn, details.booking.office_id, details.booking.id, now)? {
                return Err(Refusal::NotChangeable { status }.into());
            }
            Ok(())
        },
    )
    .await
}

/// What one round of reconfirmation did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub asked: usize,
    pub released: usize,
}

/// Housekeeping: asks the applicants whose visit is close enough, and releases the visits not
/// reconfirmed in time. Safe with several instances: asking and releasing are conditional
/// updates, so each happens once.
pub async fn tidy(
    store: &Store,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Round, BookingError> {
    let policy = policy.clone();
    store
        .write(move |conn| {
            let mut round = Round::default();
            let mut offices_by_id = HashMap::new();
            for service in services::asking_to_reconfirm(conn)? {
                let Some(rule) = service.settings.reconfirmation else {
                    continue;
                };
                // Asked once the visit is `ask_days_before` away, unless it is already too
                // close to answer (booked after its release time: never released either).
                let released_until = now + Duration::hours(i64::from(rule.release_hours_before));
                let asked_until = now + Duration::days(i64::from(rule.ask_days_before));
                let window = (released_until, asked_until);
                let (office_id, service_id) = (service.office_id, service.id);
                for booking in
                    attendance::not_asked_to_reconfirm(conn, office_id, service_id, window, BATCH)?
                {
                    if attendance::mark_asked_to_reconfirm(conn, office_id, booking.id, now)? {
                        let kind = MessageKind::ReconfirmRequest;
                        outbox::enqueue(conn, about(&booking, booking.sequence), kind, now)?;
                        round.asked += 1;
                    }
                }
                for (booking, slot) in attendance::unconfirmed(
                    conn,
                    office_id,
                    service_id,
                    (now, released_until),
                    BATCH,
                )? {
                    let office = match offices_by_id.get(&booking.office_id) {
                        Some(office) => office,
                        None => {
                            let office = offices::find_by_id(conn, booking.office_id)?
                                .ok_or_else(|| Error::vanished("an office"))?;
                            offices_by_id.entry(booking.office_id).or_insert(office)
                        }
                    };
                    let details = Details {
                        booking,
                        slot,
                        service: service.clone(),
                        office: office.clone(),
                    };
                    if cancel(conn, &details, Canceller::Unconfirmed, &policy, now)?.is_some() {
                        round.released += 1;
                    }
                }
            }
            Ok(round)
        })
        .await
}

/// The days of visits a reconfirmation report covers.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReconfirmationQuery {
    /// First day of visits
    #[param(value_type = NaiveDate)]
    pub from: Day,
    /// Last day of visits (at most a year after `from`)
    #[param(value_type = NaiveDate)]
    pub to: Day,
}

/// What reconfirmation did for the visits of some days.
#[derive(Serialize, ToSchema)]
pub struct ReconfirmationReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Applicants asked to reconfirm.
    pub asked: i64,
    /// Of those, who did.
    pub reconfirmed: i64,
    /// Visits released because nobody reconfirmed: each freed its seat.
    pub released: i64,
    /// Seats freed for others (the waitlist first, then anyone).
    pub seats_freed: i64,
}

/// How many seats reconfirmation freed at the office, for visits on the days asked.
pub async fn report(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    query: Parsed<ReconfirmationQuery>,
) -> Result<ReconfirmationReport, BookingError> {
    let (query, mut errors) = query.into_parts();
    store
        .read(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let (from, to) = (query.from.get(), query.to.get());
            if to < from || (to - from).num_days() > 366 {
                errors.add("to", "must be from `from` to a year after it");
            }
            errors.or_value(())?;
            let zone = office.details.timezone;
            let end = to.succ_opt().unwrap_or(to);
            let range = (start_of_day(zone, from), start_of_day(zone, end));
            let (asked, reconfirmed, released) =
                attendance::reconfirmation_counts(conn, office.id, range)?;
            Ok(ReconfirmationReport {
                from,
                to,
                asked,
                reconfirmed,
                released,
                seats_freed: released,
            })
        })
        .await
}
