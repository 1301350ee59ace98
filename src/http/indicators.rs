//! The pilot's evaluation over HTTP: an office's indicators, and every office compared, as
//! JSON, CSV (`format=csv`) or a printable page (`format=html`).

use actix_web::{HttpResponse, get, http::header, web};
use chrono::Utc;
use std::convert::Infallible;

use super::{
    AppState,
    extract::Staff,
    problem::{ApiError, Problem},
};
use crate::{
    domain::{FieldErrors, Parsed, office::OfficeCode},
    error::Error,
    reports,
    use_cases::indicators::{
        self, OfficeReport, PeriodQuery,
        national::{NationalQuery, NationalReport},
    },
};

/// How the report is answered (`format=`).
enum Format {
    Json,
    Csv,
    Html,
}

impl Format {
    fn of(asked: Option<&str>) -> Result<Format, ApiError> {
        match asked {
            None | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some("html") => Ok(Format::Html),
            Some(_) => {
                let errors = FieldErrors::single("format", "must be json, csv or html");
                Err(Error::<Infallible>::Invalid(errors).into())
            }
        }
    }
}

/// The report in its format; `name` is the file's name without extension.
fn answer<T: serde::Serialize>(
    format: Format,
    report: &T,
    name: &str,
    csv: impl FnOnce(&T) -> String,
    html: impl FnOnce(&T) -> Result<String, minijinja::Error>,
) -> Result<HttpResponse, ApiError> {
    Ok(match format {
        Format::Json => HttpResponse::Ok().json(report),
        Format::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ))
            .body(csv(report)),
        Format::Html => {
            let page =
                html(report).map_err(|e| ApiError::from(Error::<Infallible>::internal(e)))?;
            HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body(page)
        }
    })
}

/// What the office achieved over a period: bookings by channel, cancellations, moves, no-shows,
/// utilisation (by service, weekday and hour), lead time, days from booking to visit, waitlist
/// and lottery outcomes, mail delivery, letters replaced and money saved, and the applicants'
/// satisfaction. Staff of the office and administrators.
#[utoipa::path(
    tag = "evaluation",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        PeriodQuery,
    ),
    responses(
        (status = 200, description = "The office's indicators", content(
            (OfficeReport = "application/json"),
            (String = "text/csv"),
            (String = "text/html"),
        )),
        (status = 404, description = "No such office among those the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/offices/{code}/indicators")]
pub async fn office(
    state: web::Data<AppState>,
    staff: Staff,
    code: web::Path<OfficeCode>,
    period: Parsed<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = Format::of(period.value.format.as_deref())?;
    let (store, cost) = (&state.store, state.letter_cost_cents);
    let report = indicators::office_report(
        store,
        staff.actor,
        code.into_inner(),
        period,
        cost,
        Utc::now(),
    )
    .await?;
    let name = format!("indicators-{}-{}-{}", report.office, report.from, report.to);
    answer(
        format,
        &report,
        &name,
        reports::office_csv,
        reports::office_html,
    )
}

/// Every office side by side (administrators): the same indicators ranked by one of them, with
/// the national median, the pilot offices against the rest, and before and after a chosen day.
/// Counts from 1 to 4 show as "< 5".
#[utoipa::path(
    tag = "evaluation",
    security(("bearer" = [])),
    params(NationalQuery),
    responses(
        (status = 200, description = "Every office compared", content(
            (NationalReport = "application/json"),
            (String = "text/csv"),
            (String = "text/html"),
        )),
        (status = 403, description = "Administrators only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/indicators")]
pub async fn compared(
    state: web::Data<AppState>,
    staff: Staff,
    query: Parsed<NationalQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = Format::of(query.value.period.format.as_deref())?;
    let (store, cost) = (&state.store, state.letter_cost_cents);
    let report = indicators::national::report(store, staff.actor, query, cost, Utc::now()).await?;
    let name = format!("indicators-national-{}-{}", report.from, report.to);
    answer(
        format,
        &report,
        &name,
        reports::national_csv,
        reports::national_html,
    )
}
