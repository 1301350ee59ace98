//! The frame of every page: who is reading (their language, their CSRF cookie), how a page is
//! rendered and sent, and how a refusal reads to an applicant.

use std::time::Duration;

use actix_web::{
    FromRequest, HttpRequest, HttpResponse,
    cookie::{Cookie, SameSite},
    dev::Payload,
    http::{StatusCode, header},
    web,
};
use futures_util::future::{Ready, ready};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::{Pages, i18n};
use crate::{
    auth::csrf::CsrfKey,
    domain::{FieldErrors, language::Language},
    error::{Answer, Explain},
    http::AppState,
};

const LANG_COOKIE: &str = "sportello_lang";
const CSRF_COOKIE: &str = "sportello_csrf";

/// The languages of the switch, each named in itself.
const LANGUAGE_NAMES: [(&str, &str); 8] = [
    ("it", "Italiano"),
    ("en", "English"),
    ("fr", "Français"),
    ("es", "Español"),
    ("ar", "العربية"),
    ("sq", "Shqip"),
    ("uk", "Українська"),
    ("zh", "中文"),
];

/// Who is reading a page: the language they read, and their CSRF cookie.
pub struct Visitor {
    state: web::Data<AppState>,
    pub lang: Language,
    /// The visitor chose `lang` with the switch: it is kept in a cookie, and wins over a
    /// booking's own language.
    chosen: bool,
    /// The CSRF cookie the browser sent, or a new one this answer sets.
    csrf_cookie: String,
    new_csrf_cookie: bool,
    /// Over HTTPS (directly or behind a proxy that says so): cookies are `Secure`.
    secure: bool,
    path: String,
    query: Vec<(String, String)>,
}

impl FromRequest for Visitor {
    type Error = actix_web::Error;
    type Future = Ready<Result<Visitor, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
            return ready(Err(actix_web::error::ErrorInternalServerError(
                "the application state is missing",
            )));
        };
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(req.query_string().as_bytes())
                .into_owned()
                .collect();
        let switch = query
            .iter()
            .find(|(name, _)| name == "lang")
            .map(|(_, value)| value.as_str());
        let cookie = req.cookie(LANG_COOKIE);
        let accept = req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok());
        let lang = i18n::negotiate(switch, cookie.as_ref().map(Cookie::value), accept);
        let chosen = switch.is_some_and(|code| code == lang.as_str())
            || cookie.is_some_and(|cookie| cookie.value() == lang.as_str());
        let sent = req
            .cookie(CSRF_COOKIE)
            .map(|cookie| cookie.value().to_owned())
            .filter(|value| CsrfKey::is_cookie(value));
        let new_csrf_cookie = sent.is_none();
        ready(Ok(Visitor {
            state,
            lang,
            chosen,
            csrf_cookie: sent.unwrap_or_else(CsrfKey::new_cookie),
            new_csrf_cookie,
            secure: req.connection_info().scheme() == "https",
            path: req.path().to_owned(),
            query,
        }))
    }
}

/// Why a posted form was not taken.
pub enum FormRefusal {
    /// Not a form of ours: the body does not read.
    Unreadable,
    /// Its CSRF field was not made for this browser's cookie: a page too old, or another
    /// site's form.
    Forged,
}

/// A page's answer to a form that did not go through: what to say at the top, and next to
/// which field (the summary at the top links to each of those too).
#[derive(Default, Serialize)]
pub struct Problems {
    /// What is not about one field, such as a refusal.
    pub summary: Vec<String>,
    /// Field name → message, shown next to the field.
    pub fields: std::collections::BTreeMap<String, String>,
    /// The same, in the order of the form, for the summary's links.
    pub in_order: Vec<(String, String)>,
}

impl Problems {
    pub fn is_empty(&self) -> bool {
        self.summary.is_empty() && self.fields.is_empty()
    }

