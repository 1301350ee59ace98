//! Applicants book their own visit, bound to their case number; nobody gets a seat twice, and
//! a retried request books nothing new. They view, move and cancel it with their token.

use std::collections::HashMap;

use chrono::{Days, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use icalendar::Component;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sportello::store::{
    StoreError,
    schema::{bookings, events},
};

use crate::{
    client::{Api, field_errors},
    fixtures::{
        applicant, assert_seat_counts_match_bookings, open_rome, publish, september_monday,
        set_stage, staff_slots, walk_in,
    },
    harness::{Backend, TestApp, spawn_app, spawn_app_with},
};

on_both_databases!(
    an_applicant_books_sees_the_booking_and_gets_a_calendar_event,
    two_hundred_applicants_race_for_three_seats_and_three_get_them,
    one_mailbox_booking_ten_times_at_once_gets_three,
    a_retried_request_books_once_and_gets_the_first_answer,
    every_booking_rule_refuses_with_its_own_code,
    cancelling_and_moving_close_at_the_cutoff_before_the_visit,
    only_pilot_and_live_offices_take_public_bookings_and_preview_ones_are_tests,
    cancelling_frees_the_seat_after_a_cool_down,
    a_move_takes_the_new_seat_and_frees_the_old_or_changes_nothing,
    racing_moves_and_cancels_never_leave_a_seat_count_wrong,
    a_move_passes_every_rule_a_new_booking_passes_and_keeps_its_channel,
    moving_again_and_again_keeps_one_seat_off_sale_and_stops_at_the_limit,
    one_mailbox_is_one_applicant_however_its_address_is_written,
);

fn reference_shape(reference: &str) -> bool {
    let alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    reference.len() == 9
        && reference.as_bytes()[4] == b'-'
        && reference
            .chars()
            .filter(|c| *c != '-')
            .all(|c| alphabet.contains(c))
}

/// The reference and the manage token of a confirmation.
fn held(booked: &Value) -> (String, String) {
    (
        booked["reference"].as_str().unwrap().to_owned(),
        booked["manage_token"].as_str().unwrap().to_owned(),
    )
}

/// The kinds of events every booking has had, oldest first.
async fn event_kinds(app: &crate::harness::TestApp) -> Vec<String> {
    app.store
        .read(|conn| -> Result<_, StoreError> {
            Ok(events::table
                .select(events::kind)
                .order(events::id)
                .load(conn)?)
        })
        .await
        .unwrap()
}

async fn an_applicant_books_sees_the_booking_and_gets_a_calendar_event(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let applicant_api = app.public();
    let booked = applicant_api
        .book("RM", &applicant(&rome.slots[0], 1))
        .await
        .created();
    let (reference, token) = held(&booked);
    assert!(reference_shape(&reference), "{reference}");
    assert_eq!(token.len(), 43, "a 256-bit token");
    assert_eq!(booked["status"], "confirmed");
    assert!(
        booked["starts_at"]
            .as_str()
            .unwrap()
            .ends_with("T09:00:00+02:00")
    );
    assert_eq!(
        (booked["office"].as_str(), booked["service"].as_str()),
        (Some("RM"), Some("document_delivery"))
    );
    assert_eq!(booked["channel"], "web");
    // No French text in the catalogue: English is the fallback.
    assert_eq!(
        booked["service_name"],
        "Document delivery and signing of the residence contract"
    );
    assert!(
        booked["documents"][0]
            .as_str()
            .unwrap()
            .starts_with("Valid passport")
    );

    // The token is not in the database, not even in part.
    let stored: Vec<(String, String)> = app
        .store
        .read(|conn| -> Result<_, StoreError> {
            Ok(bookings::table
                .select((bookings::token_hash, bookings::token_salt))
                .load(conn)?)
        })
        .await
        .unwrap();
    assert!(!stored[0].0.contains(&token[..20]) && !stored[0].1.contains(&token[..20]));

    let view = applicant_api.booking(&reference, &token).await.json();
    assert_eq!(
        (view["reference"].as_str(), view["case_number"].as_str()),
        (Some(reference.as_str()), Some("RM/2026/000001"))
    );
    assert_eq!(view["office"]["timezone"], "Europe/Rome");
    assert!(
        view["changeable_until"]
            .as_str()
            .unwrap()
            .ends_with("T09:00:00+02:00"),
        "24 hours before"
    );
    // Read aloud at the desk, typed back any old way.
    let loose = reference.to_lowercase().replace('-', " ");
    assert_eq!(
        applicant_api.booking(&loose, &token).await.status,
        StatusCode::OK
    );

    let no_token = applicant_api
        .get(&format!("/api/v1/bookings/{reference}"))
        .await;
    no_token.problem(StatusCode::UNAUTHORIZED, "booking_token_required");
    let wrong = applicant_api
        .booking(&reference, &"x".repeat(43))
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let unknown = applicant_api
        .booking("2222-2222", &token)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        wrong, unknown,
        "a wrong token and an unknown reference look alike"
    );

    let ics = applicant_api.calendar_event(&reference, Some(&token)).await;
    assert_eq!(ics.status, StatusCode::OK);
    assert!(ics.header("content-type").starts_with("text/calendar"));
    let text = ics.text();
    let calendar: icalendar::Calendar = text.parse().expect("a parsable calendar");
    let event = calendar.events().next().expect("one event");
    assert_eq!(
        event.get_uid(),
        Some(format!("{reference}@sportello.rm").as_str())
    );
    assert_eq!(event.property_value("SEQUENCE"), Some("0"));
    let monday = september_monday().format("%Y%m%d").to_string();
    assert_eq!(
        event.property_value("DTSTART"),
        Some(format!("{monday}T070000Z").as_str()),
        "09:00 in Rome is 07:00 UTC in September"
    );
    assert!(text.contains("METHOD:PUBLISH"));
    applicant_api
        .calendar_event(&reference, None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "booking_token_required");

    // One seat fewer for everyone else, and the event for the mailer is there.
    let monday = september_monday();
    let query = format!("service=document_delivery&from={monday}&to={monday}");
    let availability = applicant_api.availability("RM", &query).await.json();
    assert_eq!(availability["days"][0]["slots"][0]["available"], 2);
    assert_eq!(event_kinds(&app).await, ["confirmed"]);
}

