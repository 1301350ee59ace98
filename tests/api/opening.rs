//! An office opens its calendar: it turns services on, sets up a calendar of desks with its
//! weekly hours, publishes slots, and applicants see what they can book. Dates are in next
//! year, so nothing here is ever published in the past.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    client::field_errors,
    fixtures::{
        DAY_OF_SLOTS, book_as, configure_rome, date, last_sunday, local_time, monday_of, next_year,
        open_rome, publish, september_monday, set_stage, staff_slots, take_seats,
    },
    harness::{Backend, spawn_app},
};

on_both_databases!(
    an_office_is_configured_end_to_end_and_applicants_see_its_slots,
    nine_oclock_stays_nine_oclock_across_both_clock_changes,
    national_holidays_and_the_patron_day_are_closed,
    publishing_again_changes_nothing_and_never_drops_a_booked_seat,
    a_closure_takes_free_slots_away_and_reports_booked_ones,
    a_closure_over_a_cancelled_visit_withdraws_its_seats_and_keeps_the_visit,
    a_blocked_slot_sells_no_seats_until_unblocked,
    the_desk_share_notice_and_horizon_shape_what_the_web_sees,
    bad_configuration_is_refused_field_by_field,
    a_calendar_stays_editable_after_one_of_its_services_is_turned_off,
);

async fn an_office_is_configured_end_to_end_and_applicants_see_its_slots(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;

    // The week of Rome's patron day (29 June) next year.
    let patron_day = date(next_year(), 6, 29);
    let monday = monday_of(patron_day);
    let sunday = monday + Days::new(6);
    let report = publish(&app, &rome.manager, monday, sunday).await;
    let open_days = if patron_day.weekday().number_from_monday() <= 5 {
        4
    } else {
        5
    };
    assert_eq!(report["created"], open_days * 11, "{report}");
    assert_eq!(
        (report["kept"].as_i64(), report["removed"].as_i64()),
        (Some(0), Some(0))
    );
    assert_eq!(report["conflicts"], json!([]));

    // A draft office is invisible to the public, but its manager can look.
    let query = format!("service=document_delivery&from={monday}&to={sunday}");
    let anyone = app.public();
    anyone
        .availability("RM", &query)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    app.by(&rome.manager).availability("RM", &query).await.ok();

    set_stage(&app, "RM", "pilot").await;
    let availability = anyone.availability("RM", &query).await.ok();
    assert_eq!(availability["office"], "RM");
    assert_eq!(availability["service"], "document_delivery");
    assert_eq!(availability["timezone"], "Europe/Rome");
    let days = availability["days"].as_array().unwrap();
    assert_eq!(days.len() as i64, open_days);
    assert!(
        days.iter().all(|d| d["date"] != patron_day.to_string()),
        "closed on the patron day"
    );
    for day in days {
        let slots = day["slots"].as_array().unwrap();
        let times: Vec<&str> = slots.iter().map(|s| local_time(s).0).collect();
        assert_eq!(times, DAY_OF_SLOTS, "the 12:30–14:00 break has no slots");
        assert!(
            slots
                .iter()
                .all(|s| s["available"] == 3 && local_time(s).1 == "+02:00")
        );
        let starts_at = slots[0]["starts_at"].as_str().unwrap();
        assert!(starts_at.starts_with(day["date"].as_str().unwrap()));
        assert!(
            slots[0]["ends_at"]
                .as_str()
                .unwrap()
                .ends_with("T09:30:00+02:00")
        );
    }

    // The public page of the office lists the service and the hours.
    let page = anyone.office("RM").await.ok();
    assert_eq!(page["services"][0]["code"], "document_delivery");
    assert_eq!(page["services"][0]["duration_minutes"], 30);
    assert!(
        page["services"][0]["documents"]["en"]
            .as_array()
            .unwrap()
            .len()
            >= 3
    );
    assert_eq!(page["opening_hours"].as_array().unwrap().len(), 10);
    assert_eq!(
        page["opening_hours"][0],
        json!({"weekday": 1, "opens": "09:00", "closes": "12:30"})
    );
}