    /// The status of a form page shown with these problems: 422 when there are some.
    pub fn status(&self) -> StatusCode {
        match self.is_empty() {
            true => StatusCode::OK,
            false => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

impl Visitor {
    pub fn pages(&self) -> &Pages {
        &self.state.pages
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The language a page about something written in `own` is shown in: the visitor's choice
    /// if they made one, else `own` (a booking's, an invitation's).
    pub fn prefer(&mut self, own: &str) {
        if !self.chosen
            && let Ok(lang) = Language::parse_supported(own)
        {
            self.lang = lang;
        }
    }

    /// A text of the visitor's language.
    pub fn text(&self, key: &str, args: &[(&str, String)]) -> String {
        self.pages()
            .catalogues()
            .text(self.lang.as_str(), key, args)
    }

    /// The query parameter `name`, when it has a value.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// A posted form, if it reads and its CSRF field was made for this visitor's cookie.
    pub fn genuine_form<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, FormRefusal> {
        #[derive(Deserialize)]
        struct Csrf {
            #[serde(default)]
            csrf: String,
        }
        let Csrf { csrf } =
            serde_urlencoded::from_bytes(body).map_err(|_| FormRefusal::Unreadable)?;
        if self.new_csrf_cookie || !self.pages().csrf.matches(&self.csrf_cookie, &csrf) {
            return Err(FormRefusal::Forged);
        }
        serde_urlencoded::from_bytes(body).map_err(|_| FormRefusal::Unreadable)
    }

    /// The page for a form that was not taken.
    pub fn refuse_form(&self, refusal: FormRefusal) -> HttpResponse {
        match refusal {
            FormRefusal::Forged => self.render_as(
                StatusCode::FORBIDDEN,
                "error.html",
                context! {
                    title => self.text("error-form-expired", &[]),
                    message => self.text("error-form-expired-detail", &[]),
                },
            ),
            FormRefusal::Unreadable => self.render_as(
                StatusCode::BAD_REQUEST,
                "error.html",
                context! { title => self.text("error-invalid", &[]) },
            ),
        }
    }

    /// The switch's links: this page in every language.
    fn language_links(&self) -> Vec<Value> {
        LANGUAGE_NAMES
            .iter()
            .map(|(code, name)| {
                let mut query: Vec<(&str, &str)> = self
                    .query
                    .iter()
                    .filter(|(key, _)| key != "lang")
                    .map(|(key, value)| (key.as_str(), value.as_str()))
                    .collect();
                query.push(("lang", code));
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(query)
                    .finish();
                context! {
                    code => *code,
                    name => *name,
                    href => format!("{}?{query}", self.path),
                    current => *code == self.lang.as_str(),
                }
            })
            .collect()
    }

    /// `template` rendered with `page` (merged into what every page has), as a 200.
    pub fn render(&self, template: &str, page: Value) -> HttpResponse {
        self.render_as(StatusCode::OK, template, page)
    }

    /// `template` rendered with `page`, answered with `status`.
    pub fn render_as(&self, status: StatusCode, template: &str, page: Value) -> HttpResponse {
        let lang = self.lang.as_str();
        let frame = context! {
            lang => lang,
            dir => if i18n::is_right_to_left(lang) { "rtl" } else { "ltr" },
            csrf => self.pages().csrf.field_for(&self.csrf_cookie),
            languages => self.language_links(),
            ..page
        };
        let rendered = self
            .pages()
            .templates
            .get_template(template)
            .and_then(|template| template.render(frame));
        match rendered {
            Ok(html) => self.send(status, html),
            Err(error) => {
                tracing::error!(
                    error = format!("{error:#}"),
                    template,
                    "a page did not render"
                );
                self.send(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    self.text("error-internal", &[]),
                )
            }
        }
    }

    fn send(&self, status: StatusCode, html: String) -> HttpResponse {
        let mut response = HttpResponse::build(status);
        response
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CONTENT_LANGUAGE, self.lang.as_str()))
            // Pages carry a CSRF field and often a manage token: no cache may keep them.
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if self.new_csrf_cookie {
            response.cookie(self.cookie(CSRF_COOKIE, self.csrf_cookie.clone(), true));
        }
        if self.query("lang") == Some(self.lang.as_str()) {
            response.cookie(self.cookie(LANG_COOKIE, self.lang.to_string(), false));
        }
        response.body(html)
    }

    fn cookie(&self, name: &'static str, value: String, http_only: bool) -> Cookie<'static> {
        Cookie::build(name, value)
            .path("/")
            .http_only(http_only)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::days(365))
            .finish()
    }

    /// The booking page's address (where the mail's link leads), with its token, and what just
    /// happened (`done`: `booked`, `moved`, …) for the page to say.
    pub fn booking_page(&self, reference: &str, token: &str, done: Option<&str>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("token", token);
        if let Some(done) = done {
            query.append_pair(done, "1");
        }
        let prefix = self.pages().prefix();
        format!("{prefix}/bookings/{reference}?{}", query.finish())
    }

    /// A redirect after a form went through (303: the browser GETs `location`).
    pub fn see_other(&self, location: String) -> HttpResponse {
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish()
    }

    /// A page for a refusal that leaves the visitor nothing to correct on the page they were
    /// on: not found, too many requests, busy, or our own failure.
    pub fn failure(&self, failure: impl Explain) -> HttpResponse {
        self.answer(failure.answer())
    }

    pub fn answer(&self, answer: Answer) -> HttpResponse {
        let (status, title, message, retry) = match answer {
            Answer::NotFound(_) => (
                StatusCode::NOT_FOUND,
                "error-not-found",
                self.text("error-not-found-detail", &[]),
                None,
            ),
            Answer::Forbidden(_) | Answer::Unauthorized(_) => (
                StatusCode::FORBIDDEN,
                "error-forbidden",
                String::new(),
                None,
            ),
            Answer::Invalid(errors) => {
                let problems = self.problems(errors);
                let fields: Vec<String> = problems.in_order.into_iter().map(|(_, m)| m).collect();
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "error-invalid",
                    fields.join(" "),
                    None,
                )
            }
            Answer::Conflict { code, detail } | Answer::Unprocessable { code, detail } => (
                StatusCode::CONFLICT,
                "error-refused",
                self.refusal(code, &detail),
                None,
            ),
            Answer::TooManyRequests { retry_after, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "error-too-many",
                self.text("error-too-many-detail", &[]),
                Some(retry_after),
            ),
            Answer::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "error-busy",
                self.text("error-busy-detail", &[]),
                Some(Duration::from_secs(5)),
            ),
            Answer::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "a page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "error-internal",
                    self.text("error-internal-detail", &[]),
                    None,
                )
            }
        };
        let mut response = self.render_as(
            status,
            "error.html",
            context! { title => self.text(title, &[]), message },
        );
        if let Some(retry) = retry
            && let Ok(value) = header::HeaderValue::from_str(&retry.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }

    /// A refusal (`slot_full`, `min_notice`, …) in words the applicant can act on; the API's
    /// English detail where the catalogue has no text for it.
    pub fn refusal(&self, code: &str, detail: &str) -> String {
        let key = format!("refusal-{}", code.replace('_', "-"));
        if self.pages().catalogues().has(&key) {
            self.text(&key, &[])
        } else {
            self.text("refusal-other", &[("detail", detail.to_owned())])
        }
    }

    /// A use case's refusal of a form, as the form shows it again: field errors next to their
    /// fields, a refusal at the top; anything else (not found, too many requests, our own
    /// failure) is no problem of the form, and is given back for a page of its own.
    pub fn form_problems(&self, answer: Answer) -> Result<Problems, Answer> {
        match answer {
            Answer::Invalid(errors) => Ok(self.problems(errors)),
            Answer::Conflict { code, detail } | Answer::Unprocessable { code, detail } => {
                Ok(Problems {
                    summary: vec![self.refusal(code, &detail)],
                    ..Problems::default()
                })
            }
            other => Err(other),
        }
    }

    /// Field errors as the form shows them: a message of the visitor's language next to each
    /// field (the domain's English reason where the catalogue has none), and a summary.
    pub fn problems(&self, errors: FieldErrors) -> Problems {
        let mut problems = Problems::default();
        for error in errors.into_vec() {
            let key = format!("invalid-{}", error.field.replace('_', "-"));
            let message = if self.pages().catalogues().has(&key) {
                self.text(&key, &[])
            } else {
                format!("{}: {}", error.field, error.message)
            };
            if !problems.fields.contains_key(&error.field) {
                problems
                    .in_order
                    .push((error.field.clone(), message.clone()));
                problems.fields.insert(error.field, message);
            }
        }
        problems
    }
}

/// Anything serializable as a template value (views, days, times).
pub fn view<T: Serialize + ?Sized>(value: &T) -> Value {
    Value::from(minijinja::value::Serde(value))
}

/// A form field's text, trimmed; `None` when nothing was typed, as an optional field is absent.
pub fn given(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|text| !text.is_empty())
}
