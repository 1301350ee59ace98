//! Events back to the case system: every change of a booking is an event with a stable id,
//! read from a feed that never skips or repeats one, and posted to webhook subscriptions.

use std::{
    collections::HashSet,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sportello::{
    domain::booking::EventKind,
    store::{
        StoreError,
        events::{self as stored_events, NewEvent},
    },
};

use crate::{
    case_system::case_system_of,
    fixtures::{applicant, book_as, create_office, office_id, open_rome},
    harness::{Backend, TestApp, Token, send_mail_to, spawn_app, spawn_app_with},
    receiver::Receiver,
    smtp::SmtpSink,
};

on_both_databases!(
    the_case_system_reads_each_change_of_its_office_once_from_the_feed,
    the_feed_read_while_eight_writers_book_misses_and_repeats_nothing,
    a_receiver_that_was_down_gets_every_event_once_signed_and_failures_are_shown,
    a_receiver_that_never_answers_holds_up_neither_mail_nor_other_receivers,
);

fn types(page: &Value) -> Vec<&str> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect()
}

fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every event the feed holds for `token`, read in one go.
async fn all_events(app: &TestApp, token: &Token) -> Vec<Value> {
    let page = app.by(token).events("limit=1000").await.ok();
    page["events"].as_array().unwrap().clone()
}

fn instant(text: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(text.as_str().unwrap()).unwrap()
}

async fn the_case_system_reads_each_change_of_its_office_once_from_the_feed(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let (_, spi) = case_system_of(&app, "RM").await;
    create_office(&app, "MI").await;
    let (_, milan) = case_system_of(&app, "MI").await;
    let slots = &rome.slots;

    // Two applicants book; one cancels, the other moves.
    let first = book_as(&app, &slots[0], 1, "fr").await;
    let second = book_as(&app, &slots[1], 2, "it").await;
    let token = |booked: &Value| booked["manage_token"].as_str().unwrap().to_owned();
    let reference = |booked: &Value| booked["reference"].as_str().unwrap().to_owned();
    app.public()
        .cancel_booking(&reference(&second), &token(&second))
        .await
        .ok();
    app.public()
        .reschedule(&reference(&first), &token(&first), &slots[2]["id"])
        .await
        .ok();

    let page = app.by(&spi).events("").await.ok();
    assert_eq!(
        types(&page),
        [
            "booking.confirmed",
            "booking.confirmed",
            "booking.cancelled",
            "booking.rescheduled"
        ]
    );
    let events = page["events"].as_array().unwrap();
    let (confirmed, cancelled, moved) = (&events[0], &events[2], &events[3]);
    assert_eq!(confirmed["office_code"], "RM");
    assert_eq!(confirmed["data"]["reference"], first["reference"]);
    assert_eq!(confirmed["data"]["case_number"], "RM/2026/000001");
    assert_eq!(confirmed["data"]["service"], "document_delivery");
    assert_eq!(
        instant(&confirmed["data"]["starts_at"]),
        instant(&slots[0]["starts_at"])
    );
    assert_eq!(cancelled["data"]["by"], "applicant");
    assert_eq!(cancelled["data"]["reference"], second["reference"]);
    assert_eq!(
        instant(&moved["data"]["previous_starts_at"]),
        instant(&slots[0]["starts_at"])
    );
    assert_eq!(
        instant(&moved["data"]["starts_at"]),
        instant(&slots[2]["starts_at"])
    );
    let unique: HashSet<String> = ids(events).into_iter().collect();
    assert_eq!(unique.len(), 4);
    assert!(unique.iter().all(|id| id.starts_with("evt_")));

    // From the last cursor on there is nothing new, and the cursor stays.
    let next = page["next"].as_str().unwrap();
    assert_eq!(next, events[3]["cursor"]);
    let rest = app.by(&spi).events(&format!("after={next}")).await.ok();
    assert_eq!((types(&rest).len(), rest["next"].as_str()), (0, Some(next)));
    // Resuming in the middle repeats nothing before the cursor.
    let middle = events[1]["cursor"].as_str().unwrap();
    let resumed = app.by(&spi).events(&format!("after={middle}")).await.ok();
    assert_eq!(
        ids(resumed["events"].as_array().unwrap()),
        ids(&events[2..])
    );

    // Milan's client sees nothing of Rome's; the manager of Rome reads them too.
    assert!(all_events(&app, &milan).await.is_empty());
    app.by(&milan)
        .events("office_code=RM")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(all_events(&app, &rome.manager).await.len(), 4);
    let bad = app.by(&spi).events("after=yesterday").await;
    assert_eq!(bad.invalid_fields(), ["after"]);
}

