//! Where an invitation's mail leads: the invited service, the deadline, the time the office
//! proposes, and booking it (or another time of the service) in one step.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use chrono_tz::Tz;
use minijinja::context;
use serde::Deserialize;

use super::page::{Problems, Visitor, given, view};
use crate::{
    domain::{FieldErrors, Parsed, days::Day, ids::SlotId, office::OfficeCode, time::local},
    error::{Answer, Explain},
    http::client::ClientAddress,
    use_cases::{
        availability::{self, AvailabilityQuery},
        bookings::invited::{self, InvitationBookingRequest, InvitationLanding},
    },
};

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct InvitationForm {
    token: String,
    /// The time chosen; empty: the one the office proposed.
    slot: String,
    full_name: String,
    phone: String,
}

/// The invitation, with the form to book it.
pub async fn show(mut visitor: Visitor, reference: web::Path<String>) -> HttpResponse {
    let token = visitor.query("token").unwrap_or_default().to_owned();
    let store = &visitor.state().store;
    match invited::show(store, reference.into_inner(), token.clone()).await {
        Ok(landing) => {
            visitor.prefer(&landing.language);
            let sent = InvitationForm {
                token,
                full_name: landing.full_name.clone().unwrap_or_default(),
                ..InvitationForm::default()
            };
            render(&visitor, &landing, &sent, Problems::default()).await
        }
        Err(failure) => visitor.failure(failure),
    }
}

async fn render(
    visitor: &Visitor,
    landing: &InvitationLanding,
    sent: &InvitationForm,
    problems: Problems,
) -> HttpResponse {
    // Other times of the service, when the applicant asks for them (or none is proposed).
    let choosing = visitor.query("choose").is_some()
        || !landing.proposed_slot.as_ref().is_some_and(|slot| slot.held);
    let mut unreadable = FieldErrors::new();
    let from = visitor
        .query("from")
        .and_then(|day| unreadable.check("from", Day::parse(day)));
    let to =
        super::booking::two_weeks_from(visitor.query("from")).and_then(|day| Day::parse(&day).ok());
    let query = Parsed {
        value: AvailabilityQuery {
            service: landing.service.clone(),
            from,
            to,
        },
        unreadable,
    };
    let Ok(office) = OfficeCode::parse(&landing.office_code) else {
        return visitor.answer(Answer::NotFound(String::new()));
    };
    let store = &visitor.state().store;
    let times = match availability::service_times(store, office, query, Utc::now()).await {
        Ok(times) => times,
        Err(failure) => return visitor.failure(failure),
    };
    let zone: Tz = times
        .office
        .timezone
        .parse()
        .unwrap_or(chrono_tz::Europe::Rome);
    let proposed = landing
        .proposed_slot
        .as_ref()
        .filter(|slot| slot.held)
        .map(|slot| {
            context! {
                id => slot.slot_id.to_string(),
                starts_at => view(&local(slot.starts_at, zone)),
                ends_at => view(&local(slot.ends_at, zone)),
            }
        });
    let next_from = times
        .availability
        .days
        .last()
        .and_then(|day| day.date.succ_opt());
    let status = problems.status();
    visitor.render_as(
        status,
        "invitation.html",
        context! {
            invitation => view(landing),
            // The deadline is the end of the last day one may book: that day is what to say.
            last_day => view(&local(landing.deadline - chrono::Duration::seconds(1), zone)),
            open => landing.state == crate::domain::invitations::InvitationState::Sent,
            office => view(&times.office),
            proposed,
            days => choosing.then(|| view(&times.availability.days)),
            next_from => view(&next_from),
            form => context! {
                token => &sent.token,
                full_name => &sent.full_name,
                phone => &sent.phone,
                slot => &sent.slot,
            },
            problems => view(&problems),
        },
    )
}

/// Books through the invitation, as `POST /api/v1/invitations/{reference}/booking` does, then
/// on to the booking's page.
pub async fn book(
    mut visitor: Visitor,
    reference: web::Path<String>,
    from: ClientAddress,
    body: web::Bytes,
) -> HttpResponse {
    let sent: InvitationForm = match visitor.genuine_form(&body) {
        Ok(sent) => sent,
        Err(refusal) => return visitor.refuse_form(refusal),
    };
    let reference = reference.into_inner();
    let request = InvitationBookingRequest {
        slot_id: sent.slot.trim().parse().ok().map(SlotId::new),
        full_name: given(&sent.full_name),
        email: None,
        phone: given(&sent.phone),
        language: None,
    };
    let booked = match request.parse() {
        Ok(reply) => {
            let (store, policy) = (&visitor.state().store, &visitor.state().booking_policy);
            let token = sent.token.clone();
            invited::book(
                store,
                policy,
                from,
                reference.clone(),
                token,
                reply,
                Utc::now(),
            )
            .await
            .map_err(Explain::answer)
        }
        Err(errors) => Err(Answer::Invalid(errors)),
    };
    let problems = match booked {
        Ok(booked) => {
            let booked = booked.confirmation;
            let (reference, token) = (&booked.reference, &booked.manage_token);
            return visitor.see_other(visitor.booking_page(reference, token, Some("booked")));
        }
        Err(answer) => match visitor.form_problems(answer) {
            Ok(problems) => problems,
            Err(other) => return visitor.answer(other),
        },
    };
    let store = &visitor.state().store;
    match invited::show(store, reference, sent.token.clone()).await {
        Ok(landing) => {
            visitor.prefer(&landing.language);
            render(&visitor, &landing, &sent, problems).await
        }
        Err(failure) => visitor.failure(failure),
    }
}
