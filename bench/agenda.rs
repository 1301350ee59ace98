//! Agenda benchmark: how long publishing a year of slots takes for one office, and how fast
//! availability answers over a million slot rows.
//!
//!     cargo bench --bench agenda                      # SQLite and PostgreSQL
//!     BENCH_DATABASES=sqlite cargo bench --bench agenda
//!
//! Seeds `BENCH_OFFICES` offices (default 100) configured like a busy prefecture (see
//! `common::configure_office`), publishes a year for each (about 10,600 slots an office), then
//! asks for four weeks of availability at random offices: straight from the store, and over
//! HTTP through the real server. PostgreSQL is the server at SPORTELLO_TEST_POSTGRES_URL
//! (default postgres://postgres@127.0.0.1:5432/postgres); a scratch database is created and
//! dropped.

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use chrono::{Days, Utc};
use diesel::RunQueryDsl;
use sportello::{
    domain::days::{start_of_day, today},
    store::{Backend, Store, services, slots},
};

use common::{Scratch, configure_office, percentiles, pick};

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let offices = common::env_number("BENCH_OFFICES", 100);
    println!(
        "agenda benchmark, {} offices, {}",
        offices,
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    for (backend, name) in common::backends() {
        println!("\n== {name} ==");
        runtime.block_on(run(backend, offices))?;
    }
    Ok(())
}

async fn run(backend: Backend, office_count: usize) -> anyhow::Result<()> {
    let scratch = Scratch::create(backend, "agenda")?;
    let served = common::serve(&scratch, 16).await?;
    let (port, store, server): (u16, Store, _) = (served.port, served.store, served.handle);

    // 1. Publishing a year for one office: first time, then again (nothing to change).
    let first_day = today(chrono_tz::Europe::Rome, Utc::now());
    let last_day = first_day + Days::new(364);
    let mut publish_times = Vec::new();
    let mut republish_times = Vec::new();
    let mut total_slots = 0usize;
    let seeding = Instant::now();
    for index in 1..=office_count {
        let (created, first, again) = store
            .write(move |conn| -> anyhow::Result<_> {
                configure_office(conn, index)?;
                let office = common::office(conn, index)?;
                let started = Instant::now();
                let report = common::publish(conn, &office, first_day, last_day)?;
                let first = started.elapsed();
                let started = Instant::now();
                let again = common::publish(conn, &office, first_day, last_day)?;
                assert_eq!(again.created, 0);
                Ok((report.created, first, started.elapsed()))
            })
            .await?;
        total_slots += created;
        publish_times.push(first);
        republish_times.push(again);
    }
    println!(
        "seeded {office_count} offices, {total_slots} slots ({} per office-year) in {:.1} s",
        total_slots / office_count,
        seeding.elapsed().as_secs_f64()
    );
    println!(
        "publish a year, one office (first time): {}",
        percentiles(publish_times)
    );
    println!(
        "publish the same year again (no change): {}",
        percentiles(republish_times)
    );

    if backend == Backend::Postgres {
        store
            .read(|conn| -> anyhow::Result<()> {
                diesel::sql_query("ANALYZE").execute(conn)?;
                Ok(())
            })
            .await?;
    }

    // 2. Availability straight from the store: four weeks at a random office.
    let zone = chrono_tz::Europe::Rome;
    let window = (
        start_of_day(zone, first_day + Days::new(7)),
        start_of_day(zone, first_day + Days::new(35)),
    );
    let mut query_times = Vec::new();
    let mut rows = 0;
    for i in 0..2000 {
        let index = pick(i, office_count);
        let (elapsed, found) = store
            .read(move |conn| -> anyhow::Result<_> {
                let office = common::office(conn, index)?;
                let service = services::list(conn, office.id)?.remove(0);
                let started = Instant::now();
                let found = slots::web_bookable(conn, office.id, service.id, window.0, window.1)?;
                Ok((started.elapsed(), found.len()))
            })
            .await?;
        query_times.push(elapsed);
        rows += found;
    }
    println!(
        "availability query (4 weeks, ~{} slots returned): {}",
        rows / 2000,
        percentiles(query_times)
    );

    // 3. The same over HTTP, through the real server, sequentially and with 16 clients.
    let client = reqwest::Client::new();
    let from = first_day + Days::new(7);
    let to = first_day + Days::new(34);
    for clients in [1usize, 16] {
        let per_client = 2000 / clients;
        let started = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let client = client.clone();
                tokio::spawn(async move {
                    let mut times = Vec::new();
                    for i in 0..per_client {
                        let index = pick(c * per_client + i, office_count);
                        let url = format!(
                            "http://127.0.0.1:{port}/api/v1/offices/B{index:03}/availability?service=document_delivery&from={from}&to={to}"
                        );
                        let t = Instant::now();
                        let response = client.get(url).send().await.expect("request");
                        assert!(response.status().is_success());
                        response.bytes().await.expect("body");
                        times.push(t.elapsed());
                    }
                    times
                })
            })
            .collect();
        let mut times = Vec::new();
        for task in tasks {
            times.extend(task.await?);
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "availability over HTTP, {clients} client(s): {:.0} req/s, {}",
            times.len() as f64 / seconds,
            percentiles(times)
        );
    }

    if backend == Backend::Postgres {
        let plan = store
            .read(move |conn| -> anyhow::Result<Vec<String>> {
                #[derive(diesel::QueryableByName)]
                struct Line {
                    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
                    line: String,
                }
                let lines: Vec<Line> = diesel::sql_query(
                    "EXPLAIN SELECT * FROM slots WHERE calendar_id IN \
                     (SELECT calendar_id FROM calendar_services WHERE office_service_id = 1) \
                     AND starts_at >= now() AND starts_at < now() + interval '28 days' AND NOT blocked",
                )
                .load(conn)?;
                Ok(lines.into_iter().map(|l| l.line).collect())
            })
            .await?;
        println!("query plan:\n  {}", plan.join("\n  "));
    }
    server.stop(true).await;
    Ok(())
}
