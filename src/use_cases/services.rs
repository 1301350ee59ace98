//! The services an office offers: catalogue types it turns on, with its own settings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    audit::Audit,
    scope::{Need, staff_office},
};
use crate::{
    domain::{
        FieldErrors,
        attendance::{NoShowRule, Reconfirmation},
        audit::Action,
        calendar::shared_duration,
        catalogue::{DocumentLists, Texts, TypeCode},
        hours::TimeOfDay,
        ids::{OfficeId, ServiceId},
        office::OfficeCode,
        release::{ReleaseMode, ReleaseRule},
        service::{Eligibility, ServiceSettings},
        staff::Actor,
    },
    error::{Answer, Error, Explain, Failure},
    store::{
        DbConnection, Store, calendars, catalogue,
        services::{self, OfficeService},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum ServiceFailure {
    #[error("there is no appointment type with this code in the catalogue")]
    NoSuchType,
    #[error("the office does not offer this appointment type")]
    NotOffered,
}

impl Explain for ServiceFailure {
    fn answer(self) -> Answer {
        let detail = match self {
            ServiceFailure::NoSuchType => {
                "There is no appointment type with this code in the catalogue."
            }
            ServiceFailure::NotOffered => "The office does not offer this appointment type.",
        };
        Answer::NotFound(detail.into())
    }
}

impl Failure for ServiceFailure {}

pub type ServiceError = Error<ServiceFailure>;

/// A service as applicants see it.
#[derive(Serialize, ToSchema)]
pub struct PublicServiceView {
    #[schema(example = "document_delivery")]
    pub code: String,
    #[schema(schema_with = crate::domain::schema::texts_view)]
    pub names: Texts,
    #[schema(schema_with = crate::domain::schema::texts_view)]
    pub descriptions: Texts,
    /// What to bring, by language.
    #[schema(schema_with = crate::domain::schema::documents_view)]
    pub documents: DocumentLists,
    pub duration_minutes: i32,
    /// Booked by invitation only, not by applicants themselves (`eligibility` is `invitation`).
    pub invite_only: bool,
    /// Who may book it online: `open` (any case number), `registered` (registered cases, with
    /// their verification secret) or `invitation`.
    pub eligibility: Eligibility,
    /// How seats are released when they open: `first_come`, or `lottery` (for a window after
    /// they open, requests are entries in a draw: see the office's draws).
    pub release_mode: ReleaseMode,
}

impl From<&OfficeService> for PublicServiceView {
    fn from(service: &OfficeService) -> PublicServiceView {
        let texts = &service.appointment_type.texts;
        PublicServiceView {
            code: service.appointment_type.code.to_string(),
            names: texts.names.clone(),
            descriptions: texts.descriptions.clone(),
            documents: texts.documents.clone(),
            duration_minutes: service.duration_minutes(),
            invite_only: service.settings.invite_only(),
            eligibility: service.settings.eligibility,
            release_mode: service.settings.release_mode,
        }
    }
}

/// A service with the office's settings, as staff see it.
#[derive(Serialize, ToSchema)]
pub struct ServiceView {
    #[schema(example = "document_delivery")]
    pub code: String,
    #[schema(schema_with = crate::domain::schema::texts_view)]
    pub names: Texts,
    /// The duration in force: the office's own, or the catalogue's default.
    pub duration_minutes: i32,
    /// The office's own duration, when it overrides the catalogue's.
    pub duration_override: Option<i32>,
    /// `eligibility` is `invitation`.
    pub invite_only: bool,
    pub eligibility: Eligibility,
    pub min_notice_hours: i32,
    pub horizon_days: i32,
    pub desk_share_percent: i32,
    pub change_cutoff_hours: i32,
    pub release_mode: ReleaseMode,
    pub lottery_window_minutes: i32,
    /// When published slots open, unless a publication gives `opens_at`.
    pub release_rule: Option<ReleaseRuleInput>,
    /// Whether applicants are asked to reconfirm, and when unconfirmed seats are released.
    pub reconfirmation: Option<Reconfirmation>,
    /// When missed visits restrict a case to the desk.
    pub no_show_rule: Option<NoShowRule>,
    /// Turned-off services are hidden from applicants; their bookings stay valid.
    pub active: bool,
    pub updated_at: DateTime<Utc>,
}

impl From<&OfficeService> for ServiceView {
    fn from(service: &OfficeService) -> ServiceView {
        let settings = &service.settings;
        ServiceView {
            code: service.appointment_type.code.to_string(),
            names: service.appointment_type.texts.names.clone(),
            duration_minutes: service.duration_minutes(),
            duration_override: settings.duration_minutes,
            invite_only: settings.invite_only(),
            eligibility: settings.eligibility,
            min_notice_hours: settings.min_notice_hours,
            horizon_days: settings.horizon_days,
            desk_share_percent: settings.desk_share_percent,
            change_cutoff_hours: settings.change_cutoff_hours,
            release_mode: settings.release_mode,
            lottery_window_minutes: settings.lottery_window_minutes,
            release_rule: settings.release_rule.map(ReleaseRuleInput::from),
            reconfirmation: settings.reconfirmation,
            no_show_rule: settings.no_show_rule,
            active: service.active,
            updated_at: service.updated_at,
        }
    }
}

/// The office's settings for a service. Absent fields take the defaults: the catalogue's
/// duration, open to any case number, 24 hours' notice, 60 days ahead, no desk share.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettingsRequest {
    #[schema(example = 20, minimum = 5, maximum = 480)]
    pub duration_minutes: Option<i32>,
    /// Who may book it online (default `open`).
    pub eligibility: Option<Eligibility>,
    /// The older way to say `eligibility: invitation`; must agree with `eligibility` when both
    /// are given.
    pub invite_only: Option<bool>,
    #[schema(example = 24, minimum = 0, maximum = 720)]
    pub min_notice_hours: Option<i32>,
    #[schema(example = 60, minimum = 1, maximum = 730)]
    pub horizon_days: Option<i32>,
    #[schema(example = 20, minimum = 0, maximum = 100)]
    pub desk_share_percent: Option<i32>,
    /// Applicants may cancel or move a visit until this many hours before it (default 24).
    #[schema(example = 24, minimum = 0, maximum = 720)]
    pub change_cutoff_hours: Option<i32>,
    /// `first_come` (default) or `lottery`.
    pub release_mode: Option<ReleaseMode>,
    /// How long after seats open a lottery takes entries (default 30).
    #[schema(example = 30, minimum = 5, maximum = 1440)]
    pub lottery_window_minutes: Option<i32>,
    /// When published slots open (default: at once, unless a publication says when).
    pub release_rule: Option<ReleaseRuleInput>,
    /// Ask applicants to reconfirm `ask_days_before` days before the visit, and release the
    /// seat `release_hours_before` hours before it when they have not (default: never).
    pub reconfirmation: Option<Reconfirmation>,
    /// After `limit` no-shows within `within_days`, a case books this service only at the desk
    /// for `desk_only_days` after the last (default: never).
    pub no_show_rule: Option<NoShowRule>,
}

/// "Every `weekday` at `time`, the week `weeks_ahead` weeks ahead": the slots of a week open on
/// that weekday and time (office time), that many weeks before the week's Monday.
#[derive(Deserialize, Serialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRuleInput {
    /// ISO weekday: Monday = 1 … Sunday = 7.
    #[schema(minimum = 1, maximum = 7, example = 1)]
    pub weekday: i32,
    /// Office time, HH:MM.
    #[schema(schema_with = crate::domain::schema::time_of_day)]
    pub time: String,
    #[schema(minimum = 1, maximum = 52, example = 4)]
    pub weeks_ahead: i32,
}

