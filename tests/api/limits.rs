//! Bots and resellers: one address cannot book, log in or ask without limit, and the answer
//! tells a well-behaved client when to come back.

use reqwest::StatusCode;

use crate::{
    fixtures::{applicant, open_rome},
    harness::{Backend, spawn_app_with},
};

on_both_databases!(
    a_burst_of_bookings_from_one_address_is_cut_off_and_others_still_book,
    a_forwarded_address_counts_only_behind_a_configured_proxy,
);

async fn a_burst_of_bookings_from_one_address_is_cut_off_and_others_still_book(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.server.client_address_header = "X-Forwarded-For".into();
        s.rate_limit.enabled = true;
        s.rate_limit.bookings_per_minute = 1;
        s.rate_limit.bookings_burst = 3;
    })
    .await;
    let rome = open_rome(&app).await;
    let bot = app.public().at("198.51.100.66");

    let mut answers = Vec::new();
    for n in 0..6 {
        answers.push(bot.book("RM", &applicant(&rome.slots[n], n)).await);
    }
    let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(statuses, [201, 201, 201, 429, 429, 429]);
    let first = &answers[0];
    assert_eq!(first.header("ratelimit-limit"), "3");
    assert_eq!(first.header("ratelimit-remaining"), "2");
    assert_eq!(first.header("ratelimit-policy"), "3;w=180");
    let refused = &answers[3];
    let problem = refused.problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry_after: u64 = refused.header("retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}: {problem}");
    assert_eq!(refused.header("ratelimit-remaining"), "0");

    // Nothing was booked for the refused ones; someone else books as usual, and looking costs
    // the bot nothing from its booking budget.
    let neighbour = app.public().at("203.0.113.10");
    neighbour
        .book("RM", &applicant(&rome.slots[6], 6))
        .await
        .created();
    let office = neighbour.office("RM").await;
    assert_eq!(office.status, StatusCode::OK);
    assert_eq!(
        crate::fixtures::assert_seat_counts_match_bookings(&app).await,
        4
    );
}

async fn a_forwarded_address_counts_only_behind_a_configured_proxy(backend: Backend) {
    // No proxy configured: whatever a client writes in X-Forwarded-For, it is the connection
    // that counts.
    let app = spawn_app_with(backend, |s| {
        s.rate_limit.enabled = true;
        s.rate_limit.login_per_minute = 1;
        s.rate_limit.login_burst = 2;
    })
    .await;
    let addresses: Vec<String> = (0..4).map(|n| format!("198.51.100.{n}")).collect();
    let app = &app;
    let logins = addresses.iter().map(|address| async move {
        app.public()
            .at(address)
            .login("x@interno.it", "wrong")
            .await
    });
    let statuses: Vec<u16> = futures_util::future::join_all(logins)
        .await
        .iter()
        .map(|reply| reply.status.as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );
    // Health checks are never limited.
    for _ in 0..5 {
        assert_eq!(app.public().get("/health").await.status, StatusCode::OK);
    }
}
