//! The national administration appoints office managers; managers add their operators.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    client::field_errors,
    fixtures::create_office,
    harness::{Backend, PASSWORD, spawn_app},
};

on_both_databases!(
    an_admin_appoints_a_manager_who_adds_an_operator_who_can_log_in,
    managers_and_operators_cannot_hand_out_more_than_they_may,
    emails_are_unique_whatever_their_case,
    every_bad_field_is_named_in_one_answer,
    managers_see_and_manage_only_their_own_office,
    concurrent_writers_queue_instead_of_failing,
    a_manager_learns_nothing_of_other_offices_staff_from_a_taken_email,
);

fn new_staff(email: &str, role: &str, office: Option<&str>) -> Value {
    json!({"email": email, "password": PASSWORD, "role": role, "office_code": office})
}

async fn an_admin_appoints_a_manager_who_adds_an_operator_who_can_log_in(backend: Backend) {
    let app = spawn_app(backend).await;
    create_office(&app, "RM").await;
    let admin = app.admin_token().await;

    let giulia = new_staff("Giulia@Prefettura.it", "manager", Some("rm"));
    let manager = app.by(&admin).create_staff(&giulia).await.created();
    assert_eq!(manager["email"], "giulia@prefettura.it");
    assert_eq!(manager["role"], "manager");
    assert_eq!(manager["office_code"], "RM");
    assert_eq!(manager["active"], true);
    assert!(manager.get("password").is_none() && manager.get("password_hash").is_none());

    let giulia = app.token_for("giulia@prefettura.it", PASSWORD).await;
    let luca = new_staff("luca@prefettura.it", "operator", Some("RM"));
    app.by(&giulia).create_staff(&luca).await.created();
    let luca = app.token_for("luca@prefettura.it", PASSWORD).await;
    let me = app.by(&luca).me().await.json();
    assert_eq!(
        (me["role"].as_str(), me["office_code"].as_str()),
        (Some("operator"), Some("RM"))
    );
}

async fn managers_and_operators_cannot_hand_out_more_than_they_may(backend: Backend) {
    let app = spawn_app(backend).await;
    create_office(&app, "LT").await;
    let manager = app.manager("RM").await;
    let operator = app.operator("RM").await;

    let cases = [
        (
            &manager,
            new_staff("m2@prefettura.it", "manager", Some("RM")),
            "a second manager",
        ),
        (
            &manager,
            new_staff("a2@interno.it", "admin", None),
            "an admin",
        ),
        (
            &manager,
            new_staff("o2@prefettura.it", "operator", Some("LT")),
            "another office's operator",
        ),
        (
            &operator,
            new_staff("o3@prefettura.it", "operator", Some("RM")),
            "anyone, as operator",
        ),
    ];
    for (token, body, case) in cases {
        let refused = app.by(token).create_staff(&body).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{case}");
        refused.problem(StatusCode::FORBIDDEN, "forbidden");
    }
    // Nobody was created by the refused requests.
    let admin = app.admin_token().await;
    let all = app.by(&admin).staff().await.json();
    assert_eq!(all.as_array().unwrap().len(), 3);
    // Without a token nothing happens at all.
    let stranger = new_staff("x@prefettura.it", "operator", Some("RM"));
    app.public()
        .create_staff(&stranger)
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");
}

async fn emails_are_unique_whatever_their_case(backend: Backend) {
    let app = spawn_app(backend).await;
    create_office(&app, "RM").await;
    let admin = app.admin_token().await;
    let national = app.by(&admin);
    let luca = new_staff("luca@prefettura.it", "operator", Some("RM"));
    national.create_staff(&luca).await.created();
    let again = new_staff("LUCA@Prefettura.IT", "manager", Some("RM"));
    let problem = national
        .create_staff(&again)
        .await
        .problem(StatusCode::CONFLICT, "email_taken");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("luca@prefettura.it")
    );
}

async fn every_bad_field_is_named_in_one_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let national = app.by(&admin);

    let all_wrong =
        json!({"email": "luca", "password": "short", "role": "operator", "office_code": "R-M"});
    assert_eq!(
        national.create_staff(&all_wrong).await.invalid_fields(),
        ["email", "password", "office_code"]
    );

    let cases = [
        (
            new_staff("a@x.it", "operator", None),
            "office_code",
            "is required for managers and operators",
        ),
        (
            new_staff("a@x.it", "admin", Some("RM")),
            "office_code",
            "must be empty for admins and intermediaries, who are national",
        ),
        (
            new_staff("a@x.it", "operator", Some("ZZ")),
            "office_code",
            "no office has this code",
        ),
    ];
    for (body, field, message) in cases {
        let problem = national
            .create_staff(&body)
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(
            field_errors(&problem),
            vec![(field.to_owned(), message.to_owned())]
        );
    }

    let boss = new_staff("a@x.it", "boss", Some("RM"));
    let problem = national
        .create_staff(&boss)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let (field, message) = &field_errors(&problem)[0];
    assert_eq!(field, "role");
    assert!(
        message.contains("unknown variant `boss`") && message.contains("`operator`"),
        "{message}"
    );
}

