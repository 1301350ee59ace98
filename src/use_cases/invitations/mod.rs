//! Invitations to book (convocazioni): the case system or the office's staff summon a case to
//! book one visit of a service before a deadline, one at a time or thousands at once. Each
//! invitation is a mail whose link books without the case number (see
//! [`bookings::invited`](super::bookings::invited)); it may propose a slot, whose seat is held
//! until the applicant answers. Housekeeping sends the one reminder and expires what the
//! deadline leaves unanswered, giving the held seat back.
//!
//! Here: sending one invitation and what every change shares; [`batch`]: thousands at once;
//! [`manage`]: listing, cancelling, extending and housekeeping.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    audit::Audit,
    bookings::{
        Policy,
        token::{self, TokenKey, fingerprint},
    },
    events,
    scope::{Need, caller_office},
};
use crate::{
    domain::{
        FieldErrors,
        audit::Action,
        booking::{CaseNumber, Channel, EventKind, Reference, Refusal, parse_full_name},
        catalogue::TypeCode,
        days::{Day, end_of_day},
        email::EmailAddress,
        ids::{InvitationId, SlotId},
        integration::{Author, Caller},
        invitations::{InvitationState, check_deadline, check_proposal, reminder_due},
        language::Language,
        mail::MessageKind,
        office::OfficeCode,
    },
    error::{Answer, Error, Explain, Failure},
    store::{
        DbConnection, Store,
        events::NewEvent,
        invitations::{self, Invitation, NewInvitation},
        offices::Office,
        outbox, registered_cases, seats,
        services::{self, OfficeService},
        slots::{self, Slot},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum InvitationFailure {
    #[error("the office has no invitation with this reference")]
    NoSuchInvitation,
    /// The invitation is no longer open (or a proposed slot is full).
    #[error("{}", .0.message())]
    Refused(Refusal),
}

impl Explain for InvitationFailure {
    fn answer(self) -> Answer {
        match self {
            InvitationFailure::NoSuchInvitation => {
                Answer::NotFound("The office has no invitation with this reference.".into())
            }
            InvitationFailure::Refused(refusal) => Answer::Conflict {
                code: refusal.code(),
                detail: refusal.message(),
            },
        }
    }
}

impl Failure for InvitationFailure {}

pub type InvitationError = Error<InvitationFailure>;

impl From<Refusal> for InvitationError {
    fn from(refusal: Refusal) -> InvitationError {
        Error::Feature(InvitationFailure::Refused(refusal))
    }
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationRequest {
    #[schema(schema_with = crate::domain::schema::case_number)]
    pub case_number: String,
    /// The appointment type the case is invited to book (usually one with `eligibility:
    /// invitation`).
    #[schema(schema_with = crate::domain::schema::type_code)]
    pub service: String,
    /// The last day (office time) the applicant may book through the invitation.
    #[schema(value_type = NaiveDate)]
    pub deadline: String,
    /// Where the invitation goes; absent: the registered case's email.
    #[schema(schema_with = crate::domain::schema::optional_email)]
    pub email: Option<String>,
    /// The mail's language; absent: the registered case's, else Italian.
    #[schema(schema_with = crate::domain::schema::optional_supported_language)]
    pub language: Option<String>,
    /// The applicant's name, when the case system knows it; else they type it when booking.
    #[schema(schema_with = crate::domain::schema::optional_full_name)]
    pub full_name: Option<String>,
    /// A slot the office proposes (as the registered letter did); its seat is held until the
    /// applicant books, or the deadline passes. It must start after the deadline.
    #[schema(value_type = Option<i64>)]
    pub proposed_slot_id: Option<SlotId>,
}

/// An invitation request, every field checked.
#[derive(Clone)]
pub struct NewInvitationSpec {
    pub case_number: CaseNumber,
    pub service: TypeCode,
    pub deadline: NaiveDate,
    pub email: Option<EmailAddress>,
    pub language: Option<Language>,
    pub full_name: Option<String>,
    pub proposed_slot_id: Option<SlotId>,
}

impl InvitationRequest {
    pub fn parse(&self) -> Result<NewInvitationSpec, FieldErrors> {
        let mut errors = FieldErrors::new();
        let case_number = errors.check("case_number", CaseNumber::parse(&self.case_number));
        let service = errors.check("service", TypeCode::parse(&self.service));
        let deadline = errors.check("deadline", Day::parse(&self.deadline));
        let email = errors.check_optional("email", self.email.as_deref(), EmailAddress::parse);
        let language = errors.check_optional(
            "language",
            self.language.as_deref(),
            Language::parse_supported,
        );
        let full_name =
            errors.check_optional("full_name", self.full_name.as_deref(), parse_full_name);
        match (case_number, service, deadline) {
            (Some(case_number), Some(service), Some(deadline)) if errors.is_empty() => {
                Ok(NewInvitationSpec {
                    case_number,
                    service,
                    deadline: deadline.get(),
                    email,
                    language,
                    full_name,
                    proposed_slot_id: self.proposed_slot_id,
                })
            }
            _ => Err(errors),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposedSlot {
    #[schema(value_type = i64)]
    pub slot_id: SlotId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Whether its seat is still held for the invitation (until booked, expired or
    /// cancelled).
    pub held: bool,
}

/// An invitation as staff and the case system see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvitationView {
    /// For paging (`before`).
    #[schema(value_type = i64)]
    pub id: InvitationId,
    #[schema(example = "K7P3-Q9XD")]
    pub reference: String,
    #[schema(example = "RM/2026/001234")]
    pub case_number: String,
    /// The appointment type.
    #[schema(example = "work_permit_signing")]
    pub service: String,
    pub state: InvitationState,
    /// Until when the applicant may book through it.
    pub deadline: DateTime<Utc>,
    pub email: String,
    pub language: String,
    pub full_name: Option<String>,
    pub proposed_slot: Option<ProposedSlot>,
    /// The booking made through it.
    pub booking_reference: Option<String>,
    /// When its one reminder was queued.
    pub reminded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// An invitation as the audit log records it: what was done to which invitation, never to
/// whom (the invitation holds that, and an erasure reaches it).
#[derive(Serialize)]
pub struct InvitationAudit<'a> {
    pub reference: &'a str,
    pub service: &'a str,
    pub state: InvitationState,
    pub deadline: DateTime<Utc>,
    pub proposed_slot: Option<&'a ProposedSlot>,
    pub booking_reference: Option<&'a str>,
    pub reminded_at: Option<DateTime<Utc>>,
}

impl InvitationView {
    /// This invitation as the audit log records it.
    pub fn audited(&self) -> InvitationAudit<'_> {
        InvitationAudit {
            reference: &self.reference,
            service: &self.service,
            state: self.state,
            deadline: self.deadline,
            proposed_slot: self.proposed_slot.as_ref(),
            booking_reference: self.booking_reference.as_deref(),
            reminded_at: self.reminded_at,
        }
    }

    fn new(
        invitation: &Invitation,
        service: &TypeCode,
        proposed: Option<&Slot>,
        booking: Option<&(String, crate::domain::booking::Status)>,
    ) -> InvitationView {
        InvitationView {
            id: invitation.id,
            reference: invitation.reference.clone(),
            case_number: invitation.case_number.clone(),
            service: service.to_string(),
            state: InvitationState::of(invitation.status, booking.map(|(_, status)| *status)),
            deadline: invitation.deadline,
            email: invitation.email.clone(),
            language: invitation.language.clone(),
            full_name: invitation.full_name.clone(),
            proposed_slot: proposed.map(|slot| ProposedSlot {
                slot_id: slot.id,
                starts_at: slot.time.starts_at,
                ends_at: slot.time.ends_at,
                held: invitation.holds_seat,
            }),
            booking_reference: booking.map(|(reference, _)| reference.clone()),
            reminded_at: invitation.reminded_at,
            created_at: invitation.created_at,
        }
    }
}

/// An invitation sent, or the open one the case already had.
pub struct Invited {
    pub invitation: InvitationView,
    pub created: bool,
}

/// Invites one case. Inviting a case that has an open invitation to the service answers with
/// that one and sends nothing. For integration clients and the office's staff.
pub async fn invite(
    store: &Store,
    policy: &Policy,
    caller: Caller,
    code: OfficeCode,
    spec: NewInvitationSpec,
    now: DateTime<Utc>,
) -> Result<Invited, InvitationError> {
    let policy = policy.clone();
    store
        .write(move |conn| {
            let office = caller_office(conn, &caller, &code, Need::Read)?;
            let author = Author::from(&caller);
            let (invitation, created) = invite_in(conn, &office, author, &spec, &policy, now)?;
            let view = view_of(conn, &invitation)?;
            if created {
                let audit = Audit::by(&caller, now);
                let action = Action::InvitationCreate;
                audit.created(
                    conn,
                    Some(office.id),
                    action,
                    &view.reference,
                    &view.audited(),
                )?;
            }
            Ok(Invited {
                invitation: view,
                created,
            })
        })
        .await
}

/// Invites in the caller's transaction: the invitation, the held seat of its proposal, its
/// event and its mail, or (rolled back) none of it. Returns the open invitation the case had
/// instead, when it had one.
fn invite_in(
    conn: &mut DbConnection,
    office: &Office,
    author: Author,
    spec: &NewInvitationSpec,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(Invitation, bool), InvitationError> {
    let service = offered_service(conn, office, &spec.service)?;
    let deadline = end_of_day(office.details.timezone, spec.deadline);
    check_deadline(deadline, now).map_err(|e| FieldErrors::single("deadline", e.message()))?;
    if let Some(open) =
        invitations::find_open(conn, (service.office_id, service.id), &spec.case_number)?
    {
        return Ok((open, false));
    }
    let case = registered_cases::find(conn, office.id, spec.case_number.as_str())?;
    let email = match (&spec.email, case.as_ref().and_then(|c| c.email.as_deref())) {
        (Some(email), _) => email.clone(),
        (None, Some(registered)) => EmailAddress::parse(registered)
            .map_err(|e| FieldErrors::single("email", e.message()))?,
        (None, None) => {
            let message = "is required: the office has no email registered for this case";
            return Err(FieldErrors::single("email", message).into());
        }
    };
    let language = match (&spec.language, &case) {
        (Some(language), _) => language.clone(),
        (None, Some(case)) => {
            Language::parse_supported(&case.language).unwrap_or_else(|_| Language::italian())
        }
        (None, None) => Language::italian(),
    };
    let proposed = match spec.proposed_slot_id {
        Some(slot_id) => Some(hold_proposed_seat(
            conn, office, &service, slot_id, deadline,
        )?),
        None => None,
    };
    let reference = unused_reference(conn)?;
    let salt = TokenKey::new_salt();
    let token_hash = fingerprint(&policy.tokens.token(&salt));
    let new = NewInvitation {
        office_id: office.id,
        office_service_id: service.id,
        reference: reference.as_str(),
        token_salt: &salt,
        token_hash: &token_hash,
        case_number: &spec.case_number,
        full_name: spec.full_name.as_deref(),
        email: &email,
        language: &language,
        deadline,
        proposed_slot_id: proposed.as_ref().map(|slot| slot.id),
        remind_at: reminder_due(now, deadline, policy.invitation_reminder),
        created_by: author.staff_id(),
        client_id: author.client_id(),
    };
    // The partial unique index settles a race between two invitations of one case.
    let invitation =
        invitations::insert(conn, new, now).map_err(
            |e| match crate::store::is_unique_violation(&e) {
                true => Error::vanished("an invitation sent at the same moment"),
                false => InvitationError::from(e),
            },
        )?;
    let change = Change {
        kind: EventKind::InvitationSent,
        author: Some(author),
        booking_reference: None,
    };
    let code = &service.appointment_type.code;
    record(conn, &invitation, code, proposed.as_ref(), change, now)?;
    let about = about(&invitation, invitation.sequence);
    outbox::enqueue(conn, about, MessageKind::Invitation, now)?;
    Ok((invitation, true))
}

/// The office's service for `code`, if it offers it.
fn offered_service(
    conn: &mut DbConnection,
    office: &Office,
    code: &TypeCode,
) -> Result<OfficeService, InvitationError> {
    services::list(conn, office.id)?
        .into_iter()
        .find(|service| service.appointment_type.code == *code && service.active)
        .ok_or_else(|| FieldErrors::single("service", "is not offered by this office").into())
}

/// Takes a seat of the proposed slot for the invitation (counted among the desk's seats: the
/// office assigns it, as at the desk).
fn hold_proposed_seat(
    conn: &mut DbConnection,
    office: &Office,
    service: &OfficeService,
    slot_id: SlotId,
    deadline: DateTime<Utc>,
) -> Result<Slot, InvitationError> {
    let invalid = |message: &str| FieldErrors::single("proposed_slot_id", message);
    let slot = slots::find(conn, office.id, slot_id)?
        .ok_or_else(|| invalid("is not a slot of this office"))?;
    let serves = services::serving(conn, office.id, slot.calendar_id)?
        .iter()
        .any(|serving| serving.id == service.id);
    if !serves {
        return Err(invalid("is not a time for this service").into());
    }
    check_proposal(slot.time.starts_at, deadline).map_err(|e| invalid(e.message()))?;
    seats::lock_slots(conn, office.id, &[slot.id])?;
    if slot.blocked || !seats::claim_seat(conn, office.id, slot.id, Channel::Desk)? {
        return Err(Refusal::SlotFull.into());
    }
    Ok(slot)
}

/// Gives back the seat an invitation's proposal held, to cool down before the web can book it
/// (as a cancelled seat does).
pub(crate) fn release_held_seat<F>(
    conn: &mut DbConnection,
    invitation: &Invitation,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(), Error<F>> {
    if let (true, Some(slot_id)) = (invitation.holds_seat, invitation.proposed_slot_id) {
        seats::lock_slots(conn, invitation.office_id, &[slot_id])?;
        seats::release_seat(
            conn,
            invitation.office_id,
            slot_id,
            Channel::Desk,
            None,
            policy.cooldown,
            now,
        )?;
    }
    Ok(())
}

fn unused_reference(conn: &mut DbConnection) -> Result<Reference, InvitationError> {
    // 32^8 references: a clash is rare, five in a row a bug.
    for _ in 0..5 {
        let reference = Reference::from_random(token::reference_bytes());
        if !invitations::reference_taken(conn, reference.as_str())? {
            return Ok(reference);
        }
    }
    Err(Error::internal(anyhow::anyhow!(
        "no unused invitation reference found"
    )))
}

/// The outbox's view of an invitation, at `sequence`.
fn about(invitation: &Invitation, sequence: i32) -> outbox::About<'_> {
    outbox::About {
        office_id: invitation.office_id,
        subject: outbox::Subject::Invitation(invitation.id),
        reference: &invitation.reference,
        email: Some(&invitation.email),
        sequence,
    }
}

/// What an invitation event says: the invitation as the change left it.
#[derive(Serialize, ToSchema)]
pub struct InvitationEventData {
    #[schema(example = "K7P3-Q9XD")]
    pub reference: String,
    #[schema(example = "RM/2026/000123")]
    pub case_number: String,
    /// The appointment type.
    #[schema(example = "work_permit_signing")]
    pub service: String,
    pub deadline: DateTime<Utc>,
    /// When the proposed visit starts, if the office proposed one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed_starts_at: Option<DateTime<Utc>>,
    /// For `invitation.booked`: the booking made through it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_reference: Option<String>,
}

/// A change to publish: what happened, who did it (none: the applicant or the housekeeper).
pub(crate) struct Change {
    pub kind: EventKind,
    pub author: Option<Author>,
    pub booking_reference: Option<String>,
}

/// Publishes what a change did to the invitation (as `invitation` says it is now).
pub(crate) fn record<F>(
    conn: &mut DbConnection,
    invitation: &Invitation,
    service: &TypeCode,
    proposed: Option<&Slot>,
    change: Change,
    now: DateTime<Utc>,
) -> Result<(), Error<F>> {
    let data = InvitationEventData {
        reference: invitation.reference.clone(),
        case_number: invitation.case_number.clone(),
        service: service.to_string(),
        deadline: invitation.deadline,
        proposed_starts_at: proposed.map(|slot| slot.time.starts_at),
        booking_reference: change.booking_reference,
    };
    let data = serde_json::to_value(&data).map_err(Error::internal)?;
    let event = NewEvent {
        office_id: invitation.office_id,
        booking_id: None,
        kind: change.kind,
        detail: None,
        actor_id: change.author.and_then(Author::staff_id),
        client_id: change.author.and_then(Author::client_id),
        data: &data,
    };
    events::publish(conn, event, now)?;
    Ok(())
}

/// The slot the invitation proposed, if it proposed one (held or no longer).
pub(crate) fn proposed_slot(
    conn: &mut DbConnection,
    invitation: &Invitation,
) -> diesel::QueryResult<Option<Slot>> {
    match invitation.proposed_slot_id {
        Some(id) => slots::find(conn, invitation.office_id, id),
        None => Ok(None),
    }
}

/// The invitation's view, read with its service, proposed slot and booking.
fn view_of(
    conn: &mut DbConnection,
    invitation: &Invitation,
) -> Result<InvitationView, InvitationError> {
    let service =
        services::find_by_id(conn, invitation.office_id, invitation.office_service_id)?
            .ok_or_else(|| Error::vanished(format!("service {}", invitation.office_service_id)))?;
    let proposed = proposed_slot(conn, invitation)?;
    let booking = match invitation.booking_id {
        Some(id) => crate::store::bookings::find(conn, invitation.office_id, id)?
            .map(|booking| (booking.reference.to_string(), booking.status)),
        None => None,
    };
    let code = &service.appointment_type.code;
    Ok(InvitationView::new(
        invitation,
        code,
        proposed.as_ref(),
        booking.as_ref(),
    ))
}

mod batch;
mod manage;

pub use batch::{BatchFailure, BatchReport, InvitationBatchRequest, MOST_PER_BATCH, invite_many};

pub use manage::{
    ExtendRequest, InvitationQuery, Letter, Tidied, cancel, extend, letter, list, tidy,
};
