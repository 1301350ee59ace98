//! Answering an offer: looking at it, accepting it (the booking moves, or the entry is booked)
//! and declining it, with the token its mail carries.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Holder, back_in_queue, held_slot, release_held};
use crate::use_cases::{
    bookings::{
        Booker, BookingError, BookingFailure, Details, Policy,
        book::{NewVisit, book_in},
        check_case_ready,
        manage::{Mover, relocate},
        reread, token,
        views::BookingView,
    },
    lottery::Notice,
};
use crate::{
    domain::{
        booking::{CaseNumber, Refusal, Status},
        client::ClientAddress,
        email::EmailAddress,
        ids::OfferId,
        language::Language,
        service::Eligibility,
        time::{LocalTime, local},
        waitlist::{OfferStatus, RequestStatus},
    },
    error::Error,
    store::{
        DbConnection, Store,
        slots::Slot,
        waitlist::{self, Offer, Request},
    },
};

/// An offer, to the applicant holding its token.
#[derive(Serialize, ToSchema)]
pub struct OfferView {
    #[schema(value_type = i64)]
    pub id: OfferId,
    pub status: OfferStatus,
    /// The booking it is for, or the lottery entry that won no seat.
    pub reference: String,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    /// The visit the booking has now (none for a lottery entry).
    pub current_starts_at: Option<LocalTime>,
    pub expires_at: LocalTime,
}

/// The offer `id`, if `token` is its token (compared in constant time, alike when either is
/// wrong), with its request and who waits.
fn offer_with_token(
    conn: &mut DbConnection,
    id: OfferId,
    token: &str,
) -> Result<(Offer, Request, Holder), BookingError> {
    let offer = waitlist::find_offer(conn, id)?;
    let fingerprint = offer
        .as_ref()
        .map_or("-", |offer| offer.token_hash.as_str());
    let matched = token::matches(token, fingerprint);
    let Some(offer) = offer.filter(|_| matched) else {
        return Err(BookingFailure::NoSuchOffer.into());
    };
    let request = waitlist::find_request(conn, offer.office_id, offer.request_id)?
        .ok_or_else(|| Error::vanished(format!("waitlist request {}", offer.request_id)))?;
    let holder = Holder::of(conn, &request)?
        .ok_or_else(|| Error::vanished(format!("waiter of request {}", request.id)))?;
    Ok((offer, request, holder))
}

fn offer_view(
    conn: &mut DbConnection,
    offer: &Offer,
    holder: &Holder,
) -> Result<OfferView, BookingError> {
    let zone = holder.office().details.timezone;
    let slot = held_slot(conn, offer)?;
    Ok(OfferView {
        id: offer.id,
        status: offer.status,
        reference: holder.reference(),
        starts_at: local(slot.time.starts_at, zone),
        ends_at: local(slot.time.ends_at, zone),
        current_starts_at: holder.current_start().map(|at| local(at, zone)),
        expires_at: local(offer.expires_at, zone),
    })
}

/// The offer, to the applicant holding its token.
pub async fn show_offer(
    store: &Store,
    id: OfferId,
    token: String,
) -> Result<OfferView, BookingError> {
    store
        .read(move |conn| {
            let (offer, _, holder) = offer_with_token(conn, id, &token)?;
            offer_view(conn, &offer, &holder)
        })
        .await
}

/// Accepts the offer, in one transaction: a waiting booking moves to the held seat (its old
/// one goes back on sale after the cool-down) and the applicant is mailed the new time; a
/// waiting lottery entry is booked there as any booking is (confirmation mail, events).
pub async fn accept(
    store: &Store,
    policy: &Policy,
    id: OfferId,
    token: String,
    now: DateTime<Utc>,
) -> Result<BookingView, BookingError> {
    let policy = policy.clone();
    store
        .write(move |conn| {
            let (offer, request, holder) = offer_with_token(conn, id, &token)?;
            if offer.status != OfferStatus::Open || offer.expires_at <= now {
                return Err(Refusal::OfferClosed.into());
            }
            let target = held_slot(conn, &offer)?;
            if !waitlist::close_offer(conn, offer.office_id, offer.id, OfferStatus::Accepted, now)?
            {
                return Err(Refusal::OfferClosed.into());
            }
            match holder {
                Holder::Booking(details) => {
                    move_to_offer(conn, details, &request, &target, &policy, now)
                }
                Holder::Entry(notice) => book_offer(conn, notice, &request, &target, &policy, now),
            }
        })
        .await
}

