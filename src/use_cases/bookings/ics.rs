//! A booking as an RFC 5545 calendar event: one UID per booking for its whole life, SEQUENCE
//! raised on every change, and a cancelled booking as METHOD:CANCEL.

use icalendar::{Calendar, Component, Event, EventLike, EventStatus};

use super::Details;
use crate::domain::{booking::Status, catalogue::pick};

/// How the calendar is meant: a file to keep (a download), or an invitation update (mail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Publish,
    Request,
}

/// The UID calendar programs use to recognise the same booking across updates.
pub fn uid(details: &Details) -> String {
    format!(
        "{}@sportello.{}",
        details.booking.reference,
        details.office.code.as_str().to_lowercase()
    )
}

pub fn calendar(details: &Details, method: Method) -> String {
    let booking = &details.booking;
    let texts = &details.service.appointment_type.texts;
    let language = booking.language.as_str();
    let service_name = pick(&texts.names, language).cloned().unwrap_or_default();
    let office = &details.office.details;
    let documents = pick(&texts.documents, language)
        .cloned()
        .unwrap_or_default();
    let mut description = format!(
        "{service_name}\nRef. {}\n{}",
        booking.reference, booking.case_number
    );
    if !documents.is_empty() {
        description.push('\n');
        for document in &documents {
            description.push_str(&format!("\n- {document}"));
        }
    }
    let cancelled = booking.status == Status::Cancelled;
    let event = Event::new()
        .uid(&uid(details))
        .sequence(u32::try_from(booking.sequence).unwrap_or(0))
        .timestamp(booking.updated_at)
        .starts(details.slot.time.starts_at)
        .ends(details.slot.time.ends_at)
        .summary(&format!("{service_name} – {}", office.name))
        .location(&format!(
            "{}, {}, {}",
            office.name, office.address, office.city
        ))
        .description(&description)
        .status(if cancelled {
            EventStatus::Cancelled
        } else {
            EventStatus::Confirmed
        })
        .done();
    let method = match (cancelled, method) {
        (true, Method::Request) => "CANCEL",
        (false, Method::Request) => "REQUEST",
        (_, Method::Publish) => "PUBLISH",
    };
    Calendar::new()
        .append_property(("METHOD", method))
        .push(event)
        .done()
        .to_string()
}
