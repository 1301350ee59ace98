//! Entering a draw: where a service releases its seats by lot, the times opening together are
//! shared out among everyone who enters in the window; the result comes by mail.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use minijinja::context;
use serde::Deserialize;

use super::{
    offices::ServiceCard,
    page::{Problems, Visitor, given, view},
};
use crate::{
    domain::{ids::DrawId, ids::SlotId, office::OfficeCode},
    error::{Answer, Explain},
    http::client::ClientAddress,
    use_cases::lottery::{self, DrawPage, enter::EntryRequest},
};

/// The entry form as posted; the chosen times come as repeated `slot` fields, read apart.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EntryForm {
    case_number: String,
    verification_secret: String,
    full_name: String,
    email: String,
    phone: String,
    language: String,
    join_waitlist: String,
    altcha: String,
}

/// The draw, and the form to enter it while it takes entries.
pub async fn show(visitor: Visitor, path: web::Path<(OfficeCode, i64)>) -> HttpResponse {
    let (code, id) = path.into_inner();
    let store = &visitor.state().store;
    match lottery::entry_page(store, code, DrawId::new(id), Utc::now()).await {
        Ok(page) => {
            let sent = EntryForm {
                language: visitor.lang.to_string(),
                join_waitlist: "on".into(),
                ..EntryForm::default()
            };
            render(&visitor, &page, &sent, &[], Problems::default())
        }
        Err(failure) => visitor.failure(failure),
    }
}

fn render(
    visitor: &Visitor,
    page: &DrawPage,
    sent: &EntryForm,
    chosen: &[String],
    problems: Problems,
) -> HttpResponse {
    let status = problems.status();
    visitor.render_as(
        status,
        "draw.html",
        context! {
            office => view(&page.office),
            service => view(&ServiceCard::new(&page.service, visitor.lang.as_str())),
            draw => view(&page.draw),
            open => page.draw.state == lottery::DrawState::Open,
            times => view(&page.times),
            chosen => view(&chosen),
            form => context! {
                case_number => &sent.case_number,
                full_name => &sent.full_name,
                email => &sent.email,
                phone => &sent.phone,
                language => &sent.language,
                join_waitlist => !sent.join_waitlist.is_empty(),
            },
            problems => view(&problems),
        },
    )
}

/// Enters the draw, as `POST /api/v1/offices/{code}/draws/{id}/entries` does.
pub async fn enter(
    visitor: Visitor,
    path: web::Path<(OfficeCode, i64)>,
    from: ClientAddress,
    body: web::Bytes,
) -> HttpResponse {
    let sent: EntryForm = match visitor.genuine_form(&body) {
        Ok(sent) => sent,
        Err(refusal) => return visitor.refuse_form(refusal),
    };
    let chosen: Vec<String> = url::form_urlencoded::parse(&body)
        .filter(|(name, _)| name == "slot")
        .map(|(_, value)| value.into_owned())
        .collect();
    let (code, id) = path.into_inner();
    let request = EntryRequest {
        case_number: sent.case_number.clone(),
        full_name: sent.full_name.clone(),
        email: sent.email.clone(),
        phone: given(&sent.phone),
        language: sent.language.clone(),
        verification_secret: given(&sent.verification_secret),
        preferred_slot_ids: Some(
            chosen
                .iter()
                .filter_map(|id| id.trim().parse().ok().map(SlotId::new))
                .collect(),
        ),
        any_day_from: None,
        any_day_to: None,
        altcha: given(&sent.altcha),
        join_waitlist: Some(!sent.join_waitlist.is_empty()),
    };
    let (store, policy) = (&visitor.state().store, &visitor.state().booking_policy);
    let entered = match request.parse() {
        Ok(entry) => {
            let draw = DrawId::new(id);
            lottery::enter::enter(store, policy, from, code.clone(), draw, entry, Utc::now())
                .await
                .map_err(Explain::answer)
        }
        Err(errors) => Err(Answer::Invalid(errors)),
    };
    let problems = match entered.map_err(|answer| visitor.form_problems(answer)) {
        Ok(entry) => {
            return visitor.render("entered.html", context! { entry => view(&entry) });
        }
        Err(Ok(problems)) => problems,
        Err(Err(other)) => return visitor.answer(other),
    };
    match lottery::entry_page(store, code, DrawId::new(id), Utc::now()).await {
        Ok(page) => render(&visitor, &page, &sent, &chosen, problems),
        Err(failure) => visitor.failure(failure),
    }
}
