//! Offices as staff accounts see them: a code and a name.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{DbConnection, db_time, schema::offices};
use crate::domain::staff::OfficeCode;

/// The office's row id, when an office has this code.
pub fn id_by_code(conn: &mut DbConnection, code: &OfficeCode) -> QueryResult<Option<i64>> {
    offices::table
        .filter(offices::code.eq(code.as_str()))
        .select(offices::id)
        .first(conn)
        .optional()
}

/// Creates an office with just a code and a name; returns its id.
pub fn insert(
    conn: &mut DbConnection,
    code: &OfficeCode,
    name: &str,
    now: DateTime<Utc>,
) -> QueryResult<i64> {
    diesel::insert_into(offices::table)
        .values((
            offices::code.eq(code.as_str()),
            offices::name.eq(name),
            offices::created_at.eq(db_time(now)),
        ))
        .returning(offices::id)
        .get_result(conn)
}
