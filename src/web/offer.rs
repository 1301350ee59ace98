//! Where a waitlist offer's mail leads: the earlier seat held for the applicant, to accept or
//! decline.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use minijinja::context;
use serde::Deserialize;

use super::page::{Visitor, view};
use crate::{domain::ids::OfferId, use_cases::waitlist};

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AnswerForm {
    token: String,
    /// `accept` or `decline`.
    answer: String,
}

fn offer_url(visitor: &Visitor, id: i64, token: &str, done: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .append_pair("done", done)
        .finish();
    format!("{}/waitlist/offers/{id}?{query}", visitor.pages().prefix())
}

/// The offer, with its two buttons while it is open.
pub async fn show(visitor: Visitor, id: web::Path<i64>) -> HttpResponse {
    let token = visitor.query("token").unwrap_or_default().to_owned();
    let store = &visitor.state().store;
    match waitlist::show_offer(store, OfferId::new(id.into_inner()), token.clone()).await {
        Ok(offer) => visitor.render(
            "offer.html",
            context! { offer => view(&offer), token, done => visitor.query("done") },
        ),
        Err(failure) => visitor.failure(failure),
    }
}

/// Accepts or declines, as `POST /api/v1/waitlist/offers/{id}/accept|decline` do.
pub async fn answer(visitor: Visitor, id: web::Path<i64>, body: web::Bytes) -> HttpResponse {
    let sent: AnswerForm = match visitor.genuine_form(&body) {
        Ok(sent) => sent,
        Err(refusal) => return visitor.refuse_form(refusal),
    };
    let id = id.into_inner();
    let (store, policy) = (&visitor.state().store, &visitor.state().booking_policy);
    let (offer, token, now) = (OfferId::new(id), sent.token.clone(), Utc::now());
    let done = match sent.answer.as_str() {
        "accept" => waitlist::accept(store, policy, offer, token, now)
            .await
            .map(|_| "accepted"),
        _ => waitlist::decline(store, policy, offer, token, now)
            .await
            .map(|_| "declined"),
    };
    match done {
        Ok(done) => visitor.see_other(offer_url(&visitor, id, &sent.token, done)),
        Err(failure) => visitor.failure(failure),
    }
}
