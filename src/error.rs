//! The error policy, in one place: what each layer returns, how a failure reaches the client,
//! and which problem codes exist.
//!
//! **What each layer returns**
//! - The domain's parsers return [`Invalid`]: the reason one value was refused, in words for the
//!   person who typed it. Whoever knows the field files it under that field in [`FieldErrors`],
//!   so one answer names every bad field. The domain's other rules return their own small types
//!   ([`Forbidden`], the booking [`Refusal`], `DurationsDiffer`).
//! - The store returns diesel's `QueryResult` from queries and [`StoreError`] from running them
//!   (no free connection, a task that died, a failed migration).
//! - A use case returns [`Error<F>`]: the ways every use case can fail (the office does not
//!   exist for this actor, the actor may not, the input is invalid, the store or something else
//!   failed unexpectedly) plus `F`,
//!   the failures of that feature alone (`CalendarFailure::NoSuchCalendar`,
//!   `BookingFailure::Refused(Refusal::SlotFull)`), a `thiserror` enum next to the use case.
//! - The HTTP edge turns anything that can [`Explain`] itself into a problem document, through
//!   the [`Answer`] it gives; its own extractors add the transport's problems (bad JSON, too
//!   large, wrong content type, no route).
//!
//! **How a failure reaches the client**: `application/problem+json` (RFC 9457) with a stable
//! `code`. Each [`Answer`] has one status; unexpected failures are [`Answer::Internal`]: the client
//! gets a bare 500 with the request id, and the cause goes to the log, never into the body. No
//! free database connection, a writer that could not start in time (its turn, SQLite's busy
//! timeout, PostgreSQL's `lock_timeout`), or a database gone away under a statement (restarting,
//! failing over), is [`Answer::Busy`]: 503 with `Retry-After`, because a retry will do.
//!
//! **Codes**: `validation_failed` (422, with `errors: [{field, message}]`), `not_found` (404),
//! `forbidden` (403), `unauthorized` (401), `booking_token_required` (401), `too_many_attempts`
//! (429), `office_code_taken`, `type_code_taken`, `email_taken`, `email_unavailable`,
//! `cannot_deactivate_self`,
//! `calendar_durations_differ`, `idempotency_conflict` and every booking [`Refusal`] code
//! (`slot_full`, `case_already_booked`, …) (409), `idempotency_key_reused` (422),
//! `service_unavailable` and `not_ready` (503), `internal_error` (500); and from the edge itself
//! `malformed_json`, `invalid_query` and `unreadable_body` (400), `unsupported_media_type` (415),
//! `payload_too_large` (413), `method_not_allowed` (405).
//!
//! [`Forbidden`]: crate::domain::staff::Forbidden
//! [`Refusal`]: crate::domain::booking::Refusal

use std::{convert::Infallible, time::Duration};

use crate::{
    auth::password::HashingError,
    domain::{FieldErrors, Invalid, staff::Forbidden},
    store::StoreError,
};

/// How a failure reads to whoever asked, whatever the transport: the HTTP edge gives each its
/// status.
#[derive(Debug)]
pub enum Answer {
    /// 422 `validation_failed`: the fields to correct.
    Invalid(FieldErrors),
    /// 404 `not_found`: nothing there, or nothing this caller may know of.
    NotFound(String),
    /// 403 `forbidden`: the caller's role does not allow it.
    Forbidden(String),
    /// 401 `unauthorized`: who is asking could not be established.
    Unauthorized(String),
    /// 409: the state of things refuses it; `code` says which rule.
    Conflict { code: &'static str, detail: String },
    /// 422 with its own code: a request the client must change, not field by field.
    Unprocessable { code: &'static str, detail: String },
    /// 429: asked too often; ask again after `retry_after`.
    TooManyRequests {
        code: &'static str,
        detail: String,
        retry_after: Duration,
    },
    /// 503 `service_unavailable`: busy right now; a retry in a moment will do.
    Busy,
    /// 500 `internal_error`: a bug or an outage; the cause is for the log only.
    Internal(anyhow::Error),
}

/// A failure that knows how it reads to the client.
pub trait Explain {
    fn answer(self) -> Answer;
}

/// What a use case fails with: the ways every use case can fail, and `F`, the failures of its
/// feature alone.
#[derive(Debug, thiserror::Error)]
pub enum Error<F> {
    #[error(transparent)]
    Feature(F),
    /// The office does not exist, or not for this actor (staff of another office).
    #[error("there is no office with this code")]
    NoSuchOffice,
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Too much is waiting for `.0` right now; a retry in a moment will do.
    #[error("busy: {0}")]
    Busy(&'static str),
    /// Anything else unexpected: a task that died, a token that could not be signed.
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// The failures of one feature, which turn into its [`Error`] with `?`.
pub trait Failure: Explain {}

impl<F: Failure> From<F> for Error<F> {
    fn from(failure: F) -> Error<F> {
        Error::Feature(failure)
    }
}

impl<F> From<diesel::result::Error> for Error<F> {
    fn from(error: diesel::result::Error) -> Error<F> {
        Error::Store(StoreError::from(error))
    }
}

impl<F> From<HashingError> for Error<F> {
    fn from(error: HashingError) -> Error<F> {
        match error {
            HashingError::Busy => Error::Busy("password checks"),
            HashingError::Failed(cause) => Error::Internal(cause),
        }
    }
}

impl<F> Error<F> {
    /// One bad field.
    pub fn field(field: &str, reason: Invalid) -> Error<F> {
        Error::Invalid(FieldErrors::single(field, reason.message()))
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Error<F> {
        Error::Internal(cause.into())
    }

    /// What this transaction has just written cannot be read back: a bug, never the client's
    /// doing, so an internal error rather than "not found".
    pub fn vanished(what: impl std::fmt::Display) -> Error<F> {
        Error::internal(anyhow::anyhow!("{what} vanished after it was written"))
    }
}

impl<G: std::fmt::Debug + std::fmt::Display + Send + Sync + 'static> Error<G> {
    /// This error, met by a use case of another feature where it expects none (a booking rule
    /// refusing a move the closure's plan allowed): the store's troubles and busy stay what they
    /// are, anything else is internal.
    pub fn unexpected<F>(self) -> Error<F> {
        match self {
            Error::Store(error) => Error::Store(error),
            Error::Busy(what) => Error::Busy(what),
            other => Error::internal(anyhow::anyhow!("{other}")),
        }
    }
}

impl<F: Explain> Explain for Error<F> {
    fn answer(self) -> Answer {
        match self {
            Error::Feature(failure) => failure.answer(),
            Error::NoSuchOffice => Answer::NotFound("There is no office with this code.".into()),
            Error::Forbidden(refusal) => refusal.answer(),
            Error::Invalid(errors) => errors.answer(),
            Error::Store(error) => error.answer(),
            Error::Busy(what) => {
                tracing::warn!(what, "busy");
                Answer::Busy
            }
            Error::Internal(cause) => Answer::Internal(cause),
        }
    }
}

impl Explain for FieldErrors {
    fn answer(self) -> Answer {
        Answer::Invalid(self)
    }
}

impl Explain for Forbidden {
    fn answer(self) -> Answer {
        Answer::Forbidden(self.0.to_owned())
    }
}

impl Explain for StoreError {
    fn answer(self) -> Answer {
        match self {
            error if error.is_transient() => {
                tracing::warn!(%error, "database busy or away");
                Answer::Busy
            }
            other => Answer::Internal(other.into()),
        }
    }
}

/// For the use cases that fail in no way of their own.
impl Explain for Infallible {
    fn answer(self) -> Answer {
        match self {}
    }
}

impl Failure for Infallible {}
