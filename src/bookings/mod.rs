//! Booking procedures: book, cancel, move, and the desk's status changes.
//!
//! Each runs inside the caller's write transaction and records its event there, so the mailer
//! sees exactly the changes that committed. State changes are conditional updates on the state
//! that was read, so two requests racing on one booking cannot both win.

pub mod ics;
pub mod token;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::{
    domain::{
        FieldErrors,
        booking::{
            CaseNumber, Channel, DeskAction, Reference, Refusal, Status, check_change_cutoff,
            check_web_timing,
        },
        catalogue::TypeCode,
        email::EmailAddress,
        mail::MessageKind,
        office::Stage,
        slots::today,
        staff::Actor,
    },
    store::{
        DbConnection, StoreError,
        bookings::{self, Booking, NewBooking},
        calendars, is_unique_violation,
        offices::{self, Office},
        outbox,
        services::{self, OfficeService},
        slots::{self, Slot},
    },
};
use token::{TokenKey, fingerprint};

/// The office-wide rules that are not per service.
#[derive(Clone)]
pub struct Policy {
    /// Active bookings one email address may hold at one office.
    pub max_active_per_email: i64,
    /// How long a freed seat waits before the web can book it again.
    pub cooldown: Duration,
    pub tokens: TokenKey,
}

/// Who is booking: the applicant online, or staff at the desk or phone.
#[derive(Clone)]
pub enum Booker {
    Applicant,
    Staff(Actor),
}

impl Booker {
    pub fn channel(&self) -> Channel {
        match self {
            Booker::Applicant => Channel::Web,
            Booker::Staff(_) => Channel::Desk,
        }
    }

    fn actor_id(&self) -> Option<i64> {
        match self {
            Booker::Applicant => None,
            Booker::Staff(actor) => Some(actor.staff_id),
        }
    }
}

/// A booking request, parsed at the edge.
#[derive(Clone)]
pub struct Request {
    pub slot_id: i64,
    /// Needed only when the slot's calendar serves several services.
    pub service: Option<TypeCode>,
    pub case_number: CaseNumber,
    pub full_name: String,
    /// Required online; the desk may book for someone without one.
    pub email: Option<EmailAddress>,
    pub phone: Option<String>,
    pub language: String,
}

/// An `Idempotency-Key` and the fingerprint of the request that came with it.
#[derive(Clone)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_fingerprint: String,
}

