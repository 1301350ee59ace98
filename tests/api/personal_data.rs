//! The data of vulnerable people does not stay for ever. Retention anonymises visits long past
//! and deletes old mail (rows and .eml files) and old audit entries, keeping the counts; a data
//! subject gets everything held about them in one download, and erasure leaves their name,
//! address, phone and case number nowhere in the database.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use sportello::use_cases::personal_data::Purged;

use crate::{
    fixtures::{assert_seat_counts_match_bookings, book_as, instant, open_rome, september_monday},
    harness::{Backend, TestApp, spawn_app},
};

on_both_databases!(
    retention_forgets_what_is_due_and_keeps_the_counts,
    retention_forgets_visits_nobody_closed,
    a_data_subject_gets_everything_held_and_erasure_leaves_no_trace,
);

/// The bookings' rows as statistics count them: status, channel, slot.
async fn counted(app: &TestApp) -> Vec<Value> {
    let rows = app.every_row().await;
    let mut bookings: Vec<Value> = rows
        .iter()
        .filter(|(table, _)| table == "bookings")
        .map(|(_, row)| json!(row.contains("cancelled")))
        .collect();
    bookings.sort_by_key(|value| value.to_string());
    bookings
}

/// Three applicants book the Monday; nobody checks them in or marks them missing, so their
/// visits stay confirmed. Two years on, retention forgets all three in one round (the erased
/// visits once shared one case number and the round failed on the one-visit-per-case rule,
/// forgetting nothing, round after round).
async fn retention_forgets_visits_nobody_closed(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    for n in 1..=3 {
        book_as(&app, &rome.slots[n], n, "it").await;
    }
    let due = instant(&rome.slots[3]["ends_at"]) + Duration::days(24 * 30 + 1);
    assert_eq!(app.run_retention_at(due).await.bookings, 3);
    assert_eq!(app.run_retention_at(due).await.bookings, 0);
    let rows = app.every_row().await;
    for n in 1..=3 {
        let case = format!("RM/2026/{n:06}");
        assert!(!rows.iter().any(|(_, row)| row.contains(&case)), "{case}");
    }
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 3);
}

fn mail_files(app: &TestApp) -> usize {
    std::fs::read_dir(app.mail_dir.path()).unwrap().count()
}

async fn retention_forgets_what_is_due_and_keeps_the_counts(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let amina = book_as(&app, &rome.slots[0], 1, "it").await;
    let other = book_as(&app, &rome.slots[1], 2, "fr").await;
    let reason = json!({"reason": "Sportello chiuso"});
    let reference = other["reference"].as_str().unwrap();
    app.by(&rome.manager)
        .desk("RM", reference, "cancel", &reason)
        .await
        .ok();
    app.deliver_mail().await;
    let files = mail_files(&app);
    // The second confirmation went stale (its visit was cancelled first) and is not sent.
    assert_eq!(files, 2, "a confirmation and a cancellation, as .eml files");
    let before = counted(&app).await;
    let now = Utc::now();

    // Mail is kept thirty days after sending; then its rows and files go.
    assert_eq!(
        app.run_retention_at(now + Duration::days(29)).await,
        Purged::default()
    );
    assert_eq!(mail_files(&app), files);
    let month = app.run_retention_at(now + Duration::days(31)).await;
    assert_eq!(
        (month.messages, month.mail_files, month.bookings),
        (3, 2, 0)
    );
    assert_eq!(mail_files(&app), 0);

    // Bookings are anonymised 24 months (of 30 days) after the visit, not a day before.
    let visit_end = instant(&rome.slots[1]["ends_at"]);
    let due = visit_end + Duration::days(24 * 30);
    assert_eq!(
        app.run_retention_at(due - Duration::days(1)).await.bookings,
        0
    );
    assert_eq!(
        app.run_retention_at(due + Duration::days(1)).await.bookings,
        2
    );
    assert_eq!(
        app.run_retention_at(due + Duration::days(2)).await.bookings,
        0
    );
    let rows = app.every_row().await;
    for gone in [
        "Amina Diallo",
        "amina1@example.org",
        "RM/2026/000001",
        "Sportello chiuso",
    ] {
        let found: Vec<_> = rows.iter().filter(|(_, row)| row.contains(gone)).collect();
        assert!(found.is_empty(), "{gone} is still stored: {found:?}");
    }
    // The counts stay: the same bookings, statuses and seats.
    assert_eq!(counted(&app).await, before);
    assert_eq!(assert_seat_counts_match_bookings(&app).await, 1);
    let token = amina["manage_token"].as_str().unwrap();
    let kept = app
        .public()
        .booking(amina["reference"].as_str().unwrap(), token)
        .await
        .ok();
    assert_eq!(
        (kept["status"].as_str(), kept["full_name"].as_str()),
        (Some("confirmed"), Some(""))
    );

    // Audit entries go after five years.
    let audit = app.by(&rome.manager).audit("RM", "limit=100").await.json();
    let entries = audit.as_array().unwrap().len();
    assert!(entries > 0);
    let purged = app
        .run_retention_at(now + Duration::days(5 * 365 + 2))
        .await;
    assert!(purged.audit_entries >= entries, "{purged:?}");
    assert_eq!(
        app.by(&rome.manager).audit("RM", "limit=100").await.json(),
        json!([])
    );
}

