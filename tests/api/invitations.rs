//! Invitations to book (convocazioni): the case system summons a case; the applicant gets one
//! mail in their language with a link that books without the case number, one reminder before
//! the deadline, and a proposed time that is held until they answer or the deadline passes.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    case_system::case_system_of,
    client::field_errors,
    fixtures::{
        OpenRome, applicant, instant, open_rome, registered_case, september_monday, staff_slots,
    },
    harness::{Backend, TestApp, Token, spawn_app_mailing_to},
    smtp::{Received, SmtpSink},
};

on_both_databases!(
    an_invitation_is_booked_through_its_link_once_and_the_case_system_hears_of_it,
    a_proposed_time_is_held_reminded_once_and_released_at_the_deadline,
    staff_invite_in_batches_extend_and_cancel,
);

/// The Sunday before Rome's published Monday: the last day to answer, so the Monday's times
/// can be proposed.
fn sunday_before() -> String {
    (september_monday() - Duration::days(1)).to_string()
}

/// Rome's document delivery given by invitation only, and the case system's client with one
/// registered case (`RM/2026/000001`, writes in French).
async fn invitation_only_rome(app: &TestApp) -> (OpenRome, Token) {
    let rome = open_rome(app).await;
    let settings = json!({"horizon_days": 730, "eligibility": "invitation"});
    app.by(&rome.manager)
        .put_service("RM", "document_delivery", &settings)
        .await
        .ok();
    let (_, spi) = case_system_of(app, "RM").await;
    let case = registered_case("RM/2026/000001", None);
    app.by(&spi).register_case("RM", &case).await.created();
    (rome, spi)
}

fn invitation(case_number: &str) -> Value {
    json!({
        "case_number": case_number,
        "service": "document_delivery",
        "deadline": sunday_before(),
    })
}

/// The token in the link of an invitation mail.
fn token_in(received: &Received, reference: &str) -> String {
    let text = received.parsed().body_text(0).unwrap().into_owned();
    let link = format!("https://prenota.example.it/invitations/{reference}?token=");
    let start = text.find(&link).expect("the invitation's link") + link.len();
    text[start..].split_whitespace().next().unwrap().to_owned()
}

fn subject(received: &Received) -> String {
    received.parsed().subject().unwrap_or_default().to_owned()
}

/// The events of the feed, as (type, data).
async fn feed(app: &TestApp, reader: &Token) -> Vec<(String, Value)> {
    let page = app.by(reader).events("limit=1000").await.ok();
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            (
                event["type"].as_str().unwrap().to_owned(),
                event["data"].clone(),
            )
        })
        .collect()
}

async fn an_invitation_is_booked_through_its_link_once_and_the_case_system_hears_of_it(
    backend: Backend,
) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let (rome, spi) = invitation_only_rome(&app).await;
    let anyone = app.public();
    let mut uninvited = applicant(&rome.slots[1], 1);
    uninvited["case_number"] = json!("RM/2026/000001");
    let refused = anyone.book("RM", &uninvited).await;
    refused.problem(StatusCode::CONFLICT, "invite_only");

    // The case system invites the case: the mail goes where the case said, in its language.
    let sent = app
        .by(&spi)
        .invite("RM", &invitation("RM/2026/000001"))
        .await
        .created();
    assert_eq!(
        (&sent["state"], &sent["email"], &sent["language"]),
        (&json!("sent"), &json!("amina@example.org"), &json!("fr"))
    );
    let reference = sent["reference"].as_str().unwrap();
    let again = app
        .by(&spi)
        .invite("RM", &invitation("RM/2026/000001"))
        .await
        .ok();
    assert_eq!(
        again["reference"], reference,
        "one open invitation per case"
    );
    assert_eq!(app.deliver_mail().await.sent, 1);
    let mail = smtp.received();
    assert_eq!(mail[0].to, ["amina@example.org"]);
    assert_eq!(
        subject(&mail[0]),
        format!("Convocation : réservez votre rendez-vous – {reference}")
    );
    let token = token_in(&mail[0], reference);

    // The link shows the invitation; a wrong token and a wrong reference are told alike.
    let landing = anyone.invitation(reference, &token).await.ok();
    assert_eq!(
        (
            &landing["service"],
            &landing["case_number"],
            &landing["state"]
        ),
        (
            &json!("document_delivery"),
            &json!("RM/2026/000001"),
            &json!("sent")
        )
    );
    let wrong_token = anyone.invitation(reference, "not-the-token").await;
    let wrong_reference = anyone.invitation("AAAA-AAAA", &token).await;
    let not_found = "No invitation matches this reference and token.";
    assert_eq!(
        wrong_token.problem(StatusCode::NOT_FOUND, "not_found")["detail"],
        not_found
    );
    assert_eq!(
        wrong_reference.problem(StatusCode::NOT_FOUND, "not_found")["detail"],
        not_found
    );

    // Without a time (none was proposed) or a name the form says what is missing; then the
    // applicant books a time of their choice without typing the case number.
    let incomplete = anyone.book_invitation(reference, &token, &json!({})).await;
    let missing =
        field_errors(&incomplete.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    let fields: Vec<&str> = missing.iter().map(|(field, _)| field.as_str()).collect();
    assert_eq!(fields, ["slot_id", "full_name"]);
    let answer = json!({"slot_id": rome.slots[1]["id"], "full_name": "Amina Diallo"});
    let booked = anyone
        .book_invitation(reference, &token, &answer)
        .await
        .created();
    assert_eq!(
        (&booked["case_number"], &booked["channel"]),
        (&json!("RM/2026/000001"), &json!("web"))
    );
    let used = anyone.book_invitation(reference, &token, &answer).await;
    used.problem(StatusCode::CONFLICT, "invitation_used");

    // Staff see it booked; the confirmation went out; the mail replaced one registered letter,
    // not two.
    let listed = app
        .by(&rome.manager)
        .invitations("RM", "state=booked")
        .await
        .ok();
    assert_eq!(listed[0]["booking_reference"], booked["reference"]);
    assert_eq!(app.deliver_mail().await.sent, 1);
    assert!(subject(&smtp.received()[1]).starts_with("Rendez-vous confirmé"));
    let stats = app.by(&rome.manager).mail_stats("RM", "").await.ok();
    assert_eq!(
        (
            &stats["invitation"],
            &stats["confirmed"],
            &stats["registered_letters_replaced"]
        ),
        (&json!(1), &json!(1), &json!(1))
    );

    // The case system reads it all back, in order.
    let events = feed(&app, &spi).await;
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        ["invitation.sent", "booking.confirmed", "invitation.booked"]
    );
    assert_eq!(events[0].1["reference"], reference);
    assert_eq!(events[2].1["booking_reference"], booked["reference"]);
}