async fn two_hundred_applicants_race_for_three_seats_and_three_get_them(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.database.pool_size = 8).await;
    let rome = open_rome(&app).await;
    let slot = rome.slots[3].clone();
    let results = book_all_at_once(&app, (0..200).map(|n| applicant(&slot, n))).await;
    let created = answered(&results, StatusCode::CREATED, None);
    let full = answered(&results, StatusCode::CONFLICT, Some("slot_full"));
    assert_eq!((created, full), (3, 197), "{results:?}");
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 3);
}

async fn one_mailbox_booking_ten_times_at_once_gets_three(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.database.pool_size = 8).await;
    let rome = open_rome(&app).await;
    // Ten cases, one address, ten different times, all at once: the limit of three active
    // bookings per mailbox holds however the requests interleave.
    let bodies = (0..10).map(|n| {
        let mut body = applicant(&rome.slots[n], n);
        body["email"] = json!("hoarder@example.org");
        body
    });
    let results = book_all_at_once(&app, bodies).await;
    let created = answered(&results, StatusCode::CREATED, None);
    let refused = answered(&results, StatusCode::CONFLICT, Some("too_many_bookings"));
    assert_eq!((created, refused), (3, 7), "{results:?}");
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 3);
}

/// Sends every booking at Rome at the same moment: each answer's status and problem code.
async fn book_all_at_once(
    app: &TestApp,
    bodies: impl Iterator<Item = Value>,
) -> Vec<(StatusCode, Option<String>)> {
    let attempts = bodies.map(|body| async move {
        let reply = app.public().book("RM", &body).await;
        let code = serde_json::from_slice::<Value>(&reply.bytes)
            .ok()
            .and_then(|b| b["code"].as_str().map(str::to_owned));
        (reply.status, code)
    });
    futures_util::future::join_all(attempts).await
}

