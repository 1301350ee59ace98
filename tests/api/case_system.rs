//! The case system's link: the administration gives the case system a machine account, and the
//! case system registers the cases that are ready for a visit, one by one or by the file.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    client::field_errors,
    fixtures::{create_office, registered_case},
    harness::{Backend, TestApp, Token, spawn_app},
};

on_both_databases!(
    an_admin_gives_the_case_system_a_client_that_can_be_revoked,
    a_case_is_registered_once_and_changed_by_its_number,
    a_file_of_ten_thousand_cases_is_registered_once_with_its_bad_row_named,
    a_json_file_names_the_line_of_each_case_it_could_not_register,
);

/// The administration creates a client for `office` and the client logs in with it.
pub(crate) async fn case_system_of(app: &TestApp, office: &str) -> (Value, Token) {
    let admin = app.admin_token().await;
    let client = json!({"name": format!("SPI {office}"), "office_code": office});
    let created = app
        .by(&admin)
        .create_integration_client(&client)
        .await
        .created();
    let (id, secret) = (
        created["client_id"].as_str().unwrap(),
        created["client_secret"].as_str().unwrap(),
    );
    let token = app.public().client_token(id, secret).await.ok();
    (
        created,
        Token(token["access_token"].as_str().unwrap().to_owned()),
    )
}

async fn an_admin_gives_the_case_system_a_client_that_can_be_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    create_office(&app, "RM").await;
    create_office(&app, "MI").await;
    let admin = app.admin_token().await;
    let manager = app.manager("RM").await;

    let by_manager = app
        .by(&manager)
        .create_integration_client(&json!({"name": "SPI"}))
        .await;
    by_manager.problem(StatusCode::FORBIDDEN, "forbidden");
    let (client, spi) = case_system_of(&app, "RM").await;
    assert!(client["client_id"].as_str().unwrap().starts_with("sic_"));
    assert_eq!(
        (
            client["office_code"].as_str(),
            client["revoked_at"].as_null()
        ),
        (Some("RM"), Some(()))
    );
    let client_id = client["client_id"].as_str().unwrap();
    let wrong = app
        .public()
        .client_token(client_id, "sis_not-the-secret")
        .await;
    wrong.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    let listed = app.by(&admin).integration_clients().await.ok();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c.get("client_secret").is_none())
    );

    // The client registers Rome's cases, and nothing else.
    app.by(&spi)
        .register_case("RM", &registered_case("RM/2026/000001", Some("2027-03-01")))
        .await
        .created();
    app.by(&spi)
        .register_case("MI", &registered_case("MI/2026/000001", Some("2027-03-01")))
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    app.by(&spi)
        .me()
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    app.by(&spi)
        .staff()
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    let audit = app.by(&manager).audit("RM", "").await.ok();
    let registered = &audit.as_array().unwrap()[0];
    assert_eq!(registered["action"], "case.register");
    assert_eq!(
        (
            registered["actor_client"].as_str(),
            registered["actor_email"].as_null()
        ),
        (Some(client_id), Some(()))
    );

    // Revoked: the secret and the token it already holds stop working at once.
    let revoked = app
        .by(&admin)
        .revoke_integration_client(&client["id"])
        .await
        .ok();
    assert!(revoked["revoked_at"].is_string());
    app.by(&spi)
        .register_case("RM", &registered_case("RM/2026/000002", Some("2027-03-01")))
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    let secret = client["client_secret"].as_str().unwrap();
    app.public()
        .client_token(client_id, secret)
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    let again = app
        .by(&admin)
        .revoke_integration_client(&client["id"])
        .await
        .ok();
    assert_eq!(again["revoked_at"], revoked["revoked_at"]);
}

