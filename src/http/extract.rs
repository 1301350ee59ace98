//! Extractors that turn a raw request into checked input, or into a problem response.

use actix_web::{
    FromRequest, HttpRequest,
    dev::Payload,
    http::{StatusCode, header},
    web,
};
use futures_util::{StreamExt, future::LocalBoxFuture};
use serde::{Deserialize, de::DeserializeOwned};

use super::{AppState, problem::ApiError};
use crate::{
    domain::{integration::Caller, staff::Actor},
    store::staff::StaffMember,
    use_cases::{case_files::ImportFormat, login},
};

/// A JSON request body. Unlike `web::Json` it answers with problem documents: 415 without a
/// JSON content type, 413 over the body limit, 400 for broken JSON and 422 naming the field for
/// JSON of the wrong shape.
pub struct JsonBody<T>(pub T);

/// A token a mail's link carries, sent back as the header `name`; 401 `code` with `hint` when
/// it is missing or blank.
pub fn header_token(
    req: &HttpRequest,
    name: &str,
    code: &'static str,
    hint: &'static str,
) -> Result<String, ApiError> {
    req.headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(|token| token.trim().to_owned())
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, code, hint))
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<JsonBody<T>, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(AppState::DEFAULT_BODY_LIMIT, |state| state.body_limit);
        read_json(req, payload, limit)
    }
}

/// A JSON request body of many items (a batch), read as [`JsonBody`] is but up to
/// [`ImportBody::IMPORT_LIMIT`] bytes.
pub struct BatchBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for BatchBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<BatchBody<T>, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json(req, payload, ImportBody::IMPORT_LIMIT);
        Box::pin(async move { body.await.map(|JsonBody(value)| BatchBody(value)) })
    }
}

/// The body as JSON of `T`, at most `limit` bytes.
fn read_json<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
) -> LocalBoxFuture<'static, Result<JsonBody<T>, ApiError>> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(is_json_content_type);
    let declared_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    let mut payload = payload.take();

    Box::pin(async move {
        match is_json {
            Some(true) => {}
            Some(false) | None => {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Send the request body as JSON with Content-Type: application/json.",
                ));
            }
        }
        if declared_length.is_some_and(|length| length > limit) {
            return Err(too_large(limit));
        }
        let body = read_limited(&mut payload, limit).await?;
        parse_json(&body).map(JsonBody)
    })
}

fn is_json_content_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The whole body, refused with 413 as soon as it passes `limit` bytes.
async fn read_limited(payload: &mut Payload, limit: usize) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(
                "unreadable_body",
                format!("The request body could not be read: {e}"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("The request body is larger than the {limit} bytes this service accepts."),
    )
}

/// Parses JSON, reporting the path of the field that does not fit (`hours[2].opens`). A number
/// with nothing after the point (`2.0`) is the integer it equals: JSON Schema says so, and
/// clients that only have floating point numbers send them that way.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let mut value = serde_json::Value::deserialize(&mut deserializer)
        .map_err(|inner| malformed(bytes, &inner))?;
    // Anything after the JSON value (a second object, stray text) makes the body malformed.
    deserializer
        .end()
        .map_err(|inner| malformed(bytes, &inner))?;
    integers_as_integers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        field_error(&path, &error.into_inner())
    })
}

fn integers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(number) if number.is_f64() => {
            let whole = number
                .as_f64()
                .filter(|float| float.fract() == 0.0 && float.abs() < 2f64.powi(63));
            if let Some(whole) = whole {
                // In range and without a fraction: the conversion is exact.
                let integer = whole as i64;
                *value = Value::from(integer);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(integers_as_integers),
        _ => {}
    }
}

fn malformed(bytes: &[u8], error: &serde_json::Error) -> ApiError {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return ApiError::bad_request(
            "malformed_json",
            "The request body is empty; send a JSON object.",
        );
    }
    ApiError::bad_request(
        "malformed_json",
        format!(
            "The request body is not valid JSON (line {}, column {}).",
            error.line(),
            error.column()
        ),
    )
}

/// Turns serde's message into a field and a sentence: a missing field is reported on the field
/// itself, not on the object that lacks it.
fn field_error(path: &str, error: &serde_json::Error) -> ApiError {
    let message = error.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m);
    let parent = if path == "." { "" } else { path };
    let join = |name: &str| {
        if parent.is_empty() {
            name.to_owned()
        } else {
            format!("{parent}.{name}")
        }
    };
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        return ApiError::field(&join(name), "is required");
    }
    if message.starts_with("unknown field `") {
        // serde_path_to_error already ends the path with the unknown field itself.
        return ApiError::field(path, format!("is not a known field ({message})"));
    }
    let field = if parent.is_empty() { "body" } else { parent };
    ApiError::field(field, message)
}

/// The signed-in staff member, from `Authorization: Bearer <token>`. The account is read on
/// every request, so a deactivated account stops working at once, not when its token expires.
pub struct Staff {
    pub actor: Actor,
    pub member: StaffMember,
}

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Staff, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let credentials = state_and_bearer(
            req,
            "Log in and send the access token as Authorization: Bearer <token>.",
        );
        Box::pin(async move {
            let (state, token) = credentials?;
            let member = login::signed_in(&state.store, &state.tokens, &token).await?;
            Ok(Staff {
                actor: member.actor(),
                member,
            })
        })
    }
}