/// How many answers had this status and, where given, this problem code.
fn answered(
    results: &[(StatusCode, Option<String>)],
    status: StatusCode,
    code: Option<&str>,
) -> usize {
    results
        .iter()
        .filter(|(s, c)| *s == status && (code.is_none() || c.as_deref() == code))
        .count()
}

async fn a_retried_request_books_once_and_gets_the_first_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let slots = &rome.slots;
    let body = applicant(&slots[0], 1);
    let anyone = app.public();
    let first = anyone.book_once("RM", "8f14e45f-retry", &body).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = anyone.book_once("RM", "8f14e45f-retry", &body).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.header("idempotent-replayed"), "true");
    assert_eq!(
        again.json(),
        first.json(),
        "the same reference and the same token"
    );

    let other = anyone
        .book_once("RM", "8f14e45f-retry", &applicant(&slots[1], 2))
        .await;
    other.problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");

    // Ten copies of one request at once: one booking, ten identical answers.
    let copy = applicant(&slots[2], 3);
    let copies = (0..10).map(|_| anyone.book_once("RM", "burst-key", &copy));
    let answers = futures_util::future::join_all(copies).await;
    let mut references = Vec::new();
    for answer in answers {
        let answer = answer.created();
        references.push(answer["reference"].as_str().unwrap().to_owned());
    }
    references.dedup();
    assert_eq!(references.len(), 1, "{references:?}");
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 2);

    // At the desk there is no email to queue on: ten copies of one request race for a slot's
    // last seat, and still one booking is made and every copy is answered with it.
    let operator = app.operator("RM").await;
    let desk = app.by(&operator);
    let last_seat = slots[3]["id"].as_i64().unwrap();
    for n in 0..2 {
        desk.book("RM", &walk_in(last_seat, n)).await.created();
    }
    let copy = walk_in(last_seat, 7);
    let copies = (0..10).map(|_| desk.book_once("RM", "desk-burst", &copy));
    let answers = futures_util::future::join_all(copies).await;
    let references: std::collections::HashSet<String> = answers
        .into_iter()
        .map(|answer| answer.created()["reference"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(references.len(), 1, "{references:?}");
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 5);

    let bad = anyone.book_once("RM", &"x".repeat(101), &body).await;
    let problem = bad.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&problem)[0].0, "Idempotency-Key");
}

