//! What applicants do, in a browser: find the office, book, open the mail's link, move, cancel;
//! the same in Arabic on a 320 px phone; a booking with JavaScript off; an invitation, the
//! waitlist and its offer.

use chrono::Utc;
use serde_json::json;

use crate::{
    browser::{Browser, Driver, Screen},
    fixtures::open_rome_soon,
    harness::{Backend, TestApp, Token, spawn_app},
};

/// Every story on `backend`; returns how many pages axe-core checked.
pub async fn run_all(driver: &Driver, backend: Backend) -> usize {
    let db = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let mut checked = 0;
    checked += book_move_and_cancel(
        driver,
        backend,
        &format!("{db}-en-desktop"),
        "en",
        Screen::Desktop,
    )
    .await;
    checked += book_move_and_cancel(
        driver,
        backend,
        &format!("{db}-ar-320px"),
        "ar",
        Screen::Phone320,
    )
    .await;
    checked += book_without_javascript(driver, backend, &format!("{db}-it-nojs")).await;
    checked += invitation_waitlist_and_offer(driver, backend, &format!("{db}-en-invitation")).await;
    checked += book_with_proof_of_work(driver, backend, &format!("{db}-en-proof-of-work")).await;
    checked += enter_a_draw(driver, backend, &format!("{db}-fr-lottery")).await;
    checked += crate::evaluation::a_visit_is_rated_and_the_reports_show_it(
        driver,
        backend,
        &format!("{db}-en-evaluation"),
    )
    .await;
    checked
}

/// The text direction every page of `lang` must have.
fn direction(lang: &str) -> &'static str {
    if lang == "ar" { "rtl" } else { "ltr" }
}

async fn assert_language(browser: &Browser, lang: &str) {
    assert_eq!(
        browser.attribute("html", "lang").await.as_deref(),
        Some(lang)
    );
    assert_eq!(
        browser.attribute("html", "dir").await.as_deref(),
        Some(direction(lang))
    );
}

/// From the directory to the booked page: the first time on offer, the form sent empty once
/// (its errors shown), then filled. Returns the booking's reference.
async fn book_first_time(browser: &mut Browser, lang: &str, email: &str) -> String {
    browser.open(&format!("/?lang={lang}")).await;
    assert_language(browser, lang).await;
    browser.step("directory").await;
    browser.click("ul.cards h2 a").await;
    assert_language(browser, lang).await;
    browser.step("office").await;
    browser
        .click("a.button[href*='/services/document_delivery']")
        .await;
    browser.step("times").await;
    browser.click("ul.times a.time").await;
    browser.step("form").await;
    browser.click("form button[type=submit]").await;
    assert!(
        browser.has(".error-summary").await,
        "an empty form is refused"
    );
    assert!(browser.has("#f-case_number[aria-invalid=true]").await);
    browser.step("form-errors").await;
    browser.fill("#f-case_number", "RM/2026/000042").await;
    browser.fill("#f-full_name", "Amina Diallo").await;
    browser.fill("#f-email", email).await;
    browser.click("form button[type=submit]").await;
    assert!(
        browser.url().await.contains("booked=1"),
        "booked: {}",
        browser.source().await
    );
    assert_language(browser, lang).await;
    browser.text(".reference").await
}

async fn book_move_and_cancel(
    driver: &Driver,
    backend: Backend,
    name: &str,
    lang: &str,
    screen: Screen,
) -> usize {
    let app = spawn_app(backend).await;
    open_rome_soon(&app).await;
    let mut browser = driver.browser(name, &app.address, screen).await;

    let reference = book_first_time(&mut browser, lang, "amina@example.org").await;
    assert_eq!(reference.len(), 9, "{reference}");
    browser.step("booked").await;

    // The link in the confirmation mail opens the booking, in a browser that never saw it.
    app.deliver_mail().await;
    let link = app.link_in_newest_mail("/bookings/");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let mut from_mail = driver
        .browser(&format!("{name}-mail"), &app.address, screen)
        .await;
    from_mail.open(&link).await;
    assert_eq!(from_mail.text(".reference").await, reference);
    assert_language(&from_mail, lang).await;
    from_mail.step("mail-link").await;

    // Move: the free times, the step that says what changes, the move.
    let before = app.public().booking(&reference, &token).await.ok();
    from_mail.click("a.button[href*='/move?']").await;
    from_mail.step("move-times").await;
    from_mail.click("ul.times li:nth-child(3) a.time").await;
    from_mail.step("move-confirm").await;
    from_mail.click("form button[type=submit]").await;
    assert!(
        from_mail.url().await.contains("moved=1"),
        "{}: {}",
        from_mail.url().await,
        from_mail.source().await
    );
    assert!(from_mail.has(".notice.ok").await);
    from_mail.step("moved").await;
    let after = app.public().booking(&reference, &token).await.ok();
    assert_ne!(before["starts_at"], after["starts_at"], "the visit moved");

    // Cancel, after the step that asks.
    from_mail.click("a.button.danger").await;
    from_mail.step("cancel-confirm").await;
    from_mail.click("form button.danger").await;
    assert!(from_mail.has(".status-cancelled").await);
    from_mail.step("cancelled").await;
    let cancelled = app.public().booking(&reference, &token).await.ok();
    assert_eq!(cancelled["status"], "cancelled");

    // A link cut short finds nothing, and says so in the language the visitor chose.
    browser
        .open(&format!("/bookings/{reference}?token=cut"))
        .await;
    assert_language(&browser, lang).await;
    assert!(browser.has("h1").await);
    browser.step("not-found").await;

    browser.close().await + from_mail.close().await
}

