//! The booking's page, where the mail's link leads: the visit, and cancelling, moving,
//! reconfirming or waiting for an earlier seat. A GET never changes anything (mail scanners follow links): each
//! change is a form that POSTs after a step that says what will happen.

use actix_web::{HttpResponse, http::StatusCode, web};
use chrono::{DateTime, Utc};
use minijinja::context;
use serde::Deserialize;

use super::page::{Problems, Visitor, view};
use crate::{
    domain::{FieldErrors, Parsed, catalogue::pick, days::Day, ids::SlotId, office::OfficeCode},
    error::{Answer, Explain},
    store::Store,
    use_cases::{
        availability::{self, AvailabilityQuery},
        bookings::{BookingError, Policy, manage, reconfirm as reconfirmation, views::BookingView},
        waitlist::{self, JoinRequest, WaitlistView},
    },
};

/// Refusals of a move that mean "this time cannot be had": the next free ones are shown.
const SEAT_GONE: [&str; 5] = [
    "slot_full",
    "slot_unavailable",
    "min_notice",
    "beyond_horizon",
    "not_yet_open",
];

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChangeForm {
    token: String,
    /// The time to move to.
    slot: String,
    /// `join` or `leave` the waitlist.
    action: String,
    earliest_day: String,
    latest_day: String,
}

fn token_of(visitor: &Visitor) -> String {
    visitor.query("token").unwrap_or_default().to_owned()
}

/// The page's view of a booking: its service's texts in the visitor's language.
fn booking_context(visitor: &Visitor, booking: &BookingView, token: &str) -> minijinja::Value {
    let lang = visitor.lang.as_str();
    let office = &booking.office;
    context! {
        booking => view(booking),
        token,
        service_name => pick(&booking.service.names, lang).cloned(),
        documents => view(&pick(&booking.service.documents, lang)),
        calendar_url => format!(
            "/api/v1/bookings/{}/calendar.ics?{}",
            booking.reference,
            url::form_urlencoded::Serializer::new(String::new()).append_pair("token", token).finish()
        ),
        map_query => format!("{}, {}", office.address, office.city),
        changeable => booking.status == crate::domain::booking::Status::Confirmed,
    }
}

/// The booking, with what can be done to it.
pub async fn show(mut visitor: Visitor, reference: web::Path<String>) -> HttpResponse {
    let token = token_of(&visitor);
    let store = &visitor.state().store;
    let policy = &visitor.state().booking_policy;
    let credentials = (reference.into_inner(), token.clone());
    match waitlist::booking_with_place(store, policy, credentials).await {
        Ok((booking, place)) => {
            visitor.prefer(&booking.language);
            render_booking(&visitor, &booking, place, &token, Problems::default())
        }
        Err(failure) => visitor.failure(failure),
    }
}

fn render_booking(
    visitor: &Visitor,
    booking: &BookingView,
    place: Option<WaitlistView>,
    token: &str,
    problems: Problems,
) -> HttpResponse {
    let status = problems.status();
    let done = [
        "booked",
        "moved",
        "cancelled",
        "waiting",
        "left",
        "reconfirmed",
    ]
    .into_iter()
    .find(|done| visitor.query(done).is_some());
    visitor.render_as(
        status,
        "booking.html",
        context! {
            waitlist => view(&place),
            done,
            problems => view(&problems),
            ..booking_context(visitor, booking, token)
        },
    )
}

/// The step before cancelling: what will be cancelled, and the button that does it.
pub async fn confirm_cancel(mut visitor: Visitor, reference: web::Path<String>) -> HttpResponse {
    let token = token_of(&visitor);
    match manage::show(
        &visitor.state().store,
        reference.into_inner(),
        token.clone(),
    )
    .await
    {
        Ok(booking) => {
            visitor.prefer(&booking.language);
            visitor.render("cancel.html", booking_context(&visitor, &booking, &token))
        }
        Err(failure) => visitor.failure(failure),
    }
}

/// Cancels the visit, as `POST /api/v1/bookings/{reference}/cancel` does.
pub async fn cancel(
    visitor: Visitor,
    reference: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let reference = reference.into_inner();
    button(visitor, reference, &body, "cancelled", manage::cancel_visit).await
}

/// Reconfirms the visit, as `POST /api/v1/bookings/{reference}/reconfirm` does.
pub async fn reconfirm(
    visitor: Visitor,
    reference: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let reference = reference.into_inner();
    button(
        visitor,
        reference,
        &body,
        "reconfirmed",
        reconfirmation::reconfirm,
    )
    .await
}

/// A button of the booking's pages: the form read and checked, `change` made with the
/// booking's reference and the form's token, as the API's endpoint makes it, and the booking
/// shown saying it was `done`.
async fn button<F>(
    visitor: Visitor,
    reference: String,
    body: &[u8],
    done: &str,
    change: F,
) -> HttpResponse
where
    F: AsyncFnOnce(
        &Store,
        &Policy,
        String,
        String,
        DateTime<Utc>,
    ) -> Result<BookingView, BookingError>,
{
    let sent: ChangeForm = match visitor.genuine_form(body) {
        Ok(sent) => sent,
        Err(refusal) => return visitor.refuse_form(refusal),
    };
    let (store, policy) = (&visitor.state().store, &visitor.state().booking_policy);
    let token = sent.token.clone();
    match change(store, policy, reference.clone(), token, Utc::now()).await {
        Ok(_) => visitor.see_other(visitor.booking_page(&reference, &sent.token, Some(done))),
        Err(failure) => visitor.failure(failure),
    }
}

