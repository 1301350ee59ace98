//! Invitations to book. A change is a conditional update on the status that was read, so two
//! requests racing on one invitation (the applicant booking, the office cancelling, the
//! housekeeper expiring it) cannot both win.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{
    DbConnection, StoredTime, db_time, named,
    schema::{bookings, invitations},
};
use crate::domain::{
    Named,
    booking::{CaseNumber, Status},
    email::EmailAddress,
    ids::{BookingId, IntegrationClientId, InvitationId, OfficeId, ServiceId, SlotId, StaffId},
    invitations::{InvitationState, InvitationStatus},
    language::Language,
};

#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: InvitationId,
    pub office_id: OfficeId,
    pub office_service_id: ServiceId,
    pub reference: String,
    pub token_salt: String,
    pub token_hash: String,
    pub case_number: String,
    pub full_name: Option<String>,
    pub email: String,
    pub language: String,
    pub deadline: DateTime<Utc>,
    pub status: InvitationStatus,
    pub sequence: i32,
    pub proposed_slot_id: Option<SlotId>,
    pub holds_seat: bool,
    pub booking_id: Option<BookingId>,
    pub reminded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Every column, in the table's order: RETURNING names them all.
#[derive(Queryable, Selectable)]
#[diesel(table_name = invitations)]
struct InvitationRow {
    id: InvitationId,
    office_id: OfficeId,
    office_service_id: ServiceId,
    reference: String,
    token_salt: String,
    token_hash: String,
    case_number: String,
    full_name: Option<String>,
    email: String,
    language: String,
    #[diesel(deserialize_as = StoredTime)]
    deadline: DateTime<Utc>,
    status: String,
    sequence: i32,
    proposed_slot_id: Option<SlotId>,
    holds_seat: bool,
    booking_id: Option<BookingId>,
    #[diesel(column_name = remind_at)]
    _remind_at: Option<chrono::NaiveDateTime>,
    reminded_at: Option<chrono::NaiveDateTime>,
    #[diesel(column_name = created_by)]
    _created_by: Option<StaffId>,
    #[diesel(column_name = client_id)]
    _client_id: Option<IntegrationClientId>,
    #[diesel(deserialize_as = StoredTime)]
    created_at: DateTime<Utc>,
    #[diesel(deserialize_as = StoredTime)]
    #[diesel(column_name = updated_at)]
    _updated_at: DateTime<Utc>,
}

impl InvitationRow {
    fn into_invitation(self) -> QueryResult<Invitation> {
        Ok(Invitation {
            id: self.id,
            office_id: self.office_id,
            office_service_id: self.office_service_id,
            reference: self.reference,
            token_salt: self.token_salt,
            token_hash: self.token_hash,
            case_number: self.case_number,
            full_name: self.full_name,
            email: self.email,
            language: self.language,
            deadline: self.deadline,
            status: named(&self.status)?,
            sequence: self.sequence,
            proposed_slot_id: self.proposed_slot_id,
            holds_seat: self.holds_seat,
            booking_id: self.booking_id,
            reminded_at: self.reminded_at.map(|t| t.and_utc()),
            created_at: self.created_at,
        })
    }
}

fn invitations_of(rows: Vec<InvitationRow>) -> QueryResult<Vec<Invitation>> {
    rows.into_iter()
        .map(InvitationRow::into_invitation)
        .collect()
}

/// An invitation as written.
pub struct NewInvitation<'a> {
    pub office_id: OfficeId,
    pub office_service_id: ServiceId,
    pub reference: &'a str,
    pub token_salt: &'a str,
    pub token_hash: &'a str,
    pub case_number: &'a CaseNumber,
    pub full_name: Option<&'a str>,
    pub email: &'a EmailAddress,
    pub language: &'a Language,
    pub deadline: DateTime<Utc>,
    /// The slot proposed, whose seat the caller has taken for the invitation.
    pub proposed_slot_id: Option<SlotId>,
    /// When its one reminder is due, if it needs one.
    pub remind_at: Option<DateTime<Utc>>,
    pub created_by: Option<StaffId>,
    pub client_id: Option<IntegrationClientId>,
}

