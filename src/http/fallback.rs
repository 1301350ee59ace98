//! What answers when no handler does: 404 for unknown paths, 405 (with `Allow`) for known paths
//! asked with the wrong method, and a last net that turns any plain-text error from the
//! framework into a problem document.

use actix_web::{
    HttpRequest, HttpResponse, ResponseError,
    body::MessageBody,
    dev::ServiceResponse,
    http::{Method, StatusCode, header},
    middleware::ErrorHandlerResponse,
    web,
};

use super::problem::{ApiError, PROBLEM_JSON};

/// Every documented path with its methods. Actix routes each method separately, so without
/// this a wrong method would look like an unknown path; the OpenAPI document is the list of
/// what exists.
pub struct RouteTable(Vec<(PathTemplate, Vec<Method>)>);

/// A documented path, `/api/v1/offices/{code}`, matched segment by segment: a `{name}` segment
/// matches any one non-empty segment, every other segment only itself. (The router's own
/// `ResourceDef` would compile a regex per path: over a megabyte for the document's
/// paths, held by every instance for the rare wrong address.)
struct PathTemplate(Vec<Segment>);

enum Segment {
    Literal(String),
    Placeholder,
}

impl PathTemplate {
    fn new(path: &str) -> PathTemplate {
        let segment = |text: &str| match text.starts_with('{') && text.ends_with('}') {
            true => Segment::Placeholder,
            false => Segment::Literal(text.to_owned()),
        };
        PathTemplate(path.split('/').map(segment).collect())
    }

    fn is_match(&self, path: &str) -> bool {
        let mut given = path.split('/');
        let all_match = self.0.iter().all(|segment| match (segment, given.next()) {
            (Segment::Literal(literal), Some(text)) => literal == text,
            (Segment::Placeholder, Some(text)) => !text.is_empty(),
            (_, None) => false,
        });
        all_match && given.next().is_none()
    }

    fn placeholders(&self) -> usize {
        self.0
            .iter()
            .filter(|segment| matches!(segment, Segment::Placeholder))
            .count()
    }
}

impl RouteTable {
    /// From an OpenAPI document's `paths`, as JSON: each path with the methods it has.
    pub fn from_document(document: &serde_json::Value) -> RouteTable {
        let paths = document["paths"].as_object().into_iter().flatten();
        let routes = paths
            .map(|(path, item)| {
                let has = |method: &str| item.get(method).is_some();
                // HEAD is answered wherever GET is (see `headers::secure`).
                let methods = [
                    (Method::GET, has("get")),
                    (Method::HEAD, has("get")),
                    (Method::POST, has("post")),
                    (Method::PUT, has("put")),
                    (Method::PATCH, has("patch")),
                    (Method::DELETE, has("delete")),
                ]
                .into_iter()
                .filter_map(|(method, present)| present.then_some(method))
                .collect();
                (PathTemplate::new(path), methods)
            })
            .collect();
        RouteTable(routes)
    }

    /// The methods of the resource at `path`. A literal segment names a resource of its own:
    /// `/slots/publish` is not the slot with id `publish`, though `/slots/{id}` matches it.
    fn methods_for(&self, path: &str) -> Vec<Method> {
        let matching: Vec<&(PathTemplate, Vec<Method>)> = self
            .0
            .iter()
            .filter(|(route, _)| route.is_match(path))
            .collect();
        let fewest = matching.iter().map(|(route, _)| route.placeholders()).min();
        let mut methods: Vec<Method> = matching
            .into_iter()
            .filter(|(route, _)| Some(route.placeholders()) == fewest)
            .flat_map(|(_, methods)| methods.iter().cloned())
            .collect();
        methods.dedup();
        methods
    }
}

/// A path parameter that does not read (`/slots/publish` as the slot `publish`): nothing is
/// there, unless a resource of its own is, which does not take this method.
pub fn unreadable_path(req: &HttpRequest) -> ApiError {
    let methods = req
        .app_data::<web::Data<RouteTable>>()
        .map(|routes| routes.methods_for(req.path()))
        .unwrap_or_default();
    if methods.is_empty() || methods.contains(req.method()) {
        return ApiError::not_found(format!("There is nothing at {}.", req.path()));
    }
    method_not_allowed(req, &methods)
}

