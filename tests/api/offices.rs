//! The national administration creates offices, keeps the catalogue and moves offices through
//! the rollout; each office sees only its own data; every change is in the audit log.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    agenda::{configure_rome, date, monday_of, next_year, publish},
    helpers::{Backend, assert_problem, field_errors, spawn_app},
};

on_both_databases! {
    async fn offices_are_created_with_checked_details_and_unique_codes(backend: Backend) {
        let app = spawn_app(backend).await;
        let office = app.create_office("RM").await;
        assert_eq!(office["stage"], "draft");
        assert_eq!(office["timezone"], "Europe/Rome");
        assert_eq!(office["patron_day"], "06-29");
        assert_eq!(office["languages"], json!(["it", "en"]));

        let admin = app.admin_token().await;
        let again = app
            .post("/api/v1/offices", &json!({"code": "rm", "name": "Roma 2", "address": "Via X 1", "city": "Roma", "province": "RM"}), Some(&admin))
            .await;
        assert_problem(again, StatusCode::CONFLICT, "office_code_taken").await;

        let bad = json!({
            "code": "R-M", "name": "", "address": "Via X 1", "city": "Roma", "province": "RM",
            "latitude": 100.0, "timezone": "Europe/Milano", "patron_day": "13-40", "languages": ["italiano"],
            "email": "not-an-email", "phone": "call me"
        });
        let (_, problem) = assert_problem(app.post("/api/v1/offices", &bad, Some(&admin)).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let fields: Vec<String> = field_errors(&problem).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["name", "latitude", "timezone", "email", "phone", "languages[0]", "patron_day", "code"]);

        // The manager edits the details; null clears an optional field.
        let manager = app.login_as_manager("RM").await;
        let patched = app
            .patch("/api/v1/offices/RM", &json!({"phone": "+39 06 4650 1", "patron_day": null, "timezone": "Europe/Rome"}), Some(&manager))
            .await;
        assert_eq!(patched.status(), StatusCode::OK);
        let patched: Value = patched.json().await.unwrap();
        assert_eq!((patched["phone"].as_str(), &patched["patron_day"]), (Some("+39 06 4650 1"), &Value::Null));
        assert_eq!(patched["name"], office["name"]);
        let operator = app.login_as_operator("RM").await;
        assert_problem(app.patch("/api/v1/offices/RM", &json!({"name": "X"}), Some(&operator)).await, StatusCode::FORBIDDEN, "forbidden").await;
        assert_problem(app.post("/api/v1/offices", &bad, Some(&manager)).await, StatusCode::FORBIDDEN, "forbidden").await;
    }

    async fn only_pilot_and_live_offices_are_public_and_preview_is_for_its_own_staff(backend: Backend) {
        let app = spawn_app(backend).await;
        for (code, stage) in [("RM", "pilot"), ("LT", "preview"), ("MI", "draft"), ("NA", "live"), ("TO", "suspended")] {
            app.create_office(code).await;
            if stage != "draft" {
                app.set_stage(code, stage).await;
            }
        }
        let codes = |offices: Value| offices.as_array().unwrap().iter().map(|o| o["code"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
        assert_eq!(codes(app.get("/api/v1/offices", None).await.json().await.unwrap()), ["NA", "RM"]);

        let latina = app.login_as_operator("LT").await;
        assert_eq!(codes(app.get("/api/v1/offices", Some(&latina)).await.json().await.unwrap()), ["LT", "NA", "RM"]);
        let admin = app.admin_token().await;
        assert_eq!(codes(app.get("/api/v1/offices", Some(&admin)).await.json().await.unwrap()), ["LT", "MI", "NA", "RM", "TO"]);

        assert_problem(app.get("/api/v1/offices/LT", None).await, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(app.get("/api/v1/offices/LT", Some(&latina)).await.status(), StatusCode::OK);
        let rome = app.login_as_manager("RM").await;
        assert_problem(app.get("/api/v1/offices/LT", Some(&rome)).await, StatusCode::NOT_FOUND, "not_found").await;
        assert_problem(app.get("/api/v1/offices/TO", None).await, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(app.get("/api/v1/offices/RM", None).await.status(), StatusCode::OK);
        // An invalid token is not treated as no token.
        let forged = app.client.get(app.url("/api/v1/offices")).bearer_auth("forged").send().await.unwrap();
        assert_problem(forged, StatusCode::UNAUTHORIZED, "unauthorized").await;

        // Only the administration moves stages.
        let response = app.post("/api/v1/offices/RM/stage", &json!({"stage": "live"}), Some(&rome)).await;
        assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
        let response = app.post("/api/v1/offices/RM/stage", &json!({"stage": "open"}), Some(&admin)).await;
        let (_, problem) = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(field_errors(&problem)[0].0, "stage");
    }

    async fn staff_of_another_office_find_nothing_and_operators_only_read(backend: Backend) {
        let app = spawn_app(backend).await;
        let (rome_manager, calendar) = configure_rome(&app).await;
        let rome_operator = app.login_as_operator("RM").await;
        let latina = app.login_as_manager("LT").await;

        let reads = [
            "/api/v1/offices/RM/services".to_owned(),
            "/api/v1/offices/RM/calendars".to_owned(),
            "/api/v1/offices/RM/slots".to_owned(),
            "/api/v1/offices/RM/closures".to_owned(),
            "/api/v1/offices/RM/audit".to_owned(),
        ];
        for path in &reads {
            assert_problem(app.get(path, Some(&latina)).await, StatusCode::NOT_FOUND, "not_found").await;
        }
        for path in &reads[..4] {
            assert_eq!(app.get(path, Some(&rome_operator)).await.status(), StatusCode::OK, "{path}");
        }
        assert_problem(app.get(&reads[4], Some(&rome_operator)).await, StatusCode::FORBIDDEN, "forbidden").await;

        let monday = monday_of(date(next_year(), 9, 15));
        let writes = [
            ("/api/v1/offices/RM/services/information".to_owned(), "PUT", json!({})),
            ("/api/v1/offices/RM/calendars".to_owned(), "POST", json!({"name": "X", "desks": 1, "service_codes": ["document_delivery"]})),
            (format!("/api/v1/offices/RM/calendars/{calendar}"), "PATCH", json!({"desks": 9})),
            (format!("/api/v1/offices/RM/calendars/{calendar}/hours"), "PUT", json!([])),
            ("/api/v1/offices/RM/closures".to_owned(), "POST", json!({"from": monday, "to": monday, "reason": "x"})),
            ("/api/v1/offices/RM/slots/publish".to_owned(), "POST", json!({"days": 7})),
        ];
        for (path, method, body) in &writes {
            let send = |token: &crate::helpers::Token| {
                let request = match *method {
                    "PUT" => app.client.put(app.url(path)),
                    "PATCH" => app.client.patch(app.url(path)),
                    _ => app.client.post(app.url(path)),
                };
                request.bearer_auth(&token.0).json(body).send()
            };
            assert_problem(send(&latina).await.unwrap(), StatusCode::NOT_FOUND, "not_found").await;
            assert_problem(send(&rome_operator).await.unwrap(), StatusCode::FORBIDDEN, "forbidden").await;
        }
        // Nothing changed: the calendar still has three desks and its hours.
        let calendars: Value = app.get("/api/v1/offices/RM/calendars", Some(&rome_manager)).await.json().await.unwrap();
        assert_eq!(calendars.as_array().unwrap().len(), 1);
        assert_eq!(calendars[0]["desks"], 3);
        assert_eq!(calendars[0]["hours"].as_array().unwrap().len(), 10);
        // An office that does not exist looks the same as one that is not yours.
        assert_problem(app.get("/api/v1/offices/ZZ/calendars", Some(&rome_manager)).await, StatusCode::NOT_FOUND, "not_found").await;
    }

    async fn the_catalogue_ships_the_national_types_and_only_admins_edit_it(backend: Backend) {
        let app = spawn_app(backend).await;
        let types: Value = app.get("/api/v1/appointment-types", None).await.json().await.unwrap();
        let codes: Vec<&str> = types.as_array().unwrap().iter().map(|t| t["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["document_delivery", "family_reunification_delivery", "information", "permit_collection"]);
        for t in types.as_array().unwrap() {
            assert!(t["names"]["it"].is_string() && t["names"]["en"].is_string(), "{t}");
            assert!(!t["documents"]["it"].as_array().unwrap().is_empty(), "{t}");
        }
        assert_eq!(types[0]["names"]["it"], "Acquisizione documentazione e firma del contratto di soggiorno");

        let admin = app.admin_token().await;
        let new_type = json!({
            "code": "citizenship_information", "default_duration_minutes": 20,
            "names": {"it": "Informazioni sulla cittadinanza", "en": "Citizenship information", "ar": "معلومات الجنسية"},
            "documents": {"it": ["Passaporto"]}
        });
        let created = app.post("/api/v1/appointment-types", &new_type, Some(&admin)).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        assert_eq!(created.json::<Value>().await.unwrap()["names"]["ar"], "معلومات الجنسية");
        assert_problem(app.post("/api/v1/appointment-types", &new_type, Some(&admin)).await, StatusCode::CONFLICT, "type_code_taken").await;

        let no_italian = json!({"code": "x_type", "default_duration_minutes": 1000, "names": {"en": "X"}});
        let (_, problem) = assert_problem(app.post("/api/v1/appointment-types", &no_italian, Some(&admin)).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let fields: Vec<String> = field_errors(&problem).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["names.it", "default_duration_minutes"]);

        let manager = app.login_as_manager("RM").await;
        assert_problem(app.post("/api/v1/appointment-types", &new_type, Some(&manager)).await, StatusCode::FORBIDDEN, "forbidden").await;
        let patched = app.patch("/api/v1/appointment-types/information", &json!({"default_duration_minutes": 10}), Some(&admin)).await;
        assert_eq!(patched.json::<Value>().await.unwrap()["default_duration_minutes"], 10);
        assert_problem(app.patch("/api/v1/appointment-types/nothing", &json!({}), Some(&admin)).await, StatusCode::NOT_FOUND, "not_found").await;
    }

    async fn every_configuration_change_is_in_the_audit_log(backend: Backend) {
        let app = spawn_app(backend).await;
        let (manager, _) = configure_rome(&app).await;
        let monday = monday_of(date(next_year(), 9, 15));
        publish(&app, &manager, monday, monday).await;
        app.set_stage("RM", "pilot").await;

        let log: Vec<Value> = app.get("/api/v1/offices/RM/audit", Some(&manager)).await.json().await.unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["office.stage", "slots.publish", "calendar.hours", "calendar.create", "service.put", "office.create"]);
        let stage = &log[0];
        assert_eq!((&stage["before"], &stage["after"]), (&json!({"stage": "draft"}), &json!({"stage": "pilot"})));
        assert_eq!(stage["actor_email"], "admin@interno.it");
        assert_eq!(log[1]["actor_email"], "manager.rm@prefettura.it");
        assert_eq!(log[1]["after"]["created"], 11);
        assert_eq!(log[2]["before"], json!([]));
        assert_eq!(log[2]["after"].as_array().unwrap().len(), 10);

        // Pages, newest first.
        let first: Vec<Value> = app.get("/api/v1/offices/RM/audit?limit=2", Some(&manager)).await.json().await.unwrap();
        let before = first[1]["id"].as_i64().unwrap();
        let next: Vec<Value> = app.get(&format!("/api/v1/offices/RM/audit?limit=2&before={before}"), Some(&manager)).await.json().await.unwrap();
        assert_eq!(next[0]["action"], "calendar.hours");

        // The national log has every office's entries, and is for admins only.
        let admin = app.admin_token().await;
        let national: Vec<Value> = app.get("/api/v1/audit?limit=500", Some(&admin)).await.json().await.unwrap();
        assert!(national.iter().any(|e| e["action"] == "office.create" && e["office_code"] == "RM"));
        assert_problem(app.get("/api/v1/audit", Some(&manager)).await, StatusCode::FORBIDDEN, "forbidden").await;
        let (_, problem) = assert_problem(app.get("/api/v1/audit?limit=0", Some(&admin)).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(field_errors(&problem)[0].0, "limit");
    }
}