async fn managers_see_and_manage_only_their_own_office(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    let rome = app.manager("RM").await;
    app.operator("RM").await;
    app.operator("LT").await;

    let everyone = app.by(&admin).staff().await.json();
    assert_eq!(everyone.as_array().unwrap().len(), 4);
    let romans = app.by(&rome).staff().await.json();
    let emails: Vec<&str> = romans
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["manager.rm@prefettura.it", "operator.rm@prefettura.it"]
    );

    let id_of = |email: &str| {
        let account = everyone
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["email"] == email)
            .unwrap();
        account["id"].as_i64().unwrap()
    };
    let deactivate = json!({"active": false});
    // Latina's operator does not exist as far as Rome's manager can tell.
    app.by(&rome)
        .update_staff(id_of("operator.lt@prefettura.it"), &deactivate)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    app.by(&rome)
        .update_staff(999_999, &deactivate)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let own = app
        .by(&rome)
        .update_staff(id_of("operator.rm@prefettura.it"), &deactivate)
        .await
        .ok();
    assert_eq!(own["active"], false);

    // Nobody locks themselves out.
    app.by(&admin)
        .update_staff(id_of("admin@interno.it"), &deactivate)
        .await
        .problem(StatusCode::CONFLICT, "cannot_deactivate_self");
    // Operators cannot list accounts.
    let operator = app.token_for("operator.lt@prefettura.it", PASSWORD).await;
    app.by(&operator)
        .staff()
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
}

async fn concurrent_writers_queue_instead_of_failing(backend: Backend) {
    let app = spawn_app(backend).await;
    create_office(&app, "RM").await;
    let admin = app.admin_token().await;
    let national = app.by(&admin);

    // Each creation is a transaction that reads (the office) and then writes (the account);
    // twenty at once all succeed (see store.rs for two processes on one SQLite file).
    let distinct: Vec<Value> = (0..20)
        .map(|i| new_staff(&format!("op{i}@prefettura.it"), "operator", Some("RM")))
        .collect();
    let created = distinct.iter().map(|body| national.create_staff(body));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(created)
        .await
        .iter()
        .map(|reply| reply.status)
        .collect();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );

    // Twenty at once for the same email: one account, nineteen clear conflicts.
    let same = new_staff("same@prefettura.it", "operator", Some("RM"));
    let attempts = (0..20).map(|_| national.create_staff(&same));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|reply| reply.status)
        .collect();
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let conflicts = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 19), "{statuses:?}");

    let everyone = national.staff().await.json();
    assert_eq!(everyone.as_array().unwrap().len(), 22);
}

async fn a_manager_learns_nothing_of_other_offices_staff_from_a_taken_email(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = app.manager("RM").await;
    let latina = app.manager("LT").await;
    let roman = new_staff("luca@prefettura.it", "operator", Some("RM"));
    app.by(&rome).create_staff(&roman).await.created();

    // Latina's manager tries the same address: the answer neither says that it exists nor
    // where, only that it cannot be used.
    let same_in_latina = new_staff("luca@prefettura.it", "operator", Some("LT"));
    let problem = app
        .by(&latina)
        .create_staff(&same_in_latina)
        .await
        .problem(StatusCode::CONFLICT, "email_unavailable");
    let detail = problem["detail"].as_str().unwrap();
    for hint in ["luca", "exists", "RM", "Rom"] {
        assert!(!detail.contains(hint), "{hint} in {detail}");
    }
    // An administrator's address is no different to them.
    let admin_address = new_staff("admin@interno.gov.it", "operator", Some("LT"));
    app.create_staff(
        "admin@interno.gov.it",
        sportello::domain::staff::Role::Admin,
        None,
    )
    .await;
    app.by(&latina)
        .create_staff(&admin_address)
        .await
        .problem(StatusCode::CONFLICT, "email_unavailable");

    // Rome's manager, who can see the account anyway, and the administration are told plainly.
    let again_in_rome = new_staff("LUCA@prefettura.it", "operator", Some("RM"));
    app.by(&rome)
        .create_staff(&again_in_rome)
        .await
        .problem(StatusCode::CONFLICT, "email_taken");
    let admin = app.admin_token().await;
    app.by(&admin)
        .create_staff(&same_in_latina)
        .await
        .problem(StatusCode::CONFLICT, "email_taken");
}
