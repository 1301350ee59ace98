//! The desk runs the day: staff book for people who come or call, see the agenda, find a
//! booking by case number or reference, check people in, mark them attended or absent, and
//! cancel with a reason, or move a visit to another time. Every one of these is audited, and
//! only for their own office.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    client::field_errors,
    fixtures::{
        applicant, assert_seat_counts_match_bookings, configure_rome, office_id, open_rome,
        publish, september_monday, set_stage, slot_under_way, staff_slots, walk_in,
    },
    harness::{Backend, TestApp, Token, spawn_app, spawn_app_mailing_to},
    smtp::SmtpSink,
};

on_both_databases!(
    the_desk_books_for_walk_ins_and_runs_the_day,
    check_in_waits_for_the_day_and_no_show_for_the_hour,
    the_desk_may_use_the_seats_held_back_from_the_web,
    another_office_sees_none_of_it,
    staff_move_a_visit_onto_the_desks_seat_and_the_applicant_is_told_why,
);

/// Staff book walk-in `n` into `slot_id`; returns the confirmation.
async fn desk_book(app: &TestApp, token: &Token, slot_id: i64, n: usize) -> Value {
    app.by(token)
        .book("RM", &walk_in(slot_id, n))
        .await
        .created()
}

async fn the_desk_books_for_walk_ins_and_runs_the_day(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;
    set_stage(&app, "RM", "live").await;
    let operator = app.operator("RM").await;
    let desk = app.by(&operator);
    let slot = slot_under_way(&app, office_id(&app, "RM").await, rome.calendar).await;

    // Three people at the desk; no email needed there.
    let mut references = Vec::new();
    for n in 0..3 {
        let booked = desk_book(&app, &operator, slot, n).await;
        assert_eq!(
            (booked["channel"].as_str(), booked["is_test"].as_bool()),
            (Some("desk"), Some(false))
        );
        references.push(booked["reference"].as_str().unwrap().to_owned());
    }

    let agenda = desk.agenda("RM", "").await.json();
    assert_eq!(agenda["timezone"], "Europe/Rome");
    let listed: Vec<&str> = agenda["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["reference"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = references.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(listed, expected, "by time, then reference");
    assert_eq!(agenda["bookings"][0]["phone"], "+39 333 1234567");
    // Filtered by calendar and by service.
    let calendar = rome.calendar;
    let by_calendar = desk.agenda("RM", &format!("calendar={calendar}")).await;
    assert_eq!(by_calendar.json()["bookings"].as_array().unwrap().len(), 3);
    let other_calendar = desk
        .agenda("RM", &format!("calendar={}", calendar + 1))
        .await;
    assert_eq!(other_calendar.json()["bookings"], json!([]));
    let by_service = desk.agenda("RM", "service=document_delivery").await;
    assert_eq!(by_service.json()["bookings"].as_array().unwrap().len(), 3);
    let unknown = desk
        .agenda("RM", "service=permit_collection&date=someday")
        .await;
    assert_eq!(unknown.invalid_fields(), ["date", "service"]);

    // The first comes in and is served.
    let checked = desk
        .desk("RM", &references[0], "check-in", &json!({}))
        .await
        .json();
    assert_eq!(checked["status"], "checked_in");
    assert!(checked["checked_in_at"].is_string());
    let served = desk
        .desk("RM", &references[0], "attended", &json!({}))
        .await
        .json();
    assert_eq!(served["status"], "attended");
    // The second never came.
    let absent = desk
        .desk("RM", &references[1], "no-show", &json!({}))
        .await
        .json();
    assert_eq!(absent["status"], "no_show");
    // The third is cancelled by the office, with a reason for the applicant.
    let blank = desk
        .desk("RM", &references[2], "cancel", &json!({"reason": " "}))
        .await;
    let problem = blank.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&problem)[0].0, "reason");
    let reason = json!({"reason": "The office closes early today."});
    let cancelled = desk
        .desk("RM", &references[2], "cancel", &reason)
        .await
        .json();
    assert_eq!(
        (
            cancelled["status"].as_str(),
            cancelled["cancelled_by"].as_str()
        ),
        (Some("cancelled"), Some("office"))
    );
    assert_eq!(cancelled["cancel_reason"], "The office closes early today.");

    // Only the documented moves.
    for (reference, action) in [
        (&references[0], "cancel"),
        (&references[1], "check-in"),
        (&references[2], "attended"),
        (&references[0], "no-show"),
    ] {
        let body = match action {
            "cancel" => json!({"reason": "again"}),
            _ => json!({}),
        };
        desk.desk("RM", reference, action, &body)
            .await
            .problem(StatusCode::CONFLICT, "invalid_status_transition");
    }
    let agenda = desk.agenda("RM", "").await.json();
    assert_eq!(
        agenda["bookings"].as_array().unwrap().len(),
        2,
        "cancelled bookings leave the agenda"
    );
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 2);

    // Found by case number or by reference, in any case and spacing.
    let found = desk.search("RM", "case_number=rm/desk/1").await.json();
    assert_eq!(found[0]["reference"].as_str(), Some(references[1].as_str()));
    let loose = references[2].to_lowercase().replace('-', "");
    let found = desk
        .search("RM", &format!("reference={loose}"))
        .await
        .json();
    assert_eq!(found[0]["status"], "cancelled");
    let problem = desk
        .search("RM", "")
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&problem)[0].0, "case_number");

    // Every desk action is in the audit log, with the status before and after.
    let log = app.by(&rome.manager).audit("RM", "limit=10").await.json();
    let log = log.as_array().unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        &actions[..7],
        [
            "booking.cancel",
            "booking.no_show",
            "booking.attended",
            "booking.check_in",
            "booking.create",
            "booking.create",
            "booking.create"
        ]
    );
    assert_eq!(
        (
            log[3]["before"]["status"].as_str(),
            log[3]["after"]["status"].as_str()
        ),
        (Some("confirmed"), Some("checked_in"))
    );
    assert_eq!(log[3]["actor_email"], "operator.rm@prefettura.it");
}

