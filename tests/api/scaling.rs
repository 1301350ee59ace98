//! Scaling out by office (SCALING.md): a national deployment splits the data by office, so
//! every table of office data names its office, and each row names the office of the row it
//! belongs to.

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use diesel::{QueryableByName, RunQueryDsl, sql_types::BigInt};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    case_system::case_system_of,
    fixtures::{
        OpenRome, applicant, instant, office_id, open_rome, open_rome_soon, publish,
        registered_case, september_monday, slot_under_way, solve, staff_slots, walk_in,
    },
    harness::{Backend, PASSWORD, TestApp, TestDatabase, Token, spawn_app_on, spawn_app_with},
    receiver::Receiver,
};

on_both_databases!(every_table_of_office_data_names_its_office);

/// Citus distributes PostgreSQL tables; the statements are diesel's, the same on SQLite.
mod every_query_on_office_data_names_its_office {
    use crate::harness::{Backend, selected};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if selected(Backend::Postgres) {
            super::every_query_on_office_data_names_its_office().await
        }
    }
}

/// Instances behind a load balancer share one PostgreSQL (an SQLite file has one instance).
mod an_instance_stops_offering_what_another_changed_within_a_second {
    use crate::harness::{Backend, selected};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if selected(Backend::Postgres) {
            super::an_instance_stops_offering_what_another_changed_within_a_second().await
        }
    }
}

/// Shared by every office: the offices themselves, the national catalogue of appointment
/// types, staff logins (by address, before anyone knows the office) and the migrations'
/// bookkeeping. Each node of a split deployment keeps a copy.
const NATIONAL: [&str; 4] = [
    "__diesel_schema_migrations",
    "appointment_types",
    "login_attempts",
    "offices",
];

/// Each table that reached its office through a parent row, with that parent: the SQL that
/// counts its rows, and those naming another office than their parent's.
const CHILDREN: [(&str, &str); 4] = [
    (
        "calendar_services",
        "FROM calendar_services x JOIN calendars p ON p.id = x.calendar_id",
    ),
    (
        "opening_hours",
        "FROM opening_hours x JOIN calendars p ON p.id = x.calendar_id",
    ),
    (
        "case_readiness",
        "FROM case_readiness x JOIN registered_cases p ON p.id = x.case_id",
    ),
    (
        "seat_releases",
        "FROM seat_releases x JOIN slots p ON p.id = x.slot_id",
    ),
];

#[derive(QueryableByName)]
struct Rows {
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = BigInt)]
    elsewhere: i64,
}

async fn every_table_of_office_data_names_its_office(backend: Backend) {
    // Seats given back cool down, so a cancellation leaves a row behind.
    let app = spawn_app_with(backend, |s| s.booking.seat_cooldown_seconds = 600).await;
    let tables = app.columns_by_table().await;
    let without: Vec<&str> = tables
        .iter()
        .filter(|(table, columns)| {
            !columns.iter().any(|c| c == "office_id") && !NATIONAL.contains(&table.as_str())
        })
        .map(|(table, _)| table.as_str())
        .collect();
    assert!(without.is_empty(), "tables without office_id: {without:?}");
    for table in NATIONAL {
        assert!(tables.contains_key(table), "{table} is still a table");
    }

    // Rome opens, the case system registers a case, an applicant books and cancels: each child
    // row names its parent's office.
    let rome = open_rome(&app).await;
    let (_, spi) = case_system_of(&app, "RM").await;
    let case = registered_case("RM/2026/000001", None);
    app.by(&spi).register_case("RM", &case).await.created();
    let booked = app
        .public()
        .book("RM", &applicant(&rome.slots[0], 1))
        .await
        .created();
    app.public()
        .cancel_booking(
            booked["reference"].as_str().unwrap(),
            booked["manage_token"].as_str().unwrap(),
        )
        .await
        .ok();
    for (table, rows) in CHILDREN {
        let counted = count(&app, rows).await;
        assert!(counted.total > 0, "the story left rows in {table}");
        assert_eq!(counted.elsewhere, 0, "{table} rows naming another office");
    }
}

async fn count(app: &TestApp, rows: &str) -> Rows {
    let sql = format!(
        "SELECT COUNT(*) AS total, \
         COALESCE(SUM(CASE WHEN x.office_id <> p.office_id THEN 1 ELSE 0 END), 0) AS elsewhere {rows}"
    );
    app.store
        .read(move |conn| -> Result<Rows, sportello::store::StoreError> {
            Ok(diesel::sql_query(sql).get_result(conn)?)
        })
        .await
        .unwrap()
}

