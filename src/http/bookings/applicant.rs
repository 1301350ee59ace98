//! What applicants do with their visit: book it (the desk books through the same endpoint),
//! and, with the manage token they were given, view, cancel or move it, or take it as a
//! calendar event.

use actix_web::{
    FromRequest, HttpRequest, HttpResponse, dev::Payload, get, http::StatusCode, post, web,
};
use chrono::Utc;
use futures_util::future::{Ready, ready};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    domain::{Parsed, office::OfficeCode},
    http::{
        AppState,
        client::ClientAddress,
        extract::{JsonBody, MaybeStaff},
        problem::{ApiError, Problem},
    },
    use_cases::bookings::{
        Booker,
        book::{self, BookingRequest, IdempotencyKey},
        manage::{self, RescheduleRequest},
        proof::{self, ChallengeView},
        reconfirm as reconfirmation,
        views::{BookingConfirmation, BookingView},
    },
};

const TOKEN_HEADER: &str = "x-booking-token";
const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Books a seat. Without a staff token this is the applicant booking online (`pilot` and
/// `live` offices); with one, staff booking at the desk on someone's behalf (channel `desk`,
/// may use the seats held for the desk; in a `preview` office the booking is a test). With an
/// intermediary's token, the intermediary books for a client: the applicant's rules apply,
/// the client gets the mail, and the booking counts against the intermediary's quotas at the
/// office (`403` when not accredited there, `409 quota_reached` past a quota).
///
/// Send an `Idempotency-Key` to retry safely: the same key with the same request answers with
/// the first booking (header `Idempotent-Replayed: true`) and books nothing new.
#[utoipa::path(
    tag = "bookings",
    security((), ("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe, e.g. a UUID"),
    ),
    request_body = BookingRequest,
    responses(
        (status = 201, description = "Booked", body = BookingConfirmation),
        (status = 403, description = "An intermediary not accredited at this office", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such public office", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Refused: `quota_reached` (an intermediary's), `slot_full`, `slot_unavailable`, `invite_only`, `case_not_ready`, `min_notice`, `beyond_horizon`, `slot_in_the_past`, `case_already_booked`, `too_many_bookings`, `office_not_open`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`verification_secret` is required where the service books registered cases only; `altcha`, a solved proof-of-work challenge used once, where the office asks for one), `case_not_verified` (no registered case has this number and verification code; an unknown case and a wrong code are told alike), or `idempotency_key_reused`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`: too many wrong verification codes for this case or from this address lately (see `Retry-After`); or `rate_limited`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/bookings")]
pub async fn create(
    state: web::Data<AppState>,
    viewer: MaybeStaff,
    code: web::Path<OfficeCode>,
    from: ClientAddress,
    req: HttpRequest,
    JsonBody(body): JsonBody<BookingRequest>,
) -> Result<HttpResponse, ApiError> {
    let booker = Booker::signed(viewer.actor(), from);
    let visit = body.parse(&booker)?;
    let header = req
        .headers()
        .get(IDEMPOTENCY_HEADER)
        .map(|value| value.as_bytes());
    let key = IdempotencyKey::parse(header, &booker, &body)?;
    let (policy, code) = (&state.booking_policy, code.into_inner());
    let booked = book::book(&state.store, policy, booker, code, visit, key, Utc::now()).await?;
    let mut response = HttpResponse::Created();
    if booked.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(booked.confirmation))
}