#[derive(Debug)]
pub enum BookingError {
    Refused(Refusal),
    Invalid(FieldErrors),
    NotFound(&'static str),
    /// Another request with the same Idempotency-Key committed first: answer from its record.
    KeyRace,
    Store(StoreError),
}

impl From<diesel::result::Error> for BookingError {
    fn from(error: diesel::result::Error) -> BookingError {
        BookingError::Store(StoreError::from(error))
    }
}

impl From<StoreError> for BookingError {
    fn from(error: StoreError) -> BookingError {
        BookingError::Store(error)
    }
}

impl From<Refusal> for BookingError {
    fn from(refusal: Refusal) -> BookingError {
        BookingError::Refused(refusal)
    }
}

fn invalid(field: &str, message: impl Into<String>) -> BookingError {
    BookingError::Invalid(FieldErrors::single(field, message))
}

/// A confirmed booking and the token to manage it.
pub struct Booked {
    pub details: Details,
    pub manage_token: String,
    /// The answer to an earlier request with the same Idempotency-Key.
    pub replayed: bool,
}

/// Books a seat: one transaction claims the seat and records the booking, its event and the
/// idempotency record, or does none of it.
pub fn book(
    conn: &mut DbConnection,
    office: &Office,
    booker: &Booker,
    request: &Request,
    key: Option<&IdempotencyKey>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Booked, BookingError> {
    let is_test = match (booker, office.stage) {
        (_, Stage::Pilot | Stage::Live) => false,
        (Booker::Staff(_), Stage::Preview) => true,
        _ => return Err(Refusal::OfficeNotOpen.into()),
    };
    if let Some(key) = key {
        if let Some(record) = bookings::find_key(conn, office.id, &key.key)? {
            if record.request_hash != key.request_fingerprint {
                return Err(Refusal::IdempotencyKeyReused.into());
            }
            let booking_id = record.booking_id.ok_or(BookingError::KeyRace)?;
            let booking = bookings::find(conn, booking_id)?.ok_or(BookingError::KeyRace)?;
            let manage_token = policy.tokens.token(&booking.token_salt);
            return Ok(Booked {
                details: details(conn, booking)?,
                manage_token,
                replayed: true,
            });
        }
        bookings::insert_key(conn, office.id, &key.key, &key.request_fingerprint, now).map_err(
            |e| {
                if is_unique_violation(&e) {
                    BookingError::KeyRace
                } else {
                    e.into()
                }
            },
        )?;
    }

    let slot = slots::find(conn, office.id, request.slot_id)?
        .ok_or_else(|| invalid("slot_id", "is not a slot of this office"))?;
    if slot.blocked {
        return Err(Refusal::SlotUnavailable.into());
    }
    let service = service_for(conn, &slot, request.service.as_ref())?;
    let channel = booker.channel();
    match booker {
        Booker::Applicant => {
            if service.settings.invite_only {
                return Err(Refusal::InviteOnly.into());
            }
            check_web_timing(
                slot.starts_at,
                now,
                service.settings.min_notice_hours,
                service.settings.horizon_days,
            )?;
        }
        Booker::Staff(_) if slot.ends_at <= now => return Err(Refusal::SlotInThePast.into()),
        Booker::Staff(_) => {}
    }
    if bookings::case_has_active(conn, office.id, request.case_number.as_str(), service.id)? {
        return Err(Refusal::CaseAlreadyBooked.into());
    }
    if let (Booker::Applicant, Some(email)) = (booker, &request.email) {
        bookings::lock_email(conn, office.id, email.as_str())?;
        if bookings::active_for_email(conn, office.id, email.as_str())?
            >= policy.max_active_per_email
        {
            return Err(Refusal::TooManyBookings {
                limit: policy.max_active_per_email,
            }
            .into());
        }
    }

    claim_seat(conn, office.id, &slot, channel, now)?;

    let reference = unused_reference(conn)?;
    let salt = TokenKey::new_salt();
    let manage_token = policy.tokens.token(&salt);
    let token_hash = fingerprint(&manage_token);
    let new = NewBooking {
        office_id: office.id,
        slot_id: slot.id,
        office_service_id: service.id,
        reference: &reference,
        token_hash: &token_hash,
        token_salt: &salt,
        case_number: request.case_number.as_str(),
        full_name: &request.full_name,
        email: request.email.as_ref().map(|e| e.as_str()),
        phone: request.phone.as_deref(),
        language: &request.language,
        channel,
        is_test,
        created_by: booker.actor_id(),
    };
    // The partial unique index settles a race between two bookings of the same case.
    let booking = bookings::insert(conn, new, now).map_err(|e| {
        if is_unique_violation(&e) {
            BookingError::Refused(Refusal::CaseAlreadyBooked)
        } else {
            e.into()
        }
    })?;
    bookings::record_event(
        conn,
        &booking,
        "confirmed",
        Some(json!({"slot_id": slot.id})),
        booker.actor_id(),
        now,
    )?;
    outbox::enqueue(
        conn,
        about(&booking, booking.sequence),
        MessageKind::Confirmed,
        now,
    )?;
    if let Some(key) = key {
        bookings::set_key_booking(conn, office.id, &key.key, booking.id)?;
    }
    // Everything the answer needs is at hand: no need to read it back.
    let details = Details {
        booking,
        slot,
        service,
        office: office.clone(),
    };
    Ok(Booked {
        details,
        manage_token,
        replayed: false,
    })
}

/// Takes a seat of `channel` in `slot`, after putting back on sale those of its seats whose
/// cool-down has passed. A slot read with nothing cooling has nothing to put back: a seat freed
/// since that read cools until after `now`.
fn claim_seat(
    conn: &mut DbConnection,
    office_id: i64,
    slot: &Slot,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    if slot.cooling > 0 {
        bookings::release_cooled(conn, slot.id, now)?;
    }
    if bookings::claim_seat(conn, office_id, slot.id, channel)? {
        Ok(())
    } else {
        Err(Refusal::SlotFull.into())
    }
}

/// Who cancels: it decides the event recorded and the message the applicant gets.
enum Canceller<'a> {
    Applicant,
    Office {
        actor: &'a Actor,
        reason: Option<&'a str>,
    },
}

/// Cancels the booking if it is still as it was read, gives its seat back (to cool down first)
/// and queues the applicant's message. `None` when another request changed the booking first:
/// then nothing was done, so its seat is never freed twice.
fn cancel(
    conn: &mut DbConnection,
    booking: &Booking,
    by: Canceller,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Option<i32>, BookingError> {
    let (cancelled_by, reason, event, actor_id, kind) = match by {
        Canceller::Applicant => (
            "applicant",
            None,
            "cancelled_by_applicant",
            None,
            MessageKind::CancelledByApplicant,
        ),
        Canceller::Office { actor, reason } => (
            "office",
            reason,
            "cancelled_by_office",
            Some(actor.staff_id),
            MessageKind::CancelledByOffice,
        ),
    };
    bookings::lock_slots(conn, &[booking.slot_id])?;
    let cancelled = bookings::cancel(
        conn,
        booking.id,
        booking.status,
        booking.slot_id,
        cancelled_by,
        reason,
        now,
    )?;
    let Some(sequence) = cancelled else {
        return Ok(None);
    };
    bookings::release_seat(conn, booking.slot_id, booking.channel, policy.cooldown, now)?;
    let detail = reason.map(|reason| json!({ "reason": reason }));
    bookings::record_event(conn, booking, event, detail, actor_id, now)?;
    outbox::enqueue(conn, about(booking, sequence), kind, now)?;
    Ok(Some(sequence))
}

/// The outbox's view of a booking, at `sequence`.
fn about(booking: &Booking, sequence: i32) -> outbox::About<'_> {
    outbox::About {
        office_id: booking.office_id,
        booking_id: booking.id,
        reference: booking.reference.as_str(),
        email: booking.email.as_deref(),
        sequence,
    }
}

/// A refusal that needs no write transaction: the slot is blocked, or has no seat for this
/// channel and none about to come back from a cool-down. Read without locks, it may miss a
/// seat freed this very moment (the applicant tries again); it never sells anything: only the
/// claim in `book` does. On a click day this answers the crowd after the sell-out cheaply.
pub fn quick_refusal(
    conn: &mut DbConnection,
    office_id: i64,
    slot_id: i64,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<Option<Refusal>, BookingError> {
    let Some(slot) = slots::find(conn, office_id, slot_id)? else {
        return Ok(None); // `book` explains what is wrong with it.
    };
    if slot.blocked {
        return Ok(Some(Refusal::SlotUnavailable));
    }
    let free = match channel {
        Channel::Web => slot.seats().web_available(),
        Channel::Desk => slot.seats().desk_available(),
    };
    if free > 0 || (slot.cooling > 0 && bookings::has_cooled_seat(conn, slot_id, now)?) {
        return Ok(None);
    }
    Ok(Some(Refusal::SlotFull))
}

/// The service a booking in `slot` is for: the one asked for, or the calendar's only one.
fn service_for(
    conn: &mut DbConnection,
    slot: &Slot,
    asked: Option<&TypeCode>,
) -> Result<OfficeService, BookingError> {
    let mut candidates = services::serving(conn, slot.calendar_id)?;
    match asked {
        Some(code) => candidates
            .into_iter()
            .find(|service| service.appointment_type.code == *code)
            .ok_or_else(|| invalid("service", format!("this time is not for {code}"))),
        None if candidates.len() == 1 => Ok(candidates.remove(0)),
        None if candidates.is_empty() => Err(Refusal::SlotUnavailable.into()),
        None => {
            let codes: Vec<String> = candidates
                .iter()
                .map(|s| s.appointment_type.code.to_string())
                .collect();
            Err(invalid(
                "service",
                format!("is required: this time serves {}", codes.join(", ")),
            ))
        }
    }
}

fn unused_reference(conn: &mut DbConnection) -> Result<Reference, BookingError> {
    // 32^8 references: a clash is rare, two in a row rarer still.
    for _ in 0..5 {
        let reference = Reference::from_random(token::reference_bytes());
        if !bookings::reference_taken(conn, &reference)? {
            return Ok(reference);
        }
    }
    Err(diesel::result::Error::RollbackTransaction.into())
}

/// Everything a booking's views need.
pub struct Details {
    pub booking: Booking,
    pub slot: Slot,
    pub service: OfficeService,
    pub office: Office,
}

pub fn details(conn: &mut DbConnection, booking: Booking) -> Result<Details, BookingError> {
    let office =
        offices::find_by_id(conn, booking.office_id)?.ok_or(BookingError::NotFound("office"))?;
    let slot = slots::find(conn, booking.office_id, booking.slot_id)?
        .ok_or(BookingError::NotFound("slot"))?;
    let service = services::find_by_id(conn, booking.office_service_id)?
        .ok_or(BookingError::NotFound("service"))?;
    Ok(Details {
        booking,
        slot,
        service,
        office,
    })
}

/// The booking as this transaction has just changed it: the booking and its slot (whose seats,
/// or which, changed) are read again; its office and service stay what they were.
pub fn reread(conn: &mut DbConnection, details: Details) -> Result<Details, BookingError> {
    let booking =
        bookings::find(conn, details.booking.id)?.ok_or(BookingError::NotFound("booking"))?;
    let slot = slots::find(conn, booking.office_id, booking.slot_id)?
        .ok_or(BookingError::NotFound("slot"))?;
    Ok(Details {
        booking,
        slot,
        ..details
    })
}

/// The applicant cancels, up to the service's cut-off before the visit.
pub fn cancel_by_applicant(
    conn: &mut DbConnection,
    details: &Details,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let booking = &details.booking;
    if booking.status != Status::Confirmed {
        return Err(Refusal::NotChangeable {
            status: booking.status,
        }
        .into());
    }
    check_change_cutoff(
        details.slot.starts_at,
        now,
        details.service.settings.change_cutoff_hours,
    )?;
    match cancel(conn, booking, Canceller::Applicant, policy, now)? {
        Some(_) => Ok(()),
        None => Err(Refusal::NotChangeable {
            status: booking.status,
        }
        .into()),
    }
}

/// The applicant moves the visit to another slot of the same service: the new seat is claimed
/// and the old one freed in one transaction, so either both happen or neither does.
pub fn reschedule(
    conn: &mut DbConnection,
    details: &Details,
    new_slot_id: i64,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let booking = &details.booking;
    if booking.status != Status::Confirmed {
        return Err(Refusal::NotChangeable {
            status: booking.status,
        }
        .into());
    }
    let settings = details.service.settings;
    check_change_cutoff(details.slot.starts_at, now, settings.change_cutoff_hours)?;
    if new_slot_id == booking.slot_id {
        return Err(Refusal::SameSlot.into());
    }
    let target = slots::find(conn, booking.office_id, new_slot_id)?
        .ok_or_else(|| invalid("slot_id", "is not a slot of this office"))?;
    if !calendars::service_ids(conn, target.calendar_id)?.contains(&details.service.id) {
        return Err(invalid(
            "slot_id",
            format!(
                "this time is not for {}",
                details.service.appointment_type.code
            ),
        ));
    }
    if target.blocked {
        return Err(Refusal::SlotUnavailable.into());
    }
    check_web_timing(
        target.starts_at,
        now,
        settings.min_notice_hours,
        settings.horizon_days,
    )?;
    bookings::lock_slots(conn, &[booking.slot_id, target.id])?;
    claim_seat(conn, booking.office_id, &target, Channel::Web, now)?;
    let moved = bookings::move_to(
        conn,
        booking.id,
        booking.slot_id,
        target.id,
        Channel::Web,
        now,
    )?;
    let Some(sequence) = moved else {
        // Changed meanwhile by another request; the transaction rolls the claim back.
        return Err(Refusal::NotChangeable {
            status: booking.status,
        }
        .into());
    };
    bookings::release_seat(conn, booking.slot_id, booking.channel, policy.cooldown, now)?;
    let detail = json!({"from_slot_id": booking.slot_id, "to_slot_id": target.id});
    bookings::record_event(conn, booking, "rescheduled", Some(detail), None, now)?;
    outbox::enqueue(
        conn,
        about(booking, sequence),
        MessageKind::Rescheduled,
        now,
    )?;
    Ok(())
}

/// A status change at the desk: check-in on the day, attended, no-show once the visit was due,
/// or cancellation with a reason (the applicant is told why).
pub fn desk_action(
    conn: &mut DbConnection,
    details: &Details,
    action: DeskAction,
    actor: &Actor,
    reason: Option<&str>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Status, BookingError> {
    let booking = &details.booking;
    let next = action.apply(booking.status)?;
    match action {
        DeskAction::CheckIn
            if today(details.office.details.timezone, now) != details.slot.local_date =>
        {
            return Err(Refusal::NotTheVisitDay.into());
        }
        DeskAction::MarkNoShow if now < details.slot.starts_at => {
            return Err(Refusal::VisitNotStarted.into());
        }
        _ => {}
    }
    let event = match action {
        DeskAction::CheckIn => "checked_in",
        DeskAction::MarkAttended => "attended",
        DeskAction::MarkNoShow => "no_show",
        DeskAction::Cancel => {
            let by = Canceller::Office { actor, reason };
            return match cancel(conn, booking, by, policy, now)? {
                Some(_) => Ok(next),
                None => Err(invalid_transition(conn, booking, action)?),
            };
        }
    };
    if !bookings::set_status(conn, booking.id, booking.status, next, now)? {
        return Err(invalid_transition(conn, booking, action)?);
    }
    bookings::record_event(conn, booking, event, None, Some(actor.staff_id), now)?;
    Ok(next)
}

/// Another request changed the booking first: the refusal names its status now.
fn invalid_transition(
    conn: &mut DbConnection,
    booking: &Booking,
    action: DeskAction,
) -> Result<BookingError, BookingError> {
    let current = bookings::find(conn, booking.id)?.map_or(booking.status, |b| b.status);
    Ok(Refusal::InvalidTransition {
        status: current,
        action,
    }
    .into())
}

/// Puts seats whose cool-down has passed back on sale, a batch of slots at a time. Safe to run
/// from several instances at once: each released seat is counted by whoever deleted its row.
pub fn release_cooled_seats(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
) -> Result<i32, BookingError> {
    let mut released = 0;
    for slot_id in bookings::slots_with_cooled_seats(conn, now, 500)? {
        released += bookings::release_cooled(conn, slot_id, now)?;
    }
    Ok(released)
}
