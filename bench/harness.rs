//! The benchmark harness: sportello measured against the limits under it, and a click-day
//! burst.
//!
//!     cargo bench --bench harness                       # PostgreSQL (the deployment database)
//!     BENCH_DATABASES=postgres,sqlite cargo bench --bench harness
//!
//! It seeds `BENCH_OFFICES` offices (default 100) with a year of slots each (≈1.06 million) and
//! `BENCH_SEEDED_BOOKINGS` bookings (default 100,000), starts the release `sportello` binary as
//! its own process (mail worker off: this measures the request path), and drives it over HTTP:
//!
//! 0. the HTTP ceiling: `GET /health`, the emptiest handler behind the same middleware;
//! 1. availability for random offices and days, at 16 and 64 connections;
//! 2. bookings on distinct slots, at 16 and 64 connections;
//! 3. click day: `BENCH_CLICK_ATTEMPTS` (50,000) booking attempts from 256 clients for
//!    `BENCH_CLICK_SEATS` (2,000) seats released at one instant, then checks that no seat was
//!    sold twice and that every booking has exactly one confirmation in the outbox;
//! 4. (PostgreSQL) the same booking transaction as raw SQL through `pgbench`, 64 clients.
//!
//! Each throughput scenario runs `BENCH_SECONDS` (default 15) seconds. The report (machine,
//! commit, date, every figure, the server's peak RSS) is printed and written to
//! `bench/last-report.txt`. PostgreSQL is the server at SPORTELLO_TEST_POSTGRES_URL (default
//! postgres://postgres@127.0.0.1:5432/postgres); a scratch database is created and dropped.

#[path = "common/mod.rs"]
mod common;

use std::{
    fmt::Write as _,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{Days, Utc};
use diesel::prelude::*;
use sportello::{
    domain::{
        calendar::CalendarFields,
        days::{start_of_day, today},
        ids::{OfficeId, ServiceId, SlotId},
        office::Stage,
        service::ServiceSettings,
    },
    store::{
        Backend, DbConnection, Store, calendars, catalogue, offices,
        schema::{bookings, mail_outbox, slots},
        services,
    },
    use_cases::bookings::token::{TokenKey, fingerprint},
};

use common::{Scratch, Server, configure_office, insert_seeded_booking, office_code, percentiles};

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let wanted = std::env::var("BENCH_DATABASES").unwrap_or_else(|_| "postgres".into());
    let mut report = header();
    for (backend, name) in [(Backend::Postgres, "postgres"), (Backend::Sqlite, "sqlite")] {
        if wanted.split(',').any(|w| w.trim() == name) {
            let section = runtime.block_on(run(backend, name))?;
            report.push_str(&section);
        }
    }
    println!("\n{report}");
    std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/bench/last-report.txt"),
        &report,
    )?;
    Ok(())
}

/// The machine, the commit and the date the figures belong to.
fn header() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
            })
        })
        .map_or(0, |kb| kb / 1024 / 1024);
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let dirty = if git(&["status", "--porcelain", "--untracked-files=no"]).is_empty() {
        ""
    } else {
        " (with uncommitted changes)"
    };
    format!(
        "sportello benchmark report\ndate:    {}\ncommit:  {}{dirty}\nmachine: {cpu}, {cores} cores, {memory} GiB; server, database and load generator share it\n",
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
        git(&["rev-parse", "--short", "HEAD"]),
    )
}

/// Whether `BENCH_SCENARIOS` (default all: 0,1,2,3,4) asks for scenario `n`.
fn scenario(n: u8) -> bool {
    std::env::var("BENCH_SCENARIOS").map_or(true, |list| {
        list.split(',').any(|s| s.trim() == n.to_string())
    })
}

fn env_seconds() -> Duration {
    Duration::from_secs(common::env_number("BENCH_SECONDS", 15) as u64)
}

