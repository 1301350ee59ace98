//! Offices close without warning: a strike, a power cut, a flood. Staff close the day and
//! choose what happens to the visits booked on it: each moves to the earliest free seat of its
//! service, earlier bookers first, or is cancelled with the closure's reason. Every applicant
//! gets one mail; a dry run shows what would happen; a failure halfway changes nothing.

use std::time::Duration;

use chrono::{Days, NaiveDate};
use diesel::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sportello::store::{Backend as Database, DbConnection, StoreError};

use crate::{
    fixtures::{
        applicant, assert_seat_counts_match_bookings, configure_rome, publish, september_monday,
        set_stage, staff_slots,
    },
    harness::{Backend, TestApp, Token, spawn_app_mailing_to},
    smtp::SmtpSink,
};

on_both_databases!(
    a_strike_moves_thirty_visits_to_the_earliest_free_seats_after_a_dry_run,
    a_flood_cancels_thirty_visits_with_its_reason_and_one_mail_each,
    a_closure_that_fails_halfway_changes_nothing,
    a_day_with_a_seat_offered_from_the_waitlist_closes,
);

/// The languages the thirty applicants write in, in turn.
const LANGUAGES: [&str; 4] = ["it", "en", "fr", "ar"];

/// Rome live, Monday and Tuesday of a September published, and thirty applicants booked on the
/// Monday, three to a time from 09:00 on, each in their own language; their confirmations sent.
/// Returns the manager and the bookings in the order they were made.
async fn thirty_booked_on_monday(app: &TestApp) -> (Token, Vec<Value>) {
    let rome = configure_rome(app).await;
    set_stage(app, "RM", "live").await;
    let monday = september_monday();
    publish(app, &rome.manager, monday, monday + Days::new(1)).await;
    let slots = staff_slots(app, &rome.manager, monday, monday).await;
    let mut booked = Vec::new();
    for n in 0..30 {
        let mut visit = applicant(&slots[n / 3], n);
        visit["language"] = json!(LANGUAGES[n % LANGUAGES.len()]);
        booked.push(app.public().book("RM", &visit).await.created());
    }
    app.deliver_mail().await;
    (rome.manager, booked)
}

/// Follows the job a closure queued until it is done or failed.
async fn finished_job(app: &TestApp, manager: &Token, queued: &crate::client::Reply) -> Value {
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.text());
    let location = queued.header("location").to_owned();
    assert!(location.starts_with("/api/v1/offices/RM/closure-jobs/"));
    for _ in 0..300 {
        let job = app.by(manager).closure_job(&location).await.ok();
        if job["status"] == "done" || job["status"] == "failed" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the closure job did not finish in 30 s");
}

/// The mails the sink received after the first `skip`, by recipient.
fn mails_after(smtp: &SmtpSink, skip: usize) -> Vec<(String, String, String)> {
    smtp.received()[skip..]
        .iter()
        .map(|mail| {
            let parsed = mail.parsed();
            let subject = parsed.subject().unwrap_or_default().to_owned();
            let text = parsed.body_text(0).unwrap_or_default().into_owned();
            (mail.to.join(","), subject, text)
        })
        .collect()
}

fn reference(booking: &Value) -> &str {
    booking["reference"].as_str().unwrap()
}

/// The visit as its applicant sees it through the link in their mails.
async fn own_view(app: &TestApp, booking: &Value) -> Value {
    let token = booking["manage_token"].as_str().unwrap();
    app.public().booking(reference(booking), token).await.ok()
}

fn strike(monday: NaiveDate, affected: &str) -> Value {
    json!({"from": monday, "to": monday, "reason": "Sciopero generale", "affected": affected})
}

