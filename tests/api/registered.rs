//! Services for registered cases only: the applicant proves the case with the verification code
//! the case system registered, guessing is throttled, and the desk books anyone.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    case_system::case_system_of,
    client::field_errors,
    fixtures::{applicant, open_rome, registered_case, walk_in},
    harness::{Backend, spawn_app, spawn_app_with},
};

on_both_databases!(
    a_registered_only_service_books_only_cases_proven_by_their_code,
    guessing_a_case_code_is_throttled_per_case_and_per_address,
);

/// Applicant `n` asking for `slot` as case `case_number`, with the code `secret`.
fn claiming(slot: &Value, n: usize, case_number: &str, secret: Option<&str>) -> Value {
    let mut visit = applicant(slot, n);
    visit["case_number"] = json!(case_number);
    if let Some(secret) = secret {
        visit["verification_secret"] = json!(secret);
    }
    visit
}

async fn a_registered_only_service_books_only_cases_proven_by_their_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let (_, spi) = case_system_of(&app, "RM").await;
    let (slots, anyone) = (&rome.slots, app.public());
    let visit_day = &slots[0]["starts_at"].as_str().unwrap()[..10];
    let next_day = chrono::NaiveDate::parse_from_str(visit_day, "%Y-%m-%d")
        .unwrap()
        .succ_opt()
        .unwrap()
        .to_string();
    let ready = registered_case("RM/2026/000001", None);
    app.by(&spi).register_case("RM", &ready).await.created();
    let later = registered_case("RM/2026/000002", Some(&next_day));
    app.by(&spi).register_case("RM", &later).await.created();

    // The office says that document delivery is for registered cases only; applicants see it.
    let office = app.by(&rome.manager);
    let only_registered = json!({"horizon_days": 730, "eligibility": "registered"});
    let service = office
        .put_service("RM", "document_delivery", &only_registered)
        .await
        .ok();
    assert_eq!(
        (
            service["eligibility"].as_str(),
            service["invite_only"].as_bool()
        ),
        (Some("registered"), Some(false))
    );
    let public = anyone.office("RM").await.ok();
    assert_eq!(public["services"][0]["eligibility"], "registered");

    // Without the code the form says what is missing; an unknown case and a wrong code get the
    // same answer.
    let unproven = anyone
        .book("RM", &claiming(&slots[0], 1, "RM/2026/000001", None))
        .await;
    let missing =
        field_errors(&unproven.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    assert_eq!(missing[0].0, "verification_secret");
    let unknown = anyone
        .book(
            "RM",
            &claiming(&slots[0], 1, "RM/2026/999999", Some("K7P3 Q9XD")),
        )
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "case_not_verified");
    let wrong = anyone
        .book(
            "RM",
            &claiming(&slots[0], 1, "RM/2026/000001", Some("K7P3 Q9XE")),
        )
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "case_not_verified");
    assert_eq!(unknown, wrong);

    // The code as the applicant types it, spaces and case aside, books the visit.
    let booked = anyone
        .book(
            "RM",
            &claiming(&slots[0], 1, "RM/2026/000001", Some("k7p3q9xd")),
        )
        .await
        .created();
    assert_eq!(booked["case_number"], "RM/2026/000001");
    // A case ready only from the next day cannot take this day, even with its code.
    anyone
        .book(
            "RM",
            &claiming(&slots[1], 2, "RM/2026/000002", Some("K7P3Q9XD")),
        )
        .await
        .problem(StatusCode::CONFLICT, "case_not_ready");

    // The desk books anyone, registered or not.
    let desk = office
        .book("RM", &walk_in(slots[2]["id"].as_i64().unwrap(), 1))
        .await;
    assert_eq!(desk.created()["channel"], "desk");

    // `invite_only` still says invitation; it cannot contradict `eligibility`.
    let invitation = json!({"horizon_days": 730, "invite_only": true});
    let service = office
        .put_service("RM", "document_delivery", &invitation)
        .await
        .ok();
    assert_eq!(service["eligibility"], "invitation");
    let contradiction = json!({"eligibility": "open", "invite_only": true});
    let refused = office
        .put_service("RM", "document_delivery", &contradiction)
        .await;
    assert_eq!(refused.invalid_fields(), ["invite_only"]);
}

async fn guessing_a_case_code_is_throttled_per_case_and_per_address(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        settings.booking.case_max_guesses = 3;
        settings.booking.case_max_guesses_per_client = 5;
    })
    .await;
    let rome = open_rome(&app).await;
    let (_, spi) = case_system_of(&app, "RM").await;
    for n in 1..=2 {
        let case = registered_case(&format!("RM/2026/00000{n}"), None);
        app.by(&spi).register_case("RM", &case).await.created();
    }
    let only_registered = json!({"horizon_days": 730, "eligibility": "registered"});
    app.by(&rome.manager)
        .put_service("RM", "document_delivery", &only_registered)
        .await
        .ok();
    let (slot, anyone) = (&rome.slots[0], app.public());
    let guess = |case: &'static str, code: &'static str| {
        let visit = claiming(slot, 1, case, Some(code));
        async move { anyone.book("RM", &visit).await }
    };

    // Three wrong codes for one case; the fourth try is not even checked, the right code included.
    for code in ["0000", "1111", "2222"] {
        guess("RM/2026/000001", code)
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY, "case_not_verified");
    }
    let throttled = guess("RM/2026/000001", "K7P3Q9XD").await;
    throttled.problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    let wait: u64 = throttled.header("retry-after").parse().unwrap();
    assert!((3500..=3600).contains(&wait), "Retry-After {wait}");

    // Another case from the same address: two more failures, and the address is out of guesses
    // for any case, the other case's right code included.
    for code in ["3333", "4444"] {
        guess("RM/2026/999999", code)
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY, "case_not_verified");
    }
    guess("RM/2026/000002", "K7P3Q9XD")
        .await
        .problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
}
