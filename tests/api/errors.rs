//! Whatever goes wrong, the client gets a problem document it can act on, and never our
//! internals.

use diesel::{Connection, RunQueryDsl, connection::SimpleConnection};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sportello::store::StoreError;

use crate::{
    client::{Api, field_errors},
    fixtures::{applicant, assert_seat_counts_match_bookings, configure_rome, open_rome},
    harness::{Backend, spawn_app, spawn_app_with},
};

on_both_databases!(
    unknown_paths_are_404_and_wrong_methods_405_with_allow,
    broken_or_mistyped_bodies_get_clear_4xx,
    oversized_bodies_are_refused_with_413,
    an_unexpected_failure_is_a_bare_500_with_a_request_id,
    every_response_carries_a_request_id_and_a_proxy_id_is_kept,
    dates_beyond_the_years_the_service_keeps_are_refused_not_a_500,
    text_that_would_change_how_the_rest_is_shown_is_refused,
    a_booking_that_cannot_get_the_database_in_time_is_told_to_retry,
    requests_are_read_as_the_openapi_document_says,
);

/// Only PostgreSQL drops connections under a running service (a restart, a failover).
mod connections_the_database_dropped_answer_503_once_and_are_replaced {
    use crate::harness::{Backend, selected};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if selected(Backend::Postgres) {
            super::connections_the_database_dropped_answer_503_once_and_are_replaced().await
        }
    }
}

async fn unknown_paths_are_404_and_wrong_methods_405_with_allow(backend: Backend) {
    let app = spawn_app(backend).await;
    let anyone = app.public();
    let body = anyone
        .get("/api/v1/nothing-here")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("/api/v1/nothing-here")
    );

    let delete_login = anyone.delete("/api/v1/auth/login").await;
    delete_login.problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(delete_login.header("allow"), "POST");
    let put_staff = Api::send(anyone.request(Method::PUT, "/api/v1/staff")).await;
    put_staff.problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(put_staff.header("allow"), "GET, HEAD, POST");
    // A path parameter that cannot be an id is a path that does not exist.
    let admin = app.admin_token().await;
    app.by(&admin)
        .patch("/api/v1/staff/abc", &json!({"active": false}))
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    // Publishing is a resource of its own, not the slot with id `publish`.
    for method in [Method::PATCH, Method::OPTIONS] {
        let request = app
            .by(&admin)
            .request(method, "/api/v1/offices/RM/slots/publish");
        let reply = Api::send(request).await;
        reply.problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        assert_eq!(reply.header("allow"), "POST", "{}", reply.url);
    }
}

async fn broken_or_mistyped_bodies_get_clear_4xx(backend: Backend) {
    let app = spawn_app(backend).await;
    let send = |body: &'static str, content_type: &'static str| {
        let request = app.public().request(Method::POST, "/api/v1/auth/login");
        Api::send(request.header("content-type", content_type).body(body))
    };

    let body = send("{\"email\": ", "application/json")
        .await
        .problem(StatusCode::BAD_REQUEST, "malformed_json");
    assert!(
        body["detail"].as_str().unwrap().contains("line 1"),
        "{body}"
    );
    send("", "application/json")
        .await
        .problem(StatusCode::BAD_REQUEST, "malformed_json");
    send("email=a&password=b", "application/x-www-form-urlencoded")
        .await
        .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let no_type = app
        .public()
        .request(Method::POST, "/api/v1/auth/login")
        .body("{}");
    Api::send(no_type)
        .await
        .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

    let body = send(r#"{"email": 42, "password": "x"}"#, "application/json")
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let (field, message) = &field_errors(&body)[0];
    assert_eq!(field, "email");
    assert!(message.contains("expected a string"), "{message}");
    let remember = r#"{"email": "a@b.it", "password": "x", "remember": true}"#;
    let body = send(remember, "application/json")
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&body)[0].0, "remember");
}