/// A proof-of-work challenge (ALTCHA PoW v2) for the office: where the office asks for proof
/// of work (`proof_of_work` on its page), applicants' clients solve one and send it as
/// `altcha` with a booking or a lottery entry. Each is good once, for ten minutes by default.
/// Point the ALTCHA widget's `challengeurl` here.
#[utoipa::path(
    tag = "bookings",
    params(("code" = String, Path, description = "Office code", example = "RM")),
    responses(
        (status = 200, description = "A fresh challenge", body = ChallengeView),
        (status = 404, description = "No such public office", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/challenge")]
pub async fn challenge(
    state: web::Data<AppState>,
    code: web::Path<OfficeCode>,
) -> Result<HttpResponse, ApiError> {
    let (policy, code) = (&state.booking_policy, code.into_inner());
    let challenge = proof::challenge(&state.store, policy, code, Utc::now()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(challenge))
}

/// The booking a manage request is about: the reference in the path, and the manage token the
/// applicant was given, in the `X-Booking-Token` header.
pub struct Managed {
    pub reference: String,
    pub token: String,
}

impl FromRequest for Managed {
    type Error = ApiError;
    type Future = Ready<Result<Managed, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let reference = req
            .match_info()
            .get("reference")
            .unwrap_or_default()
            .to_owned();
        let token = req
            .headers()
            .get(TOKEN_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(|token| token.trim().to_owned())
            .filter(|token| !token.is_empty());
        ready(match token {
            Some(token) => Ok(Managed { reference, token }),
            None => Err(token_required(
                "Send the manage token you received when booking as the X-Booking-Token header.",
            )),
        })
    }
}

fn token_required(detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "booking_token_required", detail)
}

/// The booking, to its applicant (`X-Booking-Token`).
#[utoipa::path(
    tag = "bookings",
    params(
        ("reference" = String, Path, description = "Booking reference", example = "K7P3-Q9XD"),
        ("X-Booking-Token" = String, Header, description = "The manage token"),
    ),
    responses(
        (status = 200, description = "The booking", body = BookingView),
        (status = 401, description = "`booking_token_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No booking with this reference and token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/bookings/{reference}")]
pub async fn show(
    state: web::Data<AppState>,
    managed: Managed,
) -> Result<web::Json<BookingView>, ApiError> {
    let Managed { reference, token } = managed;
    Ok(web::Json(
        manage::show(&state.store, reference, token).await?,
    ))
}

/// The applicant cancels, up to the service's cut-off before the visit. The seat returns to
/// sale after a cool-down. A POST, never a GET: mail link scanners must not cancel anything.
#[utoipa::path(
    tag = "bookings",
    params(
        ("reference" = String, Path, description = "Booking reference", example = "K7P3-Q9XD"),
        ("X-Booking-Token" = String, Header, description = "The manage token"),
    ),
    responses(
        (status = 200, description = "Cancelled", body = BookingView),
        (status = 401, description = "`booking_token_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No booking with this reference and token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`change_cutoff_passed`, `booking_not_changeable`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/bookings/{reference}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    managed: Managed,
) -> Result<web::Json<BookingView>, ApiError> {
    let Managed { reference, token } = managed;
    let (store, policy) = (&state.store, &state.booking_policy);
    let view = manage::cancel_visit(store, policy, reference, token, Utc::now()).await?;
    Ok(web::Json(view))
}

/// The applicant reconfirms the visit, where the service asks for it: any time before
/// `reconfirm_by`, after which an unconfirmed visit is released. A POST, never a GET.
#[utoipa::path(
    tag = "bookings",
    params(
        ("reference" = String, Path, description = "Booking reference", example = "K7P3-Q9XD"),
        ("X-Booking-Token" = String, Header, description = "The manage token"),
    ),
    responses(
        (status = 200, description = "Reconfirmed", body = BookingView),
        (status = 401, description = "`booking_token_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No booking with this reference and token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`no_reconfirmation`, `booking_not_changeable` (cancelled, past, or released)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/bookings/{reference}/reconfirm")]
pub async fn reconfirm(
    state: web::Data<AppState>,
    managed: Managed,
) -> Result<web::Json<BookingView>, ApiError> {
    let Managed { reference, token } = managed;
    let (store, policy) = (&state.store, &state.booking_policy);
    let view = reconfirmation::reconfirm(store, policy, reference, token, Utc::now()).await?;
    Ok(web::Json(view))
}

/// Moves the visit to another slot, atomically: the new seat is taken and the old one freed,
/// or nothing changes. A move passes every rule a new booking passes, keeps the booking's
/// channel, and is allowed a few times per booking (`booking.max_moves_per_booking`). The seat
/// left behind cools down like a cancelled one, but a booking keeps only one seat cooling: moving
/// again puts the seat it left before straight back on sale.
#[utoipa::path(
    tag = "bookings",
    params(
        ("reference" = String, Path, description = "Booking reference", example = "K7P3-Q9XD"),
        ("X-Booking-Token" = String, Header, description = "The manage token"),
    ),
    request_body = RescheduleRequest,
    responses(
        (status = 200, description = "Moved", body = BookingView),
        (status = 401, description = "`booking_token_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No booking with this reference and token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`slot_full`, `slot_unavailable`, `same_slot`, `min_notice`, `beyond_horizon`, `change_cutoff_passed`, `booking_not_changeable`, `office_not_open`, `service_not_offered`, `invite_only`, `case_not_ready`, `too_many_moves`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a slot of this office and service", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/bookings/{reference}/reschedule")]
pub async fn reschedule(
    state: web::Data<AppState>,
    managed: Managed,
    JsonBody(body): JsonBody<RescheduleRequest>,
) -> Result<web::Json<BookingView>, ApiError> {
    let Managed { reference, token } = managed;
    let (store, policy, to) = (&state.store, &state.booking_policy, body.slot_id);
    let view = manage::reschedule(store, policy, reference, token, to, Utc::now()).await?;
    Ok(web::Json(view))
}

/// The manage token, for calendar programs that cannot send headers.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CalendarQuery {
    /// The manage token
    // Required by the document; its absence is answered 401 `booking_token_required`, as a
    // missing header is.
    #[param(required = true)]
    pub token: Option<String>,
}

/// The booking as an RFC 5545 calendar event (`token` in the query, for calendar programs
/// that cannot send headers). The UID stays the same for the booking's life; SEQUENCE rises
/// with every change.
#[utoipa::path(
    tag = "bookings",
    params(
        ("reference" = String, Path, description = "Booking reference", example = "K7P3-Q9XD"),
        CalendarQuery,
    ),
    responses(
        (status = 200, description = "text/calendar", body = String, content_type = "text/calendar"),
        (status = 401, description = "`booking_token_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No booking with this reference and token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/bookings/{reference}/calendar.ics")]
pub async fn calendar(
    state: web::Data<AppState>,
    reference: web::Path<String>,
    query: Parsed<CalendarQuery>,
) -> Result<HttpResponse, ApiError> {
    let token = query.complete()?.token;
    let token = token.ok_or_else(|| token_required("Add ?token=<manage token> to the address."))?;
    let (file_name, text) = manage::calendar(&state.store, reference.into_inner(), token).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{file_name}\""),
        ))
        .body(text))
}
