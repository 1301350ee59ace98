//! Keeping seats for people who come. Where the office asks for it, applicants are asked some
//! days before the visit to reconfirm; a visit nobody reconfirmed is released at the set time,
//! never before and never a reconfirmed one, and its seat goes to the waitlist first. A case
//! that missed too many visits books only at the desk for a while, and is told why.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    fixtures::{
        applicant, assert_seat_counts_match_bookings, configure_rome, instant, office_id, publish,
        september_monday, set_stage, slot_under_way, staff_slots, walk_in,
    },
    harness::{Backend, spawn_app, spawn_app_mailing_to},
    smtp::SmtpSink,
};

on_both_databases!(
    an_unconfirmed_visit_is_released_on_time_and_a_reconfirmed_one_never,
    a_case_that_missed_two_visits_books_only_at_the_desk_for_a_while,
);

async fn an_unconfirmed_visit_is_released_on_time_and_a_reconfirmed_one_never(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let rome = configure_rome(&app).await;
    let asks = json!({
        "horizon_days": 730,
        "reconfirmation": {"ask_days_before": 3, "release_hours_before": 24},
    });
    let service = app
        .by(&rome.manager)
        .put_service("RM", "document_delivery", &asks)
        .await
        .ok();
    assert_eq!(service["reconfirmation"]["release_hours_before"], 24);
    set_stage(&app, "RM", "live").await;
    let monday = september_monday();
    publish(&app, &rome.manager, monday, monday).await;
    let slots = staff_slots(&app, &rome.manager, monday, monday).await;

    // Three applicants at 09:00; a fourth, at 11:30, waits for anything earlier that day.
    let mut booked = Vec::new();
    for n in 1..=3 {
        let mut visit = applicant(&slots[0], n);
        visit["language"] = json!("en");
        booked.push(app.public().book("RM", &visit).await.created());
    }
    let waiter = app
        .public()
        .book("RM", &applicant(&slots[5], 4))
        .await
        .created();
    let (waiter_ref, waiter_token) = (
        waiter["reference"].as_str().unwrap(),
        waiter["manage_token"].as_str().unwrap(),
    );
    let days = json!({"earliest_day": monday, "latest_day": monday});
    app.public()
        .join_waitlist(waiter_ref, waiter_token, &days)
        .await
        .created();
    app.deliver_mail().await;
    let before = smtp.received().len();
    let starts = instant(&slots[0]["starts_at"]);
    let credentials = |n: usize| {
        (
            booked[n]["reference"].as_str().unwrap(),
            booked[n]["manage_token"].as_str().unwrap(),
        )
    };
    let own = app
        .public()
        .booking(credentials(0).0, credentials(0).1)
        .await
        .ok();
    assert_eq!(instant(&own["reconfirm_by"]), starts - Duration::hours(24));
    assert_eq!(own["reconfirm_asked_at"], Value::Null);

    // Four days before, nobody is asked; three days before, the three at 09:00 are, once.
    assert_eq!(
        app.run_reconfirmation_at(starts - Duration::days(4)).await,
        (0, 0)
    );
    let asking = starts - Duration::days(3) + Duration::minutes(1);
    assert_eq!(app.run_reconfirmation_at(asking).await, (3, 0));
    assert_eq!(app.run_reconfirmation_at(asking).await, (0, 0));
    app.deliver_mail_at(asking).await;
    let asked: Vec<_> = smtp.received()[before..].to_vec();
    assert_eq!(asked.len(), 3);
    let text = asked[0].parsed().body_text(0).unwrap().into_owned();
    assert!(text.contains("please confirm that you will come"), "{text}");
    assert!(
        text.contains("https://prenota.example.it/bookings/"),
        "{text}"
    );

    // The first reconfirms (twice is harmless); the others do not.
    let (reference, token) = credentials(0);
    let reconfirmed = app.public().reconfirm(reference, token).await.ok();
    assert!(reconfirmed["reconfirmed_at"].is_string());
    app.public().reconfirm(reference, token).await.ok();

    // A minute before the release time nothing is released; a minute after, the two who did
    // not reconfirm are, and only they.
    let release = starts - Duration::hours(24);
    // (By then the 11:30 visit is three days away: its applicant is asked.)
    let just_before = release - Duration::minutes(1);
    assert_eq!(app.run_reconfirmation_at(just_before).await, (1, 0));
    assert_eq!(
        app.run_reconfirmation_at(release + Duration::minutes(1))
            .await,
        (0, 2)
    );
    assert_eq!(
        app.run_reconfirmation_at(release + Duration::hours(2))
            .await,
        (0, 0)
    );
    let kept = app.public().booking(reference, token).await.ok();
    assert_eq!(kept["status"], "confirmed");
    for n in [1, 2] {
        let (reference, token) = credentials(n);
        let released = app.public().booking(reference, token).await.ok();
        assert_eq!(
            (
                released["status"].as_str(),
                released["cancel_reason"].as_str()
            ),
            (Some("cancelled"), Some("not reconfirmed in time"))
        );
        let late = app.public().reconfirm(reference, token).await;
        late.problem(StatusCode::CONFLICT, "booking_not_changeable");
    }
    app.deliver_mail_at(release + Duration::hours(2)).await;
    // The 11:30 applicant's request to reconfirm, and the two releases.
    let released_mails: Vec<_> = smtp.received()[before + 3..]
        .iter()
        .filter(|mail| !mail.to.contains(&"amina4@example.org".to_owned()))
        .cloned()
        .collect();
    let mut to: Vec<_> = released_mails
        .iter()
        .map(|mail| mail.to.join(","))
        .collect();
    to.sort();
    assert_eq!(to, ["amina2@example.org", "amina3@example.org"]);
    let text = released_mails[0]
        .parsed()
        .body_text(0)
        .unwrap()
        .into_owned();
    assert!(
        text.contains("you did not confirm your appointment in time"),
        "{text}"
    );
    assert_seat_counts_match_bookings(&app).await;

    // The freed seats cool down, then the waitlist is offered one first.
    let cooled = release + Duration::hours(1) + Duration::minutes(5);
    assert_eq!(app.release_cooled_seats_at(cooled).await, 2);
    assert_eq!(app.run_waitlist_at(cooled).await, (0, 1));

    // The office sees what reconfirmation freed (the 11:30 applicant was asked too).
    let query = format!("from={monday}&to={monday}");
    let report = app
        .by(&rome.manager)
        .reconfirmation("RM", &query)
        .await
        .ok();
    assert_eq!(
        report,
        json!({"from": monday, "to": monday, "asked": 4, "reconfirmed": 1, "released": 2,
               "seats_freed": 2})
    );
}