/// The default service: 405 when the path exists with other methods, otherwise 404.
pub async fn no_route(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
) -> Result<HttpResponse, ApiError> {
    let methods = routes.methods_for(req.path());
    if methods.is_empty() {
        if let Some(page) = crate::web::not_found(&req).await {
            return Ok(page);
        }
        return Err(ApiError::not_found(format!(
            "There is nothing at {}.",
            req.path()
        )));
    }
    Err(method_not_allowed(&req, &methods))
}

fn method_not_allowed(req: &HttpRequest, methods: &[Method]) -> ApiError {
    let allow = methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} does not accept {}; it accepts {allow}.",
            req.path(),
            req.method()
        ),
    )
    .with_header(header::ALLOW, allow)
}

/// Error-status responses that are not problem documents yet (the framework's own plain-text
/// errors) are rewritten as one, keeping their status and headers.
pub fn problem_for_bare_errors<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // A problem already, or an applicant page's own error page.
    let explained = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| {
            let value = value.as_bytes();
            value.starts_with(PROBLEM_JSON.as_bytes()) || value.starts_with(b"text/html")
        });
    if explained {
        return Ok(ErrorHandlerResponse::Response(
            response.map_into_left_body(),
        ));
    }
    let status = response.status();
    let error = match status {
        s if s.is_server_error() && s != StatusCode::SERVICE_UNAVAILABLE => {
            ApiError::internal(anyhow::anyhow!("framework error response {status}"))
        }
        _ => ApiError::new(status, &code_for(status), detail_for(status)),
    };
    let (request, original) = response.into_parts();
    let mut rewritten = error.error_response();
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(request, rewritten).map_into_right_body(),
    ))
}

fn code_for(status: StatusCode) -> String {
    match status {
        StatusCode::BAD_REQUEST => "bad_request".into(),
        StatusCode::UNAUTHORIZED => "unauthorized".into(),
        StatusCode::FORBIDDEN => "forbidden".into(),
        StatusCode::NOT_FOUND => "not_found".into(),
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large".into(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type".into(),
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests".into(),
        StatusCode::SERVICE_UNAVAILABLE => "service_unavailable".into(),
        other => format!("http_{}", other.as_u16()),
    }
}

fn detail_for(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "There is nothing at this address.".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.".into(),
        other => format!(
            "The request could not be served ({}).",
            other.canonical_reason().unwrap_or("error")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_list_their_methods_and_unknown_paths_none() {
        let doc = serde_json::json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/api/v1/staff": {"get": {"responses": {}}, "post": {"responses": {}}},
                "/api/v1/offices/{code}": {"get": {"responses": {}}, "patch": {"responses": {}}}
            }
        });
        let table = RouteTable::from_document(&doc);
        assert_eq!(
            table.methods_for("/api/v1/staff"),
            vec![Method::GET, Method::HEAD, Method::POST]
        );
        assert_eq!(
            table.methods_for("/api/v1/offices/RM"),
            vec![Method::GET, Method::HEAD, Method::PATCH]
        );
        assert!(table.methods_for("/api/v1/offices/RM/extra").is_empty());
        assert!(table.methods_for("/nope").is_empty());
        // A placeholder takes one segment, never an empty one, and a trailing slash is another
        // address.
        assert!(table.methods_for("/api/v1/offices/").is_empty());
        assert!(table.methods_for("/api/v1/staff/").is_empty());
        assert!(table.methods_for("/api/v1//RM").is_empty());
    }

    #[test]
    fn a_literal_segment_is_a_resource_of_its_own() {
        let doc = serde_json::json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/api/v1/slots/{id}": {"get": {"responses": {}}, "delete": {"responses": {}}},
                "/api/v1/slots/publish": {"post": {"responses": {}}}
            }
        });
        let table = RouteTable::from_document(&doc);
        assert_eq!(
            table.methods_for("/api/v1/slots/publish"),
            vec![Method::POST]
        );
        assert_eq!(
            table.methods_for("/api/v1/slots/42"),
            vec![Method::GET, Method::HEAD, Method::DELETE]
        );
    }
}
