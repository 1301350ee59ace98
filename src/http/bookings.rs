//! Bookings over HTTP. Applicants book (with an optional `Idempotency-Key`) and manage their
//! visit with the token they were given; staff book at the desk and run the day's agenda.

use actix_web::{HttpRequest, HttpResponse, get, http::StatusCode, post, web};
use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{
    AppState,
    extract::{JsonBody, MaybeStaff, QueryParams, Staff},
    problem::{ApiError, Problem},
    scope::{Need, audit, staff_office, visible_office},
    time::{LocalTime, local},
};
use crate::{
    bookings::{
        self, Booked, Booker, BookingError, Details, IdempotencyKey, Request,
        ics::{self, Method},
        token,
    },
    domain::{
        FieldErrors,
        booking::{
            CaseNumber, Channel, DeskAction, Reference, Refusal, Status, parse_full_name,
            parse_language,
        },
        catalogue::{DocumentLists, Texts, TypeCode, pick},
        email::EmailAddress,
        office::{parse_phone, parse_text},
        slots::{start_of_day, today},
        staff::Actor,
    },
    store::{DbConnection, bookings as stored, offices::Office},
};

const TOKEN_HEADER: &str = "x-booking-token";
const IDEMPOTENCY_HEADER: &str = "idempotency-key";

impl From<BookingError> for ApiError {
    fn from(error: BookingError) -> ApiError {
        match error {
            BookingError::Refused(refusal) => {
                let status = if refusal.is_unprocessable() {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::CONFLICT
                };
                ApiError::new(status, refusal.code(), refusal.message())
            }
            BookingError::Invalid(errors) => errors.into(),
            BookingError::NotFound("booking") => {
                ApiError::not_found("No booking matches this reference and token.")
            }
            BookingError::NotFound(what) => {
                ApiError::not_found(format!("The {what} of this booking no longer exists."))
            }
            BookingError::KeyRace => ApiError::conflict(
                "idempotency_conflict",
                "A request with this Idempotency-Key is still being processed; retry in a moment.",
            ),
            BookingError::Store(error) => error.into(),
        }
    }
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    /// A slot from the office's availability.
    pub slot_id: i64,
    /// The appointment type: needed only when the slot serves several.
    #[schema(example = "document_delivery")]
    pub service: Option<String>,
    /// The case number (numero di pratica) the visit is for.
    #[schema(example = "RM/2026/001234")]
    pub case_number: String,
    #[schema(example = "Amina Diallo")]
    pub full_name: String,
    /// Where the confirmation goes. Required when applicants book; optional at the desk.
    #[schema(example = "amina.diallo@example.org")]
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The language of the confirmation: it, en, fr, es, ar, sq, uk or zh.
    #[schema(example = "fr")]
    pub language: String,
}

fn parse_request(body: &BookingRequest, applicant: bool) -> Result<Request, FieldErrors> {
    let mut errors = FieldErrors::new();
    let service = body
        .service
        .as_deref()
        .and_then(|code| errors.check("service", TypeCode::parse(code)));
    let case_number = errors.check("case_number", CaseNumber::parse(&body.case_number));
    let full_name = errors.check("full_name", parse_full_name(&body.full_name));
    let email = match body.email.as_deref().filter(|e| !e.trim().is_empty()) {
        Some(email) => errors.check("email", EmailAddress::parse(email)),
        None if applicant => {
            errors.add("email", "is required: the confirmation is sent there");
            None
        }
        None => None,
    };
    let phone = body
        .phone
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .and_then(|p| errors.check("phone", parse_phone(p)));
    let language = errors.check("language", parse_language(&body.language));
    match (case_number, full_name, language) {
        (Some(case_number), Some(full_name), Some(language)) if errors.is_empty() => Ok(Request {
            slot_id: body.slot_id,
            service,
            case_number,
            full_name,
            email,
            phone,
            language,
        }),
        _ => Err(errors),
    }
}