async fn a_case_that_missed_two_visits_books_only_at_the_desk_for_a_while(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;
    let rule = json!({
        "horizon_days": 730,
        "no_show_rule": {"limit": 2, "within_days": 180, "desk_only_days": 90},
    });
    app.by(&rome.manager)
        .put_service("RM", "document_delivery", &rule)
        .await
        .ok();
    set_stage(&app, "RM", "live").await;
    let operator = app.operator("RM").await;
    let desk = app.by(&operator);
    let under_way = slot_under_way(&app, office_id(&app, "RM").await, rome.calendar).await;

    // Case RM/DESK/7 did not come, twice.
    let mut missed_at = None;
    for _ in 0..2 {
        let booked = desk.book("RM", &walk_in(under_way, 7)).await.created();
        missed_at = Some(instant(&booked["starts_at"]));
        let reference = booked["reference"].as_str().unwrap();
        desk.desk("RM", reference, "no-show", &json!({})).await.ok();
    }
    let monday = september_monday();
    publish(&app, &rome.manager, monday, monday).await;
    let slots = staff_slots(&app, &rome.manager, monday, monday).await;

    // Online the case is refused and told why; the desk can still book it; others book online.
    let mut online = applicant(&slots[0], 1);
    online["case_number"] = json!("RM/DESK/7");
    let refused = app.public().book("RM", &online).await;
    let problem = refused.problem(StatusCode::CONFLICT, "desk_only");
    // Desk only for 90 days from the last missed visit (which began before midnight, some days).
    let until = (missed_at.unwrap() + Duration::days(90))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        problem["detail"].as_str().unwrap().contains(&until),
        "{problem}"
    );
    desk.book("RM", &walk_in(slots[0]["id"].as_i64().unwrap(), 7))
        .await
        .created();
    app.public()
        .book("RM", &applicant(&slots[0], 2))
        .await
        .created();
}
