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
//! 4. (PostgreSQL) the same booking transaction as raw SQL through `pgbench`, 64 clients, then
//!    its one write alone: the least PostgreSQL could do per booking on this machine;
//! 5. a mixed click day: 512 clients, each reading the availability nine times before each of
//!    `BENCH_MIXED_ATTEMPTS` (10,000) booking attempts in all, for another 2,000 seats;
//! 6. (on its own: `BENCH_SCENARIOS=0,6 BENCH_SEEDED_BOOKINGS=1000`) availability at 64
//!    connections with the bookings seeded, then ten times as many, up to `BENCH_FLAT_UP_TO`
//!    (1,000,000): whether it stays flat as bookings grow.
//!
//! At 64 connections, scenario 1 also takes a seat every 50 ms and measures how long the
//! availability still offers it (`staleness`).
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

use chrono::{Days, Utc};
use diesel::prelude::*;
use sportello::{
    domain::{
        days::{start_of_day, today},
        ids::{OfficeId, ServiceId, SlotId},
    },
    store::{
        Backend, Store, offices,
        schema::{bookings, slots},
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
    let mut report = common::report_header("sportello benchmark report");
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

/// Whether `BENCH_SCENARIOS` (default all: 0,1,2,3,4,5) asks for scenario `n`.
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
    /// Seats the web may book: capacity less what is held for the desk.
    web_seats: u32,
}

/// Books `seats[from..to]` straight in the store, a thousand per transaction (the `n`th
/// booking's case is `SEED/n`). See [`seat_order`].
async fn seed_bookings(
    store: &Store,
    seats: &[Target],
    from: usize,
    to: usize,
) -> anyhow::Result<()> {
    let key = TokenKey::derive(&secrecy::SecretString::from("seed".to_owned()));
    let to = to.min(seats.len());
    for start in (from..to).step_by(1000) {
        let rows: Vec<Target> = seats[start..(start + 1000).min(to)].to_vec();
        let key = key.clone();
        store
            .write(move |conn| -> anyhow::Result<()> {
                let salt = TokenKey::new_salt();
                let token_hash = fingerprint(&key.token(&salt));
                for (i, target) in rows.iter().enumerate() {
                    let booked = (target.office, target.slot, target.service);
                    let token = (token_hash.as_str(), salt.as_str());
                    insert_seeded_booking(conn, start + i, booked, token)?;
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

/// The seats the seed books, in order: one of each target (so the other scenarios find the
/// slots past the seeded ones free), then every web seat of the other service's slots. A year
/// of bookings grows the way a deployment's does, without selling out the availability that
/// scenario 6 reads: booking the targets' second and third seats instead filled the slots with
/// two, and at 853,400 bookings every slot, so the answers shrank and came 6x faster.
fn seat_order(targets: &[Target], beside: &[Target]) -> Vec<Target> {
    let rounds = beside
        .iter()
        .map(|target| target.web_seats)
        .max()
        .unwrap_or(0);
    let beside_seats =
        (0..rounds).flat_map(|round| beside.iter().filter(move |target| target.web_seats > round));
    targets.iter().chain(beside_seats).copied().collect()
}

/// After seeding, and before the database's own measure: PostgreSQL's statistics up to date
/// (as autovacuum keeps them in a deployment; it may be off on a test machine) and a
/// checkpoint taken, so that no run pays for the writes of the one before.
async fn settle(store: &Store, backend: Backend) -> anyhow::Result<()> {
    if backend == Backend::Postgres {
        store
            .read(|conn| -> anyhow::Result<()> {
                diesel::sql_query("VACUUM ANALYZE").execute(conn)?;
                diesel::sql_query("CHECKPOINT").execute(conn)?;
                Ok(())
            })
            .await?;
    }
    Ok(())
}

/// `clients` connections asking for four weeks of a random office's availability, from a
/// random day, for `seconds`.
async fn availability_load(
    client: &reqwest::Client,
    base: &str,
    office_days: &Arc<Vec<(String, chrono::NaiveDate)>>,
    clients: usize,
    seconds: Duration,
) -> Stats {
    let (load, target, days) = (client.clone(), base.to_owned(), office_days.clone());
    drive(clients, seconds, move |c, i| {
        let (client, base, days) = (load.clone(), target.clone(), days.clone());
        async move {
            let (office, day) = &days[common::pick(c * 1_000_003 + i, days.len()) - 1];
            let to = *day + Days::new(27);
            let url = format!(
                "{base}/api/v1/offices/{office}/availability?service=document_delivery&from={day}&to={to}"
            );
            match client.get(url).send().await {
                Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await
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
    // The other service's slots, where scenario 6 seeds past a booking on each of `targets`.
    let mut beside: Vec<Target> = Vec::new();
    let mut office_days: Vec<(String, chrono::NaiveDate)> = Vec::new();
    for index in 1..=offices_count {
        let (found, other) = store
            .write(move |conn| -> anyhow::Result<(Vec<Target>, Vec<Target>)> {
                configure_office(conn, index)?;
                let office = common::office(conn, index)?;
                common::publish(conn, &office, first, last)?;
                let (from, to) = (start_of_day(zone, first), start_of_day(zone, last));
                let offered = services::list(conn, office.id)?;
                let mut bookable =
                    |service: &services::OfficeService| -> anyhow::Result<Vec<Target>> {
                        let slots = sportello::store::slots::web_bookable(
                            conn, office.id, service.id, from, to,
                        )?;
                        Ok(slots
                            .into_iter()
                            .map(|slot| Target {
                                office: office.id,
                                slot: slot.id,
                                service: service.id,
                                web_seats: u32::try_from(
                                    slot.seats.capacity - slot.seats.held_for_desk,
                                )
                                .unwrap_or(0),
                            })
                            .collect())
                    };
                Ok((bookable(&offered[0])?, bookable(&offered[1])?))
            })
            .await?;
        targets.extend(found);
        beside.extend(other);
        for day in 0..365 {
            office_days.push((office_code(index).to_string(), first + Days::new(day)));
        }
    }
    // Mix offices and days, deterministically.
    targets.sort_by_key(|target| common::pick(target.slot.get() as usize, usize::MAX / 4));
    let seats = seat_order(&targets, &beside);
    seed_bookings(&store, &seats, 0, seeded).await?;
    let click_first = first + Days::new(30);
    let click_seats = common::env_number("BENCH_CLICK_SEATS", 2_000);
    let click_slots = store
        .write(move |conn| common::click_day::configure(conn, click_seats, click_first))
        .await?;
    let mixed_slots = store
        .write(move |conn| {
            let office = common::click_day::MIXED_OFFICE;
            common::click_day::configure_office(conn, office, click_seats, click_first)
        })
        .await?;
    settle(&store, backend).await?;
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
    // The server's peak memory during each scenario that ran (pgbench's, scenario 4, is not
    // the server's), the first including startup.
    let mut peaks: Vec<(u8, f64)> = Vec::new();
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

    peaks.push((0, server.take_peak_rss_mib()));
    // 1. Availability for random offices and four weeks from a random day, while seats are
    // taken one at a time (slots at the far end of the free ones) to see how long a taken seat
    // is still offered.
    let codes: std::collections::HashMap<OfficeId, String> = store
        .read(|conn| -> anyhow::Result<_> {
            Ok(offices::list(conn, None, None)?
                .into_iter()
                .map(|o| (o.id, o.code.to_string()))
                .collect())
        })
        .await?;
    let probes = probes(
        &store,
        &codes,
        targets.iter().skip(seeded).rev().take(2_000),
    )
    .await?;
    let office_days = Arc::new(office_days);
    let mut availability = f64::NAN;
    let runs = [(16, false), (64, false), (64, true)];
    for (clients, taking) in runs.into_iter().filter(|_| scenario(1)) {
        let stats = availability_load(&client, &base, &office_days, clients, seconds);
        let until = Instant::now() + seconds;
        let asked = [base.clone()];
        let probe = common::staleness::measure(
            &client,
            &base,
            &asked,
            &probes,
            until,
            Duration::from_millis(50),
        );
        // (`then_some` would run the probe in every run: its argument is evaluated eagerly.)
        let probed = async {
            match taking {
                true => Some(probe.await),
                false => None,
            }
        };
        let (stats, probed) = tokio::join!(stats, probed);
        let what = match taking {
            false => format!("1. availability, {clients} connections"),
            true => format!("1. availability, {clients} connections, a seat taken every 50 ms"),
        };
        out.push_str(&stats.line(&what));
        match probed {
            Some(probed) => out.push_str(&probed.line()),
            None => availability = stats.rate(),
        }
    }
    if scenario(0) && scenario(1) {
        writeln!(
            out,
            "   availability at 64 connections (no seat taken) is {:.0}% of the HTTP ceiling",
            100.0 * availability / ceiling
        )?;
    }

    peaks.push((1, server.take_peak_rss_mib()));
    // 2. Bookings on distinct slots (those the seed left free).
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

    peaks.push((2, server.take_peak_rss_mib()));
    // 3. Click day: everyone at once for a few seats.
    if scenario(3) {
        out.push_str(
            &common::click_day::run(
                &store,
                &client,
                &base,
                &click_slots,
                common::click_day::Crowd::bookings_only(256, click_first),
                "3. click day",
            )
            .await?,
        );
    }

    peaks.push((3, server.take_peak_rss_mib()));
    // 4. The booking transaction as raw SQL, through pgbench; then its one write alone, the
    // least PostgreSQL could do per booking.
    if backend == Backend::Postgres && scenario(4) {
        settle(&store, backend).await?;
        let url = scratch.url();
        let made = |prefix: &'static str| {
            // A transaction that found its slot full commits having booked nothing: count the
            // bookings pgbench really made.
            store.read(move |conn| -> anyhow::Result<f64> {
                let made: i64 = bookings::table
                    .filter(bookings::reference.like(format!("{prefix}%")))
                    .count()
                    .get_result(conn)?;
                Ok(made as f64 / seconds.as_secs_f64())
            })
        };
        let script = booking_script(free_slot_range(&targets, seeded, 0)?);
        let pgbench_rate = match pgbench(&url, &script, seconds) {
            Ok(tps) => {
                let booked_per_second = made("PGB").await?;
                writeln!(
                    out,
                    "4. pgbench, the booking transaction as raw SQL, 64 clients: {tps:.0} transactions/s, {booked_per_second:.0} bookings/s"
                )?;
                writeln!(
                    out,
                    "   sportello books {bookings_rate:.0}/s at 64 connections (p99 {bookings_p99}): {:.0}% of what PostgreSQL alone does",
                    100.0 * bookings_rate / booked_per_second
                )?;
                Some(booked_per_second)
            }
            Err(error) => {
                writeln!(out, "4. pgbench failed: {error}")?;
                None
            }
        };
        settle(&store, backend).await?;
        let script = floor_script(free_slot_range(&targets, seeded, 200_000)?);
        match pgbench(&url, &script, seconds) {
            Ok(tps) => {
                let floor = made("PGF").await?;
                writeln!(
                    out,
                    "   the least PostgreSQL could do per booking, the transaction's one write alone (no read, lock or rule), 64 clients: {tps:.0} transactions/s, {floor:.0} bookings/s"
                )?;
                if let Some(rate) = pgbench_rate {
                    writeln!(
                        out,
                        "   the whole transaction books {:.0}% of that; 2,000 bookings/s would be {:.0}% of it",
                        100.0 * rate / floor,
                        100.0 * 2_000.0 / floor
                    )?;
                }
            }
            Err(error) => writeln!(out, "   pgbench of the write alone failed: {error}")?,
        }
    }
    // 5. Mixed click day: nine availability reads before each booking attempt.
    server.take_peak_rss_mib();
    if scenario(5) {
        let crowd = common::click_day::Crowd {
            office: common::click_day::MIXED_OFFICE,
            clients: 512,
            attempts: common::env_number("BENCH_MIXED_ATTEMPTS", 10_000),
            reads_per_attempt: 9,
            first: click_first,
        };
        let label = "5. mixed click day (90% availability reads)";
        out.push_str(
            &common::click_day::run(&store, &client, &base, &mixed_slots, crowd, label).await?,
        );
    }
    peaks.push((5, server.take_peak_rss_mib()));
    // 6. Availability as bookings grow: measured at the bookings seeded, then at ten times as
    // many, up to BENCH_FLAT_UP_TO. It books the free slots the other booking scenarios use, so
    // it runs on its own (BENCH_SCENARIOS=0,6 BENCH_SEEDED_BOOKINGS=1000).
    if scenario(6) && !(2..=5).any(scenario) {
        let up_to = common::env_number("BENCH_FLAT_UP_TO", 1_000_000).min(seats.len());
        let mut level = seeded;
        let mut rates: Vec<(usize, f64)> = Vec::new();
        loop {
            let stats = availability_load(&client, &base, &office_days, 64, seconds).await;
            out.push_str(&stats.line(&format!(
                "6. availability, 64 connections, {level} bookings"
            )));
            rates.push((level, stats.rate()));
            let next = (level * 10).min(up_to);
            if next <= level {
                break;
            }
            let seeding = Instant::now();
            seed_bookings(&store, &seats, level, next).await?;
            settle(&store, backend).await?;
            writeln!(
                out,
                "   seeded {} more bookings in {:.0} s",
                next - level,
                seeding.elapsed().as_secs_f64()
            )?;
            level = next;
        }
        let fastest = rates.iter().map(|(_, r)| *r).fold(0.0, f64::max);
        let slowest = rates.iter().map(|(_, r)| *r).fold(f64::MAX, f64::min);
        writeln!(
            out,
            "   from {} to {} bookings the fastest rate is {:.2}x the slowest",
            rates.first().map_or(0, |r| r.0),
            rates.last().map_or(0, |r| r.0),
            fastest / slowest
        )?;
        peaks.push((6, server.take_peak_rss_mib()));
    }
    let ran: Vec<String> = peaks
        .iter()
        .filter(|(n, _)| scenario(*n))
        .map(|(n, mib)| format!("{n}: {mib:.0}"))
        .collect();
    let peak = peaks.iter().map(|(_, mib)| *mib).fold(0.0, f64::max);
    writeln!(
        out,
        "server peak RSS: {peak:.0} MiB (by scenario, MiB: {})",
        ran.join(", ")
    )?;
    Ok(out)
}

/// Where the probes of staleness take their seats, with the slots' local days.
async fn probes(
    store: &Store,
    codes: &std::collections::HashMap<OfficeId, String>,
    targets: impl Iterator<Item = &Target>,
) -> anyhow::Result<Vec<common::staleness::Probe>> {
    let wanted: Vec<(String, SlotId)> = targets
        .map(|target| (codes[&target.office].clone(), target.slot))
        .collect();
    let ids: Vec<SlotId> = wanted.iter().map(|(_, slot)| *slot).collect();
    let dates: std::collections::HashMap<SlotId, chrono::NaiveDate> = store
        .read(move |conn| -> anyhow::Result<_> {
            Ok(slots::table
                .filter(slots::id.eq_any(ids))
                .select((slots::id, slots::local_date))
                .load(conn)?
                .into_iter()
                .collect())
        })
        .await?;
    Ok(wanted
        .into_iter()
        .map(|(office, slot)| common::staleness::Probe {
            office,
            slot,
            date: dates[&slot],
        })
        .collect())
}

/// Slots neither seeded nor booked by the HTTP scenarios: the far end of the list, leaving out
/// the first `skip` of those (another pgbench run's). Their ids' range, which pgbench draws from.
fn free_slot_range(targets: &[Target], seeded: usize, skip: usize) -> anyhow::Result<(i64, i64)> {
    let pool: Vec<&Target> = targets
        .iter()
        .skip(seeded)
        .rev()
        .skip(skip)
        .take(200_000)
        .collect();
    anyhow::ensure!(!pool.is_empty(), "no free slots");
    Ok(pool.iter().fold((i64::MAX, 0), |(lo, hi), target| {
        (lo.min(target.slot.get()), hi.max(target.slot.get()))
    }))
}

/// The booking's one write, after its `p` (the values): it takes the seat and records the
/// booking, its event, its webhook deliveries and its mail, as sportello's statement does.
const BOOKING_WRITE: &str = r#"claimed AS (UPDATE slots SET booked_web = booked_web + 1 FROM p WHERE slots.id = p.slot AND slots.office_id = p.office AND NOT blocked AND booked_web + booked_desk + cooling < capacity AND booked_web + cooling < capacity - held_for_desk RETURNING slots.id),
booked AS (INSERT INTO bookings (office_id, slot_id, office_service_id, reference, token_hash, token_salt, case_number, full_name, email, mailbox, phone, language, channel, status, is_test, sequence, created_by, intermediary_id, created_at, updated_at) SELECT p.office, claimed.id, p.service, p.reference, p.token_hash, p.token_salt, p.case_number, p.full_name, p.email, p.mailbox, p.phone, p.language, p.channel, p.status, p.is_test, 0, p.created_by, p.intermediary_id, p.now, p.now FROM claimed, p RETURNING *),
event AS (INSERT INTO events (office_id, booking_id, kind, detail, actor_id, data, created_at) SELECT p.office, booked.id, p.event_kind, p.detail, p.created_by, p.data, p.now FROM booked, p RETURNING id),
deliveries AS (INSERT INTO webhook_deliveries (office_id, subscription_id, event_id, next_attempt_at, created_at, updated_at) SELECT p.office, s.id, event.id, p.now, p.now, p.now FROM event, p, webhook_subscriptions s WHERE s.office_id = p.office AND s.removed_at IS NULL AND (s.event_types = '' OR strpos(' ' || s.event_types || ' ', ' ' || p.public_type || ' ') > 0)),
mail AS (INSERT INTO mail_outbox (office_id, booking_id, kind, sequence, recipient, message_id, status, attempts, next_attempt_at, created_at, updated_at) SELECT p.office, booked.id, p.mail_kind, booked.sequence, booked.email, p.message_id, p.pending, 0, p.now, p.now, p.now FROM booked, p)
SELECT * FROM booked;
"#;

/// The booking transaction as raw SQL (the statements sportello's booking makes, without the
/// service around them), for pgbench.
///
/// The statements are sportello's, in its order, on slots spread over the offices as scenario 2's
/// are: the office (sportello finds it by code, this script by the slot), the slot with its
/// services, then the transaction: the email's lock, what the rules count, the one statement
/// that takes the seat and records the booking, its event, webhook deliveries and mail, and the
/// read of the offices changed. References start `PGB`.
fn booking_script((min, max): (i64, i64)) -> String {
    format!(
        r#"\set slot random({min}, {max})
\set n random(1, 2000000000)
SELECT o.id AS office, o.code AS code FROM offices o WHERE o.id = (SELECT office_id FROM slots WHERE id = :slot) LIMIT 1 \gset
SELECT slots.*, office_services.id AS service, appointment_types.code AS service_code FROM slots INNER JOIN calendar_services ON calendar_services.calendar_id = slots.calendar_id INNER JOIN office_services ON office_services.id = calendar_services.office_service_id AND office_services.active INNER JOIN appointment_types ON appointment_types.id = office_services.appointment_type_id WHERE slots.id = :slot AND slots.office_id = :office ORDER BY appointment_types.code \gset
BEGIN;
SELECT pg_advisory_xact_lock(hashtextextended('pgb' || :n || '@example.org', :office));
SELECT slots.*, office_services.*, appointment_types.*, EXISTS (SELECT 1 FROM bookings WHERE bookings.office_id = :office AND bookings.case_number = 'PGB/' || :client_id || '/' || :n AND bookings.office_service_id = office_services.id AND bookings.status = ANY('{{confirmed,checked_in}}')), (SELECT count(*) FROM bookings WHERE bookings.office_id = :office AND bookings.mailbox = 'pgb' || :n || '@example.org' AND bookings.status = ANY('{{confirmed,checked_in}}')), (SELECT request_hash FROM idempotency_keys WHERE office_id = :office AND key = NULL LIMIT 1), (SELECT booking_id FROM idempotency_keys WHERE office_id = :office AND key = NULL LIMIT 1), EXISTS (SELECT 1 FROM bookings WHERE reference = 'PGB' || :client_id || 'X' || :n) FROM slots INNER JOIN calendar_services ON calendar_services.calendar_id = slots.calendar_id INNER JOIN office_services ON office_services.id = calendar_services.office_service_id AND office_services.active INNER JOIN appointment_types ON appointment_types.id = office_services.appointment_type_id WHERE slots.id = :slot AND slots.office_id = :office ORDER BY appointment_types.code;
WITH p AS (SELECT :office::bigint AS office, :slot::bigint AS slot, :service::bigint AS service, 'PGB' || :client_id || 'X' || :n AS reference, md5(:n::text) AS token_hash, md5(:client_id::text) AS token_salt, 'PGB/' || :client_id || '/' || :n AS case_number, 'Amina Diallo' AS full_name, 'pgb' || :n || '@example.org' AS email, 'pgb' || :n || '@example.org' AS mailbox, NULL::text AS phone, 'fr' AS language, 'web' AS channel, 'confirmed' AS status, false AS is_test, NULL::bigint AS created_by, NULL::bigint AS intermediary_id, now()::timestamp AS now, 'confirmed' AS event_kind, '{{"slot_id":' || :slot || '}}' AS detail, '{{"case_number":"PGB/' || :n || '","channel":"web","reference":"PGB","service":"' || :service_code || '"}}' AS data, 'booking.confirmed' AS public_type, 'confirmed' AS mail_kind, '<pgb-' || :client_id || '-' || :n || '@sportello>' AS message_id, 'pending' AS pending),
{BOOKING_WRITE}SELECT current_setting('sportello.changed_offices', true);
COMMIT;
"#
    )
}

/// The least PostgreSQL could do per booking: the booking transaction's one write alone,
/// committing on its own, with the office and service it needs found inside it. No read before
/// it, no lock, no rule checked: what it books per second is a ceiling no booking that keeps
/// the rules can pass on this machine, whatever the service around it. References start `PGF`.
fn floor_script((min, max): (i64, i64)) -> String {
    format!(
        r#"\set slot random({min}, {max})
\set n random(1, 2000000000)
WITH found AS (SELECT slots.office_id AS office, office_services.id AS service, appointment_types.code AS service_code FROM slots INNER JOIN calendar_services ON calendar_services.calendar_id = slots.calendar_id INNER JOIN office_services ON office_services.id = calendar_services.office_service_id AND office_services.active INNER JOIN appointment_types ON appointment_types.id = office_services.appointment_type_id WHERE slots.id = :slot ORDER BY appointment_types.code LIMIT 1),
p AS (SELECT found.office, :slot::bigint AS slot, found.service, 'PGF' || :client_id || 'X' || :n AS reference, md5(:n::text) AS token_hash, md5(:client_id::text) AS token_salt, 'PGF/' || :client_id || '/' || :n AS case_number, 'Amina Diallo' AS full_name, 'pgf' || :n || '@example.org' AS email, 'pgf' || :n || '@example.org' AS mailbox, NULL::text AS phone, 'fr' AS language, 'web' AS channel, 'confirmed' AS status, false AS is_test, NULL::bigint AS created_by, NULL::bigint AS intermediary_id, now()::timestamp AS now, 'confirmed' AS event_kind, '{{"slot_id":' || :slot || '}}' AS detail, '{{"case_number":"PGF/' || :n || '","channel":"web","reference":"PGF","service":"' || found.service_code || '"}}' AS data, 'booking.confirmed' AS public_type, 'confirmed' AS mail_kind, '<pgf-' || :client_id || '-' || :n || '@sportello>' AS message_id, 'pending' AS pending FROM found),
{BOOKING_WRITE}"#
    )
}

/// Runs `script` through pgbench, 64 clients, for `seconds`; returns transactions per second.
fn pgbench(url: &str, script: &str, seconds: Duration) -> anyhow::Result<f64> {
    let file = std::env::temp_dir().join(format!("sportello-pgbench-{}.sql", std::process::id()));
    std::fs::write(&file, script)?;
    let output = Command::new("pgbench")
        .args([
            "-n",
            "-c",
            "64",
            "-j",
            "2",
            // Prepared, as diesel prepares sportello's statements once per connection.
            "-M",
            "prepared",
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
