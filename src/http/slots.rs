//! Publishing slots, the staff view of them, blocking one, and what applicants can book.

use actix_web::{HttpRequest, get, patch, post, web};
use chrono::{Days, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    AppState,
    extract::{JsonBody, MaybeStaff, QueryParams, Staff},
    problem::{ApiError, Problem},
    scope::{Need, audit, staff_office, visible_office},
    time::{LocalTime, local},
};
use crate::{
    agenda::{self, Mode, PublishError, PublishReport},
    domain::{
        FieldErrors,
        catalogue::TypeCode,
        office::parse_text,
        slots::{Conflict, ConflictReason, start_of_day, today},
    },
    store::{
        DbConnection,
        offices::Office,
        services,
        slots::{self, Slot},
    },
};

/// A booked slot publishing could not change, for the office to sort out.
#[derive(Serialize, ToSchema)]
pub struct ConflictView {
    pub slot_id: i64,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    /// Seats booked in it.
    pub booked: i32,
    pub reason: ConflictReason,
}

pub fn conflict_views(conflicts: &[Conflict], zone: Tz) -> Vec<ConflictView> {
    conflicts
        .iter()
        .map(|c| ConflictView {
            slot_id: c.slot_id,
            starts_at: local(c.starts_at, zone),
            ends_at: local(c.ends_at, zone),
            booked: c.booked,
            reason: c.reason,
        })
        .collect()
}

/// Publishes (or republishes) slots, rejecting calendars whose services disagree on length.
pub fn run_publication(
    conn: &mut DbConnection,
    office: &Office,
    from: NaiveDate,
    to: NaiveDate,
    mode: Mode,
) -> Result<PublishReport, ApiError> {
    agenda::publish(conn, office, from, to, mode, Utc::now()).map_err(|e| match e {
        PublishError::MixedDurations { .. } => ApiError::conflict(
            "calendar_durations_differ",
            format!("{e}; give them one duration or separate calendars"),
        ),
        PublishError::Store(e) => e.into(),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// First local day to publish (today or later).
    pub from: Option<NaiveDate>,
    /// Last local day to publish.
    pub to: Option<NaiveDate>,
    /// Instead of `from`/`to`: a rolling horizon of this many days from today.
    #[schema(example = 60)]
    pub days: Option<i32>,
}

#[derive(Serialize, ToSchema)]
pub struct PublishResponse {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Slots added.
    pub created: usize,
    /// Slots that already existed (adjusted to new desks or shares where needed).
    pub kept: usize,
    /// Unbooked slots taken away (outside the hours now, or closed).
    pub removed: usize,
    /// Booked slots left as they were, for the office to sort out.
    pub conflicts: Vec<ConflictView>,
}

/// Longest span one publication covers.
const MAX_PUBLISH_DAYS: u64 = 731;

fn publish_range(
    body: &PublishRequest,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), FieldErrors> {
    let mut errors = FieldErrors::new();
    let range = match (body.days, body.from, body.to) {
        (Some(days), None, None) => {
            if (1..=MAX_PUBLISH_DAYS as i32).contains(&days) {
                Some((today, today + Days::new(days as u64 - 1)))
            } else {
                errors.add("days", format!("must be from 1 to {MAX_PUBLISH_DAYS}"));
                None
            }
        }
        (None, Some(from), Some(to)) => Some((from, to)),
        (Some(_), _, _) => {
            errors.add("days", "give either days or from and to, not both");
            None
        }
        (None, from, to) => {
            if from.is_none() {
                errors.add("from", "is required (or give days)");
            }
            if to.is_none() {
                errors.add("to", "is required (or give days)");
            }
            None
        }
    };
    if let Some((from, to)) = range {
        if from < today {
            errors.add(
                "from",
                format!("must not be in the past (today is {today} at the office)"),
            );
        }
        if to < from {
            errors.add("to", "must not be before from");
        } else if (to - from).num_days() as u64 >= MAX_PUBLISH_DAYS {
            errors.add(
                "to",
                format!("must be within {MAX_PUBLISH_DAYS} days of from"),
            );
        }
    }
    match range {
        Some(range) if errors.is_empty() => Ok(range),
        _ => Err(errors),
    }
}

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
    code: web::Path<String>,
    JsonBody(body): JsonBody<PublishRequest>,
) -> Result<web::Json<PublishResponse>, ApiError> {
    let actor = staff.actor;
    let response = state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let zone = office.details.timezone;
            let (from, to) = publish_range(&body, today(zone, Utc::now()))?;
            let report = run_publication(conn, &office, from, to, Mode::Publish)?;
            let response = PublishResponse {
                from,
                to,
                created: report.created,
                kept: report.kept,
                removed: report.removed,
                conflicts: conflict_views(&report.conflicts, zone),
            };
            audit(
                conn,
                &actor,
                Some(office.id),
                "slots.publish",
                format!("{from}..{to}"),
                None::<&()>,
                Some(&response),
            )?;
            Ok(response)
        })
        .await?;
    Ok(web::Json(response))
}

