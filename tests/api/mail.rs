//! The mail that replaces the registered letter: one message per event, in the applicant's
//! language, with the visit's local time and a calendar event, delivered once even when the
//! mail server refuses for a while or two workers share the work.

use std::time::Duration;

use chrono::{Datelike, Days, Utc, Weekday};
use diesel::prelude::*;
use icalendar::Component;
use mail_parser::MimeHeaders;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sportello::{
    domain::{
        ids::{BookingId, OfficeId},
        mail::MessageKind,
    },
    mail::Mailer,
    store::{
        Store, StoreError, outbox,
        schema::{bookings, mail_outbox},
    },
};

use crate::{
    client::field_errors,
    fixtures::{
        applicant, book_as, configure_rome, date, next_year, office_id, open_rome, publish,
        september_monday, set_stage, slot_under_way, staff_slots,
    },
    harness::{Backend, TestApp, send_mail_to, spawn_app, spawn_app_mailing_to, spawn_app_with},
    smtp::{Received, SmtpSink},
};

on_both_databases!(
    a_booking_is_confirmed_by_one_mail_in_the_applicants_language,
    every_change_sends_its_own_message_and_the_calendar_follows,
    arabic_mail_reads_right_to_left,
    the_calendar_event_keeps_the_local_time_across_the_clock_change,
    nothing_is_sent_for_a_change_that_rolled_back,
    a_refusing_mail_server_gets_the_message_once_it_accepts,
    a_failed_message_is_retried_however_much_mail_came_after_it,
    two_workers_on_one_database_never_send_a_message_twice,
    a_message_claimed_by_a_worker_that_died_goes_out_once_its_claim_lapses,
    one_reminder_per_visit_and_none_for_what_changed,
    the_office_counts_the_registered_letters_the_mail_replaced,
    without_an_smtp_server_mail_is_written_to_files,
    the_worker_inside_the_server_delivers_on_its_own,
);

/// The message's text part, HTML part and calendar attachment.
fn parts(received: &Received) -> (String, String, String) {
    let message = received.parsed();
    let text = message.body_text(0).expect("a text part").into_owned();
    let html = message.body_html(0).expect("an HTML part").into_owned();
    let calendar = message
        .attachments()
        .find(|part| {
            part.content_type()
                .is_some_and(|t| t.ctype() == "text" && t.subtype() == Some("calendar"))
        })
        .map(|part| String::from_utf8_lossy(part.contents()).into_owned())
        .expect("a calendar attachment");
    (text, html, calendar)
}

fn event(calendar: &str) -> icalendar::Event {
    let parsed: icalendar::Calendar = calendar.parse().expect("a parsable calendar");
    parsed.events().next().expect("one event").clone()
}

fn subject(received: &Received) -> String {
    received.parsed().subject().unwrap_or_default().to_owned()
}

/// The reference and the manage token of a confirmation.
fn held(booked: &Value) -> (&str, &str) {
    (
        booked["reference"].as_str().unwrap(),
        booked["manage_token"].as_str().unwrap(),
    )
}

async fn outbox_rows(app: &TestApp) -> Vec<(String, String, i32)> {
    app.store
        .read(|conn| -> Result<_, StoreError> {
            Ok(mail_outbox::table
                .select((
                    mail_outbox::kind,
                    mail_outbox::status,
                    mail_outbox::attempts,
                ))
                .order(mail_outbox::id)
                .load(conn)?)
        })
        .await
        .unwrap()
}

