//! The click day the harness and the cluster run share: an office whose seats are released at
//! one instant, and the checks that follow (no seat sold twice, one confirmation a booking).

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{Days, NaiveDate, Utc};
use diesel::prelude::*;
use sportello::{
    domain::{
        calendar::CalendarFields, catalogue::TypeCode, days::start_of_day, ids::SlotId,
        office::Stage, service::ServiceSettings,
    },
    store::{
        DbConnection, Store, calendars, catalogue, offices,
        schema::{bookings, mail_outbox, slots},
        services,
    },
};

/// The click-day office's index (see `configure_office`).
pub const OFFICE: usize = 999;
/// The office of the mixed click day, when a run has both.
pub const MIXED_OFFICE: usize = 998;

/// The click-day office: one calendar of four desks, no desk share, `seats` seats in all, in
/// stage `preview` (closed to the public) until [`release`]. Returns its slot ids.
pub fn configure(
    conn: &mut DbConnection,
    seats: usize,
    first: NaiveDate,
) -> anyhow::Result<Vec<SlotId>> {
    configure_office(conn, OFFICE, seats, first)
}

/// [`configure`] for the office with this index.
pub fn configure_office(
    conn: &mut DbConnection,
    index: usize,
    seats: usize,
    first: NaiveDate,
) -> anyhow::Result<Vec<SlotId>> {
    let id = super::configure_office(conn, index)?;
    let now = Utc::now();
    offices::set_stage(conn, id, Stage::Preview, now)?;
    let office = super::office(conn, index)?;
    // Four desks on the document-delivery calendar, no seats held back.
    for calendar in calendars::list(conn, id)? {
        let fields = CalendarFields {
            desks: 4,
            ..calendar.fields.clone()
        };
        calendars::update(
            conn,
            calendar.office_id,
            calendar.id,
            &fields,
            &calendar.service_ids,
            now,
        )?;
    }
    for service in services::list(conn, id)? {
        let settings = ServiceSettings {
            desk_share_percent: 0,
            ..service.settings
        };
        services::update(conn, id, service.id, &settings, now)?;
    }
    super::publish(conn, &office, first, first + Days::new(120))?;
    let delivery =
        catalogue::find_by_code(conn, &TypeCode::parse("document_delivery").expect("code"))?
            .context("document_delivery is not in the catalogue")?;
    let service = services::find(conn, id, delivery.id)?
        .context("the click-day office does not offer document_delivery")?;
    let all = sportello::store::slots::web_bookable(
        conn,
        id,
        service.id,
        start_of_day(chrono_tz::Europe::Rome, first),
        start_of_day(chrono_tz::Europe::Rome, first + Days::new(121)),
    )?;
    let keep = seats / 4;
    // Only the first `keep` slots are released; the rest stay blocked.
    for slot in all.iter().skip(keep) {
        sportello::store::slots::set_blocked(
            conn,
            id,
            slot.id,
            true,
            Some("not part of click day"),
            now,
        )?;
    }
    Ok(all.iter().take(keep).map(|slot| slot.id).collect())
}

/// Releases the seats: the office goes live.
pub async fn release(store: &Store) -> anyhow::Result<()> {
    release_office(store, OFFICE).await
}

async fn release_office(store: &Store, index: usize) -> anyhow::Result<()> {
    store
        .write(move |conn| -> anyhow::Result<()> {
            let office = super::office(conn, index)?;
            offices::set_stage(conn, office.id, Stage::Live, Utc::now())?;
            Ok(())
        })
        .await
}

/// What the database holds after a click day.
pub struct Check {
    /// Bookings on the click day's slots.
    pub sold: i64,
    /// Seats the slots' counters say are taken.
    pub seats_taken: i64,
    /// Slots holding more bookings than seats, or counters that disagree with the bookings.
    pub oversold: i64,
    /// Bookings without exactly one confirmation in the outbox.
    pub without_one_confirmation: i64,
}

