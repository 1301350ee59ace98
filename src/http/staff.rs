//! Staff accounts over HTTP: admins create anyone, managers create the operators of their
//! office.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::Utc;

use super::{
    AppState,
    extract::{JsonBody, Staff},
    problem::{ApiError, Problem},
};
use crate::{
    domain::ids::StaffId,
    use_cases::staff::{self, CreateStaffRequest, StaffView, UpdateStaffRequest},
};

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
        (status = 409, description = "`email_taken`: an account with this email exists; `email_unavailable` (to a manager, when the account is not one of their office's)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/staff")]
pub async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<CreateStaffRequest>,
) -> Result<HttpResponse, ApiError> {
    let account = body.parse()?;
    let (store, hasher) = (&state.store, &state.hasher);
    let created = staff::create(store, hasher, staff.actor, account, Utc::now()).await?;
    Ok(HttpResponse::Created().json(created))
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
    Ok(web::Json(staff::list(&state.store, staff.actor).await?))
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
    id: web::Path<StaffId>,
    JsonBody(body): JsonBody<UpdateStaffRequest>,
) -> Result<web::Json<StaffView>, ApiError> {
    let id = id.into_inner();
    let updated = staff::update(&state.store, staff.actor, id, body, Utc::now()).await?;
    Ok(web::Json(updated))
}
