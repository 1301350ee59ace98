//! The waitlist. A booked applicant asks for an earlier seat between two days (`join`); a
//! lottery entry that won no seat, if it asked to, waits for one on its days (the draw puts
//! it in the queue). Whenever a seat is on public sale that fits (freed by a cancellation once
//! its cool-down passed, newly published, or given back by an invitation's proposal),
//! housekeeping offers it to the longest waiting one (`offer_due`): the seat is taken off sale
//! and held, and the applicant is mailed a link to accept (`accept`: the booking moves there,
//! or the entry is booked there) or decline it. A hold that is not answered in time lapses and
//! the seat passes on. Each gets at most one offer a day, and a few in all.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    bookings::{BookingError, BookingFailure, Details, Policy, details, manage::with_token},
    lottery::{Notice, notice},
};
use crate::{
    domain::{
        booking::{CaseNumber, Channel, Refusal, Status},
        ids::{OfferId, SlotId},
        time::{LocalTime, local},
        waitlist::{OfferStatus, RequestStatus, check_range},
    },
    error::Error,
    store::{
        DbConnection, Store, bookings, is_unique_violation,
        offices::Office,
        outbox, seats,
        services::OfficeService,
        slots::{self, Slot},
        waitlist::{self, Offer, Request, Waiter},
    },
};

mod offers;
mod round;

pub use offers::{OfferView, accept, decline, show_offer};
pub(in crate::use_cases) use round::queue_unlucky_entries;
pub use round::{Round, offer_due, open_offer_of};

/// The days a booking waits for an earlier seat in.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// The first local day an earlier seat may be on (today or later).
    #[schema(value_type = NaiveDate)]
    pub earliest_day: crate::domain::days::Day,
    /// The last (no later than the day of the visit booked).
    #[schema(value_type = NaiveDate)]
    pub latest_day: crate::domain::days::Day,
}

/// A booking's place on the waitlist.
#[derive(Serialize, ToSchema)]
pub struct WaitlistView {
    pub status: RequestStatus,
    pub earliest_day: NaiveDate,
    pub latest_day: NaiveDate,
    /// Offers made so far; at most one a day, `max_offers` in all.
    pub offers_made: i32,
    pub max_offers: i32,
    pub joined_at: DateTime<Utc>,
    /// The seat held now, while `status` is `offered`: its link came by mail.
    pub offer: Option<OfferSummary>,
}

/// A seat held for a waiting booking.
#[derive(Serialize, ToSchema)]
pub struct OfferSummary {
    #[schema(value_type = i64)]
    pub id: OfferId,
    #[schema(value_type = i64)]
    pub slot_id: SlotId,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    /// Held until then; unanswered, it passes on.
    pub expires_at: LocalTime,
}

fn view(
    conn: &mut DbConnection,
    details: &Details,
    request: &Request,
    policy: &Policy,
) -> Result<WaitlistView, BookingError> {
    let zone = details.office.details.timezone;
    let offer = match request.status {
        RequestStatus::Offered => waitlist::open_offer(conn, request.office_id, request.id)?,
        _ => None,
    };
    let offer = match offer {
        Some(offer) => {
            let slot = held_slot(conn, &offer)?;
            Some(OfferSummary {
                id: offer.id,
                slot_id: slot.id,
                starts_at: local(slot.time.starts_at, zone),
                ends_at: local(slot.time.ends_at, zone),
                expires_at: local(offer.expires_at, zone),
            })
        }
        None => None,
    };
    Ok(WaitlistView {
        status: request.status,
        earliest_day: request.earliest_day,
        latest_day: request.latest_day,
        offers_made: request.offers_made,
        max_offers: policy.waitlist_max_offers,
        joined_at: request.created_at,
        offer,
    })
}

pub(super) fn not_waiting() -> BookingError {
    Error::Feature(BookingFailure::NotOnWaitlist)
}

