//! Query parameters, declared once. A use case's query type derives `IntoParams`, which puts its
//! parameters in the OpenAPI document, and `Deserialize`, which reads them; this extractor takes
//! the names, the required ones and the types from the same declaration, so the document and
//! the parser cannot disagree.
//!
//! Unknown or repeated names are refused at once (a misspelt `form=` would otherwise silently
//! fall back to a default), and so are empty values (`?to=`: a date left blank is not a date; the
//! document says so with `minLength: 1` on text); a value that cannot be read is set aside with
//! its reason, for the use case to report together with what it finds wrong itself
//! ([`Parsed`]).

use std::{
    any::TypeId,
    collections::{HashMap, HashSet},
    sync::{OnceLock, PoisonError, RwLock},
};

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use futures_util::future::{Ready, ready};
use serde::de::DeserializeOwned;
use utoipa::{IntoParams, openapi::path::ParameterIn};

use super::problem::ApiError;
use crate::domain::{FieldErrors, Parsed};

impl<T: DeserializeOwned + IntoParams + 'static> FromRequest for Parsed<T> {
    type Error = ApiError;
    type Future = Ready<Result<Parsed<T>, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(read_query(req.query_string()))
    }
}

/// Reads `query` into `T`: at once when every value reads, which is the usual case; else value
/// by value, to say which ones do not and why.
pub fn read_query<T: DeserializeOwned + IntoParams + 'static>(
    query: &str,
) -> Result<Parsed<T>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|e| {
        ApiError::bad_request(
            "invalid_query",
            format!("The query string is not valid: {e}"),
        )
    })?;
    let params = parameters::<T>();
    refuse_unknown_and_repeated(&pairs, params)?;
    let (given, empty): (Vec<Pair>, Vec<Pair>) = pairs
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .partition(|(_, value)| !value.is_empty());
    let mut unreadable = FieldErrors::new();
    for (name, _) in &empty {
        unreadable.add(*name, "is empty: give a value or leave the parameter out");
    }
    if let Ok(value) = deserialize::<T>(&given) {
        return Ok(Parsed { value, unreadable });
    }

    let mut readable = Vec::new();
    for (name, value) in given {
        // Each value alone: any other error than the absence of the rest is this value's.
        match deserialize::<T>(&[(name, value)]) {
            Err(error) if !error.to_string().starts_with("missing field") => {
                let param = params.iter().find(|param| param.name == name);
                unreadable.add(name, reason(param, &error));
            }
            _ => readable.push((name, value)),
        }
    }
    match deserialize::<T>(&readable) {
        Ok(value) => Ok(Parsed { value, unreadable }),
        Err(_) => {
            // Only a required parameter can be missing now: name each one.
            for param in params {
                let named = |(name, _): &(&str, &str)| *name == param.name;
                if param.required && !readable.iter().any(named) && !empty.iter().any(named) {
                    unreadable.add(&param.name, "is required");
                }
            }
            Err(unreadable.into())
        }
    }
}

/// A name and its value, as the query string gives them.
type Pair<'a> = (&'a str, &'a str);

/// What reading needs of one declared parameter.
struct Param {
    name: String,
    required: bool,
    /// The type the document gives it, for the reason a value does not read.
    schema: serde_json::Value,
}

/// `T`'s parameters as its `IntoParams` declares them, worked out once per type: building the
/// declaration allocates every description and schema, too much to do on every request.
fn parameters<T: IntoParams + 'static>() -> &'static [Param] {
    type Cache = RwLock<HashMap<TypeId, &'static [Param]>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Cache::default);
    let key = TypeId::of::<T>();
    if let Some(params) = cache
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return params;
    }
    let params: Vec<Param> = T::into_params(|| Some(ParameterIn::Query))
        .into_iter()
        .map(|param| Param {
            required: matches!(param.required, utoipa::openapi::Required::True),
            schema: serde_json::to_value(&param.schema).unwrap_or_default(),
            name: param.name,
        })
        .collect();
    // One small slice per query type, kept for the life of the process.
    let params: &'static [Param] = Box::leak(params.into_boxed_slice());
    let mut cache = cache.write().unwrap_or_else(PoisonError::into_inner);
    cache.entry(key).or_insert(params)
}

fn refuse_unknown_and_repeated(
    pairs: &[(String, String)],
    params: &[Param],
) -> Result<(), ApiError> {
    let known: Vec<&str> = params.iter().map(|param| param.name.as_str()).collect();
    let mut errors = FieldErrors::new();
    let mut seen = HashSet::new();
    for (name, _) in pairs {
        if !known.contains(&name.as_str()) {
            errors.add(
                name,
                format!("is not a known parameter (known: {})", known.join(", ")),
            );
        } else if !seen.insert(name) {
            errors.add(name, "is given more than once");
        }
    }
    errors.or_value(()).map_err(ApiError::from)
}

fn deserialize<T: DeserializeOwned>(pairs: &[(&str, &str)]) -> Result<T, serde::de::value::Error> {
    let encoded = serde_urlencoded::to_string(pairs).unwrap_or_default();
    serde_urlencoded::from_str(&encoded)
}

/// Why a value could not be read: the domain's own words when they are there ("must be a date
/// from …"), else in the words of the type the document gives it.
fn reason(param: Option<&Param>, error: &serde::de::value::Error) -> String {
    let message = error.to_string();
    if message.starts_with("must ") {
        return message;
    }
    let no_schema = serde_json::Value::Null;
    let schema = param.map_or(&no_schema, |param| &param.schema);
    let has_type = |wanted: &str| match &schema["type"] {
        serde_json::Value::String(name) => name == wanted,
        serde_json::Value::Array(names) => names.iter().any(|name| name == wanted),
        _ => false,
    };
    if schema["format"] == "date" {
        "must be a date as YYYY-MM-DD".into()
    } else if has_type("integer") {
        "must be a whole number".into()
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, IntoParams)]
    #[into_params(parameter_in = Query)]
    struct Days {
        service: String,
        from: Option<NaiveDate>,
        limit: Option<i64>,
    }

    fn fields(result: Result<Parsed<Days>, ApiError>) -> Vec<String> {
        match result {
            Ok(parsed) => parsed.unreadable.into_vec(),
            Err(error) => error.problem().errors,
        }
        .into_iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect()
    }

    #[test]
    fn values_are_read_one_by_one_and_kept_apart_when_they_cannot_be() {
        let parsed = read_query::<Days>("service=x&from=2027-01-04&limit=").unwrap();
        assert_eq!(parsed.value.from, NaiveDate::from_ymd_opt(2027, 1, 4));
        assert_eq!(
            fields(Ok(parsed)),
            ["limit: is empty: give a value or leave the parameter out"]
        );
        let parsed = read_query::<Days>("service=x&from=tomorrow&limit=ten").unwrap();
        assert_eq!(parsed.value.service, "x");
        assert_eq!(parsed.value.limit, None);
        assert_eq!(
            fields(Ok(parsed)),
            [
                "from: must be a date as YYYY-MM-DD",
                "limit: must be a whole number"
            ]
        );
    }

    #[test]
    fn missing_unknown_and_repeated_parameters_are_refused() {
        assert_eq!(
            fields(read_query::<Days>("from=tomorrow")),
            ["from: must be a date as YYYY-MM-DD", "service: is required"]
        );
        assert_eq!(
            fields(read_query::<Days>("service=x&colour=red")),
            ["colour: is not a known parameter (known: service, from, limit)"]
        );
        assert_eq!(
            fields(read_query::<Days>("service=x&service=y")),
            ["service: is given more than once"]
        );
    }
}
