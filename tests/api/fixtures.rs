//! What the stories start from, in one place: offices set up through the API as their staff
//! would, applicants, the dates the stories happen on, and the one invariant every booking
//! story checks (seats counted equal bookings holding them).

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, Utc, Weekday};
use diesel::prelude::*;
use serde_json::{Value, json};
use sportello::{
    domain::{
        days::today,
        ids::{CalendarId, OfficeId},
        office::OfficeCode,
        slots::{PlannedSlot, Reconciliation},
    },
    store::{
        StoreError, offices,
        schema::{bookings, seat_releases, slots},
    },
};

use crate::harness::{TestApp, Token};

/// An instant the API wrote (RFC 3339), in UTC.
pub fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

pub fn next_year() -> i32 {
    Utc::now().year() + 1
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The Monday of the week `day` falls in.
pub fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Days::new(u64::from(day.weekday().num_days_from_monday()))
}

/// A Monday next September, when nothing is closed: the day most stories book.
pub fn september_monday() -> NaiveDate {
    monday_of(date(next_year(), 9, 15))
}

/// The last Sunday of a month: when Europe changes its clocks (March and October).
pub fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let mut day = date(year, month + 1, 1) - Days::new(1);
    while day.weekday() != Weekday::Sun {
        day = day - Days::new(1);
    }
    day
}

/// A range of days as the API takes it.
pub fn days(from: NaiveDate, to: NaiveDate) -> Value {
    json!({"from": from, "to": to})
}

/// The local time of day (`09:00`) and offset (`+02:00`) of a slot, from its RFC 3339 start.
pub fn local_time(slot: &Value) -> (&str, &str) {
    let starts_at = slot["starts_at"].as_str().unwrap();
    (&starts_at[11..16], &starts_at[19..])
}

/// The eleven slots of one of Rome's days.
pub const DAY_OF_SLOTS: [&str; 11] = [
    "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "14:00", "14:30", "15:00",
    "15:30",
];

/// The national administration creates an office, in stage `draft`, in Rome's time zone with
/// Rome's patron day.
pub async fn create_office(app: &TestApp, code: &str) -> Value {
    let admin = app.admin_token().await;
    let office = json!({
        "code": code,
        "name": format!("Sportello Unico per l'Immigrazione {code}"),
        "address": "Via Ostiense 131/L",
        "city": "Roma",
        "province": code,
        "latitude": 41.87,
        "longitude": 12.48,
        "email": format!("sui.{}@interno.it", code.to_lowercase()),
        "languages": ["it", "en"],
        "patron_day": "06-29",
    });
    app.by(&admin).create_office(&office).await.created()
}

/// The national administration moves an office to `stage`.
pub async fn set_stage(app: &TestApp, code: &str, stage: &str) {
    let admin = app.admin_token().await;
    app.by(&admin).set_stage(code, stage).await.ok();
}

/// Rome as its manager configured it.
pub struct Rome {
    pub manager: Token,
    pub calendar: i64,
}

/// Rome, configured by its manager: document delivery (30 minutes, bookable up to two years
/// ahead) on one calendar of three desks, Monday to Friday 09:00–12:30 and 14:00–16:00. Still
/// a draft: nothing is published.
pub async fn configure_rome(app: &TestApp) -> Rome {
    create_office(app, "RM").await;
    let manager = app.manager("RM").await;
    let rome = app.by(&manager);
    let settings = json!({"horizon_days": 730});
    rome.put_service("RM", "document_delivery", &settings)
        .await
        .created();
    let calendar =
        json!({"name": "Sportelli 1-3", "desks": 3, "service_codes": ["document_delivery"]});
    let calendar = rome.create_calendar("RM", &calendar).await.created();
    let id = calendar["id"].as_i64().unwrap();
    let hours: Vec<Value> = (1..=5)
        .flat_map(|day| {
            [
                json!({"weekday": day, "opens": "09:00", "closes": "12:30"}),
                json!({"weekday": day, "opens": "14:00", "closes": "16:00"}),
            ]
        })
        .collect();
    rome.put_hours("RM", id, &json!(hours)).await.ok();
    Rome {
        manager,
        calendar: id,
    }
}