impl From<ReleaseRule> for ReleaseRuleInput {
    fn from(rule: ReleaseRule) -> ReleaseRuleInput {
        ReleaseRuleInput {
            weekday: i32::from(rule.weekday),
            time: rule.at.to_string(),
            weeks_ahead: i32::from(rule.weeks_ahead),
        }
    }
}

impl ReleaseRuleInput {
    fn parse(&self, errors: &mut FieldErrors) -> Option<ReleaseRule> {
        let weekday = match u8::try_from(self.weekday) {
            Ok(day) if ReleaseRule::WEEKDAYS.contains(&self.weekday) => Some(day),
            _ => {
                errors.add(
                    "release_rule.weekday",
                    "must be from 1 (Monday) to 7 (Sunday)",
                );
                None
            }
        };
        let at = errors.check("release_rule.time", TimeOfDay::parse(&self.time));
        let weeks_ahead = match u8::try_from(self.weeks_ahead) {
            Ok(weeks) if ReleaseRule::WEEKS_AHEAD.contains(&self.weeks_ahead) => Some(weeks),
            _ => {
                errors.add("release_rule.weeks_ahead", "must be from 1 to 52");
                None
            }
        };
        Some(ReleaseRule {
            weekday: weekday?,
            at: at?,
            weeks_ahead: weeks_ahead?,
        })
    }
}

