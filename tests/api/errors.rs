//! Whatever goes wrong, the client gets a problem document it can act on, and never our
//! internals.

use diesel::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::json;
use sportello::store::StoreError;

use crate::helpers::{Backend, assert_problem, field_errors, spawn_app, spawn_app_with};

on_both_databases! {
    async fn unknown_paths_are_404_and_wrong_methods_405_with_allow(backend: Backend) {
        let app = spawn_app(backend).await;
        let (_, body) = assert_problem(app.get("/api/v1/nothing-here", None).await, StatusCode::NOT_FOUND, "not_found").await;
        assert!(body["detail"].as_str().unwrap().contains("/api/v1/nothing-here"));

        let response = app.client.delete(app.url("/api/v1/auth/login")).send().await.unwrap();
        let (headers, _) = assert_problem(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
        assert_eq!(headers["allow"], "POST");
        let response = app.client.put(app.url("/api/v1/staff")).send().await.unwrap();
        let (headers, _) = assert_problem(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
        assert_eq!(headers["allow"], "GET, POST");
        // A path parameter that cannot be an id is a path that does not exist.
        let admin = app.login_as_admin().await;
        let response = app.patch("/api/v1/staff/abc", &json!({"active": false}), Some(&admin)).await;
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }

    async fn broken_or_mistyped_bodies_get_clear_4xx(backend: Backend) {
        let app = spawn_app(backend).await;
        let login = app.url("/api/v1/auth/login");
        let send = |body: &'static str, content_type: &'static str| {
            app.client.post(&login).header("content-type", content_type).body(body).send()
        };

        let (_, body) = assert_problem(send("{\"email\": ", "application/json").await.unwrap(), StatusCode::BAD_REQUEST, "malformed_json").await;
        assert!(body["detail"].as_str().unwrap().contains("line 1"), "{body}");
        assert_problem(send("", "application/json").await.unwrap(), StatusCode::BAD_REQUEST, "malformed_json").await;
        assert_problem(send("email=a&password=b", "application/x-www-form-urlencoded").await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
        let no_type = app.client.post(&login).body("{}").send().await.unwrap();
        assert_problem(no_type, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;

        let (_, body) = assert_problem(send(r#"{"email": 42, "password": "x"}"#, "application/json").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let (field, message) = &field_errors(&body)[0];
        assert_eq!(field, "email");
        assert!(message.contains("expected a string"), "{message}");
        let (_, body) = assert_problem(send(r#"{"email": "a@b.it", "password": "x", "remember": true}"#, "application/json").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(field_errors(&body)[0].0, "remember");
    }

    async fn oversized_bodies_are_refused_with_413(backend: Backend) {
        let app = spawn_app_with(backend, |s| s.server.body_limit_bytes = 1024).await;
        let big = json!({"email": "a@b.it", "password": "x".repeat(2000)});
        let response = app.post("/api/v1/auth/login", &big, None).await;
        let (_, body) = assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
        assert!(body["detail"].as_str().unwrap().contains("1024 bytes"));

        // Also when the client streams it without announcing the length.
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..8).map(|_| Ok(vec![b' '; 512])).collect();
        let stream = futures_util::stream::iter(chunks);
        let response = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    }

    async fn an_unexpected_failure_is_a_bare_500_with_a_request_id(backend: Backend) {
        let app = spawn_app(backend).await;
        // Break the database under the running service.
        app.store
            .read(|conn| -> Result<(), StoreError> {
                diesel::sql_query("DROP TABLE login_attempts").execute(conn)?;
                Ok(())
            })
            .await
            .unwrap();

        let response = app.login("anna@interno.it", "whatever it is").await;
        let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(!request_id.is_empty());
        let (_, body) = assert_problem(response, StatusCode::INTERNAL_SERVER_ERROR, "internal_error").await;
        let text = body.to_string().to_lowercase();
        for internal in ["login_attempts", "table", "relation", "diesel", "sql"] {
            assert!(!text.contains(internal), "{internal:?} leaked in {body}");
        }
    }

    async fn every_response_carries_a_request_id_and_a_proxy_id_is_kept(backend: Backend) {
        let app = spawn_app(backend).await;
        let first = app.get("/health", None).await.headers()["x-request-id"].clone();
        let second = app.get("/health", None).await.headers()["x-request-id"].clone();
        assert_ne!(first, second);
        let from_proxy = app.client.get(app.url("/nowhere")).header("x-request-id", "lb-7f3a-01").send().await.unwrap();
        assert_eq!(from_proxy.headers()["x-request-id"], "lb-7f3a-01");
        let hostile = app.client.get(app.url("/health")).header("x-request-id", "a b <script>").send().await.unwrap();
        assert_ne!(hostile.headers()["x-request-id"], "a b <script>");
    }
}
