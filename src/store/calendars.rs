//! Calendars: groups of desks serving in parallel, the services they serve, their weekly hours.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{
    DbConnection, corrupt, db_time,
    schema::{calendar_services, calendars, opening_hours},
};
use crate::domain::{
    calendar::CalendarFields,
    hours::{Interval, TimeOfDay, WeeklyHours},
    ids::{CalendarId, OfficeId, ServiceId},
};

#[derive(Debug, Clone)]
pub struct Calendar {
    pub id: CalendarId,
    pub office_id: OfficeId,
    pub fields: CalendarFields,
    /// The office services the desks serve.
    pub service_ids: Vec<ServiceId>,
    pub hours: WeeklyHours,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = calendars)]
struct CalendarRow {
    id: CalendarId,
    office_id: OfficeId,
    name: String,
    desks: i32,
    valid_from: Option<NaiveDate>,
    valid_until: Option<NaiveDate>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// The office's calendars with their services and hours, oldest first (three queries in all).
pub fn list(conn: &mut DbConnection, office_id: OfficeId) -> QueryResult<Vec<Calendar>> {
    let rows: Vec<CalendarRow> = calendars::table
        .filter(calendars::office_id.eq(office_id))
        .select(CalendarRow::as_select())
        .order(calendars::id)
        .load(conn)?;
    assemble(conn, office_id, rows)
}

pub fn find(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: CalendarId,
) -> QueryResult<Option<Calendar>> {
    let rows: Vec<CalendarRow> = calendars::table
        .filter(calendars::office_id.eq(office_id))
        .filter(calendars::id.eq(id))
        .select(CalendarRow::as_select())
        .load(conn)?;
    Ok(assemble(conn, office_id, rows)?.pop())
}

/// The services and hours of `rows`, calendars of one office.
fn assemble(
    conn: &mut DbConnection,
    office_id: OfficeId,
    rows: Vec<CalendarRow>,
) -> QueryResult<Vec<Calendar>> {
    let ids: Vec<CalendarId> = rows.iter().map(|row| row.id).collect();
    let mut services: HashMap<CalendarId, Vec<ServiceId>> = HashMap::new();
    for (calendar_id, service_id) in calendar_services::table
        .filter(calendar_services::office_id.eq(office_id))
        .filter(calendar_services::calendar_id.eq_any(&ids))
        .select((
            calendar_services::calendar_id,
            calendar_services::office_service_id,
        ))
        .order(calendar_services::office_service_id)
        .load::<(CalendarId, ServiceId)>(conn)?
    {
        services.entry(calendar_id).or_default().push(service_id);
    }
    let mut hours: HashMap<CalendarId, Vec<Interval>> = HashMap::new();
    for (calendar_id, weekday, opens, closes) in opening_hours::table
        .filter(opening_hours::office_id.eq(office_id))
        .filter(opening_hours::calendar_id.eq_any(&ids))
        .select((
            opening_hours::calendar_id,
            opening_hours::weekday,
            opening_hours::opens_minute,
            opening_hours::closes_minute,
        ))
        .load::<(CalendarId, i32, i32, i32)>(conn)?
    {
        let interval = match (
            u8::try_from(weekday),
            TimeOfDay::from_minutes(opens),
            TimeOfDay::from_minutes(closes),
        ) {
            (Ok(weekday), Some(opens), Some(closes)) => Interval {
                weekday,
                opens,
                closes,
            },
            _ => return Err(corrupt(format!("opening hours of calendar {calendar_id}"))),
        };
        hours.entry(calendar_id).or_default().push(interval);
    }
    Ok(rows
        .into_iter()
        .map(|row| Calendar {
            id: row.id,
            office_id: row.office_id,
            service_ids: services.remove(&row.id).unwrap_or_default(),
            hours: WeeklyHours::from_intervals(hours.remove(&row.id).unwrap_or_default()),
            fields: CalendarFields {
                name: row.name,
                desks: row.desks,
                valid_from: row.valid_from,
                valid_until: row.valid_until,
            },
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        })
        .collect())
}

/// The office services a calendar of the office serves.
pub fn service_ids(
    conn: &mut DbConnection,
    office_id: OfficeId,
    calendar_id: CalendarId,
) -> QueryResult<Vec<ServiceId>> {
    calendar_services::table
        .filter(calendar_services::office_id.eq(office_id))
        .filter(calendar_services::calendar_id.eq(calendar_id))
        .select(calendar_services::office_service_id)
        .load(conn)
}

pub fn insert(
    conn: &mut DbConnection,
    office_id: OfficeId,
    fields: &CalendarFields,
    service_ids: &[ServiceId],
    now: DateTime<Utc>,
) -> QueryResult<CalendarId> {
    let id = diesel::insert_into(calendars::table)
        .values((
            calendars::office_id.eq(office_id),
            calendars::name.eq(&fields.name),
            calendars::desks.eq(fields.desks),
            calendars::valid_from.eq(fields.valid_from),
            calendars::valid_until.eq(fields.valid_until),
            calendars::created_at.eq(db_time(now)),
            calendars::updated_at.eq(db_time(now)),
        ))
        .returning(calendars::id)
        .get_result(conn)?;
    set_services(conn, office_id, id, service_ids)?;
    Ok(id)
}

pub fn update(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: CalendarId,
    fields: &CalendarFields,
    service_ids: &[ServiceId],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(
        calendars::table
            .find(id)
            .filter(calendars::office_id.eq(office_id)),
    )
    .set((
        calendars::name.eq(&fields.name),
        calendars::desks.eq(fields.desks),
        calendars::valid_from.eq(fields.valid_from),
        calendars::valid_until.eq(fields.valid_until),
        calendars::updated_at.eq(db_time(now)),
    ))
    .execute(conn)?;
    set_services(conn, office_id, id, service_ids)
}

fn set_services(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: CalendarId,
    service_ids: &[ServiceId],
) -> QueryResult<()> {
    diesel::delete(
        calendar_services::table
            .filter(calendar_services::office_id.eq(office_id))
            .filter(calendar_services::calendar_id.eq(id)),
    )
    .execute(conn)?;
    for service_id in service_ids {
        diesel::insert_into(calendar_services::table)
            .values((
                calendar_services::office_id.eq(office_id),
                calendar_services::calendar_id.eq(id),
                calendar_services::office_service_id.eq(service_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Replaces the calendar's weekly hours.
pub fn replace_hours(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: CalendarId,
    hours: &WeeklyHours,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::delete(
        opening_hours::table
            .filter(opening_hours::office_id.eq(office_id))
            .filter(opening_hours::calendar_id.eq(id)),
    )
    .execute(conn)?;
    for interval in hours.intervals() {
        diesel::insert_into(opening_hours::table)
            .values((
                opening_hours::office_id.eq(office_id),
                opening_hours::calendar_id.eq(id),
                opening_hours::weekday.eq(i32::from(interval.weekday)),
                opening_hours::opens_minute.eq(interval.opens.minutes()),
                opening_hours::closes_minute.eq(interval.closes.minutes()),
            ))
            .execute(conn)?;
    }
    diesel::update(
        calendars::table
            .find(id)
            .filter(calendars::office_id.eq(office_id)),
    )
    .set(calendars::updated_at.eq(db_time(now)))
    .execute(conn)?;
    Ok(())
}
