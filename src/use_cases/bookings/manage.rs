//! The applicant manages the visit with the reference and the manage token they were given:
//! views it, cancels it, moves it, or takes it as a calendar event.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{
    BookingError, BookingFailure, Canceller, Details, Policy, about, cancel, check_case_ready,
    check_release, claim_seat, claim_seat_for_office, details, give_back_seat,
    ics::{self, Method},
    lock_seats_of, record_change, reread, slot_of_office, token,
    views::BookingView,
};
use crate::{
    domain::{
        FieldErrors,
        booking::{EventKind, Reference, Refusal, Status, check_change_cutoff, check_web_timing},
        ids::SlotId,
        mail::MessageKind,
        service::Eligibility,
    },
    error::Error,
    store::{DbConnection, Store, bookings, calendars, events, outbox, slots::Slot},
};

/// A fingerprint no token has, compared against when the reference is unknown, so that a
/// wrong reference and a wrong token take the same path.
pub(super) const NO_TOKEN: &str = "-";

/// The booking `reference` names, if `token` is its manage token (compared in constant time).
pub(in crate::use_cases) fn with_token(
    conn: &mut DbConnection,
    reference: &str,
    token: &str,
) -> Result<Details, BookingError> {
    let found = match Reference::parse(reference) {
        Ok(reference) => bookings::find_by_reference(conn, &reference)?,
        Err(_) => None,
    };
    let fingerprint = found
        .as_ref()
        .map_or(NO_TOKEN, |booking| booking.token_hash.as_str());
    match found {
        Some(booking) if token::matches(token, fingerprint) => details(conn, booking),
        _ => {
            token::matches(token, fingerprint);
            Err(BookingFailure::NoSuchBooking.into())
        }
    }
}

/// The booking, to its applicant.
pub async fn show(
    store: &Store,
    reference: String,
    token: String,
) -> Result<BookingView, BookingError> {
    store
        .read(move |conn| Ok(BookingView::new(&with_token(conn, &reference, &token)?)))
        .await
}

/// The booking as an RFC 5545 calendar: its file name and its text.
pub async fn calendar(
    store: &Store,
    reference: String,
    token: String,
) -> Result<(String, String), BookingError> {
    store
        .read(move |conn| {
            let details = with_token(conn, &reference, &token)?;
            Ok((
                format!("{}.ics", details.booking.reference),
                ics::calendar(&details, Method::Publish),
            ))
        })
        .await
}

/// Changes the visit `reference` names, if `token` is its manage token: `change` runs in one
/// write transaction, and the answer is the booking as it changed.
pub(super) async fn change_visit<C>(
    store: &Store,
    policy: &Policy,
    (reference, token): (String, String),
    now: DateTime<Utc>,
    change: C,
) -> Result<BookingView, BookingError>
where
    C: FnOnce(&mut DbConnection, &Details, &Policy, DateTime<Utc>) -> Result<(), BookingError>
        + Send
        + 'static,
{
    let policy = policy.clone();
    store
        .write(move |conn| {
            let details = with_token(conn, &reference, &token)?;
            change(conn, &details, &policy, now)?;
            Ok(BookingView::new(&reread(conn, details)?))
        })
        .await
}

/// The applicant cancels, up to the service's cut-off before the visit. The seat returns to
/// sale after a cool-down.
pub async fn cancel_visit(
    store: &Store,
    policy: &Policy,
    reference: String,
    token: String,
    now: DateTime<Utc>,
) -> Result<BookingView, BookingError> {
    change_visit(store, policy, (reference, token), now, cancel_in).await
}

fn cancel_in(
    conn: &mut DbConnection,
    details: &Details,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let booking = &details.booking;
    let refused = Refusal::NotChangeable {
        status: booking.status,
    };
    if booking.status != Status::Confirmed {
        return Err(refused.into());
    }
    let cutoff = details.service.settings.change_cutoff_hours;
    check_change_cutoff(details.slot.time.starts_at, now, cutoff)?;
    if cancel(conn, details, Canceller::Applicant, policy, now)?.is_none() {
        return Err(refused.into());
    }
    Ok(())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    /// The new slot, of the same service at the same office.
    #[schema(value_type = i64)]
    pub slot_id: SlotId,
}

/// The applicant moves the visit to another slot of the same service: the new seat is claimed
/// and the old one freed in one transaction, so either both happen or neither does.
pub async fn reschedule(
    store: &Store,
    policy: &Policy,
    reference: String,
    token: String,
    to: SlotId,
    now: DateTime<Utc>,
) -> Result<BookingView, BookingError> {
    change_visit(
        store,
        policy,
        (reference, token),
        now,
        move |conn, details, policy, now| move_in(conn, details, to, policy, now),
    )
    .await
}

