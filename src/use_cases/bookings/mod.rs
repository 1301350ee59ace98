//! Bookings: applicants book, view, move and cancel their visit ([`book`], [`manage`]); the desk
//! books on someone's behalf and runs the day ([`desk`]).
//!
//! Every change runs in one write transaction and records its event and queues its mail there,
//! so the mailer sees exactly the changes that committed. State changes are conditional updates
//! on the state that was read, so two requests racing on one booking cannot both win. This
//! module holds the procedures they share: claiming and giving back a seat, cancelling, and
//! reading a booking with everything its views need.

pub mod book;
mod checks;
pub mod desk;
pub mod ics;
pub mod invited;
pub mod manage;
pub mod proof;
pub mod reconfirm;
pub mod token;
pub mod verify;

use checks::check_release;
pub(in crate::use_cases) use checks::{check_case_ready, check_no_shows, draw_under_way};
pub mod views;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::events::{self, BookingEventData};
use crate::{
    domain::{
        Named,
        booking::{Channel, EventKind, Refusal},
        catalogue::TypeCode,
        client::ClientAddress,
        ids::{OfficeId, SlotId, StaffId},
        mail::MessageKind,
        staff::{Actor, Role},
    },
    error::{Answer, Error, Explain, Failure},
    store::{
        DbConnection, Store, attendance,
        bookings::{self, Booking},
        events::NewEvent,
        offices::{self, Office},
        outbox, seats,
        services::{self, OfficeService},
        slots::{self, Slot},
        spent_challenges,
    },
};
use token::TokenKey;
pub use verify::GuessLimits;

