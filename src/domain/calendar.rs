//! Calendars: groups of desks serving some services in parallel, and the rule that binds the
//! services of one calendar together.

use chrono::NaiveDate;

use super::{FieldErrors, catalogue::TypeCode};

/// What a manager sets on a calendar besides its services and hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarFields {
    pub name: String,
    pub desks: i32,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
}

impl CalendarFields {
    /// Desks serving at once: each slot's seats.
    pub const DESKS: std::ops::RangeInclusive<i32> = 1..=500;

    /// Files what is wrong with the desks and the validity period in `errors`.
    pub fn check(&self, errors: &mut FieldErrors) {
        if !Self::DESKS.contains(&self.desks) {
            errors.add(
                "desks",
                format!(
                    "must be from {} to {}",
                    Self::DESKS.start(),
                    Self::DESKS.end()
                ),
            );
        }
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until)
            && until < from
        {
            errors.add("valid_until", "must not be before valid_from");
        }
    }
}

/// The services of one calendar share one duration: a slot is one visit, whichever of the
/// calendar's services it is booked for. Given each service with its duration, the duration
/// they share (none for no services), or why they do not share one.
pub fn shared_duration<'a>(
    services: impl IntoIterator<Item = (&'a TypeCode, i32)>,
) -> Result<Option<i32>, DurationsDiffer> {
    let services: Vec<(&TypeCode, i32)> = services.into_iter().collect();
    let Some((_, first)) = services.first() else {
        return Ok(None);
    };
    if services.iter().all(|(_, minutes)| minutes == first) {
        return Ok(Some(*first));
    }
    let durations = services
        .iter()
        .map(|(code, minutes)| format!("{code} {minutes} min"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(DurationsDiffer { durations })
}

/// Services that would share a calendar with different durations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the services of one calendar share one duration ({durations})")]
pub struct DurationsDiffer {
    /// Each service with its duration, as `document_delivery 30 min, information 20 min`.
    pub durations: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_calendar_one_duration() {
        let (delivery, information) = (
            TypeCode::parse("document_delivery").unwrap(),
            TypeCode::parse("information").unwrap(),
        );
        assert_eq!(shared_duration([]), Ok(None));
        assert_eq!(
            shared_duration([(&delivery, 30), (&information, 30)]),
            Ok(Some(30))
        );
        let differ = shared_duration([(&delivery, 30), (&information, 20)]).unwrap_err();
        assert_eq!(
            differ.to_string(),
            "the services of one calendar share one duration \
             (document_delivery 30 min, information 20 min)"
        );
    }

    #[test]
    fn desks_and_validity_are_checked() {
        let mut errors = FieldErrors::new();
        let fields = CalendarFields {
            name: "Sportelli".into(),
            desks: 0,
            valid_from: NaiveDate::from_ymd_opt(2027, 9, 1),
            valid_until: NaiveDate::from_ymd_opt(2027, 8, 1),
        };
        fields.check(&mut errors);
        let names: Vec<&str> = errors.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, ["desks", "valid_until"]);
    }
}
