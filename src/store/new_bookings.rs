//! A new booking, on the store's side: what its rules are checked against, read in one
//! statement, and everything it records, written in one.
//!
//! A booking is the busiest write of a release day. Every statement is a round trip to the
//! database, and from the moment a seat is claimed its slot's row stays locked until the
//! commit, so the booking transaction reads once ([`standing`]) and writes once ([`record`]).
//! On PostgreSQL the write is a single statement whose parts (data-modifying `WITH` queries)
//! follow from one another: no seat, no booking; no booking, no event, mail or idempotency
//! record. SQLite, in process and one writer at a time, runs the same steps one by one.

use chrono::{DateTime, Utc};
use diesel::{
    dsl::{count_star, exists},
    pg::Pg,
    prelude::*,
    query_builder::{AstPass, Query, QueryFragment, QueryId},
    result::{DatabaseErrorKind, Error},
    sql_types::{BigInt, Bool, Nullable, Text, Timestamp},
};

use super::{
    DbConnection,
    bookings::{self, Booking, BookingRow, KeyRecord, NewBooking, active_statuses},
    db_time, events, outbox,
    schema::{appointment_types, bookings as stored, calendar_services, idempotency_keys},
    schema::{office_services, slots},
    seats,
    services::{self, OfficeService},
    slots::Slot,
    webhooks,
};
use crate::domain::{
    Named,
    booking::{CaseNumber, Channel, EventKind, Reference, Status},
    email::EmailAddress,
    ids::{BookingId, OfficeId, SlotId, StaffId},
    mail::{DeliveryStatus, MessageKind},
};

/// What a booking request is about, for [`standing`].
pub struct Asked<'a> {
    pub office_id: OfficeId,
    pub slot_id: SlotId,
    pub case_number: &'a CaseNumber,
    pub email: Option<&'a EmailAddress>,
    pub key: Option<&'a str>,
    /// The reference the booking would get.
    pub reference: &'a Reference,
}

/// Where a booking request stands, read in its transaction.
pub struct Standing {
    pub slot: Slot,
    /// The active services of the slot's calendar, by type code, each with whether the case
    /// already holds an active booking of it.
    pub services: Vec<(OfficeService, bool)>,
    /// Active bookings made with an address reaching the email's mailbox at the office. Read
    /// after [`bookings::lock_email`], it counts every booking a concurrent request made.
    pub email_active: i64,
    /// The record of an earlier request with the same Idempotency-Key.
    pub key: Option<KeyRecord>,
    /// Another booking has the reference already.
    pub reference_taken: bool,
}

/// The slot, its services and what the booking limits count, in one statement. `None`: the
/// office has no such slot, or its calendar serves nothing (the slot itself says which).
pub fn standing(conn: &mut DbConnection, asked: &Asked<'_>) -> QueryResult<Option<Standing>> {
    let office = asked.office_id;
    let case_holds_service = exists(
        stored::table
            .filter(stored::office_id.eq(office))
            .filter(stored::case_number.eq(asked.case_number.as_str()))
            .filter(stored::office_service_id.eq(office_services::id))
            .filter(stored::status.eq_any(active_statuses())),
    );
    // No email: `mailbox = NULL` counts nothing.
    let email_active = stored::table
        .filter(stored::office_id.eq(office))
        .filter(
            stored::mailbox
                .nullable()
                .eq(asked.email.map(EmailAddress::mailbox)),
        )
        .filter(stored::status.eq_any(active_statuses()))
        .select(count_star())
        .single_value();
    let key = idempotency_keys::table
        .filter(idempotency_keys::office_id.eq(office))
        .filter(idempotency_keys::key.nullable().eq(asked.key));
    let key_hash = key.select(idempotency_keys::request_hash).single_value();
    let key_booking = key.select(idempotency_keys::booking_id).single_value();
    let reference_taken =
        exists(stored::table.filter(stored::reference.eq(asked.reference.as_str())));
    type Row = (
        Slot,
        services::ServiceRow,
        crate::store::catalogue::TypeRow,
        bool,
        Option<i64>,
        Option<String>,
        Option<BookingId>,
        bool,
    );
    let rows: Vec<Row> = slots::table
        .inner_join(
            calendar_services::table.on(calendar_services::calendar_id.eq(slots::calendar_id)),
        )
        .inner_join(
            office_services::table.on(office_services::id
                .eq(calendar_services::office_service_id)
                .and(office_services::active.eq(true))),
        )
        .inner_join(
            appointment_types::table
                .on(appointment_types::id.eq(office_services::appointment_type_id)),
        )
        .filter(slots::id.eq(asked.slot_id))
        .filter(slots::office_id.eq(office))
        .order(appointment_types::code)
        .select((
            Slot::as_select(),
            services::ServiceRow::as_select(),
            crate::store::catalogue::TypeRow::as_select(),
            case_holds_service,
            email_active,
            key_hash,
            key_booking,
            reference_taken,
        ))
        .load(conn)?;
    let Some((slot, _, _, _, email_active, hash, booking_id, reference_taken)) = rows.first()
    else {
        return Ok(None);
    };
    let (slot, email_active, hash, booking_id, reference_taken) = (
        slot.clone(),
        *email_active,
        hash.clone(),
        *booking_id,
        *reference_taken,
    );
    let services = rows
        .into_iter()
        .map(|(_, service, kind, holds, ..)| Ok((services::service((service, kind))?, holds)))
        .collect::<QueryResult<_>>()?;
    Ok(Some(Standing {
        slot,
        services,
        email_active: email_active.unwrap_or(0),
        key: hash.map(|request_hash| KeyRecord {
            request_hash,
            booking_id,
        }),
        reference_taken,
    }))
}

