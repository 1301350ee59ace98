//! Cases the case system registered with an office, and the types each is ready for.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{
    DbConnection, corrupt, db_time, on_backend,
    schema::{appointment_types, case_readiness, registered_cases},
};
use crate::domain::{
    catalogue::TypeCode,
    ids::{AppointmentTypeId, CaseId, OfficeId},
};

/// A registered case as stored, with its secret's salt and keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCase {
    pub id: CaseId,
    pub case_number: String,
    pub email: Option<String>,
    pub language: String,
    pub secret_salt: String,
    pub secret_hash: String,
    /// The types it is ready for, by code, and from which day (`None`: at once); in code order.
    pub ready_for: Vec<(TypeCode, Option<NaiveDate>)>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a case holds, as written.
pub struct CaseFields<'a> {
    pub email: Option<&'a str>,
    pub language: &'a str,
    pub secret_salt: &'a str,
    pub secret_hash: &'a str,
}

type CaseRow = (
    CaseId,
    String,
    Option<String>,
    String,
    String,
    String,
    NaiveDateTime,
    NaiveDateTime,
);

type CaseColumns = (
    registered_cases::id,
    registered_cases::case_number,
    registered_cases::email,
    registered_cases::language,
    registered_cases::secret_salt,
    registered_cases::secret_hash,
    registered_cases::created_at,
    registered_cases::updated_at,
);

const COLUMNS: CaseColumns = (
    registered_cases::id,
    registered_cases::case_number,
    registered_cases::email,
    registered_cases::language,
    registered_cases::secret_salt,
    registered_cases::secret_hash,
    registered_cases::created_at,
    registered_cases::updated_at,
);

/// The office's cases with these numbers, by number; with their readiness.
pub fn find_many(
    conn: &mut DbConnection,
    office_id: OfficeId,
    case_numbers: &[&str],
) -> QueryResult<HashMap<String, StoredCase>> {
    let rows: Vec<CaseRow> = registered_cases::table
        .filter(registered_cases::office_id.eq(office_id))
        .filter(registered_cases::case_number.eq_any(case_numbers))
        .select(COLUMNS)
        .load(conn)?;
    let ids: Vec<CaseId> = rows.iter().map(|row| row.0).collect();
    let mut readiness: HashMap<CaseId, Vec<(TypeCode, Option<NaiveDate>)>> = HashMap::new();
    let ready_rows: Vec<(CaseId, String, Option<NaiveDate>)> = case_readiness::table
        .inner_join(appointment_types::table)
        .filter(case_readiness::office_id.eq(office_id))
        .filter(case_readiness::case_id.eq_any(&ids))
        .select((
            case_readiness::case_id,
            appointment_types::code,
            case_readiness::ready_from,
        ))
        .order((case_readiness::case_id, appointment_types::code))
        .load(conn)?;
    for (case_id, code, from) in ready_rows {
        let code = TypeCode::parse(&code).map_err(|_| corrupt(format!("type code {code:?}")))?;
        readiness.entry(case_id).or_default().push((code, from));
    }
    Ok(rows
        .into_iter()
        .map(
            |(id, case_number, email, language, secret_salt, secret_hash, created, updated)| {
                let case = StoredCase {
                    id,
                    case_number: case_number.clone(),
                    email,
                    language,
                    secret_salt,
                    secret_hash,
                    ready_for: readiness.remove(&id).unwrap_or_default(),
                    created_at: created.and_utc(),
                    updated_at: updated.and_utc(),
                };
                (case_number, case)
            },
        )
        .collect())
}

pub fn find(
    conn: &mut DbConnection,
    office_id: OfficeId,
    case_number: &str,
) -> QueryResult<Option<StoredCase>> {
    Ok(find_many(conn, office_id, &[case_number])?.remove(case_number))
}

pub fn insert(
    conn: &mut DbConnection,
    office_id: OfficeId,
    case_number: &str,
    fields: CaseFields<'_>,
    now: DateTime<Utc>,
) -> QueryResult<CaseId> {
    diesel::insert_into(registered_cases::table)
        .values((
            registered_cases::office_id.eq(office_id),
            registered_cases::case_number.eq(case_number),
            registered_cases::email.eq(fields.email),
            registered_cases::language.eq(fields.language),
            registered_cases::secret_salt.eq(fields.secret_salt),
            registered_cases::secret_hash.eq(fields.secret_hash),
            registered_cases::created_at.eq(db_time(now)),
            registered_cases::updated_at.eq(db_time(now)),
        ))
        .returning(registered_cases::id)
        .get_result(conn)
}

pub fn update(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: CaseId,
    fields: CaseFields<'_>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let case = registered_cases::table
        .filter(registered_cases::office_id.eq(office_id))
        .filter(registered_cases::id.eq(id));
    diesel::update(case)
        .set((
            registered_cases::email.eq(fields.email),
            registered_cases::language.eq(fields.language),
            registered_cases::secret_salt.eq(fields.secret_salt),
            registered_cases::secret_hash.eq(fields.secret_hash),
            registered_cases::updated_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A type a case is ready for, as written.
#[derive(Insertable)]
#[diesel(table_name = case_readiness)]
pub struct ReadinessRow {
    pub office_id: OfficeId,
    pub case_id: CaseId,
    pub appointment_type_id: AppointmentTypeId,
    pub ready_from: Option<NaiveDate>,
}

/// Forgets the types a case is ready for (before they are written anew).
pub fn clear_readiness(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: CaseId,
) -> QueryResult<()> {
    diesel::delete(
        case_readiness::table
            .filter(case_readiness::office_id.eq(office_id))
            .filter(case_readiness::case_id.eq(id)),
    )
    .execute(conn)?;
    Ok(())
}

/// Writes readiness rows, many per statement: an import writes a chunk's in a few statements
/// rather than one per case.
pub fn insert_readiness(conn: &mut DbConnection, rows: &[ReadinessRow]) -> QueryResult<()> {
    // Three values a row, well inside SQLite's limit of 32,766 per statement.
    for batch in rows.chunks(1000) {
        on_backend!(conn, |c| diesel::insert_into(case_readiness::table)
            .values(batch)
            .execute(c))?;
    }
    Ok(())
}

/// Refreshes the planner's statistics of the case tables. A large import grows them far beyond
/// what the statistics say (a fresh table has none), and PostgreSQL then plans the import's own
/// lookups, and the booking's, as scans: the same 50,000-case file took 30 s to read again
/// instead of 0.35 s before this was run. Autovacuum gets there too, but later.
pub fn refresh_statistics(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Postgres(pg) => {
            diesel::sql_query("ANALYZE registered_cases, case_readiness").execute(pg)?;
        }
        DbConnection::Sqlite(lite) => {
            diesel::sql_query("ANALYZE registered_cases").execute(lite)?;
            diesel::sql_query("ANALYZE case_readiness").execute(lite)?;
        }
    }
    Ok(())
}
