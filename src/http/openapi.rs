//! The OpenAPI document: its header, the bearer scheme, and the answers every operation shares.
//!
//! A handler's `#[utoipa::path]` declares what is its own: its success, and the refusals of its
//! use case (404 for an office the caller may not see, 409 with a booking code, …). What the
//! edge answers for any route is declared here, once, from the shape of each operation, so the
//! document cannot forget it:
//!
//! - a token is required: 401 without a valid one, 403 when its role may not (an optional
//!   token, `security: [{}, {bearer: []}]`: 401 when one is sent and is not valid);
//! - a path parameter: 404 when it names nothing the caller may see;
//! - a JSON body: 400 when it is not JSON, 413 when too large, 415 when not sent as JSON, 422
//!   when a field does not validate;
//! - query parameters: 422 when one does not validate or is not one of them;
//! - 429 with `Retry-After` past the rate limits (not on health, readiness and metrics);
//! - 503 with `Retry-After` when the database is overloaded (not on health).
//!
//! It also adds what the derived schemas cannot say: a rule between two fields of a body
//! (`BlockRequest::schema_conditions`, `ServiceSettingsRequest::schema_conditions`).

use crate::use_cases::{services::ServiceSettingsRequest, slots::BlockRequest};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, RefOr, ResponseBuilder, Schema,
        Type,
        path::{Operation, ParameterIn},
        schema::SchemaType,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "sportello",
        description = "Self-booked appointments at Italy's one-stop immigration offices \
                       (Sportello Unico per l'Immigrazione). Errors are application/problem+json \
                       (RFC 9457) with a stable `code`."
    ),
    modifiers(&BearerSecurity),
    components(schemas(
        crate::domain::schema::TypeCodeText,
        crate::domain::schema::CaseNumberText,
        crate::domain::schema::ReferenceText,
        crate::use_cases::events::BookingEventData,
        crate::use_cases::invitations::InvitationEventData,
        crate::use_cases::events::AnonymisedEventData,
    )),
    tags(
        (name = "auth", description = "Staff login and integration clients' tokens"),
        (name = "integration", description = "The case system's machine accounts"),
        (name = "cases", description = "Cases the case system registers with an office"),
        (name = "events", description = "Events back to the case system: the feed and webhooks"),
        (name = "invitations", description = "Invitations to book (convocazioni): sent by the case system or staff, answered by the applicant through the mail's link"),
        (name = "intermediaries", description = "Patronati, associations and employers' consultants: accredited per office by an admin, they book for their clients (with their own token, through the booking endpoint) within quotas"),
        (name = "waitlist", description = "Earlier seats for booked applicants: a queue, one offer a day held for a while, accepted or declined with the mail's token"),
        (name = "lottery", description = "Seats released by lot: draws with a committed seed, entries while the seats open, winners booked and the seed published at the close"),
        (name = "surveys", description = "The applicant's verdict after a visit: one survey by mail, answered once with its token, kept without identity"),
        (name = "staff", description = "Staff accounts"),
        (name = "offices", description = "Offices and their rollout stage"),
        (name = "catalogue", description = "The national catalogue of appointment types"),
        (name = "services", description = "The services an office offers"),
        (name = "calendars", description = "Calendars of desks and their weekly hours"),
        (name = "closures", description = "Holidays and closures"),
        (name = "slots", description = "Publishing slots"),
        (name = "availability", description = "What applicants can book"),
        (name = "audit", description = "Who changed what"),
        (name = "bookings", description = "Applicants book, view, cancel and move their visit"),
        (name = "desk", description = "The office runs the day: agenda, search, check-in, no-show, cancel"),
        (name = "evaluation", description = "The pilot's evaluation: each office's indicators, every office compared; JSON, CSV or a printable page"),
        (name = "mail", description = "The office's outbox and the letters mail replaced"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("Staff access token from POST /api/v1/auth/login"))
                    .build(),
            ),
        );
    }
}

/// A shared answer: the status, its component's name and what it means.
struct Shared {
    status: &'static str,
    name: &'static str,
    description: &'static str,
    retry_after: bool,
}

