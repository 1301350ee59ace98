//! The earlier-slot waitlist over HTTP: a booking (with its manage token) joins, looks at and
//! leaves the waitlist; the applicant answers an offer with the token its mail carries.

use actix_web::{FromRequest, HttpRequest, HttpResponse, delete, dev::Payload, get, post, web};
use chrono::Utc;
use futures_util::future::{Ready, ready};

use super::{
    AppState,
    bookings::applicant::Managed,
    extract::{JsonBody, header_token},
    problem::{ApiError, Problem},
};
use crate::{
    domain::ids::OfferId,
    use_cases::{
        bookings::views::BookingView,
        waitlist::{self, JoinRequest, OfferView, WaitlistView},
    },
};

const OFFER_TOKEN_HEADER: &str = "x-offer-token";

/// The token of a waitlist offer, from the `X-Offer-Token` header (its mail's link carries it).
pub struct OfferToken(String);

impl FromRequest for OfferToken {
    type Error = ApiError;
    type Future = Ready<Result<OfferToken, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            header_token(
                req,
                OFFER_TOKEN_HEADER,
                "offer_token_required",
                "Send the token from the offer's mail as the X-Offer-Token header.",
            )
            .map(OfferToken),
        )
    }
}

/// Puts the booking on the waitlist for an earlier seat between two local days (no later than
/// the day of the visit). When a fitting seat is on sale (freed after its cool-down, newly
/// published, or given back), it is held for the longest waiting booking and offered by mail:
/// at most one offer a day, a few in all. The booking stays as it is until an offer is taken.
#[utoipa::path(
    tag = "waitlist",
    params(
        ("reference" = String, Path, description = "Booking reference", example = "K7P3-Q9XD"),
        ("X-Booking-Token" = String, Header, description = "The manage token"),
    ),
    request_body = JoinRequest,
    responses(
        (status = 201, description = "On the waitlist", body = WaitlistView),
        (status = 401, description = "`booking_token_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No booking with this reference and token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_waiting`, `booking_not_changeable`, `invite_only`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid days", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/bookings/{reference}/waitlist")]
pub async fn join(
    state: web::Data<AppState>,
    managed: Managed,
    JsonBody(body): JsonBody<JoinRequest>,
) -> Result<HttpResponse, ApiError> {
    let (store, policy) = (&state.store, &state.booking_policy);
    let credentials = (managed.reference, managed.token);
    let view = waitlist::join(store, policy, credentials, body, Utc::now()).await?;
    Ok(HttpResponse::Created().json(view))
}

/// The booking's place on the waitlist, with the seat held for it while an offer is open.
#[utoipa::path(
    tag = "waitlist",
    params(
        ("reference" = String, Path, description = "Booking reference", example = "K7P3-Q9XD"),
        ("X-Booking-Token" = String, Header, description = "The manage token"),
    ),
    responses(
        (status = 200, description = "Its place", body = WaitlistView),
        (status = 401, description = "`booking_token_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No booking with this reference and token, or it never joined the waitlist", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/bookings/{reference}/waitlist")]
pub async fn show(
    state: web::Data<AppState>,
    managed: Managed,
) -> Result<web::Json<WaitlistView>, ApiError> {
    let credentials = (managed.reference, managed.token);
    let view = waitlist::show(&state.store, &state.booking_policy, credentials).await?;
    Ok(web::Json(view))
}

/// Takes the booking off the waitlist; a seat held for it goes back on sale.
#[utoipa::path(
    tag = "waitlist",
    params(
        ("reference" = String, Path, description = "Booking reference", example = "K7P3-Q9XD"),
        ("X-Booking-Token" = String, Header, description = "The manage token"),
    ),
    responses(
        (status = 204, description = "Off the waitlist"),
        (status = 401, description = "`booking_token_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No booking with this reference and token, or not on the waitlist", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/bookings/{reference}/waitlist")]
pub async fn leave(state: web::Data<AppState>, managed: Managed) -> Result<HttpResponse, ApiError> {
    let credentials = (managed.reference, managed.token);
    waitlist::leave(&state.store, credentials, Utc::now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A seat held for a booking on the waitlist, to the applicant holding the offer's token.
#[utoipa::path(
    tag = "waitlist",
    params(
        ("id" = i64, Path, description = "Offer id"),
        ("X-Offer-Token" = String, Header, description = "The token from the offer's mail"),
    ),
    responses(
        (status = 200, description = "The offer", body = OfferView),
        (status = 401, description = "`offer_token_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No offer with this id and token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/waitlist/offers/{id}")]
pub async fn offer(
    state: web::Data<AppState>,
    id: web::Path<OfferId>,
    token: OfferToken,
) -> Result<web::Json<OfferView>, ApiError> {
    let view = waitlist::show_offer(&state.store, id.into_inner(), token.0).await?;
    Ok(web::Json(view))
}

/// Takes the offered seat: the booking moves there in one step (its old seat goes back on
/// sale after the cool-down) and the applicant is mailed the new time. Only while the offer
/// is open and its hold has not run out.
#[utoipa::path(
    tag = "waitlist",
    params(
        ("id" = i64, Path, description = "Offer id"),
        ("X-Offer-Token" = String, Header, description = "The token from the offer's mail"),
    ),
    responses(
        (status = 200, description = "Moved", body = BookingView),
        (status = 401, description = "`offer_token_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No offer with this id and token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`offer_closed` (answered, or the hold ran out), `booking_not_changeable`, `case_not_ready`, `office_not_open`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/waitlist/offers/{id}/accept")]
pub async fn accept(
    state: web::Data<AppState>,
    id: web::Path<OfferId>,
    token: OfferToken,
) -> Result<web::Json<BookingView>, ApiError> {
    let (store, policy) = (&state.store, &state.booking_policy);
    let moved = waitlist::accept(store, policy, id.into_inner(), token.0, Utc::now()).await?;
    Ok(web::Json(moved))
}

/// Lets the offered seat go: it returns to sale at once; the booking keeps its place in the
/// queue while it may have more offers.
#[utoipa::path(
    tag = "waitlist",
    params(
        ("id" = i64, Path, description = "Offer id"),
        ("X-Offer-Token" = String, Header, description = "The token from the offer's mail"),
    ),
    responses(
        (status = 200, description = "Declined", body = OfferView),
        (status = 401, description = "`offer_token_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No offer with this id and token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`offer_closed`: answered already, or the hold ran out", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/waitlist/offers/{id}/decline")]
pub async fn decline(
    state: web::Data<AppState>,
    id: web::Path<OfferId>,
    token: OfferToken,
) -> Result<web::Json<OfferView>, ApiError> {
    let (store, policy) = (&state.store, &state.booking_policy);
    let view = waitlist::decline(store, policy, id.into_inner(), token.0, Utc::now()).await?;
    Ok(web::Json(view))
}
