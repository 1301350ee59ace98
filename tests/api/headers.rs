//! What every answer tells browsers and proxies: how to treat it, who may frame it, where a
//! link may send the manage token; HEAD where GET is; and the web origins allowed to call us.

use reqwest::{Method, StatusCode};

use crate::{
    client::Api,
    harness::{Backend, spawn_app, spawn_app_with},
};

on_both_databases!(
    every_answer_says_how_to_treat_it_and_swagger_ui_may_load_itself,
    head_answers_wherever_get_does_without_a_body,
    a_large_answer_arrives_whole_and_head_gives_its_length,
    only_configured_origins_may_call_from_a_browser,
);

async fn every_answer_says_how_to_treat_it_and_swagger_ui_may_load_itself(backend: Backend) {
    let app = spawn_app(backend).await;
    let anyone = app.public();
    for reply in [
        anyone.get("/api/v1/offices").await,
        anyone.get("/api/v1/no/such/thing").await,
        anyone.get("/health").await,
    ] {
        assert_eq!(reply.header("x-content-type-options"), "nosniff");
        assert_eq!(reply.header("referrer-policy"), "no-referrer");
        assert_eq!(reply.header("x-frame-options"), "DENY");
        assert_eq!(
            reply.header("content-security-policy"),
            "default-src 'none'; frame-ancestors 'none'"
        );
        assert!(reply.headers.get("strict-transport-security").is_none());
    }
    let docs = anyone.get("/docs/").await;
    assert_eq!(docs.status, StatusCode::OK);
    let policy = docs.header("content-security-policy");
    assert!(
        policy.contains("script-src 'self'") && policy.contains("connect-src 'self'"),
        "{policy}"
    );
    assert!(
        !policy.contains("'unsafe-eval'") && !policy.contains("script-src 'self' 'unsafe-inline'")
    );
    // Swagger UI's page loads only scripts of its own, none inline.
    assert!(
        docs.text()
            .contains("<script src=\"./swagger-ui-bundle.js\"")
    );
    assert!(!docs.text().contains("<script>"));

    // Behind a TLS proxy, browsers are told to keep to HTTPS.
    let tls = spawn_app_with(backend, |s| s.server.hsts_max_age_seconds = 31_536_000).await;
    let reply = tls.public().get("/health").await;
    assert_eq!(
        reply.header("strict-transport-security"),
        "max-age=31536000; includeSubDomains"
    );
}

async fn head_answers_wherever_get_does_without_a_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let anyone = app.public();
    let get = anyone.get("/api/v1/appointment-types").await;
    let head = Api::send(anyone.request(Method::HEAD, "/api/v1/appointment-types")).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header("content-type"), get.header("content-type"));
    assert_eq!(head.header("content-length"), get.bytes.len().to_string());
    assert!(head.bytes.is_empty());
    // A path without GET still says what it takes.
    let login = Api::send(anyone.request(Method::HEAD, "/api/v1/auth/login")).await;
    assert_eq!(login.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(login.header("allow"), "POST");
}

/// Large answers leave in slices (`http/sending.rs`): the client still gets one answer, whole,
/// with its length said up front.
async fn a_large_answer_arrives_whole_and_head_gives_its_length(backend: Backend) {
    let app = spawn_app(backend).await;
    let anyone = app.public();
    let document = anyone.get("/openapi.json").await;
    assert_eq!(document.status, StatusCode::OK);
    assert!(document.bytes.len() > 100_000, "{}", document.bytes.len());
    assert_eq!(
        document.header("content-length"),
        document.bytes.len().to_string()
    );
    assert!(document.json()["paths"]["/api/v1/offices/{code}/availability"].is_object());
    let head = Api::send(anyone.request(Method::HEAD, "/openapi.json")).await;
    assert_eq!(
        head.header("content-length"),
        document.bytes.len().to_string()
    );
    assert!(head.bytes.is_empty());
}

async fn only_configured_origins_may_call_from_a_browser(backend: Backend) {
    let portal = "https://portale.example.it";
    let preflight = |api: &Api, origin: &str| {
        api.request(Method::OPTIONS, "/api/v1/offices/RM/bookings")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, idempotency-key",
            )
    };
    // Off by default: no origin is allowed, and nothing says otherwise.
    let closed = spawn_app(backend).await;
    let answer = Api::send(preflight(&closed.public(), portal)).await;
    assert!(answer.headers.get("access-control-allow-origin").is_none());

    let app = spawn_app_with(backend, |s| s.cors.allowed_origins = vec![portal.into()]).await;
    let answer = Api::send(preflight(&app.public(), portal)).await;
    assert!(answer.status.is_success(), "{}", answer.status);
    assert_eq!(answer.header("access-control-allow-origin"), portal);
    let methods = answer.header("access-control-allow-methods");
    assert!(methods.contains("POST"), "{methods}");
    let allowed = answer.header("access-control-allow-headers").to_lowercase();
    assert!(allowed.contains("idempotency-key"), "{allowed}");
    assert!(
        answer
            .headers
            .get("access-control-allow-credentials")
            .is_none()
    );

    let get = app
        .public()
        .request(Method::GET, "/api/v1/offices")
        .header("origin", portal);
    let answer = Api::send(get).await;
    assert_eq!(answer.header("access-control-allow-origin"), portal);
    assert!(
        answer
            .header("access-control-expose-headers")
            .to_lowercase()
            .contains("retry-after")
    );

    let elsewhere = Api::send(preflight(&app.public(), "https://resell-slots.example.com")).await;
    assert!(
        elsewhere
            .headers
            .get("access-control-allow-origin")
            .is_none()
    );
}
