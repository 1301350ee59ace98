//! The earlier-slot waitlist. A booked applicant asks for an earlier seat between two days
//! (`join`); whenever a seat is on public sale that fits (freed by a cancellation once its
//! cool-down passed, newly published, or given back by an invitation's proposal),
//! housekeeping offers it to the longest waiting booking (`offer_due`): the seat is taken off
//! sale and held, and the applicant is mailed a link to accept (`accept`, which moves the
//! booking there) or decline it. A hold that is not answered in time lapses and the seat
//! passes on. A booking gets at most one offer a day, and a few in all.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::bookings::{
    BookingError, BookingFailure, Details, Policy, SeatAt, check_case_ready, details,
    manage::with_token,
    relocate, reread, token,
    token::{TokenKey, fingerprint},
    views::BookingView,
};
use crate::{
    domain::{
        booking::{Channel, Refusal, Status},
        ids::{OfferId, SlotId},
        mail::MessageKind,
        service::Eligibility,
        time::{LocalTime, local},
        waitlist::{OfferStatus, RequestStatus, check_range, may_offer},
    },
    error::Error,
    store::{
        DbConnection, Store, bookings, is_unique_violation, outbox, seats, slots,
        waitlist::{self, NewOffer, Offer, Request},
    },
};

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

/// An offer, to the applicant holding its token.
#[derive(Serialize, ToSchema)]
pub struct OfferView {
    #[schema(value_type = i64)]
    pub id: OfferId,
    pub status: OfferStatus,
    /// The booking it is for.
    pub reference: String,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    /// The visit the booking has now.
    pub current_starts_at: LocalTime,
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
        RequestStatus::Offered => waitlist::open_offer(conn, request.id)?,
        _ => None,
    };
    let offer = match offer {
        Some(offer) => {
            let slot = slots::find(conn, offer.office_id, offer.slot_id)?
                .ok_or_else(|| Error::vanished(format!("slot {}", offer.slot_id)))?;
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

fn not_waiting() -> BookingError {
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
            let (office_id, booking_id) = (booking.office_id, booking.id);
            waitlist::insert_request(conn, office_id, booking_id, range, now).map_err(|e| {
                match is_unique_violation(&e) {
                    true => Refusal::AlreadyWaiting.into(),
                    false => BookingError::from(e),
                }
            })?;
            let request = waitlist::latest_request(conn, booking_id)?
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
                waitlist::latest_request(conn, details.booking.id)?.ok_or_else(not_waiting)?;
            view(conn, &details, &request, &policy)
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
            let request =
                waitlist::requests_in_queue(conn, details.booking.id)?.ok_or_else(not_waiting)?;
            withdraw(conn, &request, details.booking.channel, now)
        })
        .await
}

/// Ends a request in the queue, releasing a seat held for it.
fn withdraw(
    conn: &mut DbConnection,
    request: &Request,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    if let Some(offer) = waitlist::open_offer(conn, request.id)?
        && waitlist::close_offer(conn, offer.id, OfferStatus::Declined, now)?
    {
        release_held(conn, &offer, channel, now)?;
    }
    waitlist::set_request_status(
        conn,
        request.id,
        request.status,
        RequestStatus::Withdrawn,
        now,
    )?;
    Ok(())
}

/// Puts the seat an offer held back on sale, at once: it was never the applicant's.
fn release_held(
    conn: &mut DbConnection,
    offer: &Offer,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    seats::lock_slots(conn, &[offer.slot_id])?;
    let no_cooldown = chrono::Duration::zero();
    seats::release_seat(conn, offer.slot_id, channel, None, no_cooldown, now)?;
    Ok(())
}

/// The offer `id`, if `token` is its token (compared in constant time, alike when either is
/// wrong), with the booking it is for.
fn offer_with_token(
    conn: &mut DbConnection,
    id: OfferId,
    token: &str,
) -> Result<(Offer, Request, Details), BookingError> {
    let offer = waitlist::find_offer(conn, id)?;
    let fingerprint = offer
        .as_ref()
        .map_or("-", |offer| offer.token_hash.as_str());
    let matched = token::matches(token, fingerprint);
    let Some(offer) = offer.filter(|_| matched) else {
        return Err(BookingFailure::NoSuchOffer.into());
    };
    let request = waitlist::find_request(conn, offer.request_id)?
        .ok_or_else(|| Error::vanished(format!("waitlist request {}", offer.request_id)))?;
    let booking = bookings::find(conn, request.booking_id)?
        .ok_or_else(|| Error::vanished(format!("booking {}", request.booking_id)))?;
    Ok((offer, request, details(conn, booking)?))
}

