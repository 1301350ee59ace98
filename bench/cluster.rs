//! Three instances behind HAProxy over one PostgreSQL and one SMTP server (SCALING.md, step 2):
//! the click day through the load balancer, then what the database and the mailbox hold.
//!
//!     cargo bench --bench cluster
//!     BENCH_CLICK_CLIENTS=256 BENCH_CLICK_ATTEMPTS=20000 cargo bench --bench cluster
//!
//! It needs `haproxy` (Debian's package) and starts it with `deploy/haproxy.cfg`, the file
//! docker-compose's `lb` service uses. Three release binaries serve one scratch PostgreSQL
//! database, each with its mail worker on, all delivering to one SMTP server in this process.
//! `BENCH_CLICK_ATTEMPTS` (50,000) booking attempts from `BENCH_CLICK_CLIENTS` (512) clients
//! go to the balancer for `BENCH_CLICK_SEATS` (2,000) seats released at one instant. Then,
//! once the outbox is empty, it checks: no seat sold twice, one confirmation queued per
//! booking, and at the SMTP server every booking's confirmation received exactly once (none
//! lost, none doubled). The report is printed and written to `bench/last-cluster.txt`.

#[path = "common/mod.rs"]
mod common;

use std::{fmt::Write as _, time::Duration};

use chrono::{Days, Utc};
use sportello::{
    domain::days::today,
    store::{Backend, Store},
};

use common::{Scratch, Server, balancer::Balancer, click_day, outbox::Delivered};

const INSTANCES: usize = 3;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run())?;
    print!("{report}");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/last-cluster.txt");
    std::fs::write(path, &report)?;
    println!("(written to bench/last-cluster.txt)");
    Ok(())
}

async fn run() -> anyhow::Result<String> {
    let clients = common::env_number("BENCH_CLICK_CLIENTS", 512);
    let seats = common::env_number("BENCH_CLICK_SEATS", 2_000);
    let mut out = String::new();
    out.push_str(&common::report_header("sportello cluster report"));
    writeln!(
        out,
        "setup:   {INSTANCES} instances behind HAProxy (deploy/haproxy.cfg), one PostgreSQL, one SMTP server"
    )?;

    let scratch = Scratch::create(Backend::Postgres, "cluster")?;
    let settings = common::settings(&scratch, 4)?;
    let store = Store::open(&settings.database)?;
    store.migrate().await?;
    let first = today(chrono_tz::Europe::Rome, Utc::now()) + Days::new(30);
    let slot_ids = store
        .write(move |conn| click_day::configure(conn, seats, first))
        .await?;

    let sink = common::smtp::SmtpSink::start();
    let sink_port = sink.port.to_string();
    let mail = common::outbox::delivering_to(&sink_port);
    let servers: Vec<Server> = (0..INSTANCES)
        .map(|_| Server::start(&scratch.url(), &mail))
        .collect::<anyhow::Result<_>>()?;
    let balancer = Balancer::start(&servers)?;
    let base = balancer.base();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    balancer.wait_until_every_instance_is_ready(&client).await?;

    let label = format!("click day through the balancer ({INSTANCES} instances)");
    out.push_str(
        &click_day::run(
            &store,
            &client,
            &base,
            &slot_ids,
            click_day::Crowd::bookings_only(clients, first),
            &label,
        )
        .await?,
    );

    let marked_down = balancer.instances_marked_down();
    writeln!(
        out,
        "   the balancer's health checks took an instance out {} times{}",
        marked_down.len(),
        marked_down
            .iter()
            .map(|line| format!("\n      {line}"))
            .collect::<String>()
    )?;

    // Every instance's mailer shares the outbox; wait until nothing is left to send.
    let drained = common::outbox::drained(&store, Duration::from_secs(300)).await?;
    writeln!(
        out,
        "   the outbox was empty {:.1} s after the last answer",
        drained.as_secs_f64()
    )?;
    out.push_str(&Delivered::count(&store, &sink).await?.line());
    let peaks: Vec<String> = servers
        .iter()
        .map(|s| format!("{:.0}", s.peak_rss_mib()))
        .collect();
    writeln!(out, "   peak RSS per instance: {} MiB", peaks.join(" / "))?;
    drop(balancer);
    Ok(out)
}
