//! Closures: national holidays and the patron saint's day (built in), and the office's own
//! closures, for whole days or part of each day.

use actix_web::{HttpRequest, HttpResponse, delete, get, http::StatusCode, post, web};
use chrono::{Datelike, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    AppState,
    extract::{JsonBody, QueryParams, Staff},
    problem::{ApiError, Problem},
    scope::{Need, audit, staff_office},
    slots::{ConflictView, conflict_views, run_publication},
};
use crate::{
    agenda::Mode,
    domain::{
        FieldErrors,
        holidays::national_holidays,
        hours::TimeOfDay,
        office::parse_text,
        slots::{ClosureRule, today},
    },
    store::closures::{self, Closure},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClosureKind {
    /// One of the office's own closures.
    Office,
    NationalHoliday,
    PatronDay,
}

#[derive(Serialize, ToSchema)]
pub struct ClosureView {
    /// Set for the office's own closures (which can be deleted).
    pub id: Option<i64>,
    pub kind: ClosureKind,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Closed from this local time each day; none: the whole day.
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub reason: String,
}

fn office_view(closure: &Closure) -> ClosureView {
    ClosureView {
        id: Some(closure.id),
        kind: ClosureKind::Office,
        from: closure.rule.starts_on,
        to: closure.rule.ends_on,
        start_time: closure.rule.window.map(|(start, _)| start.to_string()),
        end_time: closure.rule.window.map(|(_, end)| end.to_string()),
        reason: closure.reason.clone(),
    }
}

fn whole_day(kind: ClosureKind, date: NaiveDate, reason: String) -> ClosureView {
    ClosureView {
        id: None,
        kind,
        from: date,
        to: date,
        start_time: None,
        end_time: None,
        reason,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosureRequest {
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[schema(example = "Staff training")]
    pub reason: String,
    /// With `end_time`: closed only between these local times each day.
    #[schema(example = "12:00")]
    pub start_time: Option<String>,
    #[schema(example = "16:00")]
    pub end_time: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ClosureCreated {
    pub closure: ClosureView,
    /// Published, unbooked slots the closure took away.
    pub withdrawn_slots: usize,
    /// Booked slots inside the closure: left in place, for the office to contact the applicants.
    pub conflicts: Vec<ConflictView>,
}

fn check(body: &ClosureRequest) -> Result<(ClosureRule, String), FieldErrors> {
    let mut errors = FieldErrors::new();
    if body.to < body.from {
        errors.add("to", "must not be before from");
    } else if (body.to - body.from).num_days() > 366 {
        errors.add("to", "must be within a year of from");
    }
    let reason = errors.check("reason", parse_text(&body.reason, 200));
    let window = match (body.start_time.as_deref(), body.end_time.as_deref()) {
        (None, None) => Some(None),
        (Some(start), Some(end)) => {
            let start = errors.check("start_time", TimeOfDay::parse(start));
            let end = errors.check("end_time", TimeOfDay::parse(end));
            match (start, end) {
                (Some(start), Some(end)) if start < end => Some(Some((start, end))),
                (Some(_), Some(_)) => {
                    errors.add("end_time", "must be after start_time");
                    None
                }
                _ => None,
            }
        }
        (Some(_), None) => {
            errors.add("end_time", "is required with start_time");
            None
        }
        (None, Some(_)) => {
            errors.add("start_time", "is required with end_time");
            None
        }
    };
    match (reason, window) {
        (Some(reason), Some(window)) if errors.is_empty() => Ok((
            ClosureRule {
                starts_on: body.from,
                ends_on: body.to,
                window,
            },
            reason,
        )),
        _ => Err(errors),
    }
}

/// Closes the office for some days, or part of each day. Published slots inside it are taken
/// away; booked ones stay and are reported, so the office can contact those applicants.
#[utoipa::path(
    tag = "closures",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Office code", example = "RM")),
    request_body = ClosureRequest,
    responses(
        (status = 201, description = "Closed", body = ClosureCreated),
        (status = 403, description = "Operators cannot configure", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/closures")]
pub async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<String>,
    JsonBody(body): JsonBody<ClosureRequest>,
) -> Result<HttpResponse, ApiError> {
    let (rule, reason) = check(&body)?;
    let actor = staff.actor;
    let created = state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let id = closures::insert(conn, office.id, &rule, &reason, actor.staff_id, Utc::now())?;
            let closure = Closure {
                id,
                rule: rule.clone(),
                reason,
                created_at: Utc::now(),
            };
            let view = office_view(&closure);
            audit(
                conn,
                &actor,
                Some(office.id),
                "closure.create",
                id,
                None::<&()>,
                Some(&view),
            )?;
            let report = run_publication(
                conn,
                &office,
                rule.starts_on,
                rule.ends_on,
                Mode::WithdrawOnly,
            )?;
            Ok(ClosureCreated {
                closure: view,
                withdrawn_slots: report.removed,
                conflicts: conflict_views(&report.conflicts, office.details.timezone),
            })
        })
        .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(created))
}

/// Every closure in a range of days: national holidays, the patron saint's day and the
/// office's own, in date order.
#[utoipa::path(
    tag = "closures",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("from" = Option<NaiveDate>, Query, description = "First day (default today)"),
        ("to" = Option<NaiveDate>, Query, description = "Last day (default a year on; at most two years)"),
    ),
    responses(
        (status = 200, description = "Closures in date order", body = Vec<ClosureView>),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/closures")]
pub async fn list(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<String>,
    req: HttpRequest,
) -> Result<web::Json<Vec<ClosureView>>, ApiError> {
    let query = QueryParams::parse(&req, &["from", "to"])?;
    let actor = staff.actor;
    let views = state
        .store
        .read(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let mut errors = FieldErrors::new();
            let from = query
                .date(&mut errors, "from")
                .unwrap_or_else(|| today(office.details.timezone, Utc::now()));
            let to = query
                .date(&mut errors, "to")
                .unwrap_or(from + Days::new(365));
            if to < from || (to - from).num_days() > 731 {
                errors.add("to", "must be from `from` to two years after it");
            }
            if !errors.is_empty() {
                return Err(errors.into());
            }
            let mut views: Vec<ClosureView> = closures::overlapping(conn, office.id, from, to)?
                .iter()
                .map(office_view)
                .collect();
            for year in from.year()..=to.year() {
                for holiday in national_holidays(year) {
                    if from <= holiday.date && holiday.date <= to {
                        views.push(whole_day(
                            ClosureKind::NationalHoliday,
                            holiday.date,
                            holiday.name.to_owned(),
                        ));
                    }
                }
                if let Some(date) = office.details.patron_day.and_then(|day| day.in_year(year))
                    && from <= date
                    && date <= to
                {
                    views.push(whole_day(
                        ClosureKind::PatronDay,
                        date,
                        format!("Santo patrono di {}", office.details.city),
                    ));
                }
            }
            views.sort_by_key(|view| (view.from, view.id));
            Ok(views)
        })
        .await?;
    Ok(web::Json(views))
}

/// Removes one of the office's own closures. Slots it took away come back when the office
/// publishes again.
#[utoipa::path(
    tag = "closures",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("id" = i64, Path, description = "Closure id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such closure", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/offices/{code}/closures/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (code, id) = path.into_inner();
    let actor = staff.actor;
    state
        .store
        .write(move |conn| -> Result<_, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            if !closures::delete(conn, office.id, id)? {
                return Err(ApiError::not_found(
                    "The office has no closure with this id.",
                ));
            }
            audit(
                conn,
                &actor,
                Some(office.id),
                "closure.delete",
                id,
                None::<&()>,
                None::<&()>,
            )?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
