//! How instants leave the service: RFC 3339 with the office's UTC offset.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{KnownFormat, ObjectBuilder, RefOr, Schema, SchemaFormat, Type},
};

/// An instant as the office's clock shows it, such as `2027-09-13T09:00:00+02:00`.
///
/// Written as one string rather than through chrono's `Serialize`, which hands serde_json one
/// character at a time: on an availability answer with hundreds of slots that was a tenth of
/// the server's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime(DateTime<FixedOffset>);

/// `instant` on the clock of `zone`.
pub fn local(instant: DateTime<Utc>, zone: Tz) -> LocalTime {
    LocalTime(instant.with_timezone(&zone).fixed_offset())
}

impl Serialize for LocalTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, false))
    }
}

impl PartialSchema for LocalTime {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("RFC 3339 with the office's UTC offset"))
            .examples(["2027-09-13T09:00:00+02:00"])
            .into()
    }
}

impl ToSchema for LocalTime {}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_instant_reads_as_the_office_clock_shows_it() {
        let summer = Utc.with_ymd_and_hms(2027, 9, 13, 7, 0, 0).unwrap();
        let winter = Utc.with_ymd_and_hms(2027, 11, 2, 8, 0, 0).unwrap();
        let rome = chrono_tz::Europe::Rome;
        assert_eq!(
            serde_json::to_string(&local(summer, rome)).unwrap(),
            r#""2027-09-13T09:00:00+02:00""#
        );
        assert_eq!(
            serde_json::to_string(&local(winter, rome)).unwrap(),
            r#""2027-11-02T09:00:00+01:00""#
        );
    }
}
