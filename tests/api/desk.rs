//! The desk runs the day: staff book for people who come or call, see the agenda, find a
//! booking by case number or reference, check people in, mark them attended or absent, and
//! cancel with a reason. Every one of these is audited, and only for their own office.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sportello::{
    domain::{
        days::today,
        slots::{PlannedSlot, Reconciliation},
    },
    store::{StoreError, slots},
};

use crate::{
    agenda::configure_rome,
    bookings::{applicant, assert_seat_counts_match_bookings, open_rome},
    helpers::{Backend, TestApp, Token, assert_problem, field_errors, spawn_app},
};

/// A slot of `calendar` that started ten minutes ago, so the day's desk work can happen now
/// whatever the time or the date (published through the store, as publishing does).
pub async fn slot_under_way(app: &TestApp, office_id: i64, calendar_id: i64) -> i64 {
    let starts_at = Utc::now() - Duration::minutes(10);
    let slot = PlannedSlot {
        calendar_id: sportello::domain::ids::CalendarId::new(calendar_id),
        local_date: today(chrono_tz::Europe::Rome, Utc::now()),
        starts_at,
        ends_at: starts_at + Duration::minutes(30),
        capacity: 3,
        held_for_desk: 0,
    };
    app.store
        .write(move |conn| -> Result<i64, StoreError> {
            let mut plan = Reconciliation {
                create: vec![slot],
                ..Reconciliation::default()
            };
            let office_id = sportello::domain::ids::OfficeId::new(office_id);
            slots::apply(conn, office_id, &mut plan, Utc::now())?;
            let found = slots::for_staff(
                conn,
                office_id,
                starts_at,
                starts_at + Duration::seconds(1),
                None,
            )?;
            Ok(found[0].id.get())
        })
        .await
        .unwrap()
}

pub async fn office_id(app: &TestApp, code: &str) -> i64 {
    let code = sportello::domain::office::OfficeCode::parse(code).unwrap();
    app.store
        .read(move |conn| -> Result<i64, StoreError> {
            Ok(sportello::store::offices::id_by_code(conn, &code)?
                .unwrap()
                .get())
        })
        .await
        .unwrap()
}

async fn desk_book(app: &TestApp, token: &Token, slot_id: i64, n: usize) -> Value {
    let body = json!({"slot_id": slot_id, "case_number": format!("RM/DESK/{n}"), "full_name": "Yusuf Karimi", "phone": "+39 333 1234567", "language": "ar"});
    let response = app
        .post("/api/v1/offices/RM/bookings", &body, Some(token))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "desk booking");
    response.json().await.unwrap()
}

async fn act(
    app: &TestApp,
    token: &Token,
    reference: &str,
    action: &str,
    body: Value,
) -> reqwest::Response {
    app.post(
        &format!("/api/v1/offices/RM/bookings/{reference}/{action}"),
        &body,
        Some(token),
    )
    .await
}