async fn an_instance_stops_offering_what_another_changed_within_a_second() {
    // Two instances over one database; applicants refresh Rome's availability on both, so
    // both keep it in memory.
    let first = spawn_app_with(Backend::Postgres, |_| {}).await;
    let second = first.beside().await;
    let rome = open_rome_soon(&first).await;
    let (slot, other) = (&rome.slots[0], &rome.slots[1]);
    assert_eq!(slot["date"], other["date"]);
    let date = slot["date"].as_str().unwrap();
    let query = format!("service=document_delivery&from={date}&to={date}");
    let before = seats(&second, &query, slot).await.expect("offered");
    assert_eq!(seats(&first, &query, slot).await, Some(before));

    // A seat taken through the first: it answers with one seat fewer at once, the second
    // within a second.
    first
        .public()
        .book("RM", &applicant(slot, 1))
        .await
        .created();
    assert_eq!(seats(&first, &query, slot).await, Some(before - 1));
    let took = until(&second, &query, slot, |seats| seats == Some(before - 1)).await;
    assert!(
        took < Duration::from_secs(1),
        "the second offered a taken seat for {took:?}"
    );

    // Staff block another slot through the second: the first stops offering it.
    let id = other["id"].as_i64().unwrap();
    let block = json!({"blocked": true, "reason": "desk out of order"});
    second
        .by(&rome.manager)
        .block_slot("RM", id, &block)
        .await
        .ok();
    assert_eq!(seats(&second, &query, other).await, None);
    let took = until(&first, &query, other, |seats| seats.is_none()).await;
    assert!(
        took < Duration::from_secs(1),
        "the first offered a blocked slot for {took:?}"
    );
}

/// The seats `app` offers in `slot`, if it offers it.
async fn seats(app: &TestApp, query: &str, slot: &Value) -> Option<i64> {
    let answer = app.public().availability("RM", query).await.json();
    answer["days"]
        .as_array()?
        .iter()
        .flat_map(|day| day["slots"].as_array().into_iter().flatten())
        .find(|offered| offered["id"] == slot["id"])
        .map(|offered| offered["available"].as_i64().unwrap())
}

/// How long until `app` offers `slot` as `expected` says (giving up after five seconds).
async fn until(
    app: &TestApp,
    query: &str,
    slot: &Value,
    expected: impl Fn(Option<i64>) -> bool,
) -> Duration {
    let started = Instant::now();
    while !expected(seats(app, query, slot).await) && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

/// The shape of a statement: what it does to which table, and under what condition.
fn shape(sql: &str) -> String {
    let verb = sql
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    let table = tables_named(sql).into_iter().next().unwrap_or_default();
    let condition = sql
        .split_once(" WHERE ")
        .map_or("", |(_, condition)| condition);
    let condition = [" ORDER BY ", " LIMIT ", " RETURNING ", " FOR UPDATE"]
        .iter()
        .fold(condition, |c, end| c.split(end).next().unwrap_or(c));
    format!("{verb} {table} WHERE {condition}")
}

/// Whether the watched database's statements are recorded (not while the app migrates it).
static RECORDING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Every statement run on one database while it is watched, without its binds.
static WATCHED: std::sync::Mutex<Option<(String, std::collections::BTreeSet<String>)>> =
    std::sync::Mutex::new(None);

/// Diesel's instrumentation for each new connection: records the statements of connections to
/// the watched database.
fn record_statements() -> Option<Box<dyn diesel::connection::Instrumentation>> {
    use diesel::connection::InstrumentationEvent;
    let mut watched = false;
    Some(Box::new(
        move |event: InstrumentationEvent<'_>| match event {
            InstrumentationEvent::StartEstablishConnection { url, .. } => {
                let guard = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
                watched = guard
                    .as_ref()
                    .is_some_and(|(name, _)| url.split('?').next().unwrap_or(url).ends_with(name));
            }
            InstrumentationEvent::StartQuery { query, .. }
                if watched && RECORDING.load(std::sync::atomic::Ordering::Acquire) =>
            {
                let text = query.to_string();
                let sql = text.split(" -- binds:").next().unwrap_or(&text).to_owned();
                if let Some((_, seen)) = WATCHED.lock().unwrap_or_else(|e| e.into_inner()).as_mut()
                {
                    seen.insert(sql);
                }
            }
            _ => {}
        },
    ))
}

