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

/// What the edge can answer on any route is in the document, so a client generated from it
/// knows every status it may get.
#[test]
fn every_operation_declares_what_the_edge_can_answer() {
    let doc: Value = serde_json::from_str(COMMITTED).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let declared = |status: &str| operation["responses"].get(status).is_some();
            let name = format!("{} {path}", method.to_uppercase());
            let needs_token = operation["security"]
                .as_array()
                .is_some_and(|requirements| !requirements.is_empty());
            if needs_token {
                assert!(declared("401"), "{name} lacks 401");
            }
            if operation.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(declared(status), "{name} lacks {status}");
                }
            }
            if path != "/health" {
                assert!(declared("503"), "{name} lacks 503");
            }
            if !["/health", "/ready", "/metrics"].contains(&path.as_str()) {
                assert!(declared("429"), "{name} lacks 429");
            }
        }
    }
    // Each component has a name of its own: no two types share `BTreeMap` or `Status`.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(!schemas.contains_key("BTreeMap"));
    assert!(schemas.contains_key("BookingStatus") && schemas.contains_key("ServiceHealth"));
}

/// A client generated from the document knows that blocking a slot needs a reason
/// (`opening::a_blocked_slot_sells_no_seats_until_unblocked` shows the service refusing it).
#[test]
fn the_document_says_blocking_a_slot_needs_a_reason() {
    let doc: Value = serde_json::from_str(COMMITTED).unwrap();
    let block = &doc["components"]["schemas"]["BlockRequest"];
    assert_eq!(block["required"], serde_json::json!(["blocked"]));
    let rule = &block["allOf"][0];
    assert_eq!(rule["if"]["properties"]["blocked"]["const"], true);
    assert_eq!(rule["then"]["required"], serde_json::json!(["reason"]));
}