/// The `Idempotency-Key` header, with a fingerprint of who sent what, so that the same key
/// with another request is told apart.
fn idempotency_key(
    req: &HttpRequest,
    body: &BookingRequest,
    booker: &Booker,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|key| (1..=100).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::field(
                "Idempotency-Key",
                "must be 1 to 100 visible ASCII characters, such as a UUID",
            )
        })?;
    let who = match booker {
        Booker::Applicant => "web".to_owned(),
        Booker::Staff(actor) => format!("desk:{}", actor.staff_id),
    };
    let mut digest = Sha256::new();
    digest.update(who.as_bytes());
    digest.update(serde_json::to_vec(body).unwrap_or_default());
    let fingerprint = format!("{:x}", digest.finalize());
    Ok(Some(IdempotencyKey {
        key: key.to_owned(),
        request_fingerprint: fingerprint,
    }))
}

/// What an applicant (or the desk) gets back once booked.
#[derive(Serialize, ToSchema)]
pub struct BookingConfirmation {
    /// Show it at the desk; quote it when calling the office.
    #[schema(example = "K7P3-Q9XD")]
    pub reference: String,
    /// Keep it secret: with the reference it views, cancels and moves the booking
    /// (`X-Booking-Token` header). It is not stored and cannot be shown again.
    pub manage_token: String,
    pub status: Status,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    #[schema(example = "RM")]
    pub office: String,
    pub office_name: String,
    pub address: String,
    #[schema(example = "Europe/Rome")]
    pub timezone: String,
    #[schema(example = "document_delivery")]
    pub service: String,
    /// The service's name in the booking's language.
    pub service_name: String,
    /// What to bring, in the booking's language.
    pub documents: Vec<String>,
    pub case_number: String,
    pub channel: Channel,
    /// Made by staff of an office in preview: a rehearsal, not a real appointment.
    pub is_test: bool,
}

fn confirmation(details: &Details, manage_token: String) -> BookingConfirmation {
    let zone = details.office.details.timezone;
    let texts = &details.service.appointment_type.texts;
    let language = details.booking.language.as_str();
    BookingConfirmation {
        reference: details.booking.reference.to_string(),
        manage_token,
        status: details.booking.status,
        starts_at: local(details.slot.starts_at, zone),
        ends_at: local(details.slot.ends_at, zone),
        office: details.office.code.to_string(),
        office_name: details.office.details.name.clone(),
        address: format!(
            "{}, {}",
            details.office.details.address, details.office.details.city
        ),
        timezone: zone.name().to_owned(),
        service: details.service.appointment_type.code.to_string(),
        service_name: pick(&texts.names, language).cloned().unwrap_or_default(),
        documents: pick(&texts.documents, language)
            .cloned()
            .unwrap_or_default(),
        case_number: details.booking.case_number.clone(),
        channel: details.booking.channel,
        is_test: details.booking.is_test,
    }
}

