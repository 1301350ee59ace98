//! The services an office offers: catalogue types it has turned on, with its own settings.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::domain::{
    attendance::{NoShowRule, Reconfirmation},
    catalogue::TypeCode,
    hours::TimeOfDay,
    ids::{AppointmentTypeId, CalendarId, OfficeId, ServiceId, SlotId},
    release::ReleaseRule,
    service::ServiceSettings,
    validation::Named,
};

use super::{
    DbConnection,
    catalogue::{AppointmentType, TypeRow},
    corrupt, db_time, named,
    schema::{appointment_types, calendar_services, office_services, slots},
    slots::Slot,
};

#[derive(Debug, Clone)]
pub struct OfficeService {
    pub id: ServiceId,
    pub office_id: OfficeId,
    pub appointment_type: AppointmentType,
    pub settings: ServiceSettings,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OfficeService {
    pub fn duration_minutes(&self) -> i32 {
        self.settings
            .duration(self.appointment_type.default_duration_minutes)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = office_services)]
pub(super) struct ServiceRow {
    id: ServiceId,
    office_id: OfficeId,
    #[diesel(embed)]
    settings: SettingsRow,
    active: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// The settings' columns, read and written together; `None` writes NULL (the catalogue's
/// duration).
#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = office_services, treat_none_as_null = true)]
pub(super) struct SettingsRow {
    duration_minutes: Option<i32>,
    eligibility: String,
    min_notice_hours: i32,
    horizon_days: i32,
    desk_share_percent: i32,
    change_cutoff_hours: i32,
    release_mode: String,
    lottery_window_minutes: i32,
    release_weekday: Option<i32>,
    release_minute: Option<i32>,
    release_weeks_ahead: Option<i32>,
    reconfirm_days_before: Option<i32>,
    reconfirm_release_hours: Option<i32>,
    no_show_limit: Option<i32>,
    no_show_within_days: Option<i32>,
    no_show_desk_only_days: Option<i32>,
}

impl TryFrom<SettingsRow> for ServiceSettings {
    type Error = diesel::result::Error;

