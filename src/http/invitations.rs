//! Invitations to book over HTTP: the case system (an integration client) or the office's
//! staff invite, list, cancel and extend; the applicant opens the invitation's link and books
//! through it with the token the mail carries (`X-Invitation-Token`).

use actix_web::{
    FromRequest, HttpRequest, HttpResponse, dev::Payload, get, http::StatusCode, post, web,
};
use chrono::Utc;
use futures_util::future::{Ready, ready};

use super::{
    AppState,
    extract::{BatchBody, JsonBody, SignedCaller},
    problem::{ApiError, Problem},
};
use crate::{
    domain::{Parsed, booking::Reference, client::ClientAddress, office::OfficeCode},
    use_cases::{
        bookings::{
            invited::{self, InvitationBookingRequest, InvitationLanding},
            views::BookingConfirmation,
        },
        invitations::{
            self, BatchReport, ExtendRequest, InvitationBatchRequest, InvitationQuery,
            InvitationRequest, InvitationView,
        },
    },
};

const TOKEN_HEADER: &str = "x-invitation-token";

/// Invites a case to book the service before the deadline: a mail in the case's language with
/// a link that books without the case number, one reminder before the deadline, and expiry.
/// With `proposed_slot_id` the office proposes a time and holds its seat until the applicant
/// answers or the deadline passes. A case with an open invitation to the service gets no
/// second one: the answer is the open one (200). For integration clients and the office's
/// staff.
#[utoipa::path(
    tag = "invitations",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    request_body = InvitationRequest,
    responses(
        (status = 200, description = "The case's open invitation to this service, unchanged", body = InvitationView),
        (status = 201, description = "Invited; the mail is queued", body = InvitationView),
        (status = 404, description = "No such office (for this caller)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`slot_full`: the proposed slot has no seat left", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields: a service the office does not offer, a deadline in the past or more than 366 days ahead, no email for the case, a proposed slot that is not the service's or not after the deadline", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/invitations")]
pub async fn invite(
    state: web::Data<AppState>,
    SignedCaller(caller): SignedCaller,
    code: web::Path<OfficeCode>,
    JsonBody(body): JsonBody<InvitationRequest>,
) -> Result<HttpResponse, ApiError> {
    let spec = body.parse()?;
    let (policy, code) = (&state.booking_policy, code.into_inner());
    let invited = invitations::invite(&state.store, policy, caller, code, spec, Utc::now()).await?;
    Ok(match invited.created {
        true => HttpResponse::Created().json(invited.invitation),
        false => HttpResponse::Ok().json(invited.invitation),
    })
}

/// Invites many cases at once (up to 10,000), each as `POST …/invitations` would. An
/// invitation that cannot be sent is reported with its index and why; every other one is sent
/// (or was open already).
#[utoipa::path(
    tag = "invitations",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    request_body = InvitationBatchRequest,
    responses(
        (status = 200, description = "What was sent, and what was not", body = BatchReport),
        (status = 404, description = "No such office (for this caller)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "A body over 16 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No invitations, or more than 10,000", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/invitations/batch")]
pub async fn invite_many(
    state: web::Data<AppState>,
    SignedCaller(caller): SignedCaller,
    code: web::Path<OfficeCode>,
    BatchBody(body): BatchBody<InvitationBatchRequest>,
) -> Result<web::Json<BatchReport>, ApiError> {
    let items = body.parse()?;
    let (policy, code) = (&state.booking_policy, code.into_inner());
    let report =
        invitations::invite_many(&state.store, policy, caller, code, items, Utc::now()).await?;
    Ok(web::Json(report))
}

/// The office's invitations, newest first: by state (`sent`, `booked`, `attended`, `no_show`,
/// `expired`, `cancelled`) or case; page with `before`.
#[utoipa::path(
    tag = "invitations",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        InvitationQuery,
    ),
    responses(
        (status = 200, description = "Invitations", body = Vec<InvitationView>),
        (status = 404, description = "No such office (for this caller)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/invitations")]
pub async fn list(
    state: web::Data<AppState>,
    SignedCaller(caller): SignedCaller,
    code: web::Path<OfficeCode>,
    query: Parsed<InvitationQuery>,
) -> Result<web::Json<Vec<InvitationView>>, ApiError> {
    let found = invitations::list(&state.store, caller, code.into_inner(), query).await?;
    Ok(web::Json(found))
}

/// Withdraws an open invitation: its link no longer books, and a seat its proposal held goes
/// back on sale (after the cool-down).
#[utoipa::path(
    tag = "invitations",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("reference" = String, Path, description = "Invitation reference", example = "K7P3-Q9XD"),
    ),
    responses(
        (status = 200, description = "Cancelled", body = InvitationView),
        (status = 404, description = "No such invitation at the office", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invitation_used`, `invitation_expired` or `invitation_cancelled`: it is no longer open", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/invitations/{reference}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    SignedCaller(caller): SignedCaller,
    path: web::Path<(OfficeCode, Reference)>,
) -> Result<web::Json<InvitationView>, ApiError> {
    let (code, reference) = path.into_inner();
    let policy = &state.booking_policy;
    let view =
        invitations::cancel(&state.store, policy, caller, code, reference, Utc::now()).await?;
    Ok(web::Json(view))
}

/// Moves an open invitation's deadline to another day (still ahead, and before a proposed
/// visit's day).
#[utoipa::path(
    tag = "invitations",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("reference" = String, Path, description = "Invitation reference", example = "K7P3-Q9XD"),
    ),
    request_body = ExtendRequest,
    responses(
        (status = 200, description = "The new deadline holds", body = InvitationView),
        (status = 404, description = "No such invitation at the office", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invitation_used`, `invitation_expired` or `invitation_cancelled`: it is no longer open", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A deadline in the past, more than 366 days ahead, or not before the proposed visit's day", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/invitations/{reference}/extend")]
pub async fn extend(
    state: web::Data<AppState>,
    SignedCaller(caller): SignedCaller,
    path: web::Path<(OfficeCode, Reference)>,
    JsonBody(body): JsonBody<ExtendRequest>,
) -> Result<web::Json<InvitationView>, ApiError> {
    let day = body.parse()?;
    let (code, reference) = path.into_inner();
    let (store, policy) = (&state.store, &state.booking_policy);
    let view = invitations::extend(store, policy, caller, code, reference, day, Utc::now()).await?;
    Ok(web::Json(view))
}

/// The invitation an applicant's request is about: the reference in the path, and the token
/// from the invitation's link, in the `X-Invitation-Token` header.
pub struct Holder {
    reference: String,
    token: String,
}

impl FromRequest for Holder {
    type Error = ApiError;
    type Future = Ready<Result<Holder, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let reference = req.match_info().get("reference").unwrap_or_default();
        let token = req
            .headers()
            .get(TOKEN_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|token| !token.is_empty());
        ready(match token {
            Some(token) => Ok(Holder {
                reference: reference.to_owned(),
                token: token.to_owned(),
            }),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invitation_token_required",
                "Send the token from the invitation's link as the X-Invitation-Token header.",
            )),
        })
    }
}

