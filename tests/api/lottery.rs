//! Fair release: seats published to open later are shown with their opening and booked only
//! from then; where an office releases seats by lot, the applicants who enter while the seats
//! open share them out at random, each winner booked and told, each loser told, and the draw
//! can be checked from its published seed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use futures_util::{StreamExt, stream};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    fixtures::{applicant, configure_rome, days, september_monday, set_stage, staff_slots},
    harness::{Backend, spawn_app, spawn_app_mailing_to},
    smtp::SmtpSink,
};

on_both_databases!(
    seats_published_to_open_later_are_booked_only_from_their_opening,
    a_staggered_release_opens_each_days_slots_in_shares,
    a_lottery_shares_out_two_hundred_seats_among_five_thousand_entries,
);

/// Sleeps until `instant` (plus a little, so the server's clock has passed it too).
async fn wait_until(instant: DateTime<Utc>) {
    let wait = (instant - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + std::time::Duration::from_millis(150)).await;
}

/// An instant a couple of seconds ahead, as RFC 3339.
fn soon() -> DateTime<Utc> {
    Utc::now() + Duration::seconds(2)
}

async fn seats_published_to_open_later_are_booked_only_from_their_opening(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;
    set_stage(&app, "RM", "live").await;
    let monday = september_monday();
    let opens_at = soon();
    let range = json!({"from": monday, "to": monday, "opens_at": opens_at});
    app.by(&rome.manager).publish("RM", &range).await.ok();

    // Applicants see the seats and when they open, on the office's page too.
    let query = format!("service=document_delivery&from={monday}&to={monday}");
    let available = app.public().availability("RM", &query).await.ok();
    let slot = &available["days"][0]["slots"][0];
    let shown: DateTime<Utc> = slot["opens_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(shown.timestamp(), opens_at.timestamp());
    assert!(available["next_seats_open_at"].is_string());
    let page = app.public().office("RM").await.ok();
    assert!(page["next_seats_open_at"].is_string());

    // Before the opening the seat cannot be booked; from then it can.
    let early = app.public().book("RM", &applicant(slot, 1)).await;
    let problem = early.problem(StatusCode::CONFLICT, "not_yet_open");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("can be booked from")
    );
    wait_until(opens_at).await;
    app.public().book("RM", &applicant(slot, 1)).await.created();
    let available = app.public().availability("RM", &query).await.ok();
    assert!(available["days"][0]["slots"][0].get("opens_at").is_none());
    assert!(available["next_seats_open_at"].is_null());

    // A standing rule: the week's slots open on Monday at 09:00, four weeks before.
    let rule = json!({
        "horizon_days": 730,
        "release_rule": {"weekday": 1, "time": "09:00", "weeks_ahead": 4},
    });
    let service = app
        .by(&rome.manager)
        .put_service("RM", "document_delivery", &rule)
        .await
        .ok();
    assert_eq!(service["release_rule"]["weeks_ahead"], 4);
    let tuesday = monday + Duration::days(1);
    app.by(&rome.manager)
        .publish("RM", &days(tuesday, tuesday))
        .await
        .ok();
    let query = format!("service=document_delivery&from={tuesday}&to={tuesday}");
    let available = app.public().availability("RM", &query).await.ok();
    let opens: DateTime<chrono::FixedOffset> = available["days"][0]["slots"][0]["opens_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(opens.date_naive(), monday - Duration::weeks(4));
    assert_eq!(opens.format("%H:%M").to_string(), "09:00");

    let bad = json!({"release_rule": {"weekday": 8, "time": "25:00", "weeks_ahead": 0}});
    let refused = app
        .by(&rome.manager)
        .put_service("RM", "document_delivery", &bad)
        .await;
    assert_eq!(
        refused.invalid_fields(),
        [
            "release_rule.weekday",
            "release_rule.time",
            "release_rule.weeks_ahead"
        ]
    );
}

/// Entry `n`: its own case and mailbox, and what it would take: two or three slots (picked
/// by `n`), or, every third entry, any slot on the day.
fn entry(n: usize, slot_ids: &[i64], day: chrono::NaiveDate) -> Value {
    let languages = ["it", "en", "fr", "es", "ar", "sq", "uk", "zh"];
    let mut entry = json!({
        "case_number": format!("RM/2026/{n:06}"),
        "full_name": "Amina Haddad",
        "email": format!("entrant{n}@example.org"),
        "language": languages[n % languages.len()],
    });
    if n.is_multiple_of(3) {
        entry["any_day_from"] = json!(day);
        entry["any_day_to"] = json!(day);
    } else {
        let wanted = 2 + n % 2;
        let picks: Vec<i64> = (0..wanted)
            .map(|k| slot_ids[(n * 7 + k * 3) % slot_ids.len()])
            .collect();
        entry["preferred_slot_ids"] = json!(picks);
    }
    entry
}

async fn a_staggered_release_opens_each_days_slots_in_shares(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;
    set_stage(&app, "RM", "live").await;
    let monday = september_monday();
    let office = app.by(&rome.manager);

    // Shares must add up to the whole.
    let short = json!({"from": monday, "to": monday, "shares": [{"percent": 60}, {"percent": 30, "days_before": 2}]});
    let refused = office.publish("RM", &short).await;
    assert_eq!(refused.invalid_fields(), ["shares"]);

    // A fifth now, half a week before, the rest two days before, at 09:00.
    let shares = json!([
        {"percent": 20},
        {"percent": 50, "days_before": 7, "time": "09:00"},
        {"percent": 30, "days_before": 2, "time": "09:00"},
    ]);
    let range = json!({"from": monday, "to": monday, "shares": shares});
    office.publish("RM", &range).await.ok();
    let slots = staff_slots(&app, &rome.manager, monday, monday).await;
    assert_eq!(slots.len(), 11);
    let opening = |days: i64| format!("{}T09:00:00", monday - Duration::days(days));
    let opens = |slot: &Value| slot["opens_at"].as_str().map(|at| at[..19].to_owned());
    let now: Vec<&Value> = slots.iter().filter(|s| opens(s).is_none()).collect();
    let week: Vec<&Value> = slots
        .iter()
        .filter(|s| opens(s) == Some(opening(7)))
        .collect();
    let two_days: Vec<&Value> = slots
        .iter()
        .filter(|s| opens(s) == Some(opening(2)))
        .collect();
    assert_eq!((now.len(), week.len(), two_days.len()), (2, 6, 3));
    // Spread over the day: each share has a morning and an afternoon time.
    for share in [&now, &week, &two_days] {
        let hours: BTreeSet<&str> = share
            .iter()
            .map(|s| &s["starts_at"].as_str().unwrap()[11..13])
            .collect();
        assert!(
            hours.iter().any(|h| *h < "12") && hours.iter().any(|h| *h >= "14"),
            "{hours:?}"
        );
    }

    // What is on sale books; what opens later is listed with its opening and refused.
    app.public()
        .book("RM", &applicant(now[0], 1))
        .await
        .created();
    let early = app.public().book("RM", &applicant(week[0], 2)).await;
    early.problem(StatusCode::CONFLICT, "not_yet_open");
    let query = format!("service=document_delivery&from={monday}&to={monday}");
    let available = app.public().availability("RM", &query).await.ok();
    let listed = available["days"][0]["slots"].as_array().unwrap();
    assert_eq!(
        listed.iter().filter(|s| s["opens_at"].is_string()).count(),
        9
    );
}

async fn a_lottery_shares_out_two_hundred_seats_among_five_thousand_entries(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let rome = configure_rome(&app).await;
    let office = app.by(&rome.manager);
    // Twenty desks, Mondays 09:00–14:00: ten slots, two hundred seats, released by lot.
    let lottery =
        json!({"horizon_days": 730, "release_mode": "lottery", "lottery_window_minutes": 5});
    let service = office
        .put_service("RM", "document_delivery", &lottery)
        .await
        .ok();
    assert_eq!(service["release_mode"], "lottery");
    office
        .update_calendar("RM", rome.calendar, &json!({"desks": 20}))
        .await
        .ok();
    let hours = json!([{"weekday": 1, "opens": "09:00", "closes": "14:00"}]);
    office.put_hours("RM", rome.calendar, &hours).await.ok();
    set_stage(&app, "RM", "live").await;
    let monday = september_monday();
    let opens_at = soon();
    let range = json!({"from": monday, "to": monday, "opens_at": opens_at});
    let published = office.publish("RM", &range).await.ok();
    assert_eq!(published["draws"], 1);
    let slots = staff_slots(&app, &rome.manager, monday, monday).await;
    let slot_ids: Vec<i64> = slots.iter().map(|s| s["id"].as_i64().unwrap()).collect();
    assert_eq!(slot_ids.len(), 10);

    // The draw is announced with its seed's hash, before anyone can enter.
    let draws = app.public().draws("RM").await.ok();
    let draw = &draws[0];
    let id = draw["id"].as_i64().unwrap();
    assert_eq!(draw["state"], "upcoming");
    assert!(draw["seed"].is_null());
    let seed_hash = draw["seed_hash"].as_str().unwrap().to_owned();
    assert_eq!(seed_hash.len(), 64);
    let early = app
        .public()
        .enter_draw("RM", id, &entry(0, &slot_ids, monday))
        .await;
    early.problem(StatusCode::CONFLICT, "lottery_not_open");

    // While the draw takes entries, the seats cannot be booked first come.
    wait_until(opens_at).await;
    let slot = &slots[0];
    let booking = app.public().book("RM", &applicant(slot, 1)).await;
    booking.problem(StatusCode::CONFLICT, "lottery_under_way");

    // Five thousand entries, eight at a time.
    let entries: Vec<(usize, Value)> = stream::iter(0..5000)
        .map(|n| {
            let app = &app;
            let body = entry(n, &slot_ids, monday);
            async move { (n, app.public().enter_draw("RM", id, &body).await.created()) }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let choices: BTreeMap<String, Vec<i64>> = entries
        .iter()
        .map(|(n, entered)| {
            let wanted: Vec<i64> = match n % 3 {
                0 => slot_ids.clone(),
                _ => serde_json::from_value(entered["preferred_slot_ids"].clone()).unwrap(),
            };
            (entered["reference"].as_str().unwrap().to_owned(), wanted)
        })
        .collect();
    assert_eq!(choices.len(), 5000);
    let again = app
        .public()
        .enter_draw("RM", id, &entry(42, &slot_ids, monday))
        .await;
    again.problem(StatusCode::CONFLICT, "already_entered");
    let stranger = json!({"preferred_slot_ids": [slot_ids[0], 999_999]});
    let mut not_ours = entry(5001, &slot_ids, monday);
    not_ours.as_object_mut().unwrap().remove("any_day_from");
    not_ours.as_object_mut().unwrap().remove("any_day_to");
    not_ours["preferred_slot_ids"] = stranger["preferred_slot_ids"].clone();
    let refused = app.public().enter_draw("RM", id, &not_ours).await;
    assert_eq!(refused.invalid_fields(), ["preferred_slot_ids"]);

    // The window closes; housekeeping draws once, however many instances run it.
    let after = opens_at + Duration::minutes(6);
    assert_eq!(app.draw_lotteries_at(after).await, 1);
    assert_eq!(app.draw_lotteries_at(after).await, 0);
    let drawn = app.public().draw("RM", id).await.ok();
    assert_eq!(drawn["state"], "drawn");
    assert_eq!(drawn["entries"], 5000);
    assert_eq!(drawn["seats"], 200);
    assert_eq!(drawn["winners"], 200);
    let seed = drawn["seed"].as_str().unwrap();
    assert_eq!(format!("{:x}", Sha256::digest(seed.as_bytes())), seed_hash);

    // Every seat went to one winner, each to a slot it asked for.
    let admin = app.admin_token().await;
    app.by(&rome.manager)
        .replay_draw("RM", id)
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    let replay = app.by(&admin).replay_draw("RM", id).await.ok();
    assert_eq!(
        replay["same_result"], true,
        "the re-run gives the same seats"
    );
    let winners = replay["winners"].as_array().unwrap();
    assert_eq!(winners.len(), 200);
    let mut first_choice = 0;
    let mut winning_entries = BTreeSet::new();
    for winner in winners {
        let reference = winner["entry"].as_str().unwrap();
        let slot = winner["slot_id"].as_i64().unwrap();
        let wanted = &choices[reference];
        assert!(
            wanted.contains(&slot),
            "{reference} won a slot it did not ask for"
        );
        first_choice += usize::from(wanted[0] == slot);
        assert!(
            winning_entries.insert(reference.to_owned()),
            "{reference} won twice"
        );
    }
    assert!(
        first_choice >= 20,
        "only {first_choice} winners got their first choice"
    );
    for slot in staff_slots(&app, &rome.manager, monday, monday).await {
        assert_eq!(slot["booked_web"], 20, "every seat of every slot is sold");
    }
    assert_eq!(
        crate::fixtures::assert_seat_counts_match_bookings(&app).await,
        200
    );

    // Every winner gets one confirmation, every loser one notice.
    let round = app.deliver_mail_at(after).await;
    assert_eq!(round.sent, 5000);
    let received = smtp.received();
    let mut recipients = BTreeSet::new();
    let (mut confirmations, mut notices) = (0, 0);
    for mail in &received {
        assert!(
            recipients.insert(mail.to.clone()),
            "{:?} got two mails",
            mail.to
        );
        let parsed = mail.parsed();
        let text = parsed.body_text(0).unwrap_or_default().into_owned();
        if text.contains(seed) {
            notices += 1;
        } else {
            confirmations += 1;
        }
    }
    assert_eq!((confirmations, notices), (200, 4800));

    // After the draw the seats left go first come: there are none.
    let late = app.public().book("RM", &applicant(slot, 7001)).await;
    late.problem(StatusCode::CONFLICT, "slot_full");
}
