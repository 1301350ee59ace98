//! How an office runs one appointment type: its own duration, whether applicants may book it
//! themselves, how early and how late, and the seats it keeps for the desk.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::attendance::{NoShowRule, Reconfirmation};
use super::{
    FieldErrors,
    catalogue::check_duration,
    release::{LOTTERY_WINDOW_MINUTES, ReleaseMode, ReleaseRule},
    validation::Named,
};

/// Who may book a service online. The desk books any case, whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Eligibility {
    /// Any well-formed case number.
    #[default]
    Open,
    /// Only cases the case system registered as ready for the type, proven with their
    /// verification secret.
    Registered,
    /// Only cases the office invited (convocazione).
    Invitation,
}

impl Named for Eligibility {
    const ALL: &'static [Eligibility] = &[
        Eligibility::Open,
        Eligibility::Registered,
        Eligibility::Invitation,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Eligibility::Open => "open",
            Eligibility::Registered => "registered",
            Eligibility::Invitation => "invitation",
        }
    }
}

/// An office's settings for one of its services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceSettings {
    /// `None`: the catalogue's default duration.
    pub duration_minutes: Option<i32>,
    /// Who may book it online.
    pub eligibility: Eligibility,
    /// How long before a visit booking closes.
    pub min_notice_hours: i32,
    /// How far ahead applicants may book.
    pub horizon_days: i32,
    /// Share of each day's seats held back for the desk and phone channel.
    pub desk_share_percent: i32,
    /// Applicants may cancel or move a visit until this long before it.
    pub change_cutoff_hours: i32,
    /// First come, or a lottery when seats open.
    pub release_mode: ReleaseMode,
    /// How long after seats open a lottery takes entries.
    pub lottery_window_minutes: i32,
    /// When published slots open, unless a publication says otherwise; `None`: at once.
    pub release_rule: Option<ReleaseRule>,
    /// Whether (and when) applicants are asked to reconfirm; `None`: never.
    pub reconfirmation: Option<Reconfirmation>,
    /// When missed visits restrict a case to the desk; `None`: never.
    pub no_show_rule: Option<NoShowRule>,
}

impl Default for ServiceSettings {
    fn default() -> ServiceSettings {
        ServiceSettings {
            duration_minutes: None,
            eligibility: Eligibility::Open,
            min_notice_hours: 24,
            horizon_days: 60,
            desk_share_percent: 0,
            change_cutoff_hours: 24,
            release_mode: ReleaseMode::FirstCome,
            lottery_window_minutes: 30,
            release_rule: None,
            reconfirmation: None,
            no_show_rule: None,
        }
    }
}

impl ServiceSettings {
    pub const MIN_NOTICE_HOURS: std::ops::RangeInclusive<i32> = 0..=720;
    pub const HORIZON_DAYS: std::ops::RangeInclusive<i32> = 1..=730;
    pub const DESK_SHARE_PERCENT: std::ops::RangeInclusive<i32> = 0..=100;
    pub const CHANGE_CUTOFF_HOURS: std::ops::RangeInclusive<i32> = 0..=720;

    /// These settings if every one is within its bounds, else every one that is not.
    pub fn check(self) -> Result<ServiceSettings, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut within = |field: &str, value: i32, range: std::ops::RangeInclusive<i32>| {
            if !range.contains(&value) {
                errors.add(
                    field,
                    format!("must be from {} to {}", range.start(), range.end()),
                );
            }
        };
        within(
            "min_notice_hours",
            self.min_notice_hours,
            Self::MIN_NOTICE_HOURS,
        );
        within("horizon_days", self.horizon_days, Self::HORIZON_DAYS);
        within(
            "desk_share_percent",
            self.desk_share_percent,
            Self::DESK_SHARE_PERCENT,
        );
        within(
            "change_cutoff_hours",
            self.change_cutoff_hours,
            Self::CHANGE_CUTOFF_HOURS,
        );
        within(
            "lottery_window_minutes",
            self.lottery_window_minutes,
            LOTTERY_WINDOW_MINUTES,
        );
        if let Some(minutes) = self.duration_minutes {
            errors.check("duration_minutes", check_duration(minutes));
        }
        if let Some(reconfirmation) = &self.reconfirmation {
            reconfirmation.check(&mut errors);
        }
        if let Some(rule) = &self.no_show_rule {
            rule.check(&mut errors);
        }
        errors.or_value(self)
    }

    /// Bookable only by invitation, not by self-booking.
    pub fn invite_only(&self) -> bool {
        self.eligibility == Eligibility::Invitation
    }

    /// The duration in force: the office's own, or the catalogue's `default_minutes`.
    pub fn duration(&self, default_minutes: i32) -> i32 {
        self.duration_minutes.unwrap_or(default_minutes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_out_of_bounds_are_named_one_by_one() {
        assert!(ServiceSettings::default().check().is_ok());
        let wild = ServiceSettings {
            duration_minutes: Some(1000),
            horizon_days: 0,
            desk_share_percent: 101,
            ..ServiceSettings::default()
        };
        let errors = wild.check().unwrap_err();
        let fields: Vec<&str> = errors.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["horizon_days", "desk_share_percent", "duration_minutes"]
        );
    }
}