async fn a_case_is_registered_once_and_changed_by_its_number(backend: Backend) {
    let app = spawn_app(backend).await;
    create_office(&app, "RM").await;
    let manager = app.manager("RM").await;
    let office = app.by(&manager);

    let first = office
        .register_case("RM", &registered_case("rm/2026/000001", Some("2027-03-01")))
        .await
        .created();
    assert_eq!(first["case_number"], "RM/2026/000001");
    assert_eq!(
        first["ready_for"],
        json!([{"appointment_type": "document_delivery", "from": "2027-03-01"}])
    );
    assert!(first.get("verification_secret").is_none());
    // The same case again, its secret typed differently: nothing changes.
    let mut same = registered_case("RM/2026/000001", Some("2027-03-01"));
    same["verification_secret"] = json!("k7p3q9xd");
    let again = office.register_case("RM", &same).await.ok();
    assert_eq!(again["updated_at"], first["updated_at"]);
    let mut moved = registered_case("RM/2026/000001", Some("2027-03-01"));
    moved["email"] = json!("amina.b@example.org");
    moved["ready_for"] = json!([{"appointment_type": "permit_collection"}]);
    let changed = office.register_case("RM", &moved).await.ok();
    assert_eq!(changed["email"], "amina.b@example.org");
    assert_eq!(
        changed["ready_for"],
        json!([{"appointment_type": "permit_collection", "from": null}])
    );
    assert_eq!(office.case("RM", "RM/2026/000001").await.ok(), changed);
    office
        .case("RM", "RM/2026/999999")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");

    let mut unknown_type = registered_case("RM/2026/000003", Some("2027-03-01"));
    unknown_type["ready_for"][0]["appointment_type"] = json!("passport_renewal");
    let refused = office.register_case("RM", &unknown_type).await;
    let problem = refused.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&problem)[0].0, "ready_for[0].appointment_type");
    let operator = app.operator("RM").await;
    app.by(&operator)
        .register_case("RM", &registered_case("RM/2026/000004", Some("2027-03-01")))
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
}

/// A CSV file of `count` cases, `RM/2026/000001` on; the case on `bad_line` has no language.
fn csv_of_cases(count: usize, bad_line: usize) -> String {
    let mut file = String::from("case_number,email,language,verification_secret,ready_for\n");
    for n in 1..=count {
        let language = if n + 1 == bad_line { "klingon" } else { "en" };
        file.push_str(&format!(
            "RM/2026/{n:06},applicant{n}@example.org,{language},{:08},document_delivery:2027-03-01 permit_collection\n",
            19_900_000 + n
        ));
    }
    file
}

async fn a_file_of_ten_thousand_cases_is_registered_once_with_its_bad_row_named(backend: Backend) {
    let app = spawn_app(backend).await;
    create_office(&app, "RM").await;
    let (_, spi) = case_system_of(&app, "RM").await;
    let file = csv_of_cases(10_000, 4_242);

    let report = app
        .by(&spi)
        .import_cases("RM", "text/csv", file.clone())
        .await
        .ok();
    assert_eq!(
        (
            &report["received"],
            &report["created"],
            &report["updated"],
            &report["unchanged"]
        ),
        (&json!(10_000), &json!(9_999), &json!(0), &json!(0))
    );
    let failed = report["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (&failed[0]["line"], &failed[0]["case_number"]),
        (&json!(4_242), &json!("RM/2026/004241"))
    );
    assert_eq!(failed[0]["errors"][0]["field"], "language");

    let again = app.by(&spi).import_cases("RM", "text/csv", file).await.ok();
    assert_eq!(
        (&again["created"], &again["updated"], &again["unchanged"]),
        (&json!(0), &json!(0), &json!(9_999))
    );
    let case = app.by(&spi).case("RM", "RM/2026/010000").await.ok();
    assert_eq!(
        case["ready_for"],
        json!([
            {"appointment_type": "document_delivery", "from": "2027-03-01"},
            {"appointment_type": "permit_collection", "from": null},
        ])
    );
    app.by(&spi)
        .case("RM", "RM/2026/004241")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
}

async fn a_json_file_names_the_line_of_each_case_it_could_not_register(backend: Backend) {
    let app = spawn_app(backend).await;
    create_office(&app, "RM").await;
    let manager = app.manager("RM").await;
    let mut bad_email = registered_case("RM/2026/000002", Some("2027-03-01"));
    bad_email["email"] = json!("amina at example.org");
    let mut bad_type = registered_case("RM/2026/000003", Some("2027-03-01"));
    bad_type["ready_for"][0]["appointment_type"] = json!("passport_renewal");
    let file = format!(
        "[\n{},\n{},\n{},\n{}\n]",
        registered_case("RM/2026/000001", Some("2027-03-01")),
        bad_email,
        bad_type,
        registered_case("RM/2026/000001", Some("2027-03-01")),
    );
    let report = app
        .by(&manager)
        .import_cases("RM", "application/json", file)
        .await
        .ok();
    assert_eq!(
        (&report["received"], &report["created"]),
        (&json!(4), &json!(1))
    );
    let failed: Vec<(u64, String)> = report["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["line"].as_u64().unwrap(),
                f["errors"][0]["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            (3, "email".into()),
            (4, "ready_for[0].appointment_type".into()),
            (5, "case_number".into())
        ]
    );
    let not_cases = app
        .by(&manager)
        .import_cases("RM", "application/json", "{}".into())
        .await;
    not_cases.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let not_a_file = app
        .by(&manager)
        .import_cases("RM", "text/plain", "x".into())
        .await;
    not_a_file.problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
}
