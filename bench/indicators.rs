//! National report benchmark: every office compared over a year of a national deployment.
//!
//!     cargo bench --bench indicators                  # SQLite and PostgreSQL
//!     BENCH_DATABASES=postgres cargo bench --bench indicators
//!     BENCH_OFFICES=10 BENCH_BOOKINGS=100000 cargo bench --bench indicators
//!
//! `BENCH_OFFICES` (100) live offices (see `common::configure_office`), each with a year of
//! slots published from today and an equal share of `BENCH_BOOKINGS` (1,000,000) bookings
//! filling its web seats in time order, straight in the store. Each booking has its
//! confirmation mail (sent) and its `confirmed` event; a tenth are cancelled (half by the
//! applicant, half by the office), a twentieth missed, three fifths attended, a twentieth moved
//! (an event each). On PostgreSQL the tables are then analysed, as autovacuum would.
//!
//! Then, as an administrator over HTTP: `GET /api/v1/indicators` for the whole year in JSON,
//! CSV and HTML, and one office's `GET /api/v1/offices/{code}/indicators` (`BENCH_RUNS`, 5,
//! each): p50 and max. The target is under 2 s for the national report on PostgreSQL.
//! `BENCH_KEEP_DATABASE=1` keeps the scratch database (and prints its URL) to read the plans.

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use diesel::prelude::*;
use sportello::{
    auth::password,
    domain::{
        days::today,
        staff::{EmailAddress, NewPassword, Role},
    },
    store::{
        Backend, DbConnection,
        schema::{bookings, events, mail_outbox, slots},
        staff,
    },
};

use common::{Scratch, configure_office, fill_web_seats, office_code};

const PASSWORD: &str = "a long bench password";

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let offices = common::env_number("BENCH_OFFICES", 100);
    let count = common::env_number("BENCH_BOOKINGS", 1_000_000);
    let runs = common::env_number("BENCH_RUNS", 5);
    println!(
        "national report benchmark, {offices} offices, {count} bookings, {}",
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    for (backend, name) in common::backends() {
        println!("\n== {name} ==");
        runtime.block_on(run(backend, offices, count, runs))?;
    }
    Ok(())
}

async fn run(backend: Backend, offices: usize, count: usize, runs: usize) -> anyhow::Result<()> {
    let scratch = Scratch::create(backend, "indicators")?;
    let served = common::serve(&scratch, 8).await?;
    let store = served.store.clone();
    let first = today(chrono_tz::Europe::Rome, Utc::now());
    let last = first + Days::new(365);

    let started = Instant::now();
    let per_office = count / offices;
    for index in 1..=offices {
        store
            .write(move |conn| seed_office(conn, index, per_office, first, last))
            .await?;
        if index % 10 == 0 {
            println!(
                "  seeded {index} offices in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let hash = password::hash(&NewPassword::parse(PASSWORD)?)?;
    let totals = store
        .write(move |conn| -> anyhow::Result<[i64; 4]> {
            let email = EmailAddress::parse("bench-admin@interno.it")?;
            let admin = staff::NewStaff {
                email: &email,
                password_hash: &hash,
                role: Role::Admin,
                office_id: None,
            };
            staff::insert(conn, admin, Utc::now())?;
            if let DbConnection::Postgres(pg) = conn {
                diesel::sql_query("ANALYZE").execute(pg)?;
            }
            Ok([
                bookings::table.count().get_result(conn)?,
                slots::table.count().get_result(conn)?,
                mail_outbox::table.count().get_result(conn)?,
                events::table.count().get_result(conn)?,
            ])
        })
        .await?;
    println!(
        "seeded in {:.0} s: {} bookings, {} slots, {} mails, {} events",
        started.elapsed().as_secs_f64(),
        totals[0],
        totals[1],
        totals[2],
        totals[3]
    );

    let base = format!("http://127.0.0.1:{}", served.port);
    let client = reqwest::Client::new();
    let login = serde_json::json!({"email": "bench-admin@interno.it", "password": PASSWORD});
    let token: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&login)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = token["access_token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no access token: {token}"))?
        .to_owned();
    let period = format!("from={first}&to={last}");
    let middle = office_code(offices.div_ceil(2));
    let reports = [
        ("national, json", format!("/api/v1/indicators?{period}")),
        (
            "national, csv",
            format!("/api/v1/indicators?{period}&format=csv"),
        ),
        (
            "national, html",
            format!("/api/v1/indicators?{period}&format=html"),
        ),
        (
            "one office, json",
            format!("/api/v1/offices/{middle}/indicators?{period}"),
        ),
    ];
    for (what, path) in reports {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..runs {
            let asked = Instant::now();
            let response = client
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await?
                .error_for_status()?;
            size = response.bytes().await?.len();
            times.push(asked.elapsed());
        }
        times.sort();
        println!(
            "{what:<18} p50 {:>7.0} ms, max {:>7.0} ms ({runs} runs, {:.0} KB)",
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1]),
            size as f64 / 1024.0
        );
    }
    served.handle.stop(true).await;
    if std::env::var_os("BENCH_KEEP_DATABASE").is_some() {
        println!("kept for a closer look: {}", scratch.url());
        std::mem::forget(scratch);
    }
    Ok(())
}

fn ms(time: Duration) -> f64 {
    time.as_secs_f64() * 1e3
}

/// Office `index`: configured, a year published, `count` bookings in its web seats in time
/// order, then their outcomes, mails and events.
fn seed_office(
    conn: &mut DbConnection,
    index: usize,
    count: usize,
    first: chrono::NaiveDate,
    last: chrono::NaiveDate,
) -> anyhow::Result<()> {
    let office_id = configure_office(conn, index)?;
    let office = common::office(conn, index)?;
    common::publish(conn, &office, first, last)?;
    fill_web_seats(conn, office_id, (first, last), count, index * 10_000_000)?;
    // Outcomes, mails and events in a few set-based statements (the same SQL on both).
    let office = office_id.get();
    for statement in [
        format!(
            "UPDATE bookings SET status = 'cancelled', cancelled_at = created_at, \
             cancelled_by = CASE WHEN id % 20 = 0 THEN 'applicant' ELSE 'office' END \
             WHERE office_id = {office} AND id % 10 = 0"
        ),
        format!(
            "UPDATE bookings SET status = 'no_show' WHERE office_id = {office} AND id % 20 = 1"
        ),
        format!(
            "UPDATE bookings SET status = 'attended' WHERE office_id = {office} \
             AND id % 10 BETWEEN 2 AND 7"
        ),
        format!(
            "INSERT INTO mail_outbox (office_id, booking_id, kind, sequence, recipient, \
             message_id, status, attempts, next_attempt_at, sent_at, created_at, updated_at) \
             SELECT office_id, id, 'confirmed', 1, email, 'bench-' || id || '@sportello.invalid', \
             'sent', 1, created_at, created_at, created_at, created_at \
             FROM bookings WHERE office_id = {office}"
        ),
        format!(
            "INSERT INTO events (office_id, booking_id, kind, created_at, tx_id) \
             SELECT office_id, id, 'confirmed', created_at, id FROM bookings \
             WHERE office_id = {office}"
        ),
        format!(
            "INSERT INTO events (office_id, booking_id, kind, created_at, tx_id) \
             SELECT office_id, id, 'rescheduled', created_at, id FROM bookings \
             WHERE office_id = {office} AND id % 20 = 3"
        ),
    ] {
        diesel::sql_query(statement).execute(conn)?;
    }
    Ok(())
}