async fn oversized_bodies_are_refused_with_413(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.server.body_limit_bytes = 1024).await;
    let big = json!({"email": "a@b.it", "password": "x".repeat(2000)});
    let body = app
        .public()
        .post("/api/v1/auth/login", &big)
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(body["detail"].as_str().unwrap().contains("1024 bytes"));

    // Also when the client streams it without announcing the length.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b' '; 512])).collect();
    let stream = futures_util::stream::iter(chunks);
    let streamed = app
        .public()
        .request(Method::POST, "/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream));
    Api::send(streamed)
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
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

    let reply = app.login("anna@interno.it", "whatever it is").await;
    let request_id = reply.header("x-request-id").to_owned();
    assert!(!request_id.is_empty());
    let body = reply.problem(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    let text = body.to_string().to_lowercase();
    for internal in ["login_attempts", "table", "relation", "diesel", "sql"] {
        assert!(!text.contains(internal), "{internal:?} leaked in {body}");
    }
}

async fn every_response_carries_a_request_id_and_a_proxy_id_is_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let anyone = app.public();
    let first = anyone
        .get("/health")
        .await
        .header("x-request-id")
        .to_owned();
    let second = anyone
        .get("/health")
        .await
        .header("x-request-id")
        .to_owned();
    assert_ne!(first, second);
    let with_id = |path: &str, id: &'static str| {
        Api::send(anyone.request(Method::GET, path).header("x-request-id", id))
    };
    let from_proxy = with_id("/nowhere", "lb-7f3a-01").await;
    assert_eq!(from_proxy.header("x-request-id"), "lb-7f3a-01");
    let hostile = with_id("/health", "a b <script>").await;
    assert_ne!(hostile.header("x-request-id"), "a b <script>");
}

async fn dates_beyond_the_years_the_service_keeps_are_refused_not_a_500(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let office = app.by(&rome.manager);
    // chrono reads years up to ±262,142: a day after the last overflowed (a panic, so a 500),
    // and PostgreSQL cannot store a date before 4713 BC (another 500).
    let far = json!({"from": "-262143-01-01", "to": "-262143-01-02", "reason": "x"});
    let far_calendar = json!({
        "name": "Far", "desks": 1, "service_codes": ["document_delivery"],
        "valid_until": "+262142-12-31",
    });
    let cases = [
        (office.closures("RM", "from=%2B262142-12-31").await, "from"),
        (office.mail_stats("RM", "to=-262143-01-01").await, "to"),
        (office.agenda("RM", "date=-262143-01-01").await, "date"),
        (office.slots("RM", "from=%2B262142-12-31").await, "from"),
        (office.close("RM", &far).await, "from"),
        (
            office.create_calendar("RM", &far_calendar).await,
            "valid_until",
        ),
        (
            app.public()
                .availability("RM", "service=document_delivery&from=%2B262142-12-31")
                .await,
            "from",
        ),
    ];
    for (reply, field) in cases {
        let problem = reply.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(
            field_errors(&problem),
            [(
                field.to_owned(),
                "must be a date as YYYY-MM-DD, such as 2027-09-13".to_owned()
            )],
            "{}",
            reply.url
        );
    }
    // The last year the service keeps is fine, though a year's default range runs past it.
    office.closures("RM", "from=9999-12-01").await.ok();
}

async fn text_that_would_change_how_the_rest_is_shown_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let admin = app.admin_token().await;
    let national = app.by(&admin);

    // A raw CR in a name would split a line of the calendar file mailed to applicants.
    let new_type = |name: &str, description: &str, document: &str| {
        json!({
            "code": "residence_card",
            "default_duration_minutes": 20,
            "names": {"it": name},
            "descriptions": {"it": description},
            "documents": {"it": [document]},
        })
    };
    let fields = national
        .create_type(&new_type(
            "Carta\rdi soggiorno",
            "Ok",
            "Passaporto\u{202E}fdp.exe",
        ))
        .await
        .invalid_fields();
    assert_eq!(fields, ["names.it", "documents.it[0]"]);
    let paragraphs = "Per il rilascio.\nPortare le foto.";
    let created = national
        .create_type(&new_type("Carta di soggiorno", paragraphs, "Passaporto"))
        .await
        .created();
    assert_eq!(created["descriptions"]["it"], paragraphs);

    // A right-to-left override would make a name read as someone else's in the agenda and mail.
    let mut visit = applicant(&rome.slots[0], 1);
    visit["full_name"] = json!("Amina \u{202E}ilaiD");
    let problem = app
        .public()
        .book("RM", &visit)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&problem)[0].0, "full_name");
    visit["full_name"] = json!("أمينة ديالو");
    app.public().book("RM", &visit).await.created();

    let closure = json!({"from": "2030-01-02", "to": "2030-01-02", "reason": "Sciopero\u{2066}"});
    let fields = app
        .by(&rome.manager)
        .close("RM", &closure)
        .await
        .invalid_fields();
    assert_eq!(fields, ["reason"]);
}