/// Moving: the free times of the same service (`?from=`), or, with `?slot=`, the step before
/// moving there.
pub async fn choose_move(mut visitor: Visitor, reference: web::Path<String>) -> HttpResponse {
    let token = token_of(&visitor);
    let store = &visitor.state().store;
    let booking = match manage::show(store, reference.into_inner(), token.clone()).await {
        Ok(booking) => booking,
        Err(failure) => return visitor.failure(failure),
    };
    visitor.prefer(&booking.language);
    let from = visitor.query("from").map(str::to_owned);
    let chosen = visitor.query("slot").map(str::to_owned);
    render_move(&visitor, &booking, &token, from.as_deref(), chosen, None).await
}

async fn render_move(
    visitor: &Visitor,
    booking: &BookingView,
    token: &str,
    from: Option<&str>,
    chosen: Option<String>,
    taken: Option<String>,
) -> HttpResponse {
    let mut unreadable = FieldErrors::new();
    let to = super::booking::two_weeks_from(from).and_then(|day| Day::parse(&day).ok());
    let from = from.and_then(|day| unreadable.check("from", Day::parse(day)));
    let query = Parsed {
        value: AvailabilityQuery {
            service: booking.service.code.clone(),
            from,
            to,
        },
        unreadable,
    };
    let office = match OfficeCode::parse(&booking.office.code) {
        Ok(office) => office,
        Err(_) => return visitor.answer(Answer::NotFound(String::new())),
    };
    let store = &visitor.state().store;
    let times = match availability::service_times(store, office, query, Utc::now()).await {
        Ok(times) => times,
        Err(failure) => return visitor.failure(failure),
    };
    let slots = times
        .availability
        .days
        .iter()
        .flat_map(|day| day.slots.iter());
    let chosen = chosen.and_then(|id| slots.clone().find(|slot| slot.id.to_string() == id));
    let next_from = times
        .availability
        .days
        .last()
        .and_then(|day| day.date.succ_opt());
    let status = if taken.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    visitor.render_as(
        status,
        "move.html",
        context! {
            days => view(&times.availability.days),
            chosen => view(&chosen),
            next_from => view(&next_from),
            taken,
            ..booking_context(visitor, booking, token)
        },
    )
}

/// Moves the visit, as `POST /api/v1/bookings/{reference}/reschedule` does.
pub async fn move_visit(
    mut visitor: Visitor,
    reference: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let sent: ChangeForm = match visitor.genuine_form(&body) {
        Ok(sent) => sent,
        Err(refusal) => return visitor.refuse_form(refusal),
    };
    let reference = reference.into_inner();
    let (store, policy) = (&visitor.state().store, &visitor.state().booking_policy);
    let to = SlotId::new(sent.slot.trim().parse().unwrap_or(0));
    let token = sent.token.clone();
    match manage::reschedule(store, policy, reference.clone(), token, to, Utc::now()).await {
        Ok(_) => visitor.see_other(visitor.booking_page(&reference, &sent.token, Some("moved"))),
        Err(failure) => match failure.answer() {
            Answer::Conflict { code, .. } if SEAT_GONE.contains(&code) => {
                let booking = manage::show(store, reference, sent.token.clone()).await;
                match booking {
                    Ok(booking) => {
                        visitor.prefer(&booking.language);
                        let taken = Some(visitor.refusal(code, ""));
                        render_move(&visitor, &booking, &sent.token, None, None, taken).await
                    }
                    Err(failure) => visitor.failure(failure),
                }
            }
            other => visitor.answer(other),
        },
    }
}

/// Joins or leaves the waitlist for an earlier seat.
pub async fn waitlist(
    mut visitor: Visitor,
    reference: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let sent: ChangeForm = match visitor.genuine_form(&body) {
        Ok(sent) => sent,
        Err(refusal) => return visitor.refuse_form(refusal),
    };
    let reference = reference.into_inner();
    let (store, policy) = (&visitor.state().store, &visitor.state().booking_policy);
    let credentials = (reference.clone(), sent.token.clone());
    let done = if sent.action == "leave" {
        waitlist::leave(store, credentials, Utc::now())
            .await
            .map(|()| "left")
    } else {
        let mut errors = FieldErrors::new();
        let earliest = errors.check("earliest_day", Day::parse(sent.earliest_day.trim()));
        let latest = errors.check("latest_day", Day::parse(sent.latest_day.trim()));
        match (earliest, latest) {
            (Some(earliest_day), Some(latest_day)) => {
                let days = JoinRequest {
                    earliest_day,
                    latest_day,
                };
                waitlist::join(store, policy, credentials, days, Utc::now())
                    .await
                    .map(|_| "waiting")
            }
            _ => Err(crate::error::Error::Invalid(errors)),
        }
    };
    match done {
        Ok(done) => visitor.see_other(visitor.booking_page(&reference, &sent.token, Some(done))),
        Err(failure) => {
            let problems = match visitor.form_problems(failure.answer()) {
                Ok(problems) => problems,
                Err(other) => return visitor.answer(other),
            };
            let credentials = (reference, sent.token.clone());
            match waitlist::booking_with_place(store, policy, credentials).await {
                Ok((booking, place)) => {
                    visitor.prefer(&booking.language);
                    render_booking(&visitor, &booking, place, &sent.token, problems)
                }
                Err(failure) => visitor.failure(failure),
            }
        }
    }
}