pub fn insert(
    conn: &mut DbConnection,
    new: NewInvitation<'_>,
    now: DateTime<Utc>,
) -> QueryResult<Invitation> {
    diesel::insert_into(invitations::table)
        .values((
            invitations::office_id.eq(new.office_id),
            invitations::office_service_id.eq(new.office_service_id),
            invitations::reference.eq(new.reference),
            invitations::token_salt.eq(new.token_salt),
            invitations::token_hash.eq(new.token_hash),
            invitations::case_number.eq(new.case_number.as_str()),
            invitations::full_name.eq(new.full_name),
            invitations::email.eq(new.email.as_str()),
            invitations::language.eq(new.language.as_str()),
            invitations::deadline.eq(db_time(new.deadline)),
            invitations::status.eq(InvitationStatus::Sent.as_str()),
            invitations::sequence.eq(1),
            invitations::proposed_slot_id.eq(new.proposed_slot_id),
            invitations::holds_seat.eq(new.proposed_slot_id.is_some()),
            invitations::remind_at.eq(new.remind_at.map(db_time)),
            invitations::created_by.eq(new.created_by),
            invitations::client_id.eq(new.client_id),
            invitations::created_at.eq(db_time(now)),
            invitations::updated_at.eq(db_time(now)),
        ))
        .returning(invitations::all_columns)
        .get_result::<InvitationRow>(conn)?
        .into_invitation()
}

pub fn find(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: InvitationId,
) -> QueryResult<Option<Invitation>> {
    invitations::table
        .filter(invitations::office_id.eq(office_id))
        .filter(invitations::id.eq(id))
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()?
        .map(InvitationRow::into_invitation)
        .transpose()
}

pub fn find_by_reference(
    conn: &mut DbConnection,
    reference: &str,
) -> QueryResult<Option<Invitation>> {
    invitations::table
        .filter(invitations::reference.eq(reference))
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()?
        .map(InvitationRow::into_invitation)
        .transpose()
}

pub fn reference_taken(conn: &mut DbConnection, reference: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        invitations::table.filter(invitations::reference.eq(reference)),
    ))
    .get_result(conn)
}

/// The case's open invitation to the service, if it has one.
pub fn find_open(
    conn: &mut DbConnection,
    (office_id, office_service_id): (OfficeId, ServiceId),
    case_number: &CaseNumber,
) -> QueryResult<Option<Invitation>> {
    invitations::table
        .filter(invitations::office_id.eq(office_id))
        .filter(invitations::office_service_id.eq(office_service_id))
        .filter(invitations::case_number.eq(case_number.as_str()))
        .filter(invitations::status.eq(InvitationStatus::Sent.as_str()))
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()?
        .map(InvitationRow::into_invitation)
        .transpose()
}

/// An invitation with the status and reference of the booking made through it, if any.
pub type Listed = (Invitation, Option<(String, Status)>);

/// Which of an office's invitations to list.
pub struct Filter<'a> {
    pub state: Option<InvitationState>,
    pub case_number: Option<&'a CaseNumber>,
    /// Only those with an id below this (the page before), newest first.
    pub before: Option<InvitationId>,
    pub limit: i64,
}

/// The office's invitations, newest first.
pub fn list(
    conn: &mut DbConnection,
    office_id: OfficeId,
    filter: Filter<'_>,
) -> QueryResult<Vec<Listed>> {
    let mut query = invitations::table
        .left_join(bookings::table.on(bookings::id.nullable().eq(invitations::booking_id)))
        .filter(invitations::office_id.eq(office_id))
        .order(invitations::id.desc())
        .limit(filter.limit)
        .select((
            InvitationRow::as_select(),
            bookings::reference.nullable(),
            bookings::status.nullable(),
        ))
        .into_boxed();
    if let Some(state) = filter.state {
        let (status, visit) = state.stored_as();
        query = query.filter(invitations::status.eq(status.as_str()));
        query = match (state, visit) {
            (_, Some(visit)) => query.filter(bookings::status.eq(visit.as_str())),
            // Booked and not (yet) attended or missed.
            (InvitationState::Booked, None) => query.filter(
                bookings::status
                    .ne_all([Status::Attended.as_str(), Status::NoShow.as_str()])
                    .assume_not_null(),
            ),
            _ => query,
        };
    }
    if let Some(case_number) = filter.case_number {
        query = query.filter(invitations::case_number.eq(case_number.as_str()));
    }
    if let Some(before) = filter.before {
        query = query.filter(invitations::id.lt(before));
    }
    let rows: Vec<(InvitationRow, Option<String>, Option<String>)> = query.load(conn)?;
    rows.into_iter()
        .map(|(row, reference, status)| {
            let booking = match (reference, status) {
                (Some(reference), Some(status)) => Some((reference, named(&status)?)),
                _ => None,
            };
            Ok((row.into_invitation()?, booking))
        })
        .collect()
}