async fn a_data_subject_gets_everything_held_and_erasure_leaves_no_trace(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let subject = |slot: &Value| {
        json!({
            "slot_id": slot["id"],
            "case_number": "RM/2026/777777",
            "full_name": "Zainab Okafor",
            "email": "zainab@example.org",
            "phone": "+39 320 5550101",
            "language": "en",
        })
    };
    let first = app
        .public()
        .book("RM", &subject(&rome.slots[0]))
        .await
        .created();
    // Staff move the visit, with a reason that names her.
    let reason = json!({"slot_id": rome.slots[4]["id"], "reason": "Zainab Okafor asked"});
    let reference = first["reference"].as_str().unwrap();
    app.by(&rome.manager)
        .desk("RM", reference, "move", &reason)
        .await
        .ok();
    // The office also invited her to another appointment.
    let invited = json!({
        "case_number": "RM/2026/777777",
        "service": "document_delivery",
        "deadline": (september_monday() - Duration::days(1)).to_string(),
        "email": "zainab@example.org",
        "full_name": "Zainab Okafor",
    });
    app.by(&rome.manager).invite("RM", &invited).await.created();
    let someone_else = book_as(&app, &rome.slots[1], 2, "fr").await;
    let held = [
        "RM/2026/777777",
        "Zainab Okafor",
        "zainab@example.org",
        "+39 320 5550101",
    ];

    // The export: one download with every record of the case.
    let export = app
        .by(&rome.manager)
        .personal_data("RM", "case_number=rm/2026/777777")
        .await;
    assert!(
        export
            .header("content-disposition")
            .starts_with("attachment;")
    );
    let export = export.ok();
    let booked: Vec<&str> = export["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["reference"].as_str().unwrap())
        .collect();
    assert!(booked.contains(&first["reference"].as_str().unwrap()));
    assert!(export["events"].as_array().unwrap().len() >= booked.len());
    assert_eq!(export["invitations"][0]["email"], "zainab@example.org");
    let kinds: Vec<&str> = export["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"invitation_sent") && kinds.contains(&"rescheduled"),
        "{kinds:?}"
    );
    let messages = export["messages"].as_array().unwrap();
    assert!(!messages.is_empty());
    assert!(
        messages
            .iter()
            .all(|m| m["recipient"] == "zainab@example.org")
    );
    let by_email = app
        .by(&rome.manager)
        .personal_data("RM", "email=Zainab%2Bbooking@example.org")
        .await
        .ok();
    assert_eq!(
        by_email["bookings"], export["bookings"],
        "the mailbox, +tags included"
    );
    let rows = app.every_row().await;
    for value in held {
        assert!(
            rows.iter().any(|(_, row)| row.contains(value)),
            "{value} is held before"
        );
    }
    let operator = app.operator("RM").await;
    let refused = app
        .by(&operator)
        .personal_data("RM", "case_number=RM/2026/777777")
        .await;
    assert_eq!(refused.status, reqwest::StatusCode::FORBIDDEN);

    // Erasure: nothing of it anywhere, not even in the audit entry that records it; the
    // mail not sent yet is never sent; the other applicant is untouched; the counts stay.
    let erased = app
        .by(&rome.manager)
        .erase_personal_data("RM", &json!({"case_number": "RM/2026/777777"}))
        .await
        .ok();
    assert_eq!(erased["bookings"], booked.len());
    let rows = app.every_row().await;
    for value in held {
        let found: Vec<_> = rows.iter().filter(|(_, row)| row.contains(value)).collect();
        assert!(found.is_empty(), "{value} is still stored: {found:?}");
    }
    assert!(
        rows.iter()
            .any(|(_, row)| row.contains("amina2@example.org"))
    );
    let round = app.deliver_mail().await;
    assert_eq!(
        round.sent, 1,
        "only the other applicant's confirmation: {round:?}"
    );
    let log = app.by(&rome.manager).audit("RM", "limit=1").await.json();
    assert_eq!(log[0]["action"], "personal_data.erase");
    assert_eq!(
        assert_seat_counts_match_bookings(&app).await,
        booked.len() as i64 + 1
    );
    let again = app
        .by(&rome.manager)
        .personal_data("RM", "case_number=RM/2026/777777")
        .await
        .ok();
    assert_eq!(again["bookings"], json!([]));
    let token = someone_else["manage_token"].as_str().unwrap();
    let other = app
        .public()
        .booking(someone_else["reference"].as_str().unwrap(), token)
        .await
        .ok();
    assert_eq!(other["full_name"], "Amina Diallo");
}