/// With scripts off and no mouse: every step by Tab, typing and Enter.
async fn book_without_javascript(driver: &Driver, backend: Backend, name: &str) -> usize {
    let app = spawn_app(backend).await;
    let rome = open_rome_soon(&app).await;
    let mut browser = driver.browser(name, &app.address, Screen::NoScript).await;
    browser.open("/?lang=it").await;
    browser.step("directory").await;
    browser.tab_to("ul.cards h2 a").await;
    browser.enter().await;
    browser
        .tab_to("a.button[href*='/services/document_delivery']")
        .await;
    browser.enter().await;
    browser.step("times").await;
    browser.tab_to("ul.times a.time").await;
    browser.enter().await;
    browser.tab_to("#f-case_number").await;
    browser.type_text("RM/2026/000042").await;
    browser.tab_to("#f-full_name").await;
    browser.type_text("Amina Diallo").await;
    browser.tab_to("#f-email").await;
    browser.type_text("amina@example.org").await;
    browser.step("form").await;
    browser.tab_to("form button[type=submit]").await;
    browser.enter().await;
    assert!(
        browser.url().await.contains("booked=1"),
        "{}",
        browser.source().await
    );
    let reference = browser.text(".reference").await;
    browser.step("booked").await;
    let stored = booking_count(&app, &rome.manager).await;
    assert_eq!(stored, 1, "{reference} is the one booking");
    browser.close().await
}

async fn booking_count(app: &TestApp, manager: &Token) -> i64 {
    let slots = app.by(manager).slots("RM", "").await.ok();
    slots
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| slot["booked_web"].as_i64().unwrap_or(0))
        .sum()
}

async fn invitation_waitlist_and_offer(driver: &Driver, backend: Backend, name: &str) -> usize {
    let app = spawn_app(backend).await;
    let rome = open_rome_soon(&app).await;
    let mut browser = driver.browser(name, &app.address, Screen::Desktop).await;

    // The office invites Lin, proposing the first time: the mail's link lands on the invitation.
    let deadline = Utc::now().date_naive() + chrono::Days::new(2);
    let invitation = json!({
        "case_number": "RM/2026/000077",
        "service": "document_delivery",
        "deadline": deadline,
        "email": "lin@example.org",
        "language": "en",
        "full_name": "Lin Wei",
        "proposed_slot_id": rome.slots[0]["id"],
    });
    app.by(&rome.manager)
        .invite("RM", &invitation)
        .await
        .created();
    app.deliver_mail().await;
    browser
        .open(&app.link_in_newest_mail("/invitations/"))
        .await;
    browser.step("invitation").await;
    browser.click_link("See other times").await;
    browser.step("invitation-times").await;
    browser.choose("#slot-proposed").await;
    browser.click("form button[type=submit]").await;
    assert!(browser.url().await.contains("booked=1"));
    browser.step("invitation-booked").await;

    // Amina holds the last time of a day and asks, on her booking's page, for an earlier one.
    let last = rome
        .slots
        .iter()
        .rfind(|slot| slot["date"] == rome.slots[0]["date"])
        .unwrap();
    let mut visit = crate::fixtures::applicant(last, 5);
    visit["language"] = json!("en");
    let booked = app.public().book("RM", &visit).await.created();
    let (reference, token) = (
        booked["reference"].as_str().unwrap(),
        booked["manage_token"].as_str().unwrap(),
    );
    browser
        .open(&format!("/bookings/{reference}?token={token}"))
        .await;
    let day = last["date"].as_str().unwrap();
    browser
        .client
        .execute(
            "document.querySelector('#f-earliest_day').value = arguments[0];",
            vec![json!(day)],
        )
        .await
        .expect("the first day is set");
    browser
        .click("form button.button.secondary[type=submit]")
        .await;
    assert!(
        browser.url().await.contains("waiting=1"),
        "{}",
        browser.source().await
    );
    browser.step("waitlist-joined").await;

    // The next housekeeping round offers her an earlier seat; she accepts it from the mail.
    let (_, offered) = app.run_waitlist_at(Utc::now()).await;
    assert_eq!(offered, 1);
    app.deliver_mail().await;
    browser
        .open(&app.link_in_newest_mail("/waitlist/offers/"))
        .await;
    browser.step("offer").await;
    browser.click("form button.button:not(.secondary)").await;
    assert!(browser.url().await.contains("done=accepted"));
    browser.step("offer-accepted").await;
    let moved = app.public().booking(reference, token).await.ok();
    assert_ne!(
        moved["starts_at"], booked["starts_at"],
        "the visit moved earlier"
    );

    browser.close().await
}

