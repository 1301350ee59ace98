//! An office opens its agenda: it turns services on, sets up a calendar of desks with its weekly
//! hours, publishes slots, and applicants see what they can book. Dates are in next year, so
//! nothing here is ever published in the past.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, Token, assert_problem, field_errors, spawn_app};

pub fn next_year() -> i32 {
    chrono::Utc::now().year() + 1
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The Monday of the week `day` falls in.
pub fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Days::new(u64::from(day.weekday().num_days_from_monday()))
}

/// The last Sunday of a month: when Europe changes its clocks (March and October).
fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let mut day = date(year, month + 1, 1) - Days::new(1);
    while day.weekday() != Weekday::Sun {
        day = day - Days::new(1);
    }
    day
}

/// Rome, configured by its manager: document delivery (30 minutes, bookable up to two years
/// ahead) on one calendar of three desks, Monday to Friday 09:00–12:30 and 14:00–16:00.
/// Returns the manager's token and the calendar's id.
pub async fn configure_rome(app: &TestApp) -> (Token, i64) {
    app.create_office("RM").await;
    let manager = app.login_as_manager("RM").await;
    let service = app
        .put(
            "/api/v1/offices/RM/services/document_delivery",
            &json!({"horizon_days": 730}),
            Some(&manager),
        )
        .await;
    assert_eq!(service.status(), StatusCode::CREATED);
    let calendar = app
        .post(
            "/api/v1/offices/RM/calendars",
            &json!({"name": "Sportelli 1-3", "desks": 3, "service_codes": ["document_delivery"]}),
            Some(&manager),
        )
        .await;
    assert_eq!(calendar.status(), StatusCode::CREATED);
    let calendar: Value = calendar.json().await.unwrap();
    let id = calendar["id"].as_i64().unwrap();
    let hours: Vec<Value> = (1..=5)
        .flat_map(|day| {
            [
                json!({"weekday": day, "opens": "09:00", "closes": "12:30"}),
                json!({"weekday": day, "opens": "14:00", "closes": "16:00"}),
            ]
        })
        .collect();
    let response = app
        .put(
            &format!("/api/v1/offices/RM/calendars/{id}/hours"),
            &json!(hours),
            Some(&manager),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    (manager, id)
}

pub async fn publish(app: &TestApp, token: &Token, from: NaiveDate, to: NaiveDate) -> Value {
    let response = app
        .post(
            "/api/v1/offices/RM/slots/publish",
            &json!({"from": from, "to": to}),
            Some(token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "publish {from}..{to}");
    response.json().await.unwrap()
}

/// The staff view of Rome's slots over some days.
pub async fn staff_slots(
    app: &TestApp,
    token: &Token,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<Value> {
    let response = app
        .get(
            &format!("/api/v1/offices/RM/slots?from={from}&to={to}"),
            Some(token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Local times of day (`09:00`) and offsets (`+02:00`) of slots, from their RFC 3339 starts.
fn local_time(slot: &Value) -> (&str, &str) {
    let starts_at = slot["starts_at"].as_str().unwrap();
    (&starts_at[11..16], &starts_at[19..])
}

const DAY_OF_SLOTS: [&str; 11] = [
    "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "14:00", "14:30", "15:00",
    "15:30",
];

/// Books `seats` seats of a slot at the desk (the office is put in preview, where staff can
/// book), as people who phoned would.
pub async fn take_seats(app: &TestApp, token: &Token, slot_id: i64, seats: usize) {
    app.set_stage("RM", "preview").await;
    for n in 0..seats {
        let body = json!({"slot_id": slot_id, "case_number": format!("RM/PHONE/{slot_id}/{n}"), "full_name": "Amina Diallo", "language": "it"});
        let response = app
            .post("/api/v1/offices/RM/bookings", &body, Some(token))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "seat taken in slot {slot_id}"
        );
    }
}

on_both_databases! {
    async fn an_office_is_configured_end_to_end_and_applicants_see_its_slots(backend: Backend) {
        let app = spawn_app(backend).await;
        let (manager, _) = configure_rome(&app).await;

        // The week of Rome's patron day (29 June) next year.
        let patron_day = date(next_year(), 6, 29);
        let monday = monday_of(patron_day);
        let sunday = monday + Days::new(6);
        let report = publish(&app, &manager, monday, sunday).await;
        let open_days = if patron_day.weekday().number_from_monday() <= 5 { 4 } else { 5 };
        assert_eq!(report["created"], open_days * 11, "{report}");
        assert_eq!((report["kept"].as_i64(), report["removed"].as_i64()), (Some(0), Some(0)));
        assert_eq!(report["conflicts"], json!([]));

        // A draft office is invisible to the public, but its manager can look.
        let path = format!("/api/v1/offices/RM/availability?service=document_delivery&from={monday}&to={sunday}");
        assert_problem(app.get(&path, None).await, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(app.get(&path, Some(&manager)).await.status(), StatusCode::OK);

        app.set_stage("RM", "pilot").await;
        let availability: Value = app.get(&path, None).await.json().await.unwrap();
        assert_eq!(availability["office"], "RM");
        assert_eq!(availability["service"], "document_delivery");
        assert_eq!(availability["timezone"], "Europe/Rome");
        let days = availability["days"].as_array().unwrap();
        assert_eq!(days.len() as i64, open_days);
        assert!(days.iter().all(|d| d["date"] != patron_day.to_string()), "closed on the patron day");
        for day in days {
            let slots = day["slots"].as_array().unwrap();
            let times: Vec<&str> = slots.iter().map(|s| local_time(s).0).collect();
            assert_eq!(times, DAY_OF_SLOTS, "the 12:30–14:00 break has no slots");
            assert!(slots.iter().all(|s| s["available"] == 3 && local_time(s).1 == "+02:00"));
            assert!(slots[0]["starts_at"].as_str().unwrap().starts_with(day["date"].as_str().unwrap()));
            assert!(slots[0]["ends_at"].as_str().unwrap().ends_with("T09:30:00+02:00"));
        }

        // The public page of the office lists the service and the hours.
        let page: Value = app.get("/api/v1/offices/RM", None).await.json().await.unwrap();
        assert_eq!(page["services"][0]["code"], "document_delivery");
        assert_eq!(page["services"][0]["duration_minutes"], 30);
        assert!(page["services"][0]["documents"]["en"].as_array().unwrap().len() >= 3);
        assert_eq!(page["opening_hours"].as_array().unwrap().len(), 10);
        assert_eq!(page["opening_hours"][0], json!({"weekday": 1, "opens": "09:00", "closes": "12:30"}));
    }

    async fn nine_oclock_stays_nine_oclock_across_both_clock_changes(backend: Backend) {
        let app = spawn_app(backend).await;
        let (manager, _) = configure_rome(&app).await;
        for (change, before, after) in [
            (last_sunday(next_year(), 3), "+01:00", "+02:00"),
            (last_sunday(next_year(), 10), "+02:00", "+01:00"),
        ] {
            let monday_before = monday_of(change);
            let friday_after = change + Days::new(5);
            publish(&app, &manager, monday_before, friday_after).await;
            let slots = staff_slots(&app, &manager, monday_before, friday_after).await;
            assert!(!slots.is_empty());
            for slot in &slots {
                let day: NaiveDate = slot["date"].as_str().unwrap().parse().unwrap();
                let (time, offset) = local_time(slot);
                assert!(DAY_OF_SLOTS.contains(&time), "{slot}");
                assert_eq!(offset, if day < change { before } else { after }, "{slot}");
            }
            // Every open day has its eleven slots, none doubled or lost.
            let mut per_day = std::collections::BTreeMap::<&str, usize>::new();
            for slot in &slots {
                *per_day.entry(slot["date"].as_str().unwrap()).or_default() += 1;
            }
            assert!(per_day.values().all(|count| *count == 11), "{per_day:?}");
        }
    }

    async fn national_holidays_and_the_patron_day_are_closed(backend: Backend) {
        let app = spawn_app(backend).await;
        let (manager, _) = configure_rome(&app).await;
        let year = next_year();

        let response = app.get(&format!("/api/v1/offices/RM/closures?from={year}-01-01&to={year}-12-31"), Some(&manager)).await;
        let closures: Vec<Value> = response.json().await.unwrap();
        let find = |day: NaiveDate| closures.iter().find(|c| c["from"] == day.to_string()).cloned();
        assert_eq!(find(date(year, 6, 2)).unwrap()["reason"], "Festa della Repubblica");
        assert_eq!(find(date(year, 6, 2)).unwrap()["kind"], "national_holiday");
        assert_eq!(find(date(year, 12, 26)).unwrap()["reason"], "Santo Stefano");
        assert_eq!(find(date(year, 6, 29)).unwrap()["kind"], "patron_day");
        let easter_monday = closures.iter().find(|c| c["reason"].as_str().unwrap().contains("Angelo")).unwrap();
        let easter_monday: NaiveDate = easter_monday["from"].as_str().unwrap().parse().unwrap();
        assert_eq!(easter_monday.weekday(), Weekday::Mon);
        assert!((3..=4).contains(&easter_monday.month()));

        // Easter Monday's week and Republic Day's week: no slots on the holidays.
        for holiday in [easter_monday, date(year, 6, 2), date(year, 12, 8)] {
            let monday = monday_of(holiday);
            publish(&app, &manager, monday, monday + Days::new(6)).await;
            let slots = staff_slots(&app, &manager, monday, monday + Days::new(6)).await;
            assert!(slots.iter().all(|s| s["date"] != holiday.to_string()), "{holiday} is closed");
            assert!(!slots.is_empty());
        }
    }

    async fn publishing_again_changes_nothing_and_never_drops_a_booked_seat(backend: Backend) {
        let app = spawn_app(backend).await;
        let (manager, calendar) = configure_rome(&app).await;
        let monday = monday_of(date(next_year(), 9, 15));
        let friday = monday + Days::new(4);
        let first = publish(&app, &manager, monday, friday).await;
        assert_eq!(first["created"], 55);
        let again = publish(&app, &manager, monday, friday).await;
        assert_eq!((again["created"].as_i64(), again["kept"].as_i64(), again["removed"].as_i64()), (Some(0), Some(55), Some(0)));

        // Someone books Tuesday 15:30; someone else takes two seats on Wednesday at 09:00.
        let slots = staff_slots(&app, &manager, monday, friday).await;
        let at = |day: u64, time: &str| {
            let date = (monday + Days::new(day)).to_string();
            slots.iter().find(|s| s["date"] == date && local_time(s).0 == time).unwrap()["id"].as_i64().unwrap()
        };
        let afternoon = at(1, "15:30");
        let morning = at(2, "09:00");
        take_seats(&app, &manager, afternoon, 1).await;
        take_seats(&app, &manager, morning, 2).await;

        // The office drops its afternoons and goes down to one desk.
        let mornings: Vec<Value> = (1..=5).map(|d| json!({"weekday": d, "opens": "09:00", "closes": "12:30"})).collect();
        app.put(&format!("/api/v1/offices/RM/calendars/{calendar}/hours"), &json!(mornings), Some(&manager)).await;
        app.patch(&format!("/api/v1/offices/RM/calendars/{calendar}"), &json!({"desks": 1}), Some(&manager)).await;
        let report = publish(&app, &manager, monday, friday).await;
        assert_eq!(report["created"], 0);
        assert_eq!(report["kept"], 35);
        assert_eq!(report["removed"], 19, "20 afternoon slots, one of them booked");
        let conflicts = report["conflicts"].as_array().unwrap();
        assert_eq!(conflicts.len(), 2, "{report}");
        assert_eq!((conflicts[0]["slot_id"].as_i64(), conflicts[0]["reason"].as_str()), (Some(afternoon), Some("no_longer_open")));
        assert_eq!((conflicts[1]["slot_id"].as_i64(), conflicts[1]["reason"].as_str()), (Some(morning), Some("fewer_desks_than_bookings")));
        assert_eq!(conflicts[1]["booked"], 2);

        // Both booked slots are still there; the crowded one sells nothing more.
        let slots = staff_slots(&app, &manager, monday, friday).await;
        let by_id = |id: i64| slots.iter().find(|s| s["id"] == id).cloned().unwrap();
        assert_eq!(by_id(afternoon)["booked_desk"], 1);
        assert_eq!((by_id(morning)["capacity"].as_i64(), by_id(morning)["available_web"].as_i64()), (Some(2), Some(0)));
        assert_eq!(slots.len(), 36);
        assert!(slots.iter().filter(|s| s["id"] != morning && s["id"] != afternoon).all(|s| s["capacity"] == 1));
        // The afternoon slot is outside the hours now: blocked, so not even a cancelled seat
        // goes back on sale.
        assert_eq!(by_id(afternoon)["blocked"], true);
        assert_eq!(by_id(afternoon)["block_reason"], "No longer within the opening hours");
        assert_eq!(by_id(afternoon)["available_web"], 0);

        // And publishing once more is stable: the same conflicts, nothing else.
        let stable = publish(&app, &manager, monday, friday).await;
        assert_eq!((stable["created"].as_i64(), stable["removed"].as_i64()), (Some(0), Some(0)));
        assert_eq!(stable["conflicts"].as_array().unwrap().len(), 2);
    }

    async fn a_closure_takes_free_slots_away_and_reports_booked_ones(backend: Backend) {
        let app = spawn_app(backend).await;
        let (manager, _) = configure_rome(&app).await;
        let monday = monday_of(date(next_year(), 9, 15));
        let friday = monday + Days::new(4);
        publish(&app, &manager, monday, friday).await;
        let wednesday = monday + Days::new(2);
        let thursday = monday + Days::new(3);
        let slots = staff_slots(&app, &manager, wednesday, wednesday).await;
        take_seats(&app, &manager, slots[0]["id"].as_i64().unwrap(), 1).await;

        let response = app
            .post("/api/v1/offices/RM/closures", &json!({"from": wednesday, "to": wednesday, "reason": "Sciopero"}), Some(&manager))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let closed: Value = response.json().await.unwrap();
        assert_eq!(closed["withdrawn_slots"], 10);
        assert_eq!(closed["conflicts"][0]["slot_id"], slots[0]["id"]);
        assert_eq!(closed["closure"]["kind"], "office");

        // Part of a day: Thursday afternoon.
        let response = app
            .post(
                "/api/v1/offices/RM/closures",
                &json!({"from": thursday, "to": thursday, "reason": "Formazione", "start_time": "13:00", "end_time": "16:00"}),
                Some(&manager),
            )
            .await;
        let partial: Value = response.json().await.unwrap();
        assert_eq!(partial["withdrawn_slots"], 4);
        assert_eq!(partial["closure"]["start_time"], "13:00");
        let thursday_slots = staff_slots(&app, &manager, thursday, thursday).await;
        assert!(thursday_slots.iter().all(|s| local_time(s).0 < "12:30"));

        // Removing a closure and publishing again brings the slots back.
        let id = closed["closure"]["id"].as_i64().unwrap();
        let deleted = app.client.delete(app.url(&format!("/api/v1/offices/RM/closures/{id}"))).bearer_auth(&manager.0).send().await.unwrap();
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let report = publish(&app, &manager, monday, friday).await;
        assert_eq!(report["created"], 10);
        assert_eq!(staff_slots(&app, &manager, wednesday, wednesday).await.len(), 11);
    }

    async fn a_blocked_slot_sells_no_seats_until_unblocked(backend: Backend) {
        let app = spawn_app(backend).await;
        let (manager, _) = configure_rome(&app).await;
        app.set_stage("RM", "live").await;
        let monday = monday_of(date(next_year(), 9, 15));
        publish(&app, &manager, monday, monday).await;
        let slot = staff_slots(&app, &manager, monday, monday).await[0].clone();
        let path = format!("/api/v1/offices/RM/slots/{}", slot["id"]);
        let availability = format!("/api/v1/offices/RM/availability?service=document_delivery&from={monday}&to={monday}");
        let count = |body: Value| body["days"][0]["slots"].as_array().map_or(0, |s| s.len());

        let no_reason = app.patch(&path, &json!({"blocked": true}), Some(&manager)).await;
        let (_, problem) = assert_problem(no_reason, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(field_errors(&problem)[0].0, "reason");

        let blocked: Value = app.patch(&path, &json!({"blocked": true, "reason": "Desk 2 broken"}), Some(&manager)).await.json().await.unwrap();
        assert_eq!((blocked["blocked"].as_bool(), blocked["block_reason"].as_str()), (Some(true), Some("Desk 2 broken")));
        assert_eq!(count(app.get(&availability, None).await.json().await.unwrap()), 10);
        app.patch(&path, &json!({"blocked": false}), Some(&manager)).await;
        assert_eq!(count(app.get(&availability, None).await.json().await.unwrap()), 11);
    }

    async fn the_desk_share_notice_and_horizon_shape_what_the_web_sees(backend: Backend) {
        let app = spawn_app(backend).await;
        let (manager, _) = configure_rome(&app).await;
        app.set_stage("RM", "live").await;
        let settings = json!({"horizon_days": 730, "desk_share_percent": 34});
        app.put("/api/v1/offices/RM/services/document_delivery", &settings, Some(&manager)).await;
        let monday = monday_of(date(next_year(), 9, 15));
        publish(&app, &manager, monday, monday).await;
        let availability = format!("/api/v1/offices/RM/availability?service=document_delivery&from={monday}&to={monday}");
        let body: Value = app.get(&availability, None).await.json().await.unwrap();
        let web_seats: i64 = body["days"][0]["slots"].as_array().unwrap().iter().map(|s| s["available"].as_i64().unwrap()).sum();
        // 11 slots × 3 desks = 33 seats; 34% of them (11) stay with the desk.
        assert_eq!(web_seats, 22);

        // A horizon that ends before that Monday hides it; so does turning the service off.
        let near = json!({"horizon_days": 1});
        app.put("/api/v1/offices/RM/services/document_delivery", &near, Some(&manager)).await;
        let body: Value = app.get(&availability, None).await.json().await.unwrap();
        assert_eq!(body["days"], json!([]));
        let off = app.client.delete(app.url("/api/v1/offices/RM/services/document_delivery")).bearer_auth(&manager.0).send().await.unwrap();
        assert_eq!(off.json::<Value>().await.unwrap()["active"], false);
        assert_problem(app.get(&availability, None).await, StatusCode::NOT_FOUND, "not_found").await;
        let page: Value = app.get("/api/v1/offices/RM", None).await.json().await.unwrap();
        assert_eq!(page["services"], json!([]));
    }

    async fn bad_configuration_is_refused_field_by_field(backend: Backend) {
        let app = spawn_app(backend).await;
        let (manager, calendar) = configure_rome(&app).await;
        app.put("/api/v1/offices/RM/services/information", &json!({}), Some(&manager)).await;

        let mixed = app
            .post("/api/v1/offices/RM/calendars", &json!({"name": "Mixed", "desks": 2, "service_codes": ["document_delivery", "information"]}), Some(&manager))
            .await;
        let (_, problem) = assert_problem(mixed, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(field_errors(&problem)[0].1.contains("share one duration"), "{problem}");

        let bad = app
            .post("/api/v1/offices/RM/calendars", &json!({"name": "", "desks": 0, "service_codes": ["permit_collection"]}), Some(&manager))
            .await;
        let (_, problem) = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let fields: Vec<String> = field_errors(&problem).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["name", "desks", "service_codes[0]"]);

        let hours = json!([{"weekday": 1, "opens": "09:00", "closes": "12:00"}, {"weekday": 1, "opens": "11:00", "closes": "13:00"}, {"weekday": 9, "opens": "9", "closes": "10:00"}]);
        let overlapping = app.put(&format!("/api/v1/offices/RM/calendars/{calendar}/hours"), &hours, Some(&manager)).await;
        let (_, problem) = assert_problem(overlapping, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let fields: Vec<String> = field_errors(&problem).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["[2].weekday", "[2].opens", "[1].opens"]);

        let past = app.post("/api/v1/offices/RM/slots/publish", &json!({"from": "2020-01-06", "to": "2020-01-10"}), Some(&manager)).await;
        let (_, problem) = assert_problem(past, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(field_errors(&problem)[0].0, "from");
        let nothing = app.post("/api/v1/offices/RM/slots/publish", &json!({}), Some(&manager)).await;
        let (_, problem) = assert_problem(nothing, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(field_errors(&problem).len(), 2);
        let rolling = app.post("/api/v1/offices/RM/slots/publish", &json!({"days": 14}), Some(&manager)).await;
        assert_eq!(rolling.status(), StatusCode::OK);

        // The duration of a service shared by a calendar cannot drift from its partners'.
        app.patch(&format!("/api/v1/offices/RM/calendars/{calendar}"), &json!({"service_codes": ["document_delivery"]}), Some(&manager)).await;
        let availability = app.get("/api/v1/offices/RM/availability?service=document_delivery&from=tomorrow&colour=red", Some(&manager)).await;
        let (_, problem) = assert_problem(availability, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(field_errors(&problem)[0].0, "colour");
        let availability = app.get("/api/v1/offices/RM/availability?from=tomorrow", Some(&manager)).await;
        let (_, problem) = assert_problem(availability, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let fields: Vec<String> = field_errors(&problem).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["from", "service"]);
    }
}
