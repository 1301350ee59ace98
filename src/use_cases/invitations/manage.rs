//! Staff and the case system at work on invitations already sent: listing them by state,
//! withdrawing or extending one; and the housekeeping that reminds and expires them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    Change, InvitationError, InvitationFailure, InvitationView, about, proposed_slot, record,
    release_held_seat, view_of,
};
use crate::{
    domain::{
        FieldErrors, Named, Parsed,
        audit::Action,
        booking::{CaseNumber, EventKind, Reference, Refusal},
        days::{Day, end_of_day},
        ids::{InvitationId, OfficeId},
        integration::{Author, Caller},
        invitations::{
            InvitationState, InvitationStatus, check_answerable, check_deadline, check_proposal,
            reminder_due,
        },
        mail::MessageKind,
        office::OfficeCode,
    },
    error::Error,
    store::{
        DbConnection, Store, StoreError,
        invitations::{self, Filter, Invitation},
        offices::{self, Office},
        outbox,
        services::{self, OfficeService},
        slots::{self, Slot},
    },
    use_cases::{
        audit::Audit,
        bookings::Policy,
        scope::{Need, caller_office},
    },
};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvitationQuery {
    /// sent, booked, attended, no_show, expired or cancelled
    #[param(value_type = Option<InvitationState>)]
    pub state: Option<String>,
    /// One case's invitations.
    #[param(value_type = Option<crate::domain::schema::CaseNumberText>)]
    pub case_number: Option<String>,
    /// Only invitations with an id below this (the next page after the last `id` seen).
    #[param(minimum = 1)]
    pub before: Option<i64>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// The office's invitations, newest first, by state or case.
pub async fn list(
    store: &Store,
    caller: Caller,
    code: OfficeCode,
    query: Parsed<InvitationQuery>,
) -> Result<Vec<InvitationView>, InvitationError> {
    let (query, mut errors) = query.into_parts();
    let state = errors.check_optional("state", query.state.as_deref(), InvitationState::parse);
    let case_number = errors.check_optional(
        "case_number",
        query.case_number.as_deref(),
        CaseNumber::parse,
    );
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        errors.add("limit", "must be a whole number from 1 to 1000");
    }
    if query.before.is_some_and(|before| before < 1) {
        errors.add("before", "must be an invitation id (1 or more)");
    }
    errors.or_value(())?;
    store
        .read(move |conn| {
            let office = caller_office(conn, &caller, &code, Need::Read)?;
            let filter = Filter {
                state,
                case_number: case_number.as_ref(),
                before: query.before.map(InvitationId::new),
                limit,
            };
            let listed = invitations::list(conn, office.id, filter)?;
            let services = services::list(conn, office.id)?;
            listed
                .iter()
                .map(|(invitation, booking)| {
                    let service = services
                        .iter()
                        .find(|service| service.id == invitation.office_service_id)
                        .ok_or_else(|| Error::vanished("an invitation's service"))?;
                    let proposed = proposed_slot(conn, invitation)?;
                    let code = &service.appointment_type.code;
                    Ok(InvitationView::new(
                        invitation,
                        code,
                        proposed.as_ref(),
                        booking.as_ref(),
                    ))
                })
                .collect()
        })
        .await
}

/// The open invitation `reference` of the office, for a change by staff or the case system.
fn open_invitation_of(
    conn: &mut DbConnection,
    office: &Office,
    reference: &Reference,
    now: DateTime<Utc>,
) -> Result<Invitation, InvitationError> {
    let invitation = invitations::find_by_reference(conn, reference.as_str())?
        .filter(|invitation| invitation.office_id == office.id)
        .ok_or(InvitationFailure::NoSuchInvitation)?;
    check_answerable(invitation.status, invitation.deadline, now)?;
    Ok(invitation)
}

/// Withdraws an open invitation: its link no longer books, and a seat its proposal held goes
/// back (to cool down first).
pub async fn cancel(
    store: &Store,
    policy: &Policy,
    caller: Caller,
    code: OfficeCode,
    reference: Reference,
    now: DateTime<Utc>,
) -> Result<InvitationView, InvitationError> {
    let policy = policy.clone();
    let author = Author::from(&caller);
    let action = Action::InvitationCancel;
    change_open(
        store,
        caller,
        code,
        reference,
        action,
        now,
        move |conn, _, invitation| {
            let cancelled = InvitationStatus::Cancelled;
            match close(conn, invitation, cancelled, Some(author), &policy, now)? {
                true => Ok(()),
                false => Err(Refusal::InvitationUsed.into()),
            }
        },
    )
    .await
}

/// Changes an open invitation of the office in one transaction, with `change`, and audits it
/// as `action` with the invitation before and after.
async fn change_open<C>(
    store: &Store,
    caller: Caller,
    code: OfficeCode,
    reference: Reference,
    action: Action,
    now: DateTime<Utc>,
    change: C,
) -> Result<InvitationView, InvitationError>
where
    C: FnOnce(&mut DbConnection, &Office, &Invitation) -> Result<(), InvitationError>
        + Send
        + 'static,
{
    store
        .write(move |conn| {
            let office = caller_office(conn, &caller, &code, Need::Read)?;
            let invitation = open_invitation_of(conn, &office, &reference, now)?;
            let before = view_of(conn, &invitation)?;
            change(conn, &office, &invitation)?;
            let changed = invitations::find(conn, invitation.office_id, invitation.id)?
                .ok_or_else(|| Error::vanished("the invitation"))?;
            let after = view_of(conn, &changed)?;
            let (office_id, entity) = (Some(office.id), &after.reference);
            let (was, is) = (before.audited(), after.audited());
            Audit::by(&caller, now).changed(conn, office_id, action, entity, &was, &is)?;
            Ok(after)
        })
        .await
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    /// The new last day (office time) to book through the invitation.
    #[schema(value_type = NaiveDate)]
    pub deadline: String,
}