    fn try_from(row: SettingsRow) -> QueryResult<ServiceSettings> {
        Ok(ServiceSettings {
            duration_minutes: row.duration_minutes,
            eligibility: named(&row.eligibility)?,
            min_notice_hours: row.min_notice_hours,
            horizon_days: row.horizon_days,
            desk_share_percent: row.desk_share_percent,
            change_cutoff_hours: row.change_cutoff_hours,
            release_mode: named(&row.release_mode)?,
            lottery_window_minutes: row.lottery_window_minutes,
            release_rule: match (
                row.release_weekday,
                row.release_minute,
                row.release_weeks_ahead,
            ) {
                (Some(weekday), Some(minute), Some(weeks)) => Some(ReleaseRule {
                    weekday: u8::try_from(weekday)
                        .map_err(|_| corrupt("release weekday".into()))?,
                    at: TimeOfDay::from_minutes(minute)
                        .ok_or_else(|| corrupt("release time".into()))?,
                    weeks_ahead: u8::try_from(weeks)
                        .map_err(|_| corrupt("release weeks".into()))?,
                }),
                _ => None,
            },
            reconfirmation: match (row.reconfirm_days_before, row.reconfirm_release_hours) {
                (Some(ask_days_before), Some(release_hours_before)) => Some(Reconfirmation {
                    ask_days_before,
                    release_hours_before,
                }),
                _ => None,
            },
            no_show_rule: match (
                row.no_show_limit,
                row.no_show_within_days,
                row.no_show_desk_only_days,
            ) {
                (Some(limit), Some(within_days), Some(desk_only_days)) => Some(NoShowRule {
                    limit,
                    within_days,
                    desk_only_days,
                }),
                _ => None,
            },
        })
    }
}

impl From<&ServiceSettings> for SettingsRow {
    fn from(settings: &ServiceSettings) -> SettingsRow {
        SettingsRow {
            duration_minutes: settings.duration_minutes,
            eligibility: settings.eligibility.as_str().to_owned(),
            min_notice_hours: settings.min_notice_hours,
            horizon_days: settings.horizon_days,
            desk_share_percent: settings.desk_share_percent,
            change_cutoff_hours: settings.change_cutoff_hours,
            release_mode: settings.release_mode.as_str().to_owned(),
            lottery_window_minutes: settings.lottery_window_minutes,
            release_weekday: settings.release_rule.map(|rule| i32::from(rule.weekday)),
            release_minute: settings.release_rule.map(|rule| rule.at.minutes()),
            release_weeks_ahead: settings
                .release_rule
                .map(|rule| i32::from(rule.weeks_ahead)),
            reconfirm_days_before: settings.reconfirmation.map(|r| r.ask_days_before),
            reconfirm_release_hours: settings.reconfirmation.map(|r| r.release_hours_before),
            no_show_limit: settings.no_show_rule.map(|rule| rule.limit),
            no_show_within_days: settings.no_show_rule.map(|rule| rule.within_days),
            no_show_desk_only_days: settings.no_show_rule.map(|rule| rule.desk_only_days),
        }
    }
}

pub(super) fn service(
    (row, appointment_type): (ServiceRow, TypeRow),
) -> QueryResult<OfficeService> {
    Ok(OfficeService {
        id: row.id,
        office_id: row.office_id,
        appointment_type: appointment_type.into_type()?,
        settings: row.settings.try_into()?,
        active: row.active,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    })
}

/// Office services joined with their catalogue type, by type code: what every read of whole
/// services starts from.
fn with_types<'a>() -> WithTypes<'a> {
    office_services::table
        .inner_join(appointment_types::table)
        .select((ServiceRow::as_select(), TypeRow::as_select()))
        .order(appointment_types::code)
        .into_boxed()
}

type WithTypes<'a> = diesel::dsl::IntoBoxed<
    'a,
    diesel::dsl::Order<
        diesel::dsl::Select<
            diesel::dsl::InnerJoin<office_services::table, appointment_types::table>,
            (
                diesel::dsl::AsSelect<ServiceRow, Db>,
                diesel::dsl::AsSelect<TypeRow, Db>,
            ),
        >,
        appointment_types::code,
    >,
    Db,
>;

type Db = <DbConnection as diesel::Connection>::Backend;

fn all_of(rows: Vec<(ServiceRow, TypeRow)>) -> QueryResult<Vec<OfficeService>> {
    rows.into_iter().map(service).collect()
}

pub fn find_by_id(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: ServiceId,
) -> QueryResult<Option<OfficeService>> {
    let found = with_types()
        .filter(office_services::office_id.eq(office_id))
        .filter(office_services::id.eq(id));
    Ok(all_of(found.load(conn)?)?.pop())
}

/// How an office runs one type, without the type's texts: what availability and booking
/// rules need, in one indexed query.
#[derive(Debug, Clone)]
pub struct Rules {
    pub id: ServiceId,
    pub active: bool,
    pub settings: ServiceSettings,
}

pub fn rules(
    conn: &mut DbConnection,
    office_id: OfficeId,
    type_code: &TypeCode,
) -> QueryResult<Option<Rules>> {
    let row: Option<ServiceRow> = office_services::table
        .inner_join(appointment_types::table)
        .filter(office_services::office_id.eq(office_id))
        .filter(appointment_types::code.eq(type_code.as_str()))
        .select(ServiceRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|row| {
        Ok(Rules {
            id: row.id,
            active: row.active,
            settings: row.settings.try_into()?,
        })
    })
    .transpose()
}

/// The active services a calendar serves. On every booking's path, so a static query (diesel
/// prepares it once per connection) rather than one built on `with_types`.
pub fn serving(
    conn: &mut DbConnection,
    office_id: OfficeId,
    calendar_id: CalendarId,
) -> QueryResult<Vec<OfficeService>> {
    let rows = office_services::table
        .inner_join(appointment_types::table)
        .inner_join(calendar_services::table)
        .filter(office_services::office_id.eq(office_id))
        .filter(calendar_services::calendar_id.eq(calendar_id))
        .filter(office_services::active.eq(true))
        .select((ServiceRow::as_select(), TypeRow::as_select()))
        .order(appointment_types::code)
        .load(conn)?;
    all_of(rows)
}

/// The slot `id` of the office with the active services its calendar serves, in one query:
/// what a booking request is first checked against. `None`: the office has no such slot.
pub fn slot_with_services(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: SlotId,
) -> QueryResult<Option<(Slot, Vec<OfficeService>)>> {
    let rows: Vec<(Slot, ServiceRow, TypeRow)> = slots::table
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
        .filter(slots::id.eq(id))
        .filter(slots::office_id.eq(office_id))
        .order(appointment_types::code)
        .select((
            Slot::as_select(),
            ServiceRow::as_select(),
            TypeRow::as_select(),
        ))
        .load(conn)?;
    let Some((slot, ..)) = rows.first() else {
        // Rare: no such slot, or its calendar serves nothing now.
        let slot = super::slots::find(conn, office_id, id)?;
        return Ok(slot.map(|slot| (slot, Vec::new())));
    };
    let slot = slot.clone();
    let services = rows.into_iter().map(|(_, row, kind)| service((row, kind)));
    Ok(Some((slot, services.collect::<QueryResult<_>>()?)))
}

/// The office's services, active or not, by type code.
pub fn list(conn: &mut DbConnection, office_id: OfficeId) -> QueryResult<Vec<OfficeService>> {
    all_of(
        with_types()
            .filter(office_services::office_id.eq(office_id))
            .load(conn)?,
    )
}

/// Every office's services that ask applicants to reconfirm, for housekeeping.
pub fn asking_to_reconfirm(conn: &mut DbConnection) -> QueryResult<Vec<OfficeService>> {
    all_of(
        with_types()
            .filter(office_services::reconfirm_days_before.is_not_null())
            .filter(office_services::reconfirm_release_hours.is_not_null())
            .load(conn)?,
    )
}

/// The office's service of this catalogue type, if it ever turned it on.
pub fn find(
    conn: &mut DbConnection,
    office_id: OfficeId,
    appointment_type_id: AppointmentTypeId,
) -> QueryResult<Option<OfficeService>> {
    let found = with_types()
        .filter(office_services::office_id.eq(office_id))
        .filter(office_services::appointment_type_id.eq(appointment_type_id));
    Ok(all_of(found.load(conn)?)?.pop())
}

pub fn insert(
    conn: &mut DbConnection,
    office_id: OfficeId,
    appointment_type_id: AppointmentTypeId,
    settings: &ServiceSettings,
    now: DateTime<Utc>,
) -> QueryResult<ServiceId> {
    diesel::insert_into(office_services::table)
        .values((
            SettingsRow::from(settings),
            office_services::office_id.eq(office_id),
            office_services::appointment_type_id.eq(appointment_type_id),
            office_services::active.eq(true),
            office_services::created_at.eq(db_time(now)),
            office_services::updated_at.eq(db_time(now)),
        ))
        .returning(office_services::id)
        .get_result(conn)
}

/// Replaces the settings and turns the service on.
pub fn update(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: ServiceId,
    settings: &ServiceSettings,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(of_office(office_id, id))
        .set((
            SettingsRow::from(settings),
            office_services::active.eq(true),
            office_services::updated_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_active(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: ServiceId,
    active: bool,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(of_office(office_id, id))
        .set((
            office_services::active.eq(active),
            office_services::updated_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The office's service `id`, to change.
fn of_office(
    office_id: OfficeId,
    id: ServiceId,
) -> diesel::dsl::Filter<
    diesel::dsl::Filter<
        office_services::table,
        diesel::dsl::Eq<office_services::office_id, OfficeId>,
    >,
    diesel::dsl::Eq<office_services::id, ServiceId>,
> {
    office_services::table
        .filter(office_services::office_id.eq(office_id))
        .filter(office_services::id.eq(id))
}