#[derive(Debug, thiserror::Error)]
pub enum BookingFailure {
    /// A booking rule said no.
    #[error("{}", .0.message())]
    Refused(Refusal),
    /// No booking has this reference and manage token (alike when either is wrong).
    #[error("no booking matches this reference and token")]
    NoSuchBooking,
    /// The office has no booking with this reference.
    #[error("the office has no booking with this reference")]
    NotAtOffice,
    /// The office has no lottery draw with this id.
    #[error("the office has no draw with this id")]
    NoSuchDraw,
    /// The booking has no place on the waitlist.
    #[error("the booking is not on the waitlist")]
    NotOnWaitlist,
    /// No waitlist offer has this id and token (alike when either is wrong).
    #[error("no offer matches this id and token")]
    NoSuchOffer,
    /// No invitation has this reference and token (alike when either is wrong).
    #[error("no invitation matches this reference and token")]
    NoSuchInvitation,
    /// The booking's office, slot or service no longer exists.
    #[error("the {0} of this booking no longer exists")]
    Gone(&'static str),
    /// Another request with the same Idempotency-Key committed first: answer from its record.
    #[error("a request with this Idempotency-Key is still being processed")]
    KeyRace,
    /// Too many wrong verification secrets for this case, or from this address, lately.
    #[error("too many wrong verification codes")]
    TooManyGuesses { retry_after: std::time::Duration },
    /// Every reference tried was taken: 32^8 of them make this a bug, not bad luck.
    #[error("no unused booking reference found")]
    NoFreeReference,
}

impl Explain for BookingFailure {
    fn answer(self) -> Answer {
        match self {
            BookingFailure::Refused(refusal) if refusal.is_unprocessable() => {
                Answer::Unprocessable {
                    code: refusal.code(),
                    detail: refusal.message(),
                }
            }
            BookingFailure::Refused(refusal) => Answer::Conflict {
                code: refusal.code(),
                detail: refusal.message(),
            },
            BookingFailure::NoSuchBooking => {
                Answer::NotFound("No booking matches this reference and token.".into())
            }
            BookingFailure::NotAtOffice => {
                Answer::NotFound("The office has no booking with this reference.".into())
            }
            BookingFailure::NoSuchDraw => {
                Answer::NotFound("The office has no lottery draw with this id.".into())
            }
            BookingFailure::NotOnWaitlist => {
                Answer::NotFound("The booking is not on the waitlist.".into())
            }
            BookingFailure::NoSuchOffer => {
                Answer::NotFound("No offer matches this id and token.".into())
            }
            BookingFailure::NoSuchInvitation => {
                Answer::NotFound("No invitation matches this reference and token.".into())
            }
            BookingFailure::Gone(what) => {
                Answer::NotFound(format!("The {what} of this booking no longer exists."))
            }
            BookingFailure::KeyRace => Answer::Conflict {
                code: "idempotency_conflict",
                detail: "A request with this Idempotency-Key is still being processed; retry \
                         in a moment."
                    .into(),
            },
            BookingFailure::TooManyGuesses { retry_after } => Answer::TooManyRequests {
                code: "too_many_attempts",
                detail: format!(
                    "Too many wrong verification codes for this case or from your address. Try \
                     again in {} minute(s), or ask the office.",
                    retry_after.as_secs().max(1).div_ceil(60)
                ),
                retry_after,
            },
            failure @ BookingFailure::NoFreeReference => Answer::Internal(failure.into()),
        }
    }
}

impl Failure for BookingFailure {}

pub type BookingError = Error<BookingFailure>;

impl From<Refusal> for BookingError {
    fn from(refusal: Refusal) -> BookingError {
        Error::Feature(BookingFailure::Refused(refusal))
    }
}

/// The office-wide rules that are not per service.
#[derive(Clone)]
pub struct Policy {
    /// Active bookings one email address may hold at one office.
    pub max_active_per_email: i64,
    /// How long a freed seat waits before the web can book it again.
    pub cooldown: Duration,
    /// How many times an applicant may move one booking.
    pub max_moves: i64,
    pub tokens: TokenKey,
    /// What registered cases' verification secrets are hashed with.
    pub case_key: crate::auth::secret::VerificationKey,
    /// How many wrong verification secrets a case, and a client address, may be sent.
    pub guesses: GuessLimits,
    /// How long before an unanswered invitation's deadline its one reminder goes.
    pub invitation_reminder: Duration,
    /// What proof-of-work challenges are signed with, and how hard they are (the cost is the
    /// office's).
    pub challenges: crate::auth::pow::ChallengeKey,
    pub proof_of_work: crate::auth::pow::Difficulty,
    /// How long a waitlist offer holds its seat, and how many offers a booking may have.
    pub waitlist_hold: Duration,
    pub waitlist_max_offers: i32,
    /// How many waiting bookings a round reads at a time.
    pub waitlist_batch: i64,
}

impl Policy {
    pub fn from_settings(settings: &crate::config::Settings) -> Policy {
        let booking = &settings.booking;
        let seconds = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
        Policy {
            max_active_per_email: i64::from(booking.max_active_per_email),
            max_moves: i64::from(booking.max_moves_per_booking),
            cooldown: seconds(booking.seat_cooldown_seconds),
            tokens: TokenKey::derive(&settings.auth.jwt_secret),
            case_key: crate::auth::secret::VerificationKey::derive(&settings.auth.jwt_secret),
            guesses: GuessLimits {
                per_case: i64::from(booking.case_max_guesses),
                per_client: i64::from(booking.case_max_guesses_per_client),
                window: seconds(booking.case_guess_window_seconds),
            },
            invitation_reminder: seconds(
                settings
                    .mail
                    .invitation_reminder_hours_before
                    .saturating_mul(3600),
            ),
            challenges: crate::auth::pow::ChallengeKey::derive(&settings.auth.jwt_secret),
            proof_of_work: crate::auth::pow::Difficulty {
                cost: crate::domain::office::DEFAULT_PROOF_OF_WORK_COST,
                counters: booking.proof_of_work_min_counter
                    ..=booking
                        .proof_of_work_max_counter
                        .max(booking.proof_of_work_min_counter),
                lifetime: seconds(booking.proof_of_work_lifetime_seconds),
            },
            waitlist_hold: seconds(booking.waitlist_hold_minutes.saturating_mul(60)),
            waitlist_max_offers: i32::try_from(booking.waitlist_max_offers).unwrap_or(i32::MAX),
            waitlist_batch: i64::from(booking.waitlist_batch_size.max(1)),
        }
    }
}

/// Who is booking: the applicant online (from an address, which guesses at a registered case's
/// secret are counted by), possibly through an accredited intermediary, or staff at the desk
/// or phone.
#[derive(Clone)]
pub enum Booker {
    Applicant {
        from: ClientAddress,
        /// The intermediary booking for the applicant: the applicant's rules apply, within
        /// the intermediary's quotas at the office.
        via: Option<StaffId>,
    },
    Staff(Actor),
}

impl Booker {
    /// Who books, from who signed the request: nobody (the applicant), an intermediary (for
    /// a client), or staff (at the desk).
    pub fn signed(actor: Option<Actor>, from: ClientAddress) -> Booker {
        match actor {
            None => Booker::Applicant { from, via: None },
            Some(actor) if actor.role == Role::Intermediary => Booker::Applicant {
                from,
                via: Some(actor.staff_id),
            },
            Some(actor) => Booker::Staff(actor),
        }
    }

