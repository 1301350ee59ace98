//! The applicant's pages over plain HTTP, as a browser without JavaScript uses them: find
//! the office, pick a time, book with a form, manage the visit from the mail's link. (The
//! same stories in a real browser, with accessibility checks, are in `tests/browser`.)

use std::collections::BTreeMap;

use reqwest::{StatusCode, header};
use serde_json::json;

use crate::{
    fixtures::{
        applicant, configure_rome, configure_rome_by_lot, open_rome_soon, publish,
        september_monday, set_stage, staff_slots,
    },
    harness::{Backend, TestApp, spawn_app, spawn_app_with},
};

on_both_databases!(
    an_applicant_books_from_the_office_page_and_manages_it_from_the_mails_link,
    a_form_posted_from_elsewhere_changes_nothing,
    a_seat_taken_meanwhile_shows_the_next_free_times,
    what_is_wrong_is_said_next_to_its_field_and_kept,
    pages_speak_the_visitors_language,
    the_pages_can_live_under_a_prefix,
    an_applicant_enters_a_draw_from_the_times_page,
    an_applicant_reconfirms_from_the_booking_page,
);

/// A visitor: a cookie jar, and the pages as they come.
struct Visitor<'a> {
    app: &'a TestApp,
    cookies: BTreeMap<String, String>,
    accept_language: Option<&'static str>,
}

struct Page {
    /// Where the page was asked for: links with only a query are relative to it.
    path: String,
    status: StatusCode,
    headers: header::HeaderMap,
    html: String,
}

impl Page {
    /// The value of the first `name="…" value="…"` input.
    fn input(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .html
            .find(&marker)
            .unwrap_or_else(|| panic!("an input {name}"))
            + marker.len();
        self.html[start..].split('"').next().unwrap().to_owned()
    }

