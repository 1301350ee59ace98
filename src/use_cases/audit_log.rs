//! Reading the audit log: an office's to its manager, everyone's to the administration.

use std::convert::Infallible;

use serde::Deserialize;
use utoipa::IntoParams;

use super::scope::{Need, staff_office};
use crate::{
    domain::{
        FieldErrors, Parsed, audit::AuditEntry, ids::AuditEntryId, office::OfficeCode, staff::Actor,
    },
    error::Error,
    store::{
        Store,
        audit::{self, Scope},
    },
};

pub type AuditLogError = Error<Infallible>;

/// A page of the log.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditPage {
    /// Only entries older than this id (the next page)
    #[param(value_type = Option<i64>, minimum = 1)]
    pub before: Option<AuditEntryId>,
    /// At most this many (default 50, at most 500)
    #[param(minimum = 1, maximum = 500)]
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
) -> Result<Vec<AuditEntry>, AuditLogError> {
    let (before, limit) = AuditPage::checked(page)?;
    store
        .read(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            actor.may_read_office_audit()?;
            Ok(audit::list(conn, Scope::Office(office.id), before, limit)?)
        })
        .await
}

/// Every change, national and per office, newest first. Admins only.
pub async fn national(
    store: &Store,
    actor: Actor,
    page: Parsed<AuditPage>,
) -> Result<Vec<AuditEntry>, AuditLogError> {
    let (before, limit) = AuditPage::checked(page)?;
    actor.must_be_admin("The national audit log is for the administration.")?;
    store
        .read(move |conn| Ok(audit::list(conn, Scope::Everything, before, limit)?))
        .await
}
