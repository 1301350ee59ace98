//! The applicant's pages: the same use cases as the API, rendered on the server as HTML that
//! works without JavaScript, in the visitor's language.
//!
//! A page handler is as thin as an API handler: it reads the path, the query or the form,
//! checks the form's CSRF field, calls one use case and renders its answer (or its refusal, in
//! words the applicant can act on) with a template. `page.rs` is the frame every page shares
//! (language, CSRF cookie, headers, error pages); `i18n.rs` the catalogues; the templates and
//! catalogues are compiled into the binary.

pub mod i18n;
pub mod page;

mod booking;
mod invitation;
mod lottery;
mod manage;
mod offer;
mod offices;
mod survey;

use std::sync::Arc;

use actix_web::{HttpResponse, http::header, web};
use chrono::{DateTime, NaiveDate};
use minijinja::{AutoEscape, Environment, State, Value, value::Kwargs};

use crate::{auth::csrf::CsrfKey, domain::language::Language};
use i18n::Catalogues;

const TEMPLATES: [(&str, &str); 15] = [
    ("layout.html", include_str!("templates/layout.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("error.html", include_str!("templates/error.html")),
    ("directory.html", include_str!("templates/directory.html")),
    ("office.html", include_str!("templates/office.html")),
    ("times.html", include_str!("templates/times.html")),
    ("book.html", include_str!("templates/book.html")),
    ("booking.html", include_str!("templates/booking.html")),
    ("cancel.html", include_str!("templates/cancel.html")),
    ("move.html", include_str!("templates/move.html")),
    ("invitation.html", include_str!("templates/invitation.html")),
    ("offer.html", include_str!("templates/offer.html")),
    ("draw.html", include_str!("templates/draw.html")),
    ("entered.html", include_str!("templates/entered.html")),
    ("survey.html", include_str!("templates/survey.html")),
];

/// Files the pages load, served from `{prefix}/assets/`: the style sheet, and the ALTCHA
/// widget (MIT, vendored from the `altcha` npm package 3.2.2, `dist/external`, the build for a
/// strict CSP) with its PBKDF2 worker, loaded only where an office asks for proof of work.
const ASSETS: [(&str, &str, &[u8]); 5] = [
    ("site.css", "text/css", include_bytes!("assets/site.css")),
    (
        "altcha.js",
        "text/javascript",
        include_bytes!("assets/altcha.min.js"),
    ),
    (
        "altcha.css",
        "text/css",
        include_bytes!("assets/altcha.css"),
    ),
    (
        "altcha-setup.js",
        "text/javascript",
        include_bytes!("assets/altcha-setup.js"),
    ),
    (
        "altcha-pbkdf2.js",
        "text/javascript",
        include_bytes!("assets/altcha-pbkdf2.js"),
    ),
];

/// A file of [`ASSETS`], with its gzip-compressed body (made once, at start).
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    gzip: web::Bytes,
}

/// What every page handler shares: the templates, the catalogues, the CSRF key, the assets,
/// and where the pages live.
pub struct Pages {
    templates: Environment<'static>,
    assets: Vec<Asset>,
    catalogues: Arc<Catalogues>,
    csrf: CsrfKey,
    /// The path the pages live under: empty for `/`, or such as `/prenota`.
    prefix: String,
}

impl Pages {
    pub fn new(prefix: &str, csrf: CsrfKey) -> anyhow::Result<Pages> {
        let catalogues = Arc::new(Catalogues::load()?);
        // `prenota`, `/prenota/` and `/prenota` are one place; `` and `/` the root.
        let prefix = match prefix.trim_matches('/') {
            "" => String::new(),
            path => format!("/{path}"),
        };
        let mut templates = Environment::new();
        templates.set_formatter(html_formatter);
        for (name, source) in TEMPLATES {
            templates.add_template(name, source)?;
        }
        let words = catalogues.clone();
        templates.add_function("t", move |state: &State, key: &str, args: Kwargs| {
            let args = args
                .args()
                .map(|name| {
                    let value: Value = args.get(name)?;
                    Ok((name, value.to_string()))
                })
                .collect::<Result<Vec<_>, minijinja::Error>>()?;
            Ok::<_, minijinja::Error>(words.text(&lang_of(state), key, &args))
        });
        let words = catalogues.clone();
        templates.add_filter("day", move |state: &State, value: &str| {
            long_day(&words, &lang_of(state), value)
        });
        templates.add_filter("hour", |value: &str| hour(value));
        let at = prefix.clone();
        templates.add_function("url", move |path: &str| format!("{at}{path}"));
        let assets = ASSETS
            .iter()
            .map(|(name, content_type, body)| {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                std::io::Write::write_all(&mut encoder, body)?;
                Ok(Asset {
                    name,
                    content_type,
                    body,
                    gzip: encoder.finish()?.into(),
                })
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Pages {
            templates,
            assets,
            catalogues,
            csrf,
            prefix,
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn catalogues(&self) -> &Catalogues {
        &self.catalogues
    }
}

/// Escapes what HTML needs escaped (`& < > " '`), and leaves `/` alone: minijinja's default
/// also escapes it, which doubles the size of every address on the page for nothing.
fn html_formatter(
    out: &mut minijinja::Output,
    state: &mut State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    match value.as_str() {
        Some(text) if !value.is_safe() && *state.auto_escape() != AutoEscape::None => {
            let mut rest = text;
            while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
                out.write_str(&rest[..at])?;
                out.write_str(match rest.as_bytes()[at] {
                    b'&' => "&amp;",
                    b'<' => "&lt;",
                    b'>' => "&gt;",
                    b'"' => "&quot;",
                    _ => "&#39;",
                })?;
                rest = &rest[at + 1..];
            }
            out.write_str(rest)?;
            Ok(())
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

fn lang_of(state: &State) -> String {
    state
        .lookup("lang")
        .map(|lang| lang.to_string())
        .unwrap_or_else(|| Language::italian().to_string())
}

/// `2026-12-01` (or an RFC 3339 time on that day) as the visitor reads a day: "martedì 1
/// dicembre 2026", "Tuesday 1 December 2026", "2026年12月1日 星期二".
fn long_day(catalogues: &Catalogues, lang: &str, value: &str) -> String {
    use chrono::Datelike;
    let date = NaiveDate::parse_from_str(value.get(..10).unwrap_or(value), "%Y-%m-%d");
    let Ok(date) = date else {
        return value.to_owned();
    };
    let weekday = catalogues.text(
        lang,
        &format!("weekday-{}", date.weekday().number_from_monday()),
        &[],
    );
    let month = catalogues.text(lang, &format!("month-{}", date.month()), &[]);
    catalogues.text(
        lang,
        "date-long",
        &[
            ("weekday", weekday),
            ("day", date.day().to_string()),
            ("month", month),
            ("year", date.year().to_string()),
        ],
    )
}

/// The local clock time of an RFC 3339 time, `09:30`: the office's time, as printed in its
/// offset.
fn hour(value: &str) -> String {
    DateTime::parse_from_rfc3339(value)
        .map(|at| at.format("%H:%M").to_string())
        .unwrap_or_else(|_| value.to_owned())
}

/// The page for an address where there is none, when a browser asks for a page (a GET
/// accepting HTML, outside the API): `None` for everyone else, who get the API's problem.
pub async fn not_found(req: &actix_web::HttpRequest) -> Option<HttpResponse> {
    let accepts_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let page = req.method() == actix_web::http::Method::GET && !req.path().starts_with("/api/");
    if !(accepts_html && page) {
        return None;
    }
    let visitor = <page::Visitor as actix_web::FromRequest>::extract(req)
        .await
        .ok()?;
    Some(visitor.answer(crate::error::Answer::NotFound(String::new())))
}

/// Every page's route, under the configured prefix.
pub fn routes(cfg: &mut web::ServiceConfig, prefix: &str) {
    let at = |path: &str| format!("{prefix}{path}");
    cfg.route(&at("/"), web::get().to(offices::directory))
        .route(&at("/assets/{file}"), web::get().to(asset))
        .route(&at("/offices/{code}"), web::get().to(offices::office))
        .route(
            &at("/offices/{code}/services/{service}"),
            web::get().to(booking::times),
        )
        .route(
            &at("/offices/{code}/services/{service}/book"),
            web::get().to(booking::form),
        )
        .route(
            &at("/offices/{code}/services/{service}/book"),
            web::post().to(booking::submit),
        )
        .route(
            &at("/offices/{code}/draws/{id}"),
            web::get().to(lottery::show),
        )
        .route(
            &at("/offices/{code}/draws/{id}"),
            web::post().to(lottery::enter),
        )
        .route(&at("/bookings/{reference}"), web::get().to(manage::show))
        .route(
            &at("/bookings/{reference}/cancel"),
            web::get().to(manage::confirm_cancel),
        )
        .route(
            &at("/bookings/{reference}/cancel"),
            web::post().to(manage::cancel),
        )
        .route(
            &at("/bookings/{reference}/move"),
            web::get().to(manage::choose_move),
        )
        .route(
            &at("/bookings/{reference}/move"),
            web::post().to(manage::move_visit),
        )
        .route(
            &at("/bookings/{reference}/waitlist"),
            web::post().to(manage::waitlist),
        )
        .route(
            &at("/bookings/{reference}/reconfirm"),
            web::post().to(manage::reconfirm),
        )
        .route(
            &at("/invitations/{reference}"),
            web::get().to(invitation::show),
        )
        .route(
            &at("/invitations/{reference}"),
            web::post().to(invitation::book),
        )
        .route(&at("/waitlist/offers/{id}"), web::get().to(offer::show))
        .route(&at("/waitlist/offers/{id}"), web::post().to(offer::answer))
        .route(&at("/surveys/{id}"), web::get().to(survey::show))
        .route(&at("/surveys/{id}"), web::post().to(survey::answer));
}

/// A file of [`ASSETS`], gzip-compressed for browsers that take it (the widget's script
/// shrinks from 83 KB to under a third). They change only with the binary, so browsers may
/// keep them a day.
async fn asset(
    state: web::Data<crate::http::AppState>,
    req: actix_web::HttpRequest,
    file: web::Path<String>,
) -> HttpResponse {
    let Some(asset) = state.pages.assets.iter().find(|a| a.name == file.as_str()) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found");
    };
    let gzip = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accepted| accepted.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut response = HttpResponse::Ok();
    response
        .content_type(format!("{}; charset=utf-8", asset.content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::VARY, "Accept-Encoding"));
    if gzip {
        response
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(asset.gzip.clone())
    } else {
        response.body(asset.body)
    }
}