fn move_in(
    conn: &mut DbConnection,
    details: &Details,
    to: SlotId,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let booking = &details.booking;
    let not_changeable = Refusal::NotChangeable {
        status: booking.status,
    };
    if booking.status != Status::Confirmed {
        return Err(not_changeable.into());
    }
    let service = &details.service;
    let settings = service.settings;
    check_change_cutoff(
        details.slot.time.starts_at,
        now,
        settings.change_cutoff_hours,
    )?;
    if to == booking.slot_id {
        return Err(Refusal::SameSlot.into());
    }
    // A move is a new booking of the new seat: every rule of booking online holds for it.
    if !details.office.stage.is_public() {
        return Err(Refusal::OfficeNotOpen.into());
    }
    if !service.active {
        return Err(Refusal::ServiceNotOffered.into());
    }
    if settings.invite_only() {
        return Err(Refusal::InviteOnly.into());
    }
    let limit = policy.max_moves;
    if events::times_moved(conn, booking.office_id, booking.id)? >= limit {
        return Err(Refusal::TooManyMoves { limit }.into());
    }
    let target = target_slot(conn, details, to)?;
    let (notice, horizon) = (settings.min_notice_hours, settings.horizon_days);
    check_web_timing(target.time.starts_at, now, notice, horizon)?;
    check_release(conn, &target, service, now)?;
    if settings.eligibility == Eligibility::Registered {
        let (office, case_number) = (&details.office, &booking.case_number);
        check_case_ready(conn, office, case_number, service, target.time.starts_at)?;
    }
    relocate(conn, details, &target, Mover::Applicant, policy, now)
}

/// The office moves the booking to `to`, a time of the same service, for `reason`: before the
/// visit, with no cut-off, move limit or online timing (as the desk books), onto any free seat,
/// the desk's share included. The applicant is mailed the new time and the reason.
pub(super) fn move_by_office(
    conn: &mut DbConnection,
    details: &Details,
    to: SlotId,
    reason: &str,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let booking = &details.booking;
    if booking.status != Status::Confirmed || details.slot.time.starts_at <= now {
        let status = booking.status;
        return Err(Refusal::NotChangeable { status }.into());
    }
    if to == booking.slot_id {
        return Err(Refusal::SameSlot.into());
    }
    let target = target_slot(conn, details, to)?;
    if target.time.ends_at <= now {
        return Err(Refusal::SlotInThePast.into());
    }
    relocate(
        conn,
        details,
        &target,
        Mover::Office { reason },
        policy,
        now,
    )
}

/// The slot `to` a booking may move to, whoever moves it: one of its office's, of its service,
/// not blocked.
fn target_slot(
    conn: &mut DbConnection,
    details: &Details,
    to: SlotId,
) -> Result<Slot, BookingError> {
    let office_id = details.booking.office_id;
    let target = slot_of_office(conn, office_id, to)?;
    let service = &details.service;
    if !calendars::service_ids(conn, office_id, target.calendar_id)?.contains(&service.id) {
        let code = &service.appointment_type.code;
        let message = format!("this time is not for {code}");
        return Err(Error::Invalid(FieldErrors::single("slot_id", message)));
    }
    if target.blocked {
        return Err(Refusal::SlotUnavailable.into());
    }
    Ok(target)
}

/// Who moves a booking, which says where its seat at the new slot comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(in crate::use_cases) enum Mover<'a> {
    /// The applicant: a seat of the booking's channel is claimed, if one is for sale.
    Applicant,
    /// The applicant accepting a waitlist offer: the offer holds the seat already.
    HeldSeat,
    /// The office, for this reason (told to the applicant): any free seat, the desk's share
    /// included, as the desk books.
    Office { reason: &'a str },
    /// An unexpected closure, for its reason: a seat of the booking's channel, by the shares
    /// every booking of that channel keeps to (the plan counted them so).
    Closure { reason: &'a str },
}

/// Moves the booking to `target` in the caller's transaction and gives its old seat back (to
/// cool down first), recording the event and queueing the applicant's message. The booking
/// keeps its channel: a desk booking moves to a seat the desk may give.
pub(in crate::use_cases) fn relocate(
    conn: &mut DbConnection,
    details: &Details,
    target: &Slot,
    mover: Mover<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let booking = &details.booking;
    lock_seats_of(conn, booking, Some(target.id))?;
    let reason = match mover {
        Mover::Applicant => {
            claim_seat(conn, booking.office_id, target, booking.channel, now)?;
            None
        }
        Mover::HeldSeat => None,
        Mover::Office { reason } => {
            claim_seat_for_office(conn, booking, target, now)?;
            Some(reason)
        }
        Mover::Closure { reason } => {
            claim_seat(conn, booking.office_id, target, booking.channel, now)?;
            Some(reason)
        }
    };
    let slots = (booking.slot_id, target.id);
    let moved = bookings::move_to(conn, booking.office_id, booking.id, slots, reason, now)?;
    let Some(sequence) = moved else {
        // Changed meanwhile by another request; the transaction rolls the claim back.
        let status = booking.status;
        return Err(Refusal::NotChangeable { status }.into());
    };
    give_back_seat(conn, booking, policy, now)?;
    let mut detail = json!({"from_slot_id": booking.slot_id, "to_slot_id": target.id});
    if let Some(reason) = reason {
        detail["by"] = json!("office");
        detail["reason"] = json!(reason);
    }
    let kind = EventKind::Rescheduled;
    record_change(conn, details, target, kind, Some(detail), None, now)?;
    let kind = MessageKind::Rescheduled;
    outbox::enqueue(conn, about(booking, sequence), kind, now)?;
    Ok(())
}