/// Books a seat. Without a staff token this is the applicant booking online (`pilot` and
/// `live` offices); with one, staff booking at the desk on someone's behalf (channel `desk`,
/// may use the seats held for the desk; in a `preview` office the booking is a test).
///
/// Send an `Idempotency-Key` to retry safely: the same key with the same request answers with
/// the first booking (header `Idempotent-Replayed: true`) and books nothing new.
#[utoipa::path(
    tag = "bookings",
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe, e.g. a UUID"),
    ),
    request_body = BookingRequest,
    responses(
        (status = 201, description = "Booked", body = BookingConfirmation),
        (status = 404, description = "No such public office", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Refused: `slot_full`, `slot_unavailable`, `invite_only`, `min_notice`, `beyond_horizon`, `slot_in_the_past`, `case_already_booked`, `too_many_bookings`, `office_not_open`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or `idempotency_key_reused`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/offices/{code}/bookings")]
pub async fn create(
    state: web::Data<AppState>,
    viewer: MaybeStaff,
    code: web::Path<String>,
    req: HttpRequest,
    JsonBody(body): JsonBody<BookingRequest>,
) -> Result<HttpResponse, ApiError> {
    let booker = match viewer.0 {
        Some(staff) => Booker::Staff(staff.actor),
        None => Booker::Applicant,
    };
    let request = parse_request(&body, matches!(booker, Booker::Applicant))?;
    let key = idempotency_key(&req, &body, &booker)?;
    // The office, and a cheap answer when the slot is plainly full (a retry with an
    // Idempotency-Key goes through, to get its first answer).
    let (office, refusal) = {
        let (booker, slot_id, retry) = (booker.clone(), request.slot_id, key.is_some());
        state
            .store
            .read(move |conn| -> Result<(Office, Option<Refusal>), ApiError> {
                let office = match &booker {
                    Booker::Applicant => visible_office(conn, None, &code)?,
                    Booker::Staff(actor) => staff_office(conn, actor, &code, Need::Read)?,
                };
                let refusal = match retry {
                    true => None,
                    false => bookings::quick_refusal(
                        conn,
                        office.id,
                        slot_id,
                        booker.channel(),
                        Utc::now(),
                    )?,
                };
                Ok((office, refusal))
            })
            .await?
    };
    if let Some(refusal) = refusal {
        return Err(BookingError::Refused(refusal).into());
    }

    let attempt = || {
        let (office, booker, request, key, policy) = (
            office.clone(),
            booker.clone(),
            request.clone(),
            key.clone(),
            state.booking_policy.clone(),
        );
        state.store.write(
            move |conn| -> Result<(Details, String, bool), BookingError> {
                let Booked {
                    details,
                    manage_token,
                    replayed,
                } = bookings::book(
                    conn,
                    &office,
                    &booker,
                    &request,
                    key.as_ref(),
                    &policy,
                    Utc::now(),
                )?;
                if let (Booker::Staff(actor), false) = (&booker, replayed) {
                    let view = staff_view(&details);
                    audit(
                        conn,
                        actor,
                        Some(office.id),
                        "booking.create",
                        &view.reference,
                        None::<&()>,
                        Some(&view),
                    )?;
                }
                Ok((details, manage_token, replayed))
            },
        )
    };
    // A concurrent request with the same key committed first: the second try answers from it.
    let (details, manage_token, replayed) = match attempt().await {
        Err(BookingError::KeyRace) => attempt().await?,
        other => other?,
    };
    let mut response = HttpResponse::build(StatusCode::CREATED);
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(confirmation(&details, manage_token)))
}

#[derive(Serialize, ToSchema)]
pub struct OfficeSummary {
    pub code: String,
    pub name: String,
    pub address: String,
    pub city: String,
    pub timezone: String,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceSummary {
    pub code: String,
    pub names: Texts,
    pub documents: DocumentLists,
    pub duration_minutes: i32,
}

/// A booking as its applicant sees it.
#[derive(Serialize, ToSchema)]
pub struct BookingView {
    pub reference: String,
    pub status: Status,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    pub office: OfficeSummary,
    pub service: ServiceSummary,
    pub case_number: String,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub language: String,
    pub channel: Channel,
    pub is_test: bool,
    /// Until when it can still be cancelled or moved online.
    pub changeable_until: LocalTime,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// `applicant` or `office`.
    pub cancelled_by: Option<String>,
    /// The office's reason, when it cancelled.
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn applicant_view(details: &Details) -> BookingView {
    let zone = details.office.details.timezone;
    let booking = &details.booking;
    let cutoff = Duration::hours(i64::from(details.service.settings.change_cutoff_hours));
    BookingView {
        reference: booking.reference.to_string(),
        status: booking.status,
        starts_at: local(details.slot.starts_at, zone),
        ends_at: local(details.slot.ends_at, zone),
        office: OfficeSummary {
            code: details.office.code.to_string(),
            name: details.office.details.name.clone(),
            address: details.office.details.address.clone(),
            city: details.office.details.city.clone(),
            timezone: zone.name().to_owned(),
        },
        service: ServiceSummary {
            code: details.service.appointment_type.code.to_string(),
            names: details.service.appointment_type.texts.names.clone(),
            documents: details.service.appointment_type.texts.documents.clone(),
            duration_minutes: details.service.duration_minutes(),
        },
        case_number: booking.case_number.clone(),
        full_name: booking.full_name.clone(),
        email: booking.email.clone(),
        phone: booking.phone.clone(),
        language: booking.language.clone(),
        channel: booking.channel,
        is_test: booking.is_test,
        changeable_until: local(details.slot.starts_at - cutoff, zone),
        cancelled_at: booking.cancelled_at,
        cancelled_by: booking.cancelled_by.clone(),
        cancel_reason: booking.cancel_reason.clone(),
        created_at: booking.created_at,
    }
}

/// A fingerprint no token has, compared against when the reference is unknown, so that a
/// wrong reference and a wrong token take the same path.
const NO_BOOKING: &str = "-";

/// The booking `reference` names, if `token` is its manage token (compared in constant time).
fn with_token(
    conn: &mut DbConnection,
    reference: &str,
    token: &str,
) -> Result<Details, BookingError> {
    let found = match Reference::parse(reference) {
        Some(reference) => stored::find_by_reference(conn, &reference)?,
        None => None,
    };
    let fingerprint = found
        .as_ref()
        .map_or(NO_BOOKING, |booking| booking.token_hash.as_str());
    match found {
        Some(booking) if token::matches(token, fingerprint) => bookings::details(conn, booking),
        _ => {
            token::matches(token, fingerprint);
            Err(BookingError::NotFound("booking"))
        }
    }
}

fn header_token(req: &HttpRequest) -> Result<String, ApiError> {
    req.headers()
        .get(TOKEN_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(|token| token.trim().to_owned())
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "booking_token_required",
                "Send the manage token you received when booking as the X-Booking-Token header.",
            )
        })
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
    reference: web::Path<String>,
    req: HttpRequest,
) -> Result<web::Json<BookingView>, ApiError> {
    let token = header_token(&req)?;
    let view = state
        .store
        .read(move |conn| -> Result<BookingView, BookingError> {
            Ok(applicant_view(&with_token(conn, &reference, &token)?))
        })
        .await?;
    Ok(web::Json(view))
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
    reference: web::Path<String>,
    req: HttpRequest,
) -> Result<web::Json<BookingView>, ApiError> {
    let token = header_token(&req)?;
    let policy = state.booking_policy.clone();
    let view = state
        .store
        .write(move |conn| -> Result<BookingView, BookingError> {
            let details = with_token(conn, &reference, &token)?;
            bookings::cancel_by_applicant(conn, &details, &policy, Utc::now())?;
            Ok(applicant_view(&bookings::reread(conn, details)?))
        })
        .await?;
    Ok(web::Json(view))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    /// The new slot, of the same service at the same office.
    pub slot_id: i64,
}

/// Moves the visit to another slot, atomically: the new seat is taken and the old one freed,
/// or nothing changes.
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
        (status = 409, description = "`slot_full`, `slot_unavailable`, `same_slot`, `min_notice`, `beyond_horizon`, `change_cutoff_passed`, `booking_not_changeable`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a slot of this office and service", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/bookings/{reference}/reschedule")]
pub async fn reschedule(
    state: web::Data<AppState>,
    reference: web::Path<String>,
    req: HttpRequest,
    JsonBody(body): JsonBody<RescheduleRequest>,
) -> Result<web::Json<BookingView>, ApiError> {
    let token = header_token(&req)?;
    let policy = state.booking_policy.clone();
    let view = state
        .store
        .write(move |conn| -> Result<BookingView, BookingError> {
            let details = with_token(conn, &reference, &token)?;
            bookings::reschedule(conn, &details, body.slot_id, &policy, Utc::now())?;
            Ok(applicant_view(&bookings::reread(conn, details)?))
        })
        .await?;
    Ok(web::Json(view))
}

/// The booking as an RFC 5545 calendar event (`token` in the query, for calendar programs
/// that cannot send headers). The UID stays the same for the booking's life; SEQUENCE rises
/// with every change.
#[utoipa::path(
    tag = "bookings",
    params(
        ("reference" = String, Path, description = "Booking reference", example = "K7P3-Q9XD"),
        ("token" = String, Query, description = "The manage token"),
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
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = QueryParams::parse(&req, &["token"])?;
    let token = query.text("token").map(str::to_owned).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "booking_token_required",
            "Add ?token=<manage token> to the address.",
        )
    })?;
    let (file_name, text) = state
        .store
        .read(move |conn| -> Result<(String, String), BookingError> {
            let details = with_token(conn, &reference, &token)?;
            Ok((
                format!("{}.ics", details.booking.reference),
                ics::calendar(&details, Method::Publish),
            ))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{file_name}\""),
        ))
        .body(text))
}