async fn nine_oclock_stays_nine_oclock_across_both_clock_changes(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;
    for (change, before, after) in [
        (last_sunday(next_year(), 3), "+01:00", "+02:00"),
        (last_sunday(next_year(), 10), "+02:00", "+01:00"),
    ] {
        let monday_before = monday_of(change);
        let friday_after = change + Days::new(5);
        publish(&app, &rome.manager, monday_before, friday_after).await;
        let slots = staff_slots(&app, &rome.manager, monday_before, friday_after).await;
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
    let rome = configure_rome(&app).await;
    let year = next_year();

    let query = format!("from={year}-01-01&to={year}-12-31");
    let closures = app.by(&rome.manager).closures("RM", &query).await.ok();
    let closures = closures.as_array().unwrap();
    let find = |day: NaiveDate| {
        closures
            .iter()
            .find(|c| c["from"] == day.to_string())
            .cloned()
    };
    assert_eq!(
        find(date(year, 6, 2)).unwrap()["reason"],
        "Festa della Repubblica"
    );
    assert_eq!(find(date(year, 6, 2)).unwrap()["kind"], "national_holiday");
    assert_eq!(find(date(year, 12, 26)).unwrap()["reason"], "Santo Stefano");
    assert_eq!(find(date(year, 6, 29)).unwrap()["kind"], "patron_day");
    let easter_monday = closures
        .iter()
        .find(|c| c["reason"].as_str().unwrap().contains("Angelo"))
        .unwrap();
    let easter_monday: NaiveDate = easter_monday["from"].as_str().unwrap().parse().unwrap();
    assert_eq!(easter_monday.weekday(), Weekday::Mon);
    assert!((3..=4).contains(&easter_monday.month()));

    // Easter Monday's week and Republic Day's week: no slots on the holidays.
    for holiday in [easter_monday, date(year, 6, 2), date(year, 12, 8)] {
        let monday = monday_of(holiday);
        publish(&app, &rome.manager, monday, monday + Days::new(6)).await;
        let slots = staff_slots(&app, &rome.manager, monday, monday + Days::new(6)).await;
        assert!(
            slots.iter().all(|s| s["date"] != holiday.to_string()),
            "{holiday} is closed"
        );
        assert!(!slots.is_empty());
    }
}

async fn publishing_again_changes_nothing_and_never_drops_a_booked_seat(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;
    let manager = &rome.manager;
    let monday = september_monday();
    let friday = monday + Days::new(4);
    let first = publish(&app, manager, monday, friday).await;
    assert_eq!(first["created"], 55);
    let again = publish(&app, manager, monday, friday).await;
    assert_eq!(
        (
            again["created"].as_i64(),
            again["kept"].as_i64(),
            again["removed"].as_i64()
        ),
        (Some(0), Some(55), Some(0))
    );

    // Someone books Tuesday 15:30; someone else takes two seats on Wednesday at 09:00.
    let slots = staff_slots(&app, manager, monday, friday).await;
    let at = |day: u64, time: &str| {
        let date = (monday + Days::new(day)).to_string();
        let slot = slots
            .iter()
            .find(|s| s["date"] == date && local_time(s).0 == time)
            .unwrap();
        slot["id"].as_i64().unwrap()
    };
    let afternoon = at(1, "15:30");
    let morning = at(2, "09:00");
    take_seats(&app, manager, afternoon, 1).await;
    take_seats(&app, manager, morning, 2).await;

    // The office drops its afternoons and goes down to one desk.
    let mornings: Vec<Value> = (1..=5)
        .map(|d| json!({"weekday": d, "opens": "09:00", "closes": "12:30"}))
        .collect();
    let office = app.by(manager);
    office
        .put_hours("RM", rome.calendar, &json!(mornings))
        .await;
    office
        .update_calendar("RM", rome.calendar, &json!({"desks": 1}))
        .await;
    let report = publish(&app, manager, monday, friday).await;
    assert_eq!(report["created"], 0);
    assert_eq!(report["kept"], 35);
    assert_eq!(
        report["removed"], 19,
        "20 afternoon slots, one of them booked"
    );
    let conflicts = report["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 2, "{report}");
    assert_eq!(
        (
            conflicts[0]["slot_id"].as_i64(),
            conflicts[0]["reason"].as_str()
        ),
        (Some(afternoon), Some("no_longer_open"))
    );
    assert_eq!(
        (
            conflicts[1]["slot_id"].as_i64(),
            conflicts[1]["reason"].as_str()
        ),
        (Some(morning), Some("fewer_desks_than_bookings"))
    );
    assert_eq!(conflicts[1]["booked"], 2);

    // Both booked slots are still there; the crowded one sells nothing more.
    let slots = staff_slots(&app, manager, monday, friday).await;
    let by_id = |id: i64| slots.iter().find(|s| s["id"] == id).cloned().unwrap();
    assert_eq!(by_id(afternoon)["booked_desk"], 1);
    assert_eq!(
        (
            by_id(morning)["capacity"].as_i64(),
            by_id(morning)["available_web"].as_i64()
        ),
        (Some(2), Some(0))
    );
    assert_eq!(slots.len(), 36);
    assert!(
        slots
            .iter()
            .filter(|s| s["id"] != morning && s["id"] != afternoon)
            .all(|s| s["capacity"] == 1)
    );
    // The afternoon slot is outside the hours now: blocked, so not even a cancelled seat
    // goes back on sale.
    assert_eq!(by_id(afternoon)["blocked"], true);
    assert_eq!(
        by_id(afternoon)["block_reason"],
        "No longer within the opening hours"
    );
    assert_eq!(by_id(afternoon)["available_web"], 0);

    // And publishing once more is stable: the same conflicts, nothing else.
    let stable = publish(&app, manager, monday, friday).await;
    assert_eq!(
        (stable["created"].as_i64(), stable["removed"].as_i64()),
        (Some(0), Some(0))
    );
    assert_eq!(stable["conflicts"].as_array().unwrap().len(), 2);
}

async fn a_closure_takes_free_slots_away_and_reports_booked_ones(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;
    let manager = &rome.manager;
    let monday = september_monday();
    let friday = monday + Days::new(4);
    publish(&app, manager, monday, friday).await;
    let wednesday = monday + Days::new(2);
    let thursday = monday + Days::new(3);
    let slots = staff_slots(&app, manager, wednesday, wednesday).await;
    take_seats(&app, manager, slots[0]["id"].as_i64().unwrap(), 1).await;

    let strike = json!({"from": wednesday, "to": wednesday, "reason": "Sciopero"});
    let closed = app.by(manager).close("RM", &strike).await.created();
    assert_eq!(closed["withdrawn_slots"], 10);
    assert_eq!(closed["conflicts"][0]["slot_id"], slots[0]["id"]);
    assert_eq!(closed["closure"]["kind"], "office");

    // Part of a day: Thursday afternoon.
    let training = json!({
        "from": thursday,
        "to": thursday,
        "reason": "Formazione",
        "start_time": "13:00",
        "end_time": "16:00",
    });
    let partial = app.by(manager).close("RM", &training).await.json();
    assert_eq!(partial["withdrawn_slots"], 4);
    assert_eq!(partial["closure"]["start_time"], "13:00");
    let thursday_slots = staff_slots(&app, manager, thursday, thursday).await;
    assert!(thursday_slots.iter().all(|s| local_time(s).0 < "12:30"));

    // Removing a closure and publishing again brings the slots back.
    let id = closed["closure"]["id"].as_i64().unwrap();
    let removed = app.by(manager).remove_closure("RM", id).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let report = publish(&app, manager, monday, friday).await;
    assert_eq!(report["created"], 10);
    assert_eq!(
        staff_slots(&app, manager, wednesday, wednesday).await.len(),
        11
    );
}

async fn a_closure_over_a_cancelled_visit_withdraws_its_seats_and_keeps_the_visit(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let monday = september_monday();
    let booked = book_as(&app, &rome.slots[0], 1, "it").await;
    let (reference, token) = (
        booked["reference"].as_str().unwrap(),
        booked["manage_token"].as_str().unwrap(),
    );
    app.public().cancel_booking(reference, token).await.ok();

    let strike = json!({"from": monday, "to": monday, "reason": "Sciopero"});
    let closed = app.by(&rome.manager).close("RM", &strike).await.created();
    assert_eq!(closed["withdrawn_slots"], 11);
    assert_eq!(closed["conflicts"], json!([]));
    let query = format!("service=document_delivery&from={monday}&to={monday}");
    let free = app.public().availability("RM", &query).await.ok();
    assert_eq!(free["days"], json!([]));
    // The cancelled visit is still there to read, at the time it had.
    let visit = app.public().booking(reference, token).await.ok();
    assert_eq!(visit["status"], "cancelled");
    assert_eq!(visit["starts_at"], booked["starts_at"]);

    // The strike is called off: publishing again sells all three desks of every slot.
    let id = closed["closure"]["id"].as_i64().unwrap();
    app.by(&rome.manager).remove_closure("RM", id).await;
    publish(&app, &rome.manager, monday, monday).await;
    let free = app.public().availability("RM", &query).await.ok();
    let seats: Vec<i64> = free["days"][0]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| slot["available"].as_i64().unwrap())
        .collect();
    assert_eq!(seats, vec![3; 11]);
}

async fn a_blocked_slot_sells_no_seats_until_unblocked(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;
    set_stage(&app, "RM", "live").await;
    let monday = september_monday();
    publish(&app, &rome.manager, monday, monday).await;
    let slot = staff_slots(&app, &rome.manager, monday, monday).await[0].clone();
    let id = slot["id"].as_i64().unwrap();
    let query = format!("service=document_delivery&from={monday}&to={monday}");
    let count = |body: Value| body["days"][0]["slots"].as_array().map_or(0, |s| s.len());
    let office = app.by(&rome.manager);

    let no_reason = office.block_slot("RM", id, &json!({"blocked": true})).await;
    let problem = no_reason.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&problem)[0].0, "reason");

    let block = json!({"blocked": true, "reason": "Desk 2 broken"});
    let blocked = office.block_slot("RM", id, &block).await.json();
    assert_eq!(
        (
            blocked["blocked"].as_bool(),
            blocked["block_reason"].as_str()
        ),
        (Some(true), Some("Desk 2 broken"))
    );
    assert_eq!(
        count(app.public().availability("RM", &query).await.json()),
        10
    );
    office
        .block_slot("RM", id, &json!({"blocked": false}))
        .await;
    assert_eq!(
        count(app.public().availability("RM", &query).await.json()),
        11
    );
}