    /// Every link whose address contains `part`, in page order.
    fn links(&self, part: &str) -> Vec<String> {
        self.html
            .split("href=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().replace("&amp;", "&"))
            .map(|href| match href.starts_with('?') {
                true => format!("{}{href}", self.path.split('?').next().unwrap()),
                false => href,
            })
            .filter(|href| href.contains(part))
            .collect()
    }

    fn location(&self) -> String {
        self.headers[header::LOCATION].to_str().unwrap().to_owned()
    }

    fn contains(&self, text: &str) -> bool {
        self.html.contains(text)
    }
}

impl<'a> Visitor<'a> {
    fn new(app: &'a TestApp) -> Visitor<'a> {
        Visitor {
            app,
            cookies: BTreeMap::new(),
            accept_language: None,
        }
    }

    fn keep_cookies(&mut self, headers: &header::HeaderMap) {
        for cookie in headers.get_all(header::SET_COOKIE) {
            let cookie = cookie.to_str().unwrap();
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.insert(name.to_owned(), value.to_owned());
        }
    }

    fn cookie_header(&self) -> String {
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        pairs.join("; ")
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.app.client.get(self.app.url(path));
        self.send(path, request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.app.client.post(self.app.url(path)).form(form);
        self.send(path, request).await
    }

    /// Sends the booking `form` (its hidden fields as the page gave them) with `fields` typed.
    async fn send_booking_form(&mut self, form: &Page, fields: &[(&str, &str)]) -> Page {
        let hidden = ["csrf", "attempt", "slot", "day"].map(|name| (name, form.input(name)));
        let mut sent: Vec<(&str, &str)> = hidden.iter().map(|(k, v)| (*k, v.as_str())).collect();
        sent.extend_from_slice(fields);
        self.post("/offices/RM/services/document_delivery/book", &sent)
            .await
    }

    async fn send(&mut self, path: &str, request: reqwest::RequestBuilder) -> Page {
        let mut request = request.header(header::COOKIE, self.cookie_header());
        if let Some(language) = self.accept_language {
            request = request.header(header::ACCEPT_LANGUAGE, language);
        }
        let response = request.send().await.expect("the page answers");
        let status = response.status();
        let headers = response.headers().clone();
        self.keep_cookies(&headers);
        let html = response.text().await.unwrap();
        Page {
            path: path.to_owned(),
            status,
            headers,
            html,
        }
    }
}

/// The path and query of a link the service printed with its public address.
fn path_of(link: &str) -> String {
    let start = link.find("/bookings/").expect("a booking link");
    link[start..].to_owned()
}

/// Books the first time on offer through the pages; returns the booking page's address.
async fn book_first_time(visitor: &mut Visitor<'_>, email: &str) -> String {
    let office = visitor.get("/offices/RM").await;
    let times = visitor
        .get(&office.links("/services/document_delivery")[0])
        .await;
    let form = visitor.get(&times.links("/book?slot=")[0]).await;
    let sent = visitor
        .send_booking_form(
            &form,
            &[
                ("case_number", "RM/2026/000042"),
                ("full_name", "Amina Diallo"),
                ("email", email),
                ("language", "en"),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
    sent.location()
}

async fn an_applicant_books_from_the_office_page_and_manages_it_from_the_mails_link(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    open_rome_soon(&app).await;
    let mut amina = Visitor::new(&app);
    amina.accept_language = Some("en-GB,en;q=0.9");

    // The directory leads to Rome, whose page lists the service and what to bring.
    let directory = amina.get("/").await;
    assert_eq!(directory.status, StatusCode::OK);
    let policy = directory.headers["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"));
    assert!(policy.contains("form-action 'self'"), "{policy}");
    assert_eq!(directory.headers["referrer-policy"], "no-referrer");
    assert_eq!(directory.links("/offices/RM"), ["/offices/RM"]);
    assert!(directory.contains("openstreetmap.org/?mlat="));
    let office = amina.get("/offices/RM").await;
    assert!(office.contains("Documents to bring") && office.contains("Opening hours"));

    // She books the first time on offer; the booking page shows the reference.
    let booked = book_first_time(&mut amina, "amina@example.org").await;
    assert!(booked.contains("booked=1"), "{booked}");
    let confirmation = amina.get(&booked).await;
    assert!(confirmation.contains("Your appointment is booked"));
    let reference = booked.split('/').nth(2).unwrap().split('?').next().unwrap();
    assert!(confirmation.contains(&format!(
        "class=\"reference\" aria-labelledby=\"reference-label\">{reference}<"
    )));
    assert!(!confirmation.links("calendar.ics?token=").is_empty());

    // The mail's link opens the same booking; opening it (as a mail scanner would) twice, and
    // the cancel page, changes nothing.
    app.deliver_mail().await;
    let link = app.link_in_newest_mail("/bookings/");
    assert!(
        link.starts_with("https://prenota.example.it/bookings/"),
        "{link}"
    );
    let mut scanner = Visitor::new(&app);
    for _ in 0..2 {
        let page = scanner.get(&path_of(&link)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.contains("Confermato") || page.contains("Confirmed"));
        let cancel_page = page.links("/cancel?token=")[0].clone();
        assert_eq!(scanner.get(&cancel_page).await.status, StatusCode::OK);
    }
    let token = link.split("token=").nth(1).unwrap();
    let api = app.public().booking(reference, token).await.ok();
    assert_eq!(api["status"], "confirmed");

    // She moves the visit: the free times, the step that says what will change, then the move.
    let page = amina.get(&path_of(&link)).await;
    let choices = amina.get(&page.links("/move?token=")[0]).await;
    let chosen = amina.get(&choices.links("&slot=")[3]).await;
    assert!(chosen.contains("Yes, move it"));
    let before = app.public().booking(reference, token).await.ok();
    let moved = amina
        .post(
            &format!("/bookings/{reference}/move"),
            &[
                ("csrf", &chosen.input("csrf")),
                ("token", token),
                ("slot", &chosen.input("slot")),
            ],
        )
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER);
    assert!(moved.location().contains("moved=1"));
    let after = app.public().booking(reference, token).await.ok();
    assert_ne!(after["starts_at"], before["starts_at"]);
    assert!(
        amina
            .get(&moved.location())
            .await
            .contains("has been moved")
    );

    // And cancels it, after the step that asks.
    let ask = amina
        .get(&format!("/bookings/{reference}/cancel?token={token}"))
        .await;
    let cancelled = amina
        .post(
            &format!("/bookings/{reference}/cancel"),
            &[("csrf", &ask.input("csrf")), ("token", token)],
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER);
    let api = app.public().booking(reference, token).await.ok();
    assert_eq!(api["status"], "cancelled");
    let page = amina.get(&cancelled.location()).await;
    assert!(page.contains("has been cancelled") && !page.contains("/move?token="));

    // An address that is no page, asked for by a browser, is a page that says so.
    let nothing = app
        .client
        .get(app.url("/offices/RM/nothing-here"))
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .header(header::ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap();
    assert_eq!(nothing.status(), StatusCode::NOT_FOUND);
    assert!(nothing.text().await.unwrap().contains("Page not found"));

    // A wrong token finds nothing, in words and as a 404.
    let wrong = amina
        .get(&format!("/bookings/{reference}?token=not-the-token"))
        .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    assert!(wrong.contains("Page not found"));
}

async fn a_form_posted_from_elsewhere_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome_soon(&app).await;
    let mut amina = Visitor::new(&app);
    let form = amina
        .get(&format!(
            "/offices/RM/services/document_delivery/book?slot={}",
            rome.slots[0]["id"]
        ))
        .await;
    let slot = rome.slots[0]["id"].to_string();
    let fields = |csrf: &'static str| {
        vec![
            ("csrf", csrf),
            ("case_number", "RM/2026/000042"),
            ("full_name", "Amina Diallo"),
            ("email", "amina@example.org"),
            ("language", "it"),
        ]
    };

    // Another site's form: no cookie of ours, or our cookie without its signed field.
    let mut forger = Visitor::new(&app);
    let mut forged = fields("");
    forged.push(("slot", &slot));
    let page = forger
        .post("/offices/RM/services/document_delivery/book", &forged)
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(
        page.contains("Questo modulo è scaduto"),
        "Italian by default"
    );
    let mut guessed = fields("0000");
    guessed.push(("slot", &slot));
    let page = amina
        .post("/offices/RM/services/document_delivery/book", &guessed)
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    // Nothing was booked; the genuine form books.
    let slots = app.by(&rome.manager).slots("RM", "").await.ok();
    assert!(
        slots
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["booked_web"] == 0)
    );
    let csrf = form.input("csrf");
    let mut genuine = vec![
        ("csrf", csrf.as_str()),
        ("case_number", "RM/2026/000042"),
        ("full_name", "Amina Diallo"),
        ("email", "amina@example.org"),
        ("language", "it"),
    ];
    genuine.push(("slot", &slot));
    let page = amina
        .post("/offices/RM/services/document_delivery/book", &genuine)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
}

async fn a_seat_taken_meanwhile_shows_the_next_free_times(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome_soon(&app).await;
    let first = &rome.slots[0];
    let mut amina = Visitor::new(&app);
    amina.accept_language = Some("fr");
    let day = first["date"].as_str().unwrap_or_default().to_owned();
    let form = amina
        .get(&format!(
            "/offices/RM/services/document_delivery/book?slot={}&day={day}",
            first["id"]
        ))
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.html);