/// How the booking gets its seat.
#[derive(Clone, Copy)]
pub enum Seat {
    /// Claimed now, from the seats this channel may take.
    Claim(Channel),
    /// Already the booking's: an invitation's proposal or a waitlist offer held it.
    Held,
}

/// Everything a new booking records besides itself.
pub struct Records<'a> {
    pub seat: Seat,
    /// Its `confirmed` event: the detail for its history, and what the feed and webhooks
    /// publish, with the public type webhook subscriptions choose by.
    pub detail: &'a serde_json::Value,
    pub data: &'a serde_json::Value,
    pub public_type: &'static str,
    /// The confirmation (sent only where the booking has an email).
    pub mail: Option<MessageKind>,
    /// The Idempotency-Key and fingerprint of the request, to answer its retries.
    pub key: Option<(&'a str, &'a str)>,
}

/// What recording a new booking did.
pub enum Recorded {
    Booked(Box<Booking>),
    /// The seat was no longer free (or the slot was blocked meanwhile).
    NoSeat,
    /// A concurrent booking of the case for this service committed first.
    CaseTaken,
    /// A concurrent request with the same Idempotency-Key committed first.
    KeyTaken,
}

/// Takes the seat and records the booking with its event (and the webhook deliveries it
/// makes), its confirmation and its idempotency record: all of it, or (no seat) none.
pub fn record(
    conn: &mut DbConnection,
    new: NewBooking<'_>,
    records: Records<'_>,
    now: DateTime<Utc>,
) -> QueryResult<Recorded> {
    let done = match conn {
        DbConnection::Postgres(pg) => record_in_one_statement(pg, &new, &records, now),
        DbConnection::Sqlite(_) => record_step_by_step(conn, new, &records, now),
    };
    match done {
        Ok(Some(booking)) => Ok(Recorded::Booked(Box::new(booking))),
        Ok(None) => Ok(Recorded::NoSeat),
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
            match info.constraint_name() {
                Some("idempotency_keys_pkey") => Ok(Recorded::KeyTaken),
                Some("bookings_one_active_per_case") => Ok(Recorded::CaseTaken),
                _ => Err(Error::DatabaseError(
                    DatabaseErrorKind::UniqueViolation,
                    info,
                )),
            }
        }
        Err(error) => Err(error),
    }
}