/// Statements that read or change office data across offices on purpose: the workers' sweeps
/// of every office's due work, and lookups by a national key (a staff login, a booking's
/// reference, an integration client). A split deployment runs the sweeps on every node (Citus
/// fans them out) and routes the lookups through a small national table of key to office.
const ACROSS_OFFICES: [&str; 36] = [
    r#"DELETE idempotency_keys WHERE ("idempotency_keys"."created_at" < $1)"#,
    r#"DELETE spent_challenges WHERE ("spent_challenges"."expires_at" < $1)"#,
    r#"SELECT audit_log WHERE ("audit_log"."at" < $1)"#,
    r#"DELETE audit_log WHERE ("audit_log"."id" = ANY($1))"#,
    r#"SELECT bookings WHERE (("slots"."ends_at" < $1) AND ("bookings"."anonymised_at" IS NULL))"#,
    r#"SELECT bookings WHERE (("bookings"."id" = ANY($1)) AND "bookings"."is_test")"#,
    r#"SELECT invitations WHERE ("invitations"."booking_id" = ANY($1))"#,
    r#"SELECT mail_outbox WHERE (("mail_outbox"."status" = ANY($1)) AND ("mail_outbox"."updated_at" < $2))"#,
    r#"SELECT mail_outbox WHERE ("mail_outbox"."id" = ANY($1))"#,
    r#"DELETE mail_outbox WHERE ("mail_outbox"."id" = ANY($1))"#,
    r#"SELECT closure_jobs WHERE (("closure_jobs"."status" = $1) OR (("closure_jobs"."status" = $2) AND ("closure_jobs"."claimed_until" < $3)))"#,
    r#"SELECT invitations WHERE (("invitations"."status" = $1) AND ("invitations"."deadline" <= $2))"#,
    r#"SELECT invitations WHERE (((("invitations"."status" = $1) AND ("invitations"."reminded_at" IS NULL)) AND ("invitations"."remind_at" <= $2)) AND ("invitations"."deadline" > $3))"#,
    r#"SELECT lottery_draws WHERE (("lottery_draws"."status" = $1) AND ("lottery_draws"."closes_at" <= $2))"#,
    r#"SELECT office_services WHERE (("office_services"."reconfirm_days_before" IS NOT NULL) AND ("office_services"."reconfirm_release_hours" IS NOT NULL))"#,
    r#"SELECT waitlist_offers WHERE (("waitlist_offers"."status" = $1) AND ("waitlist_offers"."expires_at" <= $2))"#,
    r#"SELECT waitlist_requests WHERE ("waitlist_requests"."status" = $1)"#,
    r#"SELECT seat_releases WHERE ("seat_releases"."available_at" <= $1)"#,
    r#"SELECT staff WHERE ("staff"."email" = $1)"#,
    r#"SELECT staff WHERE ("staff"."id" = $1)"#,
    r#"SELECT integration_clients WHERE ("integration_clients"."client_id" = $1)"#,
    r#"SELECT integration_clients WHERE ("integration_clients"."id" = $1)"#,
    r#"SELECT bookings WHERE ("bookings"."reference" = $1)"#,
    // One address guessing case codes at many offices is one guesser: its guesses are counted
    // together, and the expired ones (anyone's) dropped as they go.
    r#"SELECT case_verification_attempts WHERE (("case_verification_attempts"."client" = $1) AND ("case_verification_attempts"."attempted_at" >= $2))"#,
    r#"DELETE case_verification_attempts WHERE ("case_verification_attempts"."attempted_at" < $1)"#,
    // The links in an invitation's, a waitlist offer's and a survey's mail name them by a
    // national key, not by office.
    r#"SELECT invitations WHERE ("invitations"."reference" = $1)"#,
    r#"SELECT invitations WHERE ("invitations"."reference" = $1))"#,
    r#"SELECT waitlist_offers WHERE ("waitlist_offers"."id" = $1)"#,
    r#"SELECT survey_invitations WHERE ("survey_invitations"."id" = $1)"#,
    // The mailer's, the webhooks' and the waitlist's sweeps of due work, and the claim of what
    // they found (each claimed message or delivery is then settled by its office).
    r#"SELECT mail_outbox WHERE ((("mail_outbox"."status" = $1) AND ("mail_outbox"."next_attempt_at" <= $2)) OR (("mail_outbox"."status" = $3) AND ("mail_outbox"."claimed_until" <= $4)))"#,
    r#"UPDATE mail_outbox WHERE ("mail_outbox"."id" = ANY($5))"#,
    r#"SELECT webhook_deliveries WHERE ((("webhook_deliveries"."status" = $1) AND ("webhook_deliveries"."next_attempt_at" <= $2)) OR (("webhook_deliveries"."status" = $3) AND ("webhook_deliveries"."claimed_until" <= $4)))"#,
    r#"UPDATE webhook_deliveries WHERE ("webhook_deliveries"."id" = ANY($5))"#,
    r#"SELECT webhook_deliveries WHERE ("webhook_deliveries"."id" = ANY($1))"#,
    r#"SELECT events WHERE ("events"."id" = ANY($1))"#,
    r#"SELECT waitlist_requests WHERE (("waitlist_requests"."status" = $1) AND (("waitlist_requests"."created_at" > $2) OR (("waitlist_requests"."created_at" = $3) AND ("waitlist_requests"."id" > $4))))"#,
];

