//! Case system benchmark: how fast a file of registered cases is imported (cases/s), the same
//! file again (nothing changes), how fast those cases are invited to book (invitations/s, each
//! with its event and queued mail), and how fast events reach a webhook receiver
//! (deliveries/s).
//!
//!     cargo bench --bench case_system                         # SQLite and PostgreSQL
//!     BENCH_CASES=10000 BENCH_EVENTS=2000 BENCH_DATABASES=postgres cargo bench --bench case_system
//!
//! The import goes through the same reading and use case as `POST …/cases/import` (CSV,
//! `BENCH_CASES` rows, default 50,000). For webhooks, `BENCH_EVENTS` events (default 5,000)
//! are published as booking changes publish them, then one worker posts them to a real HTTP
//! receiver on this machine, which counts what arrives.

#[path = "common/mod.rs"]
mod common;
#[path = "../tests/api/receiver.rs"]
#[allow(dead_code)]
mod receiver;

use std::time::Instant;

use chrono::Utc;
use serde_json::json;
use sportello::{
    domain::{
        booking::{CaseNumber, EventKind},
        cases::VerificationSecret,
        client::ClientAddress,
        email::EmailAddress,
        ids::OfficeId,
        integration::Caller,
        staff::{Actor, Role},
        webhooks::WebhookUrl,
    },
    error::Error,
    store::{
        Backend, Store, StoreError,
        events::NewEvent,
        staff::{self, NewStaff},
    },
    use_cases::{
        bookings::{BookingFailure, GuessLimits, Policy, verify},
        case_files::{self, ImportFormat},
        cases,
        events::publish,
        invitations::{self, InvitationRequest},
        webhooks,
    },
    webhooks::WebhookWorker,
};

use common::{Scratch, configure_office, office_code};

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let cases = common::env_number("BENCH_CASES", 50_000);
    let events = common::env_number("BENCH_EVENTS", 5_000);
    println!(
        "case system benchmark, {cases} cases, {events} events, {}",
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    for (backend, name) in common::backends() {
        println!("\n== {name} ==");
        runtime.block_on(run(backend, cases, events))?;
    }
    Ok(())
}

/// A CSV file of `count` cases, each ready for document delivery.
fn case_file(count: usize) -> Vec<u8> {
    let mut file = String::from("case_number,email,language,verification_secret,ready_for\n");
    for n in 0..count {
        file.push_str(&format!(
            "RM/2026/{n:07},applicant{n}@example.org,fr,K7P3Q9{n:04},document_delivery\n"
        ));
    }
    file.into_bytes()
}

