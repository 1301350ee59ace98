//! Lotteries: where an office service releases its seats by lot, publishing opens a draw for
//! each instant seats open. Its seed is chosen then and only its hash shown; for a window after
//! the seats open, applicants enter ([`enter`]) instead of booking; when the window closes,
//! housekeeping draws ([`draw`]): winners are booked as any applicant's booking is, losers are
//! told at once, the seed is published, and an admin can re-run the draw from what is stored.

pub mod draw;
pub mod enter;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    bookings::{BookingError, BookingFailure},
    scope::visible_office,
};
use crate::{
    domain::{
        ids::{CalendarId, DrawId, OfficeId, SlotId},
        lottery::{Ballot, Seed},
        release::ReleaseMode,
        slots::PlannedSlot,
        staff::Actor,
        time::{LocalTime, local},
    },
    error::Error,
    store::{
        DbConnection, Store, calendars,
        lottery::{self, Draw, Entry},
        services::{self, OfficeService},
    },
};

/// Opens a draw for every instant the new slots of a lottery service open at (later than
/// `now`), unless it has one. Returns how many were opened.
pub fn open_draws_for(
    conn: &mut DbConnection,
    office_id: OfficeId,
    services: &[OfficeService],
    calendars: &[calendars::Calendar],
    created: &[PlannedSlot],
    now: DateTime<Utc>,
) -> diesel::QueryResult<usize> {
    let mut opened = 0;
    let lotteries = services
        .iter()
        .filter(|service| service.active && service.settings.release_mode == ReleaseMode::Lottery);
    for service in lotteries {
        let serving: BTreeSet<CalendarId> = calendars
            .iter()
            .filter(|calendar| calendar.service_ids.contains(&service.id))
            .map(|calendar| calendar.id)
            .collect();
        let openings: BTreeSet<DateTime<Utc>> = created
            .iter()
            .filter(|slot| serving.contains(&slot.calendar_id))
            .filter_map(|slot| slot.opens_at)
            .filter(|opens_at| *opens_at > now)
            .collect();
        let window = Duration::minutes(i64::from(service.settings.lottery_window_minutes));
        for opens_at in openings {
            let seed = Seed::random();
            let (hex, commitment) = (seed.to_hex(), seed.commitment());
            let window = (opens_at, opens_at + window);
            let seed = (hex.as_str(), commitment.as_str());
            if lottery::ensure_draw(conn, office_id, service.id, window, seed, now)? {
                opened += 1;
            }
        }
    }
    Ok(opened)
}

/// Where a draw stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DrawState {
    /// The seats have not opened yet.
    Upcoming,
    /// Taking entries.
    Open,
    /// The window has closed; the draw is about to be made.
    Closed,
    /// Drawn: the winners are booked and the seed is published.
    Drawn,
}

/// A draw as anyone may see it: when, how many took part, and the seed's commitment (the seed
/// itself once drawn, so that anyone can check the result).
#[derive(Serialize, ToSchema)]
pub struct DrawView {
    #[schema(value_type = i64)]
    pub id: DrawId,
    #[schema(example = "document_delivery")]
    pub service: String,
    pub state: DrawState,
    /// When the seats open and entries start.
    pub opens_at: LocalTime,
    /// When entries end and the draw is made.
    pub closes_at: LocalTime,
    /// SHA-256 (hex) of the seed's hex text, published before any entry.
    pub seed_hash: String,
    /// The seed (64 hex digits), once drawn.
    pub seed: Option<String>,
    /// Entries so far.
    pub entries: i64,
    /// Seats the draw shared out, once drawn.
    pub seats: Option<i64>,
    /// Entries that won a seat, once drawn.
    pub winners: Option<i64>,
    /// How many preferred slots an entry may name.
    pub max_preferences: usize,
    pub drawn_at: Option<DateTime<Utc>>,
}

/// How many preferred slots an entry may name.
pub const MAX_PREFERENCES: usize = 5;

