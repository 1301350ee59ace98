//! The desk over HTTP: the day's agenda, finding a booking, and the status changes of a visit
//! (check-in, attended, no-show, cancelled by the office), all audited.

use actix_web::{FromRequest, HttpRequest, dev::Payload, get, post, web};
use chrono::Utc;
use futures_util::future::LocalBoxFuture;

use crate::{
    domain::{
        Parsed,
        booking::{DeskAction, Reference},
        office::OfficeCode,
        staff::Actor,
    },
    http::{
        AppState,
        extract::{JsonBody, Staff},
        problem::{ApiError, Problem},
    },
    use_cases::bookings::{
        desk::{
            self, AgendaQuery, CancelRequest, DeskChange, SearchQuery, StaffMove, StaffMoveRequest,
        },
        reconfirm::{self, ReconfirmationQuery, ReconfirmationReport},
        views::{Agenda, StaffBookingView},
    },
};

/// The day's bookings by time, optionally for one calendar or service. Staff of the office.
#[utoipa::path(
    tag = "desk",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        AgendaQuery,
    ),
    responses(
        (status = 200, description = "The day's agenda", body = Agenda),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/agenda")]
pub async fn agenda(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<OfficeCode>,
    query: Parsed<AgendaQuery>,
) -> Result<web::Json<Agenda>, ApiError> {
    let code = code.into_inner();
    let agenda = desk::agenda(&state.store, staff.actor, code, query, Utc::now()).await?;
    Ok(web::Json(agenda))
}

/// Finds the office's bookings by case number or reference, newest first.
#[utoipa::path(
    tag = "desk",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        SearchQuery,
    ),
    responses(
        (status = 200, description = "Matching bookings", body = Vec<StaffBookingView>),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither case_number nor reference given", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/bookings")]
pub async fn search(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<OfficeCode>,
    query: Parsed<SearchQuery>,
) -> Result<web::Json<Vec<StaffBookingView>>, ApiError> {
    let found = desk::search(&state.store, staff.actor, code.into_inner(), query).await?;
    Ok(web::Json(found))
}

/// A desk action on one booking: who acts, on which booking of which office.
pub struct OnBooking {
    state: web::Data<AppState>,
    actor: Actor,
    code: OfficeCode,
    reference: Reference,
}

impl FromRequest for OnBooking {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<OnBooking, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        type Parts = (
            web::Data<AppState>,
            Staff,
            web::Path<(OfficeCode, Reference)>,
        );
        let parts = Parts::from_request(req, payload);
        Box::pin(async move {
            let (state, staff, path) = parts.await?;
            let (code, reference) = path.into_inner();
            Ok(OnBooking {
                state,
                actor: staff.actor,
                code,
                reference,
            })
        })
    }
}

impl OnBooking {
    async fn apply(self, change: DeskChange) -> Result<web::Json<StaffBookingView>, ApiError> {
        let state = self.state;
        let (store, policy) = (&state.store, &state.booking_policy);
        let (actor, code, reference) = (self.actor, self.code, self.reference);
        let view = desk::act(store, policy, actor, code, reference, change, Utc::now()).await?;
        Ok(web::Json(view))
    }

    async fn move_to(self, change: StaffMove) -> Result<web::Json<StaffBookingView>, ApiError> {
        let state = self.state;
        let (store, policy) = (&state.store, &state.booking_policy);
        let (actor, code, reference) = (self.actor, self.code, self.reference);
        let now = Utc::now();
        let view = desk::move_visit(store, policy, actor, code, reference, change, now).await?;
        Ok(web::Json(view))
    }
}

/// Checks the applicant in, on the day of the visit.
#[utoipa::path(
    tag = "desk",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code"), ("reference" = String, Path, description = "Booking reference")),
    responses(
        (status = 200, description = "Checked in", body = StaffBookingView),
        (status = 404, description = "No such booking at the office", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_status_transition`, `not_the_visit_day`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/bookings/{reference}/check-in")]
pub async fn check_in(on: OnBooking) -> Result<web::Json<StaffBookingView>, ApiError> {
    on.apply(DeskAction::CheckIn.into()).await
}

/// Marks a checked-in applicant as served.
#[utoipa::path(
    tag = "desk",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code"), ("reference" = String, Path, description = "Booking reference")),
    responses(
        (status = 200, description = "Attended", body = StaffBookingView),
        (status = 404, description = "No such booking at the office", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_status_transition`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/bookings/{reference}/attended")]
pub async fn attended(on: OnBooking) -> Result<web::Json<StaffBookingView>, ApiError> {
    on.apply(DeskAction::MarkAttended.into()).await
}

/// Records that the applicant did not come (once the visit was due).
#[utoipa::path(
    tag = "desk",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code"), ("reference" = String, Path, description = "Booking reference")),
    responses(
        (status = 200, description = "No-show", body = StaffBookingView),
        (status = 404, description = "No such booking at the office", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_status_transition`, `visit_not_started`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/bookings/{reference}/no-show")]
pub async fn no_show(on: OnBooking) -> Result<web::Json<StaffBookingView>, ApiError> {
    on.apply(DeskAction::MarkNoShow.into()).await
}

/// The office cancels a booking, with a reason the applicant is told.
#[utoipa::path(
    tag = "desk",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code"), ("reference" = String, Path, description = "Booking reference")),
    request_body = CancelRequest,
    responses(
        (status = 200, description = "Cancelled", body = StaffBookingView),
        (status = 404, description = "No such booking at the office", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_status_transition`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A reason is required", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/bookings/{reference}/cancel")]
pub async fn cancel_by_office(
    on: OnBooking,
    JsonBody(body): JsonBody<CancelRequest>,
) -> Result<web::Json<StaffBookingView>, ApiError> {
    on.apply(body.parse()?).await
}

/// The office moves a booking to another time of its service, with a reason the applicant is
/// mailed with the new time: before the visit, onto any free seat (the desk's share included),
/// with none of the applicant's limits (cut-off, moves allowed, notice). The booking keeps its
/// reference, token and channel; the old seat cools down as any freed seat does. Audited.
#[utoipa::path(
    tag = "desk",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code"), ("reference" = String, Path, description = "Booking reference")),
    request_body = StaffMoveRequest,
    responses(
        (status = 200, description = "Moved", body = StaffBookingView),
        (status = 404, description = "No such booking at the office, or no such slot", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`booking_not_changeable` (not confirmed, or its visit has begun), `same_slot`, `slot_full`, `slot_unavailable`, `slot_in_the_past`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A reason is required; a time of another service", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/bookings/{reference}/move")]
pub async fn move_by_office(
    on: OnBooking,
    JsonBody(body): JsonBody<StaffMoveRequest>,
) -> Result<web::Json<StaffBookingView>, ApiError> {
    on.move_to(body.parse()?).await
}

/// How many applicants were asked to reconfirm their visits on some days, how many did, and how
/// many seats were released (freed for others) because nobody did. Staff of the office.
#[utoipa::path(
    tag = "desk",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ReconfirmationQuery,
    ),
    responses(
        (status = 200, description = "The counts", body = ReconfirmationReport),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/reconfirmation")]
pub async fn reconfirmation(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<OfficeCode>,
    query: Parsed<ReconfirmationQuery>,
) -> Result<web::Json<ReconfirmationReport>, ApiError> {
    let code = code.into_inner();
    let report = reconfirm::report(&state.store, staff.actor, code, query).await?;
    Ok(web::Json(report))
}