/// Puts the booking (`reference`, with its manage token) on the waitlist for an earlier seat
/// between two days. One place per booking; a booking that is not confirmed, or whose service
/// the office gives by invitation only, cannot wait.
pub async fn join(
    store: &Store,
    policy: &Policy,
    (reference, token): (String, String),
    days: JoinRequest,
    now: DateTime<Utc>,
) -> Result<WaitlistView, BookingError> {
    let policy = policy.clone();
    store
        .write(move |conn| {
            let details = with_token(conn, &reference, &token)?;
            let booking = &details.booking;
            if booking.status != Status::Confirmed || details.slot.time.starts_at <= now {
                let status = booking.status;
                return Err(Refusal::NotChangeable { status }.into());
            }
            if details.service.settings.invite_only() {
                return Err(Refusal::InviteOnly.into());
            }
            let zone = details.office.details.timezone;
            let today = now.with_timezone(&zone).date_naive();
            let (earliest, latest) = (days.earliest_day.get(), days.latest_day.get());
            let range = check_range(earliest, latest, today, details.slot.time.local_date)?;
            let (office_id, waiter) = (booking.office_id, Waiter::Booking(booking.id));
            waitlist::insert_request(conn, office_id, waiter, range, now).map_err(|e| {
                match is_unique_violation(&e) {
                    true => Refusal::AlreadyWaiting.into(),
                    false => BookingError::from(e),
                }
            })?;
            let request = waitlist::latest_request(conn, booking.office_id, booking.id)?
                .ok_or_else(|| Error::vanished("waitlist request"))?;
            view(conn, &details, &request, &policy)
        })
        .await
}

/// The booking's place on the waitlist (its latest request, in the queue or not).
pub async fn show(
    store: &Store,
    policy: &Policy,
    (reference, token): (String, String),
) -> Result<WaitlistView, BookingError> {
    let policy = policy.clone();
    store
        .read(move |conn| {
            let details = with_token(conn, &reference, &token)?;
            let request =
                waitlist::latest_request(conn, details.booking.office_id, details.booking.id)?
                    .ok_or_else(not_waiting)?;
            view(conn, &details, &request, &policy)
        })
        .await
}

/// The booking and its place on the waitlist, if it has one: what the applicant's manage page
/// shows, in one read.
pub async fn booking_with_place(
    store: &Store,
    policy: &Policy,
    (reference, token): (String, String),
) -> Result<(super::bookings::views::BookingView, Option<WaitlistView>), BookingError> {
    let policy = policy.clone();
    store
        .read(move |conn| {
            let details = with_token(conn, &reference, &token)?;
            let place = match waitlist::latest_request(
                conn,
                details.booking.office_id,
                details.booking.id,
            )? {
                Some(request) => Some(view(conn, &details, &request, &policy)?),
                None => None,
            };
            Ok((super::bookings::views::BookingView::new(&details), place))
        })
        .await
}

/// Takes the booking off the waitlist; a seat held for it goes back on sale at once.
pub async fn leave(
    store: &Store,
    (reference, token): (String, String),
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    store
        .write(move |conn| {
            let details = with_token(conn, &reference, &token)?;
            let (office_id, waiter) = (
                details.booking.office_id,
                Waiter::Booking(details.booking.id),
            );
            let request = waitlist::in_queue(conn, office_id, waiter)?.ok_or_else(not_waiting)?;
            withdraw(conn, &request, now)
        })
        .await
}

/// Ends a request in the queue, releasing a seat held for it.
pub(super) fn withdraw(
    conn: &mut DbConnection,
    request: &Request,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    if let Some(offer) = waitlist::open_offer(conn, request.office_id, request.id)?
        && waitlist::close_offer(conn, offer.office_id, offer.id, OfferStatus::Declined, now)?
    {
        release_held(conn, &offer, now)?;
    }
    waitlist::set_request_status(
        conn,
        request.office_id,
        request.id,
        request.status,
        RequestStatus::Withdrawn,
        now,
    )?;
    Ok(())
}

/// The slot whose seat `offer` holds.
pub(super) fn held_slot(conn: &mut DbConnection, offer: &Offer) -> Result<Slot, BookingError> {
    slots::find(conn, offer.office_id, offer.slot_id)?
        .ok_or_else(|| Error::vanished(format!("slot {}", offer.slot_id)))
}

/// Puts the seat an offer held (of the channel it held) back on sale, at once: it was never
/// the applicant's.
pub(super) fn release_held(
    conn: &mut DbConnection,
    offer: &Offer,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    seats::lock_slots(conn, offer.office_id, &[offer.slot_id])?;
    let no_cooldown = chrono::Duration::zero();
    seats::release_seat(
        conn,
        offer.office_id,
        offer.slot_id,
        offer.channel,
        None,
        no_cooldown,
        now,
    )?;
    Ok(())
}