async fn book_with_proof_of_work(driver: &Driver, backend: Backend, name: &str) -> usize {
    let app = spawn_app(backend).await;
    let rome = open_rome_soon(&app).await;
    let turned_on = json!({"proof_of_work": true, "proof_of_work_cost": 10});
    app.by(&rome.manager)
        .update_office("RM", &turned_on)
        .await
        .ok();
    let mut browser = driver.browser(name, &app.address, Screen::Desktop).await;
    browser.open("/?lang=en").await;
    browser.click("ul.cards h2 a").await;
    browser
        .click("a.button[href*='/services/document_delivery']")
        .await;
    browser.click("ul.times a.time").await;

    // The vendored ALTCHA widget fetches a challenge and solves it in a worker, by itself.
    browser.fill("#f-case_number", "RM/2026/000042").await;
    browser.fill("#f-full_name", "Amina Diallo").await;
    browser.fill("#f-email", "amina@example.org").await;
    let mut solved = false;
    for _ in 0..200 {
        let value = browser
            .client
            .execute(
                "const field = document.querySelector('input[name=altcha]');
                 return field ? field.value : '';",
                vec![],
            )
            .await
            .expect("the widget's field");
        if value.as_str().is_some_and(|value| !value.is_empty()) {
            solved = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        solved,
        "the widget solved its challenge: {}",
        browser.source().await
    );
    browser.step("form-solved").await;
    browser.click("form button[type=submit]").await;
    assert!(
        browser.url().await.contains("booked=1"),
        "{}",
        browser.source().await
    );
    browser.step("booked").await;
    browser.close().await
}

async fn enter_a_draw(driver: &Driver, backend: Backend, name: &str) -> usize {
    let app = spawn_app(backend).await;
    let rome = crate::fixtures::configure_rome_by_lot(&app).await;
    let office = app.by(&rome.manager);
    crate::fixtures::set_stage(&app, "RM", "live").await;
    let day = Utc::now().date_naive() + chrono::Days::new(7);
    let opens_at = Utc::now() + chrono::Duration::seconds(1);
    let range = json!({"from": day, "to": day + chrono::Days::new(2), "opens_at": opens_at});
    office.publish("RM", &range).await.ok();
    let wait = (opens_at - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + std::time::Duration::from_millis(200)).await;

    let mut browser = driver.browser(name, &app.address, Screen::Desktop).await;
    browser
        .open("/offices/RM/services/document_delivery?lang=fr")
        .await;
    browser.step("times-in-draw").await;
    browser.click("a.button[href*='/draws/']").await;
    browser.step("draw").await;
    browser
        .choose("fieldset input[type=checkbox]:nth-of-type(1)")
        .await;
    browser
        .choose(".choice:nth-of-type(3) input[type=checkbox]")
        .await;
    browser.fill("#f-case_number", "RM/2026/000042").await;
    browser.fill("#f-full_name", "Amina Diallo").await;
    browser.fill("#f-email", "amina@example.org").await;
    browser.click("form button[type=submit]").await;
    assert!(
        browser.has(".reference").await,
        "entered: {}",
        browser.source().await
    );
    browser.step("entered").await;
    let draws = app.public().draws("RM").await.ok();
    assert_eq!(draws[0]["entries"], 1);
    browser.close().await
}
