//! Floods from one machine against the release binary, per database:
//!
//! 1. logins: `BENCH_LOGINS` (default 500) staff log in at the same instant, each with the right
//!    password. Every login is one Argon2 check (19 MiB): reported are the server's memory
//!    before, at its peak (VmHWM) and after, the answers by status, and how long it took. The
//!    request rate limits are off here, so that the flood reaches the password checks.
//! 2. a booking bot: `BENCH_BOOKINGS_BURST` (default 1,000) booking requests at once from one
//!    address for one slot of three seats, with the default rate limits: the answers by status.
//!
//! Run:
//!
//!     cargo bench --bench floods
//!     BENCH_DATABASES=postgres cargo bench --bench floods

#[path = "common/mod.rs"]
mod common;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::Utc;
use sportello::{
    auth::password,
    domain::staff::{EmailAddress, NewPassword, Role},
    store::{Store, staff},
};

use common::{Scratch, Server};

const PASSWORD: &str = "a passphrase long enough for staff";

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let logins = common::env_number("BENCH_LOGINS", 500);
    let bookings = common::env_number("BENCH_BOOKINGS_BURST", 1_000);
    for (backend, name) in common::backends() {
        let logins = runtime.block_on(login_flood(backend, logins))?;
        let bookings = runtime.block_on(booking_bot(backend, bookings))?;
        println!("== {name} ==\n{logins}{bookings}");
    }
    Ok(())
}

/// `attempts` booking requests at once from this machine for one slot with three seats, against
/// the default rate limits.
async fn booking_bot(
    backend: sportello::store::Backend,
    attempts: usize,
) -> anyhow::Result<String> {
    let scratch = Scratch::create(backend, "bot")?;
    let settings = common::settings(&scratch, 8)?;
    let store = Store::open(&settings.database)?;
    store.migrate().await?;
    let (code, slot) = store
        .write(|conn| -> anyhow::Result<_> {
            common::configure_office(conn, 1)?;
            let office = common::office(conn, 1)?;
            let day = sportello::domain::days::today(chrono_tz::Europe::Rome, Utc::now())
                + chrono::Days::new(7);
            common::publish(conn, &office, day, day + chrono::Days::new(7))?;
            let service = sportello::store::services::list(conn, office.id)?.remove(0);
            let slots = sportello::store::slots::web_bookable(
                conn,
                office.id,
                service.id,
                Utc::now(),
                Utc::now() + chrono::Duration::days(30),
            )?;
            let slot = slots.first().context("no slot was published")?;
            Ok((office.code.to_string(), slot.id.get()))
        })
        .await?;
    let server = Server::start(&scratch.url(), &[("APP__RATE_LIMIT__ENABLED", "true")])?;
    let base = format!("http://127.0.0.1:{}", server.port);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(attempts)
        .timeout(Duration::from_secs(120))
        .build()?;
    let started = Instant::now();
    let answers = futures_util::future::join_all((0..attempts).map(|n| {
        let (client, url) = (
            client.clone(),
            format!("{base}/api/v1/offices/{code}/bookings"),
        );
        async move {
            let body = serde_json::json!({
                "slot_id": slot,
                "case_number": format!("BOT/{n}"),
                "full_name": "Bot Applicant",
                "email": format!("bot{n}@example.org"),
                "language": "it",
            });
            match client.post(url).json(&body).send().await {
                Ok(response) => response.status().as_u16(),
                Err(_) => 0,
            }
        }
    }))
    .await;
    let took = started.elapsed();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for status in answers {
        *by_status.entry(status).or_default() += 1;
    }
    Ok(format!(
        "{attempts} booking requests at once from one address for a slot of 3 seats, default \
         limits: answers {by_status:?} in {:.1} s\n",
        took.as_secs_f64()
    ))
}

async fn login_flood(backend: sportello::store::Backend, logins: usize) -> anyhow::Result<String> {
    let scratch = Scratch::create(backend, "logins")?;
    let settings = common::settings(&scratch, 8)?;
    let store = Store::open(&settings.database)?;
    store.migrate().await?;
    seed_staff(&store, logins).await?;

    let extra: Vec<(String, String)> = std::env::var("BENCH_SERVER_ENV")
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect();
    let mut settings: Vec<(&str, &str)> = Vec::new();
    settings.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let server = Server::start(&scratch.url(), &settings)?;
    let base = format!("http://127.0.0.1:{}", server.port);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(logins)
        .timeout(Duration::from_secs(120))
        .build()?;
    // One login first, so that what follows measures the flood, not the first request.
    login(&client, &base, 0).await;
    let before = server.rss_mib();

    let started = Instant::now();
    let answers =
        futures_util::future::join_all((0..logins).map(|n| login(&client, &base, n))).await;
    let took = started.elapsed();
    let threads = server.status_field("Threads:");
    if std::env::var("BENCH_DUMP_MAPS").is_ok() {
        server.dump_largest_mappings();
    }
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for status in answers {
        *by_status.entry(status).or_default() += 1;
    }
    Ok(format!(
        "{logins} concurrent logins in {:.1} s; answers {by_status:?}\n\
         server memory: {before:.0} MiB before, peak {:.0} MiB (VmHWM), {:.0} MiB after; {threads} threads\n",
        took.as_secs_f64(),
        server.peak_rss_mib(),
        server.rss_mib(),
    ))
}

/// Staff accounts `bench{n}@interno.it`, all with the same password (hashed once).
async fn seed_staff(store: &Store, count: usize) -> anyhow::Result<()> {
    let hash = password::hash(&NewPassword::parse(PASSWORD)?)?;
    store
        .write(move |conn| -> anyhow::Result<()> {
            for n in 0..count {
                let email = EmailAddress::parse(&format!("bench{n}@interno.it"))?;
                let new = staff::NewStaff {
                    email: &email,
                    password_hash: &hash,
                    role: Role::Admin,
                    office_id: None,
                };
                staff::insert(conn, new, Utc::now())?;
            }
            Ok(())
        })
        .await
}

/// The status of one login by staff member `n`.
async fn login(client: &reqwest::Client, base: &str, n: usize) -> u16 {
    let body = serde_json::json!({"email": format!("bench{n}@interno.it"), "password": PASSWORD});
    match client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&body)
        .send()
        .await
    {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}
