//! Staff log in, learn who they are, and cannot get in any other way.

use std::time::{Duration, Instant};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sportello::domain::staff::Role;

use crate::{
    client::{Api, field_errors},
    fixtures::create_office,
    harness::{Backend, PASSWORD, TestApp, Token, spawn_app, spawn_app_with},
};

on_both_databases!(
    an_admin_logs_in_and_the_token_says_who_they_are,
    a_manager_token_carries_the_office,
    a_wrong_password_and_an_unknown_email_get_the_same_answer,
    an_unknown_email_takes_as_long_as_a_wrong_password,
    repeated_failures_for_one_email_are_throttled,
    the_throttle_window_frees_up_and_a_success_clears_it,
    a_burst_of_guesses_checks_at_most_the_allowed_number_of_passwords,
    login_input_is_checked_field_by_field,
    forged_expired_and_foreign_tokens_are_refused,
    a_deactivated_account_can_neither_log_in_nor_use_its_token,
    a_login_flood_waits_its_turn_and_beyond_the_queue_is_told_to_retry,
    spraying_many_accounts_from_one_address_is_throttled,
    a_guesser_elsewhere_cannot_lock_a_staff_member_out,
);

/// Staff member `staff{n}@interno.it` logs in with the right password.
async fn login_as(app: &TestApp, n: usize) -> crate::client::Reply {
    app.login(&format!("staff{n}@interno.it"), PASSWORD).await
}

/// Claims as an attacker or a stale client might write them.
fn forged_token(app: &TestApp, staff_id: i64, change: impl FnOnce(&mut Value)) -> Token {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": staff_id.to_string(), "role": "admin", "office": null,
        "iss": app.settings.auth.issuer, "aud": app.settings.auth.audience,
        "iat": now, "exp": now + 600,
    });
    change(&mut claims);
    let key = EncodingKey::from_secret(app.settings.auth.jwt_secret.expose_secret().as_bytes());
    Token(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).expect("token"))
}

async fn an_admin_logs_in_and_the_token_says_who_they_are(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_staff("Anna.Rossi@Interno.it", Role::Admin, None)
        .await;

    // Case and surrounding spaces in the email do not matter.
    let body = app.login("  ANNA.ROSSI@interno.IT ", PASSWORD).await.ok();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = Token(body["access_token"].as_str().unwrap().to_owned());

    let me = app.by(&token).me().await.ok();
    assert_eq!(me["email"], "anna.rossi@interno.it");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["office_code"], Value::Null);
}

async fn a_manager_token_carries_the_office(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.manager("RM").await;
    let me = app.by(&token).me().await.json();
    assert_eq!(me["role"], "manager");
    assert_eq!(me["office_code"], "RM");

    let payload = token.0.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&base64_url_decode(payload)).unwrap();
    assert_eq!(claims["office"], "RM");
    assert_eq!(claims["role"], "manager");
    assert_eq!(claims["iss"], "sportello");
    assert_eq!(claims["aud"], "sportello-staff");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
}

async fn a_wrong_password_and_an_unknown_email_get_the_same_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_staff("anna@interno.it", Role::Admin, None).await;

    let wrong = app
        .login("anna@interno.it", "not the password at all")
        .await;
    let mut wrong_problem = wrong.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    let unknown = app
        .login("nobody@interno.it", "not the password at all")
        .await;
    let mut unknown_problem = unknown.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(
        wrong.headers.get("www-authenticate"),
        unknown.headers.get("www-authenticate")
    );
    wrong_problem.as_object_mut().unwrap().remove("instance");
    unknown_problem.as_object_mut().unwrap().remove("instance");
    assert_eq!(wrong_problem, unknown_problem);
}

async fn an_unknown_email_takes_as_long_as_a_wrong_password(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.auth.login_max_failures = 1000;
        s.auth.login_max_failures_per_client = 1000;
    })
    .await;
    app.create_staff("anna@interno.it", Role::Admin, None).await;

    async fn login_time(app: &TestApp, email: &str) -> Duration {
        let started = Instant::now();
        let reply = app.login(email, "not the password at all").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        started.elapsed()
    }
    fn median(mut times: Vec<Duration>) -> Duration {
        times.sort();
        times[times.len() / 2]
    }
    // Taken in turns, so both medians see the same load from the tests running beside.
    let (mut wrong_password, mut unknown_email) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        wrong_password.push(login_time(&app, "anna@interno.it").await);
        unknown_email.push(login_time(&app, "nobody@interno.it").await);
    }
    let (wrong_password, unknown_email) = (median(wrong_password), median(unknown_email));
    // Skipping the hash would make the unknown email an order of magnitude faster.
    assert!(
        unknown_email * 2 >= wrong_password && wrong_password * 2 >= unknown_email,
        "unknown email {unknown_email:?} vs wrong password {wrong_password:?}"
    );
}

