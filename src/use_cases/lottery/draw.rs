//! Making a draw when its window closes: housekeeping on every instance calls [`draw_due`];
//! the conditional update that marks a draw drawn lets exactly one of them make it, in the
//! transaction that books the winners and queues the losers' notices.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::Serialize;

use super::{ballots, draw_of_office};
use crate::{
    domain::{
        audit::Action,
        booking::CaseNumber,
        client::ClientAddress,
        email::EmailAddress,
        ids::{DrawId, OfficeId, SlotId},
        integration::Author,
        language::Language,
        lottery::{self as rules, Seed},
        mail::MessageKind,
    },
    error::Error,
    store::{
        DbConnection, Store,
        lottery::{self, Among},
        offices, outbox, seats,
    },
    use_cases::{
        audit::Audit,
        bookings::{
            Booker, BookingError, BookingFailure, Policy,
            book::{NewVisit, book_in},
        },
    },
};

/// Draws whose window closes are drawn a few at a time per round.
const DRAWS_PER_ROUND: i64 = 10;

/// Makes every draw whose window has closed. Returns how many this instance made.
pub async fn draw_due(
    store: &Store,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<usize, BookingError> {
    let due = store
        .read(move |conn| -> Result<_, BookingError> {
            Ok(lottery::due(conn, now, DRAWS_PER_ROUND)?)
        })
        .await?;
    let mut made = 0;
    for draw in due {
        let policy = policy.clone();
        let (office_id, id) = (draw.office_id, draw.id);
        let drawn = store
            .write(move |conn| make(conn, office_id, id, &policy, now))
            .await?;
        if drawn.is_some() {
            made += 1;
        }
    }
    Ok(made)
}

/// What a draw gave, as the audit log records it.
#[derive(Debug, Serialize)]
pub struct DrawReport {
    pub entries: usize,
    pub seats: i64,
    pub winners: usize,
    /// Winners whose seat a booking rule then refused (the seat goes first come).
    pub void: usize,
    /// Entries without a seat that now wait for one freed later.
    pub waiting: usize,
    pub seed: String,
}

/// Makes the draw `id` in the caller's transaction, unless another instance made it first.
pub fn make(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: DrawId,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Option<DrawReport>, BookingError> {
    let office = offices::find_by_id(conn, office_id)?.ok_or(Error::NoSuchOffice)?;
    let (draw, service) = draw_of_office(conn, office.id, id)?;
    if draw.is_drawn() {
        return Ok(None);
    }
    // The seats are counted under lock: a desk booking cannot take one the draw gives away.
    let ids: Vec<SlotId> = lottery::draw_slots(conn, &draw, Among::All)?
        .iter()
        .map(|s| s.0)
        .collect();
    seats::lock_slots(conn, office.id, &ids)?;
    let slots = lottery::draw_slots(conn, &draw, Among::All)?;
    let free: BTreeMap<SlotId, i32> = slots.iter().map(|slot| (slot.0, slot.2)).collect();
    let days: Vec<_> = slots.iter().map(|slot| (slot.0, slot.1)).collect();
    let seed = Seed::from_hex(&draw.seed).ok_or_else(|| {
        Error::internal(anyhow::anyhow!("draw {} has an unreadable seed", draw.id))
    })?;
    let entries = lottery::entries_of(conn, (draw.office_id, draw.id))?;
    let outcomes = rules::draw(&seed, &ballots(&entries, &days), &free);
    let stored_seats: Vec<(SlotId, i32)> = free.iter().map(|(id, n)| (*id, *n)).collect();
    let stored_seats = serde_json::to_string(&stored_seats).map_err(Error::internal)?;
    if !lottery::mark_drawn(conn, (draw.office_id, draw.id), &stored_seats, now)? {
        return Ok(None);
    }

    // Winners are booked as the applicant's own booking would be: same rules, mail, events.
    // The address is for counting guesses at a case's secret, which the entry already proved.
    let booker = Booker::Applicant {
        via: None,
        from: ClientAddress::new(std::net::Ipv4Addr::UNSPECIFIED.into()),
    };
    let by_id: BTreeMap<_, _> = entries.iter().map(|entry| (entry.id, entry)).collect();
    let (mut winners, mut void) = (0, 0);
    for outcome in &outcomes {
        let (Some(slot_id), Some(entry)) = (outcome.slot, by_id.get(&outcome.entry)) else {
            continue;
        };
        let visit = NewVisit {
            slot_id,
            service: Some(service.appointment_type.code.clone()),
            case_number: CaseNumber::parse(&entry.case_number).map_err(Error::internal)?,
            full_name: entry.full_name.clone(),
            email: Some(EmailAddress::parse(&entry.email).map_err(Error::internal)?),
            phone: entry.phone.clone(),
            language: Language::parse_supported(&entry.language).map_err(Error::internal)?,
            secret: None,
            case_proven: true,
            proof_of_work: None,
            invited: None,
            drawn: true,
            held_seat: None,
        };
        // Each winner in a savepoint: one a rule refuses leaves the others booked.
        let booked =
            conn.transaction(|conn| book_in(conn, &office, &booker, &visit, None, policy, now));
        match booked {
            Ok(made) => {
                let booking = Some(made.details.booking.id);
                lottery::settle_entry(
                    conn,
                    (entry.office_id, entry.id),
                    "won",
                    Some((slot_id, booking)),
                    now,
                )?;
                winners += 1;
            }
            // A rule the entry could not foresee (the case booked meanwhile, say): the seat
            // goes first come and the entry is told, as a loser is.
            Err(refused @ (Error::Feature(BookingFailure::Refused(_)) | Error::Invalid(_))) => {
                tracing::info!(entry = %entry.reference, ?refused, "a winner's seat was refused");
                lottery::settle_entry(
                    conn,
                    (entry.office_id, entry.id),
                    "void",
                    Some((slot_id, None)),
                    now,
                )?;
                let (id, reference, email) = (entry.id, &entry.reference, &entry.email);
                notify_lost(
                    conn,
                    office.id,
                    id,
                    reference,
                    email,
                    entry.sequence + 1,
                    now,
                )?;
                void += 1;
            }
            Err(other) => return Err(other),
        }
    }
    for (entry, reference, email, sequence) in
        lottery::lose_the_rest(conn, (draw.office_id, draw.id), now)?
    {
        notify_lost(conn, office.id, entry, &reference, &email, sequence, now)?;
    }
    let waiting =
        crate::use_cases::waitlist::queue_unlucky_entries(conn, (draw.office_id, draw.id), now)?;
    let report = DrawReport {
        entries: entries.len(),
        seats: free.values().map(|n| i64::from(*n)).sum(),
        winners,
        void,
        waiting,
        seed: draw.seed.clone(),
    };
    let audit = Audit::by(Author::System, now);
    audit.created(conn, Some(office.id), Action::LotteryDraw, draw.id, &report)?;
    tracing::info!(draw = %draw.id, entries = report.entries, winners, void, "lottery drawn");
    Ok(Some(report))
}

/// Queues the notice that an entry won no seat.
fn notify_lost(
    conn: &mut DbConnection,
    office_id: OfficeId,
    entry: crate::domain::ids::EntryId,
    reference: &str,
    email: &str,
    sequence: i32,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let about = outbox::About {
        office_id,
        subject: outbox::Subject::LotteryEntry(entry),
        reference,
        email: Some(email),
        sequence,
    };
    outbox::enqueue(conn, about, MessageKind::LotteryLost, now)?;
    Ok(())
}