fn draw_view(
    conn: &mut DbConnection,
    draw: &Draw,
    service: &OfficeService,
    zone: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<DrawView, BookingError> {
    let (entries, winners) = lottery::count_entries(conn, (draw.office_id, draw.id))?;
    let state = match draw.is_drawn() {
        true => DrawState::Drawn,
        false if now < draw.opens_at => DrawState::Upcoming,
        false if now < draw.closes_at => DrawState::Open,
        false => DrawState::Closed,
    };
    let seats = match draw.seats.as_deref() {
        Some(json) => Some(seats_of(json)?.values().map(|free| i64::from(*free)).sum()),
        None => None,
    };
    Ok(DrawView {
        id: draw.id,
        service: service.appointment_type.code.to_string(),
        state,
        opens_at: local(draw.opens_at, zone),
        closes_at: local(draw.closes_at, zone),
        seed_hash: draw.seed_hash.clone(),
        seed: draw.is_drawn().then(|| draw.seed.clone()),
        entries,
        seats,
        winners: draw.is_drawn().then_some(winners),
        max_preferences: MAX_PREFERENCES,
        drawn_at: draw.drawn_at,
    })
}

/// The free seats per slot a draw shared out, as stored with it.
fn seats_of(json: &str) -> Result<BTreeMap<SlotId, i32>, BookingError> {
    let pairs: Vec<(SlotId, i32)> = serde_json::from_str(json).map_err(Error::internal)?;
    Ok(pairs.into_iter().collect())
}

/// The office's draws still to come, taking entries, or drawn in the last 30 days.
pub async fn list(
    store: &Store,
    viewer: Option<Actor>,
    code: crate::domain::office::OfficeCode,
    now: DateTime<Utc>,
) -> Result<Vec<DrawView>, BookingError> {
    store
        .read(move |conn| {
            let office = visible_office(conn, viewer.as_ref(), &code)?;
            let zone = office.details.timezone;
            let services: BTreeMap<_, OfficeService> = services::list(conn, office.id)?
                .into_iter()
                .map(|service| (service.id, service))
                .collect();
            let draws = lottery::draws_of_office(conn, office.id, now - Duration::days(30), 200)?;
            draws
                .iter()
                .filter_map(|draw| {
                    let service = services.get(&draw.office_service_id)?;
                    Some(draw_view(conn, draw, service, zone, now))
                })
                .collect()
        })
        .await
}

/// One draw of the office.
pub async fn show(
    store: &Store,
    viewer: Option<Actor>,
    code: crate::domain::office::OfficeCode,
    id: DrawId,
    now: DateTime<Utc>,
) -> Result<DrawView, BookingError> {
    store
        .read(move |conn| {
            let office = visible_office(conn, viewer.as_ref(), &code)?;
            let (draw, service) = draw_of_office(conn, office.id, id)?;
            draw_view(conn, &draw, &service, office.details.timezone, now)
        })
        .await
}

/// A time the draw shares out, as an entry form lists it.
#[derive(Serialize)]
pub struct DrawTime {
    pub id: SlotId,
    pub date: chrono::NaiveDate,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
}

/// What an applicant's entry form shows: the office, the service, the draw and its times.
pub struct DrawPage {
    pub office: crate::use_cases::offices::OfficeView,
    pub service: crate::use_cases::services::PublicServiceView,
    pub draw: DrawView,
    pub times: Vec<DrawTime>,
}

/// A public office's draw, with the times it shares out, for the applicant's entry form.
pub async fn entry_page(
    store: &Store,
    code: crate::domain::office::OfficeCode,
    id: DrawId,
    now: DateTime<Utc>,
) -> Result<DrawPage, BookingError> {
    store
        .read(move |conn| {
            let office = visible_office(conn, None, &code)?;
            let (draw, service) = draw_of_office(conn, office.id, id)?;
            let zone = office.details.timezone;
            let view = draw_view(conn, &draw, &service, zone, now)?;
            let in_draw = lottery::draw_slots(conn, &draw, lottery::Among::All)?;
            let times = match (in_draw.first(), in_draw.last()) {
                (Some(first), Some(last)) => {
                    let ids: BTreeSet<SlotId> = in_draw.iter().map(|slot| slot.0).collect();
                    let from = crate::domain::days::start_of_day(zone, first.1);
                    let to = crate::domain::days::end_of_day(zone, last.1);
                    crate::store::slots::for_staff(conn, office.id, from, to, Some(service.id))?
                        .into_iter()
                        .filter(|slot| ids.contains(&slot.id))
                        .map(|slot| DrawTime {
                            id: slot.id,
                            date: slot.time.local_date,
                            starts_at: local(slot.time.starts_at, zone),
                            ends_at: local(slot.time.ends_at, zone),
                        })
                        .collect()
                }
                _ => Vec::new(),
            };
            Ok(DrawPage {
                office: (&office).into(),
                service: (&service).into(),
                draw: view,
                times,
            })
        })
        .await
}

/// The draw `id` of the office, with its service.
fn draw_of_office(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: DrawId,
) -> Result<(Draw, OfficeService), BookingError> {
    let draw = lottery::find_draw(conn, office_id, id)?.ok_or(BookingFailure::NoSuchDraw)?;
    let service = services::find_by_id(conn, office_id, draw.office_service_id)?
        .ok_or(BookingFailure::NoSuchDraw)?;
    Ok((draw, service))
}

/// The draw's ballots: each waiting entry with the slots it would take, most wanted first
/// (its preferences, or every slot of the draw on its days, earliest first).
fn ballots(entries: &[Entry], slots: &[(SlotId, chrono::NaiveDate)]) -> Vec<Ballot> {
    let in_draw: BTreeSet<SlotId> = slots.iter().map(|slot| slot.0).collect();
    entries
        .iter()
        .map(|entry| {
            let preferred: Vec<SlotId> =
                serde_json::from_str(&entry.preferences).unwrap_or_default();
            let choices = match (entry.any_from, entry.any_to) {
                (Some(from), Some(to)) if preferred.is_empty() => slots
                    .iter()
                    .filter(|slot| from <= slot.1 && slot.1 <= to)
                    .map(|slot| slot.0)
                    .collect(),
                _ => preferred
                    .into_iter()
                    .filter(|slot| in_draw.contains(slot))
                    .collect(),
            };
            Ballot {
                entry: entry.id,
                choices,
            }
        })
        .collect()
}

/// What re-running a draw from its stored entries and published seed gives.
#[derive(Serialize, ToSchema)]
pub struct ReplayView {
    #[schema(value_type = i64)]
    pub draw_id: DrawId,
    pub seed: String,
    /// Whether the re-run gives every entry the seat the draw gave it.
    pub same_result: bool,
    /// The winners of the re-run, in the order the lot served them.
    pub winners: Vec<ReplayWinner>,
}

#[derive(Serialize, ToSchema)]
pub struct ReplayWinner {
    /// The entry's reference.
    pub entry: String,
    #[schema(value_type = i64)]
    pub slot_id: SlotId,
}

/// Re-runs a drawn draw from its stored entries, seats and seed (admins), and says whether it
/// gives the same winners the same seats. Changes nothing.
pub async fn replay(
    store: &Store,
    actor: Actor,
    code: crate::domain::office::OfficeCode,
    id: DrawId,
) -> Result<ReplayView, BookingError> {
    actor.must_be_admin("Re-running a draw is for administrators.")?;
    store
        .read(move |conn| {
            let office = visible_office(conn, Some(&actor), &code)?;
            let (draw, _) = draw_of_office(conn, office.id, id)?;
            let Some(seats) = draw.seats.as_deref().filter(|_| draw.is_drawn()) else {
                let closes_at = draw.closes_at;
                return Err(crate::domain::booking::Refusal::LotteryUnderWay { closes_at }.into());
            };
            let seats = seats_of(seats)?;
            let seed = Seed::from_hex(&draw.seed).ok_or_else(|| {
                Error::internal(anyhow::anyhow!("draw {} has an unreadable seed", draw.id))
            })?;
            let entries = lottery::entries_of(conn, (draw.office_id, draw.id))?;
            let ids: Vec<SlotId> = seats.keys().copied().collect();
            let slots = lottery::days_of(conn, draw.office_id, &ids)?;
            let outcomes = crate::domain::lottery::draw(&seed, &ballots(&entries, &slots), &seats);
            let by_id: BTreeMap<_, &Entry> = entries.iter().map(|e| (e.id, e)).collect();
            let same_result = outcomes.iter().all(|outcome| {
                by_id
                    .get(&outcome.entry)
                    .is_some_and(|entry| entry.won_slot_id == outcome.slot)
            });
            let winners = outcomes
                .iter()
                .filter_map(|outcome| {
                    let entry = by_id.get(&outcome.entry)?;
                    Some(ReplayWinner {
                        entry: entry.reference.clone(),
                        slot_id: outcome.slot?,
                    })
                })
                .collect();
            Ok(ReplayView {
                draw_id: draw.id,
                seed: draw.seed.clone(),
                same_result,
                winners,
            })
        })
        .await
}

/// Everything the notice to an entry that won no seat says.
pub struct Notice {
    pub entry: Entry,
    pub draw: Draw,
    pub office: crate::store::offices::Office,
    pub service: OfficeService,
}

/// The entry with what its notice needs; `None` when it (or its draw, office or service) is
/// gone.
pub fn notice(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: crate::domain::ids::EntryId,
) -> Result<Option<Notice>, crate::store::StoreError> {
    let Some(entry) = lottery::find_entry(conn, office_id, id)? else {
        return Ok(None);
    };
    let Some(draw) = lottery::find_draw(conn, entry.office_id, entry.draw_id)? else {
        return Ok(None);
    };
    let Some(office) = crate::store::offices::find_by_id(conn, entry.office_id)? else {
        return Ok(None);
    };
    let Some(service) = services::find_by_id(conn, office.id, draw.office_service_id)? else {
        return Ok(None);
    };
    Ok(Some(Notice {
        entry,
        draw,
        office,
        service,
    }))
}