/// Whoever a token belongs to on the endpoints staff and the case system share: a staff member
/// or an integration client.
pub struct SignedCaller(pub Caller);

impl FromRequest for SignedCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<SignedCaller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let credentials = state_and_bearer(
            req,
            "Send a staff or integration client access token as Authorization: Bearer <token>.",
        );
        Box::pin(async move {
            let (state, token) = credentials?;
            Ok(SignedCaller(
                login::caller(&state.store, &state.tokens, &token).await?,
            ))
        })
    }
}

/// A file of cases: JSON (`application/json`) or CSV (`text/csv`), up to `IMPORT_LIMIT` bytes.
pub struct ImportBody {
    pub format: ImportFormat,
    pub bytes: web::Bytes,
}

impl ImportBody {
    /// Large enough for the most cases one import may carry.
    pub const IMPORT_LIMIT: usize = 16 * 1024 * 1024;
}

impl FromRequest for ImportBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<ImportBody, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let essence = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| {
                value
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        let format = match essence.as_deref() {
            Some(essence) if is_json_content_type(essence) => Some(ImportFormat::Json),
            Some("text/csv") => Some(ImportFormat::Csv),
            _ => None,
        };
        let mut payload = payload.take();
        Box::pin(async move {
            let format = format.ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Send the cases as application/json (an array) or text/csv.",
                )
            })?;
            let body = read_limited(&mut payload, ImportBody::IMPORT_LIMIT).await?;
            Ok(ImportBody {
                format,
                bytes: body.freeze(),
            })
        })
    }
}

/// Someone who may read the metrics (see `use_cases::login::may_read_metrics`).
pub struct MetricsReader;

impl FromRequest for MetricsReader {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<MetricsReader, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let credentials = state_and_bearer(
            req,
            "Send the metrics token or an administrator's access token as \
             Authorization: Bearer <token>.",
        );
        Box::pin(async move {
            let (state, token) = credentials?;
            let (store, tokens) = (&state.store, &state.tokens);
            login::may_read_metrics(store, tokens, &state.metrics_token, &token).await?;
            Ok(MetricsReader)
        })
    }
}

/// The staff member when the request carries a token, `None` when it carries none: for public
/// pages that show staff a little more. A token that is present but invalid is still a 401.
pub struct MaybeStaff(pub Option<Staff>);

impl MaybeStaff {
    pub fn actor(self) -> Option<Actor> {
        self.0.map(|staff| staff.actor)
    }
}

impl FromRequest for MaybeStaff {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<MaybeStaff, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if req.headers().contains_key(header::AUTHORIZATION) {
            let staff = Staff::from_request(req, payload);
            Box::pin(async move { Ok(MaybeStaff(Some(staff.await?))) })
        } else {
            Box::pin(async { Ok(MaybeStaff(None)) })
        }
    }
}

/// The shared state and the bearer token, or a 401 saying which token to send.
fn state_and_bearer(
    req: &HttpRequest,
    missing: &'static str,
) -> Result<(web::Data<AppState>, String), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("AppState missing")))?;
    let token = bearer_token(req).ok_or_else(|| ApiError::unauthorized(missing))?;
    Ok((state, token))
}

fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::ResponseError;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Hours {
        weekday: u8,
        opens: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        hours: Vec<Hours>,
    }

    fn problem(body: &str) -> crate::http::problem::Problem {
        let error = parse_json::<Body>(body.as_bytes()).unwrap_err();
        let problem = error.problem();
        assert_eq!(error.status_code().as_u16(), problem.status);
        problem
    }

    #[test]
    fn broken_json_is_400_and_says_where() {
        let p = problem("{\"name\": ");
        assert_eq!((p.status, p.code.as_str()), (400, "malformed_json"));
        let p = problem("");
        assert!(p.detail.contains("empty"), "{}", p.detail);
        let p = problem("{\"name\": \"x\", \"hours\": []} trailing");
        assert_eq!(p.code, "malformed_json");
    }

    #[test]
    fn wrong_shape_is_422_naming_the_field() {
        let p = problem(
            r#"{"name": "x", "hours": [{"weekday": 1, "opens": "9"}, {"weekday": "x", "opens": "9"}]}"#,
        );
        assert_eq!((p.status, p.code.as_str()), (422, "validation_failed"));
        assert_eq!(p.errors[0].field, "hours[1].weekday");

        let p = problem(r#"{"hours": []}"#);
        assert_eq!(p.errors[0].field, "name");
        assert_eq!(p.errors[0].message, "is required");

        let p = problem(r#"{"name": "x", "hours": [{"weekday": 1}]}"#);
        assert_eq!(p.errors[0].field, "hours[0].opens");

        let p = problem(r#"{"name": "x", "hours": [], "colour": "red"}"#);
        assert_eq!(p.errors[0].field, "colour");
    }

    #[test]
    fn json_content_types() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=utf-8"));
        assert!(is_json_content_type("application/merge-patch+json"));
        assert!(!is_json_content_type("text/plain"));
        assert!(!is_json_content_type("application/x-www-form-urlencoded"));
    }
}