pub async fn check(store: &Store, slot_ids: &[SlotId]) -> anyhow::Result<Check> {
    let ids = slot_ids.to_vec();
    store
        .read(move |conn| -> anyhow::Result<Check> {
            let booked: std::collections::HashMap<SlotId, i64> = bookings::table
                .filter(bookings::slot_id.eq_any(&ids))
                .group_by(bookings::slot_id)
                .select((bookings::slot_id, diesel::dsl::count_star()))
                .load::<(SlotId, i64)>(conn)?
                .into_iter()
                .collect();
            let sold = booked.values().sum();
            let rows: Vec<(SlotId, i32, i32, i32)> = slots::table
                .filter(slots::id.eq_any(&ids))
                .select((
                    slots::id,
                    slots::capacity,
                    slots::booked_web,
                    slots::booked_desk,
                ))
                .load(conn)?;
            let mut oversold = 0;
            let mut seats_taken = 0;
            for (id, capacity, web, desk) in rows {
                let booked = booked.get(&id).copied().unwrap_or(0);
                seats_taken += i64::from(web + desk);
                if booked > i64::from(capacity) || booked != i64::from(web + desk) {
                    oversold += 1;
                }
            }
            let booking_ids: Vec<i64> = bookings::table
                .filter(bookings::slot_id.eq_any(&ids))
                .select(bookings::id)
                .load(conn)?;
            let mut without_one_confirmation = 0;
            for chunk in booking_ids.chunks(1000) {
                let confirmed: Vec<(Option<i64>, i64)> = mail_outbox::table
                    .filter(mail_outbox::booking_id.eq_any(chunk))
                    .filter(mail_outbox::kind.eq("confirmed"))
                    .group_by(mail_outbox::booking_id)
                    .select((mail_outbox::booking_id, diesel::dsl::count_star()))
                    .load(conn)?;
                without_one_confirmation +=
                    chunk.len() as i64 - confirmed.iter().filter(|(_, n)| *n == 1).count() as i64;
            }
            Ok(Check {
                sold,
                seats_taken,
                oversold,
                without_one_confirmation,
            })
        })
        .await
}

/// Who clicks, and how.
pub struct Crowd {
    /// The office's index ([`OFFICE`] or [`MIXED_OFFICE`]).
    pub office: usize,
    pub clients: usize,
    /// Booking attempts in all.
    pub attempts: usize,
    /// Availability reads before each attempt (9: nine reads in ten requests).
    pub reads_per_attempt: usize,
    /// The first local day of the office's slots (the reads ask for four weeks from it).
    pub first: NaiveDate,
}

impl Crowd {
    /// `BENCH_CLICK_ATTEMPTS` (50,000) booking attempts from `clients` at [`OFFICE`], nothing
    /// else.
    pub fn bookings_only(clients: usize, first: NaiveDate) -> Crowd {
        Crowd {
            office: OFFICE,
            clients,
            attempts: super::env_number("BENCH_CLICK_ATTEMPTS", 50_000),
            reads_per_attempt: 0,
            first,
        }
    }
}