async fn a_strike_moves_thirty_visits_to_the_earliest_free_seats_after_a_dry_run(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let (manager, booked) = thirty_booked_on_monday(&app).await;
    let monday = september_monday();
    let tuesday = monday + Days::new(1);
    let tuesday_slots = staff_slots(&app, &manager, tuesday, tuesday).await;
    let confirmations = smtp.received().len();
    assert_eq!(confirmations, 30);

    // The dry run: every visit would move to Tuesday, the first three booked to 09:00, and so
    // on; nothing changes.
    let mut dry = strike(monday, "move");
    dry["dry_run"] = json!(true);
    let plan = app.by(&manager).close("RM", &dry).await.ok();
    assert_eq!(
        (plan["moved"].clone(), plan["cancelled"].clone()),
        (json!(30), json!(0))
    );
    assert_eq!(plan["closure"]["id"], Value::Null);
    let planned = plan["bookings"].as_array().unwrap();
    assert_eq!(planned.len(), 30);
    for (n, (visit, booking)) in planned.iter().zip(&booked).enumerate() {
        assert_eq!(visit["reference"], booking["reference"], "in booking order");
        assert_eq!(visit["outcome"], "moved");
        assert_eq!(visit["to_slot_id"], tuesday_slots[n / 3]["id"]);
    }
    assert_eq!(
        own_view(&app, &booked[0]).await["starts_at"],
        booked[0]["starts_at"]
    );
    let closures = app
        .by(&manager)
        .closures("RM", &format!("from={monday}&to={monday}"))
        .await;
    assert_eq!(closures.ok(), json!([]), "the dry run created no closure");
    assert_eq!(staff_slots(&app, &manager, monday, monday).await.len(), 11);
    assert_eq!(app.deliver_mail().await.sent, 0, "and queued no mail");

    // The real run: a job, polled until done.
    let queued = app.by(&manager).close("RM", &strike(monday, "move")).await;
    assert_eq!(queued.json()["affected"], "move");
    let job = finished_job(&app, &manager, &queued).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(
        (job["total"].clone(), job["processed"].clone()),
        (json!(30), json!(30))
    );
    assert_eq!(
        (job["moved"].clone(), job["cancelled"].clone()),
        (json!(30), json!(0))
    );
    assert_eq!(
        job["bookings"], plan["bookings"],
        "what the dry run showed is what happened"
    );

    // Each applicant keeps their reference and link, now for the Tuesday; the Monday is closed.
    for (n, booking) in booked.iter().enumerate() {
        let own = own_view(&app, booking).await;
        assert_eq!(own["status"], "confirmed");
        assert_eq!(own["starts_at"], tuesday_slots[n / 3]["starts_at"]);
    }
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 30);
    assert!(staff_slots(&app, &manager, monday, monday).await.is_empty());
    let closures = app
        .by(&manager)
        .closures("RM", &format!("from={monday}&to={monday}"))
        .await;
    assert_eq!(closures.ok()[0]["id"], job["closure_id"]);

    // One mail each, in their language, with the reason and the new time.
    app.deliver_mail().await;
    let mails = mails_after(&smtp, confirmations);
    assert_eq!(mails.len(), 30, "one mail per applicant");
    for (n, booking) in booked.iter().enumerate() {
        let to = format!("amina{n}@example.org");
        let theirs: Vec<_> = mails.iter().filter(|(rcpt, ..)| *rcpt == to).collect();
        assert_eq!(theirs.len(), 1, "{to}");
        let (_, subject, text) = theirs[0];
        assert!(subject.contains(reference(booking)), "{subject}");
        assert!(text.contains("Sciopero generale"), "{text}");
    }

    // The audit log records the closure with what became of its visits.
    let log = app.by(&manager).audit("RM", "limit=1").await.json();
    assert_eq!(log[0]["action"], "closure.create");
    assert_eq!(log[0]["after"]["moved"], 30);
}

async fn a_flood_cancels_thirty_visits_with_its_reason_and_one_mail_each(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let (manager, booked) = thirty_booked_on_monday(&app).await;
    let monday = september_monday();
    let confirmations = smtp.received().len();

    let mut flood = strike(monday, "cancel");
    flood["reason"] = json!("Allagamento");
    let queued = app.by(&manager).close("RM", &flood).await;
    let job = finished_job(&app, &manager, &queued).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(
        (job["moved"].clone(), job["cancelled"].clone()),
        (json!(0), json!(30))
    );

    for booking in &booked {
        let own = own_view(&app, booking).await;
        assert_eq!(own["status"], "cancelled");
    }
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 0);

    app.deliver_mail().await;
    let mails = mails_after(&smtp, confirmations);
    assert_eq!(mails.len(), 30, "one mail per applicant");
    for n in 0..30 {
        let to = format!("amina{n}@example.org");
        let theirs: Vec<_> = mails.iter().filter(|(rcpt, ..)| *rcpt == to).collect();
        assert_eq!(theirs.len(), 1, "{to}");
        let text = &theirs[0].2;
        assert!(text.contains("Allagamento"), "the reason: {text}");
        assert!(
            text.contains("https://prenota.example.it/offices/RM"),
            "where to book again: {text}"
        );
    }
}

/// Makes the database refuse to move the booking `reference`, as a failing disk would halfway
/// through the job.
async fn fail_moving(app: &TestApp, reference: &str) {
    let statements: Vec<String> = match app.store.backend() {
        Database::Sqlite => vec![format!(
            "CREATE TRIGGER drill_fail BEFORE UPDATE OF slot_id ON bookings \
             WHEN OLD.reference = '{reference}' BEGIN SELECT RAISE(ABORT, 'drill'); END"
        )],
        Database::Postgres => vec![
            "CREATE FUNCTION drill_fail() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'drill'; END $$"
                .to_owned(),
            format!(
                "CREATE TRIGGER drill_fail BEFORE UPDATE OF slot_id ON bookings FOR EACH ROW \
                 WHEN (OLD.reference = '{reference}') EXECUTE FUNCTION drill_fail()"
            ),
        ],
    };
    run_sql(app, statements).await;
}