/// SQLite: the steps in turn. Its errors name no constraint, so each step's unique violation
/// is told apart here (the reference was checked in [`standing`], in the same turn).
fn record_step_by_step(
    conn: &mut DbConnection,
    new: NewBooking<'_>,
    records: &Records<'_>,
    now: DateTime<Utc>,
) -> QueryResult<Option<Booking>> {
    if let Seat::Claim(channel) = records.seat
        && !seats::claim_seat(conn, new.office_id, new.slot_id, channel)?
    {
        return Ok(None);
    }
    let booking = match bookings::insert(conn, new, now) {
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            return Err(named_violation("bookings_one_active_per_case"));
        }
        other => other?,
    };
    let event = events::NewEvent {
        office_id: booking.office_id,
        booking_id: Some(booking.id),
        kind: EventKind::Confirmed,
        detail: Some(records.detail.clone()),
        actor_id: booking.created_by,
        client_id: None,
        data: records.data,
    };
    let event_id = events::insert(conn, event, now)?;
    webhooks::fan_out(conn, booking.office_id, event_id, records.public_type, now)?;
    if let Some(kind) = records.mail {
        let about = outbox::About {
            office_id: booking.office_id,
            subject: outbox::Subject::Booking(booking.id),
            reference: booking.reference.as_str(),
            email: booking.email.as_deref(),
            sequence: booking.sequence,
        };
        outbox::enqueue(conn, about, kind, now)?;
    }
    if let Some((key, fingerprint)) = records.key {
        let (office, id) = (booking.office_id, booking.id);
        let inserted = bookings::insert_key(conn, office, key, fingerprint, id, now);
        if let Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) = inserted {
            return Err(named_violation("idempotency_keys_pkey"));
        }
        inserted?;
    }
    Ok(Some(booking))
}

