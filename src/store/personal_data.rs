//! Personal data, found and forgotten: what retention anonymises or deletes when it falls due,
//! and what a data subject's erasure replaces. Anonymising keeps a booking's row (its office,
//! service, slot, channel, status and times: the counts) and replaces every field that says
//! who it was, here and in every copy (events, outbox, waitlist, audit).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{
    DbConnection, db_time,
    schema::{
        audit_log, bookings, case_readiness, case_verification_attempts, events, invitations,
        lottery_entries, mail_outbox, registered_cases, slots,
    },
};
use crate::domain::{
    Named,
    email::EmailAddress,
    events::ANONYMISED_DATA,
    ids::{BookingId, OfficeId},
    mail::DeliveryStatus,
};

/// What an anonymised booking's case number becomes: no one's.
pub const ERASED: &str = "-";

/// Bookings whose visit ended before `before` and still say who booked them, at most `limit`,
/// with their offices: a sweep of every office.
pub fn bookings_past(
    conn: &mut DbConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<(OfficeId, BookingId)>> {
    bookings::table
        .inner_join(slots::table)
        .filter(slots::ends_at.lt(db_time(before)))
        .filter(bookings::anonymised_at.is_null())
        .select((bookings::office_id, bookings::id))
        .order(bookings::id)
        .limit(limit)
        .load(conn)
}

/// The office's bookings with this case number or reaching this mailbox (the address with any
/// +tag), not anonymised.
pub fn bookings_of_subject(
    conn: &mut DbConnection,
    office_id: OfficeId,
    (case_number, email): (Option<&str>, Option<&EmailAddress>),
) -> QueryResult<Vec<BookingId>> {
    let mut query = bookings::table
        .filter(bookings::office_id.eq(office_id))
        .filter(bookings::anonymised_at.is_null())
        .select(bookings::id)
        .order(bookings::id)
        .into_boxed();
    if let Some(case_number) = case_number {
        query = query.filter(bookings::case_number.eq(case_number.to_owned()));
    }
    if let Some(email) = email {
        query = query.filter(bookings::mailbox.eq(email.mailbox()));
    }
    query.load(conn)
}

/// Replaces everything that says who booked `ids`: the booking's fields, its events' copies,
/// its messages' recipients (those not sent yet are suppressed: nobody to send them to), and
/// its audit entries' copies. `ids` are bookings of the office. Returns how many bookings.
pub fn anonymise_bookings(
    conn: &mut DbConnection,
    office_id: OfficeId,
    ids: &[BookingId],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let of_office = || {
        bookings::table
            .filter(bookings::office_id.eq(office_id))
            .filter(bookings::id.eq_any(ids))
    };
    let references: Vec<String> = of_office().select(bookings::reference).load(conn)?;
    let done = diesel::update(of_office())
        .set((
            bookings::case_number.eq(ERASED),
            bookings::full_name.eq(""),
            bookings::email.eq(None::<String>),
            bookings::mailbox.eq(None::<String>),
            bookings::phone.eq(None::<String>),
            bookings::cancel_reason.eq(None::<String>),
            bookings::moved_reason.eq(None::<String>),
            bookings::anonymised_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    let booking_events = events::table
        .filter(events::office_id.eq(office_id))
        .filter(events::booking_id.eq_any(ids.iter().map(|id| Some(*id))));
    diesel::update(booking_events)
        .set((
            events::data.eq(Some(ANONYMISED_DATA)),
            events::detail.eq(None::<String>),
        ))
        .execute(conn)?;
    let messages = || {
        mail_outbox::table
            .filter(mail_outbox::office_id.eq(office_id))
            .filter(mail_outbox::booking_id.eq_any(ids.iter().map(|id| Some(*id))))
    };
    diesel::update(messages().filter(mail_outbox::status.eq_any([
        DeliveryStatus::Pending.as_str(),
        DeliveryStatus::Failed.as_str(),
    ])))
    .set(mail_outbox::status.eq(DeliveryStatus::Suppressed.as_str()))
    .execute(conn)?;
    diesel::update(messages())
        .set((
            mail_outbox::recipient.eq(""),
            mail_outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    scrub_audit(conn, office_id, "booking", &references)?;
    Ok(done)
}

/// Audit entries about these bookings or invitations (`entity`, by reference) keep what was
/// done and when, not the states they recorded (entries written before audit stopped copying
/// personal data had them).
fn scrub_audit(
    conn: &mut DbConnection,
    office_id: OfficeId,
    entity: &str,
    references: &[String],
) -> QueryResult<()> {
    diesel::update(
        audit_log::table
            .filter(audit_log::office_id.eq(office_id))
            .filter(audit_log::entity.eq(entity))
            .filter(audit_log::entity_id.eq_any(references)),
    )
    .set((
        audit_log::before.eq(None::<String>),
        audit_log::after.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(())
}

/// Replaces a data subject's fields in the office's invitations and lottery entries, and
/// forgets the case the case system registered and its verification attempts. Returns the
/// rows changed.
pub fn erase_elsewhere(
    conn: &mut DbConnection,
    office_id: OfficeId,
    (case_number, email): (Option<&str>, Option<&EmailAddress>),
) -> QueryResult<usize> {
    let mut changed = 0;
    let mut invitations_of = invitations::table
        .filter(invitations::office_id.eq(office_id))
        .select(invitations::id)
        .into_boxed();
    let mut entries_of = lottery_entries::table
        .filter(lottery_entries::office_id.eq(office_id))
        .select(lottery_entries::id)
        .into_boxed();
    if let Some(case_number) = case_number {
        invitations_of = invitations_of.filter(invitations::case_number.eq(case_number.to_owned()));
        entries_of = entries_of.filter(lottery_entries::case_number.eq(case_number.to_owned()));
    }
    if let Some(email) = email {
        invitations_of = invitations_of.filter(invitations::email.eq(email.as_str().to_owned()));
        entries_of = entries_of.filter(lottery_entries::mailbox.eq(email.mailbox()));
    }
    let invitation_ids: Vec<i64> = invitations_of.load(conn)?;
    let invitations_erased = || {
        invitations::table
            .filter(invitations::office_id.eq(office_id))
            .filter(invitations::id.eq_any(&invitation_ids))
    };
    let invitation_references: Vec<String> = invitations_erased()
        .select(invitations::reference)
        .load(conn)?;
    scrub_audit(conn, office_id, "invitation", &invitation_references)?;
    for reference in &invitation_references {
        diesel::update(invitation_events(office_id, reference))
            .set((
                events::data.eq(Some(ANONYMISED_DATA)),
                events::detail.eq(None::<String>),
            ))
            .execute(conn)?;
    }
    changed += diesel::update(invitations_erased())
        .set((
            invitations::case_number.eq(ERASED),
            invitations::full_name.eq(None::<String>),
            invitations::email.eq(""),
        ))
        .execute(conn)?;
    let invitation_mail = || {
        mail_outbox::table
            .filter(mail_outbox::office_id.eq(office_id))
            .filter(mail_outbox::invitation_id.eq_any(invitation_ids.iter().map(|id| Some(*id))))
    };
    let unsent = [
        DeliveryStatus::Pending.as_str(),
        DeliveryStatus::Failed.as_str(),
    ];
    diesel::update(invitation_mail().filter(mail_outbox::status.eq_any(unsent)))
        .set(mail_outbox::status.eq(DeliveryStatus::Suppressed.as_str()))
        .execute(conn)?;
    diesel::update(invitation_mail())
        .set(mail_outbox::recipient.eq(""))
        .execute(conn)?;
    let entry_ids: Vec<i64> = entries_of.load(conn)?;
    let entries_erased = lottery_entries::table
        .filter(lottery_entries::office_id.eq(office_id))
        .filter(lottery_entries::id.eq_any(&entry_ids));
    changed += diesel::update(entries_erased)
        .set((
            lottery_entries::case_number.eq(ERASED),
            lottery_entries::full_name.eq(""),
            lottery_entries::email.eq(""),
            lottery_entries::mailbox.eq(""),
            lottery_entries::phone.eq(None::<String>),
        ))
        .execute(conn)?;
    let entry_mail = mail_outbox::table
        .filter(mail_outbox::office_id.eq(office_id))
        .filter(mail_outbox::lottery_entry_id.eq_any(entry_ids.iter().map(|id| Some(*id))));
    diesel::update(entry_mail)
        .set(mail_outbox::recipient.eq(""))
        .execute(conn)?;
    if let Some(case_number) = case_number {
        let cases: Vec<i64> = registered_cases::table
            .filter(registered_cases::office_id.eq(office_id))
            .filter(registered_cases::case_number.eq(case_number.to_owned()))
            .select(registered_cases::id)
            .load(conn)?;
        diesel::delete(
            case_readiness::table
                .filter(case_readiness::office_id.eq(office_id))
                .filter(case_readiness::case_id.eq_any(&cases)),
        )
        .execute(conn)?;
        changed += diesel::delete(
            registered_cases::table
                .filter(registered_cases::office_id.eq(office_id))
                .filter(registered_cases::id.eq_any(&cases)),
        )
        .execute(conn)?;
        changed += diesel::delete(
            case_verification_attempts::table
                .filter(case_verification_attempts::office_id.eq(office_id))
                .filter(case_verification_attempts::case_number.eq(case_number.to_owned())),
        )
        .execute(conn)?;
    }
    if let Some(email) = email {
        changed += diesel::delete(
            registered_cases::table
                .filter(registered_cases::office_id.eq(office_id))
                .filter(registered_cases::email.eq(email.as_str().to_owned()))
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    case_readiness::table
                        .filter(case_readiness::office_id.eq(office_id))
                        .filter(case_readiness::case_id.eq(registered_cases::id)),
                ))),
        )
        .execute(conn)?;
    }
    Ok(changed)
}

/// Deletes outbox messages sent (or given up) before `before`, at most `limit`, keeping their
/// counts for the indicators; returns how many.
pub fn purge_outbox(
    conn: &mut DbConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<usize> {
    let done = [
        DeliveryStatus::Sent.as_str(),
        DeliveryStatus::Failed.as_str(),
        DeliveryStatus::Bounced.as_str(),
        DeliveryStatus::Suppressed.as_str(),
    ];
    let ids: Vec<i64> = mail_outbox::table
        .filter(mail_outbox::status.eq_any(done))
        .filter(mail_outbox::updated_at.lt(db_time(before)))
        .select(mail_outbox::id)
        .order(mail_outbox::id)
        .limit(limit)
        .load(conn)?;
    super::indicators::keep_mail_counts(conn, &ids)?;
    diesel::delete(mail_outbox::table.filter(mail_outbox::id.eq_any(&ids))).execute(conn)
}

/// Deletes audit entries written before `before`, at most `limit`; returns how many.
pub fn purge_audit(
    conn: &mut DbConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<usize> {
    let ids: Vec<i64> = audit_log::table
        .filter(audit_log::at.lt(db_time(before)))
        .select(audit_log::id)
        .order(audit_log::id)
        .limit(limit)
        .load(conn)?;
    diesel::delete(audit_log::table.filter(audit_log::id.eq_any(&ids))).execute(conn)
}

/// A stored row, by the names of its columns, for a data subject's export.
pub type Row = serde_json::Map<String, serde_json::Value>;

fn row(pairs: Vec<(&str, serde_json::Value)>) -> Row {
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

fn time(at: NaiveDateTime) -> serde_json::Value {
    serde_json::json!(at.and_utc())
}

type OfficeEvents =
    diesel::dsl::Filter<events::table, diesel::dsl::Eq<events::office_id, OfficeId>>;
type InvitationEvents = diesel::dsl::Filter<
    diesel::dsl::Filter<OfficeEvents, diesel::dsl::IsNull<events::booking_id>>,
    diesel::dsl::Like<events::data, String>,
>;

/// The office's events about the invitation `reference` (they name it in their data, as
/// serde writes JSON: no spaces).
fn invitation_events(office_id: OfficeId, reference: &str) -> InvitationEvents {
    events::table
        .filter(events::office_id.eq(office_id))
        .filter(events::booking_id.is_null())
        .filter(events::data.like(format!("%\"reference\":\"{reference}\"%")))
}

type EventRow = (
    i64,
    Option<BookingId>,
    String,
    Option<String>,
    Option<String>,
    NaiveDateTime,
);

/// The events of these bookings and of the office's invitations `invitations` (references),
/// as stored.
pub fn events_of(
    conn: &mut DbConnection,
    office_id: OfficeId,
    ids: &[BookingId],
    invitations: &[String],
) -> QueryResult<Vec<Row>> {
    let columns = (
        events::id,
        events::booking_id,
        events::kind,
        events::detail,
        events::data,
        events::created_at,
    );
    let mut rows: Vec<EventRow> = events::table
        .filter(events::office_id.eq(office_id))
        .filter(events::booking_id.eq_any(ids.iter().map(|id| Some(*id))))
        .select(columns)
        .load(conn)?;
    for reference in invitations {
        rows.extend(
            invitation_events(office_id, reference)
                .select(columns)
                .load::<EventRow>(conn)?,
        );
    }
    rows.sort_by_key(|row| row.0);
    Ok(rows
        .into_iter()
        .map(|(id, booking, kind, detail, data, at)| {
            let parse = |text: Option<String>| {
                text.map_or(serde_json::Value::Null, |text| {
                    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
                })
            };
            row(vec![
                ("id", id.into()),
                ("booking_id", serde_json::json!(booking)),
                ("kind", kind.into()),
                ("detail", parse(detail)),
                ("data", parse(data)),
                ("created_at", time(at)),
            ])
        })
        .collect())
}

/// The messages queued about these bookings, as stored (their text is composed when sent).
pub fn messages_of(
    conn: &mut DbConnection,
    office_id: OfficeId,
    ids: &[BookingId],
) -> QueryResult<Vec<Row>> {
    type MessageRow = (
        i64,
        Option<BookingId>,
        String,
        String,
        String,
        Option<NaiveDateTime>,
        NaiveDateTime,
    );
    let rows: Vec<MessageRow> = mail_outbox::table
        .filter(mail_outbox::office_id.eq(office_id))
        .filter(mail_outbox::booking_id.eq_any(ids.iter().map(|id| Some(*id))))
        .select((
            mail_outbox::id,
            mail_outbox::booking_id,
            mail_outbox::kind,
            mail_outbox::recipient,
            mail_outbox::status,
            mail_outbox::sent_at,
            mail_outbox::created_at,
        ))
        .order(mail_outbox::id)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, booking, kind, recipient, status, sent_at, created_at)| {
                row(vec![
                    ("id", id.into()),
                    ("booking_id", serde_json::json!(booking)),
                    ("kind", kind.into()),
                    ("recipient", recipient.into()),
                    ("status", status.into()),
                    ("sent_at", sent_at.map_or(serde_json::Value::Null, time)),
                    ("created_at", time(created_at)),
                ])
            },
        )
        .collect())
}

/// The office's invitations and lottery entries for this case number or email address.
pub fn invitations_and_entries_of(
    conn: &mut DbConnection,
    office_id: OfficeId,
    (case_number, email): (Option<&str>, Option<&EmailAddress>),
) -> QueryResult<(Vec<Row>, Vec<Row>)> {
    type InvitationRow = (
        String,
        String,
        Option<String>,
        String,
        String,
        String,
        NaiveDateTime,
    );
    let mut query = invitations::table
        .filter(invitations::office_id.eq(office_id))
        .select((
            invitations::reference,
            invitations::case_number,
            invitations::full_name,
            invitations::email,
            invitations::language,
            invitations::status,
            invitations::deadline,
        ))
        .into_boxed();
    type EntryRow = (
        String,
        String,
        String,
        String,
        Option<String>,
        String,
        String,
    );
    let mut entries = lottery_entries::table
        .filter(lottery_entries::office_id.eq(office_id))
        .select((
            lottery_entries::reference,
            lottery_entries::case_number,
            lottery_entries::full_name,
            lottery_entries::email,
            lottery_entries::phone,
            lottery_entries::language,
            lottery_entries::status,
        ))
        .into_boxed();
    if let Some(case_number) = case_number {
        query = query.filter(invitations::case_number.eq(case_number.to_owned()));
        entries = entries.filter(lottery_entries::case_number.eq(case_number.to_owned()));
    }
    if let Some(email) = email {
        query = query.filter(invitations::email.eq(email.as_str().to_owned()));
        entries = entries.filter(lottery_entries::mailbox.eq(email.mailbox()));
    }
    let invitations = query
        .load::<InvitationRow>(conn)?
        .into_iter()
        .map(
            |(reference, case, name, email, language, status, deadline)| {
                row(vec![
                    ("reference", reference.into()),
                    ("case_number", case.into()),
                    ("full_name", serde_json::json!(name)),
                    ("email", email.into()),
                    ("language", language.into()),
                    ("status", status.into()),
                    ("deadline", time(deadline)),
                ])
            },
        )
        .collect();
    let entries = entries
        .load::<EntryRow>(conn)?
        .into_iter()
        .map(|(reference, case, name, email, phone, language, status)| {
            row(vec![
                ("reference", reference.into()),
                ("case_number", case.into()),
                ("full_name", name.into()),
                ("email", email.into()),
                ("phone", serde_json::json!(phone)),
                ("language", language.into()),
                ("status", status.into()),
            ])
        })
        .collect();
    Ok((invitations, entries))
}

/// The case the case system registered at the office with this number or email address.
pub fn registered_cases_of(
    conn: &mut DbConnection,
    office_id: OfficeId,
    (case_number, email): (Option<&str>, Option<&EmailAddress>),
) -> QueryResult<Vec<Row>> {
    let mut query = registered_cases::table
        .filter(registered_cases::office_id.eq(office_id))
        .select((
            registered_cases::case_number,
            registered_cases::email,
            registered_cases::language,
            registered_cases::created_at,
        ))
        .into_boxed();
    if let Some(case_number) = case_number {
        query = query.filter(registered_cases::case_number.eq(case_number.to_owned()));
    }
    if let Some(email) = email {
        query = query.filter(registered_cases::email.eq(email.as_str().to_owned()));
    }
    Ok(query
        .load::<(String, Option<String>, String, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(case, email, language, created_at)| {
            row(vec![
                ("case_number", case.into()),
                ("email", serde_json::json!(email)),
                ("language", language.into()),
                ("created_at", time(created_at)),
            ])
        })
        .collect())
}