/// The tables a statement names after FROM, JOIN, UPDATE or INTO.
fn tables_named(sql: &str) -> Vec<String> {
    let words: Vec<&str> = sql
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .filter(|pair| {
            let keyword = pair[0].to_ascii_uppercase();
            matches!(keyword.as_str(), "FROM" | "JOIN" | "UPDATE" | "INTO")
        })
        .map(|pair| {
            let name = pair[1].trim_matches('"');
            name.split('.')
                .next()
                .unwrap_or(name)
                .trim_matches('"')
                .to_owned()
        })
        .collect()
}

/// The rest of an office's life, for the statements the first part did not run: staff rework
/// the calendar, the service and a slot; the case system imports cases and invites one, who
/// books through the link; an applicant waits for an earlier seat and takes the one offered;
/// a day is closed; staff read the outbox, the mail figures and personal data, and erase it;
/// housekeeping runs every round it has.
async fn the_office_runs_its_weeks(app: &TestApp, rome: &OpenRome, spi: &Token) {
    let staff = app.by(&rome.manager);
    let anyone = app.public();
    let monday = september_monday();
    staff
        .update_calendar("RM", rome.calendar, &json!({"name": "Sportello A"}))
        .await
        .ok();
    let weekdays: Vec<Value> = (1..=5)
        .flat_map(|weekday| {
            [
                json!({"weekday": weekday, "opens": "09:00", "closes": "12:30"}),
                json!({"weekday": weekday, "opens": "14:00", "closes": "16:00"}),
            ]
        })
        .collect();
    staff
        .put_hours("RM", rome.calendar, &json!(weekdays))
        .await
        .ok();
    let asks = json!({
        "horizon_days": 730,
        "reconfirmation": {"ask_days_before": 3, "release_hours_before": 24},
    });
    staff
        .put_service("RM", "document_delivery", &asks)
        .await
        .ok();
    let fourth = rome.slots[4]["id"].as_i64().unwrap();
    let closed = json!({"blocked": true, "reason": "Desk closed"});
    staff.block_slot("RM", fourth, &closed).await.ok();
    staff
        .block_slot("RM", fourth, &json!({"blocked": false}))
        .await
        .ok();
    publish(app, &rome.manager, monday, monday + Days::new(7)).await;

    // The case system imports two cases and invites one, who books through the mailed link.
    let file = "case_number,email,language,verification_secret,ready_for\n\
                RM/2026/000010,a10@example.org,en,19900010,document_delivery\n\
                RM/2026/000011,a11@example.org,en,19900011,document_delivery\n";
    let by_spi = app.by(spi);
    by_spi
        .import_cases("RM", "text/csv", file.to_owned())
        .await
        .ok();
    let deadline = (monday - Days::new(1)).to_string();
    let invite = |case: &str| json!({"case_number": case, "service": "document_delivery", "deadline": deadline});
    let invited = by_spi
        .invite("RM", &invite("RM/2026/000010"))
        .await
        .created();
    app.deliver_mail().await;
    let (invitation, token) = app.name_and_token_in_newest_mail("/invitations/");
    assert_eq!(invitation, invited["reference"].as_str().unwrap());
    let (invitation, token) = (invitation.as_str(), token.as_str());
    anyone.invitation(invitation, token).await.ok();
    let answer = json!({"slot_id": rome.slots[6]["id"], "full_name": "Amina Diallo"});
    anyone
        .book_invitation(invitation, token, &answer)
        .await
        .created();
    let later = by_spi
        .invite("RM", &invite("RM/2026/000011"))
        .await
        .created();
    let later = later["reference"].as_str().unwrap();
    let friday = (monday - Days::new(3)).to_string();
    staff.extend_invitation("RM", later, &friday).await.ok();
    staff.cancel_invitation("RM", later).await.ok();
    staff.invitations("RM", "").await.ok();

    // An applicant at 11:30 waits for anything earlier; a 09:30 visit is cancelled, its seat
    // cools down, then is offered and taken.
    let waiter = anyone
        .book("RM", &applicant(&rome.slots[9], 20))
        .await
        .created();
    let (waiter_reference, waiter_token) = (
        waiter["reference"].as_str().unwrap(),
        waiter["manage_token"].as_str().unwrap(),
    );
    let days = json!({"earliest_day": monday, "latest_day": monday});
    anyone
        .join_waitlist(waiter_reference, waiter_token, &days)
        .await
        .created();
    anyone.waitlist(waiter_reference, waiter_token).await.ok();
    let leaving = anyone
        .book("RM", &applicant(&rome.slots[1], 21))
        .await
        .created();
    anyone
        .cancel_booking(
            leaving["reference"].as_str().unwrap(),
            leaving["manage_token"].as_str().unwrap(),
        )
        .await
        .ok();
    let cooled = Utc::now() + chrono::Duration::minutes(11);
    app.release_cooled_seats_at(cooled).await;
    app.run_waitlist_at(cooled).await;
    app.deliver_mail_at(cooled).await;
    let (offer, offer_token) = app.name_and_token_in_newest_mail("/waitlist/offers/");
    let (offer, offer_token): (i64, &str) = (offer.parse().unwrap(), &offer_token);
    anyone.offer(offer, offer_token).await.ok();
    anyone.answer_offer(offer, offer_token, "accept").await.ok();

    // A strike closes the Monday: its visits move; staff read what the office sent.
    let strike = json!({"from": monday, "to": monday, "reason": "Sciopero", "affected": "move"});
    let queued = staff.close("RM", &strike).await;
    let location = queued.header("location").to_owned();
    let mut job = staff.closure_job(&location).await.ok();
    for _ in 0..300 {
        if job["status"] == "done" || job["status"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        job = staff.closure_job(&location).await.ok();
    }
    assert_eq!(job["status"], "done", "{job}");
    staff.closures("RM", "").await.ok();
    app.deliver_mail().await;
    staff.outbox("RM", "").await.ok();
    staff.mail_stats("RM", "").await.ok();
    let week = format!("from={monday}&to={}", monday + Days::new(7));
    staff.reconfirmation("RM", &week).await.ok();
    staff.audit("RM", "").await.ok();
    staff
        .personal_data("RM", "case_number=RM/2026/000020")
        .await
        .ok();
    staff
        .erase_personal_data("RM", &json!({"case_number": "RM/2026/000020"}))
        .await
        .ok();

    // Housekeeping's every round, as on the days before and after the visits.
    let visit = instant(&rome.slots[0]["starts_at"]);
    app.run_reconfirmation_at(visit - chrono::Duration::days(3))
        .await;
    app.run_reconfirmation_at(visit - chrono::Duration::hours(23))
        .await;
    app.tidy_invitations_at(visit - chrono::Duration::days(2))
        .await;
    app.draw_lotteries_at(Utc::now()).await;
    app.sample_lead_times_at(Utc::now()).await;
    app.deliver_mail_at(visit + chrono::Duration::days(2)).await;
    app.run_retention_at(visit + chrono::Duration::days(800))
        .await;
}

/// The last part: a patronato books for a client; the desk receives a walk-in who attends and
/// answers the survey; an applicant proves a registered case and solves a proof of work; the
/// case system hears every event at its webhook; a later day is
/// released by lot, entered, drawn and replayed.
async fn the_office_shares_out_seats_and_is_heard(
    app: &TestApp,
    rome: &OpenRome,
    spi: &Token,
    receiver: &Receiver,
) {
    let staff = app.by(&rome.manager);
    let admin = app.admin_token().await;
    let national = app.by(&admin);
    let monday = september_monday();
    let tuesday = staff_slots(
        app,
        &rome.manager,
        monday + Days::new(1),
        monday + Days::new(1),
    )
    .await;

    // The case system subscribes; every event reaches it.
    let subscription = json!({"url": receiver.url});
    app.by(spi)
        .subscribe_webhook("RM", &subscription)
        .await
        .created();
    staff.webhooks("RM").await.ok();

    // A patronato, accredited by an administrator, books for its client.
    let account =
        json!({"email": "sportello@inca.it", "password": PASSWORD, "role": "intermediary"});
    let created = national.create_staff(&account).await.created();
    let patronato = created["id"].as_i64().unwrap();
    let terms = json!({"organisation": "Patronato INCA", "max_active": 2, "max_per_week": 3});
    national.accredit("RM", patronato, &terms).await.ok();
    let inca = app.token_for("sportello@inca.it", PASSWORD).await;
    let mut client = applicant(&tuesday[2], 30);
    client["email"] = json!("client30@example.org");
    app.by(&inca).book("RM", &client).await.created();
    staff.intermediaries("RM").await.ok();
    national.revoke_accreditation("RM", patronato).await;

    // A walk-in at the desk attends and answers the survey mailed afterwards.
    let operator = app.operator("RM").await;
    let desk = app.by(&operator);
    let under_way = slot_under_way(app, office_id(app, "RM").await, rome.calendar).await;
    let mut visit = walk_in(under_way, 31);
    visit["email"] = json!("walker31@example.org");
    let walked_in = desk.book("RM", &visit).await.created();
    let reference = walked_in["reference"].as_str().unwrap();
    for action in ["check-in", "attended"] {
        desk.desk("RM", reference, action, &json!({})).await.ok();
    }
    app.deliver_mail().await;
    let (survey, token) = app.name_and_token_in_newest_mail("/surveys/");
    let (survey, token) = (survey.as_str(), token.as_str());
    app.public().survey(survey, token).await.ok();
    let answer = json!({"rating": 4, "had_documents": true, "desk_wait": "15_to_30"});
    app.public()
        .answer_survey(survey, token, &answer)
        .await
        .ok();

    // Rome asks for proof of work and books registered cases only: a wrong code is refused, a
    // spent challenge is refused again, the right code with a fresh one books.
    let guarded = json!({"proof_of_work": true, "proof_of_work_cost": 1});
    staff.update_office("RM", &guarded).await.ok();
    let registered_only = json!({"horizon_days": 730, "eligibility": "registered"});
    staff
        .put_service("RM", "document_delivery", &registered_only)
        .await
        .ok();
    let mut proven = applicant(&tuesday[3], 1);
    proven["verification_secret"] = json!("K7P3 Q9XE");
    proven["altcha"] = json!(solve(app.public().challenge("RM").await.ok()).await);
    app.public()
        .book("RM", &proven)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "case_not_verified");
    proven["verification_secret"] = json!("K7P3 Q9XD");
    let spent = app.public().book("RM", &proven).await;
    assert_eq!(
        spent.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        spent.text()
    );
    proven["altcha"] = json!(solve(app.public().challenge("RM").await.ok()).await);
    app.public().book("RM", &proven).await.created();
    let unguarded = json!({"proof_of_work": false});
    staff.update_office("RM", &unguarded).await.ok();

    // A later day released by lot: two enter, the draw is made, an administrator replays it.
    let lottery = json!({"release_mode": "lottery", "lottery_window_minutes": 5});
    staff
        .put_service("RM", "document_delivery", &lottery)
        .await
        .ok();
    let day = monday + Days::new(14);
    let opens_at = Utc::now() + chrono::Duration::seconds(1);
    let range = json!({"from": day, "to": day, "opens_at": opens_at});
    staff.publish("RM", &range).await.ok();
    let draws = app.public().draws("RM").await.ok();
    let draw = draws[0]["id"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for n in 40..42 {
        let entry = json!({
            "case_number": format!("RM/2026/{n:06}"),
            "full_name": "Amina Haddad",
            "email": format!("entrant{n}@example.org"),
            "language": "it",
            "any_day_from": day,
            "any_day_to": day,
        });
        app.public().enter_draw("RM", draw, &entry).await.created();
    }
    let closed = opens_at + chrono::Duration::minutes(6);
    assert_eq!(app.draw_lotteries_at(closed).await, 1);
    app.public().draw("RM", draw).await.ok();
    national.replay_draw("RM", draw).await.ok();
    app.deliver_mail_at(closed).await;

    // The receiver has heard the events; staff see the deliveries and send one again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver.accepted().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !receiver.accepted().is_empty(),
        "no event reached the case system"
    );
    let deliveries = staff.webhook_deliveries("RM", "").await.ok();
    let first = &deliveries[0]["id"];
    staff.redeliver_webhook("RM", first).await;
}

