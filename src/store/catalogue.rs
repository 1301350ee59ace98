//! The national catalogue of appointment types.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{DbConnection, corrupt, db_time, schema::appointment_types};
use crate::domain::{
    catalogue::{DocumentLists, Texts, TypeCode},
    ids::AppointmentTypeId,
};

#[derive(Debug, Clone)]
pub struct AppointmentType {
    pub id: AppointmentTypeId,
    pub code: TypeCode,
    pub texts: TypeTexts,
    pub default_duration_minutes: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A type's names, descriptions and documents to bring, by language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeTexts {
    pub names: Texts,
    pub descriptions: Texts,
    pub documents: DocumentLists,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = appointment_types)]
pub(crate) struct TypeRow {
    id: AppointmentTypeId,
    code: String,
    names: String,
    descriptions: String,
    documents: String,
    default_duration_minutes: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TypeRow {
    pub(crate) fn into_type(self) -> QueryResult<AppointmentType> {
        let json =
            |what: &str, text: &str| corrupt(format!("{what} of type {}: {text:?}", self.code));
        Ok(AppointmentType {
            id: self.id,
            code: TypeCode::parse(&self.code)
                .map_err(|_| corrupt(format!("type code {:?}", self.code)))?,
            texts: TypeTexts {
                names: serde_json::from_str(&self.names).map_err(|_| json("names", &self.names))?,
                descriptions: serde_json::from_str(&self.descriptions)
                    .map_err(|_| json("descriptions", &self.descriptions))?,
                documents: serde_json::from_str(&self.documents)
                    .map_err(|_| json("documents", &self.documents))?,
            },
            default_duration_minutes: self.default_duration_minutes,
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
        })
    }
}

pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<AppointmentType>> {
    appointment_types::table
        .select(TypeRow::as_select())
        .order(appointment_types::code)
        .load(conn)?
        .into_iter()
        .map(TypeRow::into_type)
        .collect()
}

pub fn find_by_code(
    conn: &mut DbConnection,
    code: &TypeCode,
) -> QueryResult<Option<AppointmentType>> {
    appointment_types::table
        .filter(appointment_types::code.eq(code.as_str()))
        .select(TypeRow::as_select())
        .first(conn)
        .optional()?
        .map(TypeRow::into_type)
        .transpose()
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".into())
}

/// Adds a type; a taken code fails with a unique violation.
pub fn insert(
    conn: &mut DbConnection,
    code: &TypeCode,
    texts: &TypeTexts,
    duration: i32,
    now: DateTime<Utc>,
) -> QueryResult<AppointmentTypeId> {
    diesel::insert_into(appointment_types::table)
        .values((
            appointment_types::code.eq(code.as_str()),
            appointment_types::names.eq(to_json(&texts.names)),
            appointment_types::descriptions.eq(to_json(&texts.descriptions)),
            appointment_types::documents.eq(to_json(&texts.documents)),
            appointment_types::default_duration_minutes.eq(duration),
            appointment_types::created_at.eq(db_time(now)),
            appointment_types::updated_at.eq(db_time(now)),
        ))
        .returning(appointment_types::id)
        .get_result(conn)
}

pub fn update(
    conn: &mut DbConnection,
    id: AppointmentTypeId,
    texts: &TypeTexts,
    duration: i32,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(appointment_types::table.find(id))
        .set((
            appointment_types::names.eq(to_json(&texts.names)),
            appointment_types::descriptions.eq(to_json(&texts.descriptions)),
            appointment_types::documents.eq(to_json(&texts.documents)),
            appointment_types::default_duration_minutes.eq(duration),
            appointment_types::updated_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}
