//! Reading the audit log: an office's to its manager, everyone's to the administration.

use actix_web::{HttpRequest, get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    AppState,
    extract::{QueryParams, Staff},
    problem::{ApiError, Problem},
    scope::{Need, staff_office},
};
use crate::{
    domain::{FieldErrors, staff::Role},
    store::audit::{self, Entry, Scope},
};

#[derive(Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: i64,
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

/// `before` (an entry id, for the next page) and `limit` (default 50).
fn page(req: &HttpRequest) -> Result<(Option<i64>, i64), ApiError> {
    let query = QueryParams::parse(req, &["before", "limit"])?;
    let mut errors = FieldErrors::new();
    let before = query.integer(&mut errors, "before", 1..=i64::MAX);
    let limit = query.integer(&mut errors, "limit", 1..=500).unwrap_or(50);
    if errors.is_empty() {
        Ok((before, limit))
    } else {
        Err(errors.into())
    }
}

/// The office's configuration changes, newest first. Managers and admins.
#[utoipa::path(
    tag = "audit",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("before" = Option<i64>, Query, description = "Only entries older than this id (the next page)"),
        ("limit" = Option<i64>, Query, description = "At most this many (default 50, at most 500)"),
    ),
    responses(
        (status = 200, description = "Entries, newest first", body = Vec<AuditEntryView>),
        (status = 403, description = "Operators cannot read the audit log", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/audit")]
pub async fn office_log(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<String>,
    req: HttpRequest,
) -> Result<web::Json<Vec<AuditEntryView>>, ApiError> {
    let (before, limit) = page(&req)?;
    let actor = staff.actor;
    let entries = state
        .store
        .read(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            if actor.role == Role::Operator {
                return Err(ApiError::forbidden(
                    "The audit log is for managers and administrators.",
                ));
            }
            Ok(audit::list(conn, Scope::Office(office.id), before, limit)?)
        })
        .await?;
    Ok(web::Json(
        entries.into_iter().map(AuditEntryView::from).collect(),
    ))
}

/// Every change, national and per office, newest first. Admins only.
#[utoipa::path(
    tag = "audit",
    security(("bearer" = [])),
    params(
        ("before" = Option<i64>, Query, description = "Only entries older than this id (the next page)"),
        ("limit" = Option<i64>, Query, description = "At most this many (default 50, at most 500)"),
    ),
    responses(
        (status = 200, description = "Entries, newest first", body = Vec<AuditEntryView>),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/audit")]
pub async fn national_log(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
) -> Result<web::Json<Vec<AuditEntryView>>, ApiError> {
    let (before, limit) = page(&req)?;
    staff
        .actor
        .must_be_admin("The national audit log is for the administration.")?;
    let entries = state
        .store
        .read(move |conn| -> Result<_, ApiError> {
            Ok(audit::list(conn, Scope::Everything, before, limit)?)
        })
        .await?;
    Ok(web::Json(
        entries.into_iter().map(AuditEntryView::from).collect(),
    ))
}
