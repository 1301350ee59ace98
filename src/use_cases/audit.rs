//! Writing the audit log: who changed what, with the state before and after, in the same
//! transaction as the change.

use std::fmt::Display;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::{
    domain::{audit::Action, ids::OfficeId, integration::Author},
    store::{DbConnection, audit},
};

/// Who changes things, and when: what every entry they cause records.
pub struct Audit {
    author: Author,
    now: DateTime<Utc>,
}

impl Audit {
    /// Entries written by a staff member (`&Actor`) or a caller of the case system's endpoints.
    pub fn by(author: impl Into<Author>, now: DateTime<Utc>) -> Audit {
        Audit {
            author: author.into(),
            now,
        }
    }

    /// Something new: `after` is its view.
    pub fn created(
        &self,
        conn: &mut DbConnection,
        office: Option<OfficeId>,
        action: Action,
        entity_id: impl Display,
        after: &impl Serialize,
    ) -> diesel::QueryResult<()> {
        self.record(conn, office, action, entity_id, None, Some(json(after)))
    }

    /// A change from `before` to `after`.
    pub fn changed(
        &self,
        conn: &mut DbConnection,
        office: Option<OfficeId>,
        action: Action,
        entity_id: impl Display,
        before: &impl Serialize,
        after: &impl Serialize,
    ) -> diesel::QueryResult<()> {
        let (before, after) = (Some(json(before)), Some(json(after)));
        self.record(conn, office, action, entity_id, before, after)
    }

    /// Something taken away.
    pub fn removed(
        &self,
        conn: &mut DbConnection,
        office: Option<OfficeId>,
        action: Action,
        entity_id: impl Display,
    ) -> diesel::QueryResult<()> {
        self.record(conn, office, action, entity_id, None, None)
    }

    fn record(
        &self,
        conn: &mut DbConnection,
        office_id: Option<OfficeId>,
        action: Action,
        entity_id: impl Display,
        before: Option<Value>,
        after: Option<Value>,
    ) -> diesel::QueryResult<()> {
        let change = audit::Change {
            office_id,
            author: self.author,
            action,
            entity_id: entity_id.to_string(),
            before,
            after,
        };
        audit::record(conn, change, self.now)
    }
}

fn json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
