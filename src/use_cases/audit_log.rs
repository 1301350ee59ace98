//! Reading the audit log: an office's to its manager, everyone's to the administration.

use std::convert::Infallible;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::scope::{Need, staff_office};
use crate::{
    domain::{FieldErrors, Parsed, ids::AuditEntryId, office::OfficeCode, staff::Actor},
    error::Error,
    store::{
        Store,
        audit::{self, Entry, Scope},
    },
};

pub type AuditLogError = Error<Infallible>;

#[derive(Serialize, ToSchema)]
pub struct AuditEntryView {
    #[schema(value_type = i64)]
    pub id: AuditEntryId,
    pub office_code: Option<String>,
    /// Who made the change.
    pub actor_email: Option<String>,
    /// `entity.verb`, e.g. `calendar.create` or `office.stage`.
    #[schema(example = "office.stage")]
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    /// The state before the change, when there was one.
    pub before: Option<serde_json::Value>,
    /// The state after the change.
    pub after: Option<serde_json::Value>,
    pub at: DateTime<Utc>,
}

impl From<Entry> for AuditEntryView {
    fn from(e: Entry) -> AuditEntryView {
        AuditEntryView {
            id: e.id,
            office_code: e.office_code,
            actor_email: e.actor_email,
            action: e.action,
            entity: e.entity,
            entity_id: e.entity_id,
            before: e.before,
            after: e.after,
            at: e.at,
        }
    }
}

/// A page of the log.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditPage {
    /// Only entries older than this id (the next page)
    #[param(value_type = Option<i64>)]
    pub before: Option<AuditEntryId>,
    /// At most this many (default 50, at most 500)
    pub limit: Option<i64>,
}

impl AuditPage {
    /// The page asked for, with a limit within bounds.
    fn checked(page: Parsed<AuditPage>) -> Result<(Option<AuditEntryId>, i64), FieldErrors> {
        let (page, mut errors) = page.into_parts();
        if page.before.is_some_and(|before| before.get() < 1) {
            errors.add("before", "must be the id of an entry");
        }
        let limit = page.limit.unwrap_or(50);
        if !(1..=500).contains(&limit) {
            errors.add("limit", "must be a whole number from 1 to 500");
        }
        errors.or_value((page.before, limit))
    }
}

/// The office's configuration changes, newest first. Managers and admins.
pub async fn of_office(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    page: Parsed<AuditPage>,
) -> Result<Vec<AuditEntryView>, AuditLogError> {
    let (before, limit) = AuditPage::checked(page)?;
    store
        .read(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            actor.may_read_office_audit()?;
            let entries = audit::list(conn, Scope::Office(office.id), before, limit)?;
            Ok(entries.into_iter().map(AuditEntryView::from).collect())
        })
        .await
}

/// Every change, national and per office, newest first. Admins only.
pub async fn national(
    store: &Store,
    actor: Actor,
    page: Parsed<AuditPage>,
) -> Result<Vec<AuditEntryView>, AuditLogError> {
    let (before, limit) = AuditPage::checked(page)?;
    actor.must_be_admin("The national audit log is for the administration.")?;
    store
        .read(move |conn| {
            let entries = audit::list(conn, Scope::Everything, before, limit)?;
            Ok(entries.into_iter().map(AuditEntryView::from).collect())
        })
        .await
}