const UNAUTHORIZED: Shared = Shared {
    status: "401",
    name: "Unauthorized",
    description: "No valid access token (code `unauthorized`)",
    retry_after: false,
};
const FORBIDDEN: Shared = Shared {
    status: "403",
    name: "Forbidden",
    description: "The token's role may not do this (code `forbidden`)",
    retry_after: false,
};
const NOT_FOUND: Shared = Shared {
    status: "404",
    name: "NotFound",
    description: "Nothing the caller may see has this name (code `not_found`)",
    retry_after: false,
};
const MALFORMED: Shared = Shared {
    status: "400",
    name: "MalformedJson",
    description: "The body is not JSON (code `malformed_json`)",
    retry_after: false,
};
const TOO_LARGE: Shared = Shared {
    status: "413",
    name: "PayloadTooLarge",
    description: "The body is larger than the service accepts (code `payload_too_large`)",
    retry_after: false,
};
const NOT_JSON: Shared = Shared {
    status: "415",
    name: "UnsupportedMediaType",
    description: "The body is not sent as application/json (code `unsupported_media_type`)",
    retry_after: false,
};
const INVALID: Shared = Shared {
    status: "422",
    name: "ValidationFailed",
    description: "Fields that do not validate, each named in `errors` (code `validation_failed`)",
    retry_after: false,
};
const RATE_LIMITED: Shared = Shared {
    status: "429",
    name: "RateLimited",
    description: "Too many requests from this address; try again after `Retry-After` seconds \
                  (code `rate_limited`)",
    retry_after: true,
};
const BUSY: Shared = Shared {
    status: "503",
    name: "ServiceUnavailable",
    description: "Overloaded for the moment; try again after `Retry-After` seconds \
                  (code `service_unavailable`)",
    retry_after: true,
};

/// Paths the rate limits and the database never refuse (see `limits`).
const NEVER_LIMITED: [&str; 3] = ["/health", "/ready", "/metrics"];

/// The document as served and as kept in `openapi/openapi.json`, given the handlers' paths.
pub fn complete(mut doc: openapi::OpenApi) -> openapi::OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    for shared in [
        &UNAUTHORIZED,
        &FORBIDDEN,
        &NOT_FOUND,
        &MALFORMED,
        &TOO_LARGE,
        &NOT_JSON,
        &INVALID,
        &RATE_LIMITED,
        &BUSY,
    ] {
        components
            .responses
            .insert(shared.name.to_owned(), RefOr::T(response(shared)));
    }
    let conditions = [
        ("BlockRequest", BlockRequest::schema_conditions()),
        (
            "ServiceSettingsRequest",
            ServiceSettingsRequest::schema_conditions(),
        ),
    ];
    for (name, condition) in conditions {
        let schema = components
            .schemas
            .get_mut(name)
            .unwrap_or_else(|| panic!("{name} is a component"));
        if let RefOr::T(Schema::Object(object)) = schema {
            object
                .extensions
                .get_or_insert_with(Default::default)
                .extend([condition]);
        }
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            declare_shared_answers(path, operation);
        }
    }
    doc
}

fn declare_shared_answers(path: &str, operation: &mut Operation) {
    let mut answers = Vec::new();
    let requirements = operation.security.as_deref().unwrap_or_default();
    let token_optional = requirements.iter().any(|r| r == &Default::default());
    if !requirements.is_empty() {
        answers.push(&UNAUTHORIZED);
        if !token_optional {
            answers.push(&FORBIDDEN);
        }
    }
    // The query reader refuses empty values (`?service=`).
    for parameter in operation.parameters.iter_mut().flatten() {
        if parameter.parameter_in == ParameterIn::Query
            && let Some(RefOr::T(Schema::Object(object))) = &mut parameter.schema
            && object.schema_type == SchemaType::Type(Type::String)
            && object.format.is_none()
        {
            object.min_length.get_or_insert(1);
        }
    }
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    if parameters
        .iter()
        .any(|p| p.parameter_in == ParameterIn::Path)
    {
        answers.push(&NOT_FOUND);
    }
    if operation.request_body.is_some() {
        answers.extend([&MALFORMED, &TOO_LARGE, &NOT_JSON, &INVALID]);
    }
    if parameters
        .iter()
        .any(|p| p.parameter_in == ParameterIn::Query)
    {
        answers.push(&INVALID);
    }
    if !NEVER_LIMITED.contains(&path) {
        answers.push(&RATE_LIMITED);
    }
    if path != "/health" {
        answers.push(&BUSY);
    }
    let responses = &mut operation.responses.responses;
    for shared in answers {
        responses
            .entry(shared.status.to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(shared.name)));
    }
}

fn response(shared: &Shared) -> openapi::Response {
    let problem = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    let mut builder = ResponseBuilder::new()
        .description(shared.description)
        .content("application/problem+json", problem);
    if shared.retry_after {
        let seconds = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0));
        builder = builder.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(seconds)
                .description(Some("Seconds to wait before trying again"))
                .build(),
        );
    }
    builder.build()
}
