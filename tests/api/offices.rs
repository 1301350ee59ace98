//! The national administration creates offices, keeps the catalogue and moves offices through
//! the rollout; each office sees only its own data; every change is in the audit log.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    client::{Api, Reply, field_errors},
    fixtures::{configure_rome, create_office, publish, september_monday, set_stage},
    harness::{Backend, spawn_app},
};

on_both_databases!(
    offices_are_created_with_checked_details_and_unique_codes,
    only_pilot_and_live_offices_are_public_and_preview_is_for_its_own_staff,
    staff_of_another_office_find_nothing_and_operators_only_read,
    the_catalogue_ships_the_national_types_and_only_admins_edit_it,
    every_configuration_change_is_in_the_audit_log,
);

/// The codes of a list of offices, in order.
fn codes(offices: Value) -> Vec<String> {
    offices
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["code"].as_str().unwrap().to_owned())
        .collect()
}

async fn offices_are_created_with_checked_details_and_unique_codes(backend: Backend) {
    let app = spawn_app(backend).await;
    let office = create_office(&app, "RM").await;
    assert_eq!(office["stage"], "draft");
    assert_eq!(office["timezone"], "Europe/Rome");
    assert_eq!(office["patron_day"], "06-29");
    assert_eq!(office["languages"], json!(["it", "en"]));

    let admin = app.admin_token().await;
    let national = app.by(&admin);
    let again = json!({
        "code": "rm",
        "name": "Roma 2",
        "address": "Via X 1",
        "city": "Roma",
        "province": "RM",
    });
    national
        .create_office(&again)
        .await
        .problem(StatusCode::CONFLICT, "office_code_taken");

    let bad = json!({
        "code": "R-M", "name": "", "address": "Via X 1", "city": "Roma", "province": "RM",
        "latitude": 100.0, "timezone": "Europe/Milano", "patron_day": "13-40",
        "languages": ["italiano"],
        "email": "not-an-email", "phone": "call me"
    });
    assert_eq!(
        national.create_office(&bad).await.invalid_fields(),
        [
            "name",
            "latitude",
            "timezone",
            "email",
            "phone",
            "languages[0]",
            "patron_day",
            "code"
        ]
    );

    // The manager edits the details; null clears an optional field.
    let manager = app.manager("RM").await;
    let change = json!({"phone": "+39 06 4650 1", "patron_day": null, "timezone": "Europe/Rome"});
    let patched = app.by(&manager).update_office("RM", &change).await.ok();
    assert_eq!(
        (patched["phone"].as_str(), &patched["patron_day"]),
        (Some("+39 06 4650 1"), &Value::Null)
    );
    assert_eq!(patched["name"], office["name"]);
    let operator = app.operator("RM").await;
    app.by(&operator)
        .update_office("RM", &json!({"name": "X"}))
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    app.by(&manager)
        .create_office(&bad)
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
}

async fn only_pilot_and_live_offices_are_public_and_preview_is_for_its_own_staff(backend: Backend) {
    let app = spawn_app(backend).await;
    for (code, stage) in [
        ("RM", "pilot"),
        ("LT", "preview"),
        ("MI", "draft"),
        ("NA", "live"),
        ("TO", "suspended"),
    ] {
        create_office(&app, code).await;
        if stage != "draft" {
            set_stage(&app, code, stage).await;
        }
    }
    let anyone = app.public();
    assert_eq!(codes(anyone.offices().await.json()), ["NA", "RM"]);

    let latina = app.operator("LT").await;
    assert_eq!(
        codes(app.by(&latina).offices().await.json()),
        ["LT", "NA", "RM"]
    );
    let admin = app.admin_token().await;
    assert_eq!(
        codes(app.by(&admin).offices().await.json()),
        ["LT", "MI", "NA", "RM", "TO"]
    );

    anyone
        .office("LT")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    app.by(&latina).office("LT").await.ok();
    let rome = app.manager("RM").await;
    app.by(&rome)
        .office("LT")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    anyone
        .office("TO")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    anyone.office("RM").await.ok();
    // An invalid token is not treated as no token.
    let forged = Api::send(
        anyone
            .request(Method::GET, "/api/v1/offices")
            .bearer_auth("forged"),
    )
    .await;
    forged.problem(StatusCode::UNAUTHORIZED, "unauthorized");

    // Only the administration moves stages.
    app.by(&rome)
        .set_stage("RM", "live")
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    let problem = app
        .by(&admin)
        .set_stage("RM", "open")
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&problem)[0].0, "stage");
}

