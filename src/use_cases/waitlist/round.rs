//! Housekeeping's round of the waitlist: lapsed offers let go, seats on sale offered to the
//! longest waiting, and the draw's unlucky entries queued.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Holder, back_in_queue, held_slot, release_held};
use crate::use_cases::bookings::{
    BookingError, Policy,
    token::{TokenKey, fingerprint},
};
use crate::{
    domain::{
        ids::{DrawId, OfficeId, SlotId},
        mail::MessageKind,
        waitlist::{OfferStatus, RequestStatus, may_offer},
    },
    error::Error,
    store::{
        DbConnection, Store, lottery, outbox, seats,
        slots::Slot,
        waitlist::{self, NewOffer, Offer, Request, Waiter},
    },
};

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
                if !waitlist::close_offer(
                    conn,
                    offer.office_id,
                    offer.id,
                    OfferStatus::Expired,
                    now,
                )? {
                    continue;
                }
                let request = waitlist::find_request(conn, offer.office_id, offer.request_id)?
                    .ok_or_else(|| Error::vanished("waitlist request"))?;
                release_held(conn, &offer, now)?;
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
            let id = request.id;
            // One request that cannot be served (its booking's service gone, say) is logged
            // and passed over: it must not hold up the queue behind it.
            match offer_if_due(store, policy, request, now).await {
                Ok(offered) => round.offered += usize::from(offered),
                Err(Error::Store(error)) => return Err(Error::Store(error)),
                Err(error) => tracing::warn!(request = %id, ?error, "waitlist request skipped"),
            }
        }
    }
    Ok(round)
}

/// Offers `request` a seat if one fits now: decided by a read, made by a write that decides
/// again.
async fn offer_if_due(
    store: &Store,
    policy: &Policy,
    request: Request,
    now: DateTime<Utc>,
) -> Result<bool, BookingError> {
    let (policy, request) = (policy.clone(), std::sync::Arc::new(request));
    let (read_policy, read_request) = (policy.clone(), request.clone());
    let next = store
        .read(move |conn| next_step(conn, &read_request, &read_policy, now))
        .await?;
    if matches!(next, Next::Wait) {
        return Ok(false);
    }
    store
        .write(move |conn| offer_to(conn, &request, &policy, now))
        .await
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
            waitlist::set_request_status(
                conn,
                request.office_id,
                request.id,
                request.status,
                withdrawn,
                now,
            )?;
            return Ok(false);
        }
        Next::Offer(slot_id, holder) => (slot_id, holder),
    };
    let (office_id, channel) = (holder.office().id, holder.channel());
    seats::lock_slots(conn, office_id, &[slot_id])?;
    if !seats::claim_seat(conn, office_id, slot_id, channel)? {
        return Ok(false); // Sold meanwhile: the next round looks again.
    }
    if !waitlist::mark_offered(conn, request.office_id, request.id, now)? {
        // Another instance made this request an offer first: the seat goes back.
        let no_cooldown = chrono::Duration::zero();
        seats::release_seat(conn, office_id, slot_id, channel, None, no_cooldown, now)?;
        return Ok(false);
    }
    let salt = TokenKey::new_salt();
    let token_hash = fingerprint(&policy.tokens.token(&salt));
    let new = NewOffer {
        office_id,
        request_id: request.id,
        slot_id,
        channel,
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
    office_id: OfficeId,
    waiter: Waiter,
) -> Result<Option<(Offer, Slot)>, BookingError> {
    let Some(request) = waitlist::in_queue(conn, office_id, waiter)? else {
        return Ok(None);
    };
    let Some(offer) = waitlist::open_offer(conn, request.office_id, request.id)? else {
        return Ok(None);
    };
    let slot = held_slot(conn, &offer)?;
    Ok(Some((offer, slot)))
}

/// Puts the draw's entries that won no seat and asked to wait on the waitlist, for the days
/// they asked for (the days of their preferred slots, or their range of days), in the draw's
/// transaction.
pub(in crate::use_cases) fn queue_unlucky_entries(
    conn: &mut DbConnection,
    (office_id, draw): (OfficeId, DrawId),
    now: DateTime<Utc>,
) -> Result<usize, BookingError> {
    let mut queued = 0;
    for entry in lottery::entries_of(conn, (office_id, draw))? {
        if !entry.join_waitlist || !matches!(entry.status.as_str(), "lost" | "void") {
            continue;
        }
        let days = match (entry.any_from, entry.any_to) {
            (Some(from), Some(to)) => Some((from, to)),
            _ => {
                let wanted: Vec<SlotId> =
                    serde_json::from_str(&entry.preferences).map_err(Error::internal)?;
                let days: Vec<NaiveDate> = lottery::days_of(conn, office_id, &wanted)?
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