/// The invitation, to the applicant holding its link: the service, the deadline, the time the
/// office proposes (while its seat is held), and the booking once made.
#[utoipa::path(
    tag = "invitations",
    params(
        ("reference" = String, Path, description = "Invitation reference", example = "K7P3-Q9XD"),
        ("X-Invitation-Token" = String, Header, description = "The token from the invitation's link"),
    ),
    responses(
        (status = 200, description = "The invitation", body = InvitationLanding),
        (status = 401, description = "`invitation_token_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No invitation with this reference and token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/invitations/{reference}")]
pub async fn show(
    state: web::Data<AppState>,
    holder: Holder,
) -> Result<web::Json<InvitationLanding>, ApiError> {
    let Holder { reference, token } = holder;
    Ok(web::Json(
        invited::show(&state.store, reference, token).await?,
    ))
}

/// Books through the invitation, once: the proposed time (leave out `slot_id`) or another time
/// of the invited service from the availability. The case number, email and language come
/// from the invitation. The answer is the booking, with its manage token, as for any booking.
#[utoipa::path(
    tag = "invitations",
    params(
        ("reference" = String, Path, description = "Invitation reference", example = "K7P3-Q9XD"),
        ("X-Invitation-Token" = String, Header, description = "The token from the invitation's link"),
    ),
    request_body = InvitationBookingRequest,
    responses(
        (status = 201, description = "Booked", body = BookingConfirmation),
        (status = 401, description = "`invitation_token_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No invitation with this reference and token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invitation_used`, `invitation_expired`, `invitation_cancelled`, or the booking's own refusals: `slot_full`, `slot_unavailable`, `min_notice`, `beyond_horizon`, `slot_in_the_past`, `case_already_booked`, `too_many_bookings`, `office_not_open`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields: no time chosen and none proposed, a time of another service, no name", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/invitations/{reference}/booking")]
pub async fn book(
    state: web::Data<AppState>,
    holder: Holder,
    from: ClientAddress,
    JsonBody(body): JsonBody<InvitationBookingRequest>,
) -> Result<HttpResponse, ApiError> {
    let answer = body.parse()?;
    let Holder { reference, token } = holder;
    let policy = &state.booking_policy;
    let booked = invited::book(
        &state.store,
        policy,
        from,
        reference,
        token,
        answer,
        Utc::now(),
    )
    .await?;
    Ok(HttpResponse::Created().json(booked.confirmation))
}
