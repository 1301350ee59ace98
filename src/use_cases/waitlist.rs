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
    bookings::{
        Booker, BookingError, BookingFailure, Details, Policy, SeatAt,
        book::{NewVisit, book_in},
        check_case_ready, details,
        manage::with_token,
        relocate, reread, token,
        token::{TokenKey, fingerprint},
        views::BookingView,
    },
    lottery::{Notice, notice},
};
use crate::{
    domain::{
        booking::{CaseNumber, Channel, Refusal, Status},
        client::ClientAddress,
        email::EmailAddress,
        ids::{DrawId, OfferId, SlotId},
        language::Language,
        mail::MessageKind,
        service::Eligibility,
        time::{LocalTime, local},
        waitlist::{OfferStatus, RequestStatus, check_range, may_offer},
    },
    error::Error,
    store::{
        DbConnection, Store, bookings, is_unique_violation, lottery,
        offices::Office,
        outbox, seats,
        services::OfficeService,
        slots::{self, Slot},
        waitlist::{self, NewOffer, Offer, Request, Waiter},
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
    /// The booking it is for, or the lottery entry that won no seat.
    pub reference: String,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    /// The visit the booking has now (none for a lottery entry).
    pub current_starts_at: Option<LocalTime>,
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
            let (office_id, waiter) = (booking.office_id, Waiter::Booking(booking.id));
            waitlist::insert_request(conn, office_id, waiter, range, now).map_err(|e| {
                match is_unique_violation(&e) {
                    true => Refusal::AlreadyWaiting.into(),
                    false => BookingError::from(e),
                }
            })?;
            let request = waitlist::latest_request(conn, booking.id)?
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
            let waiter = Waiter::Booking(details.booking.id);
            let request = waitlist::in_queue(conn, waiter)?.ok_or_else(not_waiting)?;
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

/// Who waits, with what deciding and answering an offer needs.
enum Holder {
    /// A booking that waits for an earlier seat.
    Booking(Details),
    /// A lottery entry that won no seat and waits for one.
    Entry(Notice),
}

impl Holder {
    /// The waiter of `request`; `None` when it (or its office or service) is gone.
    fn of(conn: &mut DbConnection, request: &Request) -> Result<Option<Holder>, BookingError> {
        if let Some(id) = request.booking_id {
            let Some(booking) = bookings::find(conn, id)? else {
                return Ok(None);
            };
            return Ok(Some(Holder::Booking(details(conn, booking)?)));
        }
        match request.entry_id {
            Some(id) => Ok(notice(conn, id)?.map(Holder::Entry)),
            None => Ok(None),
        }
    }

    /// The channel of the seat an offer holds: the booking's, the web's for an entry.
    fn channel(&self) -> Channel {
        match self {
            Holder::Booking(details) => details.booking.channel,
            Holder::Entry(_) => Channel::Web,
        }
    }

    fn office(&self) -> &Office {
        match self {
            Holder::Booking(details) => &details.office,
            Holder::Entry(notice) => &notice.office,
        }
    }

    fn service(&self) -> &OfficeService {
        match self {
            Holder::Booking(details) => &details.service,
            Holder::Entry(notice) => &notice.service,
        }
    }

    fn reference(&self) -> String {
        match self {
            Holder::Booking(details) => details.booking.reference.to_string(),
            Holder::Entry(notice) => notice.entry.reference.clone(),
        }
    }

    /// When the visit it has starts: an offered seat must be earlier. None for an entry.
    fn current_start(&self) -> Option<DateTime<Utc>> {
        match self {
            Holder::Booking(details) => Some(details.slot.time.starts_at),
            Holder::Entry(_) => None,
        }
    }

    /// Whether it waits no more: its booking is cancelled or past, or the entry's case has
    /// booked the service meanwhile.
    fn done_waiting(
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
    fn about(&self) -> outbox::About<'_> {
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
    let request = waitlist::find_request(conn, offer.request_id)?
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
    let slot = slots::find(conn, offer.office_id, offer.slot_id)?
        .ok_or_else(|| Error::vanished(format!("slot {}", offer.slot_id)))?;
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
            let target = slots::find(conn, offer.office_id, offer.slot_id)?
                .ok_or_else(|| Error::vanished(format!("slot {}", offer.slot_id)))?;
            if !waitlist::close_offer(conn, offer.id, OfferStatus::Accepted, now)? {
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
    waitlist::set_request_status(conn, request.id, request.status, moved, now)?;
    relocate(conn, &details, target, SeatAt::Held, policy, now)?;
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
    waitlist::set_request_status(conn, request.id, request.status, booked, now)?;
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
            if !waitlist::close_offer(conn, offer.id, OfferStatus::Declined, now)? {
                return Err(Refusal::OfferClosed.into());
            }
            release_held(conn, &offer, holder.channel(), now)?;
            back_in_queue(conn, &request, &policy, now)?;
            let offer =
                waitlist::find_offer(conn, offer.id)?.ok_or_else(|| Error::vanished("offer"))?;
            offer_view(conn, &offer, &holder)
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
/// sale to the waiting, longest waiting first, each in its own transaction. Safe from several
/// instances: an offer is made only by whoever moved the request from `waiting`, and the
/// seat's claim is the slot's own conditional update.
pub async fn offer_due(
    store: &Store,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Round, BookingError> {
    let mut round = Round::default();
    let lapse_policy = policy.clone();
    round.lapsed = store
        .write(move |conn| {
            let mut lapsed = 0;
            for offer in waitlist::lapsed_offers(conn, now, lapse_policy.waitlist_batch)? {
                if !waitlist::close_offer(conn, offer.id, OfferStatus::Expired, now)? {
                    continue;
                }
                let request = waitlist::find_request(conn, offer.request_id)?
                    .ok_or_else(|| Error::vanished("waitlist request"))?;
                let channel = Holder::of(conn, &request)?.map_or(Channel::Web, |h| h.channel());
                release_held(conn, &offer, channel, now)?;
                back_in_queue(conn, &request, &lapse_policy, now)?;
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
    /// Its booking was cancelled or is past, or its case booked meanwhile: it waits no more.
    Withdraw,
    /// This seat is on sale and fits; the holder is who waits for it.
    Offer(SlotId, Box<Holder>),
}

/// Decides what `request` needs, reading only (the write that follows decides again).
fn next_step(
    conn: &mut DbConnection,
    request: &Request,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Next, BookingError> {
    let Some(holder) = Holder::of(conn, request)? else {
        return Ok(Next::Withdraw);
    };
    if holder.done_waiting(conn, now)? {
        return Ok(Next::Withdraw);
    }
    let zone = holder.office().details.timezone;
    let (made, last) = (request.offers_made, request.last_offer_at);
    if !may_offer(made, last, policy.waitlist_max_offers, now, zone) {
        return Ok(Next::Wait);
    }
    let service = holder.service();
    let not_before = now + chrono::Duration::hours(i64::from(service.settings.min_notice_hours));
    let days = (request.earliest_day, request.latest_day);
    // An entry has no visit to beat: its days bound the search. (Not `MAX_UTC`: SQLite
    // compares stored instants as text, and a six-digit year sorts before 2027.)
    let beyond_any_visit = now + chrono::Duration::days(3660);
    let before = holder.current_start().unwrap_or(beyond_any_visit);
    let (office_id, service_id) = (holder.office().id, service.id);
    let found =
        waitlist::earliest_free_seat(conn, office_id, service_id, days, not_before, before, now)?;
    Ok(match found {
        Some(slot_id) => Next::Offer(slot_id, Box::new(holder)),
        None => Next::Wait,
    })
}

/// Offers `request` the earliest fitting seat on sale, if it may have an offer today, or
/// withdraws it when it waits no more.
fn offer_to(
    conn: &mut DbConnection,
    request: &Request,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<bool, BookingError> {
    let (slot_id, holder) = match next_step(conn, request, policy, now)? {
        Next::Wait => return Ok(false),
        Next::Withdraw => {
            let withdrawn = RequestStatus::Withdrawn;
            waitlist::set_request_status(conn, request.id, request.status, withdrawn, now)?;
            return Ok(false);
        }
        Next::Offer(slot_id, holder) => (slot_id, holder),
    };
    let (office_id, channel) = (holder.office().id, holder.channel());
    seats::lock_slots(conn, &[slot_id])?;
    if !seats::claim_seat(conn, office_id, slot_id, channel)? {
        return Ok(false); // Sold meanwhile: the next round looks again.
    }
    if !waitlist::mark_offered(conn, request.id, now)? {
        // Another instance made this request an offer first: the seat goes back.
        let no_cooldown = chrono::Duration::zero();
        seats::release_seat(conn, slot_id, channel, None, no_cooldown, now)?;
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
    outbox::enqueue(conn, holder.about(), MessageKind::WaitlistOffer, now)?;
    Ok(true)
}

/// The open offer of a waiter, for its mail: the offer and its seat.
pub fn open_offer_of(
    conn: &mut DbConnection,
    waiter: Waiter,
) -> Result<Option<(Offer, Slot)>, BookingError> {
    let Some(request) = waitlist::in_queue(conn, waiter)? else {
        return Ok(None);
    };
    let Some(offer) = waitlist::open_offer(conn, request.id)? else {
        return Ok(None);
    };
    let slot = slots::find(conn, offer.office_id, offer.slot_id)?
        .ok_or_else(|| Error::vanished(format!("slot {}", offer.slot_id)))?;
    Ok(Some((offer, slot)))
}

/// Puts the draw's entries that won no seat and asked to wait on the waitlist, for the days
/// they asked for (the days of their preferred slots, or their range of days), in the draw's
/// transaction.
pub(in crate::use_cases) fn queue_unlucky_entries(
    conn: &mut DbConnection,
    draw: DrawId,
    now: DateTime<Utc>,
) -> Result<usize, BookingError> {
    let mut queued = 0;
    for entry in lottery::entries_of(conn, draw)? {
        if !entry.join_waitlist || !matches!(entry.status.as_str(), "lost" | "void") {
            continue;
        }
        let days = match (entry.any_from, entry.any_to) {
            (Some(from), Some(to)) => Some((from, to)),
            _ => {
                let wanted: Vec<SlotId> =
                    serde_json::from_str(&entry.preferences).map_err(Error::internal)?;
                let days: Vec<NaiveDate> = lottery::days_of(conn, &wanted)?
                    .into_iter()
                    .map(|(_, day)| day)
                    .collect();
                days.iter().min().copied().zip(days.iter().max().copied())
            }
        };
        if let Some(days) = days {
            waitlist::insert_request(conn, entry.office_id, Waiter::Entry(entry.id), days, now)?;
            queued += 1;
        }
    }
    Ok(queued)
}