/// What a scenario measured.
struct Stats {
    ok: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Stats {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    fn line(&self, what: &str) -> String {
        format!(
            "{what}: {:.0}/s ({} ok, {} errors in {:.1} s); {}\n",
            self.rate(),
            self.ok,
            self.errors,
            self.elapsed.as_secs_f64(),
            percentiles(self.latencies.clone())
        )
    }
}

/// `clients` concurrent loops calling `request(client, i)` until `duration` has passed.
async fn drive<F, Fut>(clients: usize, duration: Duration, request: F) -> Stats
where
    F: Fn(usize, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let request = request.clone();
            tokio::spawn(async move {
                let (mut ok, mut errors, mut latencies) = (0, 0, Vec::new());
                let mut i = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if request(client, i).await {
                        ok += 1;
                    } else {
                        errors += 1;
                    }
                    latencies.push(t.elapsed());
                    i += 1;
                }
                (ok, errors, latencies)
            })
        })
        .collect();
    let mut stats = Stats {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        if let Ok((ok, errors, latencies)) = task.await {
            stats.ok += ok;
            stats.errors += errors;
            stats.latencies.extend(latencies);
        }
    }
    stats.elapsed = started.elapsed();
    stats
}

/// A bookable seat: a slot, the office it belongs to and the service it is for.
#[derive(Clone, Copy)]
struct Target {
    office: OfficeId,
    slot: SlotId,
    service: ServiceId,
}

/// Books `count` seats of the given slots straight in the store, a thousand per transaction.
async fn seed_bookings(store: &Store, targets: &[Target], count: usize) -> anyhow::Result<()> {
    let key = TokenKey::derive(&secrecy::SecretString::from("seed".to_owned()));
    for (batch, chunk) in targets
        .iter()
        .take(count)
        .collect::<Vec<_>>()
        .chunks(1000)
        .enumerate()
    {
        let rows: Vec<Target> = chunk.iter().map(|t| **t).collect();
        let key = key.clone();
        store
            .write(move |conn| -> anyhow::Result<()> {
                let salt = TokenKey::new_salt();
                let token_hash = fingerprint(&key.token(&salt));
                for (i, target) in rows.iter().enumerate() {
                    let booked = (target.office, target.slot, target.service);
                    let token = (token_hash.as_str(), salt.as_str());
                    insert_seeded_booking(conn, batch * 1000 + i, booked, token)?;
                }
                let ids: Vec<SlotId> = rows.iter().map(|target| target.slot).collect();
                diesel::update(slots::table.filter(slots::id.eq_any(ids)))
                    .set(slots::booked_web.eq(slots::booked_web + 1))
                    .execute(conn)?;
                Ok(())
            })
            .await?;
    }
    Ok(())
}

/// The click-day office: one calendar of four desks, no desk share, `seats` seats in all, in
/// stage `preview` (closed to the public) until released. Returns its slot ids.
fn configure_click_day(
    conn: &mut DbConnection,
    seats: usize,
    first: chrono::NaiveDate,
) -> anyhow::Result<Vec<SlotId>> {
    let id = configure_office(conn, 999)?;
    let now = Utc::now();
    offices::set_stage(conn, id, Stage::Preview, now)?;
    let office = common::office(conn, 999)?;
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
        services::update(conn, service.id, &settings, now)?;
    }
    common::publish(conn, &office, first, first + Days::new(120))?;
    let delivery = catalogue::find_by_code(
        conn,
        &sportello::domain::catalogue::TypeCode::parse("document_delivery").expect("code"),
    )?
    .context("document_delivery is not in the catalogue")?;
    let service = services::find(conn, id, delivery.id)?
        .context("the click-day office does not offer document_delivery")?;
    let all = sportello::store::slots::web_bookable(
        conn,
        service.id,
        start_of_day(chrono_tz::Europe::Rome, first),
        start_of_day(chrono_tz::Europe::Rome, first + Days::new(121)),
    )?;
    let keep = seats / 4;
    // Only the first `keep` slots are released; the rest stay blocked.
    for slot in all.iter().skip(keep) {
        sportello::store::slots::set_blocked(
            conn,
            slot.id,
            true,
            Some("not part of click day"),
            now,
        )?;
    }
    Ok(all.iter().take(keep).map(|slot| slot.id).collect())
}

