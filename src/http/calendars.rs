//! Calendars over HTTP: groups of desks serving in parallel, the services they serve and their
//! weekly hours.

use actix_web::{HttpResponse, get, patch, post, put, web};
use chrono::Utc;

use super::{
    AppState,
    extract::{JsonBody, Staff},
    problem::{ApiError, Problem},
};
use crate::{
    domain::{
        hours::{IntervalInput, WeeklyHours},
        ids::CalendarId,
        office::OfficeCode,
    },
    use_cases::calendars::{self, CalendarView, CreateCalendarRequest, UpdateCalendarRequest},
};

/// The office's calendars.
#[utoipa::path(
    tag = "calendars",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    responses(
        (status = 200, description = "Calendars, oldest first", body = Vec<CalendarView>),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/calendars")]
pub async fn list(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<OfficeCode>,
) -> Result<web::Json<Vec<CalendarView>>, ApiError> {
    let calendars = calendars::list(&state.store, staff.actor, code.into_inner()).await?;
    Ok(web::Json(calendars))
}

/// Adds a calendar. Its hours are set with `PUT …/hours`.
#[utoipa::path(
    tag = "calendars",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    request_body = CreateCalendarRequest,
    responses(
        (status = 201, description = "Created", body = CalendarView),
        (status = 403, description = "Operators cannot configure", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/calendars")]
pub async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<OfficeCode>,
    JsonBody(body): JsonBody<CreateCalendarRequest>,
) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    let calendar = calendars::create(&state.store, staff.actor, code, body, Utc::now()).await?;
    Ok(HttpResponse::Created().json(calendar))
}

/// Changes a calendar's name, desks, services or validity.
#[utoipa::path(
    tag = "calendars",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("id" = i64, Path, description = "Calendar id"),
    ),
    request_body = UpdateCalendarRequest,
    responses(
        (status = 200, description = "Updated", body = CalendarView),
        (status = 404, description = "No such calendar", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/v1/offices/{code}/calendars/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(OfficeCode, CalendarId)>,
    JsonBody(body): JsonBody<UpdateCalendarRequest>,
) -> Result<web::Json<CalendarView>, ApiError> {
    let (code, id) = path.into_inner();
    let calendar = calendars::update(&state.store, staff.actor, code, id, body, Utc::now()).await?;
    Ok(web::Json(calendar))
}

/// Replaces the calendar's weekly hours: a list of intervals, several a day for breaks.
#[utoipa::path(
    tag = "calendars",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("id" = i64, Path, description = "Calendar id"),
    ),
    request_body = Vec<IntervalInput>,
    responses(
        (status = 200, description = "The calendar with its new hours", body = CalendarView),
        (status = 404, description = "No such calendar", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or overlapping intervals", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/api/v1/offices/{code}/calendars/{id}/hours")]
pub async fn put_hours(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(OfficeCode, CalendarId)>,
    JsonBody(body): JsonBody<Vec<IntervalInput>>,
) -> Result<web::Json<CalendarView>, ApiError> {
    let (code, id) = path.into_inner();
    let hours = WeeklyHours::parse(&body)?;
    let calendar =
        calendars::put_hours(&state.store, staff.actor, code, id, hours, Utc::now()).await?;
    Ok(web::Json(calendar))
}
