//! Answering an invitation from its link: the token stands for one booking of the invited
//! service for the invited case, so the applicant types no case number. They take the time
//! the office proposed (its held seat becomes theirs) or pick another (the held seat goes back).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    Booker, BookingError, BookingFailure, Policy,
    book::{Booked, Invited, NewVisit, book_in},
    manage::NO_TOKEN,
    slot_of_office,
    token::matches,
    views::BookingConfirmation,
};
use crate::{
    domain::{
        FieldErrors,
        booking::{CaseNumber, EventKind, Reference, parse_full_name},
        catalogue::pick,
        client::ClientAddress,
        email::EmailAddress,
        ids::SlotId,
        invitations::{InvitationState, check_answerable},
        language::Language,
        office::parse_phone,
    },
    error::Error,
    store::{
        DbConnection, Store, bookings,
        invitations::{self, Invitation},
        offices, seats, services, slots,
    },
    use_cases::invitations::{Change, ProposedSlot, proposed_slot, record, release_held_seat},
};

/// The invitation `reference`, if `token` is its token: a wrong reference and a wrong token
/// are told alike, after the same work.
fn invitation_with_token(
    conn: &mut DbConnection,
    reference: &str,
    token: &str,
) -> Result<Invitation, BookingError> {
    let found = match Reference::parse(reference) {
        Ok(reference) => invitations::find_by_reference(conn, reference.as_str())?,
        Err(_) => None,
    };
    let fingerprint = found
        .as_ref()
        .map_or(NO_TOKEN, |invitation| invitation.token_hash.as_str());
    let matched = matches(token, fingerprint);
    found
        .filter(|_| matched)
        .ok_or_else(|| BookingFailure::NoSuchInvitation.into())
}

/// An invitation, as the applicant holding its link sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationLanding {
    #[schema(example = "K7P3-Q9XD")]
    pub reference: String,
    #[schema(example = "RM")]
    pub office_code: String,
    pub office_name: String,
    /// The appointment type.
    #[schema(example = "work_permit_signing")]
    pub service: String,
    /// The appointment type's name in the invitation's language.
    pub service_name: String,
    /// What to bring, in the invitation's language.
    pub documents: Vec<String>,
    pub case_number: String,
    pub state: InvitationState,
    /// Until when it may be booked with.
    pub deadline: DateTime<Utc>,
    pub language: String,
    pub full_name: Option<String>,
    /// The time the office proposes, while its seat is held.
    pub proposed_slot: Option<ProposedSlot>,
    /// The booking made through it.
    pub booking_reference: Option<String>,
}

/// The invitation, to the applicant holding its link.
pub async fn show(
    store: &Store,
    reference: String,
    token: String,
) -> Result<InvitationLanding, BookingError> {
    store
        .read(move |conn| {
            let invitation = invitation_with_token(conn, &reference, &token)?;
            let office = offices::find_by_id(conn, invitation.office_id)?
                .ok_or(BookingFailure::Gone("office"))?;
            let service = services::find_by_id(conn, office.id, invitation.office_service_id)?
                .ok_or(BookingFailure::Gone("service"))?;
            let proposed = match (invitation.holds_seat, invitation.proposed_slot_id) {
                (true, Some(id)) => slots::find(conn, office.id, id)?,
                _ => None,
            };
            let booking = match invitation.booking_id {
                Some(id) => bookings::find(conn, office.id, id)?,
                None => None,
            };
            let language = invitation.language.as_str();
            let texts = &service.appointment_type.texts;
            Ok(InvitationLanding {
                reference: invitation.reference.clone(),
                office_code: office.code.to_string(),
                office_name: office.details.name.clone(),
                service: service.appointment_type.code.to_string(),
                service_name: pick(&texts.names, language).cloned().unwrap_or_default(),
                documents: pick(&texts.documents, language)
                    .cloned()
                    .unwrap_or_default(),
                case_number: invitation.case_number.clone(),
                state: InvitationState::of(invitation.status, booking.as_ref().map(|b| b.status)),
                deadline: invitation.deadline,
                language: invitation.language.clone(),
                full_name: invitation.full_name.clone(),
                proposed_slot: proposed.map(|slot| ProposedSlot {
                    slot_id: slot.id,
                    starts_at: slot.time.starts_at,
                    ends_at: slot.time.ends_at,
                    held: true,
                }),
                booking_reference: booking.map(|b| b.reference.to_string()),
            })
        })
        .await
}

/// Booking through an invitation. Everything the invitation knows may be left out.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationBookingRequest {
    /// The time to book: absent, the one the office proposed.
    #[schema(value_type = Option<i64>)]
    pub slot_id: Option<SlotId>,
    /// As on the passport; required when the invitation does not name the applicant.
    #[schema(schema_with = crate::domain::schema::optional_full_name)]
    pub full_name: Option<String>,
    /// Where the confirmation goes; absent: where the invitation went.
    #[schema(schema_with = crate::domain::schema::optional_email)]
    pub email: Option<String>,
    #[schema(schema_with = crate::domain::schema::optional_phone)]
    pub phone: Option<String>,
    /// The confirmation's language; absent: the invitation's.
    #[schema(schema_with = crate::domain::schema::optional_supported_language)]
    pub language: Option<String>,
}