async fn repeated_failures_for_one_email_are_throttled(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_staff("anna@interno.it", Role::Admin, None).await;
    app.create_staff("bruno@interno.it", Role::Admin, None)
        .await;

    for _ in 0..5 {
        let reply = app.login("anna@interno.it", "guess guess guess").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused now, without being checked.
    let locked = app.login("anna@interno.it", PASSWORD).await;
    let body = locked.problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    let retry_after: u64 = locked.header("retry-after").parse().unwrap();
    assert!(
        (800..=900).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    assert!(
        body["detail"].as_str().unwrap().contains("15 minute"),
        "{body}"
    );

    // Someone else's account is not affected.
    assert_eq!(
        app.login("bruno@interno.it", PASSWORD).await.status,
        StatusCode::OK
    );
    // Unknown emails are throttled alike, so the lock does not reveal which accounts exist.
    for _ in 0..5 {
        app.login("nobody@interno.it", "guess guess guess").await;
    }
    assert_eq!(
        app.login("nobody@interno.it", "x").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

async fn the_throttle_window_frees_up_and_a_success_clears_it(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.auth.login_max_failures = 2;
        s.auth.login_window_seconds = 2;
    })
    .await;
    app.create_staff("anna@interno.it", Role::Admin, None).await;
    let guess = || app.login("anna@interno.it", "guess guess guess");
    let right = || async { app.login("anna@interno.it", PASSWORD).await.status };

    // A success wipes earlier failures.
    guess().await;
    assert_eq!(right().await, StatusCode::OK);
    guess().await;
    assert_eq!(right().await, StatusCode::OK);

    guess().await;
    guess().await;
    assert_eq!(right().await, StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(right().await, StatusCode::OK);
}

async fn a_burst_of_guesses_checks_at_most_the_allowed_number_of_passwords(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_staff("anna@interno.it", Role::Admin, None).await;

    let attempts = (0..30).map(|_| app.login("anna@interno.it", "guess guess guess"));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    // Every attempt gets a clear answer (no "database is locked"), and however the 30
    // interleave, no more than 5 passwords were checked.
    assert_eq!(checked + throttled, 30, "{statuses:?}");
    assert!(
        (1..=5).contains(&checked),
        "{checked} passwords checked: {statuses:?}"
    );
    assert_eq!(
        app.login("anna@interno.it", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

async fn login_input_is_checked_field_by_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let no_password = app
        .public()
        .post("/api/v1/auth/login", &json!({"email": "anna"}))
        .await;
    let body = no_password.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        field_errors(&body),
        vec![("password".to_owned(), "is required".to_owned())]
    );

    let body = app
        .login("anna", PASSWORD)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&body)[0].0, "email");
}

async fn forged_expired_and_foreign_tokens_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create_staff("anna@interno.it", Role::Admin, None).await;
    let genuine = app.token_for("anna@interno.it", PASSWORD).await;

    let mut cases: Vec<(&str, Token)> = vec![
        (
            "expired",
            forged_token(&app, id, |c| {
                let past = chrono::Utc::now().timestamp() - 7200;
                c["iat"] = json!(past);
                c["exp"] = json!(past + 3600);
            }),
        ),
        (
            "wrong audience",
            forged_token(&app, id, |c| c["aud"] = json!("someone-else")),
        ),
        (
            "wrong issuer",
            forged_token(&app, id, |c| c["iss"] = json!("evil")),
        ),
        (
            "no expiry",
            forged_token(&app, id, |c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        ("unknown staff", forged_token(&app, 999_999, |_| {})),
        ("garbage", Token("not-a-jwt".into())),
    ];
    // Tampered: the payload is changed (operator → admin of another id) without re-signing.
    let parts: Vec<&str> = genuine.0.split('.').collect();
    let payload: Value = serde_json::from_slice(&base64_url_decode(parts[1])).unwrap();
    let mut tampered_payload = payload.clone();
    tampered_payload["sub"] = json!("999");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        base64_url_encode(tampered_payload.to_string().as_bytes()),
        parts[2]
    );
    cases.push(("tampered", Token(tampered)));
    // alg "none": an unsigned token claiming to be the admin.
    let header = base64_url_encode(br#"{"alg":"none","typ":"JWT"}"#);
    cases.push(("alg none", Token(format!("{header}.{}.", parts[1]))));
    // Signed with another secret.
    let other_key = EncodingKey::from_secret(b"some other secret that is long enough!!");
    let signed_elsewhere =
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &payload, &other_key).unwrap();
    cases.push(("other key", Token(signed_elsewhere)));

    for (case, token) in cases {
        let reply = app.by(&token).me().await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{case}");
        reply.problem(StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(reply.header("www-authenticate"), "Bearer", "{case}");
    }
    // No token at all, or another scheme.
    app.public()
        .me()
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    let basic = app
        .public()
        .request(Method::GET, "/api/v1/auth/me")
        .header("authorization", "Basic YTpi");
    Api::send(basic)
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    // And the genuine one still works.
    assert_eq!(app.by(&genuine).me().await.status, StatusCode::OK);
}

async fn a_deactivated_account_can_neither_log_in_nor_use_its_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;
    create_office(&app, "RM").await;
    let operator_id = app
        .create_staff("op@prefettura.it", Role::Operator, Some("RM"))
        .await;
    let operator = app.token_for("op@prefettura.it", PASSWORD).await;

    let national = app.by(&admin);
    national
        .update_staff(operator_id, &json!({"active": false}))
        .await
        .ok();
    app.by(&operator)
        .me()
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    // Refused like a wrong password: a deactivated account looks like no account.
    app.login("op@prefettura.it", PASSWORD)
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");

    national
        .update_staff(operator_id, &json!({"active": true}))
        .await;
    assert_eq!(
        app.login("op@prefettura.it", PASSWORD).await.status,
        StatusCode::OK
    );
}

fn base64_url_decode(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

fn base64_url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

async fn a_login_flood_waits_its_turn_and_beyond_the_queue_is_told_to_retry(backend: Backend) {
    // One password check at a time, and hardly any patience: most of a flood is turned away.
    let app = spawn_app_with(backend, |s| {
        s.auth.max_concurrent_password_checks = 1;
        s.auth.password_check_queue_ms = 1;
    })
    .await;
    for n in 0..12 {
        let email = format!("staff{n}@interno.it");
        app.create_staff(&email, Role::Admin, None).await;
    }
    let logins = (0..12).map(|n| login_as(&app, n));
    let replies = futures_util::future::join_all(logins).await;
    let (mut logged_in, mut retry) = (0, 0);
    for reply in &replies {
        match reply.status {
            StatusCode::OK => logged_in += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                reply.problem(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
                assert_eq!(reply.header("retry-after"), "1");
                retry += 1;
            }
            other => panic!("{other}: {}", reply.text()),
        }
    }
    assert!(
        logged_in >= 1 && retry >= 1,
        "{logged_in} in, {retry} told to retry"
    );
    // Patient again, everyone gets in.
    let reply = login_as(&app, 0).await;
    assert_eq!(reply.status, StatusCode::OK);
}

/// Behind a proxy that says where each client is.
async fn spawn_behind_a_proxy(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.server.client_address_header = "X-Forwarded-For".into();
    })
    .await
}

async fn spraying_many_accounts_from_one_address_is_throttled(backend: Backend) {
    let app = spawn_behind_a_proxy(backend).await;
    app.create_staff("anna@interno.it", Role::Admin, None).await;
    let sprayer = app.public().at("198.51.100.66");
    // One guess per account, never five for any: only the count per address stops it.
    for n in 0..10 {
        let reply = sprayer
            .login(&format!("staff{n}@interno.it"), "Summer2026!")
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "guess {n}");
    }
    let refused = sprayer.login("anna@interno.it", "Summer2026!").await;
    let body = refused.problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    assert!(
        body["detail"].as_str().unwrap().contains("your address"),
        "{body}"
    );
    assert!(refused.header("retry-after").parse::<u64>().unwrap() > 0);
    // Anna, at her office, is not affected.
    let office = app.public().at("203.0.113.10");
    assert_eq!(
        office.login("anna@interno.it", PASSWORD).await.status,
        StatusCode::OK
    );
}

async fn a_guesser_elsewhere_cannot_lock_a_staff_member_out(backend: Backend) {
    let app = spawn_behind_a_proxy(backend).await;
    app.create_staff("anna@interno.it", Role::Admin, None).await;
    let guesser = app.public().at("198.51.100.66");
    for _ in 0..5 {
        let reply = guesser.login("anna@interno.it", "guess guess guess").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    guesser
        .login("anna@interno.it", "guess guess guess")
        .await
        .problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");

    // Anna, from her office, still gets in; the guesser's address stays locked.
    let office = app.public().at("203.0.113.10");
    assert_eq!(
        office.login("anna@interno.it", PASSWORD).await.status,
        StatusCode::OK
    );
    assert_eq!(
        guesser.login("anna@interno.it", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}