/// The crowd at `base` for the click day's seats, released as they start; then the checks.
/// Returns the report's lines, the first starting with `label`.
pub async fn run(
    store: &Store,
    client: &reqwest::Client,
    base: &str,
    slot_ids: &[SlotId],
    crowd: Crowd,
    label: &str,
) -> anyhow::Result<String> {
    let clients = crowd.clients;
    // Every client makes as many attempts as the others.
    let attempts = crowd.attempts / clients * clients;
    let reads_per_attempt = crowd.reads_per_attempt;
    let slot_ids = Arc::new(slot_ids.to_vec());
    let office = super::office_code(crowd.office).to_string();
    let availability = format!(
        "{base}/api/v1/offices/{office}/availability?service=document_delivery&from={}&to={}",
        crowd.first,
        crowd.first + Days::new(27)
    );
    let sold_out_at = Arc::new(std::sync::Mutex::new(None::<Duration>));
    // The errors' answers, by status, or `no answer`: an overloaded instance's 503 and the
    // balancer's own are told apart by what the run saw besides (instances marked down).
    let errors_by_answer = Arc::new(std::sync::Mutex::new(BTreeMap::<String, usize>::new()));
    // Booked, refused, failed; reads answered, reads failed.
    let counts: Arc<[AtomicUsize; 5]> = Arc::new(std::array::from_fn(|_| AtomicUsize::new(0)));
    let start = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let started = Arc::new(std::sync::OnceLock::<Instant>::new());
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (client, base, office, slots) = (client.clone(), base.to_owned(), office.clone(), slot_ids.clone());
            let (counts, start, started, sold_out_at) = (counts.clone(), start.clone(), started.clone(), sold_out_at.clone());
            let errors_by_answer = errors_by_answer.clone();
            let availability = availability.clone();
            tokio::spawn(async move {
                start.wait().await;
                let (mut latencies, mut read_latencies) = (Vec::new(), Vec::new());
                for i in 0..attempts / clients {
                    for _ in 0..reads_per_attempt {
                        let t = Instant::now();
                        let read = match client.get(&availability).send().await {
                            Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                            Err(_) => false,
                        };
                        read_latencies.push(t.elapsed());
                        counts[if read { 3 } else { 4 }].fetch_add(1, Ordering::Relaxed);
                    }
                    let n = c * (attempts / clients) + i;
                    let slot = slots[super::pick(n * 7 + 3, slots.len()) - 1];
                    let body = serde_json::json!({
                        "slot_id": slot, "case_number": format!("CLICK/{n}"), "full_name": "Amina Diallo",
                        "email": format!("click{n}@example.org"), "language": "it",
                    });
                    let t = Instant::now();
                    let status = client.post(format!("{base}/api/v1/offices/{office}/bookings")).json(&body).send().await.map(|r| r.status().as_u16());
                    latencies.push(t.elapsed());
                    match status {
                        Ok(201) => {
                            counts[0].fetch_add(1, Ordering::Relaxed);
                            if let Some(start) = started.get() {
                                *sold_out_at.lock().unwrap() = Some(start.elapsed());
                            }
                        }
                        Ok(409) => {
                            counts[1].fetch_add(1, Ordering::Relaxed);
                        }
                        answer => {
                            counts[2].fetch_add(1, Ordering::Relaxed);
                            let answer = answer.map_or_else(|_| "no answer".to_owned(), |status| status.to_string());
                            *errors_by_answer.lock().unwrap().entry(answer).or_default() += 1;
                        }
                    }
                }
                (latencies, read_latencies)
            })
        })
        .collect();
    // Release the seats at one instant: the office goes live, and everyone clicks.
    release_office(store, crowd.office).await?;
    let _ = started.set(Instant::now());
    start.wait().await;
    let (mut latencies, mut read_latencies) = (Vec::new(), Vec::new());
    for task in tasks {
        let (booking, reading) = task.await?;
        latencies.extend(booking);
        read_latencies.extend(reading);
    }
    let duration = started.get().map_or(Duration::ZERO, |s| s.elapsed());
    let Check {
        sold,
        seats_taken,
        oversold,
        without_one_confirmation,
    } = check(store, &slot_ids).await?;
    let [booked, refused, errors, read, unread] =
        [0, 1, 2, 3, 4].map(|i| counts[i].load(Ordering::Relaxed));
    let sold_out = sold_out_at.lock().unwrap().map_or(0.0, |d| d.as_secs_f64());
    let seconds = duration.as_secs_f64().max(1e-9);
    let reads = match reads_per_attempt {
        0 => String::new(),
        _ => format!(
            "   reads: {read} availability answers ({unread} errors), {:.0}/s; {}\n   bookings: {:.0} attempts/s\n",
            read as f64 / seconds,
            super::percentiles(read_latencies),
            attempts as f64 / seconds,
        ),
    };
    let errors_by_answer: Vec<String> = errors_by_answer
        .lock()
        .unwrap()
        .iter()
        .map(|(answer, n)| format!("{answer} ×{n}"))
        .collect();
    let errors = match errors {
        0 => "0 errors".to_owned(),
        _ => format!("{errors} errors ({})", errors_by_answer.join(", ")),
    };
    Ok(format!(
        "{label}: {attempts} attempts from {clients} clients for {} seats: {booked} booked, {refused} refused (409), {errors}; \
         sold out in {sold_out:.1} s, all answered in {:.1} s; {}\n   check: {sold} bookings, {seats_taken} seats taken, \
         slots sold twice or miscounted: {oversold}, bookings without exactly one confirmation queued: {without_one_confirmation}\n",
        slot_ids.len() * 4,
        duration.as_secs_f64(),
        super::percentiles(latencies),
    ) + &reads)
}
