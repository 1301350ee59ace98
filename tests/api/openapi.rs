//! The OpenAPI document in the repository is the one the code generates and the one served.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Backend, spawn_app};

const COMMITTED: &str = include_str!("../../openapi/openapi.json");

#[test]
fn the_committed_document_is_what_the_handlers_generate() {
    let generated = serde_json::to_string_pretty(&sportello::http::openapi()).unwrap() + "\n";
    assert!(
        generated == COMMITTED,
        "openapi/openapi.json is out of date: run \
         `cargo run -q -- openapi > openapi/openapi.json` and commit it"
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

on_both_databases!(the_service_serves_the_document_and_swagger_ui);

async fn the_service_serves_the_document_and_swagger_ui(backend: Backend) {
    let app = spawn_app(backend).await;
    let anyone = app.public();
    let served = anyone.get("/openapi.json").await.json();
    assert_eq!(served, serde_json::from_str::<Value>(COMMITTED).unwrap());

    let redirect = anyone.get("/docs").await;
    assert_eq!(redirect.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(redirect.header("location"), "/docs/");
    let page = anyone.get("/docs/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("swagger-ui"));
    let initializer = anyone.get("/docs/swagger-initializer.js").await.text();
    assert!(initializer.contains("/openapi.json"), "{initializer}");
}