async fn run(backend: Backend, case_count: usize, event_count: usize) -> anyhow::Result<()> {
    let scratch = Scratch::create(backend, "case_system")?;
    let served = common::serve(&scratch, 16).await?;
    let store = served.store.clone();
    let settings = common::settings(&scratch, 16)?;
    let (office, admin) = store
        .write(move |conn| -> anyhow::Result<(OfficeId, Actor)> {
            let office = configure_office(conn, 1)?;
            let email = EmailAddress::parse("bench-admin@example.org")?;
            let new = NewStaff {
                email: &email,
                password_hash: "not-a-password",
                role: Role::Admin,
                office_id: None,
            };
            let staff_id = staff::insert(conn, new, Utc::now())?;
            let actor = Actor {
                staff_id,
                role: Role::Admin,
                office: None,
            };
            Ok((office, actor))
        })
        .await?;
    let key = sportello::auth::secret::VerificationKey::derive(&settings.auth.jwt_secret);

    // Import, then the same file again.
    let file = case_file(case_count);
    for label in ["import", "same file again"] {
        let started = Instant::now();
        let rows = case_files::read_import(ImportFormat::Csv, &file)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let caller = Caller::Staff(admin.clone());
        let report = cases::import(&store, &key, caller, office_code(1), rows, Utc::now())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{label}: {case_count} cases in {seconds:.2} s = {:.0} cases/s ({} created, {} updated, {} unchanged, {} refused)",
            case_count as f64 / seconds,
            report.created,
            report.updated,
            report.unchanged,
            report.failed.len(),
        );
    }

    // Invitations to every imported case, in batches of the most one request takes, then the
    // same batches again (every case has its open invitation: nothing is sent twice).
    let policy = Policy::from_settings(&settings);
    let deadline = (Utc::now() + chrono::Duration::days(30))
        .date_naive()
        .to_string();
    for label in ["invite", "same invitations again"] {
        let started = Instant::now();
        let (mut invited, mut open) = (0, 0);
        for batch in (0..case_count)
            .collect::<Vec<_>>()
            .chunks(invitations::MOST_PER_BATCH)
        {
            let items = batch
                .iter()
                .map(|n| {
                    InvitationRequest {
                        case_number: format!("RM/2026/{n:07}"),
                        service: "document_delivery".into(),
                        deadline: deadline.clone(),
                        email: None,
                        language: None,
                        full_name: None,
                        proposed_slot_id: None,
                    }
                    .parse()
                })
                .collect();
            let caller = Caller::Staff(admin.clone());
            let report = invitations::invite_many(
                &store,
                &policy,
                caller,
                office_code(1),
                items,
                Utc::now(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            anyhow::ensure!(
                report.failed.is_empty(),
                "invitations refused: {:?}",
                report.failed
            );
            (invited, open) = (invited + report.invited, open + report.already_open);
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{label}: {case_count} invitations in {seconds:.2} s = {:.0} invitations/s ({invited} sent, {open} already open)",
            case_count as f64 / seconds,
        );
    }

    // A wrong code for a registered case and any code for an unknown one: the same work, the
    // same answer. Median time of each, interleaved, with the throttle out of the way.
    let mut policy = Policy::from_settings(&settings);
    policy.cooldown = chrono::Duration::zero();
    policy.case_key = key.clone();
    policy.guesses = GuessLimits {
        per_case: i64::MAX,
        per_client: i64::MAX,
        window: chrono::Duration::hours(1),
    };
    let from = ClientAddress::new(std::net::Ipv4Addr::LOCALHOST.into());
    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    for n in 0..400 {
        let (case, times) = match n % 2 {
            0 => ("RM/2026/0000001", &mut wrong),
            _ => ("RM/2026/9999999", &mut unknown),
        };
        let (case, secret) = (
            CaseNumber::parse(case)?,
            VerificationSecret::parse("NOT-IT")?,
        );
        let started = Instant::now();
        let answer =
            verify::prove_case(&store, &policy, office, case, secret, from, Utc::now()).await;
        times.push(started.elapsed());
        anyhow::ensure!(
            matches!(&answer, Err(Error::Feature(BookingFailure::Refused(r))) if r.code() == "case_not_verified"),
            "a wrong guess was not refused alike"
        );
    }
    println!(
        "a wrong code for a registered case: {}\nany code for an unknown case:      {}",
        common::percentiles(wrong),
        common::percentiles(unknown)
    );

    // Webhooks: a receiver, a subscription, events published, one worker posting them.
    let receiver = receiver::Receiver::start();
    let url = WebhookUrl::parse(&receiver.url)?;
    let caller = Caller::Staff(admin.clone());
    webhooks::subscribe(
        &store,
        caller,
        office_code(1),
        (url, Vec::new()),
        Utc::now(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    for chunk in 0..event_count.div_ceil(1000) {
        let size = (event_count - chunk * 1000).min(1000);
        store
            .write(move |conn| -> Result<(), StoreError> {
                for n in 0..size {
                    let data = json!({"reference": format!("BENCH{chunk}X{n}")});
                    let event = NewEvent {
                        office_id: office,
                        booking_id: None,
                        kind: EventKind::Confirmed,
                        detail: None,
                        actor_id: None,
                        client_id: None,
                        data: &data,
                    };
                    publish(conn, event, Utc::now())?;
                }
                Ok(())
            })
            .await?;
    }
    let worker = WebhookWorker::new(&settings.webhooks, Store::open(&settings.database)?)?;
    let started = Instant::now();
    let round = worker.deliver_all_due().await?;
    let seconds = started.elapsed().as_secs_f64();
    let received = receiver.accepted().len();
    println!(
        "webhooks, 1 worker ({} in flight): {} delivered in {seconds:.2} s = {:.0} deliveries/s; {received} received, {} retrying, {} failed",
        settings.webhooks.concurrency,
        round.delivered,
        round.delivered as f64 / seconds,
        round.retrying,
        round.failed,
    );
    served.handle.stop(true).await;
    Ok(())
}
