//! Lottery benchmark: the draw alone (50,000 entries for 2,000 seats, in memory), then on each
//! database the click day in lottery mode: the office publishes its seats to open in a few
//! seconds, `BENCH_CLIENTS` clients (default 64) send `BENCH_ENTRIES` entries (default 50,000)
//! over HTTP as fast as the server takes them (entries/s and latency percentiles), and the draw
//! is made as housekeeping makes it (winners booked, losers' notices queued, in one
//! transaction).
//!
//!     cargo bench --bench lottery
//!     BENCH_ENTRIES=10000 BENCH_DATABASES=postgres cargo bench --bench lottery

#[path = "common/mod.rs"]
mod common;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use chrono::Utc;
use diesel::prelude::*;
use futures_util::{StreamExt, stream};
use serde_json::json;
use sportello::{
    domain::{
        ids::{EntryId, SlotId},
        lottery::{Ballot, Seed, draw},
    },
    store::{
        Backend, StoreError,
        schema::{lottery_draws, office_services},
    },
    use_cases::{
        bookings::Policy,
        lottery::draw::make,
        publication::{MixedDurations, Mode, reconcile_slots},
    },
};

use common::{Scratch, configure_office, office_code};

fn main() -> anyhow::Result<()> {
    let entries = common::env_number("BENCH_ENTRIES", 50_000);
    let clients = common::env_number("BENCH_CLIENTS", 64);
    println!(
        "lottery benchmark, {entries} entries, {clients} clients, {}",
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    draw_in_memory(entries, 2_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    for (backend, name) in common::backends() {
        println!("\n== {name} ==");
        runtime.block_on(click_day(backend, entries, clients))?;
    }
    Ok(())
}

/// The draw itself: `entries` ballots of three preferred slots among 100 slots of 20 seats.
fn draw_in_memory(entries: usize, seats: i32) {
    let slots = 100;
    let free: BTreeMap<SlotId, i32> = (1..=slots)
        .map(|id| (SlotId::new(id), seats / slots as i32))
        .collect();
    let ballots: Vec<Ballot> = (0..entries)
        .map(|n| Ballot {
            entry: EntryId::new(n as i64 + 1),
            choices: (0..3)
                .map(|k| SlotId::new(common::pick(n * 3 + k, slots as usize) as i64))
                .collect(),
        })
        .collect();
    let started = Instant::now();
    let outcomes = draw(&Seed::random(), &ballots, &free);
    let elapsed = started.elapsed();
    let winners = outcomes.iter().filter(|o| o.slot.is_some()).count();
    println!(
        "draw in memory: {entries} entries, {seats} seats: {:.1} ms, {winners} winners",
        elapsed.as_secs_f64() * 1e3
    );
}

async fn click_day(backend: Backend, entries: usize, clients: usize) -> anyhow::Result<()> {
    let scratch = Scratch::create(backend, "lottery")?;
    let served = common::serve(&scratch, 16).await?;
    let store = served.store.clone();
    let settings = common::settings(&scratch, 16)?;
    let opens_at = Utc::now() + chrono::Duration::seconds(3);
    // Document delivery released by lot; sixty days of seats opening in three seconds.
    let (draw_id, office_id) = store
        .write(move |conn| -> anyhow::Result<_> {
            let office_id = configure_office(conn, 1)?;
            diesel::update(office_services::table.filter(office_services::office_id.eq(office_id)))
                .set((
                    office_services::release_mode.eq("lottery"),
                    office_services::lottery_window_minutes.eq(30),
                ))
                .execute(conn)?;
            let office = common::office(conn, 1)?;
            let from = Utc::now().date_naive() + chrono::Duration::days(7);
            let to = from + chrono::Duration::days(60);
            let mode = Mode::Publish {
                opens_at: Some(opens_at),
                shares: None,
            };
            reconcile_slots::<MixedDurations>(conn, &office, from, to, mode, Utc::now())?;
            let draw_id: sportello::domain::ids::DrawId = lottery_draws::table
                .filter(lottery_draws::office_id.eq(office_id))
                .select(lottery_draws::id)
                .order(lottery_draws::id)
                .first(conn)?;
            Ok((draw_id, office_id))
        })
        .await?;
    let slot_ids: Vec<i64> = store
        .read(move |conn| -> Result<Vec<i64>, StoreError> {
            use sportello::store::schema::{calendar_services, lottery_draws, slots};
            let service: sportello::domain::ids::ServiceId = lottery_draws::table
                .find(draw_id)
                .select(lottery_draws::office_service_id)
                .first(conn)?;
            Ok(slots::table
                .filter(
                    slots::calendar_id.eq_any(
                        calendar_services::table
                            .filter(calendar_services::office_service_id.eq(service))
                            .select(calendar_services::calendar_id),
                    ),
                )
                .select(slots::id)
                .load::<SlotId>(conn)?
                .into_iter()
                .map(SlotId::get)
                .collect())
        })
        .await?;
    tokio::time::sleep((opens_at - Utc::now()).to_std().unwrap_or_default()).await;

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let url = format!(
        "http://127.0.0.1:{}/api/v1/offices/{}/draws/{draw_id}/entries",
        served.port,
        office_code(1)
    );
    let started = Instant::now();
    let results: Vec<(bool, Duration)> = stream::iter(0..entries)
        .map(|n| {
            let (http, url) = (http.clone(), url.clone());
            let picks: Vec<i64> = (0..3)
                .map(|k| slot_ids[common::pick(n * 3 + k, slot_ids.len()) - 1])
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let body = json!({
                "case_number": format!("RM/2026/{n:07}"),
                "full_name": "Amina Haddad",
                "email": format!("entrant{n}@example.org"),
                "language": "fr",
                "preferred_slot_ids": picks,
            });
            async move {
                let sent = Instant::now();
                let ok = http
                    .post(&url)
                    .json(&body)
                    .send()
                    .await
                    .is_ok_and(|reply| reply.status().as_u16() == 201);
                (ok, sent.elapsed())
            }
        })
        .buffer_unordered(clients)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let accepted = results.iter().filter(|(ok, _)| *ok).count();
    let latencies = results.into_iter().map(|(_, latency)| latency).collect();
    println!(
        "entries: {accepted}/{entries} accepted in {seconds:.2} s = {:.0} entries/s; {}",
        entries as f64 / seconds,
        common::percentiles(latencies)
    );

    let policy = Policy::from_settings(&settings);
    let after = opens_at + chrono::Duration::minutes(31);
    let started = Instant::now();
    let report = store
        .write(move |conn| make(conn, office_id, draw_id, &policy, after))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or_else(|| anyhow::anyhow!("the draw was made already"))?;
    println!(
        "draw: {} entries, {} seats, {} winners, {} void: {:.2} s (bookings, notices and audit in one transaction)",
        report.entries,
        report.seats,
        report.winners,
        report.void,
        started.elapsed().as_secs_f64()
    );
    served.handle.stop(true).await;
    Ok(())
}