/// A booking as the desk sees it.
#[derive(Serialize, ToSchema)]
pub struct StaffBookingView {
    pub reference: String,
    pub status: Status,
    /// The local day of the visit.
    pub date: NaiveDate,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    pub slot_id: i64,
    pub calendar_id: i64,
    pub service: String,
    pub case_number: String,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub language: String,
    pub channel: Channel,
    pub is_test: bool,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn staff_view(details: &Details) -> StaffBookingView {
    let zone = details.office.details.timezone;
    let booking = &details.booking;
    StaffBookingView {
        reference: booking.reference.to_string(),
        status: booking.status,
        date: details.slot.local_date,
        starts_at: local(details.slot.starts_at, zone),
        ends_at: local(details.slot.ends_at, zone),
        slot_id: details.slot.id,
        calendar_id: details.slot.calendar_id,
        service: details.service.appointment_type.code.to_string(),
        case_number: booking.case_number.clone(),
        full_name: booking.full_name.clone(),
        email: booking.email.clone(),
        phone: booking.phone.clone(),
        language: booking.language.clone(),
        channel: booking.channel,
        is_test: booking.is_test,
        checked_in_at: booking.checked_in_at,
        cancelled_at: booking.cancelled_at,
        cancelled_by: booking.cancelled_by.clone(),
        cancel_reason: booking.cancel_reason.clone(),
        created_at: booking.created_at,
    }
}

#[derive(Serialize, ToSchema)]
pub struct Agenda {
    pub office: String,
    pub date: NaiveDate,
    pub timezone: String,
    /// The day's bookings (cancelled ones left out), by time.
    pub bookings: Vec<StaffBookingView>,
}

/// The day's bookings by time, optionally for one calendar or service. Staff of the office.
#[utoipa::path(
    tag = "desk",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("date" = Option<NaiveDate>, Query, description = "The local day (default today)"),
        ("calendar" = Option<i64>, Query, description = "Only this calendar"),
        ("service" = Option<String>, Query, description = "Only this appointment type"),
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
    code: web::Path<String>,
    req: HttpRequest,
) -> Result<web::Json<Agenda>, ApiError> {
    let query = QueryParams::parse(&req, &["date", "calendar", "service"])?;
    let actor = staff.actor;
    let agenda = state
        .store
        .read(move |conn| -> Result<Agenda, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let zone = office.details.timezone;
            let mut errors = FieldErrors::new();
            let date = query
                .date(&mut errors, "date")
                .unwrap_or_else(|| today(zone, Utc::now()));
            let calendar_id = query.integer(&mut errors, "calendar", 1..=i64::MAX);
            let services = crate::store::services::list(conn, office.id)?;
            let service = match query.text("service") {
                Some(code) => match services
                    .iter()
                    .find(|s| s.appointment_type.code.as_str() == code)
                {
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
            let from = start_of_day(zone, date);
            let to = start_of_day(zone, date + Days::new(1));
            let rows = stored::agenda(conn, office.id, from, to, calendar_id, service)?;
            let mut bookings = Vec::with_capacity(rows.len());
            for (booking, slot) in rows {
                let Some(service) = services
                    .iter()
                    .find(|s| s.id == booking.office_service_id)
                    .cloned()
                else {
                    continue;
                };
                bookings.push(staff_view(&Details {
                    booking,
                    slot,
                    service,
                    office: office.clone(),
                }));
            }
            Ok(Agenda {
                office: office.code.to_string(),
                date,
                timezone: zone.name().to_owned(),
                bookings,
            })
        })
        .await?;
    Ok(web::Json(agenda))
}

/// Finds the office's bookings by case number or reference, newest first.
#[utoipa::path(
    tag = "desk",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Office code", example = "RM"),
        ("case_number" = Option<String>, Query, description = "The case number"),
        ("reference" = Option<String>, Query, description = "The booking reference"),
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
    code: web::Path<String>,
    req: HttpRequest,
) -> Result<web::Json<Vec<StaffBookingView>>, ApiError> {
    let query = QueryParams::parse(&req, &["case_number", "reference"])?;
    let case_number = match query.text("case_number") {
        Some(text) => Some(CaseNumber::parse(text).map_err(|m| ApiError::field("case_number", m))?),
        None => None,
    };
    let reference = query
        .text("reference")
        .map(|text| {
            Reference::parse(text)
                .ok_or_else(|| ApiError::field("reference", "must be a reference like K7P3-Q9XD"))
        })
        .transpose()?;
    if case_number.is_none() && reference.is_none() {
        return Err(ApiError::field(
            "case_number",
            "give a case_number or a reference to search for",
        ));
    }
    let actor = staff.actor;
    let views = state
        .store
        .read(move |conn| -> Result<Vec<StaffBookingView>, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let found = stored::search(
                conn,
                office.id,
                case_number.as_ref().map(|c| c.as_str()),
                reference.as_ref(),
            )?;
            let mut views = Vec::with_capacity(found.len());
            for booking in found {
                views.push(staff_view(&bookings::details(conn, booking)?));
            }
            Ok(views)
        })
        .await?;
    Ok(web::Json(views))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Told to the applicant.
    #[schema(example = "The office is closed for a strike.")]
    pub reason: String,
}

