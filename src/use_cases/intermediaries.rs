//! Intermediaries' accreditations: an admin accredits an intermediary's account at an office,
//! with quotas, changes them or revokes it; the office's staff see who books there and how
//! much of each quota is used. The booking itself is `bookings::book` (the quotas are checked
//! in its transaction).

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
        audit::Action,
        ids::StaffId,
        intermediary::{MAX_QUOTA, Quota, week_start},
        office::OfficeCode,
        staff::{Actor, Role},
        text::parse_line,
    },
    error::{Answer, Error, Explain, Failure},
    store::{
        DbConnection, Store,
        accreditations::{self, Accreditation},
        offices::Office,
        staff,
    },
};

#[derive(Debug, thiserror::Error)]
pub enum IntermediaryFailure {
    /// No intermediary account has this id.
    #[error("no intermediary account has this id")]
    NoSuchIntermediary,
    /// The office has no accreditation in force for this intermediary.
    #[error("the intermediary is not accredited at this office")]
    NotAccredited,
}

impl Explain for IntermediaryFailure {
    fn answer(self) -> Answer {
        Answer::NotFound(match self {
            IntermediaryFailure::NoSuchIntermediary => {
                "No active intermediary account has this id.".into()
            }
            IntermediaryFailure::NotAccredited => {
                "The intermediary is not accredited at this office.".into()
            }
        })
    }
}

impl Failure for IntermediaryFailure {}

pub type IntermediaryError = Error<IntermediaryFailure>;

/// An accreditation, with its quotas and how much of them is used.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccreditationView {
    #[schema(value_type = i64)]
    pub intermediary_id: StaffId,
    /// The intermediary account's sign-in email.
    pub email: String,
    #[schema(example = "Patronato INCA-CGIL, sede di Roma")]
    pub organisation: String,
    pub max_active: i64,
    pub max_per_week: i64,
    /// Its clients' bookings active now.
    pub active_bookings: i64,
    /// Bookings made this week (from Monday 00:00, office time), cancelled ones too.
    pub bookings_this_week: i64,
    pub created_at: DateTime<Utc>,
    /// When the admin revoked it; it books no more.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An accreditation's terms.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccreditationRequest {
    /// The organisation, as the office knows it.
    #[schema(schema_with = crate::domain::schema::line_200)]
    pub organisation: String,
    /// Bookings of its clients active at once at this office.
    #[schema(minimum = 0, maximum = 100_000)]
    pub max_active: i64,
    /// Bookings it may make at this office per week (Monday to Sunday, office time).
    #[schema(minimum = 0, maximum = 100_000)]
    pub max_per_week: i64,
}

impl AccreditationRequest {
    pub fn parse(&self) -> Result<(String, Quota), FieldErrors> {
        let mut errors = FieldErrors::new();
        let organisation = errors.check("organisation", parse_line(&self.organisation, 200));
        for (field, value) in [
            ("max_active", self.max_active),
            ("max_per_week", self.max_per_week),
        ] {
            if !(0..=MAX_QUOTA).contains(&value) {
                errors.add(field, format!("must be from 0 to {MAX_QUOTA}"));
            }
        }
        let quota = Quota {
            max_active: self.max_active,
            max_per_week: self.max_per_week,
        };
        match organisation {
            Some(organisation) if errors.is_empty() => Ok((organisation, quota)),
            _ => Err(errors),
        }
    }
}

fn view(
    conn: &mut DbConnection,
    office: &Office,
    accreditation: Accreditation,
    now: DateTime<Utc>,
) -> Result<AccreditationView, IntermediaryError> {
    let week = week_start(now, office.details.timezone);
    let (active, this_week) =
        accreditations::usage(conn, office.id, accreditation.intermediary_id, week)?;
    Ok(AccreditationView {
        intermediary_id: accreditation.intermediary_id,
        email: accreditation.email,
        organisation: accreditation.organisation,
        max_active: accreditation.quota.max_active,
        max_per_week: accreditation.quota.max_per_week,
        active_bookings: active,
        bookings_this_week: this_week,
        created_at: accreditation.created_at,
        revoked_at: accreditation.revoked_at,
    })
}

/// The office's accreditations, revoked ones too. Admins and the office's staff.
pub async fn list(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    now: DateTime<Utc>,
) -> Result<Vec<AccreditationView>, IntermediaryError> {
    store
        .read(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            accreditations::list(conn, office.id)?
                .into_iter()
                .map(|accreditation| view(conn, &office, accreditation, now))
                .collect()
        })
        .await
}

/// Accredits an intermediary account at the office, or changes its terms (lifting a
/// revocation). Admins only; audited.
pub async fn accredit(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    intermediary_id: StaffId,
    terms: AccreditationRequest,
    now: DateTime<Utc>,
) -> Result<AccreditationView, IntermediaryError> {
    let (organisation, quota) = terms.parse()?;
    actor.must_be_admin("Only administrators accredit intermediaries.")?;
    store
        .write(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            match staff::find(conn, intermediary_id)? {
                Some(member) if member.role == Role::Intermediary && member.active => {}
                _ => return Err(IntermediaryFailure::NoSuchIntermediary.into()),
            }
            let before = accreditations::find(conn, office.id, intermediary_id)?
                .map(|accreditation| view(conn, &office, accreditation, now))
                .transpose()?;
            accreditations::put(conn, office.id, intermediary_id, &organisation, quota, now)?;
            let after = accreditations::find(conn, office.id, intermediary_id)?
                .ok_or_else(|| Error::vanished("accreditation"))?;
            let after = view(conn, &office, after, now)?;
            let audit = Audit::by(&actor, now);
            let (action, entity) = (Action::AccreditationPut, intermediary_id);
            match &before {
                Some(before) => {
                    audit.changed(conn, Some(office.id), action, entity, before, &after)?
                }
                None => audit.created(conn, Some(office.id), action, entity, &after)?,
            }
            Ok(after)
        })
        .await
}

/// Revokes an intermediary's accreditation at the office: it books there no more (its
/// clients' bookings stand). Admins only; audited.
pub async fn revoke(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    intermediary_id: StaffId,
    now: DateTime<Utc>,
) -> Result<(), IntermediaryError> {
    actor.must_be_admin("Only administrators revoke accreditations.")?;
    store
        .write(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            if !accreditations::revoke(conn, office.id, intermediary_id, now)? {
                return Err(IntermediaryFailure::NotAccredited.into());
            }
            let audit = Audit::by(&actor, now);
            let action = Action::AccreditationRevoke;
            audit.removed(conn, Some(office.id), action, intermediary_id)?;
            Ok(())
        })
        .await
}
