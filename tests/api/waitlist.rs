//! The earlier-slot waitlist: a booked applicant waits for an earlier seat; when one is on
//! sale again it is held for the longest waiting booking and offered by mail, one offer a day;
//! declined or let lapse, it passes on; accepted, the booking moves there.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Rome;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    client::field_errors,
    fixtures::{applicant, assert_seat_counts_match_bookings, open_rome, september_monday},
    fixtures::{configure_rome_by_lot, publish, set_stage, staff_slots},
    harness::{Backend, TestApp, send_mail_to, spawn_app_mailing_to, spawn_app_with},
    smtp::SmtpSink,
};

on_both_databases!(
    an_earlier_seat_is_offered_to_the_longest_waiting_booking_one_offer_a_day,
    a_booking_behind_many_that_wait_in_vain_is_still_offered_its_seat,
    a_lottery_entry_that_won_no_seat_waits_and_is_booked_into_a_freed_seat,
    a_booking_offered_as_often_as_allowed_waits_no_more,
);

/// Tomorrow at `hour`:00 in Rome: the housekeeping rounds of this story run then.
fn tomorrow_at(hour: u32) -> DateTime<Utc> {
    let tomorrow = Utc::now().with_timezone(&Rome).date_naive() + Duration::days(1);
    let time = NaiveTime::from_hms_opt(hour, 0, 0).unwrap();
    Rome.from_local_datetime(&tomorrow.and_time(time))
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

/// The newest waitlist offer mailed to `recipient`: its id and token, from the mail's link.
fn offer_link(smtp: &SmtpSink, recipient: &str) -> (i64, String) {
    let link = smtp.link_to(recipient, "/waitlist/offers/");
    let rest = link.split("/waitlist/offers/").nth(1).unwrap();
    let (id, token) = rest.split_once("?token=").unwrap();
    (id.parse().unwrap(), token.to_owned())
}

/// Books every web seat of the day's slots but the last; returns a booking of the fourth.
async fn sell_out_all_but_the_last(app: &TestApp, slots: &[Value]) -> Value {
    let mut n = 0;
    let mut in_fourth = None;
    for (i, slot) in slots.iter().enumerate().take(slots.len() - 1) {
        loop {
            n += 1;
            let reply = app.public().book("RM", &applicant(slot, n)).await;
            if reply.status == StatusCode::CONFLICT {
                break;
            }
            let booked = reply.created();
            if i == 3 {
                in_fourth = Some(booked);
            }
        }
    }
    in_fourth.expect("a booking of the fourth time")
}

/// Books applicant `n` into `slot` online; returns the confirmation.
async fn book(app: &TestApp, slot: &Value, n: usize) -> Value {
    app.public().book("RM", &applicant(slot, n)).await.created()
}

fn credentials(booking: &Value) -> (&str, &str) {
    (
        booking["reference"].as_str().unwrap(),
        booking["manage_token"].as_str().unwrap(),
    )
}

async fn an_earlier_seat_is_offered_to_the_longest_waiting_booking_one_offer_a_day(
    backend: Backend,
) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let rome = open_rome(&app).await;
    let slots = &rome.slots;

    // Every seat the web sells before the last time of the day is taken.
    let in_fourth = sell_out_all_but_the_last(&app, slots).await;

    // Amina, then Bruno, hold the last time and wait for an earlier one that Monday.
    let amina = book(&app, &slots[10], 1001).await;
    let bruno = book(&app, &slots[10], 1002).await;
    let monday = september_monday();
    let days = json!({"earliest_day": monday, "latest_day": monday});
    let (reference, token) = credentials(&amina);
    let joined = app
        .public()
        .join_waitlist(reference, token, &days)
        .await
        .created();
    assert_eq!(joined["status"], "waiting");
    let again = app.public().join_waitlist(reference, token, &days).await;
    again.problem(StatusCode::CONFLICT, "already_waiting");
    let later = json!({"earliest_day": monday, "latest_day": monday + Duration::days(1)});
    let (b_reference, b_token) = credentials(&bruno);
    let refused = app
        .public()
        .join_waitlist(b_reference, b_token, &later)
        .await;
    let problem = refused.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_errors(&problem)[0].0, "latest_day");
    app.public()
        .join_waitlist(b_reference, b_token, &days)
        .await
        .created();

    // Nothing earlier is free; a cancelled seat cools down first, and goes to no one then.
    assert_eq!(app.run_waitlist_at(Utc::now()).await, (0, 0));
    let (held_reference, held_token) = credentials(&in_fourth);
    app.public()
        .cancel_booking(held_reference, held_token)
        .await
        .ok();
    assert_eq!(app.run_waitlist_at(Utc::now()).await, (0, 0));

    // Once it has cooled down, it is held for Amina, who waited longest, and off public sale.
    let morning = tomorrow_at(9);
    assert_eq!(app.release_cooled_seats_at(morning).await, 1);
    assert_eq!(app.run_waitlist_at(morning).await, (0, 1));
    let seat = &slots[3];
    let taken = app.public().book("RM", &applicant(seat, 5000)).await;
    taken.problem(StatusCode::CONFLICT, "slot_full");
    let place = app.public().waitlist(reference, token).await.ok();
    assert_eq!(place["status"], "offered");
    assert_eq!(place["offer"]["slot_id"], seat["id"]);
    assert_seat_counts_match_bookings_or_offers(&app).await;

    // She is mailed a link; she declines, and the seat goes to Bruno the same morning (she has
    // had her offer for the day).
    app.deliver_mail_at(morning).await;
    let (offer, offer_token) = offer_link(&smtp, "amina1001@example.org");
    let shown = app.public().offer(offer, &offer_token).await.ok();
    assert_eq!(shown["status"], "open");
    let wrong = app.public().offer(offer, "not-the-token").await;
    wrong.problem(StatusCode::NOT_FOUND, "not_found");
    let declined = app
        .public()
        .answer_offer(offer, &offer_token, "decline")
        .await
        .ok();
    assert_eq!(declined["status"], "declined");
    let twice = app
        .public()
        .answer_offer(offer, &offer_token, "decline")
        .await;
    twice.problem(StatusCode::CONFLICT, "offer_closed");
    assert_eq!(app.run_waitlist_at(morning).await, (0, 1));
    app.deliver_mail_at(morning).await;
    let (bruno_offer, bruno_token) = offer_link(&smtp, "amina1002@example.org");

    // Bruno lets the hold lapse: the seat is free again, and nobody gets a second offer today.
    let noon = morning + Duration::hours(2) + Duration::minutes(1);
    assert_eq!(app.run_waitlist_at(noon).await, (1, 0));
    let lapsed = app.public().offer(bruno_offer, &bruno_token).await.ok();
    assert_eq!(lapsed["status"], "expired");
    let late = app
        .public()
        .answer_offer(bruno_offer, &bruno_token, "accept")
        .await;
    late.problem(StatusCode::CONFLICT, "offer_closed");

    // The next day Amina is offered it again and takes it: the booking moves, her old seat
    // cools down, and she is mailed the new time.
    let next_day = morning + Duration::days(1);
    assert_eq!(app.run_waitlist_at(next_day).await, (0, 1));
    app.deliver_mail_at(next_day).await;
    let (offer, offer_token) = offer_link(&smtp, "amina1001@example.org");
    let moved = app
        .public()
        .answer_offer(offer, &offer_token, "accept")
        .await
        .ok();
    assert_eq!(moved["starts_at"], seat["starts_at"]);
    assert_eq!(moved["reference"], amina["reference"]);
    let place = app.public().waitlist(reference, token).await.ok();
    assert_eq!(place["status"], "moved");
    assert_eq!(place["offers_made"], 2);
    let round = app.deliver_mail_at(next_day).await;
    assert_eq!(round.sent, 1, "the rescheduled mail");
    assert_seat_counts_match_bookings(&app).await;

    // Nobody was told more than the offers made: two to Amina over two days, one to Bruno.
    let offers_to = |recipient: &str| {
        smtp.received()
            .iter()
            .filter(|m| m.to.iter().any(|to| to.contains(recipient)))
            .filter(|m| String::from_utf8_lossy(&m.data).contains("/waitlist/offers/"))
            .count()
    };
    assert_eq!(offers_to("amina1001@example.org"), 2);
    assert_eq!(offers_to("amina1002@example.org"), 1);

    // Bruno leaves the waitlist.
    let left = app.public().leave_waitlist(b_reference, b_token).await;
    assert_eq!(left.status, StatusCode::NO_CONTENT);
    let place = app.public().waitlist(b_reference, b_token).await.ok();
    assert_eq!(place["status"], "withdrawn");
}