async fn every_query_on_office_data_names_its_office() {
    diesel::connection::set_default_instrumentation(record_statements).unwrap();
    // The test's database is created before the app connects to it.
    let app = {
        let database = TestDatabase::create(Backend::Postgres);
        let url = database.url();
        let name = url
            .split('?')
            .next()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        *WATCHED.lock().unwrap() = Some((name, Default::default()));
        spawn_app_on(database, |s| {
            s.booking.seat_cooldown_seconds = 600;
            s.webhooks.worker_enabled = true;
        })
        .await
    };
    let receiver = Receiver::start();
    let tables = app.columns_by_table().await;
    RECORDING.store(true, std::sync::atomic::Ordering::Release);

    // Rome opens, the case system registers a case; applicants look, book, move and cancel;
    // the desk checks one in; staff read the agenda, the search, the events and the figures.
    let rome = open_rome(&app).await;
    let (_, spi) = case_system_of(&app, "RM").await;
    let case = registered_case("RM/2026/000001", None);
    app.by(&spi).register_case("RM", &case).await.created();
    let anyone = app.public();
    anyone
        .availability("RM", "service=document_delivery")
        .await
        .ok();
    let first = anyone
        .book("RM", &applicant(&rome.slots[0], 1))
        .await
        .created();
    let (reference, token) = (
        first["reference"].as_str().unwrap(),
        first["manage_token"].as_str().unwrap(),
    );
    anyone.booking(reference, token).await.ok();
    anyone
        .reschedule(reference, token, &rome.slots[1]["id"])
        .await
        .ok();
    let second = anyone
        .book("RM", &applicant(&rome.slots[2], 2))
        .await
        .created();
    let staff = app.by(&rome.manager);
    staff
        .desk(
            "RM",
            second["reference"].as_str().unwrap(),
            "check-in",
            &json!({}),
        )
        .await;
    staff.agenda("RM", "").await.ok();
    staff
        .search("RM", &format!("reference={reference}"))
        .await
        .ok();
    staff.indicators("RM", "").await;
    app.by(&spi).events("").await.ok();
    anyone.cancel_booking(reference, token).await.ok();
    the_office_runs_its_weeks(&app, &rome, &spi).await;
    the_office_shares_out_seats_and_is_heard(&app, &rome, &spi, &receiver).await;

    let seen = WATCHED.lock().unwrap().take().unwrap().1;
    RECORDING.store(false, std::sync::atomic::Ordering::Release);
    let mut unnamed: Vec<String> = Vec::new();
    for sql in &seen {
        let upper = sql.to_ascii_uppercase();
        if upper.starts_with("INSERT") || upper.contains("__DIESEL_SCHEMA_MIGRATIONS") {
            // A new row names its office (every_table_of_office_data_names_its_office).
            continue;
        }
        let office_data = tables_named(sql)
            .into_iter()
            .any(|table| tables.contains_key(&table) && !NATIONAL.contains(&table.as_str()));
        let filtered = upper
            .split_once(" WHERE ")
            .is_some_and(|(_, condition)| condition.contains("OFFICE_ID"));
        let shape = shape(sql);
        let excused = ACROSS_OFFICES.contains(&shape.as_str());
        if office_data && !filtered && !excused {
            unnamed.push(shape);
        }
    }
    assert!(seen.len() > 50, "only {} statements recorded", seen.len());
    assert!(
        unnamed.is_empty(),
        "{} statements on office data without office_id:\n{}",
        unnamed.len(),
        unnamed
            .iter()
            .map(|shape| format!("    {shape:?},"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
