//! Failures as the HTTP edge sends them: `application/problem+json` (RFC 9457) with a stable
//! `code`. The policy is written in [`crate::error`]; this module gives each [`Answer`] its
//! status, and builds the edge's own problems (bad JSON, too large, no route).
//!
//! Anything unexpected becomes [`ApiError::internal`]: the client sees a bare 500 and the
//! request id; the cause goes to the log (by the telemetry middleware), never into the body.

use std::fmt;

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    domain::{FieldError, FieldErrors},
    error::{Answer, Explain},
};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `urn:sportello:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem.
    pub title: String,
    pub status: u16,
    /// What went wrong this time, in words an applicant or clerk understands.
    pub detail: String,
    /// Stable, machine-readable code such as `validation_failed` or `slot_full`.
    pub code: String,
    /// The fields that did not validate (with `validation_failed`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug)]
enum Kind {
    Client {
        problem: Problem,
        headers: Vec<(header::HeaderName, String)>,
    },
    Internal(anyhow::Error),
}

/// The one error type handlers return. Boxed: errors are rare, results are everywhere.
#[derive(Debug)]
pub struct ApiError(Box<Kind>);

impl ApiError {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> ApiError {
        ApiError(Box::new(Kind::Client {
            problem: Problem {
                problem_type: format!("urn:sportello:problem:{code}"),
                title: status.canonical_reason().unwrap_or("Error").to_owned(),
                status: status.as_u16(),
                detail: detail.into(),
                code: code.to_owned(),
                errors: Vec::new(),
            },
            headers: Vec::new(),
        }))
    }

    /// Adds a response header (e.g. `Retry-After`, `Allow`).
    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> ApiError {
        if let Kind::Client { headers, .. } = self.0.as_mut() {
            headers.push((name, value.into()));
        }
        self
    }

    pub fn validation(errors: FieldErrors) -> ApiError {
        let errors = errors.into_vec();
        let detail = match errors.as_slice() {
            [only] => format!("{}: {}", only.field, only.message),
            _ => format!("{} fields are not valid; see errors", errors.len()),
        };
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            detail,
        );
        if let Kind::Client { problem, .. } = error.0.as_mut() {
            problem.errors = errors;
        }
        error
    }

    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::validation(FieldErrors::single(field, message))
    }

    pub fn bad_request(code: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
            .with_header(header::WWW_AUTHENTICATE, "Bearer")
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn conflict(code: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn too_many_requests(
        code: &str,
        detail: impl Into<String>,
        retry_after_secs: u64,
    ) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, detail)
            .with_header(header::RETRY_AFTER, retry_after_secs.to_string())
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> ApiError {
        ApiError(Box::new(Kind::Internal(cause.into())))
    }

    /// The cause of an internal error, for the log line; `None` for client errors.
    pub fn internal_cause(&self) -> Option<&anyhow::Error> {
        match self.0.as_ref() {
            Kind::Internal(cause) => Some(cause),
            Kind::Client { .. } => None,
        }
    }

    /// The problem as the client receives it.
    pub fn problem(&self) -> Problem {
        match self.0.as_ref() {
            Kind::Client { problem, .. } => problem.clone(),
            Kind::Internal(_) => Problem {
                problem_type: "urn:sportello:problem:internal_error".into(),
                title: "Internal Server Error".into(),
                status: 500,
                detail: "Something went wrong on our side and has been logged. If it happens \
                         again, quote the X-Request-Id response header."
                    .into(),
                code: "internal_error".into(),
                errors: Vec::new(),
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_ref() {
            Kind::Client { problem, .. } => {
                write!(f, "{} {}: {}", problem.status, problem.code, problem.detail)
            }
            Kind::Internal(cause) => write!(f, "internal error: {cause:#}"),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self.0.as_ref() {
            Kind::Client { problem, .. } => {
                StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Kind::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.content_type(PROBLEM_JSON);
        if let Kind::Client { headers, .. } = self.0.as_ref() {
            for (name, value) in headers {
                response.insert_header((name.clone(), value.as_str()));
            }
        }
        response.json(self.problem())
    }
}

/// Every use case's error, and every domain and store error, reaches the client this way.
impl<E: Explain> From<E> for ApiError {
    fn from(error: E) -> ApiError {
        match error.answer() {
            Answer::Invalid(errors) => ApiError::validation(errors),
            Answer::NotFound(detail) => ApiError::not_found(detail),
            Answer::Forbidden(detail) => ApiError::forbidden(detail),
            Answer::Unauthorized(detail) => ApiError::unauthorized(detail),
            Answer::Conflict { code, detail } => ApiError::conflict(code, detail),
            Answer::Unprocessable { code, detail } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
            }
            Answer::TooManyRequests {
                code,
                detail,
                retry_after,
            } => ApiError::too_many_requests(code, detail, retry_after.as_secs().max(1)),
            Answer::Busy => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "The service is busy. Please try again in a moment.",
            )
            .with_header(header::RETRY_AFTER, "1"),
            Answer::Internal(cause) => ApiError::internal(cause),
        }
    }
}
