//! A login flood: `BENCH_LOGINS` (default 500) staff log in at the same instant, each with the
//! right password, against the release binary. Every login is one Argon2 check (19 MiB), so this
//! measures what a flood does to the server's memory and how the logins are answered.
//!
//!     cargo bench --bench logins
//!     BENCH_DATABASES=postgres cargo bench --bench logins
//!
//! Reported per database: the server's memory before, its peak during (VmHWM), the answers by
//! status, and how long the flood took. The server runs with its request rate limits off
//! (every login comes from this one machine): the flood reaches the password checks.

#[path = "common/mod.rs"]
mod common;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

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
    for (backend, name) in common::backends() {
        let report = runtime.block_on(flood(backend, logins))?;
        println!("== {name} ==\n{report}");
    }
    Ok(())
}

async fn flood(backend: sportello::store::Backend, logins: usize) -> anyhow::Result<String> {
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
    let mut settings: Vec<(&str, &str)> = vec![("APP__RATE_LIMIT__ENABLED", "false")];
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