    /// Anonymous: neither staff nor an accredited intermediary (proof of work is for them).
    pub fn is_anonymous(&self) -> bool {
        matches!(self, Booker::Applicant { via: None, .. })
    }

    pub fn channel(&self) -> Channel {
        match self {
            Booker::Applicant { .. } => Channel::Web,
            Booker::Staff(_) => Channel::Desk,
        }
    }

    fn actor(&self) -> Option<&Actor> {
        match self {
            Booker::Applicant { .. } => None,
            Booker::Staff(actor) => Some(actor),
        }
    }
}

/// Everything a booking's views need.
pub struct Details {
    pub booking: Booking,
    pub slot: Slot,
    pub service: OfficeService,
    pub office: Office,
}

/// The booking with its office, slot and service.
pub fn details(conn: &mut DbConnection, booking: Booking) -> Result<Details, BookingError> {
    let office =
        offices::find_by_id(conn, booking.office_id)?.ok_or(BookingFailure::Gone("office"))?;
    let slot = slots::find(conn, booking.office_id, booking.slot_id)?
        .ok_or(BookingFailure::Gone("slot"))?;
    let service = services::find_by_id(conn, booking.office_id, booking.office_service_id)?
        .ok_or(BookingFailure::Gone("service"))?;
    Ok(Details {
        booking,
        slot,
        service,
        office,
    })
}

/// The booking as this transaction has just changed it: the booking and its slot (whose seats,
/// or which, changed) are read again; its office and service stay what they were.
pub(in crate::use_cases) fn reread(
    conn: &mut DbConnection,
    details: Details,
) -> Result<Details, BookingError> {
    let (office_id, id) = (details.booking.office_id, details.booking.id);
    let booking = bookings::find(conn, office_id, id)?
        .ok_or_else(|| Error::vanished(format!("booking {id}")))?;
    let slot = slots::find(conn, booking.office_id, booking.slot_id)?
        .ok_or_else(|| Error::vanished(format!("slot {}", booking.slot_id)))?;
    Ok(Details {
        booking,
        slot,
        ..details
    })
}

/// Takes a seat of `channel` in `slot`, after putting back on sale those of its seats whose
/// cool-down has passed. A slot read with nothing cooling has nothing to put back: a seat freed
/// since that read cools until after `now`.
fn claim_seat(
    conn: &mut DbConnection,
    office_id: OfficeId,
    slot: &Slot,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    if slot.seats.cooling > 0 {
        seats::release_cooled(conn, office_id, slot.id, now)?;
    }
    if seats::claim_seat(conn, office_id, slot.id, channel)? {
        Ok(())
    } else {
        Err(Refusal::SlotFull.into())
    }
}

/// Takes a seat of `slot` for `booking`, which the office moves there: the desk's share may
/// be used (see [`seats::claim_seat_for_office`]).
fn claim_seat_for_office(
    conn: &mut DbConnection,
    booking: &Booking,
    slot: &Slot,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let (office, channel) = (booking.office_id, booking.channel);
    if slot.seats.cooling > 0 {
        seats::release_cooled(conn, office, slot.id, now)?;
    }
    match seats::claim_seat_for_office(conn, office, slot.id, channel)? {
        true => Ok(()),
        false => Err(Refusal::SlotFull.into()),
    }
}

/// Locks the slots whose seats a change of `booking` touches: its own, those it left cooling
/// down, and the one it moves to.
fn lock_seats_of(
    conn: &mut DbConnection,
    booking: &Booking,
    moving_to: Option<SlotId>,
) -> Result<(), BookingError> {
    let mut ids = seats::cooling_after(conn, booking.office_id, booking.id)?;
    ids.push(booking.slot_id);
    ids.extend(moving_to);
    ids.sort_unstable();
    ids.dedup();
    seats::lock_slots(conn, booking.office_id, &ids)?;
    Ok(())
}

/// Gives the booking's seat back, to cool down before the web can sell it again. A booking
/// keeps at most one seat out of sale: a seat it gave back earlier (moving away from it) goes
/// back on sale now, so moving again and again cannot take seat after seat off sale.
fn give_back_seat(
    conn: &mut DbConnection,
    booking: &Booking,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    seats::end_cooling_after(conn, booking.office_id, booking.id)?;
    let (office, slot, channel) = (booking.office_id, booking.slot_id, booking.channel);
    let held_by = Some(booking.id);
    seats::release_seat(conn, office, slot, channel, held_by, policy.cooldown, now)?;
    Ok(())
}

/// Who cancels: it decides the event recorded and the message the applicant gets.
pub(in crate::use_cases) enum Canceller<'a> {
    Applicant,
    /// Staff member `staff`, for `reason` (told to the applicant).
    Office {
        staff: StaffId,
        reason: Option<&'a str>,
    },
    /// Housekeeping: the applicant did not reconfirm in time.
    Unconfirmed,
}

