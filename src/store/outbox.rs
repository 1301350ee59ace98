//! The mail outbox. Messages are queued in the transaction of the change they report, claimed
//! by a worker for a limited time (a crashed worker's claim lapses), and recorded as sent,
//! retried, failed or suppressed.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::{dsl::count_star, prelude::*};

use super::{
    DbConnection, corrupt, db_time, named, on_backend,
    schema::{bookings, invitations, lottery_entries, mail_outbox, slots},
};
use crate::domain::{
    Named,
    booking::Status,
    ids::{BookingId, EntryId, InvitationId, OfficeId, OutboxId},
    mail::{DeliveryStatus, MessageKind, OutboxEntry},
};

/// A fresh Message-ID for a message about `reference`.
pub(super) fn new_message_id(reference: &str) -> String {
    format!(
        "<{}.{}@sportello>",
        reference.to_lowercase(),
        uuid::Uuid::new_v4().simple()
    )
}

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Booking(BookingId),
    Invitation(InvitationId),
    LotteryEntry(EntryId),
}

impl Subject {
    fn columns(self) -> (Option<BookingId>, Option<InvitationId>, Option<EntryId>) {
        match self {
            Subject::Booking(id) => (Some(id), None, None),
            Subject::Invitation(id) => (None, Some(id), None),
            Subject::LotteryEntry(id) => (None, None, Some(id)),
        }
    }
}

/// The booking or invitation a message is about, as the code that changed it knows it.
pub struct About<'a> {
    pub office_id: OfficeId,
    pub subject: Subject,
    pub reference: &'a str,
    /// Where the message goes; bookings made at the desk without an email address get none.
    pub email: Option<&'a str>,
    /// The booking's (or invitation's) sequence after the change.
    pub sequence: i32,
}

