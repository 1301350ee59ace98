//! Booking a seat: the times of a service, the form, and what happens when it is sent.

use actix_web::{HttpResponse, http::StatusCode, web};
use chrono::Utc;
use minijinja::context;
use serde::Deserialize;

use super::{
    offices::{ServiceCard, map_link},
    page::{Problems, Visitor, given, view},
};
use crate::{
    domain::{FieldErrors, Parsed, days::Day, ids::SlotId, office::OfficeCode},
    error::{Answer, Explain},
    http::client::ClientAddress,
    use_cases::{
        availability::{self, AvailabilityQuery, ServiceTimes},
        bookings::{
            Booker,
            book::{self, BookingRequest, IdempotencyKey},
        },
    },
};

/// Refusals that mean "this time cannot be had": the applicant is shown the next free ones.
const SEAT_GONE: [&str; 6] = [
    "slot_full",
    "slot_unavailable",
    "slot_in_the_past",
    "min_notice",
    "beyond_horizon",
    "not_yet_open",
];

/// The form as posted. Every field is read as text, so an odd value is answered next to its
/// field by the same parser the API uses.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BookForm {
    /// Random per form shown: the booking's Idempotency-Key, so sending twice books once.
    attempt: String,
    slot: String,
    day: String,
    case_number: String,
    verification_secret: String,
    full_name: String,
    email: String,
    phone: String,
    language: String,
    /// What the ALTCHA widget puts in the form, where the office asks for proof of work.
    altcha: String,
}

/// The last day of a page of times: two weeks keep a page light on a phone.
/// Without a first day, the page starts today (Rome's today is UTC's but for an hour or two,
/// which only moves where the page ends).
pub(super) fn two_weeks_from(from: Option<&str>) -> Option<String> {
    let from = match from {
        Some(day) => Day::parse(day).ok()?.get(),
        None => Utc::now().date_naive(),
    };
    Some(crate::domain::days::days_after(from, 13).to_string())
}