async fn a_booking_is_confirmed_by_one_mail_in_the_applicants_language(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let rome = open_rome(&app).await;
    let booked = book_as(&app, &rome.slots[0], 1, "fr").await;
    let (reference, token) = held(&booked);
    assert!(
        smtp.received().is_empty(),
        "nothing is sent from the request itself"
    );

    let round = app.deliver_mail().await;
    assert_eq!(round.sent, 1);
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, ["amina1@example.org"]);
    assert_eq!(
        subject(&received[0]),
        format!("Rendez-vous confirmé – {reference}")
    );
    let message = received[0].parsed();
    let stored_id: String = app
        .store
        .read(|conn| -> Result<_, StoreError> {
            Ok(mail_outbox::table
                .select(mail_outbox::message_id)
                .first(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(format!("<{}>", message.message_id().unwrap()), stored_id);
    assert_eq!(
        message
            .reply_to()
            .and_then(|r| r.first())
            .and_then(|a| a.address()),
        Some("sui.rm@interno.it")
    );

    let (text, html, calendar) = parts(&received[0]);
    let monday = september_monday();
    assert!(text.starts_with("Bonjour Amina Diallo,"), "{text}");
    let when = format!(
        "lundi {}, 09:00 (Europe/Rome, UTC+02:00)",
        monday.format("%d/%m/%Y")
    );
    assert!(text.contains(&when), "{text}");
    assert!(text.contains("Via Ostiense 131/L, Roma"), "{text}");
    assert!(
        text.contains(reference) && text.contains("RM/2026/000001"),
        "{text}"
    );
    // No French in the catalogue: the service and documents fall back to English.
    assert!(
        text.contains("Document delivery and signing of the residence contract"),
        "{text}"
    );
    assert!(
        text.contains("- Valid passport with the entry visa"),
        "{text}"
    );
    let link = format!("https://prenota.example.it/bookings/{reference}?token={token}");
    assert!(text.contains(&link), "{text}");
    assert!(text.contains("jusqu'à 24 heures avant"), "{text}");
    assert!(html.contains(r#"<html lang="fr" dir="ltr">"#), "{html}");
    let event = event(&calendar);
    assert_eq!(
        event.get_uid(),
        Some(format!("{reference}@sportello.rm").as_str())
    );
    assert_eq!(event.property_value("SEQUENCE"), Some("0"));
    assert_eq!(
        event.property_value("DTSTART"),
        Some(format!("{}T070000Z", monday.format("%Y%m%d")).as_str())
    );
    assert!(calendar.contains("METHOD:REQUEST"));

    // Delivered is delivered: another round sends nothing.
    assert_eq!(app.deliver_mail().await.sent, 0);
    assert_eq!(smtp.received().len(), 1);
}

async fn every_change_sends_its_own_message_and_the_calendar_follows(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let rome = open_rome(&app).await;
    let (slots, anyone) = (&rome.slots, app.public());
    let booked = book_as(&app, &slots[0], 1, "en").await;
    let (reference, token) = held(&booked);
    app.deliver_mail().await;
    let moved = anyone.reschedule(reference, token, &slots[2]["id"]).await;
    assert_eq!(moved.status, StatusCode::OK);
    app.deliver_mail().await;
    anyone.cancel_booking(reference, token).await;
    app.deliver_mail().await;

    // The office cancels someone else's visit, with a reason.
    let other = book_as(&app, &slots[3], 2, "en").await;
    let other_reference = other["reference"].as_str().unwrap();
    let reason = json!({"reason": "The office is closed for a strike."});
    app.by(&rome.manager)
        .desk("RM", other_reference, "cancel", &reason)
        .await;
    // A desk booking without an email address gets no mail.
    let operator = app.operator("RM").await;
    let desk = json!({
        "slot_id": slots[4]["id"],
        "case_number": "RM/DESK/1",
        "full_name": "Yusuf Karimi",
        "language": "ar",
    });
    app.by(&operator).book("RM", &desk).await.created();
    app.deliver_mail().await;

    let received = smtp.received();
    let subjects: Vec<String> = received.iter().map(subject).collect();
    assert_eq!(
        subjects,
        [
            format!("Appointment confirmed – {reference}"),
            format!("Appointment moved – {reference}"),
            format!("Appointment cancelled – {reference}"),
            // Its confirmation was still queued when the office cancelled: not sent stale.
            format!("The office cancelled your appointment – {other_reference}"),
        ]
    );
    let events: Vec<icalendar::Event> = received[..3].iter().map(|r| event(&parts(r).2)).collect();
    assert!(
        events.iter().all(|e| e.get_uid() == events[0].get_uid()),
        "one UID for the booking's life"
    );
    let sequences: Vec<&str> = events
        .iter()
        .map(|e| e.property_value("SEQUENCE").unwrap())
        .collect();
    assert_eq!(sequences, ["0", "1", "2"]);
    assert_ne!(
        events[0].property_value("DTSTART"),
        events[1].property_value("DTSTART"),
        "the new time"
    );
    let (text, _, cancel_calendar) = parts(&received[2]);
    assert!(
        cancel_calendar.contains("METHOD:CANCEL") && cancel_calendar.contains("STATUS:CANCELLED"),
        "{cancel_calendar}"
    );
    assert!(
        !text.contains("?token="),
        "a cancelled visit has nothing left to manage"
    );
    let (office_text, _, _) = parts(&received[3]);
    assert!(
        office_text.contains("Reason: The office is closed for a strike."),
        "{office_text}"
    );
}

async fn arabic_mail_reads_right_to_left(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let rome = open_rome(&app).await;
    let booked = book_as(&app, &rome.slots[0], 1, "ar").await;
    app.deliver_mail().await;
    let received = smtp.received();
    assert_eq!(
        subject(&received[0]),
        format!(
            "تم تأكيد الموعد – {}",
            booked["reference"].as_str().unwrap()
        )
    );
    let (text, html, _) = parts(&received[0]);
    assert!(html.contains(r#"<html lang="ar" dir="rtl">"#), "{html}");
    assert!(html.contains("عزيزتي Amina Diallo،"), "{html}");
    assert!(html.contains("الاثنين"), "the weekday in Arabic: {html}");
    assert!(text.contains("تم تأكيد موعدك"), "{text}");
}

async fn the_calendar_event_keeps_the_local_time_across_the_clock_change(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let rome = configure_rome(&app).await;
    set_stage(&app, "RM", "live").await;
    // The last Sunday of October next year, when Rome goes from UTC+2 to UTC+1.
    let mut change = date(next_year(), 10, 31);
    while change.weekday() != Weekday::Sun {
        change = change - Days::new(1);
    }
    let friday = change - Days::new(2);
    publish(&app, &rome.manager, friday, change + Days::new(7)).await;
    // The first open day after the change (1 November is a holiday).
    let after = staff_slots(&app, &rome.manager, change, change + Days::new(7)).await[0].clone();
    let monday: chrono::NaiveDate = after["date"].as_str().unwrap().parse().unwrap();
    for (n, day) in [friday, monday].into_iter().enumerate() {
        let slot = staff_slots(&app, &rome.manager, day, day).await[0].clone();
        book_as(&app, &slot, n, "it").await;
    }
    app.deliver_mail().await;
    let mut received: Vec<(String, String, String)> = smtp.received().iter().map(parts).collect();
    assert_eq!(received.len(), 2);
    // Sent side by side: put them in visit order.
    received.sort_by_key(|(_, _, calendar)| {
        event(calendar).property_value("DTSTART").map(str::to_owned)
    });
    for ((text, _, calendar), day, utc) in [
        (&received[0], friday, "070000Z"),
        (&received[1], monday, "080000Z"),
    ] {
        assert_eq!(
            event(calendar).property_value("DTSTART"),
            Some(format!("{}T{utc}", day.format("%Y%m%d")).as_str())
        );
        assert!(
            text.contains(&format!("{}, 09:00", day.format("%d/%m/%Y"))),
            "{text}"
        );
    }
}

async fn nothing_is_sent_for_a_change_that_rolled_back(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let rome = open_rome(&app).await;
    let (slots, anyone) = (&rome.slots, app.public());
    for n in 0..3 {
        book_as(&app, &slots[0], n, "it").await;
    }
    // Refused bookings, and a move into the full slot, change nothing and owe nothing.
    anyone
        .book("RM", &applicant(&slots[0], 10))
        .await
        .problem(StatusCode::CONFLICT, "slot_full");
    let mover = book_as(&app, &slots[1], 11, "it").await;
    let (reference, token) = held(&mover);
    anyone
        .reschedule(reference, token, &slots[0]["id"])
        .await
        .problem(StatusCode::CONFLICT, "slot_full");

    let kinds: Vec<String> = outbox_rows(&app)
        .await
        .into_iter()
        .map(|(kind, _, _)| kind)
        .collect();
    assert_eq!(kinds, ["confirmed"; 4]);
    app.deliver_mail().await;
    assert_eq!(smtp.received().len(), 4);
}

async fn a_refusing_mail_server_gets_the_message_once_it_accepts(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_with(backend, |s| {
        send_mail_to(s, &smtp);
        s.mail.max_attempts = 4;
    })
    .await;
    let rome = open_rome(&app).await;
    smtp.refuse_next(2);
    book_as(&app, &rome.slots[0], 1, "it").await;
    let round = app.deliver_mail().await;
    assert_eq!((round.sent, round.retrying), (1, 2));
    assert_eq!(smtp.received().len(), 1, "delivered once");
    assert_eq!(
        outbox_rows(&app).await,
        [("confirmed".to_owned(), "sent".to_owned(), 3)]
    );

    // Refusing for good: after four attempts the message is failed, for staff to see.
    smtp.refuse_next(100);
    book_as(&app, &rome.slots[1], 2, "it").await;
    let round = app.deliver_mail().await;
    assert_eq!((round.failed, round.retrying), (1, 3));
    let office = app.by(&rome.manager);
    let failed = office.outbox("RM", "status=failed").await.json();
    let failed = failed.as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["attempts"], 4);
    assert!(
        failed[0]["last_error"].as_str().unwrap().contains("451"),
        "{}",
        failed[0]
    );
    let problem = office
        .outbox("RM", "status=lost")
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&problem)[0].0, "status");

    // Staff try again once the server is back.
    smtp.refuse_next(0);
    let retried = office.retry_mail("RM", &failed[0]["id"]).await;
    assert_eq!(retried.json()["status"], "pending");
    assert_eq!(app.deliver_mail().await.sent, 1);
    assert_eq!(smtp.received().len(), 2);
    office
        .retry_mail("RM", &failed[0]["id"])
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let latina = app.manager("LT").await;
    app.by(&latina)
        .outbox("RM", "")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
}

async fn a_failed_message_is_retried_however_much_mail_came_after_it(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_with(backend, |s| {
        send_mail_to(s, &smtp);
        s.mail.max_attempts = 1;
    })
    .await;
    let rome = open_rome(&app).await;
    smtp.refuse_next(1);
    book_as(&app, &rome.slots[0], 1, "it").await;
    assert_eq!(app.deliver_mail().await.failed, 1);
    // A busy office: a thousand messages queued since that one failed.
    app.store
        .write(|conn| -> Result<(), StoreError> {
            let (office, booking) = bookings::table
                .select((bookings::office_id, bookings::id))
                .first::<(i64, i64)>(conn)?;
            let booking = sportello::store::bookings::find(
                conn,
                OfficeId::new(office),
                BookingId::new(booking),
            )?;
            let booking = booking.expect("the booking");
            for _ in 0..1000 {
                let about = outbox::About {
                    office_id: booking.office_id,
                    subject: outbox::Subject::Booking(booking.id),
                    reference: booking.reference.as_str(),
                    email: booking.email.as_deref(),
                    sequence: booking.sequence,
                };
                outbox::enqueue(conn, about, MessageKind::Confirmed, Utc::now())?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let office = app.by(&rome.manager);
    let failed = office.outbox("RM", "status=failed").await.json();
    let retried = office.retry_mail("RM", &failed[0]["id"]).await.ok();
    assert_eq!(
        (&retried["id"], retried["status"].as_str()),
        (&failed[0]["id"], Some("pending"))
    );
}

async fn two_workers_on_one_database_never_send_a_message_twice(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_with(backend, |s| {
        send_mail_to(s, &smtp);
        s.mail.batch_size = 4;
        s.mail.send_concurrency = 2;
    })
    .await;
    let rome = open_rome(&app).await;
    for n in 0..30 {
        book_as(&app, &rome.slots[n % 11], n, "it").await;
    }
    // Two workers with their own connections, as two instances would have.
    let workers: Vec<Mailer> = (0..2)
        .map(|_| {
            let store = Store::open(&app.settings.database).unwrap();
            Mailer::new(&app.settings, store).unwrap()
        })
        .collect();
    let (first, second) = tokio::join!(workers[0].deliver_all_due(), workers[1].deliver_all_due());
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.sent + second.sent, 30, "{first:?} {second:?}");
    let received = smtp.received();
    assert_eq!(received.len(), 30);
    let mut ids: Vec<String> = received
        .iter()
        .map(|r| r.parsed().message_id().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30, "30 different messages");
}

async fn a_message_claimed_by_a_worker_that_died_goes_out_once_its_claim_lapses(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let rome = open_rome(&app).await;
    book_as(&app, &rome.slots[0], 1, "it").await;
    // A worker claims the message for a minute, then dies without sending or recording.
    let claimed = app
        .store
        .write(|conn| -> Result<_, StoreError> {
            let lease = chrono::Duration::seconds(60);
            Ok(outbox::claim_due(conn, Utc::now(), lease, 10)?)
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    // While the claim holds, no other worker takes it…
    assert_eq!(app.deliver_mail().await.handled(), 0);
    assert!(smtp.received().is_empty());
    // …and once it lapses, the message goes, with the Message-ID it was queued with.
    let id = claimed[0].id;
    app.store
        .write(move |conn| -> Result<(), StoreError> {
            let lapsed = (Utc::now() - chrono::Duration::seconds(1)).naive_utc();
            diesel::update(mail_outbox::table.find(id.get()))
                .set(mail_outbox::claimed_until.eq(lapsed))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(app.deliver_mail().await.sent, 1);
    let received = smtp.received();
    assert_eq!(
        format!("<{}>", received[0].parsed().message_id().unwrap()),
        claimed[0].message_id
    );
    assert_eq!(
        outbox_rows(&app).await,
        [("confirmed".to_owned(), "sent".to_owned(), 2)]
    );
}

async fn one_reminder_per_visit_and_none_for_what_changed(backend: Backend) {
    let smtp = SmtpSink::start();
    // A lead time long enough to cover next year's visits.
    let app = spawn_app_with(backend, |s| {
        send_mail_to(s, &smtp);
        s.mail.reminder_hours_before = 24 * 800;
    })
    .await;
    let rome = open_rome(&app).await;
    let (slots, anyone) = (&rome.slots, app.public());
    let mut held_seats = Vec::new();
    for (n, slot) in slots.iter().enumerate().take(3) {
        held_seats.push(book_as(&app, slot, n, "en").await);
    }
    let mailer = Mailer::new(&app.settings, app.store.clone()).unwrap();
    assert_eq!(
        mailer.deliver_all_due().await.unwrap().sent,
        3,
        "the confirmations"
    );
    // Booked only just now: the confirmation is reminder enough.
    assert_eq!(mailer.schedule_reminders().await.unwrap(), 0);
    app.store
        .write(|conn| -> Result<(), StoreError> {
            let long_ago = (Utc::now() - chrono::Duration::days(1200)).naive_utc();
            diesel::update(bookings::table)
                .set(bookings::created_at.eq(long_ago))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(mailer.schedule_reminders().await.unwrap(), 3);
    assert_eq!(mailer.schedule_reminders().await.unwrap(), 0, "never twice");

    // Before they go out: the second visit is cancelled, the third moved.
    let (second, second_token) = held(&held_seats[1]);
    anyone.cancel_booking(second, second_token).await;
    let (third, third_token) = held(&held_seats[2]);
    anyone.reschedule(third, third_token, &slots[5]["id"]).await;
    let round = mailer.deliver_all_due().await.unwrap();
    assert_eq!(
        (round.sent, round.suppressed),
        (3, 2),
        "the first reminder, the cancellation and the move; the other two reminders are \
         stale: {round:?}"
    );
    // The moved visit gets a reminder for its new time.
    assert_eq!(mailer.schedule_reminders().await.unwrap(), 1);
    mailer.deliver_all_due().await.unwrap();

    let subjects: Vec<String> = smtp.received().iter().map(subject).collect();
    let reminders: Vec<&String> = subjects
        .iter()
        .filter(|s| s.starts_with("Reminder"))
        .collect();
    let (first, _) = held(&held_seats[0]);
    assert_eq!(
        reminders,
        [
            &format!("Reminder: your appointment – {first}"),
            &format!("Reminder: your appointment – {third}")
        ]
    );
    assert_eq!(
        subjects.len(),
        3 + 1 + 1 + 2,
        "confirmations, one cancellation, one move, two reminders"
    );

    // A reminder for a visit already under way is not sent.
    let rome_id = office_id(&app, "RM").await;
    let slot = slot_under_way(&app, rome_id, rome.calendar).await;
    let desk = json!({
        "slot_id": slot,
        "case_number": "RM/LATE/1",
        "full_name": "Late Comer",
        "email": "late@example.org",
        "language": "en",
    });
    let late = app.by(&rome.manager).book("RM", &desk).await.json();
    let late_reference = late["reference"].as_str().unwrap().to_owned();
    mailer.deliver_all_due().await.unwrap();
    let (office, id): (i64, i64) = app
        .store
        .read(move |conn| -> Result<_, StoreError> {
            Ok(bookings::table
                .filter(bookings::reference.eq(late_reference))
                .select((bookings::office_id, bookings::id))
                .first(conn)?)
        })
        .await
        .unwrap();
    app.store
        .write(move |conn| -> Result<bool, StoreError> {
            let (office, id) = (OfficeId::new(office), BookingId::new(id));
            let booking = sportello::store::bookings::find(conn, office, id)?;
            let booking = booking.expect("the booking");
            let about = outbox::About {
                office_id: booking.office_id,
                subject: outbox::Subject::Booking(booking.id),
                reference: booking.reference.as_str(),
                email: booking.email.as_deref(),
                sequence: booking.sequence,
            };
            Ok(outbox::enqueue(
                conn,
                about,
                MessageKind::Reminder,
                Utc::now(),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(mailer.deliver_all_due().await.unwrap().suppressed, 1);
}

async fn the_office_counts_the_registered_letters_the_mail_replaced(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let rome = open_rome(&app).await;
    for (n, slot) in rome.slots.iter().enumerate().take(4) {
        book_as(&app, slot, n, "it").await;
    }
    app.deliver_mail().await;
    let office = app.by(&rome.manager);
    let stats = office.mail_stats("RM", "").await.json();
    assert_eq!(stats["registered_letters_replaced"], 4);
    assert_eq!(stats["confirmed"], 4);
    let earlier = Utc::now().date_naive() - Days::new(60);
    let query = format!("from={earlier}&to={}", earlier + Days::new(10));
    let past = office.mail_stats("RM", &query).await.json();
    assert_eq!(past["registered_letters_replaced"], 0);
}

async fn without_an_smtp_server_mail_is_written_to_files(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let booked = book_as(&app, &rome.slots[0], 1, "es").await;
    assert_eq!(app.deliver_mail().await.sent, 1);
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(app.mail_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].extension().unwrap(), "eml");
    let data = std::fs::read(&files[0]).unwrap();
    let received = Received { to: vec![], data };
    assert_eq!(
        subject(&received),
        format!(
            "Cita confirmada – {}",
            booked["reference"].as_str().unwrap()
        )
    );
}

async fn the_worker_inside_the_server_delivers_on_its_own(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_with(backend, |s| {
        send_mail_to(s, &smtp);
        s.mail.worker_enabled = true;
        s.mail.poll_interval_ms = 100;
    })
    .await;
    let rome = open_rome(&app).await;
    book_as(&app, &rome.slots[0], 1, "uk").await;
    let received = smtp.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    assert!(subject(&received[0]).starts_with("Запис підтверджено"));
}