/// An answer to an invitation, every field checked.
pub struct Answer {
    pub slot_id: Option<SlotId>,
    pub full_name: Option<String>,
    pub email: Option<EmailAddress>,
    pub phone: Option<String>,
    pub language: Option<Language>,
}

impl InvitationBookingRequest {
    pub fn parse(&self) -> Result<Answer, FieldErrors> {
        let mut errors = FieldErrors::new();
        let full_name =
            errors.check_optional("full_name", self.full_name.as_deref(), parse_full_name);
        let email = errors.check_optional("email", self.email.as_deref(), EmailAddress::parse);
        let phone = self
            .phone
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .and_then(|p| errors.check("phone", parse_phone(p)));
        let language = errors.check_optional(
            "language",
            self.language.as_deref(),
            Language::parse_supported,
        );
        errors.or_value(Answer {
            slot_id: self.slot_id,
            full_name,
            email,
            phone,
            language,
        })
    }
}

/// Books the invited service for the invited case, once: the invitation is then used, a seat
/// its proposal held elsewhere goes back, and the case system hears `invitation.booked`
/// besides `booking.confirmed`. Refused once the invitation is used, cancelled or past its
/// deadline.
pub async fn book(
    store: &Store,
    policy: &Policy,
    from: ClientAddress,
    reference: String,
    token: String,
    answer: Answer,
    now: DateTime<Utc>,
) -> Result<Booked, BookingError> {
    let policy = policy.clone();
    store
        .write(move |conn| {
            let invitation = invitation_with_token(conn, &reference, &token)?;
            check_answerable(invitation.status, invitation.deadline, now)?;
            let office = offices::find_by_id(conn, invitation.office_id)?
                .ok_or(BookingFailure::Gone("office"))?;
            let service = services::find_by_id(conn, office.id, invitation.office_service_id)?
                .ok_or(BookingFailure::Gone("service"))?;
            let held_slot = invitation
                .proposed_slot_id
                .filter(|_| invitation.holds_seat);
            let visit = visit_of(
                &invitation,
                &service.appointment_type.code,
                held_slot,
                answer,
            )?;
            // The chosen slot must be the invited service's, named as the applicant sent it.
            let slot = slot_of_office(conn, office.id, visit.slot_id)?;
            let serves = services::serving(conn, office.id, slot.calendar_id)?
                .iter()
                .any(|serving| serving.id == service.id);
            if !serves {
                let message = "is not a time for the appointment you were invited to";
                return Err(FieldErrors::single("slot_id", message).into());
            }
            // Both slots whose seats may change, in id order (see `seats::lock_slots`).
            let mut touched: Vec<SlotId> = held_slot.into_iter().chain([slot.id]).collect();
            touched.sort_unstable();
            touched.dedup();
            seats::lock_slots(conn, office.id, &touched)?;

            let booker = Booker::Applicant { from, via: None };
            let made = book_in(conn, &office, &booker, &visit, None, &policy, now)?;
            let booking = &made.details.booking;
            invitations::mark_booked(conn, office.id, invitation.id, booking.id, now)?
                .ok_or(crate::domain::booking::Refusal::InvitationUsed)?;
            if held_slot != Some(slot.id) {
                release_held_seat(conn, &invitation, &policy, now)?;
            }
            let change = Change {
                kind: EventKind::InvitationBooked,
                author: None,
                booking_reference: Some(booking.reference.to_string()),
            };
            let proposed = proposed_slot(conn, &invitation)?;
            let code = &service.appointment_type.code;
            record(conn, &invitation, code, proposed.as_ref(), change, now)?;
            Ok(Booked {
                confirmation: BookingConfirmation::new(&made.details, made.manage_token),
                replayed: false,
            })
        })
        .await
}

/// The booking an answer asks for, completed from the invitation.
fn visit_of(
    invitation: &Invitation,
    service: &crate::domain::catalogue::TypeCode,
    held_slot: Option<SlotId>,
    answer: Answer,
) -> Result<NewVisit, BookingError> {
    let mut errors = FieldErrors::new();
    let slot_id = answer.slot_id.or(held_slot);
    if slot_id.is_none() {
        errors.add(
            "slot_id",
            "is required: choose a time from the availability",
        );
    }
    let full_name = answer.full_name.or_else(|| invitation.full_name.clone());
    if full_name.is_none() {
        errors.add("full_name", "is required: as on your passport");
    }
    let stored = |what: &str| Error::vanished(format!("the invitation's {what}"));
    let email = match answer.email {
        Some(email) => email,
        None => EmailAddress::parse(&invitation.email).map_err(|_| stored("email"))?,
    };
    let language = match answer.language {
        Some(language) => language,
        None => Language::parse_supported(&invitation.language).map_err(|_| stored("language"))?,
    };
    let case_number =
        CaseNumber::parse(&invitation.case_number).map_err(|_| stored("case number"))?;
    match (slot_id, full_name) {
        (Some(slot_id), Some(full_name)) if errors.is_empty() => Ok(NewVisit {
            slot_id,
            service: Some(service.clone()),
            case_number,
            full_name,
            email: Some(email),
            phone: answer.phone,
            language,
            secret: None,
            case_proven: false,
            proof_of_work: None,
            invited: Some(Invited { held_slot }),
            drawn: false,
            held_seat: None,
        }),
        _ => Err(errors.into()),
    }
}