impl ExtendRequest {
    pub fn parse(&self) -> Result<NaiveDate, FieldErrors> {
        Day::parse(&self.deadline)
            .map(Day::get)
            .map_err(|e| FieldErrors::single("deadline", e.message()))
    }
}

/// Moves an open invitation's deadline (later, or earlier while still ahead and before a
/// proposed visit). The applicant's one reminder comes before the new deadline if it has not
/// gone yet.
pub async fn extend(
    store: &Store,
    policy: &Policy,
    caller: Caller,
    code: OfficeCode,
    reference: Reference,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<InvitationView, InvitationError> {
    let lead = policy.invitation_reminder;
    let author = Author::from(&caller);
    let action = Action::InvitationExtend;
    change_open(
        store,
        caller,
        code,
        reference,
        action,
        now,
        move |conn, office, invitation| {
            let deadline = end_of_day(office.details.timezone, day);
            let invalid = |e: crate::domain::Invalid| FieldErrors::single("deadline", e.message());
            check_deadline(deadline, now).map_err(invalid)?;
            let proposed = proposed_slot(conn, invitation)?;
            if let Some(slot) = &proposed {
                check_proposal(slot.time.starts_at, deadline).map_err(|_| {
                    FieldErrors::single("deadline", "must be before the proposed visit's day")
                })?;
            }
            let remind_at = reminder_due(now, deadline, lead);
            invitations::extend(
                conn,
                invitation.office_id,
                invitation.id,
                deadline,
                remind_at,
                now,
            )?
            .ok_or(Refusal::InvitationUsed)?;
            let extended = invitations::find(conn, invitation.office_id, invitation.id)?
                .ok_or_else(|| Error::vanished("the invitation"))?;
            let service =
                services::find_by_id(conn, extended.office_id, extended.office_service_id)?
                    .ok_or_else(|| Error::vanished("the invitation's service"))?;
            let change = Change {
                kind: EventKind::InvitationExtended,
                author: Some(author),
                booking_reference: None,
            };
            let code = &service.appointment_type.code;
            record(conn, &extended, code, proposed.as_ref(), change, now)
        },
    )
    .await
}

/// Closes an open invitation as `to` (cancelled or expired), gives back the seat its proposal
/// held and publishes the event; false when another request closed or used it first.
fn close(
    conn: &mut DbConnection,
    invitation: &Invitation,
    to: InvitationStatus,
    author: Option<Author>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<bool, InvitationError> {
    if invitations::close(conn, invitation.office_id, invitation.id, to, now)?.is_none() {
        return Ok(false);
    }
    release_held_seat(conn, invitation, policy, now)?;
    let service = services::find_by_id(conn, invitation.office_id, invitation.office_service_id)?
        .ok_or_else(|| Error::vanished("the invitation's service"))?;
    let proposed = proposed_slot(conn, invitation)?;
    let kind = match to {
        InvitationStatus::Expired => EventKind::InvitationExpired,
        _ => EventKind::InvitationCancelled,
    };
    let change = Change {
        kind,
        author,
        booking_reference: None,
    };
    let code = &service.appointment_type.code;
    record(conn, invitation, code, proposed.as_ref(), change, now)?;
    Ok(true)
}

/// Everything an invitation's mail says.
pub struct Letter {
    pub invitation: Invitation,
    pub office: Office,
    pub service: OfficeService,
    /// The proposed slot, while its seat is held.
    pub proposed: Option<Slot>,
}

/// The invitation with what its mail needs; `None` when it (or its office or service) is gone.
pub fn letter(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: InvitationId,
) -> Result<Option<Letter>, StoreError> {
    let Some(invitation) = invitations::find(conn, office_id, id)? else {
        return Ok(None);
    };
    let Some(office) = offices::find_by_id(conn, invitation.office_id)? else {
        return Ok(None);
    };
    let Some(service) =
        services::find_by_id(conn, invitation.office_id, invitation.office_service_id)?
    else {
        return Ok(None);
    };
    let proposed = match (invitation.holds_seat, invitation.proposed_slot_id) {
        (true, Some(slot_id)) => slots::find(conn, office.id, slot_id)?,
        _ => None,
    };
    Ok(Some(Letter {
        invitation,
        office,
        service,
        proposed,
    }))
}

/// What one round of invitation housekeeping did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tidied {
    pub reminded: usize,
    pub expired: usize,
}

/// Housekeeping: queues the one reminder of invitations nearing their deadline, and expires
/// those past it, giving back the seats their proposals held. A batch per round; safe with
/// several instances: each reminder and each expiry is a conditional update that only one of
/// them wins.
pub async fn tidy(
    store: &Store,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Tidied, InvitationError> {
    let policy = policy.clone();
    store
        .write(move |conn| {
            let mut tidied = Tidied::default();
            for invitation in invitations::reminders_due(conn, now, 500)? {
                if invitations::set_reminded(conn, invitation.office_id, invitation.id, now)? {
                    let about = about(&invitation, invitation.sequence);
                    outbox::enqueue(conn, about, MessageKind::InvitationReminder, now)?;
                    tidied.reminded += 1;
                }
            }
            for invitation in invitations::past_deadline(conn, now, 500)? {
                let expired = InvitationStatus::Expired;
                if close(conn, &invitation, expired, None, &policy, now)? {
                    tidied.expired += 1;
                }
            }
            Ok(tidied)
        })
        .await
}