fn offer_view(
    conn: &mut DbConnection,
    offer: &Offer,
    details: &Details,
) -> Result<OfferView, BookingError> {
    let zone = details.office.details.timezone;
    let slot = slots::find(conn, offer.office_id, offer.slot_id)?
        .ok_or_else(|| Error::vanished(format!("slot {}", offer.slot_id)))?;
    Ok(OfferView {
        id: offer.id,
        status: offer.status,
        reference: details.booking.reference.to_string(),
        starts_at: local(slot.time.starts_at, zone),
        ends_at: local(slot.time.ends_at, zone),
        current_starts_at: local(details.slot.time.starts_at, zone),
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
            let (offer, _, details) = offer_with_token(conn, id, &token)?;
            offer_view(conn, &offer, &details)
        })
        .await
}

/// Accepts the offer: the booking moves to the held seat (its old one goes back on sale after
/// the cool-down) and the applicant is mailed the new time, in one transaction.
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
            let (offer, request, details) = offer_with_token(conn, id, &token)?;
            if offer.status != OfferStatus::Open || offer.expires_at <= now {
                return Err(Refusal::OfferClosed.into());
            }
            let booking = &details.booking;
            let status = booking.status;
            let target = slots::find(conn, offer.office_id, offer.slot_id)?
                .ok_or_else(|| Error::vanished(format!("slot {}", offer.slot_id)))?;
            // The booking may have changed since the offer: it must still be confirmed, and
            // the seat still earlier.
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
            if !waitlist::close_offer(conn, offer.id, OfferStatus::Accepted, now)? {
                return Err(Refusal::OfferClosed.into());
            }
            let moved = RequestStatus::Moved;
            waitlist::set_request_status(conn, request.id, request.status, moved, now)?;
            relocate(conn, &details, &target, SeatAt::Held, &policy, now)?;
            Ok(BookingView::new(&reread(conn, details)?))
        })
        .await
}

/// Declines the offer: the seat goes back on sale at once (or to the next in the queue), and
/// the booking keeps its place in the queue while it may have more offers.
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
            let (offer, request, details) = offer_with_token(conn, id, &token)?;
            if !waitlist::close_offer(conn, offer.id, OfferStatus::Declined, now)? {
                return Err(Refusal::OfferClosed.into());
            }
            release_held(conn, &offer, details.booking.channel, now)?;
            back_in_queue(conn, &request, &policy, now)?;
            let offer =
                waitlist::find_offer(conn, offer.id)?.ok_or_else(|| Error::vanished("offer"))?;
            offer_view(conn, &offer, &details)
        })
        .await
}

/// After an offer that was not taken: the request waits again, or is done with when it has
/// had every offer it may.
fn back_in_queue(
    conn: &mut DbConnection,
    request: &Request,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let next = match request.offers_made >= policy.waitlist_max_offers {
        true => RequestStatus::Exhausted,
        false => RequestStatus::Waiting,
    };
    waitlist::set_request_status(conn, request.id, RequestStatus::Offered, next, now)?;
    Ok(())
}

/// What one round of the waitlist did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub lapsed: usize,
    pub offered: usize,
}