/// A slot with its counters, as staff see it.
#[derive(Serialize, ToSchema)]
pub struct StaffSlotView {
    pub id: i64,
    pub calendar_id: i64,
    /// The local day.
    pub date: NaiveDate,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    /// Seats: the calendar's desks.
    pub capacity: i32,
    /// Seats kept for the desk and phone channel.
    pub held_for_desk: i32,
    pub booked_web: i32,
    pub booked_desk: i32,
    /// Seats applicants can still book online.
    pub available_web: i32,
    pub blocked: bool,
    pub block_reason: Option<String>,
}

fn staff_view(slot: &Slot, zone: Tz) -> StaffSlotView {
    StaffSlotView {
        id: slot.id,
        calendar_id: slot.calendar_id,
        date: slot.local_date,
        starts_at: local(slot.starts_at, zone),
        ends_at: local(slot.ends_at, zone),
        capacity: slot.capacity,
        held_for_desk: slot.held_for_desk,
        booked_web: slot.booked_web,
        booked_desk: slot.booked_desk,
        available_web: slot.web_available(),
        blocked: slot.blocked,
        block_reason: slot.block_reason.clone(),
    }
}

/// Reads `from`/`to` days (defaults: today and `default_days` later), capped at `max_days`.
fn day_range(
    query: &QueryParams,
    errors: &mut FieldErrors,
    today: NaiveDate,
    default_days: u64,
    max_days: i64,
) -> (NaiveDate, NaiveDate) {
    let from = query.date(errors, "from").unwrap_or(today);
    let to = query
        .date(errors, "to")
        .unwrap_or(from + Days::new(default_days));
    if to < from {
        errors.add("to", "must not be before from");
    } else if (to - from).num_days() >= max_days {
        errors.add("to", format!("must be within {max_days} days of from"));
    }
    (from, to)
}

/// The service `code` names among the office's services (active or not).
/// How the office runs the service `code` names (active or not), if it offers it at all.
fn office_service(
    conn: &mut DbConnection,
    office: &Office,
    code: &str,
) -> Result<Option<services::Rules>, ApiError> {
    match TypeCode::parse(code) {
        Ok(code) => Ok(services::rules(conn, office.id, &code)?),
        Err(_) => Ok(None),
    }
}