async fn a_proposed_time_is_held_reminded_once_and_released_at_the_deadline(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let (rome, spi) = invitation_only_rome(&app).await;
    let monday = september_monday();
    let seats_of = |slots: &[Value]| {
        let first = &slots[0];
        (
            first["booked_desk"].as_i64(),
            first["available_web"].as_i64(),
        )
    };
    assert_eq!(seats_of(&rome.slots), (Some(0), Some(3)));

    // The office proposes Monday's first time: its seat is held for the invitation.
    let mut proposing = invitation("RM/2026/000001");
    proposing["proposed_slot_id"] = rome.slots[0]["id"].clone();
    let sent = app.by(&spi).invite("RM", &proposing).await.created();
    assert_eq!(sent["proposed_slot"]["held"], true);
    let slots = staff_slots(&app, &rome.manager, monday, monday).await;
    assert_eq!(seats_of(&slots), (Some(1), Some(2)));
    let reference = sent["reference"].as_str().unwrap();
    assert_eq!(app.deliver_mail().await.sent, 1);

    // One reminder, two days before the deadline, however often housekeeping runs.
    let deadline = instant(&sent["deadline"]);
    let early = app
        .tidy_invitations_at(deadline - Duration::hours(49))
        .await;
    assert_eq!(early.reminded, 0, "not due yet");
    let due = deadline - Duration::hours(47);
    assert_eq!(app.tidy_invitations_at(due).await.reminded, 1);
    assert_eq!(
        app.tidy_invitations_at(due + Duration::hours(1))
            .await
            .reminded,
        0
    );
    assert_eq!(app.deliver_mail_at(due).await.sent, 1);
    let mail = smtp.received();
    let subjects: Vec<String> = mail.iter().map(subject).collect();
    assert_eq!(
        subjects,
        [
            format!("Convocation : réservez votre rendez-vous – {reference}"),
            format!("Rappel : réservez votre rendez-vous – {reference}"),
        ]
    );
    let text = mail[1].parsed().body_text(0).unwrap().into_owned();
    assert!(text.contains("Horaire proposé: lundi"), "{text}");

    // Unanswered at the deadline: the invitation expires and its seat goes back on sale once
    // cooled down, like any seat given back.
    let expired = app
        .tidy_invitations_at(deadline + Duration::seconds(1))
        .await;
    assert_eq!(expired.expired, 1);
    let slots = staff_slots(&app, &rome.manager, monday, monday).await;
    assert_eq!(seats_of(&slots), (Some(0), Some(2)));
    assert_eq!(slots[0]["cooling"], 1);
    let released = app
        .release_cooled_seats_at(deadline + Duration::hours(2))
        .await;
    assert_eq!(released, 1);
    let slots = staff_slots(&app, &rome.manager, monday, monday).await;
    assert_eq!(seats_of(&slots), (Some(0), Some(3)));
    let listed = app.by(&spi).invitations("RM", "state=expired").await.ok();
    assert_eq!(listed[0]["reference"], reference);
    assert_eq!(listed[0]["proposed_slot"]["held"], false);

    // The link no longer books, and the case system heard of the expiry.
    let token = token_in(&mail[0], reference);
    let late = app
        .public()
        .book_invitation(reference, &token, &json!({}))
        .await;
    late.problem(StatusCode::CONFLICT, "invitation_expired");
    let events = feed(&app, &spi).await;
    assert_eq!(events.last().unwrap().0, "invitation.expired");
}