/// Who waits, with what deciding and answering an offer needs.
pub(super) enum Holder {
    /// A booking that waits for an earlier seat.
    Booking(Details),
    /// A lottery entry that won no seat and waits for one.
    Entry(Notice),
}

impl Holder {
    /// The waiter of `request`; `None` when it (or its office or service) is gone.
    pub(super) fn of(
        conn: &mut DbConnection,
        request: &Request,
    ) -> Result<Option<Holder>, BookingError> {
        if let Some(id) = request.booking_id {
            let Some(booking) = bookings::find(conn, request.office_id, id)? else {
                return Ok(None);
            };
            return Ok(Some(Holder::Booking(details(conn, booking)?)));
        }
        match request.entry_id {
            Some(id) => Ok(notice(conn, request.office_id, id)?.map(Holder::Entry)),
            None => Ok(None),
        }
    }

    /// The channel of the seat an offer holds: the booking's, the web's for an entry.
    pub(super) fn channel(&self) -> Channel {
        match self {
            Holder::Booking(details) => details.booking.channel,
            Holder::Entry(_) => Channel::Web,
        }
    }

    pub(super) fn office(&self) -> &Office {
        match self {
            Holder::Booking(details) => &details.office,
            Holder::Entry(notice) => &notice.office,
        }
    }

    pub(super) fn service(&self) -> &OfficeService {
        match self {
            Holder::Booking(details) => &details.service,
            Holder::Entry(notice) => &notice.service,
        }
    }

    pub(super) fn reference(&self) -> String {
        match self {
            Holder::Booking(details) => details.booking.reference.to_string(),
            Holder::Entry(notice) => notice.entry.reference.clone(),
        }
    }

    /// When the visit it has starts: an offered seat must be earlier. None for an entry.
    pub(super) fn current_start(&self) -> Option<DateTime<Utc>> {
        match self {
            Holder::Booking(details) => Some(details.slot.time.starts_at),
            Holder::Entry(_) => None,
        }
    }

    /// Whether it waits no more: its booking is cancelled or past, or the entry's case has
    /// booked the service meanwhile.
    pub(super) fn done_waiting(
        &self,
        conn: &mut DbConnection,
        now: DateTime<Utc>,
    ) -> Result<bool, BookingError> {
        match self {
            Holder::Booking(details) => {
                Ok(details.booking.status != Status::Confirmed
                    || details.slot.time.starts_at <= now)
            }
            Holder::Entry(notice) => {
                let case = CaseNumber::parse(&notice.entry.case_number).map_err(Error::internal)?;
                let (office, service) = (notice.office.id, notice.service.id);
                Ok(bookings::case_has_active(conn, office, &case, service)?)
            }
        }
    }

    /// The outbox's view of the waiter: the offer's mail is about it.
    pub(super) fn about(&self) -> outbox::About<'_> {
        match self {
            Holder::Booking(details) => {
                let booking = &details.booking;
                outbox::About {
                    office_id: booking.office_id,
                    subject: outbox::Subject::Booking(booking.id),
                    reference: booking.reference.as_str(),
                    email: booking.email.as_deref(),
                    sequence: booking.sequence,
                }
            }
            Holder::Entry(notice) => {
                let entry = &notice.entry;
                outbox::About {
                    office_id: entry.office_id,
                    subject: outbox::Subject::LotteryEntry(entry.id),
                    reference: &entry.reference,
                    email: Some(&entry.email),
                    sequence: entry.sequence,
                }
            }
        }
    }
}

/// After an offer that was not taken: the request waits again, or is done with when it has
/// had every offer it may.
pub(super) fn back_in_queue(
    conn: &mut DbConnection,
    request: &Request,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let next = match request.offers_made >= policy.waitlist_max_offers {
        true => RequestStatus::Exhausted,
        false => RequestStatus::Waiting,
    };
    waitlist::set_request_status(
        conn,
        request.office_id,
        request.id,
        RequestStatus::Offered,
        next,
        now,
    )?;
    Ok(())
}
