//! How instants leave the service: RFC 3339 with the office's UTC offset.

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, Timelike, Utc,
};
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
///
/// Held as the clock reading and the offset, not as the instant: the reading is what is
/// written, and an availability answer writes two per slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    reading: NaiveDateTime,
    offset: FixedOffset,
}

/// `instant` on the clock of `zone`.
pub fn local(instant: DateTime<Utc>, zone: Tz) -> LocalTime {
    let at = instant.with_timezone(&zone).fixed_offset();
    LocalTime {
        reading: at.naive_local(),
        offset: *at.offset(),
    }
}

impl LocalTime {
    /// The clock reading `minute` minutes after the start of `date`, `offset_minutes` east of
    /// UTC, as an office's offer keeps its slots' times. `None` where that is no time.
    pub fn at(date: NaiveDate, minute: u32, offset_minutes: i32) -> Option<LocalTime> {
        let reading = date
            .and_hms_opt(0, 0, 0)?
            .checked_add_signed(chrono::Duration::minutes(i64::from(minute)))?;
        let offset = FixedOffset::east_opt(offset_minutes.checked_mul(60)?)?;
        Some(LocalTime { reading, offset })
    }

    /// The instant it reads.
    pub fn instant(&self) -> DateTime<Utc> {
        (self.reading - self.offset).and_utc()
    }

    /// Its minutes after the start of `date`, and its offset in minutes east of UTC, when both
    /// are whole (see [`LocalTime::at`]).
    pub fn minutes_from(&self, date: NaiveDate) -> Option<(i64, i32)> {
        let since = self.reading - date.and_hms_opt(0, 0, 0)?;
        let offset = self.offset.local_minus_utc();
        let whole = since.num_seconds() % 60 == 0 && since.subsec_nanos() == 0;
        (whole && offset % 60 == 0).then_some((since.num_minutes(), offset / 60))
    }
}

impl Serialize for LocalTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buffer = [0; 25];
        match self.write_plain(&mut buffer) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.serialize_str(&self.rfc3339()),
        }
    }
}

impl LocalTime {
    /// chrono's RFC 3339 form, which every form written here equals.
    fn rfc3339(&self) -> String {
        DateTime::<FixedOffset>::from_naive_utc_and_offset(self.reading - self.offset, self.offset)
            .to_rfc3339_opts(SecondsFormat::AutoSi, false)
    }

    /// Appends it to a JSON document as a string, exactly as its `Serialize` writes it (none of
    /// its characters is escaped in JSON).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut buffer = [0; 25];
        out.push(b'"');
        match self.write_plain(&mut buffer) {
            Some(text) => out.extend_from_slice(text.as_bytes()),
            None => out.extend_from_slice(self.rfc3339().as_bytes()),
        }
        out.push(b'"');
    }

    /// The common case, whole seconds of a four-digit year at an offset of whole minutes,
    /// written without allocating.
    fn write_plain<'a>(&self, buffer: &'a mut [u8; 25]) -> Option<&'a str> {
        let (time, offset) = (self.reading, self.offset.local_minus_utc());
        if time.nanosecond() != 0 || !(0..=9999).contains(&time.year()) || offset % 60 != 0 {
            return None;
        }
        let mut at = 0;
        let mut put = |value: u32, digits: u32, then: u8| {
            for place in (0..digits).rev() {
                buffer[at] = b'0' + (value / 10u32.pow(place) % 10) as u8;
                at += 1;
            }
            if then != 0 {
                buffer[at] = then;
                at += 1;
            }
        };
        let year = u32::try_from(time.year()).ok()?;
        put(year, 4, b'-');
        put(time.month(), 2, b'-');
        put(time.day(), 2, b'T');
        put(time.hour(), 2, b':');
        put(time.minute(), 2, b':');
        put(time.second(), 2, if offset < 0 { b'-' } else { b'+' });
        let minutes = offset.unsigned_abs() / 60;
        put(minutes / 60, 2, b':');
        put(minutes % 60, 2, 0);
        std::str::from_utf8(&buffer[..]).ok()
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

    #[test]
    fn a_reading_kept_in_minutes_is_the_same_instant() {
        let start = Utc.with_ymd_and_hms(2026, 3, 28, 0, 0, 0).unwrap();
        let rome = chrono_tz::Europe::Rome;
        // Every 17 minutes over the spring change (2:00 becomes 3:00) and the day after.
        for step in 0..200 {
            let instant = start + chrono::Duration::minutes(step * 17);
            let time = local(instant, rome);
            let date = time.reading.date();
            let (minute, offset) = time.minutes_from(date).unwrap();
            let kept = LocalTime::at(date, u32::try_from(minute).unwrap(), offset).unwrap();
            assert_eq!(kept, time, "{instant}");
            assert_eq!(kept.instant(), instant);
        }
        let half_minute = local(start + chrono::Duration::seconds(30), rome);
        assert_eq!(half_minute.minutes_from(start.date_naive()), None);
    }

    #[test]
    fn the_quick_form_is_chronos_to_the_character() {
        let zones = [
            chrono_tz::Europe::Rome,
            chrono_tz::America::St_Johns,
            chrono_tz::Asia::Kolkata,
            chrono_tz::UTC,
        ];
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        for step in 0..2_000 {
            // Every 4 h 23 min 7.5 s: whole and fractional seconds, both sides of DST.
            let instant = start + chrono::Duration::milliseconds(step * 15_787_500);
            for zone in zones {
                let time = local(instant, zone);
                let written = serde_json::to_string(&time).unwrap();
                assert_eq!(
                    written,
                    format!("\"{}\"", time.rfc3339()),
                    "{instant} in {zone}"
                );
            }
        }
    }
}
