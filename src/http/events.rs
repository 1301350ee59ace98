//! Events back to the case system over HTTP: the feed, and the office's webhook subscriptions
//! with their deliveries.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::Utc;

use super::{
    AppState,
    extract::{JsonBody, SignedCaller},
    problem::{ApiError, Problem},
};
use crate::{
    domain::{
        Parsed,
        ids::{WebhookDeliveryId, WebhookSubscriptionId},
        office::OfficeCode,
    },
    use_cases::{
        events::{self, EventPage, FeedQuery},
        webhooks::{
            self, CreatedSubscription, DeliveryQuery, DeliveryView, SubscriptionRequest,
            SubscriptionView,
        },
    },
};

/// The events after a cursor, in the order their changes committed: every change of a booking
/// (`booking.confirmed`, `booking.rescheduled`, `booking.cancelled`, `booking.checked_in`,
/// `booking.attended`, `booking.no_show`) or an invitation (`invitation.sent`,
/// `invitation.booked`, `invitation.extended`, `invitation.cancelled`, `invitation.expired`). Poll with the last page's `next`: no event is
/// skipped, even one whose transaction commits after later ones, and none comes twice. A caller
/// bound to an office reads that office's; national callers read every office's or, with
/// `office_code`, one.
#[utoipa::path(
    tag = "events",
    security(("bearer" = [])),
    params(FeedQuery),
    responses(
        (status = 200, description = "The next events, and where to go on from", body = EventPage),
        (status = 403, description = "The caller may not read events", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office (for this caller)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/events")]
pub async fn feed(
    state: web::Data<AppState>,
    SignedCaller(caller): SignedCaller,
    query: Parsed<FeedQuery>,
) -> Result<web::Json<EventPage>, ApiError> {
    let feed = FeedQuery::parse(query)?;
    Ok(web::Json(events::feed(&state.store, caller, feed).await?))
}

/// Posts the office's events to a URL, signed as Standard Webhooks says (`webhook-id`,
/// `webhook-timestamp`, `webhook-signature` headers), retried with backoff until the receiver
/// answers 2xx. The answer holds the signing secret, shown this once. Managers, admins and
/// the case system's clients.
#[utoipa::path(
    tag = "events",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    request_body = SubscriptionRequest,
    responses(
        (status = 201, description = "Subscribed", body = CreatedSubscription),
        (status = 403, description = "Operators cannot subscribe", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office (for this caller)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/webhooks")]
pub async fn subscribe(
    state: web::Data<AppState>,
    SignedCaller(caller): SignedCaller,
    code: web::Path<OfficeCode>,
    JsonBody(body): JsonBody<SubscriptionRequest>,
) -> Result<HttpResponse, ApiError> {
    let wanted = body.parse()?;
    let code = code.into_inner();
    let created = webhooks::subscribe(&state.store, caller, code, wanted, Utc::now()).await?;
    Ok(HttpResponse::Created().json(created))
}

/// The office's webhook subscriptions (without their secrets).
#[utoipa::path(
    tag = "events",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    responses(
        (status = 200, description = "Subscriptions in force, oldest first", body = Vec<SubscriptionView>),
        (status = 403, description = "Operators cannot see subscriptions", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office (for this caller)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/webhooks")]
pub async fn subscriptions(
    state: web::Data<AppState>,
    SignedCaller(caller): SignedCaller,
    code: web::Path<OfficeCode>,
) -> Result<web::Json<Vec<SubscriptionView>>, ApiError> {
    let list = webhooks::list(&state.store, caller, code.into_inner()).await?;
    Ok(web::Json(list))
}

/// Ends a subscription.
#[utoipa::path(
    tag = "events",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("id" = i64, Path, description = "Subscription id"),
    ),
    responses(
        (status = 204, description = "Unsubscribed"),
        (status = 403, description = "Operators cannot unsubscribe", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office or subscription", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/offices/{code}/webhooks/{id}")]
pub async fn unsubscribe(
    state: web::Data<AppState>,
    SignedCaller(caller): SignedCaller,
    path: web::Path<(OfficeCode, WebhookSubscriptionId)>,
) -> Result<HttpResponse, ApiError> {
    let (code, id) = path.into_inner();
    webhooks::unsubscribe(&state.store, caller, code, id, Utc::now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The office's webhook deliveries, newest first; `?state=failed` lists those given up on.
#[utoipa::path(
    tag = "events",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        DeliveryQuery,
    ),
    responses(
        (status = 200, description = "Deliveries, newest first (the last 500)", body = Vec<DeliveryView>),
        (status = 403, description = "Operators cannot see deliveries", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office (for this caller)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/webhook-deliveries")]
pub async fn deliveries(
    state: web::Data<AppState>,
    SignedCaller(caller): SignedCaller,
    code: web::Path<OfficeCode>,
    query: Parsed<DeliveryQuery>,
) -> Result<web::Json<Vec<DeliveryView>>, ApiError> {
    let state_wanted = DeliveryQuery::parse(query)?;
    let code = code.into_inner();
    let found = webhooks::deliveries(&state.store, caller, code, state_wanted).await?;
    Ok(web::Json(found))
}

/// Posts a delivery again at once, with a fresh count of attempts and the same event id.
#[utoipa::path(
    tag = "events",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("id" = i64, Path, description = "Delivery id"),
    ),
    responses(
        (status = 200, description = "Queued again", body = DeliveryView),
        (status = 403, description = "Operators cannot redeliver", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office or delivery, it is being posted right now, or its subscription has ended", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/webhook-deliveries/{id}/redeliver")]
pub async fn redeliver(
    state: web::Data<AppState>,
    SignedCaller(caller): SignedCaller,
    path: web::Path<(OfficeCode, WebhookDeliveryId)>,
) -> Result<web::Json<DeliveryView>, ApiError> {
    let (code, id) = path.into_inner();
    let view = webhooks::redeliver(&state.store, caller, code, id, Utc::now()).await?;
    Ok(web::Json(view))
}