async fn every_booking_rule_refuses_with_its_own_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let (slots, office, anyone) = (&rome.slots, app.by(&rome.manager), app.public());

    // One active booking per case and service.
    anyone.book("RM", &applicant(&slots[0], 1)).await.created();
    let mut same_case = applicant(&slots[1], 99);
    same_case["case_number"] = json!("rm/2026/000001");
    anyone
        .book("RM", &same_case)
        .await
        .problem(StatusCode::CONFLICT, "case_already_booked");

    // Three active bookings per email address.
    for (n, slot) in slots.iter().enumerate().take(4).skip(2) {
        let mut body = applicant(slot, n);
        body["email"] = json!("amina1@example.org");
        anyone.book("RM", &body).await.created();
    }
    let mut fourth = applicant(&slots[4], 4);
    fourth["email"] = json!("AMINA1@example.org");
    let problem = anyone
        .book("RM", &fourth)
        .await
        .problem(StatusCode::CONFLICT, "too_many_bookings");
    assert!(problem["detail"].as_str().unwrap().contains('3'));

    // A blocked slot.
    let desk_closed = json!({"blocked": true, "reason": "Desk closed"});
    let fifth = slots[5]["id"].as_i64().unwrap();
    office.block_slot("RM", fifth, &desk_closed).await;
    anyone
        .book("RM", &applicant(&slots[5], 5))
        .await
        .problem(StatusCode::CONFLICT, "slot_unavailable");

    // Too far ahead, then invitation only.
    let service = |settings: Value| async move {
        office
            .put_service("RM", "document_delivery", &settings)
            .await
    };
    service(json!({"horizon_days": 1})).await;
    anyone
        .book("RM", &applicant(&slots[6], 6))
        .await
        .problem(StatusCode::CONFLICT, "beyond_horizon");
    service(json!({"horizon_days": 730, "invite_only": true})).await;
    anyone
        .book("RM", &applicant(&slots[6], 6))
        .await
        .problem(StatusCode::CONFLICT, "invite_only");
    service(json!({"horizon_days": 730})).await;

    // Too soon: a slot within the next two weeks, with 30 days' notice required.
    let soon = office.publish("RM", &json!({"days": 14})).await;
    assert_eq!(soon.status, StatusCode::OK);
    let today = Utc::now().date_naive();
    let near = staff_slots(&app, &rome.manager, today, today + Days::new(13)).await;
    let starts =
        |s: &Value| chrono::DateTime::parse_from_rfc3339(s["starts_at"].as_str().unwrap()).unwrap();
    let near = near
        .iter()
        .find(|s| starts(s) > Utc::now() + Duration::hours(1))
        .cloned();
    if let Some(near) = near {
        service(json!({"horizon_days": 730, "min_notice_hours": 720})).await;
        anyone
            .book("RM", &applicant(&near, 7))
            .await
            .problem(StatusCode::CONFLICT, "min_notice");
    }

    // Input the applicant must correct, named field by field.
    let bad =
        json!({"slot_id": slots[7]["id"], "case_number": "12", "full_name": "X", "language": "de"});
    let refused = anyone.book("RM", &bad).await;
    assert_eq!(
        refused.invalid_fields(),
        ["case_number", "full_name", "email", "language"]
    );
    assert!(
        field_errors(&refused.json())[0]
            .1
            .contains("numero di pratica")
    );
    let elsewhere = json!({
        "slot_id": 999_999,
        "case_number": "RM/1/2",
        "full_name": "Amina Diallo",
        "email": "a@b.it",
        "language": "it",
    });
    let problem = anyone
        .book("RM", &elsewhere)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&problem)[0].0, "slot_id");
    assert!(assert_seat_counts_match_bookings(&app).await >= 3);
}

async fn cancelling_and_moving_close_at_the_cutoff_before_the_visit(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let office = app.by(&rome.manager);
    // Slots within the next two weeks; changes allowed until 30 days before (so: never).
    let settings = json!({"horizon_days": 730, "min_notice_hours": 0, "change_cutoff_hours": 720});
    office
        .put_service("RM", "document_delivery", &settings)
        .await;
    office.publish("RM", &json!({"days": 14})).await;
    let today = Utc::now().date_naive();
    let starts =
        |s: &Value| chrono::DateTime::parse_from_rfc3339(s["starts_at"].as_str().unwrap()).unwrap();
    let near: Vec<Value> = staff_slots(&app, &rome.manager, today, today + Days::new(13))
        .await
        .into_iter()
        .filter(|s| starts(s) > Utc::now() + Duration::hours(1))
        .collect();
    if near.len() < 2 {
        return; // A fortnight of holidays: nothing to book (not seen in practice).
    }
    let anyone = app.public();
    let booked = anyone.book("RM", &applicant(&near[0], 1)).await.json();
    let (reference, token) = held(&booked);
    let view = anyone.booking(&reference, &token).await.json();
    assert!(
        starts(&json!({"starts_at": view["changeable_until"]})) < Utc::now(),
        "already past the cut-off"
    );
    let cancel = anyone.cancel_booking(&reference, &token).await;
    let problem = cancel.problem(StatusCode::CONFLICT, "change_cutoff_passed");
    assert!(problem["detail"].as_str().unwrap().contains("720 hours"));
    let moved = anyone.reschedule(&reference, &token, &near[1]["id"]).await;
    moved.problem(StatusCode::CONFLICT, "change_cutoff_passed");
    // The office can still cancel, with a reason.
    let reason = json!({"reason": "Moved by phone"});
    let office_cancel = office.desk("RM", &reference, "cancel", &reason).await;
    assert_eq!(office_cancel.status, StatusCode::OK);
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 0);
}

