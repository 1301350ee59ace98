//! Proof of work: an office that turns it on makes every anonymous booking and lottery entry
//! bring a solved ALTCHA challenge of its own, each good once; staff at the desk are not asked.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    client::field_errors,
    fixtures::{
        applicant, configure_rome_by_lot, create_office, open_rome, september_monday, set_stage,
        solve, staff_slots, walk_in,
    },
    harness::{Backend, TestApp, spawn_app},
};

on_both_databases!(
    an_office_that_asks_for_proof_of_work_books_only_solved_challenges_once_each,
    a_lottery_entry_brings_a_solved_challenge_too,
);

/// Fetches a challenge of `code` and solves it, as an applicant's browser does; returns the
/// answer as the widget submits it.
async fn solved(app: &TestApp, code: &str) -> String {
    let challenge = app.public().challenge(code).await;
    assert_eq!(challenge.header("cache-control"), "no-store");
    solve(challenge.ok()).await
}

/// The message on the `altcha` field of a refusal.
fn altcha_refusal(problem: &Value) -> String {
    let errors = field_errors(problem);
    let (field, message) = errors.first().expect("a field error").clone();
    assert_eq!(field, "altcha", "in {problem}");
    message
}

async fn an_office_that_asks_for_proof_of_work_books_only_solved_challenges_once_each(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let office = app.by(&rome.manager);
    let turned_on = json!({"proof_of_work": true, "proof_of_work_cost": 1});
    let changed = office.update_office("RM", &turned_on).await.ok();
    assert_eq!(changed["proof_of_work"], true);
    let page = app.public().office("RM").await.ok();
    assert_eq!(page["proof_of_work"], true);
    assert_eq!(page["proof_of_work_cost"], 1);

    // Without a solved challenge, a booking is refused and says where to get one.
    let slot = &rome.slots[0];
    let bare = app.public().book("RM", &applicant(slot, 1)).await;
    let problem = bare.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(altcha_refusal(&problem).contains("/api/v1/offices/RM/challenge"));

    // Solved, it books; shown again, it is refused.
    let answer = solved(&app, "RM").await;
    let mut visit = applicant(slot, 1);
    visit["altcha"] = json!(answer);
    app.public().book("RM", &visit).await.created();
    let mut second = applicant(slot, 2);
    second["altcha"] = json!(answer);
    let reused = app.public().book("RM", &second).await;
    let problem = reused.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        altcha_refusal(&problem),
        "has been used already: solve a new challenge"
    );

    // A retry of one request (same Idempotency-Key) may show its challenge again, and is
    // answered with the first booking.
    second["altcha"] = json!(solved(&app, "RM").await);
    let first = app.public().book_once("RM", "retry-1", &second).await;
    let first = first.created();
    let retried = app.public().book_once("RM", "retry-1", &second).await;
    assert_eq!(retried.header("idempotent-replayed"), "true");
    assert_eq!(retried.created()["reference"], first["reference"]);

    // Another office's challenge, and a tampered one, do not count.
    create_office(&app, "MI").await;
    set_stage(&app, "MI", "live").await;
    let mut third = applicant(slot, 3);
    third["altcha"] = json!(solved(&app, "MI").await);
    let foreign = app.public().book("RM", &third).await;
    let problem = foreign.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(altcha_refusal(&problem), "was given for another office");
    third["altcha"] = json!("bm90IGEgc29sdXRpb24=");
    let garbled = app.public().book("RM", &third).await;
    let problem = garbled.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(altcha_refusal(&problem).starts_with("is not an ALTCHA answer"));

    // Staff at the desk are not asked.
    app.by(&rome.manager)
        .book("RM", &walk_in(slot["id"].as_i64().unwrap(), 1))
        .await
        .created();

    // Turned off, applicants book without one.
    let turned_off = json!({"proof_of_work": false});
    office.update_office("RM", &turned_off).await.ok();
    app.public()
        .book("RM", &applicant(&rome.slots[1], 4))
        .await
        .created();
}

async fn a_lottery_entry_brings_a_solved_challenge_too(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome_by_lot(&app).await;
    let office = app.by(&rome.manager);
    let turned_on = json!({"proof_of_work": true, "proof_of_work_cost": 1});
    office.update_office("RM", &turned_on).await.ok();
    set_stage(&app, "RM", "live").await;
    let monday = september_monday();
    let opens_at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let range = json!({"from": monday, "to": monday, "opens_at": opens_at});
    office.publish("RM", &range).await.ok();
    let slots = staff_slots(&app, &rome.manager, monday, monday).await;
    let draws = app.public().draws("RM").await.ok();
    let id = draws[0]["id"].as_i64().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;

    let mut entry = json!({
        "case_number": "RM/2026/000001",
        "full_name": "Amina Diallo",
        "email": "amina@example.org",
        "language": "fr",
        "preferred_slot_ids": [slots[0]["id"]],
    });
    let bare = app.public().enter_draw("RM", id, &entry).await;
    let problem = bare.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(altcha_refusal(&problem).starts_with("is required"));
    entry["altcha"] = json!(solved(&app, "RM").await);
    let entered = app.public().enter_draw("RM", id, &entry).await.created();
    assert_eq!(entered["status"], "entered");
}