/// Cancels the booking if it is still as it was read, gives its seat back (to cool down first)
/// and queues the applicant's message. `None` when another request changed the booking first:
/// then nothing was done, so its seat is never freed twice.
pub(in crate::use_cases) fn cancel(
    conn: &mut DbConnection,
    details: &Details,
    by: Canceller,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Option<i32>, BookingError> {
    let booking = &details.booking;
    let (cancelled_by, reason, event, actor_id, kind) = match by {
        Canceller::Applicant => (
            "applicant",
            None,
            EventKind::CancelledByApplicant,
            None,
            MessageKind::CancelledByApplicant,
        ),
        Canceller::Office { staff, reason } => (
            "office",
            reason,
            EventKind::CancelledByOffice,
            Some(staff),
            MessageKind::CancelledByOffice,
        ),
        Canceller::Unconfirmed => (
            "office",
            Some(attendance::RELEASED_UNCONFIRMED),
            EventKind::CancelledByOffice,
            None,
            MessageKind::ReleasedUnconfirmed,
        ),
    };
    lock_seats_of(conn, booking, None)?;
    let cancelled = bookings::cancel(
        conn,
        (booking.office_id, booking.id),
        booking.status,
        booking.slot_id,
        cancelled_by,
        reason,
        now,
    )?;
    let Some(sequence) = cancelled else {
        return Ok(None);
    };
    give_back_seat(conn, booking, policy, now)?;
    let detail = reason.map(|reason| json!({ "reason": reason }));
    record_change(conn, details, &details.slot, event, detail, actor_id, now)?;
    outbox::enqueue(conn, about(booking, sequence), kind, now)?;
    Ok(Some(sequence))
}

/// Publishes what a change did to the booking in `details` (as it was read), which left it at
/// `slot`: the event in the booking's history, for the feed and the webhooks.
fn record_change(
    conn: &mut DbConnection,
    details: &Details,
    slot: &Slot,
    kind: EventKind,
    detail: Option<serde_json::Value>,
    actor_id: Option<StaffId>,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let booking = &details.booking;
    let reason = detail
        .as_ref()
        .and_then(|detail| detail.get("reason"))
        .and_then(serde_json::Value::as_str);
    let facts = Facts {
        reference: booking.reference.as_str(),
        case_number: &booking.case_number,
        channel: booking.channel,
        is_test: booking.is_test,
    };
    let previous = (kind == EventKind::Rescheduled).then_some(details.slot.time.starts_at);
    let data = event_data(&facts, &details.service, slot, kind, reason, previous)?;
    let event = NewEvent {
        office_id: booking.office_id,
        booking_id: Some(booking.id),
        kind,
        detail,
        actor_id,
        client_id: None,
        data: &data,
    };
    events::publish(conn, event, now)?;
    Ok(())
}

/// What a booking's events say of it, whatever the change.
struct Facts<'a> {
    reference: &'a str,
    case_number: &'a str,
    channel: Channel,
    is_test: bool,
}

