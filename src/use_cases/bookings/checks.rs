//! The rules a booking is checked against in its transaction, where they need stored data: a
//! registered case ready for the day, the no-show rule, the seats' scheduled release and draws.

use chrono::{DateTime, Utc};

use super::BookingError;
use crate::{
    domain::{booking::Refusal, cases::is_ready, release::Release},
    store::{
        DbConnection, attendance, lottery, offices::Office, registered_cases,
        services::OfficeService, slots::Slot,
    },
};

/// A registered-only service books a registered case only for a day the case is ready for
/// that type, read in the booking's transaction (the case system may change it any time).
pub(in crate::use_cases) fn check_case_ready(
    conn: &mut DbConnection,
    office: &Office,
    case_number: &str,
    service: &OfficeService,
    starts_at: DateTime<Utc>,
) -> Result<(), BookingError> {
    let case =
        registered_cases::find(conn, office.id, case_number)?.ok_or(Refusal::CaseNotVerified)?;
    let visit_day = starts_at
        .with_timezone(&office.details.timezone)
        .date_naive();
    match is_ready(&case.ready_for, &service.appointment_type.code, visit_day) {
        true => Ok(()),
        false => Err(Refusal::CaseNotReady.into()),
    }
}

/// The no-show rule: a case that missed too many visits of the service lately books it only
/// at the desk for a while (applicants and intermediaries are refused, and told until when).
pub(in crate::use_cases) fn check_no_shows(
    conn: &mut DbConnection,
    service: &OfficeService,
    case_number: &str,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let Some(rule) = service.settings.no_show_rule else {
        return Ok(());
    };
    let since = rule.counts_since(now);
    let missed =
        attendance::no_shows_since(conn, service.office_id, service.id, case_number, since)?;
    match rule.desk_only_until(&missed, now) {
        Some(until) => Err(Refusal::DeskOnly { until }.into()),
        None => Ok(()),
    }
}

/// Scheduled release: a slot's seats are not on public sale before it opens, nor while a
/// lottery shares them out (until its draw is done; what the draw leaves goes first come).
pub(super) fn check_release(
    conn: &mut DbConnection,
    slot: &Slot,
    service: &OfficeService,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let Some(opens_at) = slot.opens_at else {
        return Ok(());
    };
    if let Release::NotYet(opens_at) = Release::of(Some(opens_at), now) {
        return Err(Refusal::NotYetOpen { opens_at }.into());
    }
    match draw_under_way(conn, service, opens_at)? {
        Some(closes_at) => Err(Refusal::LotteryUnderWay { closes_at }.into()),
        None => Ok(()),
    }
}

/// When the draw of the service's seats opening at `opens_at` closes, if it is still under
/// way: until then those seats are shared out by lot, not sold or given.
pub(in crate::use_cases) fn draw_under_way(
    conn: &mut DbConnection,
    service: &OfficeService,
    opens_at: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, BookingError> {
    Ok(
        lottery::draw_at(conn, (service.office_id, service.id), opens_at)?
            .filter(|draw| !draw.is_drawn())
            .map(|draw| draw.closes_at),
    )
}