impl ServiceSettingsRequest {
    /// `invite_only` agrees with `eligibility` when both are given, as JSON Schema says it.
    pub fn schema_conditions() -> (String, serde_json::Value) {
        let both = |invite_only: bool| {
            serde_json::json!({
                "properties": {
                    "invite_only": {"const": invite_only},
                    "eligibility": {"type": "string"},
                },
                "required": ["invite_only", "eligibility"],
            })
        };
        let invitation = serde_json::json!({"const": "invitation"});
        let agree = serde_json::json!([
            {"if": both(true), "then": {"properties": {"eligibility": invitation}}},
            {"if": both(false), "then": {"properties": {"eligibility": {"not": invitation}}}},
        ]);
        ("allOf".to_owned(), agree)
    }

    /// The settings, absent ones at their defaults, every one within its bounds.
    pub fn parse(self) -> Result<ServiceSettings, FieldErrors> {
        let defaults = ServiceSettings::default();
        let eligibility = match (self.eligibility, self.invite_only) {
            (Some(eligibility), None) => eligibility,
            (Some(eligibility), Some(invite_only))
                if invite_only == (eligibility == Eligibility::Invitation) =>
            {
                eligibility
            }
            (Some(_), Some(_)) => {
                let message = "contradicts eligibility: leave it out, or true only with \
                               eligibility invitation";
                return Err(FieldErrors::single("invite_only", message));
            }
            (None, Some(true)) => Eligibility::Invitation,
            (None, Some(false) | None) => defaults.eligibility,
        };
        let mut errors = FieldErrors::new();
        let release_rule = self
            .release_rule
            .as_ref()
            .and_then(|rule| rule.parse(&mut errors));
        errors.or_value(())?;
        ServiceSettings {
            duration_minutes: self.duration_minutes,
            eligibility,
            min_notice_hours: self.min_notice_hours.unwrap_or(defaults.min_notice_hours),
            horizon_days: self.horizon_days.unwrap_or(defaults.horizon_days),
            desk_share_percent: self
                .desk_share_percent
                .unwrap_or(defaults.desk_share_percent),
            change_cutoff_hours: self
                .change_cutoff_hours
                .unwrap_or(defaults.change_cutoff_hours),
            release_mode: self.release_mode.unwrap_or(defaults.release_mode),
            lottery_window_minutes: self
                .lottery_window_minutes
                .unwrap_or(defaults.lottery_window_minutes),
            release_rule,
            reconfirmation: self.reconfirmation,
            no_show_rule: self.no_show_rule,
        }
        .check()
    }
}

