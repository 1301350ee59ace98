//! The national administration appoints office managers; managers add their operators.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, assert_problem, field_errors, spawn_app};

fn new_staff(email: &str, role: &str, office: Option<&str>) -> Value {
    json!({"email": email, "password": PASSWORD, "role": role, "office_code": office})
}

on_both_databases! {
    async fn an_admin_appoints_a_manager_who_adds_an_operator_who_can_log_in(backend: Backend) {
        let app = spawn_app(backend).await;
        app.create_office("RM").await;
        let admin = app.login_as_admin().await;

        let response = app.post("/api/v1/staff", &new_staff("Giulia@Prefettura.it", "manager", Some("rm")), Some(&admin)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let manager: Value = response.json().await.unwrap();
        assert_eq!(manager["email"], "giulia@prefettura.it");
        assert_eq!(manager["role"], "manager");
        assert_eq!(manager["office_code"], "RM");
        assert_eq!(manager["active"], true);
        assert!(manager.get("password").is_none() && manager.get("password_hash").is_none());

        let giulia = app.token_for("giulia@prefettura.it", PASSWORD).await;
        let response = app.post("/api/v1/staff", &new_staff("luca@prefettura.it", "operator", Some("RM")), Some(&giulia)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let luca = app.token_for("luca@prefettura.it", PASSWORD).await;
        let me: Value = app.get("/api/v1/auth/me", Some(&luca)).await.json().await.unwrap();
        assert_eq!((me["role"].as_str(), me["office_code"].as_str()), (Some("operator"), Some("RM")));
    }

    async fn managers_and_operators_cannot_hand_out_more_than_they_may(backend: Backend) {
        let app = spawn_app(backend).await;
        app.create_office("LT").await;
        let manager = app.login_as_manager("RM").await;
        let operator = app.login_as_operator("RM").await;

        let cases = [
            (&manager, new_staff("m2@prefettura.it", "manager", Some("RM")), "a second manager"),
            (&manager, new_staff("a2@interno.it", "admin", None), "an admin"),
            (&manager, new_staff("o2@prefettura.it", "operator", Some("LT")), "another office's operator"),
            (&operator, new_staff("o3@prefettura.it", "operator", Some("RM")), "anyone, as operator"),
        ];
        for (token, body, case) in cases {
            let response = app.post("/api/v1/staff", &body, Some(token)).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{case}");
            assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
        }
        // Nobody was created by the refused requests.
        let admin = app.login_as_admin().await;
        let all: Value = app.get("/api/v1/staff", Some(&admin)).await.json().await.unwrap();
        assert_eq!(all.as_array().unwrap().len(), 3);
        // Without a token nothing happens at all.
        let anonymous = app.post("/api/v1/staff", &new_staff("x@prefettura.it", "operator", Some("RM")), None).await;
        assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }

    async fn emails_are_unique_whatever_their_case(backend: Backend) {
        let app = spawn_app(backend).await;
        app.create_office("RM").await;
        let admin = app.login_as_admin().await;
        let first = app.post("/api/v1/staff", &new_staff("luca@prefettura.it", "operator", Some("RM")), Some(&admin)).await;
        assert_eq!(first.status(), StatusCode::CREATED);
        let again = app.post("/api/v1/staff", &new_staff("LUCA@Prefettura.IT", "manager", Some("RM")), Some(&admin)).await;
        let (_, body) = assert_problem(again, StatusCode::CONFLICT, "email_taken").await;
        assert!(body["detail"].as_str().unwrap().contains("luca@prefettura.it"));
    }

    async fn every_bad_field_is_named_in_one_answer(backend: Backend) {
        let app = spawn_app(backend).await;
        let admin = app.login_as_admin().await;

        let response = app
            .post("/api/v1/staff", &json!({"email": "luca", "password": "short", "role": "operator", "office_code": "R-M"}), Some(&admin))
            .await;
        let (_, body) = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let fields: Vec<String> = field_errors(&body).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["email", "password", "office_code"]);

        let cases = [
            (new_staff("a@x.it", "operator", None), "office_code", "is required for managers and operators"),
            (new_staff("a@x.it", "admin", Some("RM")), "office_code", "must be empty for admins, who are national"),
            (new_staff("a@x.it", "operator", Some("ZZ")), "office_code", "no office has this code"),
        ];
        for (body, field, message) in cases {
            let response = app.post("/api/v1/staff", &body, Some(&admin)).await;
            let (_, problem) = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert_eq!(field_errors(&problem), vec![(field.to_owned(), message.to_owned())]);
        }

        let response = app.post("/api/v1/staff", &new_staff("a@x.it", "boss", Some("RM")), Some(&admin)).await;
        let (_, problem) = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let (field, message) = &field_errors(&problem)[0];
        assert_eq!(field, "role");
        assert!(message.contains("unknown variant `boss`") && message.contains("`operator`"), "{message}");
    }

    async fn managers_see_and_manage_only_their_own_office(backend: Backend) {
        let app = spawn_app(backend).await;
        let admin = app.login_as_admin().await;
        let rome = app.login_as_manager("RM").await;
        app.login_as_operator("RM").await;
        app.login_as_operator("LT").await;

        let everyone: Value = app.get("/api/v1/staff", Some(&admin)).await.json().await.unwrap();
        assert_eq!(everyone.as_array().unwrap().len(), 4);
        let romans: Value = app.get("/api/v1/staff", Some(&rome)).await.json().await.unwrap();
        let emails: Vec<&str> = romans.as_array().unwrap().iter().map(|s| s["email"].as_str().unwrap()).collect();
        assert_eq!(emails, ["manager.rm@prefettura.it", "operator.rm@prefettura.it"]);

        let id_of = |email: &str| everyone.as_array().unwrap().iter().find(|s| s["email"] == email).unwrap()["id"].as_i64().unwrap();
        // Latina's operator does not exist as far as Rome's manager can tell.
        let latina = app.patch(&format!("/api/v1/staff/{}", id_of("operator.lt@prefettura.it")), &json!({"active": false}), Some(&rome)).await;
        assert_problem(latina, StatusCode::NOT_FOUND, "not_found").await;
        let missing = app.patch("/api/v1/staff/999999", &json!({"active": false}), Some(&rome)).await;
        assert_problem(missing, StatusCode::NOT_FOUND, "not_found").await;
        let own = app.patch(&format!("/api/v1/staff/{}", id_of("operator.rm@prefettura.it")), &json!({"active": false}), Some(&rome)).await;
        assert_eq!(own.status(), StatusCode::OK);
        assert_eq!(own.json::<Value>().await.unwrap()["active"], false);

        // Nobody locks themselves out.
        let me = app.patch(&format!("/api/v1/staff/{}", id_of("admin@interno.it")), &json!({"active": false}), Some(&admin)).await;
        assert_problem(me, StatusCode::CONFLICT, "cannot_deactivate_self").await;
        // Operators cannot list accounts.
        let operator = app.token_for("operator.lt@prefettura.it", PASSWORD).await;
        assert_problem(app.get("/api/v1/staff", Some(&operator)).await, StatusCode::FORBIDDEN, "forbidden").await;
    }

    async fn concurrent_writers_queue_instead_of_failing(backend: Backend) {
        let app = spawn_app(backend).await;
        app.create_office("RM").await;
        let admin = app.login_as_admin().await;

        // Each creation is a transaction that reads (the office) and then writes (the account);
        // twenty at once all succeed (see store.rs for two processes on one SQLite file).
        let distinct = (0..20).map(|i| {
            let body = new_staff(&format!("op{i}@prefettura.it"), "operator", Some("RM"));
            let admin = admin.clone();
            let app = &app;
            async move { app.post("/api/v1/staff", &body, Some(&admin)).await.status() }
        });
        let statuses = futures_util::future::join_all(distinct).await;
        assert!(statuses.iter().all(|s| *s == StatusCode::CREATED), "{statuses:?}");

        // Twenty at once for the same email: one account, nineteen clear conflicts.
        let same = (0..20).map(|_| {
            let body = new_staff("same@prefettura.it", "operator", Some("RM"));
            let admin = admin.clone();
            let app = &app;
            async move { app.post("/api/v1/staff", &body, Some(&admin)).await.status() }
        });
        let statuses = futures_util::future::join_all(same).await;
        let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
        let conflicts = statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count();
        assert_eq!((created, conflicts), (1, 19), "{statuses:?}");

        let everyone: Value = app.get("/api/v1/staff", Some(&admin)).await.json().await.unwrap();
        assert_eq!(everyone.as_array().unwrap().len(), 22);
    }
}
