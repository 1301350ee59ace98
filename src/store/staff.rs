//! Staff accounts.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{
    DbConnection, corrupt, db_time, named,
    schema::{offices, staff},
};
use crate::domain::{
    Named,
    ids::{OfficeId, StaffId},
    staff::{Actor, EmailAddress, OfficeCode, Role},
};

/// A staff account as the rest of the program sees it (never with its password hash).
#[derive(Debug, Clone)]
pub struct StaffMember {
    pub id: StaffId,
    pub email: String,
    pub role: Role,
    pub office_code: Option<OfficeCode>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl StaffMember {
    /// The member as the acting party of a request.
    pub fn actor(&self) -> Actor {
        Actor {
            staff_id: self.id,
            role: self.role,
            office: self.office_code.clone(),
        }
    }
}

/// What a login needs to check a password.
pub struct Credentials {
    pub member: StaffMember,
    pub password_hash: String,
}

type MemberColumns = (
    staff::id,
    staff::email,
    staff::role,
    diesel::dsl::Nullable<offices::code>,
    staff::active,
    staff::created_at,
);

fn member_columns() -> MemberColumns {
    (
        staff::id,
        staff::email,
        staff::role,
        offices::code.nullable(),
        staff::active,
        staff::created_at,
    )
}

type MemberRow = (
    StaffId,
    String,
    String,
    Option<String>,
    bool,
    chrono::NaiveDateTime,
);

fn member(row: MemberRow) -> QueryResult<StaffMember> {
    let (id, email, role, office_code, active, created_at) = row;
    let role = named::<Role>(&role)?;
    let office_code = office_code
        .map(|code| {
            OfficeCode::parse(&code).map_err(|_| corrupt(format!("bad office code {code:?}")))
        })
        .transpose()?;
    Ok(StaffMember {
        id,
        email,
        role,
        office_code,
        active,
        created_at: created_at.and_utc(),
    })
}

pub fn find(conn: &mut DbConnection, id: StaffId) -> QueryResult<Option<StaffMember>> {
    staff::table
        .left_join(offices::table)
        .filter(staff::id.eq(id))
        .select(member_columns())
        .first::<MemberRow>(conn)
        .optional()?
        .map(member)
        .transpose()
}

pub fn find_credentials(
    conn: &mut DbConnection,
    email: &EmailAddress,
) -> QueryResult<Option<Credentials>> {
    let found = staff::table
        .left_join(offices::table)
        .filter(staff::email.eq(email.as_str()))
        .select((member_columns(), staff::password_hash))
        .first::<(MemberRow, String)>(conn)
        .optional()?;
    found
        .map(|(row, password_hash)| {
            Ok(Credentials {
                member: member(row)?,
                password_hash,
            })
        })
        .transpose()
}

/// The office of the account with this email (`Some(None)` for an admin's), if there is one.
pub fn office_of(
    conn: &mut DbConnection,
    email: &EmailAddress,
) -> QueryResult<Option<Option<OfficeCode>>> {
    find_credentials(conn, email).map(|found| found.map(|c| c.member.office_code))
}

/// Staff of one office, or everyone when `office_id` is `None`, oldest first.
pub fn list(conn: &mut DbConnection, office_id: Option<OfficeId>) -> QueryResult<Vec<StaffMember>> {
    let mut query = staff::table
        .left_join(offices::table)
        .select(member_columns())
        .order(staff::id)
        .into_boxed();
    if let Some(office_id) = office_id {
        query = query.filter(staff::office_id.eq(office_id));
    }
    query
        .load::<MemberRow>(conn)?
        .into_iter()
        .map(member)
        .collect()
}

pub struct NewStaff<'a> {
    pub email: &'a EmailAddress,
    pub password_hash: &'a str,
    pub role: Role,
    pub office_id: Option<OfficeId>,
}

/// Inserts the account and returns its id. A taken email fails with a unique violation.
pub fn insert(
    conn: &mut DbConnection,
    new: NewStaff<'_>,
    now: DateTime<Utc>,
) -> QueryResult<StaffId> {
    diesel::insert_into(staff::table)
        .values((
            staff::email.eq(new.email.as_str()),
            staff::password_hash.eq(new.password_hash),
            staff::role.eq(new.role.as_str()),
            staff::office_id.eq(new.office_id),
            staff::active.eq(true),
            staff::created_at.eq(db_time(now)),
            staff::updated_at.eq(db_time(now)),
        ))
        .returning(staff::id)
        .get_result(conn)
}

pub fn set_active(
    conn: &mut DbConnection,
    id: StaffId,
    active: bool,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(staff::table.find(id))
        .set((staff::active.eq(active), staff::updated_at.eq(db_time(now))))
        .execute(conn)?;
    Ok(())
}
