//! Integration clients: the case system's machine accounts.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{
    DbConnection, corrupt, db_time,
    schema::{integration_clients, offices},
};
use crate::domain::{
    ids::{IntegrationClientId, OfficeId, StaffId},
    office::OfficeCode,
};

/// A client as stored, without its secret's fingerprint.
#[derive(Debug, Clone)]
pub struct StoredClient {
    pub id: IntegrationClientId,
    pub client_id: String,
    pub name: String,
    pub office_id: Option<OfficeId>,
    pub office_code: Option<OfficeCode>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub struct NewClient<'a> {
    pub client_id: &'a str,
    pub secret_fingerprint: &'a str,
    pub name: &'a str,
    pub office_id: Option<OfficeId>,
    pub created_by: StaffId,
}

type ClientRow = (
    IntegrationClientId,
    String,
    String,
    Option<OfficeId>,
    Option<String>,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

type ClientColumns = (
    integration_clients::id,
    integration_clients::client_id,
    integration_clients::name,
    integration_clients::office_id,
    diesel::dsl::Nullable<offices::code>,
    integration_clients::created_at,
    integration_clients::revoked_at,
);

fn columns() -> ClientColumns {
    (
        integration_clients::id,
        integration_clients::client_id,
        integration_clients::name,
        integration_clients::office_id,
        offices::code.nullable(),
        integration_clients::created_at,
        integration_clients::revoked_at,
    )
}

fn client(
    (id, client_id, name, office_id, office, created_at, revoked_at): ClientRow,
) -> QueryResult<StoredClient> {
    let office_code = office
        .map(|code| OfficeCode::parse(&code).map_err(|_| corrupt(format!("office code {code:?}"))))
        .transpose()?;
    Ok(StoredClient {
        id,
        client_id,
        name,
        office_id,
        office_code,
        created_at: created_at.and_utc(),
        revoked_at: revoked_at.map(|at| at.and_utc()),
    })
}

pub fn insert(
    conn: &mut DbConnection,
    new: NewClient<'_>,
    now: DateTime<Utc>,
) -> QueryResult<IntegrationClientId> {
    diesel::insert_into(integration_clients::table)
        .values((
            integration_clients::client_id.eq(new.client_id),
            integration_clients::secret_hash.eq(new.secret_fingerprint),
            integration_clients::name.eq(new.name),
            integration_clients::office_id.eq(new.office_id),
            integration_clients::created_by.eq(new.created_by),
            integration_clients::created_at.eq(db_time(now)),
        ))
        .returning(integration_clients::id)
        .get_result(conn)
}

pub fn find(conn: &mut DbConnection, id: IntegrationClientId) -> QueryResult<Option<StoredClient>> {
    integration_clients::table
        .left_join(offices::table)
        .filter(integration_clients::id.eq(id))
        .select(columns())
        .first::<ClientRow>(conn)
        .optional()?
        .map(client)
        .transpose()
}

/// The client with this client id, and its secret's fingerprint.
pub fn find_by_client_id(
    conn: &mut DbConnection,
    client_id: &str,
) -> QueryResult<Option<(StoredClient, String)>> {
    integration_clients::table
        .left_join(offices::table)
        .filter(integration_clients::client_id.eq(client_id))
        .select((columns(), integration_clients::secret_hash))
        .first::<(ClientRow, String)>(conn)
        .optional()?
        .map(|(row, fingerprint)| Ok((client(row)?, fingerprint)))
        .transpose()
}

/// Every client, oldest first.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<StoredClient>> {
    integration_clients::table
        .left_join(offices::table)
        .select(columns())
        .order(integration_clients::id)
        .load::<ClientRow>(conn)?
        .into_iter()
        .map(client)
        .collect()
}

pub fn revoke(
    conn: &mut DbConnection,
    id: IntegrationClientId,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(integration_clients::table.filter(integration_clients::id.eq(id)))
        .filter(integration_clients::revoked_at.is_null())
        .set(integration_clients::revoked_at.eq(db_time(now)))
        .execute(conn)?;
    Ok(())
}
