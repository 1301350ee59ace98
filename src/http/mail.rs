//! The office's view of its mail: what is queued, what failed (and trying it again), and how
//! many letters the mail replaced.

use actix_web::{HttpRequest, get, post, web};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    AppState,
    extract::{QueryParams, Staff},
    problem::{ApiError, Problem},
    scope::{Need, audit, staff_office},
};
use crate::{
    domain::{
        FieldErrors,
        mail::{DeliveryStatus, MessageKind},
        slots::{start_of_day, today},
    },
    store::outbox::{self, Entry},
};

#[derive(Serialize, ToSchema)]
pub struct OutboxEntry {
    pub id: i64,
    /// The booking the message is about.
    pub reference: String,
    pub kind: MessageKind,
    pub recipient: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// Why the last attempt failed (or why the message was suppressed).
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Entry> for OutboxEntry {
    fn from(e: Entry) -> OutboxEntry {
        OutboxEntry {
            id: e.id,
            reference: e.reference,
            kind: e.kind,
            recipient: e.recipient,
            status: e.status,
            attempts: e.attempts,
            last_error: e.last_error,
            next_attempt_at: e.next_attempt_at,
            sent_at: e.sent_at,
            created_at: e.created_at,
        }
    }
}

/// The office's messages, newest first; `?status=failed` lists those given up on, for staff to
/// contact the applicant or try again.
#[utoipa::path(
    tag = "mail",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("status" = Option<String>, Query, description = "pending, sending, sent, failed or suppressed"),
        ("limit" = Option<i64>, Query, description = "At most this many (default 100, at most 1000)"),
    ),
    responses(
        (status = 200, description = "Messages, newest first", body = Vec<OutboxEntry>),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/outbox")]
pub async fn outbox_list(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<String>,
    req: HttpRequest,
) -> Result<web::Json<Vec<OutboxEntry>>, ApiError> {
    let query = QueryParams::parse(&req, &["status", "limit"])?;
    let mut errors = FieldErrors::new();
    let status = query.text("status").and_then(|text| {
        errors.check(
            "status",
            DeliveryStatus::parse(text)
                .ok_or("must be pending, sending, sent, failed or suppressed"),
        )
    });
    let limit = query.integer(&mut errors, "limit", 1..=1000).unwrap_or(100);
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let actor = staff.actor;
    let entries = state
        .store
        .read(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            Ok(outbox::list(conn, office.id, status, limit)?)
        })
        .await?;
    Ok(web::Json(
        entries.into_iter().map(OutboxEntry::from).collect(),
    ))
}

/// Tries a failed message again, with a fresh round of attempts.
#[utoipa::path(
    tag = "mail",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("id" = i64, Path, description = "Outbox message id"),
    ),
    responses(
        (status = 200, description = "Queued again", body = OutboxEntry),
        (status = 404, description = "No failed message with this id at the office", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/outbox/{id}/retry")]
pub async fn outbox_retry(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, i64)>,
) -> Result<web::Json<OutboxEntry>, ApiError> {
    let (code, id) = path.into_inner();
    let actor = staff.actor;
    let entry = state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            if !outbox::retry(conn, office.id, id, Utc::now())? {
                return Err(ApiError::not_found(
                    "The office has no failed message with this id.",
                ));
            }
            let entry = outbox::list(conn, office.id, None, 1000)?
                .into_iter()
                .find(|entry| entry.id == id)
                .map(OutboxEntry::from)
                .ok_or_else(|| ApiError::not_found("The office has no message with this id."))?;
            audit(
                conn,
                &actor,
                Some(office.id),
                "outbox.retry",
                id,
                None::<&()>,
                Some(&entry),
            )?;
            Ok(entry)
        })
        .await?;
    Ok(web::Json(entry))
}

#[derive(Serialize, ToSchema)]
pub struct MailStats {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Confirmations delivered by mail: each one a registered letter (raccomandata) not sent.
    pub registered_letters_replaced: i64,
    pub confirmed: i64,
    pub rescheduled: i64,
    pub cancelled_by_applicant: i64,
    pub cancelled_by_office: i64,
    pub reminder: i64,
}

/// How many messages of each kind the office delivered between two local days (inclusive).
#[utoipa::path(
    tag = "mail",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("from" = Option<NaiveDate>, Query, description = "First day (default 30 days ago)"),
        ("to" = Option<NaiveDate>, Query, description = "Last day (default today)"),
    ),
    responses(
        (status = 200, description = "Delivered messages", body = MailStats),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/mail-stats")]
pub async fn stats(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<String>,
    req: HttpRequest,
) -> Result<web::Json<MailStats>, ApiError> {
    let query = QueryParams::parse(&req, &["from", "to"])?;
    let actor = staff.actor;
    let stats = state
        .store
        .read(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let zone = office.details.timezone;
            let mut errors = FieldErrors::new();
            let to = query
                .date(&mut errors, "to")
                .unwrap_or_else(|| today(zone, Utc::now()));
            let from = query
                .date(&mut errors, "from")
                .unwrap_or(to - Days::new(30));
            if to < from {
                errors.add("to", "must not be before from");
            }
            if !errors.is_empty() {
                return Err(errors.into());
            }
            let counts = outbox::delivered(
                conn,
                office.id,
                start_of_day(zone, from),
                start_of_day(zone, to + Days::new(1)),
            )?;
            let count = |kind: MessageKind| {
                counts
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map_or(0, |(_, n)| *n)
            };
            Ok(MailStats {
                from,
                to,
                registered_letters_replaced: count(MessageKind::Confirmed),
                confirmed: count(MessageKind::Confirmed),
                rescheduled: count(MessageKind::Rescheduled),
                cancelled_by_applicant: count(MessageKind::CancelledByApplicant),
                cancelled_by_office: count(MessageKind::CancelledByOffice),
                reminder: count(MessageKind::Reminder),
            })
        })
        .await?;
    Ok(web::Json(stats))
}
