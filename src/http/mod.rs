//! The HTTP edge: routes, extractors, problem documents and the middleware. A handler extracts
//! and parses the request (path, query, body, who is asking), calls one use case, and maps its
//! answer or its error to HTTP; it never opens a transaction itself.

pub mod audit;
pub mod auth;
pub mod bookings;
pub mod calendars;
pub mod cases;
pub mod catalogue;
pub mod client;
pub mod closures;
pub mod events;
pub mod extract;
pub mod fallback;
pub mod headers;
pub mod indicators;
pub mod integration;
pub mod intermediaries;
pub mod invitations;
pub mod limits;
pub mod lottery;
pub mod mail;
pub mod offices;
pub mod openapi;
pub mod ops;
pub mod personal_data;
pub mod problem;
pub mod query;
pub mod sending;
pub mod services;
pub mod slots;
pub mod staff;
pub mod surveys;
pub mod telemetry;
pub mod waitlist;

use std::sync::Arc;

use actix_web::{
    App, HttpResponse,
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    http::header,
    middleware::{Condition, ErrorHandlers, from_fn},
    web,
};
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, service_config::ServiceConfig};
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    auth::{password::Hasher, token::Tokens},
    config::CorsSettings,
    store::Store,
    use_cases::{bookings::Policy, login::LoginThrottle},
    worker::Workers,
};
use fallback::RouteTable;
use problem::ApiError;
use telemetry::Metrics;

/// What handlers share. Everything in it is either immutable or lives in the database, so any
/// number of instances can serve the same offices.
pub struct AppState {
    pub store: Store,
    /// What applicants can book, kept in memory by this instance.
    pub offer: crate::use_cases::offer::Offer,
    /// This instance's background workers, for readiness and metrics.
    pub workers: Arc<Workers>,
    pub tokens: Tokens,
    pub hasher: Hasher,
    pub throttle: LoginThrottle,
    pub metrics: Arc<Metrics>,
    /// The bearer token a metrics scraper sends (`metrics.token`); empty: administrators only.
    pub metrics_token: secrecy::SecretString,
    pub limits: limits::Limits,
    /// `Strict-Transport-Security`, when clients come over HTTPS.
    pub hsts: Option<header::HeaderValue>,
    /// The origins browsers may call the API from.
    pub cors: CorsSettings,
    pub body_limit: usize,
    pub booking_policy: Policy,
    /// What a registered letter costs, for the money the mail saved.
    pub letter_cost_cents: i64,
    /// The applicant pages' templates, catalogues and CSRF key.
    pub pages: crate::web::Pages,
}

impl AppState {
    pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
}

/// Every endpoint. Registering a handler here is also what puts it in the OpenAPI document.
/// Every API handler, named once: registered by the server ([`serve_routes`]) and collected
/// into the OpenAPI document ([`routes`]).
macro_rules! api_handlers {
    ($cfg:expr) => {
        // The busiest first: actix tries the routes in this order, matching each one's pattern
        // (a regular expression where the path has parameters), so a release day's reads and
        // bookings should not be matched against seventy routes before their own.
        $cfg.service(ops::health)
            .service(slots::availability)
            .service(bookings::applicant::create)
            .service(bookings::applicant::show)
            .service(ops::ready)
            .service(ops::metrics)
            .service(auth::login)
            .service(auth::me)
            .service(auth::client_token)
            .service(integration::create)
            .service(integration::list)
            .service(integration::revoke)
            .service(cases::register)
            .service(cases::import)
            .service(cases::find)
            .service(events::feed)
            .service(events::subscribe)
            .service(events::subscriptions)
            .service(events::unsubscribe)
            .service(events::deliveries)
            .service(events::redeliver)
            .service(invitations::invite)
            .service(invitations::invite_many)
            .service(invitations::list)
            .service(invitations::cancel)
            .service(invitations::extend)
            .service(invitations::show)
            .service(invitations::book)
            .service(lottery::list)
            .service(lottery::show)
            .service(lottery::enter_draw)
            .service(lottery::replay)
            .service(intermediaries::list)
            .service(intermediaries::accredit)
            .service(intermediaries::revoke)
            .service(waitlist::join)
            .service(waitlist::show)
            .service(waitlist::leave)
            .service(waitlist::offer)
            .service(waitlist::accept)
            .service(waitlist::decline)
            .service(surveys::show)
            .service(indicators::office)
            .service(indicators::compared)
            .service(surveys::answer)
            .service(staff::create)
            .service(staff::list)
            .service(staff::update)
            .service(catalogue::list)
            .service(catalogue::create)
            .service(catalogue::update)
            .service(offices::list)
            .service(offices::create)
            .service(offices::show)
            .service(offices::update)
            .service(offices::set_stage)
            .service(services::list)
            .service(services::put)
            .service(services::turn_off)
            .service(calendars::list)
            .service(calendars::create)
            .service(calendars::update)
            .service(calendars::put_hours)
            .service(closures::list)
            .service(closures::create)
            .service(closures::remove)
            .service(closures::job)
            .service(personal_data::export)
            .service(personal_data::erase)
            .service(slots::publish)
            .service(slots::list)
            .service(slots::block)
            .service(audit::office_log)
            .service(audit::national_log)
            .service(bookings::applicant::challenge)
            .service(bookings::applicant::cancel)
            .service(bookings::applicant::reschedule)
            .service(bookings::applicant::reconfirm)
            .service(bookings::applicant::calendar)
            .service(bookings::desk::agenda)
            .service(bookings::desk::search)
            .service(bookings::desk::check_in)
            .service(bookings::desk::attended)
            .service(bookings::desk::no_show)
            .service(bookings::desk::cancel_by_office)
            .service(bookings::desk::move_by_office)
            .service(bookings::desk::reconfirmation)
            .service(mail::outbox_list)
            .service(mail::outbox_retry)
            .service(mail::stats)
    };
}

