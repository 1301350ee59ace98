//! The pilot's evaluation, as people see it: after her visit an applicant answers the survey
//! from her mail's link; the office's manager opens the office's printable report, and the
//! national administrator the national one, each showing what the API counts.

use chrono::{Days, Utc};
use serde_json::json;
use sportello::domain::days::today;

use crate::{
    browser::{Driver, Screen},
    fixtures::{
        applicant, create_office, office_id, open_rome_soon, set_stage, slot_under_way, walk_in,
    },
    harness::{Backend, spawn_app_mailing_to},
    smtp::SmtpSink,
};

pub async fn a_visit_is_rated_and_the_reports_show_it(
    driver: &Driver,
    backend: Backend,
    name: &str,
) -> usize {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let rome = open_rome_soon(&app).await;
    for code in ["LT", "MI"] {
        create_office(&app, code).await;
        set_stage(&app, code, "live").await;
    }

    // The coming days: six applicants book online; the first cancels, the second moves.
    let mut online = Vec::new();
    for n in 1..=6 {
        let visit = applicant(&rome.slots[n * 2], n);
        online.push(app.public().book("RM", &visit).await.created());
    }
    let managed = |n: usize, field: &str| online[n][field].as_str().unwrap().to_owned();
    app.public()
        .cancel_booking(&managed(0, "reference"), &managed(0, "manage_token"))
        .await
        .ok();
    app.public()
        .reschedule(
            &managed(1, "reference"),
            &managed(1, "manage_token"),
            &rome.slots[20]["id"],
        )
        .await
        .ok();

    // Today at the desk: three walk-ins, two attended and one missed.
    let operator = app.operator("RM").await;
    let desk = app.by(&operator);
    let under_way = slot_under_way(&app, office_id(&app, "RM").await, rome.calendar).await;
    for (n, actions) in [
        (1, &["check-in", "attended"][..]),
        (2, &["check-in", "attended"]),
        (3, &["no-show"]),
    ] {
        let mut visit = walk_in(under_way, n);
        visit["email"] = json!(format!("walker{n}@example.org"));
        visit["language"] = json!("en");
        let booked = desk.book("RM", &visit).await.created();
        for action in actions {
            let reference = booked["reference"].as_str().unwrap();
            desk.desk("RM", reference, action, &json!({})).await.ok();
        }
    }
    app.deliver_mail().await;
    assert_eq!(app.sample_lead_times_at(Utc::now()).await, 1);

    // The first walker opens the survey from her mail, sends it empty, then answers.
    let mut browser = driver.browser(name, &app.address, Screen::Desktop).await;
    browser
        .open(&smtp.link_to("walker1@example.org", "/surveys/"))
        .await;
    assert_eq!(browser.text("h1").await, "How was your appointment?");
    browser.step("survey").await;
    browser.click("form button[type=submit]").await;
    assert!(browser.has("fieldset#f-rating.has-error").await);
    browser.step("survey-errors").await;
    browser.choose("#rating-4").await;
    browser.choose("#had_documents-yes").await;
    browser.choose("#desk_wait-15_to_30").await;
    browser.fill("#f-comment", "Quick and kind.").await;
    browser.click("form button[type=submit]").await;
    assert!(
        browser.has(".notice.ok").await,
        "{}",
        browser.source().await
    );
    assert!(
        !browser.has("form").await,
        "answered once: no form any more"
    );
    browser.step("survey-answered").await;

    // The manager prints the office's report for today and the coming fortnight: what it
    // shows is what the API counts.
    let from = today(chrono_tz::Europe::Rome, Utc::now());
    let to = from + Days::new(14);
    let period = format!("from={from}&to={to}");
    let counted = app.by(&rome.manager).indicators("RM", &period).await.ok();
    browser.authorize(&rome.manager.0).await;
    browser
        .open(&format!(
            "/api/v1/offices/RM/indicators?{period}&format=html"
        ))
        .await;
    let shown = |key: &'static str| {
        let browser = &browser;
        async move {
            browser
                .text(&format!("tr[data-key='indicators.{key}'] td.n"))
                .await
        }
    };
    assert_eq!(shown("bookings").await, "9");
    assert_eq!(counted["indicators"]["bookings"], 9);
    assert_eq!(shown("no_shows").await, "1");
    assert_eq!(shown("satisfaction.mean_rating").await, "4.0");
    assert!(browser.has("svg").await, "the report has its charts");
    browser.step("office-report").await;

    // The administrator prints the national comparison, Rome as the pilot.
    let admin = app.admin_token().await;
    browser.authorize(&admin.0).await;
    browser
        .open(&format!("/api/v1/indicators?{period}&pilot=RM&format=html"))
        .await;
    let source = browser.source().await;
    for office in ["RM", "LT", "MI"] {
        assert!(source.contains(office), "{office} is compared");
    }
    assert!(browser.has("svg").await, "the ranking has its chart");
    browser.step("national-report").await;
    browser.close().await
}
