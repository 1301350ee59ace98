//! Slots over HTTP: publishing them, the staff view, blocking one, and what applicants can
//! book.

use actix_web::{HttpResponse, get, http::header::ContentType, patch, post, web};
use chrono::Utc;

use super::{
    AppState,
    extract::{JsonBody, MaybeStaff, Staff},
    problem::{ApiError, Problem},
};
use crate::{
    domain::{Parsed, ids::SlotId, office::OfficeCode},
    use_cases::{
        availability::{Availability, AvailabilityQuery},
        publication::{self, PublishRequest, PublishResponse},
        slots::{self, BlockRequest, SlotsQuery, StaffSlotView},
    },
};

/// Generates the slots of the office's calendars over a range of days or a rolling horizon.
/// Publishing again is safe: existing slots are kept, unbooked slots no longer open are taken
/// away, and booked ones are never dropped: they come back as `conflicts`.
#[utoipa::path(
    tag = "slots",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    request_body = PublishRequest,
    responses(
        (status = 200, description = "What changed", body = PublishResponse),
        (status = 403, description = "Operators cannot publish", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`calendar_durations_differ`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid range", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/slots/publish")]
pub async fn publish(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<OfficeCode>,
    JsonBody(body): JsonBody<PublishRequest>,
) -> Result<web::Json<PublishResponse>, ApiError> {
    let code = code.into_inner();
    let published = publication::publish(&state.store, staff.actor, code, body, Utc::now()).await?;
    Ok(web::Json(published))
}

/// All of the office's slots in a range of local days, with their counters, for staff.
#[utoipa::path(
    tag = "slots",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        SlotsQuery,
    ),
    responses(
        (status = 200, description = "Slots in time order", body = Vec<StaffSlotView>),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/slots")]
pub async fn list(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<OfficeCode>,
    query: Parsed<SlotsQuery>,
) -> Result<web::Json<Vec<StaffSlotView>>, ApiError> {
    let code = code.into_inner();
    let slots = slots::for_staff(&state.store, staff.actor, code, query, Utc::now()).await?;
    Ok(web::Json(slots))
}

/// Blocks or unblocks one slot. A blocked slot sells no more seats; its bookings stay valid.
#[utoipa::path(
    tag = "slots",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("id" = i64, Path, description = "Slot id"),
    ),
    request_body = BlockRequest,
    responses(
        (status = 200, description = "The slot", body = StaffSlotView),
        (status = 404, description = "No such slot", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A reason is required to block", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/v1/offices/{code}/slots/{id}")]
pub async fn block(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(OfficeCode, SlotId)>,
    JsonBody(body): JsonBody<BlockRequest>,
) -> Result<web::Json<StaffSlotView>, ApiError> {
    let (code, id) = path.into_inner();
    let blocking = body.parse()?;
    let slot = slots::block(&state.store, staff.actor, code, id, blocking, Utc::now()).await?;
    Ok(web::Json(slot))
}

/// What applicants can book: the slots of one service with free seats, by local day. Slots
/// inside the service's minimum notice or beyond its booking horizon are not offered.
#[utoipa::path(
    tag = "availability",
    security((), ("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        AvailabilityQuery,
    ),
    responses(
        (status = 200, description = "Days with seats", body = Availability),
        (status = 404, description = "No such public office, or it does not offer the service", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/availability")]
pub async fn availability(
    state: web::Data<AppState>,
    viewer: MaybeStaff,
    code: web::Path<OfficeCode>,
    query: Parsed<AvailabilityQuery>,
) -> Result<HttpResponse, ApiError> {
    let (viewer, code) = (viewer.actor(), code.into_inner());
    let available = crate::use_cases::availability::availability(
        &state.store,
        &state.offer,
        viewer,
        code,
        query,
        Utc::now(),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(available.to_json()))
}