async fn run(backend: Backend, name: &str) -> anyhow::Result<String> {
    let offices_count = common::env_number("BENCH_OFFICES", 100);
    let seeded = common::env_number("BENCH_SEEDED_BOOKINGS", 100_000);
    let seconds = env_seconds();
    let mut out = String::new();
    writeln!(out, "\n== {name} ==")?;

    let scratch = Scratch::create(backend, "harness")?;
    let settings = common::settings(&scratch, 8)?;
    let store = Store::open(&settings.database)?;
    store.migrate().await?;

    // Seed: offices with a year of slots, then bookings spread over them.
    let seeding = Instant::now();
    let zone = chrono_tz::Europe::Rome;
    let first = today(zone, Utc::now()) + Days::new(1);
    let last = first + Days::new(364);
    let mut targets: Vec<Target> = Vec::new();
    let mut office_days: Vec<(String, chrono::NaiveDate)> = Vec::new();
    for index in 1..=offices_count {
        let found = store
            .write(move |conn| -> anyhow::Result<Vec<Target>> {
                configure_office(conn, index)?;
                let office = common::office(conn, index)?;
                common::publish(conn, &office, first, last)?;
                let service = services::list(conn, office.id)?.remove(0);
                let slots = sportello::store::slots::web_bookable(
                    conn,
                    service.id,
                    start_of_day(zone, first),
                    start_of_day(zone, last),
                )?;
                Ok(slots
                    .into_iter()
                    .map(|slot| Target {
                        office: office.id,
                        slot: slot.id,
                        service: service.id,
                    })
                    .collect())
            })
            .await?;
        targets.extend(found);
        for day in 0..365 {
            office_days.push((office_code(index).to_string(), first + Days::new(day)));
        }
    }
    // Mix offices and days, deterministically.
    targets.sort_by_key(|target| common::pick(target.slot.get() as usize, usize::MAX / 4));
    seed_bookings(&store, &targets, seeded).await?;
    let click_first = first + Days::new(30);
    let click_seats = common::env_number("BENCH_CLICK_SEATS", 2_000);
    let click_slots = store
        .write(move |conn| configure_click_day(conn, click_seats, click_first))
        .await?;
    if backend == Backend::Postgres {
        store
            .read(|conn| -> anyhow::Result<()> {
                diesel::sql_query("VACUUM ANALYZE").execute(conn)?;
                Ok(())
            })
            .await?;
    }
    let slot_rows: i64 = store
        .read(|conn| -> anyhow::Result<i64> { Ok(slots::table.count().get_result(conn)?) })
        .await?;
    writeln!(
        out,
        "data: {offices_count} offices, {slot_rows} slots, {} bookings; seeded in {:.0} s",
        seeded.min(targets.len()),
        seeding.elapsed().as_secs_f64()
    )?;

    let server = Server::start(&scratch.url(), &[])?;
    let base = format!("http://127.0.0.1:{}", server.port);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()?;

    // 0. The HTTP ceiling.
    let mut ceiling = f64::NAN;
    for clients in [16, 64].into_iter().filter(|_| scenario(0)) {
        let (client, url) = (client.clone(), format!("{base}/health"));
        let stats = drive(clients, seconds, move |_, _| {
            let (client, url) = (client.clone(), url.clone());
            async move { matches!(client.get(url).send().await, Ok(r) if r.status().is_success()) }
        })
        .await;
        ceiling = stats.rate();
        out.push_str(&stats.line(&format!(
            "0. HTTP ceiling (GET /health), {clients} connections"
        )));
    }

    // 1. Availability for random offices and four weeks from a random day.
    let office_days = Arc::new(office_days);
    let mut availability = f64::NAN;
    for clients in [16, 64].into_iter().filter(|_| scenario(1)) {
        let (client, base, days) = (client.clone(), base.clone(), office_days.clone());
        let stats = drive(clients, seconds, move |c, i| {
            let (client, base, days) = (client.clone(), base.clone(), days.clone());
            async move {
                let (office, day) = &days[common::pick(c * 1_000_003 + i, days.len()) - 1];
                let to = *day + Days::new(27);
                let url = format!("{base}/api/v1/offices/{office}/availability?service=document_delivery&from={day}&to={to}");
                match client.get(url).send().await {
                    Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                    Err(_) => false,
                }
            }
        })
        .await;
        availability = stats.rate();
        out.push_str(&stats.line(&format!("1. availability, {clients} connections")));
    }
    if scenario(0) && scenario(1) {
        writeln!(
            out,
            "   availability at 64 connections is {:.0}% of the HTTP ceiling",
            100.0 * availability / ceiling
        )?;
    }

    // 2. Bookings on distinct slots (those the seed left free).
    let codes: std::collections::HashMap<OfficeId, String> = store
        .read(|conn| -> anyhow::Result<_> {
            Ok(offices::list(conn, None, None)?
                .into_iter()
                .map(|o| (o.id, o.code.to_string()))
                .collect())
        })
        .await?;
    let free: Arc<Vec<(String, SlotId)>> = Arc::new(
        targets
            .iter()
            .skip(seeded)
            .map(|target| (codes[&target.office].clone(), target.slot))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let mut bookings_rate = f64::NAN;
    let mut bookings_p99 = String::new();
    for clients in [16, 64].into_iter().filter(|_| scenario(2)) {
        let (client, base, free, next) = (client.clone(), base.clone(), free.clone(), next.clone());
        let stats = drive(clients, seconds, move |c, i| {
            let (client, base, free, next) = (client.clone(), base.clone(), free.clone(), next.clone());
            async move {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some((office, slot)) = free.get(n) else { return false };
                let body = serde_json::json!({
                    "slot_id": slot, "case_number": format!("LOAD/{c}/{i}/{n}"), "full_name": "Amina Diallo",
                    "email": format!("load{n}@example.org"), "language": "fr",
                });
                match client.post(format!("{base}/api/v1/offices/{office}/bookings")).json(&body).send().await {
                    Ok(response) => response.status().as_u16() == 201 && response.bytes().await.is_ok(),
                    Err(_) => false,
                }
            }
        })
        .await;
        bookings_rate = stats.rate();
        let mut sorted = stats.latencies.clone();
        sorted.sort();
        bookings_p99 = format!(
            "{:.1} ms",
            sorted
                .get(sorted.len() * 99 / 100)
                .copied()
                .unwrap_or_default()
                .as_secs_f64()
                * 1e3
        );
        out.push_str(&stats.line(&format!(
            "2. bookings on distinct slots, {clients} connections"
        )));
    }

    // 3. Click day: everyone at once for a few seats.
    if scenario(3) {
        out.push_str(&click_day(&store, &client, &base, &click_slots).await?);
    }

    // 4. The booking transaction as raw SQL, through pgbench.
    if backend == Backend::Postgres && scenario(4) {
        match pgbench(&scratch.url(), &targets, seeded, seconds) {
            Ok(tps) => {
                // A transaction that found its slot full commits having booked nothing: count
                // the bookings pgbench really made.
                let made: i64 = store
                    .read(|conn| -> anyhow::Result<i64> {
                        Ok(bookings::table
                            .filter(bookings::reference.like("PGB%"))
                            .count()
                            .get_result(conn)?)
                    })
                    .await?;
                let booked_per_second = made as f64 / seconds.as_secs_f64();
                writeln!(
                    out,
                    "4. pgbench, the booking transaction as raw SQL, 64 clients: {tps:.0} transactions/s, {booked_per_second:.0} bookings/s"
                )?;
                writeln!(
                    out,
                    "   sportello books {bookings_rate:.0}/s at 64 connections (p99 {bookings_p99}): {:.0}% of what PostgreSQL alone does",
                    100.0 * bookings_rate / booked_per_second
                )?;
            }
            Err(error) => writeln!(out, "4. pgbench failed: {error}")?,
        }
    }
    writeln!(out, "server peak RSS: {:.0} MiB", server.peak_rss_mib())?;
    Ok(out)
}

async fn click_day(
    store: &Store,
    client: &reqwest::Client,
    base: &str,
    slot_ids: &[SlotId],
) -> anyhow::Result<String> {
    let attempts = common::env_number("BENCH_CLICK_ATTEMPTS", 50_000);
    let clients = 256;
    let slot_ids = Arc::new(slot_ids.to_vec());
    let office = office_code(999).to_string();
    let sold_out_at = Arc::new(std::sync::Mutex::new(None::<Duration>));
    let counts: Arc<[AtomicUsize; 3]> = Arc::new([
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ]);
    let release = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let started = Arc::new(std::sync::OnceLock::<Instant>::new());
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (client, base, office, slots) = (client.clone(), base.to_owned(), office.clone(), slot_ids.clone());
            let (counts, release, started, sold_out_at) = (counts.clone(), release.clone(), started.clone(), sold_out_at.clone());
            tokio::spawn(async move {
                release.wait().await;
                let mut latencies = Vec::new();
                for i in 0..attempts / clients {
                    let n = c * (attempts / clients) + i;
                    let slot = slots[common::pick(n * 7 + 3, slots.len()) - 1];
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
                        _ => {
                            counts[2].fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                latencies
            })
        })
        .collect();
    // Release the seats at one instant: the office goes live, and everyone clicks.
    store
        .write(|conn| -> anyhow::Result<()> {
            let office = common::office(conn, 999)?;
            offices::set_stage(conn, office.id, Stage::Live, Utc::now())?;
            Ok(())
        })
        .await?;
    let _ = started.set(Instant::now());
    release.wait().await;
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    let duration = started.get().map_or(Duration::ZERO, |s| s.elapsed());
    let ids = slot_ids.to_vec();
    let (sold, seats_taken, oversold, without_one_confirmation) = store
        .read(move |conn| -> anyhow::Result<(i64, i64, i64, i64)> {
            let sold: i64 = bookings::table
                .filter(bookings::slot_id.eq_any(&ids))
                .count()
                .get_result(conn)?;
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
            let mut taken = 0;
            for (id, capacity, web, desk) in rows {
                let booked: i64 = bookings::table
                    .filter(bookings::slot_id.eq(id))
                    .count()
                    .get_result(conn)?;
                taken += i64::from(web + desk);
                if booked > i64::from(capacity) || booked != i64::from(web + desk) {
                    oversold += 1;
                }
            }
            let booking_ids: Vec<i64> = bookings::table
                .filter(bookings::slot_id.eq_any(&ids))
                .select(bookings::id)
                .load(conn)?;
            let mut without = 0;
            for chunk in booking_ids.chunks(1000) {
                let confirmed: Vec<(Option<i64>, i64)> = mail_outbox::table
                    .filter(mail_outbox::booking_id.eq_any(chunk))
                    .filter(mail_outbox::kind.eq("confirmed"))
                    .group_by(mail_outbox::booking_id)
                    .select((mail_outbox::booking_id, diesel::dsl::count_star()))
                    .load(conn)?;
                without +=
                    chunk.len() as i64 - confirmed.iter().filter(|(_, n)| *n == 1).count() as i64;
            }
            Ok((sold, taken, oversold, without))
        })
        .await?;
    let [booked, refused, errors] = [0, 1, 2].map(|i| counts[i].load(Ordering::Relaxed));
    let sold_out = sold_out_at.lock().unwrap().map_or(0.0, |d| d.as_secs_f64());
    Ok(format!(
        "3. click day: {attempts} attempts from {clients} clients for {} seats: {booked} booked, {refused} refused (409), {errors} errors; \
         sold out in {sold_out:.1} s, all answered in {:.1} s; {}\n   check: {sold} bookings, {seats_taken} seats taken, \
         slots sold twice or miscounted: {oversold}, bookings without exactly one confirmation queued: {without_one_confirmation}\n",
        slot_ids.len() * 4,
        duration.as_secs_f64(),
        percentiles(latencies),
    ))
}

/// Runs the booking transaction as raw SQL (the statements sportello's booking makes, without
/// the service around them) through pgbench, 64 clients; returns transactions per second.
fn pgbench(url: &str, targets: &[Target], seeded: usize, seconds: Duration) -> anyhow::Result<f64> {
    // Slots neither seeded nor booked by the HTTP scenarios: the far end of the list.
    let pool: Vec<&Target> = targets.iter().skip(seeded).rev().take(200_000).collect();
    let Target {
        office, service, ..
    } = **pool.first().context("no free slots")?;
    let (min, max) = pool.iter().fold((i64::MAX, 0), |(lo, hi), target| {
        (lo.min(target.slot.get()), hi.max(target.slot.get()))
    });
    let script = format!(
        r#"\set slot random({min}, {max})
\set n random(1, 2000000000)
BEGIN;
SELECT id, stage FROM offices WHERE id = {office};
SELECT id, calendar_id, starts_at, blocked FROM slots WHERE id = :slot;
SELECT count(*) FROM bookings WHERE office_id = {office} AND case_number = 'PGB/' || :client_id || '/' || :n AND office_service_id = {service} AND status IN ('confirmed', 'checked_in');
SELECT pg_advisory_xact_lock(hashtextextended('pgb' || :n || '@example.org', {office}));
SELECT count(*) FROM bookings WHERE office_id = {office} AND email = 'pgb' || :n || '@example.org' AND status IN ('confirmed', 'checked_in');
WITH claimed AS (
  UPDATE slots SET booked_web = booked_web + 1
  WHERE id = :slot AND NOT blocked AND booked_web + booked_desk + cooling < capacity AND booked_web + cooling < capacity - held_for_desk
  RETURNING id, office_id
), booked AS (
  INSERT INTO bookings (office_id, slot_id, office_service_id, reference, token_hash, token_salt, case_number, full_name, email, language, channel, status, is_test, sequence, created_at, updated_at)
  SELECT office_id, id, {service}, 'PGB' || :client_id || 'X' || :n, md5(:n::text), md5(:client_id::text), 'PGB/' || :client_id || '/' || :n, 'Amina Diallo', 'pgb' || :n || '@example.org', 'fr', 'web', 'confirmed', false, 0, now(), now()
  FROM claimed RETURNING id, office_id, email
), events AS (
  INSERT INTO events (office_id, booking_id, kind, data, created_at) SELECT office_id, id, 'confirmed', '{{}}', now() FROM booked
)
INSERT INTO mail_outbox (office_id, booking_id, kind, booking_sequence, recipient, message_id, status, attempts, next_attempt_at, created_at, updated_at)
SELECT office_id, id, 'confirmed', 0, email, 'pgb-' || id, 'pending', 0, now(), now(), now() FROM booked;
SELECT id, event_types FROM webhook_subscriptions WHERE office_id = {office} AND removed_at IS NULL;
COMMIT;
"#
    );
    let file = std::env::temp_dir().join(format!("sportello-pgbench-{}.sql", std::process::id()));
    std::fs::write(&file, script)?;
    let output = Command::new("pgbench")
        .args([
            "-n",
            "-c",
            "64",
            "-j",
            "2",
            "-T",
            &seconds.as_secs().to_string(),
            "-f",
        ])
        .arg(&file)
        .arg(url)
        .output()?;
    let _ = std::fs::remove_file(&file);
    let text = String::from_utf8_lossy(&output.stdout);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps ="))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse::<f64>().ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "pgbench said: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    Ok(tps)
}
