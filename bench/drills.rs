//! Fault drills: what a crash, a database restart or a mail outage in the middle of a click day
//! does to acknowledged bookings and their mail. One command runs them all:
//!
//!     cargo bench --bench drills
//!     BENCH_DRILLS=1,4 cargo bench --bench drills        # some of them
//!
//! 1. `kill -9` one of three instances behind HAProxy (`deploy/haproxy.cfg`) in the middle of
//!    the click day; clients retry with the same `Idempotency-Key`, which the balancer sends to
//!    another instance;
//! 2. stop PostgreSQL for `BENCH_DATABASE_DOWN_SECONDS` (5) under the same load, then start it:
//!    the instances answer 503 (never 500) meanwhile and recover by themselves. This restarts
//!    the machine's PostgreSQL cluster (`pg_ctlcluster`): run it where nothing else needs it;
//! 3. the SMTP server refuses every message (451) for `BENCH_SMTP_DOWN_SECONDS` (120) while
//!    the click day queues its confirmations, then takes them again;
//! 4. SQLite: `kill -9` the only instance in the middle of the load, then start it again on
//!    the same file.
//!
//! Each drill prints what it did and what it checked: bookings acknowledged to clients, stored,
//! lost (acknowledged but not stored), seats sold twice; mail queued, received at the SMTP
//! server, lost and doubled. Clients book `BENCH_DRILL_SEATS` (1,000) seats with
//! `BENCH_DRILL_ATTEMPTS` (10,000) attempts from 128 clients; each attempt retries (same key)
//! on a connection error, 502 or 503 until it gets an answer. The mail workers' lease is 15 s
//! (default 120 s) so that a killed instance's messages are taken over within the drill, and
//! they retry after 10 s doubling to 60 s (default 30 s to an hour). The report is printed and
//! written to `bench/last-drills.txt`.

#[path = "common/mod.rs"]
mod common;