async fn only_pilot_and_live_offices_take_public_bookings_and_preview_ones_are_tests(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    set_stage(&app, "RM", "preview").await;
    app.public()
        .book("RM", &applicant(&rome.slots[0], 1))
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let operator = app.operator("RM").await;
    let booked = app
        .by(&operator)
        .book("RM", &applicant(&rome.slots[0], 1))
        .await
        .created();
    assert_eq!(
        (booked["channel"].as_str(), booked["is_test"].as_bool()),
        (Some("desk"), Some(true))
    );
    set_stage(&app, "RM", "suspended").await;
    app.by(&rome.manager)
        .book("RM", &applicant(&rome.slots[1], 2))
        .await
        .problem(StatusCode::CONFLICT, "office_not_open");
}

async fn cancelling_frees_the_seat_after_a_cool_down(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.booking.seat_cooldown_seconds = 2;
        s.booking.housekeeping_interval_seconds = 1;
    })
    .await;
    let rome = open_rome(&app).await;
    let slot = &rome.slots[0];
    let anyone = app.public();
    let mut tokens = Vec::new();
    for n in 0..3 {
        tokens.push(held(&anyone.book("RM", &applicant(slot, n)).await.json()));
    }
    anyone
        .book("RM", &applicant(slot, 10))
        .await
        .problem(StatusCode::CONFLICT, "slot_full");

    let (reference, token) = &tokens[0];
    // Mail link scanners follow GETs: a GET cancels nothing.
    let path = format!("/api/v1/bookings/{reference}/cancel");
    let scanner = Api::send(
        anyone
            .request(Method::GET, &path)
            .header("x-booking-token", token),
    )
    .await;
    scanner.problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let cancelled = anyone.cancel_booking(reference, token).await.json();
    assert_eq!(
        (
            cancelled["status"].as_str(),
            cancelled["cancelled_by"].as_str()
        ),
        (Some("cancelled"), Some("applicant"))
    );
    anyone
        .cancel_booking(reference, token)
        .await
        .problem(StatusCode::CONFLICT, "booking_not_changeable");

    // The freed seat cools down: not for the web yet…
    anyone
        .book("RM", &applicant(slot, 11))
        .await
        .problem(StatusCode::CONFLICT, "slot_full");
    assert_seat_counts_match_bookings(&app).await;
    // …then housekeeping puts it back on sale.
    let day = NaiveDate::parse_from_str(slot["date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(6);
    let counters = loop {
        let view = staff_slots(&app, &rome.manager, day, day).await;
        let counters = view.iter().find(|s| s["id"] == slot["id"]).unwrap().clone();
        if counters["available_web"] == 1 || std::time::Instant::now() > deadline {
            break counters;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(
        (
            counters["available_web"].as_i64(),
            counters["booked_web"].as_i64()
        ),
        (Some(1), Some(2)),
        "{counters}"
    );
    anyone.book("RM", &applicant(slot, 12)).await.created();
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 3);
}

async fn a_move_takes_the_new_seat_and_frees_the_old_or_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let (slots, anyone) = (&rome.slots, app.public());
    let booked = anyone.book("RM", &applicant(&slots[0], 1)).await.json();
    let (reference, token) = held(&booked);
    for n in 10..13 {
        anyone.book("RM", &applicant(&slots[1], n)).await.created();
    }

    anyone
        .reschedule(&reference, &token, &slots[1]["id"])
        .await
        .problem(StatusCode::CONFLICT, "slot_full");
    let view = anyone.booking(&reference, &token).await.json();
    assert_eq!(view["starts_at"], booked["starts_at"], "nothing changed");
    assert_seat_counts_match_bookings(&app).await;

    anyone
        .reschedule(&reference, &token, &slots[0]["id"])
        .await
        .problem(StatusCode::CONFLICT, "same_slot");
    let problem = anyone
        .reschedule(&reference, &token, &json!(999_999))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&problem)[0].0, "slot_id");

    let moved = anyone
        .reschedule(&reference, &token, &slots[2]["id"])
        .await
        .ok();
    assert!(
        moved["starts_at"]
            .as_str()
            .unwrap()
            .ends_with("T10:00:00+02:00")
    );
    let ics = anyone.calendar_event(&reference, Some(&token)).await.text();
    assert!(ics.contains("SEQUENCE:1"), "{ics}");
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 4);
    let kinds = event_kinds(&app).await;
    assert_eq!(kinds.last().map(String::as_str), Some("rescheduled"));
}

