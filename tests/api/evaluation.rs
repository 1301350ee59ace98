//! The pilot's evaluation. An office runs a scripted stretch (bookings online, at the desk and
//! through an invitation, a cancellation each way, a move, a day at the desk with two visits
//! attended and one missed, a mail refused by its server, a survey answered once); its report
//! then gives exactly the numbers worked out by hand below, the same in JSON, CSV and HTML; the
//! national view hides the small counts; a survey is answered once, never by a GET.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    case_system::case_system_of,
    fixtures::{
        applicant, configure_rome, instant, office_id, publish, registered_case, september_monday,
        set_stage, slot_under_way, staff_slots, walk_in,
    },
    harness::{Backend, TestApp, spawn_app_mailing_to},
    smtp::SmtpSink,
};

on_both_databases!(
    a_scripted_stretch_gives_the_indicators_worked_out_by_hand_in_every_format,
    a_survey_is_answered_once_and_never_by_a_get,
);

/// The value at a dotted path (`by_channel.web`) of a JSON document.
fn at<'a>(document: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(document, |value, key| &value[key])
}

/// The CSV's `indicator,value` lines.
fn csv_lines(csv: &str) -> Vec<(String, String)> {
    csv.lines()
        .skip(1)
        .map(|line| {
            let (key, value) = line.split_once(',').expect("two fields");
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

/// The value the HTML report shows for an indicator (its row is marked with the path).
fn html_value(html: &str, key: &str) -> String {
    let marker = format!("<tr data-key=\"{key}\">");
    let row = &html[html
        .find(&marker)
        .unwrap_or_else(|| panic!("a row for {key}"))..];
    let cell = &row[row.find("<td class=\"n\">").expect("a value cell") + 14..];
    cell[..cell.find("</td>").unwrap()].to_owned()
}

/// Every indicator of the JSON report is in the CSV and the HTML, with the same value.
async fn assert_same_in_every_format(
    app: &TestApp,
    token: &crate::harness::Token,
    query: &str,
) -> Value {
    let rome = app.by(token);
    let json = rome.indicators("RM", query).await.ok();
    let csv = rome.indicators("RM", &format!("{query}&format=csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-type").starts_with("text/csv"));
    let html = rome.indicators("RM", &format!("{query}&format=html")).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.header("content-type").starts_with("text/html"));
    let (csv, html) = (csv.text(), html.text());
    assert!(html.contains("<svg"), "the report has its charts");
    let lines = csv_lines(&csv);
    let indicators: Vec<&(String, String)> = lines
        .iter()
        .filter(|(k, _)| k.starts_with("indicators."))
        .collect();
    assert_eq!(indicators.len(), 47, "every indicator is a line");
    for (key, value) in indicators {
        let in_json = at(&json, key);
        let in_json = match in_json {
            Value::Null => String::new(),
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        assert_eq!(&in_json, value, "{key} in JSON and CSV");
        assert_eq!(&html_value(&html, key), value, "{key} in CSV and HTML");
    }
    json
}

async fn a_scripted_stretch_gives_the_indicators_worked_out_by_hand_in_every_format(
    backend: Backend,
) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let rome = configure_rome(&app).await;
    set_stage(&app, "RM", "live").await;
    let operator = app.operator("RM").await;
    let desk = app.by(&operator);
    let monday = september_monday();
    publish(&app, &rome.manager, monday, monday).await;
    let slots = staff_slots(&app, &rome.manager, monday, monday).await;
    let seats_on_monday: i64 = slots.iter().map(|s| s["capacity"].as_i64().unwrap()).sum();

    // Back in preview for a moment, the desk books a test visit: no indicator counts it.
    set_stage(&app, "RM", "preview").await;
    let rehearsal = desk
        .book("RM", &walk_in(slots[4]["id"].as_i64().unwrap(), 8))
        .await
        .created();
    assert_eq!(rehearsal["is_test"], true);
    set_stage(&app, "RM", "live").await;

    // September: four bookings online (the fourth address does not exist), one at the desk.
    let mut web = Vec::new();
    for (n, slot) in [(1, 0), (2, 0), (3, 1), (4, 1)] {
        let mut visit = applicant(&slots[slot], n);
        if n == 4 {
            visit["email"] = json!("amina4@bounce.invalid");
        }
        web.push(app.public().book("RM", &visit).await.created());
    }
    let mut by_phone = walk_in(slots[2]["id"].as_i64().unwrap(), 9);
    by_phone["email"] = json!("yusuf9@example.org");
    let phoned = desk.book("RM", &by_phone).await.created();

    // The case system invites a registered case, which books through the mail's link.
    let (_, spi) = case_system_of(&app, "RM").await;
    let case = registered_case("RM/2026/000077", None);
    app.by(&spi).register_case("RM", &case).await.created();
    let deadline = (monday - Duration::days(1)).to_string();
    let invitation = json!({"case_number": "RM/2026/000077", "service": "document_delivery", "deadline": deadline});
    let invited = app.by(&spi).invite("RM", &invitation).await.created();
    app.deliver_mail().await;
    let link = smtp.link_to("amina@example.org", "/invitations/");
    let token = &link[link.find("?token=").unwrap() + 7..];
    let answer = json!({"slot_id": slots[2]["id"], "full_name": "Amina Diallo"});
    app.public()
        .book_invitation(invited["reference"].as_str().unwrap(), token, &answer)
        .await
        .created();
    app.deliver_mail().await;

    // The first applicant cancels, the office cancels the phoned booking, the second moves.
    let credentials = |n: usize| {
        (
            web[n]["reference"].as_str().unwrap().to_owned(),
            web[n]["manage_token"].as_str().unwrap().to_owned(),
        )
    };
    let (reference, token) = credentials(0);
    app.public().cancel_booking(&reference, &token).await.ok();
    let reason = json!({"reason": "The desk is closed that morning."});
    desk.desk(
        "RM",
        phoned["reference"].as_str().unwrap(),
        "cancel",
        &reason,
    )
    .await
    .ok();
    let (reference, token) = credentials(1);
    app.public()
        .reschedule(&reference, &token, &slots[3]["id"])
        .await
        .ok();

    // Today at the desk: three walk-ins, two attended, one missed.
    let under_way = slot_under_way(&app, office_id(&app, "RM").await, rome.calendar).await;
    let mut today = Vec::new();
    for n in 1..=3 {
        let mut visit = walk_in(under_way, n);
        visit["email"] = json!(format!("walker{n}@example.org"));
        today.push(desk.book("RM", &visit).await.created());
    }
    app.deliver_mail().await;
    for (n, actions) in [
        (0, &["check-in", "attended"][..]),
        (1, &["check-in", "attended"]),
        (2, &["no-show"]),
    ] {
        let reference = today[n]["reference"].as_str().unwrap();
        for action in actions {
            desk.desk("RM", reference, action, &json!({})).await.ok();
        }
    }
    app.deliver_mail().await;
    let link = survey_link(&smtp, "walker1@example.org");
    let (id, token) = link;
    let answer = json!({"rating": 4, "had_documents": true, "desk_wait": "15_to_30", "comment": "Quick and kind."});
    app.public().answer_survey(&id, &token, &answer).await.ok();
    let sampled_at = Utc::now();
    assert_eq!(app.sample_lead_times_at(sampled_at).await, 1);
    assert_eq!(app.sample_lead_times_at(sampled_at).await, 0, "once a day");

    // Today's report, worked out by hand.
    let day = assert_same_in_every_format(&app, &rome.manager, "period=day").await;
    let i = &day["indicators"];
    let expect = |path: &str, value: Value| assert_eq!(at(i, path), &value, "{path}");
    expect("bookings", json!(3));
    expect("by_channel.desk", json!(3));
    expect("by_channel.web", json!(0));
    expect("attended", json!(2));
    expect("no_shows", json!(1));
    expect("no_show_rate_percent", json!(33.3));
    expect("seats_offered", json!(3));
    expect("seats_booked", json!(3));
    expect("utilisation_percent", json!(100.0));
    expect("median_days_to_visit", json!(0.0));
    // Queued today: an invitation, 9 confirmations, 2 cancellations, 1 move, 2 surveys; one
    // refused for good.
    expect("mail.queued", json!(15));
    expect("mail.sent", json!(14));
    expect("mail.bounced", json!(1));
    expect("mail.failed", json!(0));
    // Each delivered confirmation replaced a registered letter (4 in September, 3 today), and
    // so did the invitation, which the invited booking's confirmation only confirms.
    expect("letters_replaced", json!(8));
    expect("money_saved_eur", json!(50.8));
    expect("satisfaction.surveys_sent", json!(2));
    expect("satisfaction.answers", json!(1));
    expect("satisfaction.response_rate_percent", json!(50.0));
    expect("satisfaction.mean_rating", json!(4.0));
    expect("satisfaction.ratings.4", json!(1));
    expect("satisfaction.had_documents_percent", json!(100.0));
    expect("satisfaction.desk_wait.from_15_to_30", json!(1));
    expect("lead_time.samples", json!(1));
    expect("lead_time.without_free_seat", json!(0));
    let times = app
        .public()
        .get(&format!(
            "/api/v1/offices/RM/availability?service=document_delivery&from={monday}&to={monday}"
        ))
        .await
        .ok();
    let first = instant(&times["days"][0]["slots"][0]["starts_at"]);
    let lead = ((first - sampled_at).num_minutes() as f64 / 1440.0 * 10.0).round() / 10.0;
    expect("lead_time.mean_days", json!(lead));
    assert_eq!(day["by_service"]["document_delivery"]["seats_offered"], 3);

    // September's week: who booked how, what became of it, how far ahead.
    let week =
        assert_same_in_every_format(&app, &rome.manager, &format!("period=week&on={monday}")).await;
    let i = &week["indicators"];
    let expect = |path: &str, value: Value| assert_eq!(at(i, path), &value, "{path}");
    expect("bookings", json!(6));
    expect("by_channel.web", json!(4));
    expect("by_channel.desk", json!(1));
    expect("by_channel.invitation", json!(1));
    expect("cancelled.by_applicant", json!(1));
    expect("cancelled.by_office", json!(1));
    expect("moves", json!(1));
    expect("seats_offered", json!(seats_on_monday));
    expect("seats_booked", json!(4));
    let share = (4.0 * 1000.0 / seats_on_monday as f64).round() / 10.0;
    expect("utilisation_percent", json!(share));
    let now = Utc::now();
    let mut days: Vec<i64> = [3, 1, 1, 2]
        .map(|slot| (instant(&slots[slot]["starts_at"]) - now).num_days())
        .to_vec();
    days.sort();
    expect(
        "median_days_to_visit",
        json!((days[1] + days[2]) as f64 / 2.0),
    );
    expect("mail.queued", json!(0));

    // The national view: the same office, its small counts hidden; administrators only.
    let admin = app.admin_token().await;
    let national = app.by(&admin).national_indicators("period=day").await.ok();
    let row = national["offices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["code"] == "RM")
        .unwrap();
    assert_eq!(row["indicators"]["bookings"], "< 5");
    assert_eq!(row["indicators"]["attended"], "< 5");
    assert_eq!(row["indicators"]["no_show_rate_percent"], Value::Null);
    assert_eq!(row["indicators"]["letters_replaced"], 8);
    assert_eq!(row["indicators"]["mail"]["sent"], 14);
    assert_eq!(row["rank"], 1);
    assert_eq!(national["national_median"]["utilisation_percent"], 100.0);
    assert_eq!(
        national["national_median"]["no_show_rate_percent"],
        Value::Null,
        "a median of hidden rates would reveal them"
    );
    let csv = app
        .by(&admin)
        .national_indicators("period=day&format=csv")
        .await
        .text();
    assert!(
        csv.lines()
            .any(|line| line.starts_with("office,RM,") && line.contains(",< 5,")),
        "{csv}"
    );
    let html = app
        .by(&admin)
        .national_indicators("period=day&format=html")
        .await
        .text();
    assert!(html.contains("<svg") && html.contains("&lt; 5"));
    app.by(&rome.manager)
        .national_indicators("period=day")
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    app.by(&admin)
        .national_indicators("period=day&pilot=ZZ")
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.by(&rome.manager)
        .indicators("RM", "period=year")
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // Months on, retention deletes the delivered messages: the periods still count the same.
    let purged = app.run_retention_at(Utc::now() + Duration::days(200)).await;
    assert_eq!(purged.messages, 15, "every message sent or bounced is gone");
    let later = assert_same_in_every_format(&app, &rome.manager, "period=day").await;
    assert_eq!(later["indicators"], day["indicators"]);
    let week_later =
        assert_same_in_every_format(&app, &rome.manager, &format!("period=week&on={monday}")).await;
    assert_eq!(week_later["indicators"], week["indicators"]);
}

/// The survey's id and token, from the link in the mail to `to`.
fn survey_link(smtp: &SmtpSink, to: &str) -> (String, String) {
    let link = smtp.link_to(to, "/surveys/");
    let path = &link[link.find("/surveys/").unwrap() + 9..];
    let (id, token) = path.split_once("?token=").unwrap();
    (id.to_owned(), token.to_owned())
}

async fn a_survey_is_answered_once_and_never_by_a_get(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let rome = configure_rome(&app).await;
    set_stage(&app, "RM", "live").await;
    let operator = app.operator("RM").await;
    let desk = app.by(&operator);
    let under_way = slot_under_way(&app, office_id(&app, "RM").await, rome.calendar).await;
    let mut visit = walk_in(under_way, 1);
    visit["email"] = json!("walker@example.org");
    visit["language"] = json!("en");
    let booked = desk.book("RM", &visit).await.created();
    let reference = booked["reference"].as_str().unwrap();
    for action in ["check-in", "attended"] {
        desk.desk("RM", reference, action, &json!({})).await.ok();
    }
    app.deliver_mail().await;
    let (id, token) = survey_link(&smtp, "walker@example.org");

    // Opening the link (as a mail scanner would, twice) answers nothing.
    for _ in 0..2 {
        let page = app
            .public()
            .get(&format!("/surveys/{id}?token={token}"))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text().contains("How was your appointment?"));
    }
    let shown = app.public().survey(&id, &token).await.ok();
    assert_eq!(shown["answered"], false);
    app.public()
        .survey(&id, "wrong")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let bad = json!({"rating": 6, "had_documents": true, "desk_wait": "under_15"});
    let refused = app.public().answer_survey(&id, &token, &bad).await;
    refused.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // Answered once; the second answer is refused and changes nothing.
    let answer = json!({"rating": 5, "had_documents": false, "desk_wait": "under_15", "comment": "Walker said thanks."});
    assert_eq!(
        app.public().answer_survey(&id, &token, &answer).await.ok()["answered"],
        true
    );
    let again = json!({"rating": 1, "had_documents": true, "desk_wait": "over_60"});
    app.public()
        .answer_survey(&id, &token, &again)
        .await
        .problem(StatusCode::CONFLICT, "survey_answered");
    let report = app
        .by(&rome.manager)
        .indicators("RM", "period=day")
        .await
        .ok();
    let satisfaction = &report["indicators"]["satisfaction"];
    assert_eq!(satisfaction["answers"], 1);
    assert_eq!(satisfaction["mean_rating"], 5.0);
    assert_eq!(satisfaction["had_documents_percent"], 0.0);

    // The comment is kept without the applicant's identity: no stored row holds both.
    let rows = app.every_row().await;
    let with_comment: Vec<_> = rows
        .iter()
        .filter(|(_, row)| row.contains("Walker said thanks."))
        .collect();
    assert_eq!(with_comment.len(), 1);
    assert_eq!(with_comment[0].0, "survey_answers");
    assert!(!with_comment[0].1.contains(reference) && !with_comment[0].1.contains("RM/DESK/1"));
}