async fn check_in_waits_for_the_day_and_no_show_for_the_hour(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let operator = app.operator("RM").await;
    let slot = rome.slots[0]["id"].as_i64().unwrap();
    let booked = desk_book(&app, &operator, slot, 1).await;
    let reference = booked["reference"].as_str().unwrap();
    let desk = app.by(&operator);
    desk.desk("RM", reference, "check-in", &json!({}))
        .await
        .problem(StatusCode::CONFLICT, "not_the_visit_day");
    desk.desk("RM", reference, "no-show", &json!({}))
        .await
        .problem(StatusCode::CONFLICT, "visit_not_started");
}

async fn the_desk_may_use_the_seats_held_back_from_the_web(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;
    let all_for_the_desk = json!({"horizon_days": 730, "desk_share_percent": 100});
    app.by(&rome.manager)
        .put_service("RM", "document_delivery", &all_for_the_desk)
        .await;
    set_stage(&app, "RM", "live").await;
    let monday = september_monday();
    publish(&app, &rome.manager, monday, monday).await;
    let slots = staff_slots(&app, &rome.manager, monday, monday).await;
    assert_eq!(slots[0]["held_for_desk"], 3);

    app.public()
        .book("RM", &applicant(&slots[0], 1))
        .await
        .problem(StatusCode::CONFLICT, "slot_full");
    let slot = slots[0]["id"].as_i64().unwrap();
    for n in 0..3 {
        desk_book(&app, &rome.manager, slot, n).await;
    }
    let one_more = json!({
        "slot_id": slot,
        "case_number": "RM/DESK/9",
        "full_name": "Yusuf Karimi",
        "language": "it",
    });
    app.by(&rome.manager)
        .book("RM", &one_more)
        .await
        .problem(StatusCode::CONFLICT, "slot_full");
}

async fn another_office_sees_none_of_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let booked = app
        .public()
        .book("RM", &applicant(&rome.slots[0], 1))
        .await
        .json();
    let reference = booked["reference"].as_str().unwrap();
    let latina_manager = app.manager("LT").await;
    let latina = app.by(&latina_manager);
    latina
        .agenda("RM", "")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    latina
        .search("RM", &format!("reference={reference}"))
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let reason = json!({"reason": "x"});
    latina
        .desk("RM", reference, "cancel", &reason)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    // Nor through its own office's paths.
    latina
        .desk("LT", reference, "cancel", &reason)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let found = latina
        .search("LT", &format!("reference={reference}"))
        .await
        .json();
    assert_eq!(found, json!([]));
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 1);
}

