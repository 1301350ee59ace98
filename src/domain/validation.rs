//! The one way input is refused: a value parser says why a value is wrong ([`Invalid`]), and
//! whoever knows which field it came from files it under that field ([`FieldErrors`]), so one
//! answer can name every bad field.

use std::borrow::Cow;

use serde::Serialize;
use utoipa::ToSchema;

/// Why one value was refused, in words for the person who typed it ("must be a date as
/// YYYY-MM-DD"). Every parser in the domain returns it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(Cow<'static, str>);

impl Invalid {
    pub fn new(message: impl Into<Cow<'static, str>>) -> Invalid {
        Invalid(message.into())
    }

    /// "must be one of a, b, c".
    pub fn one_of<'a>(choices: impl IntoIterator<Item = &'a str>) -> Invalid {
        Invalid::new(format!(
            "must be one of {}",
            choices.into_iter().collect::<Vec<_>>().join(", ")
        ))
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

/// One field that did not validate, as a client shows it next to the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's path in the request, e.g. `email` or `hours[2].opens`.
    pub field: String,
    pub message: String,
}

/// Every field error found in one request.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> FieldErrors {
        FieldErrors::default()
    }

    /// A single error, for requests with one bad field.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> FieldErrors {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Keeps the parsed value, or files why it was refused under `field`.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, Invalid>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(reason) => {
                self.add(field, reason.0);
                None
            }
        }
    }

    /// Parses an optional value: absent is `None`, refused is `None` with its reason filed.
    pub fn check_optional<T>(
        &mut self,
        field: &str,
        text: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Option<T> {
        let parsed = parse(text?);
        self.check(field, parsed)
    }

    /// `Ok(value)` when nothing was refused, else every refusal.
    pub fn or_value<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Files every refusal of `other` too.
    pub fn extend(&mut self, other: FieldErrors) {
        self.0.extend(other.0);
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    pub fn as_slice(&self) -> &[FieldError] {
        &self.0
    }
}

/// An enum sent and stored as its snake_case name (a stage, a role, a status…).
pub trait Named: Copy + 'static {
    const ALL: &'static [Self];

    fn as_str(self) -> &'static str;

    fn parse(text: &str) -> Result<Self, Invalid> {
        Self::ALL
            .iter()
            .copied()
            .find(|value| value.as_str() == text)
            .ok_or_else(|| Invalid::one_of(Self::ALL.iter().map(|value| value.as_str())))
    }
}

/// Input parsed as far as it could be: `value` without the parts that could not be read, and
/// why they could not. A use case that checks the rest against stored data files its own
/// findings after these, so the client corrects everything at once; either way it answers with
/// all of them before doing anything.
#[derive(Debug)]
pub struct Parsed<T> {
    pub value: T,
    pub unreadable: FieldErrors,
}

impl<T> Parsed<T> {
    /// What could be read, and why the rest could not.
    pub fn into_parts(self) -> (T, FieldErrors) {
        (self.value, self.unreadable)
    }

    /// The value when every part of it could be read.
    pub fn complete(self) -> Result<T, FieldErrors> {
        self.unreadable.or_value(self.value)
    }
}
