//! Intermediaries' accreditations at offices, and what their quotas count.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::{dsl::count_star, prelude::*};

use super::{
    DbConnection, db_time, is_unique_violation,
    schema::{accreditations, bookings, staff},
};
use crate::domain::{
    ids::{OfficeId, StaffId},
    intermediary::Quota,
};

/// An accreditation, with the intermediary's sign-in email.
#[derive(Debug, Clone)]
pub struct Accreditation {
    pub office_id: OfficeId,
    pub intermediary_id: StaffId,
    pub email: String,
    pub organisation: String,
    pub quota: Quota,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

type Row = (
    OfficeId,
    StaffId,
    String,
    String,
    i32,
    i32,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

fn columns() -> (
    accreditations::office_id,
    accreditations::intermediary_id,
    staff::email,
    accreditations::organisation,
    accreditations::max_active,
    accreditations::max_per_week,
    accreditations::created_at,
    accreditations::revoked_at,
) {
    (
        accreditations::office_id,
        accreditations::intermediary_id,
        staff::email,
        accreditations::organisation,
        accreditations::max_active,
        accreditations::max_per_week,
        accreditations::created_at,
        accreditations::revoked_at,
    )
}

fn from_row(row: Row) -> Accreditation {
    let (office_id, intermediary_id, email, organisation, active, weekly, created, revoked) = row;
    Accreditation {
        office_id,
        intermediary_id,
        email,
        organisation,
        quota: Quota {
            max_active: i64::from(active),
            max_per_week: i64::from(weekly),
        },
        created_at: created.and_utc(),
        revoked_at: revoked.map(|at| at.and_utc()),
    }
}

/// The office's accreditations, revoked ones too, by organisation.
pub fn list(conn: &mut DbConnection, office_id: OfficeId) -> QueryResult<Vec<Accreditation>> {
    accreditations::table
        .inner_join(staff::table.on(staff::id.eq(accreditations::intermediary_id)))
        .filter(accreditations::office_id.eq(office_id))
        .order((accreditations::organisation, accreditations::id))
        .select(columns())
        .load::<Row>(conn)
        .map(|rows| rows.into_iter().map(from_row).collect())
}

pub fn find(
    conn: &mut DbConnection,
    office_id: OfficeId,
    intermediary_id: StaffId,
) -> QueryResult<Option<Accreditation>> {
    accreditations::table
        .inner_join(staff::table.on(staff::id.eq(accreditations::intermediary_id)))
        .filter(accreditations::office_id.eq(office_id))
        .filter(accreditations::intermediary_id.eq(intermediary_id))
        .select(columns())
        .first::<Row>(conn)
        .optional()
        .map(|row| row.map(from_row))
}

/// Accredits the intermediary at the office with these quotas, or changes them (and lifts a
/// revocation).
pub fn put(
    conn: &mut DbConnection,
    office_id: OfficeId,
    intermediary_id: StaffId,
    organisation: &str,
    quota: Quota,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let (active, weekly) = (
        i32::try_from(quota.max_active).unwrap_or(i32::MAX),
        i32::try_from(quota.max_per_week).unwrap_or(i32::MAX),
    );
    let update = |conn: &mut DbConnection| {
        diesel::update(
            accreditations::table
                .filter(accreditations::office_id.eq(office_id))
                .filter(accreditations::intermediary_id.eq(intermediary_id)),
        )
        .set((
            accreditations::organisation.eq(organisation),
            accreditations::max_active.eq(active),
            accreditations::max_per_week.eq(weekly),
            accreditations::updated_at.eq(db_time(now)),
            accreditations::revoked_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
    };
    if update(conn)? == 0 {
        // Two admins accrediting at once: the second insert meets the first's row, which it
        // then updates (the unique index, not a lock, decides).
        // In a savepoint: on PostgreSQL a failed statement spoils the whole transaction.
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(accreditations::table)
                .values((
                    accreditations::office_id.eq(office_id),
                    accreditations::intermediary_id.eq(intermediary_id),
                    accreditations::organisation.eq(organisation),
                    accreditations::max_active.eq(active),
                    accreditations::max_per_week.eq(weekly),
                    accreditations::created_at.eq(db_time(now)),
                    accreditations::updated_at.eq(db_time(now)),
                ))
                .execute(conn)
        });
        match inserted {
            Err(error) if is_unique_violation(&error) => {
                update(conn)?;
            }
            other => {
                other?;
            }
        }
    }
    Ok(())
}

/// Revokes the accreditation; false when there was none in force.
pub fn revoke(
    conn: &mut DbConnection,
    office_id: OfficeId,
    intermediary_id: StaffId,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        accreditations::table
            .filter(accreditations::office_id.eq(office_id))
            .filter(accreditations::intermediary_id.eq(intermediary_id))
            .filter(accreditations::revoked_at.is_null()),
    )
    .set((
        accreditations::revoked_at.eq(db_time(now)),
        accreditations::updated_at.eq(db_time(now)),
    ))
    .execute(conn)
    .map(|changed| changed > 0)
}

/// The quota of the accreditation in force, with its row locked until the transaction ends
/// (an update that changes nothing takes the row lock on PostgreSQL; SQLite's writers take
/// turns), so that two bookings at once cannot both take the last place.
pub fn lock_quota(
    conn: &mut DbConnection,
    office_id: OfficeId,
    intermediary_id: StaffId,
) -> QueryResult<Option<Quota>> {
    let in_force = accreditations::table
        .filter(accreditations::office_id.eq(office_id))
        .filter(accreditations::intermediary_id.eq(intermediary_id))
        .filter(accreditations::revoked_at.is_null());
    let locked = diesel::update(in_force)
        .set(accreditations::office_id.eq(office_id))
        .execute(conn)?;
    if locked == 0 {
        return Ok(None);
    }
    in_force
        .select((accreditations::max_active, accreditations::max_per_week))
        .first::<(i32, i32)>(conn)
        .map(|(active, weekly)| {
            Some(Quota {
                max_active: i64::from(active),
                max_per_week: i64::from(weekly),
            })
        })
}

/// What counts against the quota: the intermediary's active bookings at the office, and the
/// bookings made there since `week_start` (cancelled ones too: cancelling gives no place back).
pub fn usage(
    conn: &mut DbConnection,
    office_id: OfficeId,
    intermediary_id: StaffId,
    week_start: DateTime<Utc>,
) -> QueryResult<(i64, i64)> {
    let theirs = || {
        bookings::table
            .filter(bookings::office_id.eq(office_id))
            .filter(bookings::intermediary_id.eq(intermediary_id))
    };
    let active = theirs()
        .filter(bookings::status.eq_any(super::bookings::active_statuses()))
        .select(count_star())
        .first(conn)?;
    let this_week = theirs()
        .filter(bookings::created_at.ge(db_time(week_start)))
        .select(count_star())
        .first(conn)?;
    Ok((active, this_week))
}