async fn a_booking_behind_many_that_wait_in_vain_is_still_offered_its_seat(backend: Backend) {
    // A round reads the queue two at a time, so the queue is longer than one read.
    let app = spawn_app_with(backend, |settings| settings.booking.waitlist_batch_size = 2).await;
    let rome = open_rome(&app).await;
    let monday = september_monday();
    let tuesday = monday + Duration::days(1);
    publish(&app, &rome.manager, tuesday, tuesday).await;
    let tuesday_slots = staff_slots(&app, &rome.manager, tuesday, tuesday).await;

    // Monday is sold out.
    let mut n = 0;
    for slot in &rome.slots {
        loop {
            n += 1;
            if app.public().book("RM", &applicant(slot, n)).await.status == StatusCode::CONFLICT {
                break;
            }
        }
    }
    // Three bookings on Tuesday afternoon wait for Monday, which has nothing; the fourth,
    // last in the queue, waits for Tuesday morning, which has seats.
    let monday_only = json!({"earliest_day": monday, "latest_day": monday});
    for k in 0..3 {
        let booked = book(&app, &tuesday_slots[10 - k / 2], 2000 + k).await;
        let (reference, token) = credentials(&booked);
        app.public()
            .join_waitlist(reference, token, &monday_only)
            .await
            .created();
    }
    let last = book(&app, &tuesday_slots[8], 2003).await;
    let (reference, token) = credentials(&last);
    let tuesday_only = json!({"earliest_day": tuesday, "latest_day": tuesday});
    app.public()
        .join_waitlist(reference, token, &tuesday_only)
        .await
        .created();

    assert_eq!(app.run_waitlist_at(Utc::now()).await, (0, 1));
    let place = app.public().waitlist(reference, token).await.ok();
    assert_eq!(place["status"], "offered");
    assert_eq!(place["offer"]["slot_id"], tuesday_slots[0]["id"]);
}

