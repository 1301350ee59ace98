//! What the platform team watches: liveness, readiness and metrics.

use diesel::RunQueryDsl;
use reqwest::StatusCode;
use sportello::store::StoreError;

use crate::{
    fixtures::{applicant, open_rome},
    harness::{Backend, selected, spawn_app, spawn_app_with},
};

on_both_databases!(
    a_fresh_service_is_alive_and_ready,
    not_ready_while_the_database_lacks_a_migration,
    metrics_count_requests_by_route_and_status,
    a_stuck_mail_worker_makes_the_instance_not_ready,
    metrics_are_for_the_platform_team_not_the_public,
);

async fn a_fresh_service_is_alive_and_ready(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.public().get("/health").await.ok()["status"], "ok");
    assert_eq!(app.public().get("/ready").await.ok()["status"], "ready");
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
    let body = app
        .public()
        .get("/ready")
        .await
        .problem(StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    assert!(body["detail"].as_str().unwrap().contains("migrations"));
    // Alive all the same: a restart would not help.
    assert_eq!(app.public().get("/health").await.status, StatusCode::OK);
}

async fn metrics_count_requests_by_route_and_status(backend: Backend) {
    let app = spawn_app(backend).await;
    let anyone = app.public();
    for _ in 0..3 {
        anyone.get("/health").await;
    }
    anyone.get("/api/v1/no/such/thing").await;
    app.login("anna@interno.it", "wrong password").await;

    let admin = app.admin_token().await;
    let metrics = app.by(&admin).get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.header("content-type").starts_with("text/plain"));
    let text = metrics.text();
    let lines = [
        r#"sportello_http_requests_total{method="GET",route="/health",status="200"} 3"#,
        r#"sportello_http_requests_total{method="POST",route="/api/v1/auth/login",status="401"} 1"#,
        // Unknown paths share one label instead of one series per URL.
        r#"sportello_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"sportello_http_request_duration_seconds_bucket{method="GET",route="/health",status="200",le="0.005"}"#,
        r#"sportello_http_request_duration_seconds_count{method="GET",route="/health",status="200"} 3"#,
        "sportello_db_pool_connections ",
        r#"sportello_worker_up{worker="housekeeping"} 1"#,
        r#"sportello_worker_restarts_total{worker="housekeeping"} 0"#,
    ];
    for line in lines {
        assert!(text.contains(line), "{text}");
    }
}

/// PostgreSQL only: an SQLite database is a file the process already holds open, so it cannot
/// go away under a running service the way a database server can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_when_the_postgres_database_is_gone() {
    if !selected(Backend::Postgres) {
        return;
    }
    let app = spawn_app_with(Backend::Postgres, |s| s.database.pool_timeout_seconds = 1).await;
    assert_eq!(app.public().get("/ready").await.status, StatusCode::OK);
    app.database.drop_postgres_database();
    let body = app
        .public()
        .get("/ready")
        .await
        .problem(StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{body}"
    );
    assert_eq!(app.public().get("/health").await.status, StatusCode::OK);
}

/// A mail server that accepts connections and never says a word.
fn silent_mail_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for connection in listener.incoming().flatten() {
            held.push(connection);
        }
    });
    port
}

async fn a_stuck_mail_worker_makes_the_instance_not_ready(backend: Backend) {
    let port = silent_mail_server();
    let app = spawn_app_with(backend, |s| {
        s.mail.worker_enabled = true;
        s.mail.poll_interval_ms = 50;
        s.mail.smtp_host = "127.0.0.1".into();
        s.mail.smtp_port = port;
        s.mail.smtp_security = sportello::config::SmtpSecurity::None;
        s.mail.smtp_timeout_seconds = 60;
        s.workers.stuck_after_seconds = 1;
    })
    .await;
    let anyone = app.public();
    assert_eq!(anyone.get("/ready").await.ok()["status"], "ready");

    // A confirmation to send, to a server that never answers: the round does not end.
    let rome = open_rome(&app).await;
    anyone
        .book("RM", &applicant(&rome.slots[0], 1))
        .await
        .created();
    let mut ready = anyone.get("/ready").await;
    for _ in 0..100 {
        if ready.status != StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        ready = anyone.get("/ready").await;
    }
    let problem = ready.problem(StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("the mail worker has not finished a round"),
        "{problem}"
    );
    // Alive all the same, and the metrics say which worker.
    assert_eq!(anyone.get("/health").await.status, StatusCode::OK);
    let admin = app.admin_token().await;
    let metrics = app.by(&admin).get("/metrics").await.text();
    assert!(
        metrics.contains(r#"sportello_worker_up{worker="mail"} 0"#),
        "{metrics}"
    );
}

async fn metrics_are_for_the_platform_team_not_the_public(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.metrics.token = "scrape-token-from-the-vault".to_owned().into();
        s.metrics.listen = "127.0.0.1:0".into();
    })
    .await;
    let anyone = app.public();
    anyone
        .get("/metrics")
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    let manager = app.manager("RM").await;
    app.by(&manager)
        .get("/metrics")
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    let scraper = crate::harness::Token("scrape-token-from-the-vault".into());
    let scraped = app.by(&scraper).get("/metrics").await;
    assert_eq!(scraped.status, StatusCode::OK);
    assert!(scraped.text().contains("sportello_http_requests_total"));
    let wrong = crate::harness::Token("scrape-token-from-the-vault!".into());
    app.by(&wrong)
        .get("/metrics")
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");

    // The separate listener serves them to whoever can reach it, and nothing else.
    let port = app.metrics_port.expect("a metrics listener");
    let inside = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(inside.status(), StatusCode::OK);
    assert!(
        inside
            .text()
            .await
            .unwrap()
            .contains("sportello_db_pool_connections")
    );
    let api = app
        .client
        .get(format!("http://127.0.0.1:{port}/api/v1/offices"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
}