async fn racing_moves_and_cancels_never_leave_a_seat_count_wrong(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.database.pool_size = 8).await;
    let rome = open_rome(&app).await;
    let (slots, anyone) = (&rome.slots, app.public());
    // Twelve bookings in the first four slots.
    let mut held_seats = Vec::new();
    for n in 0..12 {
        let booked = anyone.book("RM", &applicant(&slots[n % 4], n)).await.json();
        held_seats.push(held(&booked));
    }
    // Everyone at once: each booking is moved to one of three other slots, twice over, and
    // cancelled, so moves race moves, cancels race moves, and seats run out.
    let mut requests = Vec::new();
    for (i, (reference, token)) in held_seats.iter().enumerate() {
        for target in [4 + i % 3, 4 + (i + 1) % 3] {
            requests.push(futures_util::future::Either::Left(anyone.reschedule(
                reference,
                token,
                &slots[target]["id"],
            )));
        }
        requests.push(futures_util::future::Either::Right(
            anyone.cancel_booking(reference, token),
        ));
    }
    let outcomes = futures_util::future::join_all(requests).await;
    let mut by_status: HashMap<u16, usize> = HashMap::new();
    for outcome in &outcomes {
        *by_status.entry(outcome.status.as_u16()).or_default() += 1;
    }
    assert!(
        by_status.keys().all(|s| *s == 200 || *s == 409),
        "{by_status:?}"
    );
    // Seats taken equal bookings holding them, seat for seat, and no slot is oversold.
    assert_seat_counts_match_bookings(&app).await;
}

