//! Finding an office: the directory of public offices, and an office's page (services, what
//! to bring, opening hours, when the next seats open).

use actix_web::{HttpResponse, web};
use chrono::Utc;
use minijinja::context;
use serde::Serialize;

use super::page::{Visitor, view};
use crate::{
    domain::{catalogue::pick, hours::IntervalInput, office::OfficeCode, service::Eligibility},
    use_cases::{
        offices::{self, OfficeView},
        services::PublicServiceView,
    },
};

/// A service as a page shows it: its texts in the visitor's language.
#[derive(Serialize)]
pub struct ServiceCard {
    pub code: String,
    pub name: String,
    pub description: String,
    pub documents: Vec<String>,
    pub duration_minutes: i32,
    pub invite_only: bool,
    /// Registered cases only: the form asks for the verification code.
    pub registered_only: bool,
    pub lottery: bool,
}

impl ServiceCard {
    pub fn new(service: &PublicServiceView, lang: &str) -> ServiceCard {
        ServiceCard {
            code: service.code.clone(),
            name: pick(&service.names, lang).cloned().unwrap_or_default(),
            description: pick(&service.descriptions, lang)
                .cloned()
                .unwrap_or_default(),
            documents: pick(&service.documents, lang).cloned().unwrap_or_default(),
            duration_minutes: service.duration_minutes,
            invite_only: service.invite_only,
            registered_only: service.eligibility == Eligibility::Registered,
            lottery: service.release_mode == crate::domain::release::ReleaseMode::Lottery,
        }
    }
}

/// A link to the office on OpenStreetMap, when its coordinates are known.
pub fn map_link(office: &OfficeView) -> Option<String> {
    let (lat, lon) = (office.latitude?, office.longitude?);
    Some(format!(
        "https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"
    ))
}

/// Opening hours a row per weekday: `(1, ["09:00–12:30", "14:00–16:00"])`.
fn by_weekday(hours: &[IntervalInput]) -> Vec<(i32, Vec<String>)> {
    let mut days: Vec<(i32, Vec<String>)> = Vec::new();
    for interval in hours {
        let span = format!("{}–{}", interval.opens, interval.closes);
        match days.last_mut() {
            Some((weekday, spans)) if *weekday == interval.weekday => spans.push(span),
            _ => days.push((interval.weekday, vec![span])),
        }
    }
    days
}

/// The offices applicants can book at (pilot and live).
pub async fn directory(visitor: Visitor) -> HttpResponse {
    match offices::directory(&visitor.state().store, None).await {
        Ok(found) => {
            let offices: Vec<_> = found
                .iter()
                .map(|office| context! { map => map_link(office), ..view(office) })
                .collect();
            visitor.render("directory.html", context! { offices })
        }
        Err(failure) => visitor.failure(failure),
    }
}

/// An office's page.
pub async fn office(visitor: Visitor, code: web::Path<OfficeCode>) -> HttpResponse {
    let store = &visitor.state().store;
    match offices::page(store, None, code.into_inner(), Utc::now()).await {
        Ok(page) => {
            let lang = visitor.lang.as_str();
            let services: Vec<_> = page
                .services
                .iter()
                .map(|service| ServiceCard::new(service, lang))
                .collect();
            visitor.render(
                "office.html",
                context! {
                    office => view(&page.office),
                    map => map_link(&page.office),
                    services => view(&services),
                    hours => view(&by_weekday(&page.opening_hours)),
                    next_seats_open_at => view(&page.next_seats_open_at),
                },
            )
        }
        Err(failure) => visitor.failure(failure),
    }
}
