//! Applicants book their own visit, bound to their case number; nobody gets a seat twice, and
//! a retried request books nothing new. They view, move and cancel it with their token.

use std::collections::HashMap;

use chrono::{Days, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sportello::store::{
    StoreError,
    schema::{booking_events, bookings, seat_releases, slots},
};

use crate::{
    agenda::{configure_rome, date, monday_of, next_year, publish, staff_slots},
    helpers::{Backend, TestApp, Token, assert_problem, field_errors, spawn_app, spawn_app_with},
};

/// Rome, live, with a Monday of slots published next September. Returns the manager's token
/// and that Monday's slots (11, three desks each).
pub async fn open_rome(app: &TestApp) -> (Token, Vec<Value>) {
    let (manager, _) = configure_rome(app).await;
    app.set_stage("RM", "live").await;
    let monday = monday_of(date(next_year(), 9, 15));
    publish(app, &manager, monday, monday).await;
    let slots = staff_slots(app, &manager, monday, monday).await;
    (manager, slots)
}

pub fn applicant(slot: &Value, n: usize) -> Value {
    json!({
        "slot_id": slot["id"],
        "case_number": format!("RM/2026/{n:06}"),
        "full_name": "Amina Diallo",
        "email": format!("amina{n}@example.org"),
        "language": "fr",
    })
}

pub async fn book(app: &TestApp, body: &Value) -> reqwest::Response {
    app.post("/api/v1/offices/RM/bookings", body, None).await
}

async fn manage(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("x-booking-token", token)
        .send()
        .await
        .unwrap()
}

async fn manage_post(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("x-booking-token", token)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// For every slot: seats counted as taken equal the bookings holding them, and cooling seats
/// equal the pending releases. Returns the number of bookings holding seats.
pub async fn assert_seat_counts_match_bookings(app: &TestApp) -> i64 {
    app.store
        .read(|conn| -> Result<i64, StoreError> {
            let rows: Vec<(i64, i32, i32, i32, i32)> = slots::table
                .select((
                    slots::id,
                    slots::capacity,
                    slots::booked_web,
                    slots::booked_desk,
                    slots::cooling,
                ))
                .load(conn)?;
            let mut holding = 0;
            for (id, capacity, web, desk, cooling) in rows {
                let booked: i64 = bookings::table
                    .filter(bookings::slot_id.eq(id))
                    .filter(bookings::status.ne("cancelled"))
                    .count()
                    .get_result(conn)?;
                let releases: i64 = seat_releases::table
                    .filter(seat_releases::slot_id.eq(id))
                    .count()
                    .get_result(conn)?;
                assert_eq!(
                    i64::from(web + desk),
                    booked,
                    "slot {id}: seats taken vs bookings"
                );
                assert_eq!(
                    i64::from(cooling),
                    releases,
                    "slot {id}: cooling seats vs releases"
                );
                assert!(web + desk <= capacity, "slot {id} oversold");
                holding += booked;
            }
            Ok(holding)
        })
        .await
        .unwrap()
}

fn reference_shape(reference: &str) -> bool {
    let alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    reference.len() == 9
        && reference.as_bytes()[4] == b'-'
        && reference
            .chars()
            .filter(|c| *c != '-')
            .all(|c| alphabet.contains(c))
}

on_both_databases! {
    async fn an_applicant_books_sees_the_booking_and_gets_a_calendar_event(backend: Backend) {
        let app = spawn_app(backend).await;
        let (_, slots) = open_rome(&app).await;
        let response = book(&app, &applicant(&slots[0], 1)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let booked: Value = response.json().await.unwrap();
        let reference = booked["reference"].as_str().unwrap().to_owned();
        let token = booked["manage_token"].as_str().unwrap().to_owned();
        assert!(reference_shape(&reference), "{reference}");
        assert_eq!(token.len(), 43, "a 256-bit token");
        assert_eq!(booked["status"], "confirmed");
        assert!(booked["starts_at"].as_str().unwrap().ends_with("T09:00:00+02:00"));
        assert_eq!((booked["office"].as_str(), booked["service"].as_str()), (Some("RM"), Some("document_delivery")));
        assert_eq!(booked["channel"], "web");
        // No French text in the catalogue: English is the fallback.
        assert_eq!(booked["service_name"], "Document delivery and signing of the residence contract");
        assert!(booked["documents"][0].as_str().unwrap().starts_with("Valid passport"));

        // The token is not in the database, not even in part.
        let stored: Vec<(String, String)> = app
            .store
            .read(|conn| -> Result<_, StoreError> { Ok(bookings::table.select((bookings::token_hash, bookings::token_salt)).load(conn)?) })
            .await
            .unwrap();
        assert!(!stored[0].0.contains(&token[..20]) && !stored[0].1.contains(&token[..20]));

        let view: Value = manage(&app, &format!("/api/v1/bookings/{reference}"), &token).await.json().await.unwrap();
        assert_eq!((view["reference"].as_str(), view["case_number"].as_str()), (Some(reference.as_str()), Some("RM/2026/000001")));
        assert_eq!(view["office"]["timezone"], "Europe/Rome");
        assert!(view["changeable_until"].as_str().unwrap().ends_with("T09:00:00+02:00"), "24 hours before");
        // Read aloud at the desk, typed back any old way.
        let loose = reference.to_lowercase().replace('-', " ");
        assert_eq!(manage(&app, &format!("/api/v1/bookings/{loose}"), &token).await.status(), StatusCode::OK);

        let no_token = app.get(&format!("/api/v1/bookings/{reference}"), None).await;
        assert_problem(no_token, StatusCode::UNAUTHORIZED, "booking_token_required").await;
        let (_, wrong) = assert_problem(manage(&app, &format!("/api/v1/bookings/{reference}"), &"x".repeat(43)).await, StatusCode::NOT_FOUND, "not_found").await;
        let (_, unknown) = assert_problem(manage(&app, "/api/v1/bookings/2222-2222", &token).await, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(wrong, unknown, "a wrong token and an unknown reference look alike");

        let ics = app.get(&format!("/api/v1/bookings/{reference}/calendar.ics?token={token}"), None).await;
        assert_eq!(ics.status(), StatusCode::OK);
        assert!(ics.headers()["content-type"].to_str().unwrap().starts_with("text/calendar"));
        let text = ics.text().await.unwrap();
        let calendar: icalendar::Calendar = text.parse().expect("a parsable calendar");
        let event = calendar.events().next().expect("one event");
        use icalendar::Component;
        assert_eq!(event.get_uid(), Some(format!("{reference}@sportello.rm").as_str()));
        assert_eq!(event.property_value("SEQUENCE"), Some("0"));
        let monday = monday_of(date(next_year(), 9, 15)).format("%Y%m%d").to_string();
        assert_eq!(event.property_value("DTSTART"), Some(format!("{monday}T070000Z").as_str()), "09:00 in Rome is 07:00 UTC in September");
        assert!(text.contains("METHOD:PUBLISH"));
        assert_problem(app.get(&format!("/api/v1/bookings/{reference}/calendar.ics"), None).await, StatusCode::UNAUTHORIZED, "booking_token_required").await;

        // One seat fewer for everyone else, and the event for the mailer is there.
        let monday = monday_of(date(next_year(), 9, 15));
        let availability: Value = app.get(&format!("/api/v1/offices/RM/availability?service=document_delivery&from={monday}&to={monday}"), None).await.json().await.unwrap();
        assert_eq!(availability["days"][0]["slots"][0]["available"], 2);
        let kinds: Vec<String> = app
            .store
            .read(|conn| -> Result<_, StoreError> { Ok(booking_events::table.select(booking_events::kind).load(conn)?) })
            .await
            .unwrap();
        assert_eq!(kinds, ["confirmed"]);
    }

    async fn two_hundred_applicants_race_for_three_seats_and_three_get_them(backend: Backend) {
        let app = spawn_app_with(backend, |s| s.database.pool_size = 8).await;
        let (_, slots) = open_rome(&app).await;
        let slot = slots[3].clone();
        let attempts = (0..200).map(|n| {
            let body = applicant(&slot, n);
            let app = &app;
            async move {
                let response = book(app, &body).await;
                let status = response.status();
                let code = response.json::<Value>().await.ok().and_then(|b| b["code"].as_str().map(str::to_owned));
                (status, code)
            }
        });
        let results = futures_util::future::join_all(attempts).await;
        let created = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
        let full = results.iter().filter(|(s, c)| *s == StatusCode::CONFLICT && c.as_deref() == Some("slot_full")).count();
        assert_eq!((created, full), (3, 197), "{results:?}");
        assert_eq!(assert_seat_counts_match_bookings(&app).await, 3);
    }

    async fn a_retried_request_books_once_and_gets_the_first_answer(backend: Backend) {
        let app = spawn_app(backend).await;
        let (_, slots) = open_rome(&app).await;
        let body = applicant(&slots[0], 1);
        let send = |key: &'static str, body: Value| {
            let app = &app;
            async move { app.client.post(app.url("/api/v1/offices/RM/bookings")).header("idempotency-key", key).json(&body).send().await.unwrap() }
        };
        let first = send("8f14e45f-retry", body.clone()).await;
        assert_eq!(first.status(), StatusCode::CREATED);
        assert!(first.headers().get("idempotent-replayed").is_none());
        let first: Value = first.json().await.unwrap();
        let again = send("8f14e45f-retry", body.clone()).await;
        assert_eq!(again.status(), StatusCode::CREATED);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        let again: Value = again.json().await.unwrap();
        assert_eq!(again, first, "the same reference and the same token");

        let other = send("8f14e45f-retry", applicant(&slots[1], 2)).await;
        assert_problem(other, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;

        // Ten copies of one request at once: one booking, ten identical answers.
        let copies = (0..10).map(|_| send("burst-key", applicant(&slots[2], 3)));
        let answers = futures_util::future::join_all(copies).await;
        let mut references = Vec::new();
        for answer in answers {
            assert_eq!(answer.status(), StatusCode::CREATED);
            references.push(answer.json::<Value>().await.unwrap()["reference"].as_str().unwrap().to_owned());
        }
        references.dedup();
        assert_eq!(references.len(), 1, "{references:?}");
        assert_eq!(assert_seat_counts_match_bookings(&app).await, 2);

        let bad = app.client.post(app.url("/api/v1/offices/RM/bookings")).header("idempotency-key", "x".repeat(101)).json(&body).send().await.unwrap();
        let (_, problem) = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(field_errors(&problem)[0].0, "Idempotency-Key");
    }

    async fn every_booking_rule_refuses_with_its_own_code(backend: Backend) {
        let app = spawn_app(backend).await;
        let (manager, slots) = open_rome(&app).await;

        // One active booking per case and service.
        assert_eq!(book(&app, &applicant(&slots[0], 1)).await.status(), StatusCode::CREATED);
        let mut same_case = applicant(&slots[1], 99);
        same_case["case_number"] = json!("rm/2026/000001");
        assert_problem(book(&app, &same_case).await, StatusCode::CONFLICT, "case_already_booked").await;

        // Three active bookings per email address.
        for (n, slot) in slots.iter().enumerate().take(4).skip(2) {
            let mut body = applicant(slot, n);
            body["email"] = json!("amina1@example.org");
            assert_eq!(book(&app, &body).await.status(), StatusCode::CREATED);
        }
        let mut fourth = applicant(&slots[4], 4);
        fourth["email"] = json!("AMINA1@example.org");
        let (_, problem) = assert_problem(book(&app, &fourth).await, StatusCode::CONFLICT, "too_many_bookings").await;
        assert!(problem["detail"].as_str().unwrap().contains('3'));

        // A blocked slot.
        app.patch(&format!("/api/v1/offices/RM/slots/{}", slots[5]["id"]), &json!({"blocked": true, "reason": "Desk closed"}), Some(&manager)).await;
        assert_problem(book(&app, &applicant(&slots[5], 5)).await, StatusCode::CONFLICT, "slot_unavailable").await;

        // Too far ahead, then invitation only.
        let service = "/api/v1/offices/RM/services/document_delivery";
        app.put(service, &json!({"horizon_days": 1}), Some(&manager)).await;
        assert_problem(book(&app, &applicant(&slots[6], 6)).await, StatusCode::CONFLICT, "beyond_horizon").await;
        app.put(service, &json!({"horizon_days": 730, "invite_only": true}), Some(&manager)).await;
        assert_problem(book(&app, &applicant(&slots[6], 6)).await, StatusCode::CONFLICT, "invite_only").await;
        app.put(service, &json!({"horizon_days": 730}), Some(&manager)).await;

        // Too soon: a slot within the next two weeks, with 30 days' notice required.
        let soon = app.post("/api/v1/offices/RM/slots/publish", &json!({"days": 14}), Some(&manager)).await;
        assert_eq!(soon.status(), StatusCode::OK);
        let today = Utc::now().date_naive();
        let near = staff_slots(&app, &manager, today, today + Days::new(13)).await;
        let starts = |s: &Value| chrono::DateTime::parse_from_rfc3339(s["starts_at"].as_str().unwrap()).unwrap();
        let near = near.iter().find(|s| starts(s) > Utc::now() + Duration::hours(1)).cloned();
        if let Some(near) = near {
            app.put(service, &json!({"horizon_days": 730, "min_notice_hours": 720}), Some(&manager)).await;
            assert_problem(book(&app, &applicant(&near, 7)).await, StatusCode::CONFLICT, "min_notice").await;
        }

        // Input the applicant must correct, named field by field.
        let bad = json!({"slot_id": slots[7]["id"], "case_number": "12", "full_name": "X", "language": "de"});
        let (_, problem) = assert_problem(book(&app, &bad).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let fields: Vec<String> = field_errors(&problem).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["case_number", "full_name", "email", "language"]);
        assert!(field_errors(&problem)[0].1.contains("numero di pratica"));
        let elsewhere = json!({"slot_id": 999_999, "case_number": "RM/1/2", "full_name": "Amina Diallo", "email": "a@b.it", "language": "it"});
        let (_, problem) = assert_problem(book(&app, &elsewhere).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(field_errors(&problem)[0].0, "slot_id");
        assert!(assert_seat_counts_match_bookings(&app).await >= 3);
    }

    async fn cancelling_and_moving_close_at_the_cutoff_before_the_visit(backend: Backend) {
        let app = spawn_app(backend).await;
        let (manager, _) = open_rome(&app).await;
        // Slots within the next two weeks; changes allowed until 30 days before (so: never).
        let service = "/api/v1/offices/RM/services/document_delivery";
        app.put(service, &json!({"horizon_days": 730, "min_notice_hours": 0, "change_cutoff_hours": 720}), Some(&manager)).await;
        app.post("/api/v1/offices/RM/slots/publish", &json!({"days": 14}), Some(&manager)).await;
        let today = Utc::now().date_naive();
        let starts = |s: &Value| chrono::DateTime::parse_from_rfc3339(s["starts_at"].as_str().unwrap()).unwrap();
        let near: Vec<Value> = staff_slots(&app, &manager, today, today + Days::new(13))
            .await
            .into_iter()
            .filter(|s| starts(s) > Utc::now() + Duration::hours(1))
            .collect();
        if near.len() < 2 {
            return; // A fortnight of holidays: nothing to book (not seen in practice).
        }
        let booked: Value = book(&app, &applicant(&near[0], 1)).await.json().await.unwrap();
        let (reference, token) = (booked["reference"].as_str().unwrap(), booked["manage_token"].as_str().unwrap());
        let view: Value = manage(&app, &format!("/api/v1/bookings/{reference}"), token).await.json().await.unwrap();
        assert!(starts(&json!({"starts_at": view["changeable_until"]})) < Utc::now(), "already past the cut-off");
        let cancel = manage_post(&app, &format!("/api/v1/bookings/{reference}/cancel"), token, &json!({})).await;
        let (_, problem) = assert_problem(cancel, StatusCode::CONFLICT, "change_cutoff_passed").await;
        assert!(problem["detail"].as_str().unwrap().contains("720 hours"));
        let moved = manage_post(&app, &format!("/api/v1/bookings/{reference}/reschedule"), token, &json!({"slot_id": near[1]["id"]})).await;
        assert_problem(moved, StatusCode::CONFLICT, "change_cutoff_passed").await;
        // The office can still cancel, with a reason.
        let office_cancel = app.post(&format!("/api/v1/offices/RM/bookings/{reference}/cancel"), &json!({"reason": "Moved by phone"}), Some(&manager)).await;
        assert_eq!(office_cancel.status(), StatusCode::OK);
        assert_eq!(assert_seat_counts_match_bookings(&app).await, 0);
    }

    async fn only_pilot_and_live_offices_take_public_bookings_and_preview_ones_are_tests(backend: Backend) {
        let app = spawn_app(backend).await;
        let (manager, slots) = open_rome(&app).await;
        app.set_stage("RM", "preview").await;
        assert_problem(book(&app, &applicant(&slots[0], 1)).await, StatusCode::NOT_FOUND, "not_found").await;
        let operator = app.login_as_operator("RM").await;
        let response = app.post("/api/v1/offices/RM/bookings", &applicant(&slots[0], 1), Some(&operator)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let booked: Value = response.json().await.unwrap();
        assert_eq!((booked["channel"].as_str(), booked["is_test"].as_bool()), (Some("desk"), Some(true)));
        app.set_stage("RM", "suspended").await;
        let response = app.post("/api/v1/offices/RM/bookings", &applicant(&slots[1], 2), Some(&manager)).await;
        assert_problem(response, StatusCode::CONFLICT, "office_not_open").await;
    }

    async fn cancelling_frees_the_seat_after_a_cool_down(backend: Backend) {
        let app = spawn_app_with(backend, |s| {
            s.booking.seat_cooldown_seconds = 2;
            s.booking.housekeeping_interval_seconds = 1;
        })
        .await;
        let (manager, slots) = open_rome(&app).await;
        let slot = &slots[0];
        let mut tokens = Vec::new();
        for n in 0..3 {
            let booked: Value = book(&app, &applicant(slot, n)).await.json().await.unwrap();
            tokens.push((booked["reference"].as_str().unwrap().to_owned(), booked["manage_token"].as_str().unwrap().to_owned()));
        }
        assert_problem(book(&app, &applicant(slot, 10)).await, StatusCode::CONFLICT, "slot_full").await;

        let (reference, token) = &tokens[0];
        let path = format!("/api/v1/bookings/{reference}/cancel");
        // Mail link scanners follow GETs: a GET cancels nothing.
        let scanner = app.client.get(app.url(&path)).header("x-booking-token", token).send().await.unwrap();
        assert_problem(scanner, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
        let cancelled: Value = manage_post(&app, &path, token, &json!({})).await.json().await.unwrap();
        assert_eq!((cancelled["status"].as_str(), cancelled["cancelled_by"].as_str()), (Some("cancelled"), Some("applicant")));
        assert_problem(manage_post(&app, &path, token, &json!({})).await, StatusCode::CONFLICT, "booking_not_changeable").await;

        // The freed seat cools down: not for the web yet…
        assert_problem(book(&app, &applicant(slot, 11)).await, StatusCode::CONFLICT, "slot_full").await;
        assert_seat_counts_match_bookings(&app).await;
        // …then housekeeping puts it back on sale.
        let day = NaiveDate::parse_from_str(slot["date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(6);
        let counters = loop {
            let view = staff_slots(&app, &manager, day, day).await;
            let counters = view.iter().find(|s| s["id"] == slot["id"]).unwrap().clone();
            if counters["available_web"] == 1 || std::time::Instant::now() > deadline {
                break counters;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        assert_eq!((counters["available_web"].as_i64(), counters["booked_web"].as_i64()), (Some(1), Some(2)), "{counters}");
        assert_eq!(book(&app, &applicant(slot, 12)).await.status(), StatusCode::CREATED);
        assert_eq!(assert_seat_counts_match_bookings(&app).await, 3);
    }

    async fn a_move_takes_the_new_seat_and_frees_the_old_or_changes_nothing(backend: Backend) {
        let app = spawn_app(backend).await;
        let (manager, slots) = open_rome(&app).await;
        let booked: Value = book(&app, &applicant(&slots[0], 1)).await.json().await.unwrap();
        let reference = booked["reference"].as_str().unwrap().to_owned();
        let token = booked["manage_token"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/bookings/{reference}/reschedule");
        for n in 10..13 {
            assert_eq!(book(&app, &applicant(&slots[1], n)).await.status(), StatusCode::CREATED);
        }

        assert_problem(manage_post(&app, &path, &token, &json!({"slot_id": slots[1]["id"]})).await, StatusCode::CONFLICT, "slot_full").await;
        let view: Value = manage(&app, &format!("/api/v1/bookings/{reference}"), &token).await.json().await.unwrap();
        assert_eq!(view["starts_at"], booked["starts_at"], "nothing changed");
        assert_seat_counts_match_bookings(&app).await;

        assert_problem(manage_post(&app, &path, &token, &json!({"slot_id": slots[0]["id"]})).await, StatusCode::CONFLICT, "same_slot").await;
        let (_, problem) = assert_problem(manage_post(&app, &path, &token, &json!({"slot_id": 999_999})).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(field_errors(&problem)[0].0, "slot_id");

        let moved = manage_post(&app, &path, &token, &json!({"slot_id": slots[2]["id"]})).await;
        assert_eq!(moved.status(), StatusCode::OK);
        let moved: Value = moved.json().await.unwrap();
        assert!(moved["starts_at"].as_str().unwrap().ends_with("T10:00:00+02:00"));
        let ics = app.get(&format!("/api/v1/bookings/{reference}/calendar.ics?token={token}"), None).await.text().await.unwrap();
        assert!(ics.contains("SEQUENCE:1"), "{ics}");
        assert_eq!(assert_seat_counts_match_bookings(&app).await, 4);
        let kinds: Vec<String> = app
            .store
            .read(|conn| -> Result<_, StoreError> { Ok(booking_events::table.select(booking_events::kind).order(booking_events::id).load(conn)?) })
            .await
            .unwrap();
        assert_eq!(kinds.last().map(String::as_str), Some("rescheduled"));
        let _ = manager;
    }

    async fn racing_moves_and_cancels_never_leave_a_seat_count_wrong(backend: Backend) {
        let app = spawn_app_with(backend, |s| s.database.pool_size = 8).await;
        let (_, slots) = open_rome(&app).await;
        // Twelve bookings in the first four slots.
        let mut held = Vec::new();
        for n in 0..12 {
            let booked: Value = book(&app, &applicant(&slots[n % 4], n)).await.json().await.unwrap();
            held.push((booked["reference"].as_str().unwrap().to_owned(), booked["manage_token"].as_str().unwrap().to_owned()));
        }
        // Everyone at once: each booking is moved to one of three other slots, twice over, and
        // cancelled, so moves race moves, cancels race moves, and seats run out.
        let mut requests = Vec::new();
        for (i, (reference, token)) in held.iter().enumerate() {
            for target in [4 + i % 3, 4 + (i + 1) % 3] {
                let path = format!("/api/v1/bookings/{reference}/reschedule");
                requests.push((path, token.clone(), json!({"slot_id": slots[target]["id"]})));
            }
            requests.push((format!("/api/v1/bookings/{reference}/cancel"), token.clone(), json!({})));
        }
        let outcomes = futures_util::future::join_all(requests.iter().map(|(path, token, body)| manage_post(&app, path, token, body))).await;
        let mut by_status: HashMap<u16, usize> = HashMap::new();
        for outcome in &outcomes {
            *by_status.entry(outcome.status().as_u16()).or_default() += 1;
        }
        assert!(by_status.keys().all(|s| *s == 200 || *s == 409), "{by_status:?}");
        // Seats taken equal bookings holding them, seat for seat, and no slot is oversold.
        assert_seat_counts_match_bookings(&app).await;
    }
}