/// Refuses a duration that would give a calendar services of different lengths.
fn check_calendars_agree(
    conn: &mut DbConnection,
    office_id: OfficeId,
    changed: &OfficeService,
    duration: i32,
) -> Result<(), ServiceError> {
    let others: Vec<OfficeService> = services::list(conn, office_id)?
        .into_iter()
        .filter(|s| s.active && s.id != changed.id)
        .collect();
    for calendar in calendars::list(conn, office_id)? {
        if !calendar.service_ids.contains(&changed.id) {
            continue;
        }
        let partners = others
            .iter()
            .filter(|s| calendar.service_ids.contains(&s.id))
            .map(|s| (&s.appointment_type.code, s.duration_minutes()));
        let together = std::iter::once((&changed.appointment_type.code, duration)).chain(partners);
        if let Err(differ) = shared_duration(together) {
            let message = format!("calendar '{}': {differ}", calendar.fields.name);
            return Err(FieldErrors::single("duration_minutes", message).into());
        }
    }
    Ok(())
}

/// The office's services, turned on or off. Staff of the office and admins.
pub async fn list(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
) -> Result<Vec<ServiceView>, ServiceError> {
    store
        .read(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let services = services::list(conn, office.id)?;
            Ok(services.iter().map(ServiceView::from).collect())
        })
        .await
}

/// A service turned on, or its settings replaced.
pub struct Put {
    /// Turned on for the first time.
    pub created: bool,
    pub service: ServiceView,
}

/// Turns a catalogue type on for the office, or replaces its settings (turning it back on).
pub async fn put(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    type_code: TypeCode,
    settings: ServiceSettings,
    now: DateTime<Utc>,
) -> Result<Put, ServiceError> {
    store
        .write(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let appointment_type =
                catalogue::find_by_code(conn, &type_code)?.ok_or(ServiceFailure::NoSuchType)?;
            let existing = services::find(conn, office.id, appointment_type.id)?;
            let id: ServiceId = match &existing {
                Some(service) => {
                    let duration = settings.duration(appointment_type.default_duration_minutes);
                    check_calendars_agree(conn, office.id, service, duration)?;
                    services::update(conn, office.id, service.id, &settings, now)?;
                    service.id
                }
                None => services::insert(conn, office.id, appointment_type.id, &settings, now)?,
            };
            let service = services::find_by_id(conn, office.id, id)?
                .ok_or_else(|| Error::vanished(&type_code))?;
            let view = ServiceView::from(&service);
            let audit = Audit::by(&actor, now);
            let office_id = Some(office.id);
            match &existing {
                Some(before) => {
                    let before = ServiceView::from(before);
                    audit.changed(
                        conn,
                        office_id,
                        Action::ServicePut,
                        &type_code,
                        &before,
                        &view,
                    )?
                }
                None => audit.created(conn, office_id, Action::ServicePut, &type_code, &view)?,
            }
            Ok(Put {
                created: existing.is_none(),
                service: view,
            })
        })
        .await
}

/// Turns a service off: applicants no longer see it; bookings already made stay valid.
pub async fn turn_off(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    type_code: TypeCode,
    now: DateTime<Utc>,
) -> Result<ServiceView, ServiceError> {
    store
        .write(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let appointment_type =
                catalogue::find_by_code(conn, &type_code)?.ok_or(ServiceFailure::NotOffered)?;
            let service = services::find(conn, office.id, appointment_type.id)?
                .ok_or(ServiceFailure::NotOffered)?;
            services::set_active(conn, office.id, service.id, false, now)?;
            let before = ServiceView::from(&service);
            let after = ServiceView {
                active: false,
                ..ServiceView::from(&service)
            };
            let audit = Audit::by(&actor, now);
            let action = Action::ServiceTurnOff;
            audit.changed(conn, Some(office.id), action, &type_code, &before, &after)?;
            Ok(after)
        })
        .await
}