/// The handlers as the OpenAPI document collects them.
fn routes(cfg: &mut ServiceConfig) {
    api_handlers!(cfg);
}

/// The handlers as each HTTP worker serves them. Not through utoipa's app: that would build the
/// whole document again in every worker (some megabytes of schemas each).
fn serve_routes(cfg: &mut web::ServiceConfig) {
    api_handlers!(cfg);
}

/// The OpenAPI document, collected from the handlers (the same one `/openapi.json` serves and
/// `openapi/openapi.json` holds).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(openapi::ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    openapi::complete(doc)
}

/// The OpenAPI document as `/openapi.json` serves it: `openapi/openapi.json`, which a test keeps
/// equal to the document the handlers describe ([`openapi`]). Serving the committed copy spares
/// every instance building the document at startup, and holding the code that builds it (a
/// third of the binary) and the schemas in memory for good.
pub struct OpenApiJson(web::Bytes);

impl OpenApiJson {
    pub fn committed() -> OpenApiJson {
        OpenApiJson(web::Bytes::from_static(include_bytes!(
            "../../openapi/openapi.json"
        )))
    }

    /// Every documented path with its methods, for the answers no handler gives.
    pub fn route_table(&self) -> serde_json::Result<fallback::RouteTable> {
        let document: serde_json::Value = serde_json::from_slice(&self.0)?;
        Ok(fallback::RouteTable::from_document(&document))
    }
}

async fn openapi_json(document: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(document.0.clone())
}

/// The application as each HTTP worker runs it.
pub fn app(
    state: web::Data<AppState>,
    route_table: web::Data<RouteTable>,
    document: web::Data<OpenApiJson>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let cors = state.cors.clone();
    let pages_prefix = state.pages.prefix().to_owned();
    let cors_policy = headers::cors(&cors.allowed_origins, cors.max_age_seconds);
    App::new()
        .app_data(state)
        .app_data(route_table)
        .app_data(
            web::PathConfig::default()
                .error_handler(|_, req| fallback::unreadable_path(req).into()),
        )
        .app_data(web::QueryConfig::default().error_handler(|error, _| {
            ApiError::bad_request(
                "invalid_query",
                format!("The query string is not valid: {error}"),
            )
            .into()
        }))
        .configure(serve_routes)
        .app_data(document)
        .route("/openapi.json", web::get().to(openapi_json))
        .service(
            SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::from("/openapi.json")),
        )
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header((header::LOCATION, "/docs/"))
                    .finish()
            }),
        )
        .configure(|cfg| crate::web::routes(cfg, &pages_prefix))
        .default_service(web::to(fallback::no_route))
        .wrap(from_fn(limits::limit))
        .wrap(Condition::new(
            !cors.allowed_origins.is_empty(),
            cors_policy,
        ))
        .wrap(from_fn(headers::secure))
        .wrap(from_fn(telemetry::telemetry))
        .wrap(ErrorHandlers::new().default_handler(fallback::problem_for_bare_errors))
        .wrap(from_fn(sending::in_slices))
}