async fn staff_of_another_office_find_nothing_and_operators_only_read(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;
    let rome_operator = app.operator("RM").await;
    let latina = app.manager("LT").await;

    // What an office's staff read: its services, calendars, slots, closures and audit log.
    async fn reads(api: Api<'_>) -> [Reply; 5] {
        [
            api.services("RM").await,
            api.calendars("RM").await,
            api.slots("RM", "").await,
            api.closures("RM", "").await,
            api.audit("RM", "").await,
        ]
    }
    for read in reads(app.by(&latina)).await {
        read.problem(StatusCode::NOT_FOUND, "not_found");
    }
    let [services, calendars, slots, closures, audit] = reads(app.by(&rome_operator)).await;
    for read in [services, calendars, slots, closures] {
        assert_eq!(read.status, StatusCode::OK, "{}", read.url);
    }
    audit.problem(StatusCode::FORBIDDEN, "forbidden");

    let monday = september_monday();
    let calendar = rome.calendar;
    let writes = [
        (
            "/api/v1/offices/RM/services/information".to_owned(),
            Method::PUT,
            json!({}),
        ),
        (
            "/api/v1/offices/RM/calendars".to_owned(),
            Method::POST,
            json!({"name": "X", "desks": 1, "service_codes": ["document_delivery"]}),
        ),
        (
            format!("/api/v1/offices/RM/calendars/{calendar}"),
            Method::PATCH,
            json!({"desks": 9}),
        ),
        (
            format!("/api/v1/offices/RM/calendars/{calendar}/hours"),
            Method::PUT,
            json!([]),
        ),
        (
            "/api/v1/offices/RM/closures".to_owned(),
            Method::POST,
            json!({"from": monday, "to": monday, "reason": "x"}),
        ),
        (
            "/api/v1/offices/RM/slots/publish".to_owned(),
            Method::POST,
            json!({"days": 7}),
        ),
    ];
    for (path, method, body) in &writes {
        let send = |api: Api| Api::send(api.request(method.clone(), path).json(body));
        send(app.by(&latina))
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        send(app.by(&rome_operator))
            .await
            .problem(StatusCode::FORBIDDEN, "forbidden");
    }
    // Nothing changed: the calendar still has three desks and its hours.
    let calendars = app.by(&rome.manager).calendars("RM").await.json();
    assert_eq!(calendars.as_array().unwrap().len(), 1);
    assert_eq!(calendars[0]["desks"], 3);
    assert_eq!(calendars[0]["hours"].as_array().unwrap().len(), 10);
    // An office that does not exist looks the same as one that is not yours.
    app.by(&rome.manager)
        .calendars("ZZ")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
}

async fn the_catalogue_ships_the_national_types_and_only_admins_edit_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let types = app.public().appointment_types().await.json();
    let types = types.as_array().unwrap();
    let codes: Vec<&str> = types.iter().map(|t| t["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "document_delivery",
            "family_reunification_delivery",
            "information",
            "permit_collection"
        ]
    );
    for t in types {
        assert!(
            t["names"]["it"].is_string() && t["names"]["en"].is_string(),
            "{t}"
        );
        assert!(!t["documents"]["it"].as_array().unwrap().is_empty(), "{t}");
    }
    assert_eq!(
        types[0]["names"]["it"],
        "Acquisizione documentazione e firma del contratto di soggiorno"
    );

    let admin = app.admin_token().await;
    let national = app.by(&admin);
    let new_type = json!({
        "code": "citizenship_information", "default_duration_minutes": 20,
        "names": {
            "it": "Informazioni sulla cittadinanza",
            "en": "Citizenship information",
            "ar": "معلومات الجنسية",
        },
        "documents": {"it": ["Passaporto"]}
    });
    let created = national.create_type(&new_type).await.created();
    assert_eq!(created["names"]["ar"], "معلومات الجنسية");
    national
        .create_type(&new_type)
        .await
        .problem(StatusCode::CONFLICT, "type_code_taken");

    let no_italian =
        json!({"code": "x_type", "default_duration_minutes": 1000, "names": {"en": "X"}});
    assert_eq!(
        national.create_type(&no_italian).await.invalid_fields(),
        ["names.it", "default_duration_minutes"]
    );

    let manager = app.manager("RM").await;
    app.by(&manager)
        .create_type(&new_type)
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    let shorter = json!({"default_duration_minutes": 10});
    let patched = national.update_type("information", &shorter).await.json();
    assert_eq!(patched["default_duration_minutes"], 10);
    national
        .update_type("nothing", &json!({}))
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
}

async fn every_configuration_change_is_in_the_audit_log(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;
    let monday = september_monday();
    publish(&app, &rome.manager, monday, monday).await;
    set_stage(&app, "RM", "pilot").await;

    let office = app.by(&rome.manager);
    let log = office.audit("RM", "").await.json();
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "office.stage",
            "slots.publish",
            "calendar.hours",
            "calendar.create",
            "service.put",
            "office.create"
        ]
    );
    let stage = &log[0];
    assert_eq!(
        (&stage["before"], &stage["after"]),
        (&json!({"stage": "draft"}), &json!({"stage": "pilot"}))
    );
    assert_eq!(stage["actor_email"], "admin@interno.it");
    assert_eq!(log[1]["actor_email"], "manager.rm@prefettura.it");
    assert_eq!(log[1]["after"]["created"], 11);
    assert_eq!(log[2]["before"], json!([]));
    assert_eq!(log[2]["after"].as_array().unwrap().len(), 10);

    // Pages, newest first.
    let first = office.audit("RM", "limit=2").await.json();
    let before = first[1]["id"].as_i64().unwrap();
    let query = format!("limit=2&before={before}");
    let next = office.audit("RM", &query).await.json();
    assert_eq!(next[0]["action"], "calendar.hours");

    // The national log has every office's entries, and is for admins only.
    let admin = app.admin_token().await;
    let national = app.by(&admin).national_audit("limit=500").await.json();
    assert!(
        national
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "office.create" && e["office_code"] == "RM")
    );
    office
        .national_audit("")
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    let problem = app
        .by(&admin)
        .national_audit("limit=0")
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&problem)[0].0, "limit");
}