/// Queues the message `kind` about a booking or an invitation. Returns whether one was queued.
pub fn enqueue(
    conn: &mut DbConnection,
    about: About<'_>,
    kind: MessageKind,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let Some(recipient) = about.email else {
        return Ok(false);
    };
    let (booking_id, invitation_id, entry_id) = about.subject.columns();
    diesel::insert_into(mail_outbox::table)
        .values((
            mail_outbox::office_id.eq(about.office_id),
            mail_outbox::booking_id.eq(booking_id),
            mail_outbox::invitation_id.eq(invitation_id),
            mail_outbox::lottery_entry_id.eq(entry_id),
            mail_outbox::kind.eq(kind.as_str()),
            mail_outbox::sequence.eq(about.sequence),
            mail_outbox::recipient.eq(recipient),
            mail_outbox::message_id.eq(new_message_id(about.reference)),
            mail_outbox::status.eq(DeliveryStatus::Pending.as_str()),
            mail_outbox::attempts.eq(0),
            mail_outbox::next_attempt_at.eq(db_time(now)),
            mail_outbox::created_at.eq(db_time(now)),
            mail_outbox::updated_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(true)
}

#[derive(Insertable)]
#[diesel(table_name = mail_outbox)]
struct NewReminder {
    office_id: OfficeId,
    booking_id: BookingId,
    kind: &'static str,
    sequence: i32,
    recipient: String,
    message_id: String,
    status: &'static str,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// A confirmed booking whose visit is coming: id, office, reference, email, sequence, when it
/// was made and when the visit starts.
type ReminderCandidate = (
    BookingId,
    OfficeId,
    String,
    Option<String>,
    i32,
    NaiveDateTime,
    NaiveDateTime,
);

/// Queues a reminder for every confirmed booking whose visit is within `lead` of `now` (and
/// still ahead), once per visit time. Bookings made within `lead` of their visit get none:
/// their confirmation has just told them. Several instances may run this at once: the unique
/// index lets exactly one reminder per booking and sequence in.
pub fn enqueue_reminders(
    conn: &mut DbConnection,
    lead: Duration,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<usize> {
    let due: Vec<ReminderCandidate> = bookings::table
        .inner_join(slots::table)
        .filter(bookings::status.eq(Status::Confirmed.as_str()))
        .filter(bookings::email.is_not_null())
        .filter(slots::starts_at.gt(db_time(now)))
        .filter(slots::starts_at.le(db_time(now + lead)))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            mail_outbox::table
                .filter(mail_outbox::booking_id.eq(bookings::id.nullable()))
                .filter(mail_outbox::sequence.eq(bookings::sequence))
                .filter(mail_outbox::kind.eq(MessageKind::Reminder.as_str())),
        )))
        .select((
            bookings::id,
            bookings::office_id,
            bookings::reference,
            bookings::email,
            bookings::sequence,
            bookings::created_at,
            slots::starts_at,
        ))
        .limit(limit)
        .load(conn)?;
    let rows: Vec<NewReminder> = due
        .into_iter()
        .filter(|(.., created_at, starts_at)| created_at.and_utc() + lead <= starts_at.and_utc())
        .filter_map(
            |(booking_id, office_id, reference, email, sequence, _, _)| {
                Some(NewReminder {
                    office_id,
                    booking_id,
                    kind: MessageKind::Reminder.as_str(),
                    sequence,
                    recipient: email?,
                    message_id: new_message_id(&reference),
                    status: DeliveryStatus::Pending.as_str(),
                    attempts: 0,
                    next_attempt_at: db_time(now),
                    created_at: db_time(now),
                    updated_at: db_time(now),
                })
            },
        )
        .collect();
    let mut queued = 0;
    for row in &rows {
        queued += on_backend!(conn, |c| diesel::insert_into(mail_outbox::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    Ok(queued)
}

/// A message a worker has claimed and must now send.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: OutboxId,
    pub office_id: OfficeId,
    pub subject: Subject,
    pub kind: MessageKind,
    /// The booking's (or invitation's) sequence when the message was queued.
    pub sequence: i32,
    pub recipient: String,
    pub message_id: String,
    /// Including this one.
    pub attempts: i32,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = mail_outbox)]
struct ClaimedRow {
    id: OutboxId,
    office_id: OfficeId,
    booking_id: Option<BookingId>,
    invitation_id: Option<InvitationId>,
    lottery_entry_id: Option<EntryId>,
    kind: String,
    sequence: i32,
    recipient: String,
    message_id: String,
    attempts: i32,
}

/// Claims up to `limit` due messages (pending and due, or claimed by a worker whose claim has
/// lapsed) for `lease`. On PostgreSQL rows another worker is claiming are skipped
/// (`FOR UPDATE SKIP LOCKED`), so several instances never take the same message; on SQLite the
/// write transaction already has the database to itself. Runs in the caller's transaction.
pub fn claim_due(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> QueryResult<Vec<Claimed>> {
    let at = db_time(now);
    // Due: pending and its time has come, or claimed by a worker whose claim has lapsed.
    macro_rules! due_ids {
        () => {
            mail_outbox::table
                .filter(
                    mail_outbox::status
                        .eq(DeliveryStatus::Pending.as_str())
                        .and(mail_outbox::next_attempt_at.le(at))
                        .or(mail_outbox::status
                            .eq(DeliveryStatus::Sending.as_str())
                            .and(mail_outbox::claimed_until.le(at))),
                )
                .order(mail_outbox::next_attempt_at)
                .select(mail_outbox::id)
                .limit(limit)
        };
    }
    let ids: Vec<OutboxId> = match conn {
        DbConnection::Postgres(pg) => due_ids!().for_update().skip_locked().load(pg)?,
        DbConnection::Sqlite(lite) => due_ids!().load(lite)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(mail_outbox::table.filter(mail_outbox::id.eq_any(&ids)))
        .set((
            mail_outbox::status.eq(DeliveryStatus::Sending.as_str()),
            mail_outbox::claimed_until.eq(db_time(now + lease)),
            mail_outbox::attempts.eq(mail_outbox::attempts + 1),
            mail_outbox::updated_at.eq(at),
        ))
        .execute(conn)?;
    mail_outbox::table
        .filter(mail_outbox::id.eq_any(&ids))
        .select(ClaimedRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|row| {
            let subject = match (row.booking_id, row.invitation_id, row.lottery_entry_id) {
                (Some(booking), _, _) => Subject::Booking(booking),
                (None, Some(invitation), _) => Subject::Invitation(invitation),
                (None, None, Some(entry)) => Subject::LotteryEntry(entry),
                (None, None, None) => {
                    return Err(corrupt(format!("message {} about nothing", row.id)));
                }
            };
            Ok(Claimed {
                kind: named(&row.kind)?,
                id: row.id,
                office_id: row.office_id,
                subject,
                sequence: row.sequence,
                recipient: row.recipient,
                message_id: row.message_id,
                attempts: row.attempts,
            })
        })
        .collect()
}

/// Records what became of a claimed message; ignored if the claim was lost meanwhile.
pub fn settle(
    conn: &mut DbConnection,
    (office_id, id): (OfficeId, OutboxId),
    status: DeliveryStatus,
    error: Option<&str>,
    next_attempt_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let at = db_time(now);
    let sent_at = (status == DeliveryStatus::Sent).then_some(at);
    diesel::update(
        mail_outbox::table
            .filter(mail_outbox::office_id.eq(office_id))
            .filter(mail_outbox::id.eq(id))
            .filter(mail_outbox::status.eq(DeliveryStatus::Sending.as_str())),
    )
    .set((
        mail_outbox::status.eq(status.as_str()),
        mail_outbox::last_error.eq(error),
        mail_outbox::sent_at.eq(sent_at),
        mail_outbox::claimed_until.eq(None::<NaiveDateTime>),
        mail_outbox::next_attempt_at.eq(next_attempt_at.map_or(at, db_time)),
        mail_outbox::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(())
}

type EntryRow = (
    OutboxId,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    i32,
    Option<String>,
    NaiveDateTime,
    Option<NaiveDateTime>,
    NaiveDateTime,
);

/// The office's messages, newest first, optionally in one status or only the one with `id`.
pub fn list(
    conn: &mut DbConnection,
    office_id: OfficeId,
    status: Option<DeliveryStatus>,
    only: Option<OutboxId>,
    limit: i64,
) -> QueryResult<Vec<OutboxEntry>> {
    let mut query = mail_outbox::table
        .left_join(bookings::table)
        .left_join(invitations::table)
        .left_join(lottery_entries::table)
        .filter(mail_outbox::office_id.eq(office_id))
        .select((
            mail_outbox::id,
            bookings::reference.nullable(),
            invitations::reference.nullable(),
            lottery_entries::reference.nullable(),
            mail_outbox::kind,
            mail_outbox::recipient,
            mail_outbox::status,
            mail_outbox::attempts,
            mail_outbox::last_error,
            mail_outbox::next_attempt_at,
            mail_outbox::sent_at,
            mail_outbox::created_at,
        ))
        .order(mail_outbox::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(mail_outbox::status.eq(status.as_str()));
    }
    if let Some(id) = only {
        query = query.filter(mail_outbox::id.eq(id));
    }
    query
        .load::<EntryRow>(conn)?
        .into_iter()
        .map(
            |(
                id,
                booking,
                invitation,
                entry,
                kind,
                recipient,
                status,
                attempts,
                last_error,
                next,
                sent_at,
                created_at,
            )| {
                Ok(OutboxEntry {
                    id,
                    reference: booking.or(invitation).or(entry).unwrap_or_default(),
                    kind: named(&kind)?,
                    recipient,
                    status: named(&status)?,
                    attempts,
                    last_error,
                    next_attempt_at: next.and_utc(),
                    sent_at: sent_at.map(|t| t.and_utc()),
                    created_at: created_at.and_utc(),
                })
            },
        )
        .collect()
}

/// Puts a failed message of the office back in the queue, with a fresh round of attempts;
/// false when it has no failed message with this id.
pub fn retry(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: OutboxId,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let updated = diesel::update(
        mail_outbox::table
            .find(id)
            .filter(mail_outbox::office_id.eq(office_id))
            .filter(mail_outbox::status.eq(DeliveryStatus::Failed.as_str())),
    )
    .set((
        mail_outbox::status.eq(DeliveryStatus::Pending.as_str()),
        mail_outbox::attempts.eq(0),
        mail_outbox::next_attempt_at.eq(db_time(now)),
        mail_outbox::updated_at.eq(db_time(now)),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Messages of each kind the office delivered between `from` and `to`.
pub fn delivered(
    conn: &mut DbConnection,
    office_id: OfficeId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<(MessageKind, i64)>> {
    let rows: Vec<(String, i64)> = mail_outbox::table
        .filter(mail_outbox::office_id.eq(office_id))
        .filter(mail_outbox::status.eq(DeliveryStatus::Sent.as_str()))
        .filter(mail_outbox::sent_at.ge(db_time(from)))
        .filter(mail_outbox::sent_at.lt(db_time(to)))
        .group_by(mail_outbox::kind)
        .select((mail_outbox::kind, count_star()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(kind, count)| MessageKind::parse(&kind).ok().map(|kind| (kind, count)))
        .collect())
}

/// Of the confirmations the office delivered between `from` and `to`, those of bookings made
/// through an invitation (whose invitation mail already replaced the registered letter).
pub fn delivered_confirmations_of_invited(
    conn: &mut DbConnection,
    office_id: OfficeId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<i64> {
    mail_outbox::table
        .filter(mail_outbox::office_id.eq(office_id))
        .filter(mail_outbox::kind.eq(MessageKind::Confirmed.as_str()))
        .filter(mail_outbox::status.eq(DeliveryStatus::Sent.as_str()))
        .filter(mail_outbox::sent_at.ge(db_time(from)))
        .filter(mail_outbox::sent_at.lt(db_time(to)))
        .filter(
            mail_outbox::booking_id.eq_any(
                invitations::table
                    .filter(invitations::office_id.eq(office_id))
                    .select(invitations::booking_id),
            ),
        )
        .select(count_star())
        .first(conn)
}