/// Rome opened end to end: configured, live, and a Monday of slots published next September.
pub struct OpenRome {
    pub manager: Token,
    pub calendar: i64,
    /// That Monday's slots (eleven, three desks each), as staff see them.
    pub slots: Vec<Value>,
}

pub async fn open_rome(app: &TestApp) -> OpenRome {
    let Rome { manager, calendar } = configure_rome(app).await;
    set_stage(app, "RM", "live").await;
    let monday = september_monday();
    publish(app, &manager, monday, monday).await;
    let slots = staff_slots(app, &manager, monday, monday).await;
    OpenRome {
        manager,
        calendar,
        slots,
    }
}

/// Rome configured as [`configure_rome`] does, its document delivery released by lot: for a
/// five-minute window after seats open, requests are entries in a draw.
pub async fn configure_rome_by_lot(app: &TestApp) -> Rome {
    let rome = configure_rome(app).await;
    let lottery =
        json!({"horizon_days": 730, "release_mode": "lottery", "lottery_window_minutes": 5});
    app.by(&rome.manager)
        .put_service("RM", "document_delivery", &lottery)
        .await
        .ok();
    rome
}

/// Rome opened as an applicant finds it today: configured, live, and the ten days from three
/// days on published (the weekdays among them have slots).
pub async fn open_rome_soon(app: &TestApp) -> OpenRome {
    let Rome { manager, calendar } = configure_rome(app).await;
    set_stage(app, "RM", "live").await;
    let first = Utc::now().date_naive() + Days::new(3);
    let last = first + Days::new(9);
    publish(app, &manager, first, last).await;
    let slots = staff_slots(app, &manager, first, last).await;
    OpenRome {
        manager,
        calendar,
        slots,
    }
}

/// Rome's manager publishes the days `from..=to`; returns the report.
pub async fn publish(app: &TestApp, manager: &Token, from: NaiveDate, to: NaiveDate) -> Value {
    let reply = app.by(manager).publish("RM", &days(from, to)).await;
    reply.ok()
}

