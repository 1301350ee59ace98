//! Intermediaries: a patronato's account, accredited at an office by an admin, books for its
//! clients within its quotas; the clients get the mail, the bookings say who made them, and
//! the case's own limits hold as for anyone.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    fixtures::{applicant, open_rome},
    harness::{Backend, PASSWORD, spawn_app},
};

on_both_databases!(a_patronato_books_for_its_clients_within_the_quotas_of_its_accreditation);

/// Client `n` of the patronato, for the `n`th of `slots` (each client a time of their own:
/// seats given back cool down before they are sold again).
fn client(slots: &[Value], n: usize) -> Value {
    let mut visit = applicant(&slots[n], 100 + n);
    visit["email"] = json!(format!("client{n}@example.org"));
    visit
}

async fn a_patronato_books_for_its_clients_within_the_quotas_of_its_accreditation(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let admin = app.admin_token().await;
    let account =
        json!({"email": "sportello@inca.it", "password": PASSWORD, "role": "intermediary"});
    let created = app.by(&admin).create_staff(&account).await.created();
    let id = created["id"].as_i64().unwrap();
    let inca = app.token_for("sportello@inca.it", PASSWORD).await;
    let slot = &rome.slots[0];

    // Not accredited yet: refused, and the office's own data is not theirs to see.
    let early = app.by(&inca).book("RM", &client(&rome.slots, 1)).await;
    early.problem(StatusCode::FORBIDDEN, "forbidden");
    let agenda = app
        .by(&inca)
        .agenda(
            "RM",
            &format!("date={}", crate::fixtures::september_monday()),
        )
        .await;
    assert_eq!(agenda.status, StatusCode::NOT_FOUND);

    // Only an admin accredits: two active bookings at once, three a week.
    let terms =
        json!({"organisation": "Patronato INCA-CGIL, Roma", "max_active": 2, "max_per_week": 3});
    let by_manager = app.by(&rome.manager).accredit("RM", id, &terms).await;
    by_manager.problem(StatusCode::FORBIDDEN, "forbidden");
    // Two admins at once (or one clicking twice): one accreditation, both answered.
    let national = app.by(&admin);
    let (first, second) = tokio::join!(
        national.accredit("RM", id, &terms),
        national.accredit("RM", id, &terms)
    );
    first.ok();
    let accredited = second.ok();
    let listed = app.by(&rome.manager).intermediaries("RM").await.ok();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(accredited["max_active"], 2);
    assert_eq!(accredited["active_bookings"], 0);

    // Proof of work is for anonymous clients: the office turns it on, the patronato books.
    let on = json!({"proof_of_work": true, "proof_of_work_cost": 1});
    app.by(&rome.manager).update_office("RM", &on).await.ok();
    let first = app
        .by(&inca)
        .book("RM", &client(&rome.slots, 1))
        .await
        .created();
    let second = app
        .by(&inca)
        .book("RM", &client(&rome.slots, 2))
        .await
        .created();

    // Every booking says who made it, and the client is the one mailed.
    let found = app
        .by(&rome.manager)
        .search(
            "RM",
            &format!("reference={}", first["reference"].as_str().unwrap()),
        )
        .await
        .ok();
    assert_eq!(found[0]["intermediary_id"], id);
    assert_eq!(found[0]["channel"], "web");
    let outbox = app.by(&rome.manager).outbox("RM", "").await.ok();
    let mailed: Vec<&str> = outbox
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["recipient"].as_str().unwrap())
        .collect();
    assert!(mailed.contains(&"client1@example.org"), "{mailed:?}");

    // Two active: a third waits until one is cancelled.
    let third = app.by(&inca).book("RM", &client(&rome.slots, 3)).await;
    let problem = third.problem(StatusCode::CONFLICT, "quota_reached");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("2 active bookings")
    );
    let token = first["manage_token"].as_str().unwrap();
    let reference = first["reference"].as_str().unwrap();
    app.public().cancel_booking(reference, token).await.ok();
    app.by(&inca)
        .book("RM", &client(&rome.slots, 3))
        .await
        .created();

    // Three made this week: cancelling gives no place back this week.
    let token = second["manage_token"].as_str().unwrap();
    let reference = second["reference"].as_str().unwrap();
    app.public().cancel_booking(reference, token).await.ok();
    let fourth = app.by(&inca).book("RM", &client(&rome.slots, 4)).await;
    let problem = fourth.problem(StatusCode::CONFLICT, "quota_reached");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("3 bookings a week")
    );

    // The case's own limits hold: a case that booked itself is not booked again.
    let more =
        json!({"organisation": "Patronato INCA-CGIL, Roma", "max_active": 10, "max_per_week": 10});
    app.by(&admin).accredit("RM", id, &more).await.ok();
    app.by(&rome.manager)
        .update_office("RM", &json!({"proof_of_work": false}))
        .await
        .ok();
    app.public().book("RM", &applicant(slot, 9)).await.created();
    let mut same_case = client(&rome.slots, 5);
    same_case["case_number"] = applicant(slot, 9)["case_number"].clone();
    let twice = app.by(&inca).book("RM", &same_case).await;
    twice.problem(StatusCode::CONFLICT, "case_already_booked");

    // The office's staff see the accreditation and its use; revoked, it books no more.
    let listed = app.by(&rome.manager).intermediaries("RM").await.ok();
    assert_eq!(listed[0]["organisation"], "Patronato INCA-CGIL, Roma");
    assert_eq!(listed[0]["active_bookings"], 1);
    assert_eq!(listed[0]["bookings_this_week"], 3);
    let revoked = app.by(&admin).revoke_accreditation("RM", id).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let after = app.by(&inca).book("RM", &client(&rome.slots, 6)).await;
    after.problem(StatusCode::FORBIDDEN, "forbidden");
    let listed = app.by(&rome.manager).intermediaries("RM").await.ok();
    assert!(listed[0]["revoked_at"].is_string());
    let log = app.by(&admin).audit("RM", "limit=3").await.ok();
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions[0], "accreditation.revoke");
    assert!(actions.contains(&"accreditation.put"), "{actions:?}");
}