async fn the_feed_read_while_eight_writers_book_misses_and_repeats_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let (_, spi) = case_system_of(&app, "RM").await;
    let slots = &rome.slots;
    let writing = AtomicBool::new(true);
    let office = sportello::domain::ids::OfficeId::new(office_id(&app, "RM").await);

    // A change whose transaction writes its event first and commits last: on PostgreSQL its
    // event's id is lower than those of changes committed meanwhile, and a feed that read by id
    // alone would pass it by.
    let slow = app.store.write(move |conn| -> Result<(), StoreError> {
        let data = json!({"reference": "SLOWTXN1"});
        let event = NewEvent {
            office_id: office,
            booking_id: None,
            kind: EventKind::Confirmed,
            detail: None,
            actor_id: None,
            client_id: None,
            data: &data,
        };
        stored_events::insert(conn, event, chrono::Utc::now())?;
        std::thread::sleep(Duration::from_millis(400));
        Ok(())
    });
    // Eight applicants' devices book four visits each, all at once (33 seats).
    let writers = async {
        let writer = |w: usize| {
            let app = &app;
            async move {
                for k in 0..4 {
                    let n = w * 4 + k;
                    let visit = applicant(&slots[n % slots.len()], 100 + n);
                    app.public().book("RM", &visit).await.created();
                }
            }
        };
        let (slow, _) = tokio::join!(slow, futures_util::future::join_all((0..8).map(writer)));
        slow.expect("the slow change commits");
        writing.store(false, Ordering::SeqCst);
    };
    // Meanwhile the case system polls the feed, a few events at a time.
    let reader = async {
        let (mut cursor, mut seen) = ("0-0".to_owned(), Vec::new());
        loop {
            let done = !writing.load(Ordering::SeqCst);
            let page = app
                .by(&spi)
                .events(&format!("after={cursor}&limit=5"))
                .await
                .ok();
            let events = page["events"].as_array().unwrap().clone();
            cursor = page["next"].as_str().unwrap().to_owned();
            if events.is_empty() && done {
                return seen;
            }
            seen.extend(ids(&events));
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    };
    let ((), seen) = tokio::join!(writers, reader);

    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "an event came twice: {seen:?}");
    assert_eq!(seen.len(), 33);
    assert_eq!(seen, ids(&all_events(&app, &spi).await));
}