    // While she types, others take every web seat of that time.
    for n in 1..=3 {
        app.public()
            .book("RM", &applicant(first, n))
            .await
            .created();
    }
    let page = amina
        .send_booking_form(
            &form,
            &[
                ("case_number", "RM/2026/000042"),
                ("full_name", "Amina Diallo"),
                ("email", "amina@example.org"),
                ("language", "fr"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(
        page.contains("cet horaire vient d&#39;être pris"),
        "{}",
        page.html
    );
    assert!(page.contains("Voici les prochains horaires libres"));
    let offered = page.links("/book?slot=");
    assert!(!offered.is_empty());
    assert!(
        offered
            .iter()
            .all(|link| !link.contains(&format!("slot={}&", first["id"]))),
        "the taken time is not offered again"
    );
}

async fn what_is_wrong_is_said_next_to_its_field_and_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome_soon(&app).await;
    let mut amina = Visitor::new(&app);
    amina.accept_language = Some("en");
    let slot = &rome.slots[1];
    let form = amina
        .get(&format!(
            "/offices/RM/services/document_delivery/book?slot={}&day={}",
            slot["id"],
            slot["date"].as_str().unwrap_or_default()
        ))
        .await;
    let page = amina
        .send_booking_form(
            &form,
            &[
                ("case_number", "RM/2026/000042"),
                ("full_name", "Amina Diallo"),
                ("email", "amina-at-example.org"),
                ("phone", "call me"),
                ("language", "en"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("There is a problem"));
    assert!(
        page.contains("<a href=\"#f-email\">Enter an email address such as name@example.com.</a>")
    );
    assert!(page.contains("<a href=\"#f-phone\">"));
    assert!(
        page.contains(
            "id=\"f-email\" name=\"email\" type=\"email\" value=\"amina-at-example.org\""
        )
    );
    assert!(page.contains("aria-invalid=\"true\" aria-describedby=\"f-email-hint f-email-error\""));
    assert!(
        page.contains("value=\"RM/2026/000042\""),
        "what was right is kept"
    );
    let booked = app.by(&rome.manager).slots("RM", "").await.ok();
    assert!(
        booked
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["booked_web"] == 0)
    );
}

async fn pages_speak_the_visitors_language(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = open_rome_soon(&app).await;

    // The browser's language, then a switch kept in a cookie, then Italian.
    let mut yusuf = Visitor::new(&app);
    yusuf.accept_language = Some("ar-EG,ar;q=0.9,en;q=0.5");
    let page = yusuf.get("/offices/RM").await;
    assert!(page.contains("<html lang=\"ar\" dir=\"rtl\">"));
    assert_eq!(page.headers["content-language"], "ar");
    assert!(page.contains("الوثائق المطلوب إحضارها"));
    let switched = yusuf.get("/offices/RM?lang=uk").await;
    assert!(switched.contains("<html lang=\"uk\" dir=\"ltr\">"));
    assert!(
        yusuf.get("/").await.contains("<html lang=\"uk\""),
        "the choice is kept"
    );
    let mut nobody = Visitor::new(&app);
    assert!(nobody.get("/").await.contains("<html lang=\"it\""));

    // A booking's page is in the booking's language, unless the visitor chose another.
    let mut visit = applicant(&rome.slots[2], 7);
    visit["language"] = json!("zh");
    let booked = app.public().book("RM", &visit).await.created();
    let (reference, token) = (
        booked["reference"].as_str().unwrap(),
        booked["manage_token"].as_str().unwrap(),
    );
    let path = format!("/bookings/{reference}?token={token}");
    let page = nobody.get(&path).await;
    assert!(page.contains("<html lang=\"zh\""));
    assert!(page.contains("您的预约"));
    assert!(yusuf.get(&path).await.contains("<html lang=\"uk\""));
}

async fn the_pages_can_live_under_a_prefix(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        settings.pages.prefix = "prenota/".into()
    })
    .await;
    open_rome_soon(&app).await;
    let mut amina = Visitor::new(&app);
    let directory = amina.get("/prenota/").await;
    assert_eq!(directory.status, StatusCode::OK);
    assert_eq!(directory.links("/offices/RM"), ["/prenota/offices/RM"]);
    assert!(directory.contains("href=\"/prenota/assets/site.css\""));
    let office = amina.get("/prenota/offices/RM").await;
    assert!(!office.links("/prenota/offices/RM/services/").is_empty());
    assert_eq!(amina.get("/offices/RM").await.status, StatusCode::NOT_FOUND);
}

async fn an_applicant_enters_a_draw_from_the_times_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome_by_lot(&app).await;
    let office = app.by(&rome.manager);
    set_stage(&app, "RM", "live").await;
    let day = chrono::Utc::now().date_naive() + chrono::Days::new(7);
    let opens_at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let range = json!({"from": day, "to": day + chrono::Days::new(2), "opens_at": opens_at});
    assert_eq!(office.publish("RM", &range).await.ok()["draws"], 1);
    let mut amina = Visitor::new(&app);
    amina.accept_language = Some("en");