/// A waiting booking takes the held seat.
fn move_to_offer(
    conn: &mut DbConnection,
    details: Details,
    request: &Request,
    target: &Slot,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<BookingView, BookingError> {
    let booking = &details.booking;
    let status = booking.status;
    // The booking may have changed since the offer: it must still be confirmed, and the seat
    // still earlier.
    if status != Status::Confirmed || target.time.starts_at >= details.slot.time.starts_at {
        return Err(Refusal::NotChangeable { status }.into());
    }
    if !details.office.stage.is_public() {
        return Err(Refusal::OfficeNotOpen.into());
    }
    if details.service.settings.eligibility == Eligibility::Registered {
        let (office, case) = (&details.office, &booking.case_number);
        check_case_ready(conn, office, case, &details.service, target.time.starts_at)?;
    }
    let moved = RequestStatus::Moved;
    waitlist::set_request_status(
        conn,
        request.office_id,
        request.id,
        request.status,
        moved,
        now,
    )?;
    relocate(conn, &details, target, Mover::HeldSeat, policy, now)?;
    Ok(BookingView::new(&reread(conn, details)?))
}

/// A lottery entry that won no seat is booked in the held seat, under every rule of a booking
/// (the case was proven when it entered, as for the draw's winners).
fn book_offer(
    conn: &mut DbConnection,
    notice: Notice,
    request: &Request,
    target: &Slot,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<BookingView, BookingError> {
    let entry = &notice.entry;
    let invalid =
        |what: &str| Error::internal(anyhow::anyhow!("stored entry {}: {what}", entry.id));
    let visit = NewVisit {
        slot_id: target.id,
        service: Some(notice.service.appointment_type.code.clone()),
        case_number: CaseNumber::parse(&entry.case_number).map_err(|_| invalid("case"))?,
        full_name: entry.full_name.clone(),
        email: Some(EmailAddress::parse(&entry.email).map_err(|_| invalid("email"))?),
        phone: entry.phone.clone(),
        language: Language::parse_supported(&entry.language).map_err(|_| invalid("language"))?,
        secret: None,
        case_proven: true,
        proof_of_work: None,
        invited: None,
        drawn: false,
        held_seat: Some(target.id),
    };
    let booker = Booker::Applicant {
        from: ClientAddress::new(std::net::Ipv4Addr::UNSPECIFIED.into()),
        via: None,
    };
    let made = book_in(conn, &notice.office, &booker, &visit, None, policy, now)?;
    let booked = RequestStatus::Booked;
    waitlist::set_request_status(
        conn,
        request.office_id,
        request.id,
        request.status,
        booked,
        now,
    )?;
    Ok(BookingView::new(&made.details))
}

/// Declines the offer: the seat goes back on sale at once (or to the next in the queue), and
/// the waiter keeps its place in the queue while it may have more offers.
pub async fn decline(
    store: &Store,
    policy: &Policy,
    id: OfferId,
    token: String,
    now: DateTime<Utc>,
) -> Result<OfferView, BookingError> {
    let policy = policy.clone();
    store
        .write(move |conn| {
            let (offer, request, holder) = offer_with_token(conn, id, &token)?;
            if !waitlist::close_offer(conn, offer.office_id, offer.id, OfferStatus::Declined, now)?
            {
                return Err(Refusal::OfferClosed.into());
            }
            release_held(conn, &offer, now)?;
            back_in_queue(conn, &request, &policy, now)?;
            let offer =
                waitlist::find_offer(conn, offer.id)?.ok_or_else(|| Error::vanished("offer"))?;
            offer_view(conn, &offer, &holder)
        })
        .await
}