async fn the_desk_share_notice_and_horizon_shape_what_the_web_sees(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;
    set_stage(&app, "RM", "live").await;
    let office = app.by(&rome.manager);
    let settings = json!({"horizon_days": 730, "desk_share_percent": 34});
    office
        .put_service("RM", "document_delivery", &settings)
        .await;
    let monday = september_monday();
    publish(&app, &rome.manager, monday, monday).await;
    let query = format!("service=document_delivery&from={monday}&to={monday}");
    let body = app.public().availability("RM", &query).await.json();
    let web_seats: i64 = body["days"][0]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["available"].as_i64().unwrap())
        .sum();
    // 11 slots × 3 desks = 33 seats; 34% of them (11) stay with the desk.
    assert_eq!(web_seats, 22);

    // A horizon that ends before that Monday hides it; so does turning the service off.
    let near = json!({"horizon_days": 1});
    office.put_service("RM", "document_delivery", &near).await;
    let body = app.public().availability("RM", &query).await.json();
    assert_eq!(body["days"], json!([]));
    let off = office.turn_off_service("RM", "document_delivery").await;
    assert_eq!(off.json()["active"], false);
    app.public()
        .availability("RM", &query)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let page = app.public().office("RM").await.json();
    assert_eq!(page["services"], json!([]));
}