/// What the event of a `kind` change publishes: the booking of `service` as the change left it,
/// at `slot`; the office's reason, and where a moved visit was before.
fn event_data(
    facts: &Facts<'_>,
    service: &OfficeService,
    slot: &Slot,
    kind: EventKind,
    reason: Option<&str>,
    previous_starts_at: Option<DateTime<Utc>>,
) -> Result<serde_json::Value, BookingError> {
    let data = BookingEventData {
        reference: facts.reference.to_owned(),
        case_number: facts.case_number.to_owned(),
        service: service.appointment_type.code.to_string(),
        starts_at: slot.time.starts_at,
        ends_at: slot.time.ends_at,
        channel: facts.channel.as_str(),
        by: match kind {
            EventKind::CancelledByApplicant => Some("applicant"),
            EventKind::CancelledByOffice => Some("office"),
            _ => None,
        },
        reason: reason.map(str::to_owned),
        previous_starts_at,
        test: facts.is_test,
    };
    serde_json::to_value(&data).map_err(Error::internal)
}

/// The outbox's view of a booking, at `sequence`.
fn about(booking: &Booking, sequence: i32) -> outbox::About<'_> {
    outbox::About {
        office_id: booking.office_id,
        subject: outbox::Subject::Booking(booking.id),
        reference: booking.reference.as_str(),
        email: booking.email.as_deref(),
        sequence,
    }
}

/// Which of a slot's services (by their type codes, in order) a booking is for: the one asked
/// for, or the calendar's only one.
fn chosen_service<'a>(
    codes: impl ExactSizeIterator<Item = &'a TypeCode>,
    asked: Option<&TypeCode>,
) -> Result<usize, BookingError> {
    let invalid =
        |message: String| Error::Invalid(crate::domain::FieldErrors::single("service", message));
    let count = codes.len();
    match asked {
        Some(code) => codes
            .into_iter()
            .position(|offered| offered == code)
            .ok_or_else(|| invalid(format!("this time is not for {code}"))),
        None if count == 1 => Ok(0),
        None if count == 0 => Err(Refusal::SlotUnavailable.into()),
        None => {
            let codes: Vec<String> = codes.map(ToString::to_string).collect();
            Err(invalid(format!(
                "is required: this time serves {}",
                codes.join(", ")
            )))
        }
    }
}

/// The slot `id` of the office, or an answer naming the field it came in.
fn slot_of_office(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: SlotId,
) -> Result<Slot, BookingError> {
    slots::find(conn, office_id, id)?.ok_or_else(|| {
        Error::Invalid(crate::domain::FieldErrors::single(
            "slot_id",
            "is not a slot of this office",
        ))
    })
}

/// Housekeeping: puts seats whose cool-down has passed back on sale, a batch of slots at a
/// time, and forgets idempotency records older than `keep_keys_for` and spent proof-of-work
/// challenges that have expired. Safe to run from several
/// instances at once: each released seat is counted by whoever deleted its row. Returns the
/// seats released and the records forgotten.
pub async fn tidy(
    store: &Store,
    keep_keys_for: Duration,
    now: DateTime<Utc>,
) -> Result<(i32, usize), BookingError> {
    store
        .write(move |conn| {
            let mut released = 0;
            for (office_id, slot_id) in seats::slots_with_cooled_seats(conn, now, 500)? {
                released += seats::release_cooled(conn, office_id, slot_id, now)?;
            }
            let forgotten = bookings::purge_keys(conn, now - keep_keys_for)?
                + spent_challenges::purge_expired(conn, now)?;
            Ok((released, forgotten))
        })
        .await
}