/// Waits until `done` holds, for at most `seconds`.
async fn eventually(seconds: u64, what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_receiver_that_was_down_gets_every_event_once_signed_and_failures_are_shown(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| {
        s.webhooks.worker_enabled = true;
        s.webhooks.poll_interval_ms = 50;
        s.webhooks.retry_base_seconds = 1;
        s.webhooks.max_attempts = 3;
    })
    .await;
    let rome = open_rome(&app).await;
    let (_, spi) = case_system_of(&app, "RM").await;
    let receiver = Receiver::start();
    let subscription = app
        .by(&spi)
        .subscribe_webhook("RM", &json!({"url": receiver.url}))
        .await
        .created();
    let secret = subscription["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let listed = app.by(&rome.manager).webhooks("RM").await.ok();
    assert!(listed[0].get("secret").is_none());
    // A second subscription, for cancellations only, to a URL where nobody listens.
    let dead = json!({"url": "http://127.0.0.1:9/hooks", "event_types": ["booking.cancelled"]});
    let dead = app.by(&spi).subscribe_webhook("RM", &dead).await.created();

    // The receiver is down while two applicants book and one cancels.
    receiver.set_down(true);
    let first = book_as(&app, &rome.slots[0], 1, "fr").await;
    book_as(&app, &rome.slots[1], 2, "it").await;
    let (reference, token) = (
        first["reference"].as_str().unwrap(),
        first["manage_token"].as_str().unwrap(),
    );
    app.public().cancel_booking(reference, token).await.ok();
    eventually(10, "three refused posts", async || {
        receiver.posts().len() >= 3
    })
    .await;

    // Back up: every event arrives, once, signed, with the id the feed gives it.
    receiver.set_down(false);
    let feed = ids(&all_events(&app, &spi).await);
    eventually(20, "every event accepted", async || {
        receiver.accepted().len() >= feed.len()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let accepted = receiver.accepted();
    let arrived: Vec<String> = accepted.iter().map(|p| p.id.clone()).collect();
    let distinct: HashSet<&String> = arrived.iter().collect();
    assert_eq!(
        distinct.len(),
        arrived.len(),
        "delivered twice: {arrived:?}"
    );
    assert_eq!(distinct, feed.iter().collect::<HashSet<_>>());
    for post in &accepted {
        assert!(post.signed_with(&secret), "signature of {}", post.id);
        assert_eq!(post.json()["id"], post.id);
    }
    let refused = receiver.posts().iter().filter(|p| !p.accepted).count();
    assert!(refused >= 3);

    // The cancellation could not reach the dead URL: staff see why, and post it again.
    let failed = async || {
        let found = app
            .by(&rome.manager)
            .webhook_deliveries("RM", "state=failed")
            .await
            .ok();
        found.as_array().unwrap().clone()
    };
    eventually(20, "the dead URL's delivery failed", async || {
        !failed().await.is_empty()
    })
    .await;
    let given_up = &failed().await[0];
    assert_eq!(given_up["attempts"], 3);
    assert_eq!(given_up["last_error"], "cannot connect to the receiver");
    let again = app
        .by(&rome.manager)
        .redeliver_webhook("RM", &given_up["id"])
        .await
        .ok();
    assert_eq!(
        (again["state"].as_str(), again["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );
    let audit = app.by(&rome.manager).audit("RM", "").await.ok();
    assert_eq!(audit[0]["action"], "webhook.redeliver");

    // The case system gives up on the dead URL; its subscription ends, the other stays.
    let gone = app.by(&spi).unsubscribe_webhook("RM", &dead["id"]).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let left = app.by(&spi).webhooks("RM").await.ok();
    assert_eq!(left.as_array().unwrap().len(), 1);
    app.by(&spi)
        .unsubscribe_webhook("RM", &dead["id"])
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    // What was queued for it is not posted again.
    app.by(&rome.manager)
        .redeliver_webhook("RM", &given_up["id"])
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
}

async fn a_receiver_that_never_answers_holds_up_neither_mail_nor_other_receivers(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_with(backend, |s| {
        send_mail_to(s, &smtp);
        s.mail.worker_enabled = true;
        s.mail.poll_interval_ms = 50;
        s.webhooks.worker_enabled = true;
        s.webhooks.poll_interval_ms = 50;
        s.webhooks.timeout_seconds = 600;
    })
    .await;
    let rome = open_rome(&app).await;
    let (_, spi) = case_system_of(&app, "RM").await;
    let (receiver, healthy) = (Receiver::start(), Receiver::start());
    receiver.hang();
    for url in [&receiver.url, &healthy.url] {
        let subscription = json!({"url": url});
        app.by(&spi)
            .subscribe_webhook("RM", &subscription)
            .await
            .created();
    }

    // The first booking's event is taken in and never answered; mail goes on regardless, and
    // so do the other subscription's posts.
    book_as(&app, &rome.slots[0], 1, "fr").await;
    eventually(10, "the post that hangs", async || {
        receiver.posts().len() == 1
    })
    .await;
    book_as(&app, &rome.slots[1], 2, "it").await;
    let received = smtp.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 2);
    eventually(10, "both events at the healthy receiver", async || {
        healthy.accepted().len() == 2
    })
    .await;
    // Each post that hangs holds one place of the worker, until its timeout.
    eventually(10, "the second post that hangs", async || {
        receiver.posts().len() == 2
    })
    .await;
    let sending = app
        .by(&rome.manager)
        .webhook_deliveries("RM", "state=sending")
        .await
        .ok();
    assert_eq!(sending.as_array().unwrap().len(), 2);
}
