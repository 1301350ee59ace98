//! How values are stored and read back: instants in UTC to the microsecond, enums by name,
//! and what to say when a stored value cannot be read.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::QueryResult;

/// How instants are stored: UTC, truncated to the microsecond (PostgreSQL's precision) so that a
/// value reads back equal on both backends.
pub fn db_time(instant: DateTime<Utc>) -> NaiveDateTime {
    instant.trunc_subsecs(6).naive_utc()
}

/// An instant as stored (UTC in a `Timestamp` column, see [`db_time`]), for reading it back as
/// a `DateTime<Utc>` with `#[diesel(deserialize_as = StoredTime)]`.
#[derive(Debug, diesel_derive_newtype::DieselNewType)]
pub struct StoredTime(NaiveDateTime);

impl From<StoredTime> for DateTime<Utc> {
    fn from(stored: StoredTime) -> DateTime<Utc> {
        stored.0.and_utc()
    }
}

/// A nullable instant as stored, read back as an `Option<DateTime<Utc>>` with
/// `#[diesel(deserialize_as = StoredOptionalTime)]`.
#[derive(Debug, diesel_derive_newtype::DieselNewType)]
pub struct StoredOptionalTime(Option<NaiveDateTime>);

impl From<StoredOptionalTime> for Option<DateTime<Utc>> {
    fn from(stored: StoredOptionalTime) -> Option<DateTime<Utc>> {
        stored.0.map(|time| time.and_utc())
    }
}

/// A stored value the program cannot read back: a bug, or a database edited by hand.
pub(crate) fn corrupt(what: String) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(format!("unreadable stored {what}").into())
}

/// Reads back an enum stored by its name (a stage, a status…).
pub(crate) fn named<T: crate::domain::Named>(text: &str) -> QueryResult<T> {
    T::parse(text).map_err(|_| corrupt(format!("{} {text:?}", std::any::type_name::<T>())))
}