on_both_databases! {
    async fn the_desk_books_for_walk_ins_and_runs_the_day(backend: Backend) {
        let app = spawn_app(backend).await;
        let (manager, calendar) = configure_rome(&app).await;
        app.set_stage("RM", "live").await;
        let operator = app.login_as_operator("RM").await;
        let rome = office_id(&app, "RM").await;
        let slot = slot_under_way(&app, rome, calendar).await;

        // Three people at the desk; no email needed there.
        let mut references = Vec::new();
        for n in 0..3 {
            let booked = desk_book(&app, &operator, slot, n).await;
            assert_eq!((booked["channel"].as_str(), booked["is_test"].as_bool()), (Some("desk"), Some(false)));
            references.push(booked["reference"].as_str().unwrap().to_owned());
        }

        let agenda: Value = app.get("/api/v1/offices/RM/agenda", Some(&operator)).await.json().await.unwrap();
        assert_eq!(agenda["timezone"], "Europe/Rome");
        let listed: Vec<&str> = agenda["bookings"].as_array().unwrap().iter().map(|b| b["reference"].as_str().unwrap()).collect();
        let mut expected: Vec<&str> = references.iter().map(String::as_str).collect();
        expected.sort();
        assert_eq!(listed, expected, "by time, then reference");
        assert_eq!(agenda["bookings"][0]["phone"], "+39 333 1234567");
        // Filtered by calendar and by service.
        let by_calendar: Value = app.get(&format!("/api/v1/offices/RM/agenda?calendar={calendar}"), Some(&operator)).await.json().await.unwrap();
        assert_eq!(by_calendar["bookings"].as_array().unwrap().len(), 3);
        let other_calendar: Value = app.get(&format!("/api/v1/offices/RM/agenda?calendar={}", calendar + 1), Some(&operator)).await.json().await.unwrap();
        assert_eq!(other_calendar["bookings"], json!([]));
        let by_service: Value = app.get("/api/v1/offices/RM/agenda?service=document_delivery", Some(&operator)).await.json().await.unwrap();
        assert_eq!(by_service["bookings"].as_array().unwrap().len(), 3);
        let unknown = app.get("/api/v1/offices/RM/agenda?service=permit_collection&date=someday", Some(&operator)).await;
        let (_, problem) = assert_problem(unknown, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let fields: Vec<String> = field_errors(&problem).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["date", "service"]);

        // The first comes in and is served.
        let checked: Value = act(&app, &operator, &references[0], "check-in", json!({})).await.json().await.unwrap();
        assert_eq!(checked["status"], "checked_in");
        assert!(checked["checked_in_at"].is_string());
        let served: Value = act(&app, &operator, &references[0], "attended", json!({})).await.json().await.unwrap();
        assert_eq!(served["status"], "attended");
        // The second never came.
        let absent: Value = act(&app, &operator, &references[1], "no-show", json!({})).await.json().await.unwrap();
        assert_eq!(absent["status"], "no_show");
        // The third is cancelled by the office, with a reason for the applicant.
        let (_, problem) = assert_problem(act(&app, &operator, &references[2], "cancel", json!({"reason": " "})).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(field_errors(&problem)[0].0, "reason");
        let cancelled: Value = act(&app, &operator, &references[2], "cancel", json!({"reason": "The office closes early today."})).await.json().await.unwrap();
        assert_eq!((cancelled["status"].as_str(), cancelled["cancelled_by"].as_str()), (Some("cancelled"), Some("office")));
        assert_eq!(cancelled["cancel_reason"], "The office closes early today.");

        // Only the documented moves.
        for (reference, action) in [(&references[0], "cancel"), (&references[1], "check-in"), (&references[2], "attended"), (&references[0], "no-show")] {
            let body = json!({"reason": "again"});
            let body = if action == "cancel" { body } else { json!({}) };
            assert_problem(act(&app, &operator, reference, action, body).await, StatusCode::CONFLICT, "invalid_status_transition").await;
        }
        let agenda: Value = app.get("/api/v1/offices/RM/agenda", Some(&operator)).await.json().await.unwrap();
        assert_eq!(agenda["bookings"].as_array().unwrap().len(), 2, "cancelled bookings leave the agenda");
        assert_eq!(assert_seat_counts_match_bookings(&app).await, 2);

        // Found by case number or by reference, in any case and spacing.
        let found: Value = app.get("/api/v1/offices/RM/bookings?case_number=rm/desk/1", Some(&operator)).await.json().await.unwrap();
        assert_eq!(found[0]["reference"].as_str(), Some(references[1].as_str()));
        let loose = references[2].to_lowercase().replace('-', "");
        let found: Value = app.get(&format!("/api/v1/offices/RM/bookings?reference={loose}"), Some(&operator)).await.json().await.unwrap();
        assert_eq!(found[0]["status"], "cancelled");
        let (_, problem) = assert_problem(app.get("/api/v1/offices/RM/bookings", Some(&operator)).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(field_errors(&problem)[0].0, "case_number");

        // Every desk action is in the audit log, with the status before and after.
        let log: Vec<Value> = app.get("/api/v1/offices/RM/audit?limit=10", Some(&manager)).await.json().await.unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(&actions[..7], ["booking.cancel", "booking.no_show", "booking.attended", "booking.check_in", "booking.create", "booking.create", "booking.create"]);
        assert_eq!((log[3]["before"]["status"].as_str(), log[3]["after"]["status"].as_str()), (Some("confirmed"), Some("checked_in")));
        assert_eq!(log[3]["actor_email"], "operator.rm@prefettura.it");
    }

    async fn check_in_waits_for_the_day_and_no_show_for_the_hour(backend: Backend) {
        let app = spawn_app(backend).await;
        let (_, slots) = open_rome(&app).await;
        let operator = app.login_as_operator("RM").await;
        let booked = desk_book(&app, &operator, slots[0]["id"].as_i64().unwrap(), 1).await;
        let reference = booked["reference"].as_str().unwrap();
        assert_problem(act(&app, &operator, reference, "check-in", json!({})).await, StatusCode::CONFLICT, "not_the_visit_day").await;
        assert_problem(act(&app, &operator, reference, "no-show", json!({})).await, StatusCode::CONFLICT, "visit_not_started").await;
    }

    async fn the_desk_may_use_the_seats_held_back_from_the_web(backend: Backend) {
        let app = spawn_app(backend).await;
        let (manager, _) = configure_rome(&app).await;
        app.put("/api/v1/offices/RM/services/document_delivery", &json!({"horizon_days": 730, "desk_share_percent": 100}), Some(&manager)).await;
        app.set_stage("RM", "live").await;
        let monday = crate::agenda::monday_of(crate::agenda::date(crate::agenda::next_year(), 9, 15));
        crate::agenda::publish(&app, &manager, monday, monday).await;
        let slots = crate::agenda::staff_slots(&app, &manager, monday, monday).await;
        assert_eq!(slots[0]["held_for_desk"], 3);

        assert_problem(app.post("/api/v1/offices/RM/bookings", &applicant(&slots[0], 1), None).await, StatusCode::CONFLICT, "slot_full").await;
        for n in 0..3 {
            desk_book(&app, &manager, slots[0]["id"].as_i64().unwrap(), n).await;
        }
        let response = app.post("/api/v1/offices/RM/bookings", &json!({"slot_id": slots[0]["id"], "case_number": "RM/DESK/9", "full_name": "Yusuf Karimi", "language": "it"}), Some(&manager)).await;
        assert_problem(response, StatusCode::CONFLICT, "slot_full").await;
    }

    async fn another_office_sees_none_of_it(backend: Backend) {
        let app = spawn_app(backend).await;
        let (_, slots) = open_rome(&app).await;
        let booked: Value = app.post("/api/v1/offices/RM/bookings", &applicant(&slots[0], 1), None).await.json().await.unwrap();
        let reference = booked["reference"].as_str().unwrap();
        let latina = app.login_as_manager("LT").await;
        for path in ["/api/v1/offices/RM/agenda".to_owned(), format!("/api/v1/offices/RM/bookings?reference={reference}")] {
            assert_problem(app.get(&path, Some(&latina)).await, StatusCode::NOT_FOUND, "not_found").await;
        }
        assert_problem(act(&app, &latina, reference, "cancel", json!({"reason": "x"})).await, StatusCode::NOT_FOUND, "not_found").await;
        // Nor through its own office's paths.
        let path = format!("/api/v1/offices/LT/bookings/{reference}/cancel");
        assert_problem(app.post(&path, &json!({"reason": "x"}), Some(&latina)).await, StatusCode::NOT_FOUND, "not_found").await;
        let found: Value = app.get(&format!("/api/v1/offices/LT/bookings?reference={reference}"), Some(&latina)).await.json().await.unwrap();
        assert_eq!(found, json!([]));
        assert_eq!(assert_seat_counts_match_bookings(&app).await, 1);
    }
}