async fn times_of(
    visitor: &Visitor,
    code: OfficeCode,
    service: String,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<ServiceTimes, HttpResponse> {
    let mut unreadable = FieldErrors::new();
    let from = from.and_then(|day| unreadable.check("from", Day::parse(day)));
    let to = to.and_then(|day| unreadable.check("to", Day::parse(day)));
    let query = Parsed {
        value: AvailabilityQuery { service, from, to },
        unreadable,
    };
    let store = &visitor.state().store;
    availability::service_times(store, code, query, Utc::now())
        .await
        .map_err(|failure| visitor.failure(failure))
}

/// The times of one service to choose from, four weeks at a time (`?from=`).
pub async fn times(visitor: Visitor, path: web::Path<(OfficeCode, String)>) -> HttpResponse {
    let (code, service) = path.into_inner();
    let from = visitor.query("from").map(str::to_owned);
    let to = two_weeks_from(from.as_deref());
    match times_of(&visitor, code, service, from.as_deref(), to.as_deref()).await {
        Ok(times) => render_times(&visitor, &times, None, StatusCode::OK),
        Err(page) => page,
    }
}

fn render_times(
    visitor: &Visitor,
    times: &ServiceTimes,
    taken: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let next_from = times
        .availability
        .days
        .last()
        .and_then(|day| day.date.succ_opt());
    visitor.render_as(
        status,
        "times.html",
        context! {
            office => view(&times.office),
            service => view(&ServiceCard::new(&times.service, visitor.lang.as_str())),
            days => view(&times.availability.days),
            next_seats_open_at => view(&times.availability.next_seats_open_at),
            next_from => view(&next_from),
            draws => view(&times.draws),
            taken,
        },
    )
}

/// The form for one time (`?slot=&day=`). A time taken meanwhile shows the next free ones.
pub async fn form(visitor: Visitor, path: web::Path<(OfficeCode, String)>) -> HttpResponse {
    let (code, service) = path.into_inner();
    let day = visitor.query("day").map(str::to_owned);
    let slot = visitor.query("slot").and_then(|id| id.parse::<i64>().ok());
    let times = match times_of(&visitor, code, service, day.as_deref(), day.as_deref()).await {
        Ok(times) => times,
        Err(page) => return page,
    };
    let filled = BookForm {
        language: visitor.lang.to_string(),
        slot: slot.map(|id| id.to_string()).unwrap_or_default(),
        day: day.unwrap_or_default(),
        ..BookForm::default()
    };
    render_form(&visitor, &times, &filled, Problems::default())
}

/// The form again: first shown, or with what was sent and what to correct.
fn render_form(
    visitor: &Visitor,
    times: &ServiceTimes,
    sent: &BookForm,
    problems: Problems,
) -> HttpResponse {
    let chosen = times
        .availability
        .days
        .iter()
        .flat_map(|day| day.slots.iter())
        .find(|slot| slot.id.to_string() == sent.slot && slot.opens_at.is_none());
    let Some(chosen) = chosen else {
        let taken = visitor.text("refusal-slot-full", &[]);
        return render_times(visitor, times, Some(taken), StatusCode::CONFLICT);
    };
    let status = problems.status();
    visitor.render_as(
        status,
        "book.html",
        context! {
            office => view(&times.office),
            map => map_link(&times.office),
            service => view(&ServiceCard::new(&times.service, visitor.lang.as_str())),
            slot => view(chosen),
            day => &sent.day,
            form => context! {
                case_number => &sent.case_number,
                full_name => &sent.full_name,
                email => &sent.email,
                phone => &sent.phone,
                language => &sent.language,
            },
            attempt => if sent.attempt.is_empty() { uuid::Uuid::new_v4().to_string() } else { sent.attempt.clone() },
            problems => view(&problems),
        },
    )
}

/// Books the time: the same use case, rules and limits as `POST /api/v1/offices/{code}/bookings`;
/// then to the booking's page. A time taken meanwhile shows the next free ones.
pub async fn submit(
    visitor: Visitor,
    path: web::Path<(OfficeCode, String)>,
    from: ClientAddress,
    body: web::Bytes,
) -> HttpResponse {
    let sent: BookForm = match visitor.genuine_form(&body) {
        Ok(sent) => sent,
        Err(refusal) => return visitor.refuse_form(refusal),
    };
    let (code, service) = path.into_inner();
    let request = BookingRequest {
        slot_id: SlotId::new(sent.slot.trim().parse().unwrap_or(0)),
        service: Some(service.clone()),
        case_number: sent.case_number.clone(),
        full_name: sent.full_name.clone(),
        email: given(&sent.email),
        phone: given(&sent.phone),
        language: sent.language.clone(),
        verification_secret: given(&sent.verification_secret),
        altcha: given(&sent.altcha),
    };
    let booker = Booker::Applicant { from, via: None };
    let booked = match request.parse(&booker) {
        Ok(visit) => {
            let key = IdempotencyKey::parse(Some(sent.attempt.as_bytes()), &booker, &request)
                .ok()
                .flatten();
            let policy = &visitor.state().booking_policy;
            let store = &visitor.state().store;
            book::book(store, policy, booker, code.clone(), visit, key, Utc::now())
                .await
                .map_err(Explain::answer)
        }
        Err(errors) => Err(Answer::Invalid(errors)),
    };
    match booked {
        Ok(booked) => {
            let booked = booked.confirmation;
            let (reference, token) = (&booked.reference, &booked.manage_token);
            visitor.see_other(visitor.booking_page(reference, token, Some("booked")))
        }
        Err(answer) => refused(&visitor, code, service, &sent, answer).await,
    }
}

/// The form's refusal, where the applicant can act on it: next to the fields, or, when the
/// time was taken, with the next free times.
async fn refused(
    visitor: &Visitor,
    code: OfficeCode,
    service: String,
    sent: &BookForm,
    answer: Answer,
) -> HttpResponse {
    if let Answer::Conflict { code: refusal, .. } = answer
        && SEAT_GONE.contains(&refusal)
    {
        let day = Some(sent.day.as_str()).filter(|day| !day.is_empty());
        let to = two_weeks_from(day);
        return match times_of(visitor, code, service, day, to.as_deref()).await {
            Ok(times) => {
                let taken = Some(visitor.refusal(refusal, ""));
                render_times(visitor, &times, taken, StatusCode::CONFLICT)
            }
            Err(page) => page,
        };
    }
    let problems = match visitor.form_problems(answer) {
        Ok(problems) => problems,
        Err(other) => return visitor.answer(other),
    };
    let day = Some(sent.day.as_str()).filter(|day| !day.is_empty());
    match times_of(visitor, code, service, day, day).await {
        Ok(times) => render_form(visitor, &times, sent, problems),
        Err(page) => page,
    }
}
