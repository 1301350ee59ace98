//! Offices: their public details, time zone and rollout stage.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{DbConnection, corrupt, db_time, named, schema::offices};
use crate::domain::{
    Named,
    ids::OfficeId,
    language::Language,
    office::{OfficeCode, OfficeDetails, PatronDay, Stage, parse_time_zone},
};

#[derive(Debug, Clone)]
pub struct Office {
    pub id: OfficeId,
    pub code: OfficeCode,
    pub details: OfficeDetails,
    pub stage: Stage,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = offices)]
struct OfficeRow {
    id: OfficeId,
    code: String,
    name: String,
    address: String,
    city: String,
    province: String,
    latitude: Option<f64>,
    longitude: Option<f64>,
    timezone: String,
    email: Option<String>,
    phone: Option<String>,
    languages: String,
    patron_day: Option<String>,
    stage: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    proof_of_work: bool,
    proof_of_work_cost: i32,
}

impl OfficeRow {
    fn into_office(self) -> QueryResult<Office> {
        let code = OfficeCode::parse(&self.code)
            .map_err(|_| corrupt(format!("office code {:?}", self.code)))?;
        let timezone = parse_time_zone(&self.timezone)
            .map_err(|_| corrupt(format!("time zone {:?}", self.timezone)))?;
        let unreadable = || corrupt(format!("languages {:?}", self.languages));
        let languages = serde_json::from_str::<Vec<String>>(&self.languages)
            .map_err(|_| unreadable())?
            .iter()
            .map(|code| Language::parse(code).map_err(|_| unreadable()))
            .collect::<QueryResult<Vec<Language>>>()?;
        let patron_day = self
            .patron_day
            .map(|day| PatronDay::parse(&day).map_err(|_| corrupt(format!("patron day {day:?}"))))
            .transpose()?;
        let stage = named::<Stage>(&self.stage)?;
        Ok(Office {
            id: self.id,
            code,
            details: OfficeDetails {
                name: self.name,
                address: self.address,
                city: self.city,
                province: self.province,
                latitude: self.latitude,
                longitude: self.longitude,
                timezone,
                email: self.email,
                phone: self.phone,
                languages,
                patron_day,
                proof_of_work: self.proof_of_work,
                proof_of_work_cost: u32::try_from(self.proof_of_work_cost)
                    .map_err(|_| corrupt(format!("cost {}", self.proof_of_work_cost)))?,
            },
            stage,
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
        })
    }
}

pub fn find_by_code(conn: &mut DbConnection, code: &OfficeCode) -> QueryResult<Option<Office>> {
    offices::table
        .filter(offices::code.eq(code.as_str()))
        .select(OfficeRow::as_select())
        .first(conn)
        .optional()?
        .map(OfficeRow::into_office)
        .transpose()
}

pub fn find_by_id(conn: &mut DbConnection, id: OfficeId) -> QueryResult<Option<Office>> {
    offices::table
        .find(id)
        .select(OfficeRow::as_select())
        .first(conn)
        .optional()?
        .map(OfficeRow::into_office)
        .transpose()
}

/// The office's row id, when an office has this code.
pub fn id_by_code(conn: &mut DbConnection, code: &OfficeCode) -> QueryResult<Option<OfficeId>> {
    offices::table
        .filter(offices::code.eq(code.as_str()))
        .select(offices::id)
        .first(conn)
        .optional()
}

/// Offices by code: those in `stages`, plus the one with `also_id` whatever its stage.
pub fn list(
    conn: &mut DbConnection,
    stages: Option<&[Stage]>,
    also_id: Option<OfficeId>,
) -> QueryResult<Vec<Office>> {
    let mut query = offices::table
        .select(OfficeRow::as_select())
        .order(offices::code)
        .into_boxed();
    if let Some(stages) = stages {
        let names: Vec<&str> = stages.iter().map(|s| s.as_str()).collect();
        query = match also_id {
            Some(id) => query.filter(offices::stage.eq_any(names).or(offices::id.eq(id))),
            None => query.filter(offices::stage.eq_any(names)),
        };
    }
    query
        .load(conn)?
        .into_iter()
        .map(OfficeRow::into_office)
        .collect()
}

/// An office's editable columns, as stored; `None` writes NULL (a cleared field).
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = offices, treat_none_as_null = true)]
struct DetailsRow<'a> {
    name: &'a str,
    address: &'a str,
    city: &'a str,
    province: &'a str,
    latitude: Option<f64>,
    longitude: Option<f64>,
    timezone: &'a str,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    languages: String,
    patron_day: Option<String>,
    proof_of_work: bool,
    proof_of_work_cost: i32,
}

impl<'a> From<&'a OfficeDetails> for DetailsRow<'a> {
    fn from(details: &'a OfficeDetails) -> DetailsRow<'a> {
        DetailsRow {
            name: &details.name,
            address: &details.address,
            city: &details.city,
            province: &details.province,
            latitude: details.latitude,
            longitude: details.longitude,
            timezone: details.timezone.name(),
            email: details.email.as_deref(),
            phone: details.phone.as_deref(),
            languages: serde_json::to_string(&details.languages).unwrap_or_else(|_| "[]".into()),
            patron_day: details.patron_day.map(|day| day.to_string()),
            proof_of_work: details.proof_of_work,
            proof_of_work_cost: i32::try_from(details.proof_of_work_cost).unwrap_or(i32::MAX),
        }
    }
}

/// Creates an office in stage `draft`; returns its id. A taken code fails with a unique
/// violation.
pub fn insert(
    conn: &mut DbConnection,
    code: &OfficeCode,
    details: &OfficeDetails,
    now: DateTime<Utc>,
) -> QueryResult<OfficeId> {
    diesel::insert_into(offices::table)
        .values((
            DetailsRow::from(details),
            offices::code.eq(code.as_str()),
            offices::stage.eq(Stage::Draft.as_str()),
            offices::created_at.eq(db_time(now)),
            offices::updated_at.eq(db_time(now)),
        ))
        .returning(offices::id)
        .get_result(conn)
}

pub fn update_details(
    conn: &mut DbConnection,
    id: OfficeId,
    details: &OfficeDetails,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(offices::table.find(id))
        .set((
            DetailsRow::from(details),
            offices::updated_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_stage(
    conn: &mut DbConnection,
    id: OfficeId,
    stage: Stage,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(offices::table.find(id))
        .set((
            offices::stage.eq(stage.as_str()),
            offices::updated_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}