async fn run_sql(app: &TestApp, statements: Vec<String>) {
    app.store
        .write(move |conn: &mut DbConnection| -> Result<(), StoreError> {
            for statement in &statements {
                diesel::sql_query(statement.as_str()).execute(conn)?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

async fn a_closure_that_fails_halfway_changes_nothing(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let (manager, booked) = thirty_booked_on_monday(&app).await;
    let monday = september_monday();
    let confirmations = smtp.received().len();
    let before = staff_slots(&app, &manager, monday, monday + Days::new(1)).await;

    // The fifteenth visit cannot be moved: the job fails after moving fourteen.
    fail_moving(&app, reference(&booked[14])).await;
    let queued = app.by(&manager).close("RM", &strike(monday, "move")).await;
    let job = finished_job(&app, &manager, &queued).await;
    assert_eq!(job["status"], "failed");
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .contains("nothing was changed")
    );
    assert!(
        !job.to_string().contains("drill"),
        "no internals shown: {job}"
    );
    assert_eq!(job["closure_id"], Value::Null);

    // Nothing changed: every visit where it was, no closure, the same seats, no mail.
    for booking in &booked {
        let own = own_view(&app, booking).await;
        assert_eq!(own["starts_at"], booking["starts_at"]);
        assert_eq!(own["status"], "confirmed");
    }
    let closures = app
        .by(&manager)
        .closures("RM", &format!("from={monday}&to={monday}"))
        .await;
    assert_eq!(closures.ok(), json!([]));
    let after = staff_slots(&app, &manager, monday, monday + Days::new(1)).await;
    assert_eq!(after, before);
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 30);
    app.deliver_mail().await;
    assert_eq!(smtp.received().len(), confirmations, "no mail sent");

    // Once the fault is gone, asking again does it all.
    let repair = match app.store.backend() {
        Database::Sqlite => "DROP TRIGGER drill_fail",
        Database::Postgres => "DROP TRIGGER drill_fail ON bookings",
    };
    run_sql(&app, vec![repair.to_owned()]).await;
    let queued = app.by(&manager).close("RM", &strike(monday, "move")).await;
    let job = finished_job(&app, &manager, &queued).await;
    assert_eq!(
        (job["status"].clone(), job["moved"].clone()),
        (json!("done"), json!(30))
    );
}

/// An applicant at 11:30 waits for an earlier seat; a visit is cancelled, and once its seat
/// has cooled down the earliest free seat is offered to them and taken. Then a strike closes
/// the day: the offer that pointed at that seat stays on record, and the closure moves the visit as asked (it
/// once failed, changing nothing, because a slot it withdrew was still named by the offer).
async fn a_day_with_a_seat_offered_from_the_waitlist_closes(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let rome = configure_rome(&app).await;
    set_stage(&app, "RM", "live").await;
    let monday = september_monday();
    publish(&app, &rome.manager, monday, monday + Days::new(1)).await;
    let slots = staff_slots(&app, &rome.manager, monday, monday).await;
    let anyone = app.public();
    let waiter = anyone.book("RM", &applicant(&slots[5], 1)).await.created();
    let token = waiter["manage_token"].as_str().unwrap();
    let days = json!({"earliest_day": monday, "latest_day": monday});
    anyone
        .join_waitlist(reference(&waiter), token, &days)
        .await
        .created();
    let leaver = anyone.book("RM", &applicant(&slots[1], 2)).await.created();
    let leaver_token = leaver["manage_token"].as_str().unwrap();
    anyone
        .cancel_booking(reference(&leaver), leaver_token)
        .await
        .ok();
    let later = chrono::Utc::now() + chrono::Duration::hours(2);
    assert_eq!(app.release_cooled_seats_at(later).await, 1);
    assert_eq!(app.run_waitlist_at(later).await, (0, 1));
    app.deliver_mail_at(later).await;
    let link = smtp.link_to("amina1@example.org", "/waitlist/offers/");
    let rest = link.split("/waitlist/offers/").nth(1).unwrap();
    let (offer, offer_token) = rest.split_once("?token=").unwrap();
    anyone
        .answer_offer(offer.parse().unwrap(), offer_token, "accept")
        .await
        .ok();
    let offered = own_view(&app, &waiter).await;
    let (earlier, waited) = (
        offered["starts_at"].as_str(),
        slots[5]["starts_at"].as_str(),
    );
    assert!(earlier < waited, "{offered}");

    let queued = app
        .by(&rome.manager)
        .close("RM", &strike(monday, "move"))
        .await;
    let job = finished_job(&app, &rome.manager, &queued).await;
    assert_eq!(
        (job["status"].clone(), job["moved"].clone()),
        (json!("done"), json!(1)),
        "{job}"
    );
    let moved = own_view(&app, &waiter).await;
    assert!(
        moved["starts_at"].as_str().unwrap() > slots[10]["starts_at"].as_str().unwrap(),
        "{moved}"
    );
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 1);
}
