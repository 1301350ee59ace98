//! Scaling out by office (SCALING.md): a national deployment splits the data by office, so
//! every table of office data names its office, and each row names the office of the row it
//! belongs to.

use std::time::{Duration, Instant};

use diesel::{QueryableByName, RunQueryDsl, sql_types::BigInt};
use serde_json::{Value, json};

use crate::{
    case_system::case_system_of,
    fixtures::{applicant, open_rome, open_rome_soon, registered_case},
    harness::{Backend, TestApp, spawn_app_with},
};

on_both_databases!(every_table_of_office_data_names_its_office);

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