/// Another program holding the database's write lock (SQLite) or the slots table (PostgreSQL),
/// until dropped.
enum LockHolder {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

impl LockHolder {
    fn take(app: &crate::harness::TestApp) -> LockHolder {
        let url = app.database.url();
        match url.strip_prefix("sqlite://") {
            Some(path) => {
                let mut conn = diesel::SqliteConnection::establish(path).unwrap();
                conn.batch_execute("BEGIN IMMEDIATE").unwrap();
                LockHolder::Sqlite(conn)
            }
            None => {
                let mut conn = diesel::PgConnection::establish(&url).unwrap();
                conn.batch_execute("BEGIN; LOCK TABLE slots IN EXCLUSIVE MODE")
                    .unwrap();
                LockHolder::Postgres(conn)
            }
        }
    }

    fn release(self) {
        match self {
            LockHolder::Sqlite(mut conn) => conn.batch_execute("ROLLBACK").unwrap(),
            LockHolder::Postgres(mut conn) => conn.batch_execute("ROLLBACK").unwrap(),
        }
    }
}

async fn a_booking_that_cannot_get_the_database_in_time_is_told_to_retry(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.database.sqlite_busy_timeout_ms = 300;
        s.database.postgres_lock_timeout_ms = 300;
    })
    .await;
    let rome = open_rome(&app).await;
    let anyone = app.public();

    let holder = LockHolder::take(&app);
    let visits: Vec<_> = (0..4).map(|n| applicant(&rome.slots[n], n)).collect();
    let attempts = visits.iter().map(|visit| anyone.book("RM", visit));
    for reply in futures_util::future::join_all(attempts).await {
        let problem = reply.problem(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
        assert_eq!(reply.header("retry-after"), "1", "{problem}");
    }
    holder.release();

    // Retried once the database is free, the booking goes through; the refused ones left
    // nothing behind.
    anyone
        .book("RM", &applicant(&rome.slots[0], 0))
        .await
        .created();
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 1);
}

async fn connections_the_database_dropped_answer_503_once_and_are_replaced() {
    let app = spawn_app(Backend::Postgres).await;
    let rome = open_rome(&app).await;
    let anyone = app.public();
    // Bookings side by side, so the pool holds several connections.
    let visits: Vec<_> = (0..4).map(|n| applicant(&rome.slots[n], n)).collect();
    let booked = visits.iter().map(|visit| anyone.book("RM", visit));
    for reply in futures_util::future::join_all(booked).await {
        reply.created();
    }

    // The database drops every connection of the service, as a restart does: those of the
    // requests' turns and those kept for the workers, which requests may also be handed.
    let (open, _) = app.store.pool_state();
    let url = app.database.url();
    let mut admin = diesel::PgConnection::establish(&url).unwrap();
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .unwrap();

    // Each request that meets a dropped connection is told to retry, and the connection is
    // replaced: retrying as told, three more applicants book, told to retry no more often
    // than the pool had connections.
    let open = open as usize;
    let (mut told_to_retry, mut booked) = (0, 0);
    while booked < 3 && told_to_retry <= open {
        let n = 4 + booked;
        let reply = anyone.book("RM", &applicant(&rome.slots[n], n)).await;
        if reply.status == StatusCode::SERVICE_UNAVAILABLE {
            reply.problem(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
            assert_eq!(reply.header("retry-after"), "1");
            told_to_retry += 1;
        } else {
            reply.created();
            booked += 1;
        }
    }
    assert!(
        told_to_retry <= open,
        "{told_to_retry} requests told to retry, with {open} connections dropped"
    );
    assert_eq!(booked, 3, "bookings after the connections were replaced");
    // Nothing half-done: every seat taken is a booking.
    assert_eq!(
        assert_seat_counts_match_bookings(&app).await,
        (4 + booked) as i64
    );
}

/// A client generated from the document is read as the document says: a blank parameter is
/// not a missing one, a date is exactly `YYYY-MM-DD`, and `1.0` is the integer 1.
async fn requests_are_read_as_the_openapi_document_says(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;
    let office = app.by(&rome.manager);

    let blank = office.slots("RM", "from=2027-09-13&to=").await;
    assert_eq!(blank.invalid_fields(), ["to"]);
    let loose_date = office.slots("RM", "from=2027-9-13").await;
    assert_eq!(loose_date.invalid_fields(), ["from"]);

    let hours = json!([{"weekday": 1.0, "opens": "09:00", "closes": "12:30"}]);
    office.put_hours("RM", rome.calendar, &hours).await.ok();
    let half_a_day = json!([{"weekday": 1.5, "opens": "09:00", "closes": "12:30"}]);
    let refused = office.put_hours("RM", rome.calendar, &half_a_day).await;
    assert_eq!(refused.invalid_fields(), ["[0].weekday"]);
}
