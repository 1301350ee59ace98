//! Scaling out by office (SCALING.md): a national deployment splits the data by office, so
//! every table of office data names its office, and each row names the office of the row it
//! belongs to.

use diesel::{QueryableByName, RunQueryDsl, sql_types::BigInt};

use crate::{
    case_system::case_system_of,
    fixtures::{applicant, open_rome, registered_case},
    harness::{Backend, TestApp, spawn_app_with},
};

on_both_databases!(every_table_of_office_data_names_its_office);

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