/// A unique violation of `constraint`, as PostgreSQL reports it.
fn named_violation(constraint: &'static str) -> Error {
    #[derive(Debug)]
    struct Violated(&'static str);
    impl diesel::result::DatabaseErrorInformation for Violated {
        fn message(&self) -> &str {
            "duplicate key value violates unique constraint"
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            Some(self.0)
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }
    Error::DatabaseError(
        DatabaseErrorKind::UniqueViolation,
        Box::new(Violated(constraint)),
    )
}

/// PostgreSQL: one statement. Each part reads the rows the one before it returned, so a slot
/// with no free seat leaves `claimed` empty and nothing else is written.
fn record_in_one_statement(
    pg: &mut diesel::PgConnection,
    new: &NewBooking<'_>,
    records: &Records<'_>,
    now: DateTime<Utc>,
) -> QueryResult<Option<Booking>> {
    let claimed = match records.seat {
        Seat::Claim(channel) => format!(
            "UPDATE slots SET {counter} = {counter} + 1 FROM p \
             WHERE slots.id = p.slot AND slots.office_id = p.office AND NOT blocked AND {free} \
             RETURNING slots.id",
            counter = seats::counter(channel),
            free = seats::free_for(channel),
        ),
        Seat::Held => "SELECT slots.id FROM slots, p \
                       WHERE slots.id = p.slot AND slots.office_id = p.office"
            .to_owned(),
    };
    let mail = match records.mail.is_some() && new.email.is_some() {
        true => {
            ", mail AS (INSERT INTO mail_outbox (office_id, booking_id, kind, sequence, \
             recipient, message_id, status, attempts, next_attempt_at, created_at, updated_at) \
             SELECT p.office, booked.id, p.mail_kind, booked.sequence, booked.email, \
             p.message_id, p.pending, 0, p.now, p.now, p.now FROM booked, p)"
        }
        false => "",
    };
    let key = match records.key {
        Some(_) => {
            ", key AS (INSERT INTO idempotency_keys (office_id, key, request_hash, booking_id, \
             created_at) SELECT p.office, p.key, p.fingerprint, booked.id, p.now FROM booked, p)"
        }
        None => "",
    };
    let rest = format!(
        ", claimed AS ({claimed}), \
         booked AS (INSERT INTO bookings (office_id, slot_id, office_service_id, reference, \
           token_hash, token_salt, case_number, full_name, email, mailbox, phone, language, \
           channel, status, is_test, sequence, created_by, intermediary_id, created_at, \
           updated_at) \
           SELECT p.office, claimed.id, p.service, p.reference, p.token_hash, p.token_salt, \
           p.case_number, p.full_name, p.email, p.mailbox, p.phone, p.language, p.channel, \
           p.status, p.is_test, 0, p.created_by, p.intermediary_id, p.now, p.now \
           FROM claimed, p RETURNING *), \
         event AS (INSERT INTO events (office_id, booking_id, kind, detail, actor_id, data, \
           created_at) SELECT p.office, booked.id, p.event_kind, p.detail, p.created_by, \
           p.data, p.now FROM booked, p RETURNING id), \
         deliveries AS (INSERT INTO webhook_deliveries (office_id, subscription_id, event_id, \
           next_attempt_at, created_at, updated_at) \
           SELECT p.office, s.id, event.id, p.now, p.now, p.now \
           FROM event, p, webhook_subscriptions s \
           WHERE s.office_id = p.office AND s.removed_at IS NULL AND {wanting}){mail}{key} \
         SELECT * FROM booked",
        wanting = webhooks::wanting_sql("strpos", "p.public_type"),
    );
    let (key, fingerprint) = records.key.unzip();
    let statement = OneStatement {
        parameters: Parameters {
            office: new.office_id.get(),
            slot: new.slot_id.get(),
            service: new.office_service_id.get(),
            reference: new.reference.as_str().to_owned(),
            token_hash: new.token_hash.to_owned(),
            token_salt: new.token_salt.to_owned(),
            case_number: new.case_number.as_str().to_owned(),
            full_name: new.full_name.to_owned(),
            email: new.email.map(|e| e.as_str().to_owned()),
            mailbox: new.email.map(|e| e.mailbox().to_owned()),
            phone: new.phone.map(str::to_owned),
            language: new.language.as_str().to_owned(),
            channel: new.channel.as_str(),
            status: Status::Confirmed.as_str(),
            is_test: new.is_test,
            created_by: new.created_by.map(StaffId::get),
            intermediary_id: new.intermediary_id.map(StaffId::get),
            now: db_time(now),
            event_kind: EventKind::Confirmed.as_str(),
            detail: records.detail.to_string(),
            data: records.data.to_string(),
            public_type: records.public_type,
            mail_kind: records.mail.map_or("", MessageKind::as_str),
            message_id: outbox::new_message_id(new.reference.as_str()),
            pending: DeliveryStatus::Pending.as_str(),
            key: key.unwrap_or_default().to_owned(),
            fingerprint: fingerprint.unwrap_or_default().to_owned(),
        },
        rest,
    };
    let rows: Vec<BookingRow> = statement.load(pg)?;
    rows.into_iter()
        .next()
        .map(BookingRow::into_booking)
        .transpose()
}

/// The values of the statement, each bound once, as the columns of its first `WITH` query
/// (`p`): the rest of the statement is then the same text for every booking of its kind, and
/// PostgreSQL plans it once per connection (diesel caches it by that text), where a statement
/// written with `sql_query` would be planned anew each time.
struct Parameters {
    office: i64,
    slot: i64,
    service: i64,
    reference: String,
    token_hash: String,
    token_salt: String,
    case_number: String,
    full_name: String,
    email: Option<String>,
    mailbox: Option<String>,
    phone: Option<String>,
    language: String,
    channel: &'static str,
    status: &'static str,
    is_test: bool,
    created_by: Option<i64>,
    intermediary_id: Option<i64>,
    now: chrono::NaiveDateTime,
    event_kind: &'static str,
    detail: String,
    data: String,
    public_type: &'static str,
    mail_kind: &'static str,
    message_id: String,
    pending: &'static str,
    key: String,
    fingerprint: String,
}

struct OneStatement {
    parameters: Parameters,
    /// What follows `WITH p AS (...)`.
    rest: String,
}

impl QueryFragment<Pg> for OneStatement {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let p = &self.parameters;
        out.push_sql("WITH p AS (SELECT ");
        macro_rules! columns {
            ($($name:ident: $type:ty),* $(,)?) => {
                let mut first = true;
                $(
                    if !first {
                        out.push_sql(", ");
                    }
                    first = false;
                    out.push_bind_param::<$type, _>(&p.$name)?;
                    out.push_sql(concat!(" AS ", stringify!($name)));
                )*
                let _ = first;
            };
        }
        columns!(
            office: BigInt, slot: BigInt, service: BigInt, reference: Text, token_hash: Text,
            token_salt: Text, case_number: Text, full_name: Text, email: Nullable<Text>,
            mailbox: Nullable<Text>, phone: Nullable<Text>, language: Text, channel: Text,
            status: Text, is_test: Bool, created_by: Nullable<BigInt>,
            intermediary_id: Nullable<BigInt>, now: Timestamp, event_kind: Text, detail: Text,
            data: Text, public_type: Text, mail_kind: Text, message_id: Text, pending: Text,
            key: Text, fingerprint: Text,
        );
        out.push_sql(")");
        out.push_sql(&self.rest);
        Ok(())
    }
}

impl QueryId for OneStatement {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for OneStatement {
    type SqlType = diesel::sql_types::Untyped;
}

impl RunQueryDsl<diesel::PgConnection> for OneStatement {}
