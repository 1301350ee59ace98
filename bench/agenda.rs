//! Agenda benchmark: how long publishing a year of slots takes for one office, and how fast
//! availability answers over a million slot rows.
//!
//!     cargo bench --bench agenda                      # SQLite and PostgreSQL
//!     BENCH_DATABASES=sqlite cargo bench --bench agenda
//!
//! Seeds `BENCH_OFFICES` offices (default 100) configured like a busy prefecture: document
//! delivery (30 min) on three desks and permit collection (15 min) on two, Monday to Friday
//! 08:30–13:00 and 14:00–16:30; publishes a year for each (about 10,500 slots an office), then
//! asks for four weeks of availability at random offices: straight from the store, and over
//! HTTP through the real server. PostgreSQL is the server at SPORTELLO_TEST_POSTGRES_URL
//! (default postgres://postgres@127.0.0.1:5432/postgres); a scratch database is created and
//! dropped.

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use diesel::{Connection, PgConnection, RunQueryDsl};
use secrecy::SecretString;
use sportello::{
    agenda::{self, Mode},
    config::Settings,
    domain::{
        catalogue::TypeCode,
        hours::{IntervalInput, WeeklyHours},
        office::{OfficeCode, Stage},
        slots::{start_of_day, today},
    },
    startup::Application,
    store::{
        Backend, DbConnection, Store, StoreError, calendars, catalogue,
        offices::{self, OfficeDetails},
        services::{self, ServiceSettings},
        slots,
    },
};

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let wanted = std::env::var("BENCH_DATABASES").unwrap_or_else(|_| "sqlite,postgres".into());
    let offices: usize = std::env::var("BENCH_OFFICES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    println!(
        "agenda benchmark, {} offices, {}",
        offices,
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let name = if backend == Backend::Sqlite {
            "sqlite"
        } else {
            "postgres"
        };
        if wanted.split(',').any(|w| w.trim() == name) {
            println!("\n== {name} ==");
            runtime.block_on(run(backend, offices))?;
        }
    }
    Ok(())
}

/// A scratch database, removed afterwards.
enum Scratch {
    Sqlite(tempfile::TempDir),
    Postgres { server: String, name: String },
}

