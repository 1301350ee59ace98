//! Offices (one per prefecture): their code, rollout stage, time zone and the details applicants
//! see.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    language::Language,
    validation::{Invalid, Named},
};

/// An office's short code, such as `RM` (Rome) or `LT` (Latina): 2–8 letters or digits,
/// starting with a letter, uppercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct OfficeCode(String);

impl OfficeCode {
    pub fn parse(text: &str) -> Result<OfficeCode, Invalid> {
        let code = text.to_ascii_uppercase();
        let well_formed = (2..=8).contains(&code.len())
            && code.starts_with(|c: char| c.is_ascii_uppercase())
            && code
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if well_formed {
            Ok(OfficeCode(code))
        } else {
            Err(Invalid::new(
                "must be 2 to 8 letters or digits starting with a letter, like RM",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OfficeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Read from a path or query by the same rule as everywhere else.
impl TryFrom<String> for OfficeCode {
    type Error = Invalid;

    fn try_from(text: String) -> Result<OfficeCode, Invalid> {
        OfficeCode::parse(&text)
    }
}

/// Where an office stands in the national rollout. Only `pilot` and `live` offices are shown
/// to the public; `preview` lets an office's own staff try its configuration first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Draft,
    Preview,
    Pilot,
    Live,
    Suspended,
}

impl Named for Stage {
    const ALL: &'static [Stage] = &[
        Stage::Draft,
        Stage::Preview,
        Stage::Pilot,
        Stage::Live,
        Stage::Suspended,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Stage::Draft => "draft",
            Stage::Preview => "preview",
            Stage::Pilot => "pilot",
            Stage::Live => "live",
            Stage::Suspended => "suspended",
        }
    }
}

impl Stage {
    /// The stages in which applicants can find the office and book there.
    pub const PUBLIC: [Stage; 2] = [Stage::Pilot, Stage::Live];

    pub fn is_public(self) -> bool {
        Stage::PUBLIC.contains(&self)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything about an office that its manager may edit.
#[derive(Debug, Clone, PartialEq)]
pub struct OfficeDetails {
    pub name: String,
    pub address: String,
    pub city: String,
    pub province: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub timezone: Tz,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub languages: Vec<Language>,
    pub patron_day: Option<PatronDay>,
    /// Whether applicants' browsers must solve a proof-of-work challenge to book or enter a
    /// lottery here (against bots on a click day).
    pub proof_of_work: bool,
    /// PBKDF2 iterations per counter a client tries.
    pub proof_of_work_cost: u32,
}

impl OfficeDetails {
    /// An office in Rome's time zone where Italian is spoken, until told otherwise.
    pub fn new(name: &str, address: &str, city: &str, province: &str) -> OfficeDetails {
        OfficeDetails {
            name: name.to_owned(),
            address: address.to_owned(),
            city: city.to_owned(),
            province: province.to_owned(),
            latitude: None,
            longitude: None,
            timezone: chrono_tz::Europe::Rome,
            email: None,
            phone: None,
            languages: vec![Language::italian()],
            patron_day: None,
            proof_of_work: false,
            proof_of_work_cost: DEFAULT_PROOF_OF_WORK_COST,
        }
    }
}

/// About a second of a phone's work per 200 counters tried.
pub const DEFAULT_PROOF_OF_WORK_COST: u32 = 5_000;

/// A proof-of-work cost: 1 to 100,000 iterations per try. The service derives one key at that
/// cost for every challenge it gives, so the cost is bounded for its sake too.
pub fn check_proof_of_work_cost(cost: u32) -> Result<u32, Invalid> {
    match cost {
        1..=100_000 => Ok(cost),
        _ => Err(Invalid::new("must be 1 to 100000 iterations")),
    }
}

/// An IANA time zone name, checked against the tz database.
pub fn parse_time_zone(text: &str) -> Result<Tz, Invalid> {
    text.parse::<Tz>()
        .map_err(|_| Invalid::new("must be an IANA time zone such as Europe/Rome"))
}

/// The day of the city's patron saint, when the office is closed (Rome: 29 June).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatronDay {
    pub month: u32,
    pub day: u32,
}

impl PatronDay {
    /// Parses `MM-DD`, such as `06-29`.
    pub fn parse(text: &str) -> Result<PatronDay, Invalid> {
        let invalid = || Invalid::new("must be a month and day as MM-DD, such as 06-29");
        let (month, day) = text.split_once('-').ok_or_else(invalid)?;
        let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(month) || !two_digits(day) {
            return Err(invalid());
        }
        let (month, day): (u32, u32) = (
            month.parse().map_err(|_| invalid())?,
            day.parse().map_err(|_| invalid())?,
        );
        // 2024 is a leap year, so 02-29 is accepted (and observed only in leap years).
        NaiveDate::from_ymd_opt(2024, month, day).ok_or_else(invalid)?;
        Ok(PatronDay { month, day })
    }

    pub fn in_year(self, year: i32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(year, self.month, self.day)
    }

    pub fn falls_on(self, date: NaiveDate) -> bool {
        date.month() == self.month && date.day() == self.day
    }
}

impl fmt::Display for PatronDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

pub fn check_latitude(value: f64) -> Result<f64, Invalid> {
    if value.is_finite() && (-90.0..=90.0).contains(&value) {
        Ok(value)
    } else {
        Err(Invalid::new("must be between -90 and 90"))
    }
}

pub fn check_longitude(value: f64) -> Result<f64, Invalid> {
    if value.is_finite() && (-180.0..=180.0).contains(&value) {
        Ok(value)
    } else {
        Err(Invalid::new("must be between -180 and 180"))
    }
}

/// A phone number as people write it: digits, spaces, and an optional leading `+`.
pub fn parse_phone(text: &str) -> Result<String, Invalid> {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let allowed = text
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || c == ' ' || (c == '+' && i == 0));
    if allowed && (6..=15).contains(&digits) {
        Ok(text.trim().to_owned())
    } else {
        Err(Invalid::new("must be a phone number such as +39 06 4650 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn office_codes_are_short_uppercase_codes() {
        assert_eq!(OfficeCode::parse("rm").unwrap().as_str(), "RM");
        assert!(OfficeCode::parse(" RM").is_err(), "codes are not padded");
        for bad in ["R", "1RM", "R-M", "ROMAROMAX", ""] {
            assert!(OfficeCode::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn only_pilot_and_live_are_public() {
        let public: Vec<Stage> = Stage::ALL
            .iter()
            .copied()
            .filter(|s| s.is_public())
            .collect();
        assert_eq!(public, [Stage::Pilot, Stage::Live]);
        assert_eq!(Stage::parse("preview"), Ok(Stage::Preview));
        assert!(Stage::parse("open").is_err());
    }

    #[test]
    fn time_zones_come_from_the_tz_database() {
        assert_eq!(
            parse_time_zone("Europe/Rome").unwrap(),
            chrono_tz::Europe::Rome
        );
        assert!(parse_time_zone("Europe/Milano").is_err());
        assert!(parse_time_zone("CEST+2").is_err());
    }

    #[test]
    fn patron_days_are_month_and_day() {
        let rome = PatronDay::parse("06-29").unwrap();
        assert!(rome.falls_on(NaiveDate::from_ymd_opt(2027, 6, 29).unwrap()));
        assert_eq!(rome.to_string(), "06-29");
        assert!(PatronDay::parse("02-29").unwrap().in_year(2027).is_none());
        for bad in ["6/29", "13-01", "06-31", "junio"] {
            assert!(PatronDay::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn contact_details_are_checked() {
        assert!(parse_phone("+39 06 4650 1").is_ok());
        assert!(parse_phone("06-4650").is_err());
        assert!(Language::parse("EN").unwrap().as_str() == "en");
        assert!(Language::parse("english").is_err());
        assert!(check_latitude(41.9).is_ok() && check_latitude(91.0).is_err());
        assert!(check_longitude(f64::NAN).is_err());
    }
}
