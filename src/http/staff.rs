//! Staff accounts: admins create anyone, managers create the operators of their office.

use actix_web::{HttpResponse, get, http::StatusCode, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    AppState,
    extract::{JsonBody, Staff},
    problem::{ApiError, Problem},
    scope::audit,
};
use crate::{
    auth::password,
    domain::{
        FieldErrors,
        staff::{EmailAddress, NewPassword, OfficeCode, Role, check_office_for_role},
    },
    store::{
        is_unique_violation, offices,
        staff::{self, NewStaff, StaffMember},
    },
};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaffRequest {
    #[schema(example = "marco.bianchi@prefettura.it")]
    pub email: String,
    /// 12 to 128 characters.
    #[schema(format = Password)]
    pub password: String,
    pub role: Role,
    /// Required for managers and operators, absent for admins.
    #[schema(example = "RM")]
    pub office_code: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStaffRequest {
    /// `false` deactivates the account: it can no longer log in and its tokens stop working.
    pub active: Option<bool>,
}

/// A staff account (never its password).
#[derive(Serialize, ToSchema)]
pub struct StaffView {
    pub id: i64,
    pub email: String,
    pub role: Role,
    /// `null` for admins.
    #[schema(value_type = Option<String>, example = "RM")]
    pub office_code: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<StaffMember> for StaffView {
    fn from(member: StaffMember) -> StaffView {
        StaffView {
            id: member.id,
            email: member.email,
            role: member.role,
            office_code: member.office_code.map(|code| code.to_string()),
            active: member.active,
            created_at: member.created_at,
        }
    }
}

/// Creates a staff account. Admins may create any role; managers only operators of their own
/// office. Emails are unique regardless of case.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    request_body = CreateStaffRequest,
    responses(
        (status = 201, description = "Created", body = StaffView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not create this account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`: an account with this email exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/staff")]
pub async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<CreateStaffRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let email = errors.check("email", EmailAddress::parse(&body.email));
    let password = errors.check("password", NewPassword::parse(&body.password));
    let office = match body.office_code.as_deref() {
        None => Some(None),
        Some(code) => errors
            .check("office_code", OfficeCode::parse(code))
            .map(Some),
    };
    if let Some(office) = &office {
        errors.check(
            "office_code",
            check_office_for_role(body.role, office.as_ref()),
        );
    }
    let (Some(email), Some(password), Some(office)) = (email, password, office) else {
        return Err(errors.into());
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    staff.actor.may_create_staff(body.role, office.as_ref())?;

    let password_hash = tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let role = body.role;
    let actor = staff.actor.clone();
    let member = state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            let office_id = match &office {
                None => None,
                Some(code) => Some(
                    offices::id_by_code(conn, code)?
                        .ok_or_else(|| ApiError::field("office_code", "no office has this code"))?,
                ),
            };
            let new = NewStaff {
                email: &email,
                password_hash: &password_hash,
                role,
                office_id,
            };
            let id = staff::insert(conn, new, Utc::now()).map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::conflict(
                        "email_taken",
                        format!("A staff account with the email {email} already exists."),
                    )
                } else {
                    e.into()
                }
            })?;
            let member = staff::find(conn, id)?.ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("staff {id} vanished after insert"))
            })?;
            let view = StaffView::from(member.clone());
            audit(
                conn,
                &actor,
                office_id,
                "staff.create",
                id,
                None::<&()>,
                Some(&view),
            )?;
            Ok(member)
        })
        .await?;
    tracing::info!(actor = staff.actor.staff_id, created = member.id, role = %member.role, "staff account created");
    Ok(HttpResponse::build(StatusCode::CREATED).json(StaffView::from(member)))
}

/// The staff accounts the caller manages: every account for admins, their office's accounts for
/// managers.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accounts, oldest first", body = Vec<StaffView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Operators cannot list accounts", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/staff")]
pub async fn list(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<web::Json<Vec<StaffView>>, ApiError> {
    let actor = staff.actor;
    if actor.role == Role::Operator {
        return Err(ApiError::forbidden("Operators cannot list staff accounts."));
    }
    let members = state
        .store
        .read(move |conn| -> Result<_, ApiError> {
            let office_id = match &actor.office {
                None => None,
                Some(code) => Some(offices::id_by_code(conn, code)?.ok_or_else(|| {
                    ApiError::internal(anyhow::anyhow!(
                        "office {code} of a staff member is missing"
                    ))
                })?),
            };
            Ok(staff::list(conn, office_id)?)
        })
        .await?;
    Ok(web::Json(
        members.into_iter().map(StaffView::from).collect(),
    ))
}

/// Changes an account the caller manages; today, deactivates or reactivates it. Accounts the
/// caller does not manage answer 404, as if they did not exist.
#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The account's id")),
    request_body = UpdateStaffRequest,
    responses(
        (status = 200, description = "Updated", body = StaffView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account among those the caller manages", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`cannot_deactivate_self`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/v1/staff/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<UpdateStaffRequest>,
) -> Result<web::Json<StaffView>, ApiError> {
    let id = id.into_inner();
    let actor = staff.actor;
    let actor_id = actor.staff_id;
    let member = state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            let target = staff::find(conn, id)?
                .filter(|target| {
                    target.id == actor.staff_id
                        || actor.manages(target.role, target.office_code.as_ref())
                })
                .ok_or_else(|| ApiError::not_found("There is no such staff account."))?;
            let before = StaffView::from(target.clone());
            if let Some(active) = body.active {
                if !active && target.id == actor.staff_id {
                    return Err(ApiError::conflict(
                        "cannot_deactivate_self",
                        "You cannot deactivate your own account; ask another administrator.",
                    ));
                }
                staff::set_active(conn, id, active, Utc::now())?;
            }
            let updated = staff::find(conn, id)?
                .ok_or_else(|| ApiError::not_found("There is no such staff account."))?;
            let office_id = match &updated.office_code {
                Some(code) => offices::id_by_code(conn, code)?,
                None => None,
            };
            let after = StaffView::from(updated.clone());
            audit(
                conn,
                &actor,
                office_id,
                "staff.update",
                id,
                Some(&before),
                Some(&after),
            )?;
            Ok(updated)
        })
        .await?;
    tracing::info!(
        actor = actor_id,
        target = id,
        active = member.active,
        "staff account updated"
    );
    Ok(web::Json(StaffView::from(member)))
}