/// Records that the invitation was booked with: `None` when it was no longer open (another
/// request used, cancelled or expired it first). Its seat, if it held one, is the booking's
/// or given back by the caller. Returns the new sequence.
pub fn mark_booked(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: InvitationId,
    booking_id: BookingId,
    now: DateTime<Utc>,
) -> QueryResult<Option<i32>> {
    diesel::update(open(office_id, id))
        .set((
            invitations::status.eq(InvitationStatus::Booked.as_str()),
            invitations::booking_id.eq(booking_id),
            invitations::holds_seat.eq(false),
            invitations::sequence.eq(invitations::sequence + 1),
            invitations::updated_at.eq(db_time(now)),
        ))
        .returning(invitations::sequence)
        .get_result(conn)
        .optional()
}

/// Closes an open invitation as `to` (expired or cancelled): `None` when it was no longer
/// open. Returns the new sequence; the caller gives back the seat it held.
pub fn close(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: InvitationId,
    to: InvitationStatus,
    now: DateTime<Utc>,
) -> QueryResult<Option<i32>> {
    diesel::update(open(office_id, id))
        .set((
            invitations::status.eq(to.as_str()),
            invitations::holds_seat.eq(false),
            invitations::sequence.eq(invitations::sequence + 1),
            invitations::updated_at.eq(db_time(now)),
        ))
        .returning(invitations::sequence)
        .get_result(conn)
        .optional()
}

/// Moves an open invitation's deadline, and when its reminder is due (if it has not gone):
/// `None` when it was no longer open.
pub fn extend(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: InvitationId,
    deadline: DateTime<Utc>,
    remind_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> QueryResult<Option<i32>> {
    diesel::update(open(office_id, id))
        .set((
            invitations::deadline.eq(db_time(deadline)),
            invitations::remind_at.eq(remind_at.map(db_time)),
            invitations::sequence.eq(invitations::sequence + 1),
            invitations::updated_at.eq(db_time(now)),
        ))
        .returning(invitations::sequence)
        .get_result(conn)
        .optional()
}

/// One office's invitation, by id, while it is open (see [`open`]).
type OpenInvitation = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Filter<invitations::table, diesel::dsl::Eq<invitations::office_id, OfficeId>>,
        diesel::dsl::Eq<invitations::id, InvitationId>,
    >,
    diesel::dsl::Eq<invitations::status, &'static str>,
>;

/// The office's invitation, while it is open.
fn open(office_id: OfficeId, id: InvitationId) -> OpenInvitation {
    invitations::table
        .filter(invitations::office_id.eq(office_id))
        .filter(invitations::id.eq(id))
        .filter(invitations::status.eq(InvitationStatus::Sent.as_str()))
}

/// Open invitations whose deadline has passed, for the housekeeper to expire.
pub fn past_deadline(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Invitation>> {
    invitations::table
        .filter(invitations::status.eq(InvitationStatus::Sent.as_str()))
        .filter(invitations::deadline.le(db_time(now)))
        .order(invitations::deadline)
        .limit(limit)
        .select(InvitationRow::as_select())
        .load(conn)
        .and_then(invitations_of)
}

/// Open invitations whose one reminder is due and not yet queued.
pub fn reminders_due(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Invitation>> {
    invitations::table
        .filter(invitations::status.eq(InvitationStatus::Sent.as_str()))
        .filter(invitations::reminded_at.is_null())
        .filter(invitations::remind_at.le(db_time(now)))
        .filter(invitations::deadline.gt(db_time(now)))
        .order(invitations::remind_at)
        .limit(limit)
        .select(InvitationRow::as_select())
        .load(conn)
        .and_then(invitations_of)
}

/// Notes that the invitation's one reminder is queued; false when another instance did so
/// first.
pub fn set_reminded(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: InvitationId,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let updated = diesel::update(
        invitations::table
            .filter(invitations::office_id.eq(office_id))
            .filter(invitations::id.eq(id))
            .filter(invitations::reminded_at.is_null()),
    )
    .set(invitations::reminded_at.eq(db_time(now)))
    .execute(conn)?;
    Ok(updated == 1)
}