/// The staff view of Rome's slots over some days.
pub async fn staff_slots(
    app: &TestApp,
    token: &Token,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<Value> {
    let query = format!("from={from}&to={to}");
    let slots = app.by(token).slots("RM", &query).await.ok();
    serde_json::from_value(slots).unwrap()
}

/// Applicant number `n` asking for `slot`: their own case number and email address, writing in
/// French.
pub fn applicant(slot: &Value, n: usize) -> Value {
    json!({
        "slot_id": slot["id"],
        "case_number": format!("RM/2026/{n:06}"),
        "full_name": "Amina Diallo",
        "email": format!("amina{n}@example.org"),
        "language": "fr",
    })
}

/// Applicant `n` books `slot` at Rome online, writing in `language`; returns the confirmation.
pub async fn book_as(app: &TestApp, slot: &Value, n: usize, language: &str) -> Value {
    let mut visit = applicant(slot, n);
    visit["language"] = json!(language);
    app.public().book("RM", &visit).await.created()
}

/// Someone at the desk (or on the phone), with no email address: case `RM/DESK/{n}`.
pub fn walk_in(slot_id: i64, n: usize) -> Value {
    json!({
        "slot_id": slot_id,
        "case_number": format!("RM/DESK/{n}"),
        "full_name": "Yusuf Karimi",
        "phone": "+39 333 1234567",
        "language": "ar",
    })
}

/// Books `seats` seats of a slot at the desk (the office is put in preview, where staff can
/// book), as people who phoned would.
pub async fn take_seats(app: &TestApp, token: &Token, slot_id: i64, seats: usize) {
    set_stage(app, "RM", "preview").await;
    for n in 0..seats {
        let phoned = json!({
            "slot_id": slot_id,
            "case_number": format!("RM/PHONE/{slot_id}/{n}"),
            "full_name": "Amina Diallo",
            "language": "it",
        });
        app.by(token).book("RM", &phoned).await.created();
    }
}

/// The id of the office with `code`.
pub async fn office_id(app: &TestApp, code: &str) -> i64 {
    let code = OfficeCode::parse(code).unwrap();
    app.store
        .read(move |conn| -> Result<i64, StoreError> {
            Ok(offices::id_by_code(conn, &code)?.unwrap().get())
        })
        .await
        .unwrap()
}

/// A slot of `calendar` that started ten minutes ago, so the day's desk work can happen now
/// whatever the time or the date (published through the store, as publishing does).
pub async fn slot_under_way(app: &TestApp, office_id: i64, calendar_id: i64) -> i64 {
    let starts_at = Utc::now() - Duration::minutes(10);
    let slot = PlannedSlot {
        calendar_id: CalendarId::new(calendar_id),
        local_date: today(chrono_tz::Europe::Rome, Utc::now()),
        starts_at,
        ends_at: starts_at + Duration::minutes(30),
        capacity: 3,
        held_for_desk: 0,
        opens_at: None,
    };
    let office_id = OfficeId::new(office_id);
    app.store
        .write(move |conn| -> Result<i64, StoreError> {
            let mut plan = Reconciliation {
                create: vec![slot],
                ..Reconciliation::default()
            };
            sportello::store::slots::apply(conn, office_id, &mut plan, Utc::now())?;
            let end = starts_at + Duration::seconds(1);
            let found = sportello::store::slots::for_staff(conn, office_id, starts_at, end, None)?;
            Ok(found[0].id.get())
        })
        .await
        .unwrap()
}

/// For every slot: seats counted as taken equal the bookings holding them, and cooling seats
/// equal the pending releases. Returns the number of bookings holding seats.
pub async fn assert_seat_counts_match_bookings(app: &TestApp) -> i64 {
    app.store
        .read(|conn| -> Result<i64, StoreError> {
            let rows: Vec<(i64, i32, i32, i32, i32)> = slots::table
                .select((
                    slots::id,
                    slots::capacity,
                    slots::booked_web,
                    slots::booked_desk,
                    slots::cooling,
                ))
                .load(conn)?;
            let mut holding = 0;
            for (id, capacity, web, desk, cooling) in rows {
                let booked: i64 = bookings::table
                    .filter(bookings::slot_id.eq(id))
                    .filter(bookings::status.ne("cancelled"))
                    .count()
                    .get_result(conn)?;
                let releases: i64 = seat_releases::table
                    .filter(seat_releases::slot_id.eq(id))
                    .count()
                    .get_result(conn)?;
                assert_eq!(
                    i64::from(web + desk),
                    booked,
                    "slot {id}: seats taken vs bookings"
                );
                assert_eq!(
                    i64::from(cooling),
                    releases,
                    "slot {id}: cooling seats vs releases"
                );
                assert!(web + desk <= capacity, "slot {id} oversold");
                holding += booked;
            }
            Ok(holding)
        })
        .await
        .unwrap()
}

/// A case the case system registers: Amina's (she writes in French), ready for document
/// delivery from `from` (or at once), whose receipt says `K7P3 Q9XD`.
pub fn registered_case(case_number: &str, from: Option<&str>) -> Value {
    json!({
        "case_number": case_number,
        "ready_for": [{"appointment_type": "document_delivery", "from": from}],
        "email": "amina@example.org",
        "language": "fr",
        "verification_secret": "K7P3 Q9XD",
    })
}

/// Solves a proof-of-work challenge as an applicant's browser does; returns the answer as the
/// ALTCHA widget submits it.
pub async fn solve(challenge: Value) -> String {
    let challenge: altcha::Challenge = serde_json::from_value(challenge).unwrap();
    tokio::task::spawn_blocking(move || sportello::auth::pow::solve(&challenge))
        .await
        .unwrap()
        .expect("solved")
}
