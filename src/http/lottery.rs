//! Lotteries: the office's draws, entering one, and re-running one to check it.

use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;

use crate::{
    domain::{ids::DrawId, office::OfficeCode},
    http::{
        AppState,
        client::ClientAddress,
        extract::{JsonBody, MaybeStaff, Staff},
        problem::{ApiError, Problem},
    },
    use_cases::lottery::{
        self, DrawView, ReplayView,
        enter::{EntryRequest, EntryView},
    },
};

/// The office's lottery draws: to come, taking entries, or drawn in the last 30 days. Each
/// shows the SHA-256 of its seed from the start, and the seed itself once drawn, so that anyone
/// can check the draw (see `POST …/replay` for how it is made).
#[utoipa::path(
    tag = "lottery",
    security((), ("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    responses(
        (status = 200, description = "The draws", body = Vec<DrawView>),
        (status = 404, description = "No such public office", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/draws")]
pub async fn list(
    state: web::Data<AppState>,
    viewer: MaybeStaff,
    code: web::Path<OfficeCode>,
) -> Result<web::Json<Vec<DrawView>>, ApiError> {
    let (viewer, code) = (viewer.actor(), code.into_inner());
    let draws = lottery::list(&state.store, viewer, code, Utc::now()).await?;
    Ok(web::Json(draws))
}

/// One draw.
#[utoipa::path(
    tag = "lottery",
    security((), ("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("draw_id" = i64, Path, description = "Draw id"),
    ),
    responses(
        (status = 200, description = "The draw", body = DrawView),
        (status = 404, description = "No such public office, or no such draw there", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/draws/{draw_id}")]
pub async fn show(
    state: web::Data<AppState>,
    viewer: MaybeStaff,
    path: web::Path<(OfficeCode, DrawId)>,
) -> Result<web::Json<DrawView>, ApiError> {
    let (code, id) = path.into_inner();
    let draw = lottery::show(&state.store, viewer.actor(), code, id, Utc::now()).await?;
    Ok(web::Json(draw))
}

/// Enters the draw, while it takes entries (from when its seats open until it closes): one
/// entry per case, with up to 5 preferred slots of the draw or any slot on a range of days.
/// At the close the seats are shared out by lot; a winner is booked and gets the usual
/// confirmation, a loser gets a notice. After the close, seats left are booked first come.
#[utoipa::path(
    tag = "lottery",
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("draw_id" = i64, Path, description = "Draw id"),
    ),
    request_body = EntryRequest,
    responses(
        (status = 201, description = "Entered", body = EntryView),
        (status = 404, description = "No such public office, or no such draw there", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Refused: `lottery_not_open` (entries start when the seats open), `lottery_closed`, `already_entered` (one entry per case), `case_already_booked`, `too_many_bookings` (entries count as bookings), `invite_only`, `service_not_offered`, `office_not_open`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (a preferred slot not of this draw, no slot on the days; `altcha`, a solved proof-of-work challenge used once, where the office asks for one), or `case_not_verified`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts` (wrong verification codes) or `rate_limited`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/draws/{draw_id}/entries")]
pub async fn enter_draw(
    state: web::Data<AppState>,
    path: web::Path<(OfficeCode, DrawId)>,
    from: ClientAddress,
    JsonBody(body): JsonBody<EntryRequest>,
) -> Result<HttpResponse, ApiError> {
    let (code, id) = path.into_inner();
    let entry = body.parse()?;
    let policy = &state.booking_policy;
    let entered =
        lottery::enter::enter(&state.store, policy, from, code, id, entry, Utc::now()).await?;
    Ok(HttpResponse::Created().json(entered))
}

/// Re-runs a drawn draw from its stored entries, the seats it shared out and its published
/// seed, and says whether every entry gets the seat the draw gave it (administrators).
///
/// The draw, for anyone to redo: take the entries in ascending id; shuffle them by
/// Fisher–Yates from the last position down, position `i` swapping with `j` uniform in
/// `0..=i`, where the random numbers are the first 8 bytes (big-endian) of `SHA-256(seed ‖
/// counter)` (seed as 32 bytes, counter a big-endian u64 from 0), drawn below the bound by
/// rejection; then serve each entry in that order the first of its choices (its preferred slots
/// in order, or the draw's slots on its days in time order) with a seat left.
#[utoipa::path(
    tag = "lottery",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("draw_id" = i64, Path, description = "Draw id"),
    ),
    responses(
        (status = 200, description = "The re-run", body = ReplayView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office, or no such draw there", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`lottery_under_way`: not drawn yet", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/draws/{draw_id}/replay")]
pub async fn replay(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(OfficeCode, DrawId)>,
) -> Result<web::Json<ReplayView>, ApiError> {
    let (code, id) = path.into_inner();
    let replayed = lottery::replay(&state.store, staff.actor, code, id).await?;
    Ok(web::Json(replayed))
}