use std::{
    collections::{BTreeMap, HashSet},
    fmt::Write as _,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{Days, Utc};
use diesel::prelude::*;
use sportello::{
    domain::{days::today, ids::SlotId},
    store::{Backend, Store, schema::bookings},
};

use common::{Scratch, Server, balancer::Balancer, click_day, outbox::Delivered};

const CLIENTS: usize = 128;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let wanted = std::env::var("BENCH_DRILLS").unwrap_or_else(|_| "1,2,3,4".into());
    let wanted: Vec<&str> = wanted.split(',').map(str::trim).collect();
    let mut report = common::report_header("sportello fault drills");
    for (n, drill) in [
        (
            "1",
            kill_an_instance as fn() -> futures_util::future::BoxFuture<'static, _>,
        ),
        ("2", restart_the_database),
        ("3", stop_the_mail_server),
        ("4", kill_the_sqlite_instance),
    ] {
        if wanted.contains(&n) {
            let lines: anyhow::Result<String> = runtime.block_on(drill());
            let lines = lines.unwrap_or_else(|e| format!("drill {n} could not run: {e:#}\n"));
            print!("{lines}");
            report.push_str(&lines);
        }
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/last-drills.txt");
    std::fs::write(path, &report)?;
    println!("(written to bench/last-drills.txt)");
    Ok(())
}

/// A scratch database with the click-day office, an SMTP server and the instances' settings.
struct Stage {
    scratch: Scratch,
    store: Store,
    slot_ids: Vec<SlotId>,
    sink: common::smtp::SmtpSink,
}

impl Stage {
    async fn set(backend: Backend, label: &str) -> anyhow::Result<Stage> {
        let seats = common::env_number("BENCH_DRILL_SEATS", 1_000);
        let scratch = Scratch::create(backend, label)?;
        let store = Store::open(&common::settings(&scratch, 4)?.database)?;
        store.migrate().await?;
        let first = today(chrono_tz::Europe::Rome, Utc::now()) + Days::new(30);
        let slot_ids = store
            .write(move |conn| click_day::configure(conn, seats, first))
            .await?;
        Ok(Stage {
            scratch,
            store,
            slot_ids,
            sink: common::smtp::SmtpSink::start(),
        })
    }

    /// An instance over the scratch database, delivering to the SMTP server; `extra` settings
    /// (such as its port) after these.
    fn instance(&self, extra: &[(&str, &str)]) -> anyhow::Result<Server> {
        let port = self.sink.port.to_string();
        let mut settings = common::outbox::delivering_to(&port);
        settings.extend([
            ("APP__MAIL__LEASE_SECONDS", "15"),
            ("APP__MAIL__RETRY_BASE_SECONDS", "10"),
            ("APP__MAIL__RETRY_MAX_SECONDS", "60"),
        ]);
        settings.extend_from_slice(extra);
        Server::start(&self.scratch.url(), &settings)
    }

    /// Three instances behind the balancer, every one of them up.
    async fn cluster(&self, client: &reqwest::Client) -> anyhow::Result<(Vec<Server>, Balancer)> {
        let servers: Vec<Server> = (0..3)
            .map(|_| self.instance(&[]))
            .collect::<anyhow::Result<_>>()?;
        let balancer = Balancer::start(&servers)?;
        balancer.wait_until_every_instance_is_ready(client).await?;
        Ok((servers, balancer))
    }

    /// Seats on sale in the click day.
    fn seats(&self) -> usize {
        self.slot_ids.len() * 4
    }

    /// Releases the click day's seats to 128 clients at `base`; returns once a quarter of them
    /// are booked, with the bookings acknowledged by then.
    async fn click_day_under_way(
        &self,
        client: reqwest::Client,
        base: String,
    ) -> anyhow::Result<(Arc<Load>, tokio::task::JoinHandle<()>, usize)> {
        click_day::release(&self.store).await?;
        let load = Arc::new(Load::default());
        let base = Arc::new(Mutex::new(base));
        let running = start_load(client, base, self.slot_ids.clone(), load.clone());
        until_acknowledged(&load, self.seats() / 4, &running).await;
        let acknowledged = load.acknowledged_count();
        Ok((load, running, acknowledged))
    }

    /// The drill's report: its title, what it did, then the checks.
    async fn report(&self, title: &str, did: &str, load: &Load) -> anyhow::Result<String> {
        Ok(format!(
            "\n{title}\n   did: {did}\n{}",
            self.checked(load).await?
        ))
    }

    /// The checks every drill ends with, as the report's lines.
    async fn checked(&self, load: &Load) -> anyhow::Result<String> {
        let mut out = String::new();
        let check = click_day::check(&self.store, &self.slot_ids).await?;
        let ids = self.slot_ids.clone();
        let stored: HashSet<String> = self
            .store
            .read(move |conn| -> anyhow::Result<Vec<String>> {
                Ok(bookings::table
                    .filter(bookings::slot_id.eq_any(&ids))
                    .select(bookings::reference)
                    .load(conn)?)
            })
            .await?
            .into_iter()
            .collect();
        let acknowledged = load.acknowledged.lock().unwrap().clone();
        let lost = acknowledged.iter().filter(|r| !stored.contains(*r)).count();
        let unanswered = stored.len() - (acknowledged.len() - lost);
        writeln!(
            out,
            "   bookings: {} acknowledged, {} stored, {lost} lost, {unanswered} stored but never acknowledged; \
             seats sold twice or miscounted: {}; bookings without exactly one confirmation queued: {}",
            acknowledged.len(),
            stored.len(),
            check.oversold,
            check.without_one_confirmation,
        )?;
        out.push_str(&load.answers());
        out.push_str(&Delivered::count(&self.store, &self.sink).await?.line());
        Ok(out)
    }
}

/// What the clients saw.
#[derive(Default)]
struct Load {
    /// References of the bookings answered 201.
    acknowledged: Mutex<Vec<String>>,
    /// Every answer by status, retries included; 0 for a connection error.
    answers: Mutex<BTreeMap<u16, usize>>,
    /// Attempts that still had no answer after their last retry.
    gave_up: AtomicUsize,
}

impl Load {
    fn answers(&self) -> String {
        let answers = self.answers.lock().unwrap();
        let listed: Vec<String> = answers
            .iter()
            .map(|(status, n)| match status {
                0 => format!("connection errors ×{n}"),
                status => format!("{status} ×{n}"),
            })
            .collect();
        format!(
            "   answers (retries included): {}; 500s: {}; attempts given up: {}\n",
            listed.join(", "),
            answers.get(&500).copied().unwrap_or(0),
            self.gave_up.load(Ordering::Relaxed)
        )
    }

    fn acknowledged_count(&self) -> usize {
        self.acknowledged.lock().unwrap().len()
    }
}

/// `BENCH_DRILL_ATTEMPTS` booking attempts from 128 clients at `base` (read on every try: an
/// instance may come back elsewhere), each retried with its `Idempotency-Key` until answered.
fn start_load(
    client: reqwest::Client,
    base: Arc<Mutex<String>>,
    slot_ids: Vec<SlotId>,
    load: Arc<Load>,
) -> tokio::task::JoinHandle<()> {
    let attempts = common::env_number("BENCH_DRILL_ATTEMPTS", 10_000) / CLIENTS;
    let office = common::office_code(click_day::OFFICE).to_string();
    let slot_ids = Arc::new(slot_ids);
    tokio::spawn(async move {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (client, base, office, slot_ids, load) = (
                    client.clone(),
                    base.clone(),
                    office.clone(),
                    slot_ids.clone(),
                    load.clone(),
                );
                tokio::spawn(async move {
                    for i in 0..attempts {
                        let n = c * attempts + i;
                        let slot = slot_ids[common::pick(n * 7 + 3, slot_ids.len()) - 1];
                        let body = serde_json::json!({
                            "slot_id": slot, "case_number": format!("DRILL/{n}"), "full_name": "Amina Diallo",
                            "email": format!("drill{n}@example.org"), "language": "it",
                        });
                        book_until_answered(&client, &base, &office, &body, n, &load).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    })
}

async fn book_until_answered(
    client: &reqwest::Client,
    base: &Mutex<String>,
    office: &str,
    body: &serde_json::Value,
    n: usize,
    load: &Load,
) {
    let key = format!("drill-{n}");
    for _ in 0..600 {
        let url = format!("{}/api/v1/offices/{office}/bookings", base.lock().unwrap());
        let sent = client
            .post(url)
            .header("Idempotency-Key", &key)
            .timeout(Duration::from_secs(30))
            .json(body)
            .send()
            .await;
        let status = match &sent {
            Ok(response) => response.status().as_u16(),
            Err(_) => 0,
        };
        *load.answers.lock().unwrap().entry(status).or_default() += 1;
        match (status, sent) {
            (201, Ok(response)) => {
                if let Ok(booked) = response.json::<serde_json::Value>().await
                    && let Some(reference) = booked["reference"].as_str()
                {
                    load.acknowledged.lock().unwrap().push(reference.to_owned());
                }
                return;
            }
            (0 | 502 | 503 | 504, _) => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => return,
        }
    }
    load.gave_up.fetch_add(1, Ordering::Relaxed);
}

/// Waits until `load` has `count` acknowledged bookings (or is done).
async fn until_acknowledged(load: &Load, count: usize, running: &tokio::task::JoinHandle<()>) {
    while load.acknowledged_count() < count && !running.is_finished() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn kill_an_instance() -> futures_util::future::BoxFuture<'static, anyhow::Result<String>> {
    Box::pin(async {
        let stage = Stage::set(Backend::Postgres, "drill_kill").await?;
        let client = reqwest::Client::new();
        let (mut servers, balancer) = stage.cluster(&client).await?;
        let (load, running, at) = stage.click_day_under_way(client, balancer.base()).await?;
        servers[1].kill();
        running.await?;
        let drained = common::outbox::drained(&stage.store, Duration::from_secs(300)).await?;
        let did = format!(
            "released {} seats to 128 clients; killed instance 2 once {at} bookings were acknowledged; \
             the outbox was empty {:.1} s after the last answer",
            stage.seats(),
            drained.as_secs_f64()
        );
        let title =
            "drill 1: kill -9 one of three instances behind HAProxy in the middle of the click day";
        stage.report(title, &did, &load).await
    })
}

fn restart_the_database() -> futures_util::future::BoxFuture<'static, anyhow::Result<String>> {
    Box::pin(async {
        let down = common::env_number("BENCH_DATABASE_DOWN_SECONDS", 5) as u64;
        let stage = Stage::set(Backend::Postgres, "drill_database").await?;
        let client = reqwest::Client::new();
        let (_servers, balancer) = stage.cluster(&client).await?;
        let (load, running, at) = stage.click_day_under_way(client, balancer.base()).await?;
        let cluster = postgres_cluster()?;
        pg_ctlcluster(&cluster, "stop")?;
        tokio::time::sleep(Duration::from_secs(down)).await;
        pg_ctlcluster(&cluster, "start")?;
        running.await?;
        let drained = common::outbox::drained(&stage.store, Duration::from_secs(300)).await?;
        let did = format!(
            "released {} seats to 128 clients behind HAProxy (3 instances); once {at} bookings were \
             acknowledged, stopped PostgreSQL {cluster} for {down} s; the outbox was empty {:.1} s after the last answer",
            stage.seats(),
            drained.as_secs_f64()
        );
        let title = "drill 2: stop PostgreSQL in the middle of the click day, then start it again";
        stage.report(title, &did, &load).await
    })
}

/// The PostgreSQL cluster on this machine, as `pg_ctlcluster` names it ("15 main").
fn postgres_cluster() -> anyhow::Result<String> {
    let version = std::fs::read_dir("/etc/postgresql")?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .next()
        .ok_or_else(|| anyhow::anyhow!("no PostgreSQL cluster in /etc/postgresql"))?;
    Ok(format!("{version} main"))
}

fn pg_ctlcluster(cluster: &str, action: &str) -> anyhow::Result<()> {
    let (version, name) = cluster.split_once(' ').unwrap_or((cluster, "main"));
    let status = std::process::Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", version, name, action])
        .status()?;
    anyhow::ensure!(status.success(), "pg_ctlcluster {action} failed");
    Ok(())
}

fn stop_the_mail_server() -> futures_util::future::BoxFuture<'static, anyhow::Result<String>> {
    Box::pin(async {
        let down = common::env_number("BENCH_SMTP_DOWN_SECONDS", 120) as u64;
        let stage = Stage::set(Backend::Postgres, "drill_smtp").await?;
        let client = reqwest::Client::new();
        let (_servers, balancer) = stage.cluster(&client).await?;
        stage.sink.refuse_next(usize::MAX);
        let outage = Instant::now();
        let (load, running, _) = stage.click_day_under_way(client, balancer.base()).await?;
        running.await?;
        let booked_in = outage.elapsed();
        tokio::time::sleep(Duration::from_secs(down).saturating_sub(booked_in)).await;
        stage.sink.refuse_next(0);
        let drained = common::outbox::drained(&stage.store, Duration::from_secs(600)).await?;
        let did = format!(
            "the SMTP server answered 451 to every message for {down} s, while 128 clients booked {} seats \
             behind HAProxy (3 instances; {:.1} s); then it took mail again, and the outbox was empty {:.1} s later",
            stage.seats(),
            booked_in.as_secs_f64(),
            drained.as_secs_f64()
        );
        let title = "drill 3: the SMTP server refuses every message for a while under load";
        stage.report(title, &did, &load).await
    })
}

fn kill_the_sqlite_instance() -> futures_util::future::BoxFuture<'static, anyhow::Result<String>> {
    Box::pin(async {
        let stage = Stage::set(Backend::Sqlite, "drill_sqlite").await?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port()
            .to_string();
        let mut server = stage.instance(&[("PORT", port.as_str())])?;
        let base = format!("http://127.0.0.1:{port}");
        let (load, running, at) = stage
            .click_day_under_way(reqwest::Client::new(), base)
            .await?;
        server.kill();
        let killed = Instant::now();
        let _restarted = stage.instance(&[("PORT", port.as_str())])?;
        let back_in = killed.elapsed();
        running.await?;
        let drained = common::outbox::drained(&stage.store, Duration::from_secs(300)).await?;
        let did = format!(
            "released {} seats to 128 clients; killed the instance once {at} bookings were acknowledged; \
             started it again on the same file and port (listening {:.1} s later); the outbox was empty {:.1} s after \
             the last answer",
            stage.seats(),
            back_in.as_secs_f64(),
            drained.as_secs_f64()
        );
        let title = "drill 4: SQLite, kill -9 the only instance under load";
        stage.report(title, &did, &load).await
    })
}