async fn a_move_passes_every_rule_a_new_booking_passes_and_keeps_its_channel(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let (slots, anyone, office) = (&rome.slots, app.public(), app.by(&rome.manager));
    let booked = anyone.book("RM", &applicant(&slots[0], 1)).await.created();
    let (reference, token) = held(&booked);
    let later = &slots[1]["id"];

    set_stage(&app, "RM", "suspended").await;
    anyone
        .reschedule(&reference, &token, later)
        .await
        .problem(StatusCode::CONFLICT, "office_not_open");
    set_stage(&app, "RM", "live").await;

    let by_invitation = json!({"horizon_days": 730, "invite_only": true});
    office
        .put_service("RM", "document_delivery", &by_invitation)
        .await
        .ok();
    anyone
        .reschedule(&reference, &token, later)
        .await
        .problem(StatusCode::CONFLICT, "invite_only");
    let near = json!({"horizon_days": 1});
    office
        .put_service("RM", "document_delivery", &near)
        .await
        .ok();
    anyone
        .reschedule(&reference, &token, later)
        .await
        .problem(StatusCode::CONFLICT, "beyond_horizon");
    office
        .turn_off_service("RM", "document_delivery")
        .await
        .ok();
    anyone
        .reschedule(&reference, &token, later)
        .await
        .problem(StatusCode::CONFLICT, "service_not_offered");

    // Back on, and the Tuesday after is all for the desk: the web cannot move there.
    let all_for_the_desk = json!({"horizon_days": 730, "desk_share_percent": 100});
    office
        .put_service("RM", "document_delivery", &all_for_the_desk)
        .await
        .ok();
    let tuesday = september_monday() + Days::new(1);
    publish(&app, &rome.manager, tuesday, tuesday).await;
    let desk_seats = staff_slots(&app, &rome.manager, tuesday, tuesday).await;
    anyone
        .reschedule(&reference, &token, &desk_seats[0]["id"])
        .await
        .problem(StatusCode::CONFLICT, "slot_full");
    let view = anyone.booking(&reference, &token).await.ok();
    assert_eq!(view["starts_at"], booked["starts_at"], "nothing changed");

    // Someone who phoned was booked at the desk; moving with their token, the booking stays a
    // desk booking and takes a seat the desk may give.
    let slot = slots[2]["id"].as_i64().unwrap();
    let phoned = office.book("RM", &walk_in(slot, 1)).await.created();
    let (phoned_reference, phoned_token) = held(&phoned);
    anyone
        .reschedule(&phoned_reference, &phoned_token, &desk_seats[0]["id"])
        .await
        .ok();
    let found = office
        .search("RM", &format!("reference={phoned_reference}"))
        .await
        .ok();
    assert_eq!(found[0]["channel"], "desk", "{found}");
    assert_eq!(found[0]["slot_id"], desk_seats[0]["id"]);
    let tuesday_slots = staff_slots(&app, &rome.manager, tuesday, tuesday).await;
    assert_eq!(
        (
            tuesday_slots[0]["booked_desk"].as_i64(),
            tuesday_slots[0]["booked_web"].as_i64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 2);
}

async fn moving_again_and_again_keeps_one_seat_off_sale_and_stops_at_the_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let (slots, anyone) = (&rome.slots, app.public());
    let booked = anyone.book("RM", &applicant(&slots[0], 1)).await.created();
    let (reference, token) = held(&booked);
    let monday = september_monday();
    let cooling = || async {
        let now = staff_slots(&app, &rome.manager, monday, monday).await;
        now.iter()
            .map(|slot| slot["cooling"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };

    anyone
        .reschedule(&reference, &token, &slots[1]["id"])
        .await
        .ok();
    assert_eq!(cooling().await[..3], [1, 0, 0], "the seat left cools down");
    anyone
        .reschedule(&reference, &token, &slots[2]["id"])
        .await
        .ok();
    assert_eq!(
        cooling().await[..3],
        [0, 1, 0],
        "the first seat left is back on sale: one booking keeps one seat cooling"
    );
    let problem = anyone
        .reschedule(&reference, &token, &slots[3]["id"])
        .await
        .problem(StatusCode::CONFLICT, "too_many_moves");
    assert!(
        problem["detail"].as_str().unwrap().contains('2'),
        "{problem}"
    );

    // Cancelling still cools its seat down, and lets go of the one it left before.
    anyone.cancel_booking(&reference, &token).await.ok();
    assert_eq!(cooling().await[..4], [0, 0, 1, 0]);
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 0);
    let all_seats_but_one: i64 = staff_slots(&app, &rome.manager, monday, monday)
        .await
        .iter()
        .map(|slot| slot["available_web"].as_i64().unwrap())
        .sum();
    assert_eq!(all_seats_but_one, 11 * 3 - 1);
}

async fn one_mailbox_is_one_applicant_however_its_address_is_written(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let (slots, anyone) = (&rome.slots, app.public());
    let with_email = |n: usize, email: &str| {
        let mut visit = applicant(&slots[n], n);
        visit["email"] = json!(email);
        visit
    };
    // A display name or a list would send the confirmation somewhere else, or to several.
    for address in [
        "decoy<victim@example.net>",
        "Decoy <victim@example.net>",
        "a@example.it,b@example.net",
        "\"a,b\"@example.it",
    ] {
        let problem = anyone
            .book("RM", &with_email(0, address))
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(field_errors(&problem)[0].0, "email", "{address}: {problem}");
    }

    // Sub-addresses reach one mailbox, so they share its limit of three active bookings.
    for n in 1..=3 {
        let address = format!("amina+{n}@example.org");
        anyone.book("RM", &with_email(n, &address)).await.created();
    }
    anyone
        .book("RM", &with_email(4, "Amina+more@Example.org"))
        .await
        .problem(StatusCode::CONFLICT, "too_many_bookings");
    anyone
        .book("RM", &with_email(4, "someone.else@example.org"))
        .await
        .created();
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 4);
}