/// All of the office's slots in a range of local days, with their counters, for staff.
#[utoipa::path(
    tag = "slots",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("from" = Option<NaiveDate>, Query, description = "First local day (default today)"),
        ("to" = Option<NaiveDate>, Query, description = "Last local day (default a week on; at most 62 days)"),
        ("service" = Option<String>, Query, description = "Only slots of calendars serving this type"),
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
    code: web::Path<String>,
    req: HttpRequest,
) -> Result<web::Json<Vec<StaffSlotView>>, ApiError> {
    let query = QueryParams::parse(&req, &["from", "to", "service"])?;
    let service = query.text("service").map(str::to_owned);
    let actor = staff.actor;
    let views = state
        .store
        .read(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let zone = office.details.timezone;
            let mut errors = FieldErrors::new();
            let (from, to) = day_range(&query, &mut errors, today(zone, Utc::now()), 6, 62);
            let service_id = match &service {
                Some(code) => match office_service(conn, &office, code)? {
                    Some(service) => Some(service.id),
                    None => {
                        errors.add("service", "the office does not offer this service");
                        None
                    }
                },
                None => None,
            };
            if !errors.is_empty() {
                return Err(errors.into());
            }
            let found = slots::for_staff(
                conn,
                office.id,
                start_of_day(zone, from),
                start_of_day(zone, to + Days::new(1)),
                service_id,
            )?;
            Ok(found.iter().map(|slot| staff_view(slot, zone)).collect())
        })
        .await?;
    Ok(web::Json(views))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    /// `true` takes the slot off sale (bookings in it stay); `false` puts it back.
    pub blocked: bool,
    /// Why, when blocking (shown to staff).
    pub reason: Option<String>,
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
    path: web::Path<(String, i64)>,
    JsonBody(body): JsonBody<BlockRequest>,
) -> Result<web::Json<StaffSlotView>, ApiError> {
    let (code, id) = path.into_inner();
    let reason = match (body.blocked, body.reason.as_deref()) {
        (true, Some(reason)) => {
            Some(parse_text(reason, 200).map_err(|m| ApiError::field("reason", m))?)
        }
        (true, None) => {
            return Err(ApiError::field(
                "reason",
                "is required when blocking a slot",
            ));
        }
        (false, _) => None,
    };
    let actor = staff.actor;
    let view = state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let zone = office.details.timezone;
            let no_slot = || ApiError::not_found("The office has no slot with this id.");
            let before = slots::find(conn, office.id, id)?.ok_or_else(no_slot)?;
            slots::set_blocked(conn, id, body.blocked, reason.as_deref(), Utc::now())?;
            let after = slots::find(conn, office.id, id)?.ok_or_else(no_slot)?;
            let (before, after) = (staff_view(&before, zone), staff_view(&after, zone));
            let action = if body.blocked {
                "slot.block"
            } else {
                "slot.unblock"
            };
            audit(
                conn,
                &actor,
                Some(office.id),
                action,
                id,
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}

#[derive(Serialize, ToSchema)]
pub struct AvailableSlot {
    pub id: i64,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    /// Seats an applicant can book.
    pub available: i32,
}

#[derive(Serialize, ToSchema)]
pub struct AvailableDay {
    pub date: NaiveDate,
    pub slots: Vec<AvailableSlot>,
}

#[derive(Serialize, ToSchema)]
pub struct Availability {
    #[schema(example = "RM")]
    pub office: String,
    #[schema(example = "document_delivery")]
    pub service: String,
    #[schema(example = "Europe/Rome")]
    pub timezone: String,
    /// Only days with at least one seat.
    pub days: Vec<AvailableDay>,
}

/// What applicants can book: the slots of one service with free seats, by local day. Slots
/// inside the service's minimum notice or beyond its booking horizon are not offered.
#[utoipa::path(
    tag = "availability",
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("service" = String, Query, description = "Appointment type", example = "document_delivery"),
        ("from" = Option<NaiveDate>, Query, description = "First local day (default today)"),
        ("to" = Option<NaiveDate>, Query, description = "Last local day (default four weeks on; at most 92 days)"),
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
    code: web::Path<String>,
    req: HttpRequest,
) -> Result<web::Json<Availability>, ApiError> {
    let query = QueryParams::parse(&req, &["service", "from", "to"])?;
    let actor = viewer.actor().cloned();
    let result = state
        .store
        .read(move |conn| -> Result<_, ApiError> {
            let office = visible_office(conn, actor.as_ref(), &code)?;
            let zone = office.details.timezone;
            let now = Utc::now();
            let mut errors = FieldErrors::new();
            let (from, to) = day_range(&query, &mut errors, today(zone, now), 27, 92);
            let Some(service_code) = query.text("service") else {
                errors.add("service", "is required");
                return Err(errors.into());
            };
            if !errors.is_empty() {
                return Err(errors.into());
            }
            let service = office_service(conn, &office, service_code)?
                .filter(|service| service.active)
                .ok_or_else(|| ApiError::not_found("The office does not offer this service."))?;
            let settings = service.settings;
            let earliest = now + chrono::Duration::hours(i64::from(settings.min_notice_hours));
            let latest = now + chrono::Duration::days(i64::from(settings.horizon_days));
            let start = start_of_day(zone, from).max(earliest);
            let end = start_of_day(zone, to + Days::new(1)).min(latest);
            let found = if start < end {
                slots::web_bookable(conn, service.id, start, end)?
            } else {
                Vec::new()
            };
            let mut days: Vec<AvailableDay> = Vec::new();
            for slot in found {
                let available = AvailableSlot {
                    id: slot.id,
                    starts_at: local(slot.starts_at, zone),
                    ends_at: local(slot.ends_at, zone),
                    available: slot.available,
                };
                match days.last_mut() {
                    Some(day) if day.date == slot.local_date => day.slots.push(available),
                    _ => days.push(AvailableDay {
                        date: slot.local_date,
                        slots: vec![available],
                    }),
                }
            }
            Ok(Availability {
                office: office.code.to_string(),
                service: service_code.trim().to_owned(),
                timezone: zone.name().to_owned(),
                days,
            })
        })
        .await?;
    Ok(web::Json(result))
}
