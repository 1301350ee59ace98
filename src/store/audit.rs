//! The audit log: who changed what, when, with the state before and after. Entries are written
//! in the same transaction as the change they describe.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;

use super::{
    DbConnection, db_time,
    schema::{audit_log, integration_clients, offices, staff},
};
use crate::domain::{
    audit::{Action, AuditEntry},
    ids::{AuditEntryId, OfficeId},
    integration::Author,
};

/// One change, as the code that makes it describes it.
pub struct Change {
    /// The office the change belongs to; `None` for national data such as the catalogue.
    pub office_id: Option<OfficeId>,
    pub author: Author,
    pub action: Action,
    pub entity_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub fn record(conn: &mut DbConnection, change: Change, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::office_id.eq(change.office_id),
            audit_log::actor_id.eq(change.author.staff_id()),
            audit_log::client_id.eq(change.author.client_id()),
            audit_log::action.eq(change.action.as_str()),
            audit_log::entity.eq(change.action.entity()),
            audit_log::entity_id.eq(change.entity_id),
            audit_log::before.eq(change.before.map(|v| v.to_string())),
            audit_log::after.eq(change.after.map(|v| v.to_string())),
            audit_log::at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Which entries to read: one office's, or (for national admins) everyone's.
pub enum Scope {
    Office(OfficeId),
    Everything,
}

type EntryRow = (
    AuditEntryId,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    NaiveDateTime,
);

/// The newest entries first, `limit` at most, older than `before_id` when given.
pub fn list(
    conn: &mut DbConnection,
    scope: Scope,
    before_id: Option<AuditEntryId>,
    limit: i64,
) -> QueryResult<Vec<AuditEntry>> {
    let mut query = audit_log::table
        .left_join(offices::table)
        .left_join(staff::table.on(staff::id.nullable().eq(audit_log::actor_id)))
        .left_join(
            integration_clients::table
                .on(integration_clients::id.nullable().eq(audit_log::client_id)),
        )
        .select((
            audit_log::id,
            offices::code.nullable(),
            staff::email.nullable(),
            integration_clients::client_id.nullable(),
            audit_log::action,
            audit_log::entity,
            audit_log::entity_id,
            audit_log::before,
            audit_log::after,
            audit_log::at,
        ))
        .order(audit_log::id.desc())
        .limit(limit)
        .into_boxed();
    if let Scope::Office(office_id) = scope {
        query = query.filter(audit_log::office_id.eq(office_id));
    }
    if let Some(before_id) = before_id {
        query = query.filter(audit_log::id.lt(before_id));
    }
    let parse = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
    Ok(query
        .load::<EntryRow>(conn)?
        .into_iter()
        .map(
            |(
                id,
                office_code,
                actor_email,
                actor_client,
                action,
                entity,
                entity_id,
                before,
                after,
                at,
            )| {
                AuditEntry {
                    id,
                    office_code,
                    actor_email,
                    actor_client,
                    action,
                    entity,
                    entity_id,
                    before: parse(before),
                    after: parse(after),
                    at: at.and_utc(),
                }
            },
        )
        .collect())
}
