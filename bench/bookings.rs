//! Booking benchmark: bookings per second through HTTP, with 16 and 64 concurrent clients,
//! each booking distinct slots (no two clients fight for a seat: this measures the booking
//! path, not contention).
//!
//!     cargo bench --bench bookings                          # SQLite and PostgreSQL
//!     BENCH_DATABASES=postgres cargo bench --bench bookings
//!
//! Seeds `BENCH_OFFICES` offices (default 20, ≈212,000 slots) and sends `BENCH_BOOKINGS`
//! booking requests (default 20,000) per concurrency level through the real server, then
//! checks that seats taken equal bookings made.

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use diesel::prelude::*;
use sportello::{
    domain::{
        days::{start_of_day, today},
        ids::SlotId,
    },
    store::{
        Backend,
        schema::{bookings, slots},
        services,
    },
};

use common::{Scratch, configure_office, percentiles};

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let offices = common::env_number("BENCH_OFFICES", 20);
    let requests = common::env_number("BENCH_BOOKINGS", 20_000);
    println!(
        "booking benchmark, {offices} offices, {requests} bookings per level, {}",
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    for (backend, name) in common::backends() {
        println!("\n== {name} ==");
        runtime.block_on(run(backend, offices, requests))?;
    }
    Ok(())
}

async fn run(backend: Backend, office_count: usize, requests: usize) -> anyhow::Result<()> {
    let scratch = Scratch::create(backend, "bookings")?;
    let served = common::serve(&scratch, 16).await?;
    let (port, store) = (served.port, served.store.clone());

    let zone = chrono_tz::Europe::Rome;
    let first_day = today(zone, Utc::now()) + Days::new(1);
    let last_day = first_day + Days::new(364);
    // Every office's document-delivery slots, each with its office's code.
    let mut targets: Vec<(SlotId, String)> = Vec::new();
    for index in 1..=office_count {
        let found = store
            .write(move |conn| -> anyhow::Result<Vec<(SlotId, String)>> {
                configure_office(conn, index)?;
                let office = common::office(conn, index)?;
                common::publish(conn, &office, first_day, last_day)?;
                let service = services::list(conn, office.id)?.remove(0);
                let from = start_of_day(zone, first_day);
                let to = start_of_day(zone, last_day);
                let slots =
                    sportello::store::slots::web_bookable(conn, office.id, service.id, from, to)?;
                Ok(slots
                    .into_iter()
                    .map(|slot| (slot.id, office.code.to_string()))
                    .collect())
            })
            .await?;
        targets.extend(found);
    }
    // Interleave offices so that concurrent clients spread over them.
    targets.sort_by_key(|(id, _)| common::pick(id.get() as usize, usize::MAX / 4));
    println!(
        "seeded {office_count} offices, {} bookable slots",
        targets.len()
    );
    if backend == Backend::Postgres {
        store
            .read(|conn| -> anyhow::Result<()> {
                diesel::sql_query("ANALYZE").execute(conn)?;
                Ok(())
            })
            .await?;
    }

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(128)
        .build()?;
    let mut next_slot = 0usize;
    for clients in [16usize, 64] {
        let per_client = requests / clients;
        let batch: Vec<(SlotId, String)> = targets
            .iter()
            .skip(next_slot)
            .take(per_client * clients)
            .cloned()
            .collect();
        next_slot += batch.len();
        let started = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let client = client.clone();
                let mine: Vec<(SlotId, String)> =
                    batch.iter().skip(c).step_by(clients).cloned().collect();
                tokio::spawn(async move {
                    let mut times = Vec::with_capacity(mine.len());
                    let mut failures = 0usize;
                    for (i, (slot_id, office)) in mine.into_iter().enumerate() {
                        let body = serde_json::json!({
                            "slot_id": slot_id,
                            "case_number": format!("BENCH/{clients}/{c}/{i}"),
                            "full_name": "Amina Diallo",
                            "email": format!("bench.{clients}.{c}.{i}@example.org"),
                            "language": "it",
                        });
                        let t = Instant::now();
                        let response = client
                            .post(format!(
                                "http://127.0.0.1:{port}/api/v1/offices/{office}/bookings"
                            ))
                            .json(&body)
                            .send()
                            .await;
                        let ok = match response {
                            Ok(response) => {
                                let ok = response.status().as_u16() == 201;
                                let _ = response.bytes().await;
                                ok
                            }
                            Err(_) => false,
                        };
                        times.push(t.elapsed());
                        if !ok {
                            failures += 1;
                        }
                    }
                    (times, failures)
                })
            })
            .collect();
        let mut times: Vec<Duration> = Vec::new();
        let mut failures = 0;
        for task in tasks {
            let (t, f) = task.await?;
            times.extend(t);
            failures += f;
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{clients} clients: {} bookings in {seconds:.1} s = {:.0} bookings/s, {} not booked; {}",
            times.len() - failures,
            (times.len() - failures) as f64 / seconds,
            failures,
            percentiles(times)
        );
    }

    let (booked, seats) = store
        .read(|conn| -> anyhow::Result<(i64, i64)> {
            let booked: i64 = bookings::table.count().get_result(conn)?;
            let seats: Option<i64> = slots::table
                .select(diesel::dsl::sum(slots::booked_web + slots::booked_desk))
                .first::<Option<i64>>(conn)
                .or_else(|_| Ok::<_, diesel::result::Error>(None))?;
            Ok((booked, seats.unwrap_or(0)))
        })
        .await?;
    println!(
        "check: {booked} bookings, {seats} seats taken{}",
        if booked == seats {
            " (equal)"
        } else {
            " (MISMATCH)"
        }
    );
    served.handle.stop(true).await;
    Ok(())
}