/// Housekeeping: lets lapsed offers go (their seats back on sale), then offers the seats on
/// sale to waiting bookings, longest waiting first, each in its own transaction. Safe from
/// several instances: an offer is made only by whoever moved the request from `waiting`, and
/// the seat's claim is the slot's own conditional update.
pub async fn offer_due(
    store: &Store,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Round, BookingError> {
    let mut round = Round::default();
    let policy_for_lapse = policy.clone();
    round.lapsed = store
        .write(move |conn| {
            let mut lapsed = 0;
            for offer in waitlist::lapsed_offers(conn, now, policy_for_lapse.waitlist_batch)? {
                if !waitlist::close_offer(conn, offer.id, OfferStatus::Expired, now)? {
                    continue;
                }
                let request = waitlist::find_request(conn, offer.request_id)?
                    .ok_or_else(|| Error::vanished("waitlist request"))?;
                let booking = bookings::find(conn, request.booking_id)?
                    .ok_or_else(|| Error::vanished("booking"))?;
                release_held(conn, &offer, booking.channel, now)?;
                back_in_queue(conn, &request, &policy_for_lapse, now)?;
                lapsed += 1;
            }
            Ok::<_, BookingError>(lapsed)
        })
        .await?;
    // Every waiting request is looked at, a page at a time, without a write unless there is
    // something to do: free seats are rare, waiting bookings many.
    let (mut after, batch) = (None, policy.waitlist_batch);
    loop {
        let page = store
            .read(move |conn| Ok::<_, BookingError>(waitlist::waiting(conn, after, batch)?))
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some((last.created_at, last.id));
        for request in page {
            let (policy, request) = (policy.clone(), std::sync::Arc::new(request));
            let (read_policy, read_request) = (policy.clone(), request.clone());
            let next = store
                .read(move |conn| next_step(conn, &read_request, &read_policy, now))
                .await?;
            if matches!(next, Next::Wait) {
                continue;
            }
            let offered = store
                .write(move |conn| offer_to(conn, &request, &policy, now))
                .await?;
            round.offered += usize::from(offered);
        }
    }
    Ok(round)
}

/// What a waiting request needs now.
enum Next {
    /// Nothing: no seat fits, or it had its offer today.
    Wait,
    /// Its booking was cancelled or is past: it waits no more.
    Withdraw,
    /// This seat is on sale and fits.
    Offer(SlotId),
}

/// Decides what `request` needs, reading only (the write that follows decides again).
fn next_step(
    conn: &mut DbConnection,
    request: &Request,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Next, BookingError> {
    let Some(booking) = bookings::find(conn, request.booking_id)? else {
        return Ok(Next::Withdraw);
    };
    let details = details(conn, booking)?;
    let booking = &details.booking;
    if booking.status != Status::Confirmed || details.slot.time.starts_at <= now {
        return Ok(Next::Withdraw);
    }
    let zone = details.office.details.timezone;
    let (made, last) = (request.offers_made, request.last_offer_at);
    if !may_offer(made, last, policy.waitlist_max_offers, now, zone) {
        return Ok(Next::Wait);
    }
    let settings = details.service.settings;
    let not_before = now + chrono::Duration::hours(i64::from(settings.min_notice_hours));
    let days = (request.earliest_day, request.latest_day);
    let before = details.slot.time.starts_at;
    let (office_id, service_id) = (booking.office_id, details.service.id);
    let found =
        waitlist::earliest_free_seat(conn, office_id, service_id, days, not_before, before, now)?;
    Ok(found.map_or(Next::Wait, Next::Offer))
}

/// Offers `request` the earliest fitting seat on sale, if it may have an offer today, or
/// withdraws it when its booking waits no more.
fn offer_to(
    conn: &mut DbConnection,
    request: &Request,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<bool, BookingError> {
    let slot_id = match next_step(conn, request, policy, now)? {
        Next::Wait => return Ok(false),
        Next::Withdraw => {
            let withdrawn = RequestStatus::Withdrawn;
            waitlist::set_request_status(conn, request.id, request.status, withdrawn, now)?;
            return Ok(false);
        }
        Next::Offer(slot_id) => slot_id,
    };
    let booking = bookings::find(conn, request.booking_id)?
        .ok_or_else(|| Error::vanished(format!("booking {}", request.booking_id)))?;
    let office_id = booking.office_id;
    seats::lock_slots(conn, &[slot_id])?;
    if !seats::claim_seat(conn, office_id, slot_id, booking.channel)? {
        return Ok(false); // Sold meanwhile: the next round looks again.
    }
    if !waitlist::mark_offered(conn, request.id, now)? {
        // Another instance made this request an offer first: the seat goes back.
        let no_cooldown = chrono::Duration::zero();
        seats::release_seat(conn, slot_id, booking.channel, None, no_cooldown, now)?;
        return Ok(false);
    }
    let salt = TokenKey::new_salt();
    let token_hash = fingerprint(&policy.tokens.token(&salt));
    let new = NewOffer {
        office_id,
        request_id: request.id,
        slot_id,
        token_hash: &token_hash,
        token_salt: &salt,
        expires_at: now + policy.waitlist_hold,
    };
    waitlist::insert_offer(conn, new, now)?;
    let about = outbox::About {
        office_id,
        subject: outbox::Subject::Booking(booking.id),
        reference: booking.reference.as_str(),
        email: booking.email.as_deref(),
        sequence: booking.sequence,
    };
    outbox::enqueue(conn, about, MessageKind::WaitlistOffer, now)?;
    Ok(true)
}

/// The open offer of a booking on the waitlist, for its mail: the offer, its seat's times and
/// the token to answer it.
pub fn open_offer_of(
    conn: &mut DbConnection,
    booking: &crate::store::bookings::Booking,
) -> Result<Option<(Offer, crate::store::slots::Slot)>, BookingError> {
    let Some(request) = waitlist::requests_in_queue(conn, booking.id)? else {
        return Ok(None);
    };
    let Some(offer) = waitlist::open_offer(conn, request.id)? else {
        return Ok(None);
    };
    let slot = slots::find(conn, offer.office_id, offer.slot_id)?
        .ok_or_else(|| Error::vanished(format!("slot {}", offer.slot_id)))?;
    Ok(Some((offer, slot)))
}
