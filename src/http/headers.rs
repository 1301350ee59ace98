//! What every answer says about how to handle it, whatever route produced it, and HEAD.
//!
//! - `X-Content-Type-Options: nosniff`: a JSON or calendar body is never run as something else.
//! - `Referrer-Policy: no-referrer`: the manage token travels in links (calendar, mail), and a
//!   page must not hand it to the next site in a `Referer`.
//! - `X-Frame-Options: DENY` and a `Content-Security-Policy`: nothing of ours is framed; API
//!   answers may load nothing at all, Swagger UI (`/docs`) only its own scripts, styles and
//!   images, and the document it describes, and the applicant pages only their own style sheet
//!   and, where an office asks for proof of work, the widget's script and worker: no inline
//!   script or style, and forms post only to us. The API's printable reports (HTML) carry their
//!   own inline style and load nothing, script least of all.
//! - `Strict-Transport-Security`, when `server.hsts_max_age_seconds` says clients come over HTTPS.
//!
//! HEAD is answered wherever GET is: the request is routed as a GET, and the HTTP layer, which
//! knows the client asked HEAD, sends the headers (with the body's length) and no body.

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::{
        Method,
        header::{self, HeaderName, HeaderValue},
    },
    middleware::Next,
    web,
};

use super::AppState;

const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";
/// The applicant pages (HTML answered outside `/docs`).
const PAGES_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                            img-src 'self' data:; connect-src 'self'; worker-src 'self'; \
                            form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/// The printable reports the API answers as HTML (`format=html`): one self-contained file with
/// its own inline style and inline SVG, no script at all, nothing loaded.
const REPORTS_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
                              form-action 'none'; frame-ancestors 'none'";
/// Swagger UI's page loads its bundled scripts and styles, sets inline styles on elements,
/// shows data: images, and fetches /openapi.json.
const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                           img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

/// The `Strict-Transport-Security` value for `max_age` seconds; none for 0.
pub fn hsts(max_age: u64) -> Option<HeaderValue> {
    (max_age > 0)
        .then(|| HeaderValue::from_str(&format!("max-age={max_age}; includeSubDomains")).ok())
        .flatten()
}

/// Middleware: routes HEAD as GET, and adds the headers above to every answer.
pub async fn secure(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    let docs = req.path().starts_with("/docs");
    let api = req.path().starts_with("/api/");
    let hsts = req
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.hsts.clone());
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    let page = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/html"));
    let policy = match (docs, page) {
        (true, _) => DOCS_POLICY,
        (false, true) if api => REPORTS_POLICY,
        (false, true) => PAGES_POLICY,
        (false, false) => API_POLICY,
    };
    let set = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, policy),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Some(hsts) = hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts);
    }
    Ok(response)
}

/// The headers a browser script may read from a cross-origin answer, beyond the basic ones.
pub const EXPOSED: [HeaderName; 8] = [
    header::RETRY_AFTER,
    header::LOCATION,
    header::CONTENT_DISPOSITION,
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("ratelimit-limit"),
    HeaderName::from_static("ratelimit-remaining"),
    HeaderName::from_static("ratelimit-reset"),
    HeaderName::from_static("ratelimit-policy"),
];

/// The CORS policy for `origins` (exact origins; none means no CORS at all): the API's methods
/// and request headers, no cookies (staff send bearer tokens, applicants their manage token).
pub fn cors(origins: &[String], max_age: usize) -> actix_cors::Cors {
    let cors = origins
        .iter()
        .fold(actix_cors::Cors::default(), |cors, origin| {
            cors.allowed_origin(origin.trim_end_matches('/'))
        });
    cors.allowed_methods([
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ])
    .allowed_headers([
        header::AUTHORIZATION,
        header::CONTENT_TYPE,
        header::ACCEPT,
        HeaderName::from_static("idempotency-key"),
        HeaderName::from_static("x-booking-token"),
        HeaderName::from_static("x-request-id"),
    ])
    .expose_headers(EXPOSED)
    .max_age(max_age)
}
