//! What the platform team watches: liveness, readiness and metrics.

use diesel::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::Value;
use sportello::store::StoreError;

use crate::helpers::{Backend, assert_problem, spawn_app, spawn_app_with};

on_both_databases! {
    async fn a_fresh_service_is_alive_and_ready(backend: Backend) {
        let app = spawn_app(backend).await;
        let health = app.get("/health", None).await;
        assert_eq!(health.status(), StatusCode::OK);
        assert_eq!(health.json::<Value>().await.unwrap()["status"], "ok");
        let ready = app.get("/ready", None).await;
        assert_eq!(ready.status(), StatusCode::OK);
        assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");
    }

    async fn not_ready_while_the_database_lacks_a_migration(backend: Backend) {
        let app = spawn_app(backend).await;
        app.store
            .read(|conn| -> Result<(), StoreError> {
                diesel::sql_query("DELETE FROM __diesel_schema_migrations").execute(conn)?;
                Ok(())
            })
            .await
            .unwrap();
        let (_, body) = assert_problem(app.get("/ready", None).await, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
        assert!(body["detail"].as_str().unwrap().contains("migrations"));
        // Alive all the same: a restart would not help.
        assert_eq!(app.get("/health", None).await.status(), StatusCode::OK);
    }

    async fn metrics_count_requests_by_route_and_status(backend: Backend) {
        let app = spawn_app(backend).await;
        for _ in 0..3 {
            app.get("/health", None).await;
        }
        app.get("/api/v1/no/such/thing", None).await;
        app.login("anna@interno.it", "wrong password").await;

        let response = app.get("/metrics", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        let text = response.text().await.unwrap();
        assert!(text.contains(r#"sportello_http_requests_total{method="GET",route="/health",status="200"} 3"#), "{text}");
        assert!(text.contains(r#"sportello_http_requests_total{method="POST",route="/api/v1/auth/login",status="401"} 1"#), "{text}");
        // Unknown paths share one label instead of one series per URL.
        assert!(text.contains(r#"sportello_http_requests_total{method="GET",route="unmatched",status="404"} 1"#), "{text}");
        assert!(text.contains(r#"sportello_http_request_duration_seconds_bucket{method="GET",route="/health",status="200",le="0.005"}"#), "{text}");
        assert!(text.contains(r#"sportello_http_request_duration_seconds_count{method="GET",route="/health",status="200"} 3"#), "{text}");
        assert!(text.contains("sportello_db_pool_connections "), "{text}");
    }
}

/// PostgreSQL only: an SQLite database is a file the process already holds open, so it cannot
/// go away under a running service the way a database server can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_when_the_postgres_database_is_gone() {
    if !crate::helpers::selected(Backend::Postgres) {
        return;
    }
    let app = spawn_app_with(Backend::Postgres, |s| s.database.pool_timeout_seconds = 1).await;
    assert_eq!(app.get("/ready", None).await.status(), StatusCode::OK);
    app.database.drop_postgres_database();
    let response = app.get("/ready", None).await;
    let (_, body) = assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{body}"
    );
    assert_eq!(app.get("/health", None).await.status(), StatusCode::OK);
}