impl Scratch {
    fn create(backend: Backend) -> anyhow::Result<Scratch> {
        Ok(match backend {
            Backend::Sqlite => Scratch::Sqlite(tempfile::tempdir()?),
            Backend::Postgres => {
                let server = std::env::var("SPORTELLO_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let name = format!("sportello_bench_{}", std::process::id());
                let mut admin = PgConnection::establish(&server)?;
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name}")).execute(&mut admin)?;
                diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)?;
                Scratch::Postgres { server, name }
            }
        })
    }

    fn url(&self) -> String {
        match self {
            Scratch::Sqlite(dir) => format!("sqlite://{}/bench.db", dir.path().display()),
            Scratch::Postgres { server, name } => {
                let base = server
                    .rsplit_once('/')
                    .map_or(server.as_str(), |(base, _)| base);
                format!("{base}/{name}")
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Scratch::Postgres { server, name } = self
            && let Ok(mut admin) = PgConnection::establish(server)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

fn hours() -> WeeklyHours {
    let input: Vec<IntervalInput> = (1..=5)
        .flat_map(|weekday| {
            [("08:30", "13:00"), ("14:00", "16:30")].map(|(opens, closes)| IntervalInput {
                weekday,
                opens: opens.into(),
                closes: closes.into(),
            })
        })
        .collect();
    WeeklyHours::parse(&input).expect("valid hours")
}

/// One office with two calendars, live, its code `B001`…; returns its id.
fn configure_office(conn: &mut DbConnection, index: usize) -> Result<i64, StoreError> {
    let now = Utc::now();
    let code = OfficeCode::parse(&format!("B{index:03}")).expect("code");
    let details = OfficeDetails {
        name: format!("Sportello Unico {index}"),
        address: "Piazza del Viminale 1".into(),
        city: "Roma".into(),
        province: "RM".into(),
        latitude: None,
        longitude: None,
        timezone: chrono_tz::Europe::Rome,
        email: None,
        phone: None,
        languages: vec!["it".into()],
        patron_day: Some(sportello::domain::office::PatronDay::parse("06-29").expect("day")),
    };
    let office = offices::insert(conn, &code, &details, now)?;
    offices::set_stage(conn, office, Stage::Live, now)?;
    let settings = ServiceSettings {
        horizon_days: 400,
        min_notice_hours: 0,
        desk_share_percent: 20,
        ..ServiceSettings::default()
    };
    for (type_code, desks) in [("document_delivery", 3), ("permit_collection", 2)] {
        let appointment_type =
            catalogue::find_by_code(conn, &TypeCode::parse(type_code).expect("code"))?
                .ok_or_else(|| StoreError::Migration(format!("{type_code} missing")))?;
        let service = services::insert(conn, office, appointment_type.id, &settings, now)?;
        let fields = calendars::CalendarFields {
            name: format!("{type_code} desks"),
            desks,
            valid_from: None,
            valid_until: None,
        };
        let calendar = calendars::insert(conn, office, &fields, &[service], now)?;
        calendars::replace_hours(conn, calendar, &hours(), now)?;
    }
    Ok(office)
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.90).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3
    )
}

/// A cheap deterministic sequence of office indexes, so runs compare.
fn pick(i: usize, offices: usize) -> usize {
    (i.wrapping_mul(2_654_435_761) >> 7) % offices + 1
}

async fn run(backend: Backend, office_count: usize) -> anyhow::Result<()> {
    let scratch = Scratch::create(backend)?;
    let mut settings = Settings::defaults()?;
    settings.database.url = SecretString::from(scratch.url());
    settings.database.pool_size = 16;
    settings.server.port = 0;
    settings.server.workers = 2;
    settings.log.level = "warn".into();
    let app = Application::build(&settings).await?;
    let port = app.port();
    let store: Store = app.store().clone();
    let server = app.handle();
    tokio::spawn(app.run_until_stopped());

    // 1. Publishing a year for one office: first time, then again (nothing to change).
    let first_day = today(chrono_tz::Europe::Rome, Utc::now());
    let last_day = first_day + Days::new(364);
    let mut publish_times = Vec::new();
    let mut republish_times = Vec::new();
    let mut total_slots = 0usize;
    let seeding = Instant::now();
    for index in 1..=office_count {
        let (created, first, again) = store
            .write(move |conn| -> Result<_, StoreError> {
                configure_office(conn, index)?;
                let office = offices::find_by_code(
                    conn,
                    &OfficeCode::parse(&format!("B{index:03}")).expect("code"),
                )?
                .ok_or_else(|| StoreError::Migration("office missing".into()))?;
                let started = Instant::now();
                let report = agenda::publish(
                    conn,
                    &office,
                    first_day,
                    last_day,
                    Mode::Publish,
                    Utc::now(),
                )
                .map_err(|e| StoreError::Migration(e.to_string()))?;
                let first = started.elapsed();
                let started = Instant::now();
                let again = agenda::publish(
                    conn,
                    &office,
                    first_day,
                    last_day,
                    Mode::Publish,
                    Utc::now(),
                )
                .map_err(|e| StoreError::Migration(e.to_string()))?;
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
            .read(|conn| -> Result<(), StoreError> {
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
            .read(move |conn| -> Result<_, StoreError> {
                let office = offices::find_by_code(
                    conn,
                    &OfficeCode::parse(&format!("B{index:03}")).expect("code"),
                )?
                .ok_or_else(|| StoreError::Migration("office missing".into()))?;
                let service = services::list(conn, office.id)?.remove(0);
                let started = Instant::now();
                let found = slots::web_bookable(conn, service.id, window.0, window.1)?;
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
            .read(move |conn| -> Result<Vec<String>, StoreError> {
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
