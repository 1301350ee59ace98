//! The OpenAPI document in the repository is the one the code generates and the one served.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, spawn_app};

const COMMITTED: &str = include_str!("../../openapi/openapi.json");

#[test]
fn the_committed_document_is_what_the_handlers_generate() {
    let generated = serde_json::to_string_pretty(&sportello::http::openapi()).unwrap() + "\n";
    assert!(
        generated == COMMITTED,
        "openapi/openapi.json is out of date: run `cargo run -q -- openapi > openapi/openapi.json` and commit it"
    );
}

#[test]
fn the_document_describes_the_public_contract() {
    let doc: Value = serde_json::from_str(COMMITTED).unwrap();
    for (path, method) in [
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/me", "get"),
        ("/api/v1/staff", "post"),
        ("/health", "get"),
        ("/ready", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is documented"
        );
    }
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(
        (bearer["scheme"].as_str(), bearer["bearerFormat"].as_str()),
        (Some("bearer"), Some("JWT"))
    );
    assert_eq!(
        doc["paths"]["/api/v1/auth/me"]["get"]["security"][0]["bearer"],
        Value::Array(vec![])
    );
    assert!(doc["components"]["schemas"]["Problem"]["properties"]["code"].is_object());
}

on_both_databases! {
    async fn the_service_serves_the_document_and_swagger_ui(backend: Backend) {
        let app = spawn_app(backend).await;
        let served: Value = app.get("/openapi.json", None).await.json().await.unwrap();
        assert_eq!(served, serde_json::from_str::<Value>(COMMITTED).unwrap());

        let redirect = app.get("/docs", None).await;
        assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(redirect.headers()["location"], "/docs/");
        let page = app.get("/docs/", None).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("swagger-ui"));
        let initializer = app.get("/docs/swagger-initializer.js", None).await.text().await.unwrap();
        assert!(initializer.contains("/openapi.json"), "{initializer}");
    }
}