    // Before the seats open, the times page announces the draw; its page says when it opens.
    let times = amina.get("/offices/RM/services/document_delivery").await;
    let draw = times.links("/offices/RM/draws/")[0].clone();
    assert!(times.contains("will be drawn by lot"));
    let early = amina.get(&draw).await;
    assert!(early.contains("Entries open on") && !early.contains("name=\"slot\""));

    // Once open, she chooses two times and enters; the page gives her entry's number.
    let wait = (opens_at - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + std::time::Duration::from_millis(200)).await;
    let form = amina.get(&draw).await;
    assert!(form.contains("Entries close on"));
    let offered: Vec<String> = form
        .html
        .split("name=\"slot\" value=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect();
    assert!(offered.len() >= 2, "{}", form.html);
    let fields = |csrf: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            ("slot".to_owned(), offered[0].clone()),
            ("slot".to_owned(), offered[1].clone()),
            ("case_number".to_owned(), "RM/2026/000042".to_owned()),
            ("full_name".to_owned(), "Amina Diallo".to_owned()),
            ("email".to_owned(), "amina@example.org".to_owned()),
            ("language".to_owned(), "en".to_owned()),
            ("join_waitlist".to_owned(), "on".to_owned()),
        ]
    };
    let sent = fields(&form.input("csrf"));
    let pairs: Vec<(&str, &str)> = sent.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let entered = amina.post(&draw, &pairs).await;
    assert_eq!(entered.status, StatusCode::OK, "{}", entered.html);
    assert!(entered.contains("You are in the draw"));
    assert!(entered.contains("stay on the waiting list"));

    // The same case cannot enter twice; no time chosen is said next to the times.
    let again = amina.post(&draw, &pairs).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.contains("This case has already entered this draw."));
    let none: Vec<(&str, &str)> = pairs
        .iter()
        .copied()
        .filter(|(k, _)| *k != "slot")
        .collect();
    let empty = amina.post(&draw, &none).await;
    assert!(empty.contains("<a href=\"#f-preferred_slot_ids\">Choose from 1 to 5 times.</a>"));
    let draws = app.public().draws("RM").await.ok();
    assert_eq!(draws[0]["entries"], 1);
}