async fn bad_configuration_is_refused_field_by_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;
    let office = app.by(&rome.manager);
    office.put_service("RM", "information", &json!({})).await;

    let mixed =
        json!({"name": "Mixed", "desks": 2, "service_codes": ["document_delivery", "information"]});
    let problem = office
        .create_calendar("RM", &mixed)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(
        field_errors(&problem)[0].1.contains("share one duration"),
        "{problem}"
    );

    let bad = json!({"name": "", "desks": 0, "service_codes": ["permit_collection"]});
    let fields = office.create_calendar("RM", &bad).await.invalid_fields();
    assert_eq!(fields, ["name", "desks", "service_codes[0]"]);

    let hours = json!([
        {"weekday": 1, "opens": "09:00", "closes": "12:00"},
        {"weekday": 1, "opens": "11:00", "closes": "13:00"},
        {"weekday": 9, "opens": "9", "closes": "10:00"},
    ]);
    let overlapping = office.put_hours("RM", rome.calendar, &hours).await;
    assert_eq!(
        overlapping.invalid_fields(),
        ["[2].weekday", "[2].opens", "[1].opens"]
    );

    let past = office
        .publish("RM", &json!({"from": "2020-01-06", "to": "2020-01-10"}))
        .await;
    let problem = past.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&problem)[0].0, "from");
    let nothing = office.publish("RM", &json!({})).await;
    let problem = nothing.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&problem).len(), 2);
    let rolling = office.publish("RM", &json!({"days": 14})).await;
    assert_eq!(rolling.status, StatusCode::OK);

    // The duration of a service shared by a calendar cannot drift from its partners'.
    let only_delivery = json!({"service_codes": ["document_delivery"]});
    office
        .update_calendar("RM", rome.calendar, &only_delivery)
        .await;
    let unknown_parameter = office
        .availability("RM", "service=document_delivery&from=tomorrow&colour=red")
        .await;
    let problem = unknown_parameter.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&problem)[0].0, "colour");
    let availability = office.availability("RM", "from=tomorrow").await;
    assert_eq!(availability.invalid_fields(), ["from", "service"]);
}

async fn a_calendar_stays_editable_after_one_of_its_services_is_turned_off(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;
    let office = app.by(&rome.manager);
    // Information, as long as document delivery, served by the same desks.
    let thirty_minutes = json!({"duration_minutes": 30});
    office
        .put_service("RM", "information", &thirty_minutes)
        .await
        .created();
    let both = json!({"service_codes": ["document_delivery", "information"]});
    office
        .update_calendar("RM", rome.calendar, &both)
        .await
        .ok();

    // The office stops giving information; its desks carry on with the rest.
    office.turn_off_service("RM", "information").await.ok();
    let four_desks = json!({"desks": 4});
    let calendar = office
        .update_calendar("RM", rome.calendar, &four_desks)
        .await
        .ok();
    assert_eq!(calendar["desks"], 4);
    // Naming a turned-off service is still refused.
    let refused = office.update_calendar("RM", rome.calendar, &both).await;
    assert_eq!(refused.invalid_fields(), ["service_codes[1]"]);
}