async fn staff_move_a_visit_onto_the_desks_seat_and_the_applicant_is_told_why(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let rome = configure_rome(&app).await;
    // One desk in three is kept for the desk: the web sells two seats of each time.
    let one_for_the_desk = json!({"horizon_days": 730, "desk_share_percent": 34});
    app.by(&rome.manager)
        .put_service("RM", "document_delivery", &one_for_the_desk)
        .await
        .ok();
    set_stage(&app, "RM", "live").await;
    let monday = september_monday();
    publish(&app, &rome.manager, monday, monday).await;
    let slots = staff_slots(&app, &rome.manager, monday, monday).await;
    assert_eq!(slots[1]["held_for_desk"], 1);

    // Amina booked the first time online; the web has sold the second out.
    let mut visit = applicant(&slots[0], 1);
    visit["language"] = json!("en");
    let amina = app.public().book("RM", &visit).await.created();
    app.deliver_mail().await;
    for n in 2..=3 {
        app.public()
            .book("RM", &applicant(&slots[1], n))
            .await
            .created();
    }
    app.public()
        .book("RM", &applicant(&slots[1], 4))
        .await
        .problem(StatusCode::CONFLICT, "slot_full");
    let (reference, token) = (
        amina["reference"].as_str().unwrap(),
        amina["manage_token"].as_str().unwrap(),
    );

    // The operator moves her to the second time, onto the desk's seat, and says why.
    let operator = app.operator("RM").await;
    let desk = app.by(&operator);
    let reason = "The first desk is closed that morning.";
    let to_second = json!({"slot_id": slots[1]["id"], "reason": reason});
    let moved = desk.desk("RM", reference, "move", &to_second).await.ok();
    assert_eq!(moved["starts_at"], slots[1]["starts_at"]);
    assert_eq!(moved["status"], "confirmed");
    assert_eq!(moved["channel"], "web", "the booking keeps its channel");
    let own = app.public().booking(reference, token).await.ok();
    assert_eq!(
        own["starts_at"], slots[1]["starts_at"],
        "the same link shows the move"
    );
    assert_seat_counts_match_bookings(&app).await;
    let after = staff_slots(&app, &rome.manager, monday, monday).await;
    assert_eq!(
        after[1]["booked_web"], 3,
        "all three seats of the second time taken"
    );

    // Audited with the booking before and after; the applicant is mailed the time and reason.
    let log = app.by(&rome.manager).audit("RM", "limit=1").await.json();
    assert_eq!(log[0]["action"], "booking.move");
    assert_eq!(log[0]["before"]["starts_at"], slots[0]["starts_at"]);
    assert_eq!(log[0]["after"]["starts_at"], slots[1]["starts_at"]);
    app.deliver_mail().await;
    let mail = smtp.received();
    let to_amina: Vec<_> = mail
        .iter()
        .filter(|m| m.to == ["amina1@example.org"])
        .collect();
    assert_eq!(to_amina.len(), 2, "the confirmation, then the move");
    let text = to_amina[1].parsed().body_text(0).unwrap().into_owned();
    assert!(
        text.contains("the office had to move your appointment"),
        "{text}"
    );
    assert!(text.contains(&format!("Reason: {reason}")), "{text}");

    // What cannot be moved, or moved there.
    let same = json!({"slot_id": slots[1]["id"], "reason": reason});
    desk.desk("RM", reference, "move", &same)
        .await
        .problem(StatusCode::CONFLICT, "same_slot");
    let no_reason = json!({"slot_id": slots[2]["id"], "reason": " "});
    let problem = desk
        .desk("RM", reference, "move", &no_reason)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&problem)[0].0, "reason");
    let full = json!({"slot_id": slots[1]["id"], "reason": reason});
    let bruno = app
        .public()
        .book("RM", &applicant(&slots[2], 5))
        .await
        .created();
    let bruno = bruno["reference"].as_str().unwrap();
    desk.desk("RM", bruno, "move", &full)
        .await
        .problem(StatusCode::CONFLICT, "slot_full");
    app.public().cancel_booking(reference, token).await.ok();
    let back = json!({"slot_id": slots[0]["id"], "reason": reason});
    desk.desk("RM", reference, "move", &back)
        .await
        .problem(StatusCode::CONFLICT, "booking_not_changeable");
    assert_seat_counts_match_bookings(&app).await;
}