async fn staff_invite_in_batches_extend_and_cancel(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = spawn_app_mailing_to(backend, &smtp).await;
    let (rome, _) = invitation_only_rome(&app).await;
    let office = app.by(&rome.manager);

    // A batch: what can be sent is sent, the rest reported by index.
    let mut proposing = invitation("RM/2026/000002");
    proposing["email"] = json!("yusuf@example.org");
    proposing["proposed_slot_id"] = rome.slots[0]["id"].clone();
    let mut nameless = invitation("RM/2026/000003");
    nameless["email"] = json!("sara@example.org");
    let mut unknown_service = invitation("RM/2026/000004");
    unknown_service["service"] = json!("family_reunification");
    let batch = json!([
        invitation("RM/2026/000001"),
        proposing,
        nameless,
        invitation("RM 2026 ?"),
        invitation("RM/2026/000001"),
        unknown_service,
        invitation("RM/2026/000009"),
    ]);
    let report = office.invite_many("RM", &batch).await.ok();
    assert_eq!(
        (
            &report["received"],
            &report["invited"],
            &report["already_open"]
        ),
        (&json!(7), &json!(3), &json!(0))
    );
    let failed: Vec<(i64, &str)> = report["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["index"].as_i64().unwrap(),
                f["errors"][0]["field"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            (3, "case_number"),
            (4, "case_number"),
            (5, "service"),
            (6, "email")
        ],
        "a bad number, a case twice, a service not offered, a case with no email"
    );
    let again = office
        .invite_many("RM", &json!([invitation("RM/2026/000001")]))
        .await
        .ok();
    assert_eq!(
        (&again["invited"], &again["already_open"]),
        (&json!(0), &json!(1))
    );

    // Extending moves the deadline (not past the proposed visit's day); cancelling withdraws
    // the invitation and gives its held seat back.
    let sent = office
        .invitations("RM", "case_number=RM/2026/000002")
        .await
        .ok();
    let reference = sent[0]["reference"].as_str().unwrap();
    let earlier = (september_monday() - Duration::days(5)).to_string();
    let extended = office
        .extend_invitation("RM", reference, &earlier)
        .await
        .ok();
    assert!(instant(&extended["deadline"]) < instant(&sent[0]["deadline"]));
    let too_late = september_monday().to_string();
    let refused = office.extend_invitation("RM", reference, &too_late).await;
    let why = field_errors(&refused.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    assert_eq!(why[0].0, "deadline");
    let cancelled = office.cancel_invitation("RM", reference).await.ok();
    assert_eq!(cancelled["state"], "cancelled");
    let monday = september_monday();
    let slots = staff_slots(&app, &rome.manager, monday, monday).await;
    assert_eq!(
        (&slots[0]["booked_desk"], &slots[0]["cooling"]),
        (&json!(0), &json!(1))
    );
    let twice = office.cancel_invitation("RM", reference).await;
    twice.problem(StatusCode::CONFLICT, "invitation_cancelled");
    office
        .cancel_invitation("RM", "AAAA-AAAA")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");

    let open = office.invitations("RM", "state=sent").await.ok();
    let cases: Vec<&str> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["case_number"].as_str().unwrap())
        .collect();
    assert_eq!(cases, ["RM/2026/000003", "RM/2026/000001"], "newest first");

    // Accepting a proposal takes the seat held for it: the slot's count does not change.
    let mut proposal = invitation("RM/2026/000005");
    proposal["email"] = json!("lin@example.org");
    proposal["full_name"] = json!("Lin Wei");
    proposal["proposed_slot_id"] = rome.slots[2]["id"].clone();
    let sent = office.invite("RM", &proposal).await.created();
    let reference = sent["reference"].as_str().unwrap();
    app.deliver_mail().await;
    let mail = smtp.received();
    let to_lin = mail.iter().find(|m| m.to == ["lin@example.org"]).unwrap();
    let token = token_in(to_lin, reference);
    let accepted = app
        .public()
        .book_invitation(reference, &token, &json!({}))
        .await
        .created();
    assert_eq!(accepted["starts_at"], rome.slots[2]["starts_at"]);
    let slots = staff_slots(&app, &rome.manager, monday, monday).await;
    assert_eq!(
        (&slots[2]["booked_desk"], &slots[2]["booked_web"]),
        (&json!(1), &json!(0))
    );

    let audit = office.audit("RM", "").await.ok();
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("invitation."))
        .collect();
    assert!(actions.contains(&"invitation.batch") && actions.contains(&"invitation.cancel"));
}
