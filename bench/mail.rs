//! Mail benchmark: messages per second through the outbox worker to a local SMTP server, with
//! one worker and with two sharing the outbox.
//!
//!     cargo bench --bench mail                         # SQLite and PostgreSQL
//!     BENCH_MESSAGES=2000 BENCH_DATABASES=postgres cargo bench --bench mail
//!
//! Books `BENCH_MESSAGES` visits (default 5,000) through the booking procedure, so each queues
//! its confirmation, then times the worker delivering them to an in-process SMTP server
//! (mailin-embedded): every message written from its templates, with its calendar attachment.

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use sportello::{
    config::SmtpSecurity,
    domain::{
        booking::CaseNumber,
        client::ClientAddress,
        days::{start_of_day, today},
        email::EmailAddress,
        ids::SlotId,
        language::Language,
    },
    error::Error,
    mail::Mailer,
    store::{Backend, Store, services},
    use_cases::bookings::{
        Booker, BookingFailure, Policy,
        book::{self, NewVisit},
    },
};

use common::{Scratch, configure_office, office_code};

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let messages = common::env_number("BENCH_MESSAGES", 5_000);
    println!(
        "mail benchmark, {messages} messages per run, {}",
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    for (backend, name) in common::backends() {
        println!("\n== {name} ==");
        runtime.block_on(run(backend, messages))?;
    }
    Ok(())
}

/// Books `count` visits, each with an email address, so `count` confirmations are queued.
async fn queue_confirmations(
    store: &Store,
    settings: &sportello::config::Settings,
    run: usize,
    count: usize,
) -> anyhow::Result<()> {
    let mut policy = Policy::from_settings(settings);
    policy.max_active_per_email = i64::MAX;
    policy.cooldown = chrono::Duration::zero();
    let zone = chrono_tz::Europe::Rome;
    let first = today(zone, Utc::now()) + Days::new(1);
    let slots = store
        .read(move |conn| -> anyhow::Result<Vec<SlotId>> {
            let office = common::office(conn, 1)?;
            let service = services::list(conn, office.id)?.remove(0);
            let found = sportello::store::slots::web_bookable(
                conn,
                office.id,
                service.id,
                start_of_day(zone, first),
                start_of_day(zone, first + Days::new(400)),
            )?;
            Ok(found.into_iter().map(|slot| slot.id).collect())
        })
        .await?;
    for n in 0..count {
        let visit = NewVisit {
            slot_id: slots[(run * count + n) % slots.len()],
            service: None,
            case_number: CaseNumber::parse(&format!("MAIL/{run}/{n}"))?,
            full_name: "Amina Diallo".into(),
            email: Some(EmailAddress::parse(&format!(
                "amina.{run}.{n}@example.org"
            ))?),
            phone: None,
            language: Language::parse_supported(["it", "en", "fr", "ar"][n % 4])?,
            secret: None,
            case_proven: false,
            proof_of_work: None,
            invited: None,
            drawn: false,
            held_seat: None,
        };
        // Full slots are simply skipped: the benchmark needs queued mail, not bookings.
        let booker = Booker::Applicant {
            via: None,
            from: ClientAddress::new(std::net::Ipv4Addr::LOCALHOST.into()),
        };
        match book::book(
            store,
            &policy,
            booker,
            office_code(1),
            visit,
            None,
            Utc::now(),
        )
        .await
        {
            Ok(_) | Err(Error::Feature(BookingFailure::Refused(_))) => {}
            Err(other) => return Err(other.into()),
        }
    }
    Ok(())
}

async fn run(backend: Backend, messages: usize) -> anyhow::Result<()> {
    let scratch = Scratch::create(backend, "mail")?;
    let served = common::serve(&scratch, 16).await?;
    let store = served.store.clone();
    let sink = common::smtp::SmtpSink::start();
    let mut settings = common::settings(&scratch, 16)?;
    settings.mail.smtp_host = "127.0.0.1".into();
    settings.mail.smtp_port = sink.port;
    settings.mail.smtp_security = SmtpSecurity::None;

    let zone = chrono_tz::Europe::Rome;
    let first = today(zone, Utc::now()) + Days::new(1);
    store
        .write(move |conn| -> anyhow::Result<()> {
            configure_office(conn, 1)?;
            let office = common::office(conn, 1)?;
            common::publish(conn, &office, first, first + Days::new(399))?;
            Ok(())
        })
        .await?;

    let mut delivered = 0;
    for (run, workers) in [1usize, 2].into_iter().enumerate() {
        let queuing = Instant::now();
        queue_confirmations(&store, &settings, run, messages).await?;
        let queued_in = queuing.elapsed();
        let mailers: Vec<Mailer> = (0..workers)
            .map(|_| Mailer::new(&settings, Store::open(&settings.database)?))
            .collect::<anyhow::Result<_>>()?;
        let started = Instant::now();
        let rounds =
            futures_util::future::join_all(mailers.iter().map(|mailer| mailer.deliver_all_due()))
                .await;
        let seconds = started.elapsed().as_secs_f64();
        let sent: usize = rounds
            .into_iter()
            .map(|r| r.map(|r| r.sent).unwrap_or(0))
            .sum();
        let received = sink
            .wait_for(delivered + sent, Duration::from_secs(5))
            .await
            .len()
            - delivered;
        delivered += received;
        println!(
            "{workers} worker(s): {sent} messages in {seconds:.1} s = {:.0} messages/s; {received} received by the SMTP server (queued in {:.1} s)",
            sent as f64 / seconds,
            queued_in.as_secs_f64()
        );
    }
    served.handle.stop(true).await;
    Ok(())
}