/// The office's booking `reference`, with the action applied by `actor`, audited.
async fn desk_action(
    state: web::Data<AppState>,
    actor: Actor,
    code: String,
    reference: String,
    action: DeskAction,
    reason: Option<String>,
) -> Result<web::Json<StaffBookingView>, ApiError> {
    let policy = state.booking_policy.clone();
    let view = state
        .store
        .write(move |conn| -> Result<StaffBookingView, ApiError> {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let not_found =
                || ApiError::not_found("The office has no booking with this reference.");
            let reference = Reference::parse(&reference).ok_or_else(not_found)?;
            let booking = stored::find_by_reference(conn, &reference)?
                .filter(|booking| booking.office_id == office.id)
                .ok_or_else(not_found)?;
            let details = bookings::details(conn, booking)?;
            let before = staff_view(&details);
            bookings::desk_action(
                conn,
                &details,
                action,
                &actor,
                reason.as_deref(),
                &policy,
                Utc::now(),
            )?;
            let after = staff_view(&bookings::reread(conn, details)?);
            let name = match action {
                DeskAction::CheckIn => "booking.check_in",
                DeskAction::MarkAttended => "booking.attended",
                DeskAction::MarkNoShow => "booking.no_show",
                DeskAction::Cancel => "booking.cancel",
            };
            audit(
                conn,
                &actor,
                Some(office.id),
                name,
                &after.reference,
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
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
pub async fn check_in(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
) -> Result<web::Json<StaffBookingView>, ApiError> {
    let (code, reference) = path.into_inner();
    desk_action(
        state,
        staff.actor,
        code,
        reference,
        DeskAction::CheckIn,
        None,
    )
    .await
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
pub async fn attended(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
) -> Result<web::Json<StaffBookingView>, ApiError> {
    let (code, reference) = path.into_inner();
    desk_action(
        state,
        staff.actor,
        code,
        reference,
        DeskAction::MarkAttended,
        None,
    )
    .await
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
pub async fn no_show(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
) -> Result<web::Json<StaffBookingView>, ApiError> {
    let (code, reference) = path.into_inner();
    desk_action(
        state,
        staff.actor,
        code,
        reference,
        DeskAction::MarkNoShow,
        None,
    )
    .await
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
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
    JsonBody(body): JsonBody<CancelRequest>,
) -> Result<web::Json<StaffBookingView>, ApiError> {
    let (code, reference) = path.into_inner();
    let reason = parse_text(&body.reason, 500).map_err(|m| ApiError::field("reason", m))?;
    desk_action(
        state,
        staff.actor,
        code,
        reference,
        DeskAction::Cancel,
        Some(reason),
    )
    .await
}