async fn a_lottery_entry_that_won_no_seat_waits_and_is_booked_into_a_freed_seat(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    // One desk, Monday 09:00–10:00: two seats, released by lot.
    let rome = configure_rome_by_lot(&app).await;
    let office = app.by(&rome.manager);
    office
        .update_calendar("RM", rome.calendar, &json!({"desks": 1}))
        .await
        .ok();
    let hours = json!([{"weekday": 1, "opens": "09:00", "closes": "10:00"}]);
    office.put_hours("RM", rome.calendar, &hours).await.ok();
    set_stage(&app, "RM", "live").await;
    let monday = september_monday();
    let opens_at = Utc::now() + Duration::seconds(2);
    let range = json!({"from": monday, "to": monday, "opens_at": opens_at});
    office.publish("RM", &range).await.ok();
    let slots = staff_slots(&app, &rome.manager, monday, monday).await;
    let wanted: Vec<&Value> = slots.iter().map(|s| &s["id"]).collect();
    let draw = &app.public().draws("RM").await.ok()[0];
    let (draw_id, closes_at) = (
        draw["id"].as_i64().unwrap(),
        draw["closes_at"].as_str().unwrap().to_owned(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;

    // Four entries for two seats; three ask to wait should they win none.
    for n in 1..=4 {
        let entry = json!({
            "case_number": format!("RM/2026/{n:06}"),
            "full_name": "Amina Diallo",
            "email": format!("entrant{n}@example.org"),
            "language": "fr",
            "preferred_slot_ids": wanted,
            "join_waitlist": n <= 3,
        });
        let entered = app
            .public()
            .enter_draw("RM", draw_id, &entry)
            .await
            .created();
        assert_eq!(entered["join_waitlist"], n <= 3);
    }
    let closes_at: DateTime<Utc> = closes_at.parse().unwrap();
    assert_eq!(
        app.draw_lotteries_at(closes_at + Duration::seconds(1))
            .await,
        1
    );
    app.deliver_mail_at(closes_at + Duration::seconds(1)).await;
    let told = |text: &str| {
        smtp.received()
            .iter()
            .filter(|m| String::from_utf8_lossy(&m.data).contains(text))
            .count()
    };
    // The notices: two losers, one of whom (at least) asked to wait and is told so.
    let waiting_sentence = "liste d'attente";
    assert!(told(waiting_sentence) >= 1);

    // A winner's visit is cancelled by the office; once the seat has cooled down, the first
    // entry in the queue is offered it, and booking it takes it.
    let agenda = office.agenda("RM", &format!("date={monday}")).await.ok();
    let winner = agenda["bookings"][0]["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    let reason = json!({"reason": "Sportello chiuso"});
    office.desk("RM", &winner, "cancel", &reason).await.ok();
    let later = Utc::now() + Duration::hours(1) + Duration::minutes(1);
    assert_eq!(app.release_cooled_seats_at(later).await, 1);
    assert_eq!(app.run_waitlist_at(later).await, (0, 1));
    let taken = app.public().book("RM", &applicant(&slots[0], 99)).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    app.deliver_mail_at(later).await;
    let offered = smtp.received();
    let offer_mail = offered
        .iter()
        .find(|m| String::from_utf8_lossy(&m.data).contains("/waitlist/offers/"))
        .expect("an offer mail");
    let recipient = offer_mail.to[0]
        .trim_matches(|c| c == '<' || c == '>')
        .to_owned();
    let (offer, token) = offer_link(&smtp, &recipient);
    let shown = app.public().offer(offer, &token).await.ok();
    assert!(shown["current_starts_at"].is_null());
    let booked = app
        .public()
        .answer_offer(offer, &token, "accept")
        .await
        .ok();
    assert_eq!(booked["status"], "confirmed");
    assert_eq!(booked["email"], recipient);
    assert_seat_counts_match_bookings(&app).await;
    // The new booking's confirmation, with its manage link, goes to the entrant.
    app.deliver_mail_at(later).await;
    let confirmations = smtp
        .received()
        .iter()
        .filter(|m| m.to.iter().any(|to| to.contains(&recipient)))
        .filter(|m| String::from_utf8_lossy(&m.data).contains("/bookings/"))
        .count();
    assert_eq!(confirmations, 1);
}

async fn a_booking_offered_as_often_as_allowed_waits_no_more(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_with(backend, |settings| {
        send_mail_to(settings, &smtp);
        settings.booking.waitlist_max_offers = 1;
    })
    .await;
    let rome = open_rome(&app).await;
    let in_fourth = sell_out_all_but_the_last(&app, &rome.slots).await;
    let amina = book(&app, &rome.slots[10], 1001).await;
    let monday = september_monday();
    let days = json!({"earliest_day": monday, "latest_day": monday});
    let (reference, token) = credentials(&amina);
    app.public()
        .join_waitlist(reference, token, &days)
        .await
        .created();
    let (held_reference, held_token) = credentials(&in_fourth);
    app.public()
        .cancel_booking(held_reference, held_token)
        .await
        .ok();

    // Her one offer, declined: she waits no more, and the seat is not offered to her again.
    let morning = tomorrow_at(9);
    app.release_cooled_seats_at(morning).await;
    assert_eq!(app.run_waitlist_at(morning).await, (0, 1));
    app.deliver_mail_at(morning).await;
    let (offer, offer_token) = offer_link(&smtp, "amina1001@example.org");
    app.public()
        .answer_offer(offer, &offer_token, "decline")
        .await
        .ok();
    let place = app.public().waitlist(reference, token).await.ok();
    assert_eq!(place["status"], "exhausted");
    assert_eq!(
        app.run_waitlist_at(morning + Duration::days(1)).await,
        (0, 0)
    );
}

/// Seats taken = bookings + seats held by open offers, slot by slot.
async fn assert_seat_counts_match_bookings_or_offers(app: &TestApp) {
    use diesel::prelude::*;
    use sportello::store::schema::{bookings, slots, waitlist_offers};
    app.store
        .read(|conn| -> Result<(), sportello::store::StoreError> {
            let rows: Vec<(i64, i32, i32)> = slots::table
                .select((slots::id, slots::booked_web, slots::booked_desk))
                .load(conn)?;
            for (id, web, desk) in rows {
                let booked: i64 = bookings::table
                    .filter(bookings::slot_id.eq(id))
                    .filter(bookings::status.ne("cancelled"))
                    .count()
                    .get_result(conn)?;
                let held: i64 = waitlist_offers::table
                    .filter(waitlist_offers::slot_id.eq(id))
                    .filter(waitlist_offers::status.eq("open"))
                    .count()
                    .get_result(conn)?;
                assert_eq!(i64::from(web + desk), booked + held, "slot {id}");
            }
            Ok(())
        })
        .await
        .unwrap();
}