async fn an_applicant_reconfirms_from_the_booking_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let rome = configure_rome(&app).await;
    let asks = json!({
        "horizon_days": 730,
        "reconfirmation": {"ask_days_before": 3, "release_hours_before": 24},
    });
    app.by(&rome.manager)
        .put_service("RM", "document_delivery", &asks)
        .await
        .ok();
    set_stage(&app, "RM", "live").await;
    let monday = september_monday();
    publish(&app, &rome.manager, monday, monday).await;
    let slots = staff_slots(&app, &rome.manager, monday, monday).await;
    let mut visit = applicant(&slots[0], 1);
    visit["language"] = json!("en");
    let booked = app.public().book("RM", &visit).await.created();
    let (reference, token) = (
        booked["reference"].as_str().unwrap(),
        booked["manage_token"].as_str().unwrap(),
    );

    // The booking page asks her to confirm, by when, with a button.
    let mut amina = Visitor::new(&app);
    let page = amina
        .get(&format!("/bookings/{reference}?token={token}"))
        .await;
    assert!(page.contains("Confirm you will come"), "{}", page.html);
    assert!(page.contains(&format!("/bookings/{reference}/reconfirm")));
    let sent = amina
        .post(
            &format!("/bookings/{reference}/reconfirm"),
            &[("csrf", &page.input("csrf")), ("token", token)],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
    let after = amina.get(&sent.location()).await;
    assert!(
        after.contains("you have confirmed your appointment"),
        "{}",
        after.html
    );
    assert!(after.contains("You have confirmed that you will come."));
    let api = app.public().booking(reference, token).await.ok();
    assert!(api["reconfirmed_at"].is_string());
}
