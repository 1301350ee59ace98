//! Mass rescheduling benchmark: an unexpected closure over the days holding 10,000 bookings,
//! moved to the earliest free seats (or cancelled where none is left), as staff ask for it.
//!
//!     cargo bench --bench closures                    # SQLite and PostgreSQL
//!     BENCH_DATABASES=postgres BENCH_BOOKINGS=2000 cargo bench --bench closures
//!
//! One live office (see `common::configure_office`) with a year published from tomorrow; the
//! web's seats filled in time order with `BENCH_BOOKINGS` bookings (default 10,000) straight in
//! the store. Then, through the use cases the API calls: the dry run (timed), the closure with
//! `affected: move` queued, and the job run by the server's own worker, polled as staff poll it
//! (progress shown as it grows on PostgreSQL). Checked afterwards: every booking moved or
//! cancelled, one mail queued for each, seats equal to bookings.

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use chrono::{Days, Utc};
use diesel::prelude::*;
use sportello::{
    domain::{
        days::today,
        email::EmailAddress,
        ids::ClosureJobId,
        rescheduling::{Affected, JobStatus},
        slots::ClosureRule,
        staff::{Actor, Role},
    },
    store::{
        Backend,
        schema::{bookings, mail_outbox, slots},
        staff::{self, NewStaff},
    },
    use_cases::closures::{self, ClosureAnswer, NewClosure},
};

use common::{Scratch, configure_office, fill_web_seats, office_code};

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let count = common::env_number("BENCH_BOOKINGS", 10_000);
    println!(
        "mass rescheduling benchmark, {count} bookings, {}",
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    for (backend, name) in common::backends() {
        println!("\n== {name} ==");
        runtime.block_on(run(backend, count))?;
    }
    Ok(())
}

async fn run(backend: Backend, count: usize) -> anyhow::Result<()> {
    let scratch = Scratch::create(backend, "closures")?;
    let served = common::serve(&scratch, 16).await?;
    let store = served.store.clone();
    let zone = chrono_tz::Europe::Rome;
    let first = today(zone, Utc::now()) + Days::new(1);

    // A year published, the web's seats booked in time order until `count` are taken.
    let started = Instant::now();
    let (actor, last) = store
        .write(move |conn| -> anyhow::Result<_> {
            let office_id = configure_office(conn, 1)?;
            let office = common::office(conn, 1)?;
            common::publish(conn, &office, first, first + Days::new(364))?;
            let email = EmailAddress::parse("bench-manager@example.org")?;
            let new = NewStaff {
                email: &email,
                password_hash: "not-a-password",
                role: Role::Manager,
                office_id: Some(office_id),
            };
            let actor = Actor {
                staff_id: staff::insert(conn, new, Utc::now())?,
                role: Role::Manager,
                office: Some(office_code(1)),
            };
            let last = fill_web_seats(conn, office_id, (first, first + Days::new(364)), count, 0)?;
            Ok((actor, last))
        })
        .await?;
    println!(
        "seeded: a year of slots, {count} bookings on {} days, in {:.1} s",
        (last - first).num_days() + 1,
        started.elapsed().as_secs_f64()
    );
    let rule = ClosureRule {
        starts_on: first,
        ends_on: last,
        window: None,
    };
    let closure = |dry_run| NewClosure {
        rule: rule.clone(),
        reason: "Inondazione".into(),
        affected: Affected::Move,
        dry_run,
    };

    // The dry run: the plan, nothing changed.
    let started = Instant::now();
    let planned = closures::create(
        &store,
        actor.clone(),
        office_code(1),
        closure(true),
        Utc::now(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ClosureAnswer::Planned(plan) = planned else {
        anyhow::bail!("the dry run did something");
    };
    println!(
        "dry run: {} bookings planned in {:.2} s ({} to move, {} to cancel: no free seat left)",
        plan.bookings.len(),
        started.elapsed().as_secs_f64(),
        plan.moved,
        plan.cancelled
    );

    // The real run, queued and polled as staff poll it; the server's worker runs it.
    let started = Instant::now();
    let queued = closures::create(
        &store,
        actor.clone(),
        office_code(1),
        closure(false),
        Utc::now(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ClosureAnswer::Queued(job) = queued else {
        anyhow::bail!("the closure was not queued");
    };
    let job = poll(&store, &actor, job.id, started).await?;
    let seconds = started.elapsed().as_secs_f64();
    let ran = job
        .finished_at
        .zip(job.started_at)
        .map_or(0.0, |(end, start)| {
            (end - start).num_milliseconds() as f64 / 1000.0
        });
    println!(
        "job {:?}: {} moved, {} cancelled; {seconds:.2} s from asking to done ({ran:.2} s running, \
         {:.0} bookings/s)",
        job.status,
        job.moved,
        job.cancelled,
        count as f64 / ran.max(0.001)
    );
    anyhow::ensure!(
        job.status == JobStatus::Done,
        "the job failed: {:?}",
        job.error
    );
    anyhow::ensure!(
        (job.moved + job.cancelled) as usize == count,
        "every booking moved or cancelled"
    );
    anyhow::ensure!(
        job.moved as usize == plan.moved,
        "the dry run said what happened"
    );

    // One mail each, seats equal to bookings.
    let (mails, booked_seats, holding) = store
        .read(|conn| -> anyhow::Result<(i64, i64, i64)> {
            let mails = mail_outbox::table
                .filter(mail_outbox::kind.eq_any(["rescheduled", "cancelled_by_office"]))
                .count()
                .get_result(conn)?;
            let seats: Vec<(i32, i32)> = slots::table
                .select((slots::booked_web, slots::booked_desk))
                .load(conn)?;
            let seats = seats.iter().map(|(web, desk)| i64::from(web + desk)).sum();
            let holding = bookings::table
                .filter(bookings::status.ne("cancelled"))
                .count()
                .get_result(conn)?;
            Ok((mails, seats, holding))
        })
        .await?;
    println!(
        "checked: {mails} mails queued (one a booking), {booked_seats} seats taken = {holding} bookings holding one"
    );
    anyhow::ensure!(mails as usize == count && booked_seats == holding);
    served.handle.stop(false).await;
    Ok(())
}

/// Polls the job every 200 ms until it is done or failed, printing its progress as it changes.
async fn poll(
    store: &sportello::store::Store,
    actor: &Actor,
    id: ClosureJobId,
    started: Instant,
) -> anyhow::Result<closures::jobs::ClosureJobView> {
    let mut shown = None;
    loop {
        let job = closures::job(store, actor.clone(), office_code(1), id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let progress = (job.status, job.processed);
        if shown != Some(progress) {
            println!(
                "  {:>6.2} s: {:?}, {} of {}",
                started.elapsed().as_secs_f64(),
                job.status,
                job.processed,
                job.total.map_or("?".into(), |total| total.to_string())
            );
            shown = Some(progress);
        }
        if matches!(job.status, JobStatus::Done | JobStatus::Failed) {
            return Ok(job);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
