//! What a booking looks like to whoever asks: the applicant who just booked, the applicant
//! managing the visit, and the desk.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::Details;
use crate::domain::{
    booking::{Channel, Status},
    catalogue::{DocumentLists, Texts, pick},
    ids::{CalendarId, SlotId, StaffId},
    time::{LocalTime, local},
};

/// What an applicant (or the desk) gets back once booked.
#[derive(Serialize, ToSchema)]
pub struct BookingConfirmation {
    /// Show it at the desk; quote it when calling the office.
    #[schema(example = "K7P3-Q9XD")]
    pub reference: String,
    /// Keep it secret: with the reference it views, cancels and moves the booking
    /// (`X-Booking-Token` header). It is not stored and cannot be shown again.
    pub manage_token: String,
    pub status: Status,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    #[schema(example = "RM")]
    pub office: String,
    pub office_name: String,
    pub address: String,
    #[schema(example = "Europe/Rome")]
    pub timezone: String,
    #[schema(example = "document_delivery")]
    pub service: String,
    /// The service's name in the booking's language.
    pub service_name: String,
    /// What to bring, in the booking's language.
    pub documents: Vec<String>,
    pub case_number: String,
    pub channel: Channel,
    /// Made by staff of an office in preview: a rehearsal, not a real appointment.
    pub is_test: bool,
}

impl BookingConfirmation {
    pub fn new(details: &Details, manage_token: String) -> BookingConfirmation {
        let zone = details.office.details.timezone;
        let texts = &details.service.appointment_type.texts;
        let language = details.booking.language.as_str();
        BookingConfirmation {
            reference: details.booking.reference.to_string(),
            manage_token,
            status: details.booking.status,
            starts_at: local(details.slot.time.starts_at, zone),
            ends_at: local(details.slot.time.ends_at, zone),
            office: details.office.code.to_string(),
            office_name: details.office.details.name.clone(),
            address: format!(
                "{}, {}",
                details.office.details.address, details.office.details.city
            ),
            timezone: zone.name().to_owned(),
            service: details.service.appointment_type.code.to_string(),
            service_name: pick(&texts.names, language).cloned().unwrap_or_default(),
            documents: pick(&texts.documents, language)
                .cloned()
                .unwrap_or_default(),
            case_number: details.booking.case_number.clone(),
            channel: details.booking.channel,
            is_test: details.booking.is_test,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OfficeSummary {
    pub code: String,
    pub name: String,
    pub address: String,
    pub city: String,
    pub timezone: String,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceSummary {
    pub code: String,
    #[schema(schema_with = crate::domain::schema::texts_view)]
    pub names: Texts,
    #[schema(schema_with = crate::domain::schema::documents_view)]
    pub documents: DocumentLists,
    pub duration_minutes: i32,
}

/// A booking as its applicant sees it.
#[derive(Serialize, ToSchema)]
pub struct BookingView {
    pub reference: String,
    pub status: Status,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    pub office: OfficeSummary,
    pub service: ServiceSummary,
    pub case_number: String,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub language: String,
    pub channel: Channel,
    pub is_test: bool,
    /// Until when it can still be cancelled or moved online.
    pub changeable_until: LocalTime,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// `applicant` or `office`.
    pub cancelled_by: Option<String>,
    /// The office's reason, when it cancelled.
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Where the service asks applicants to reconfirm: the visit is released unless
    /// reconfirmed (`POST /api/v1/bookings/{reference}/reconfirm`) before this.
    pub reconfirm_by: Option<LocalTime>,
    /// When the applicant was asked to reconfirm, and when they did.
    pub reconfirm_asked_at: Option<DateTime<Utc>>,
    pub reconfirmed_at: Option<DateTime<Utc>>,
}

impl BookingView {
    pub fn new(details: &Details) -> BookingView {
        let zone = details.office.details.timezone;
        let booking = &details.booking;
        let cutoff = Duration::hours(i64::from(details.service.settings.change_cutoff_hours));
        BookingView {
            reference: booking.reference.to_string(),
            status: booking.status,
            starts_at: local(details.slot.time.starts_at, zone),
            ends_at: local(details.slot.time.ends_at, zone),
            office: OfficeSummary {
                code: details.office.code.to_string(),
                name: details.office.details.name.clone(),
                address: details.office.details.address.clone(),
                city: details.office.details.city.clone(),
                timezone: zone.name().to_owned(),
            },
            service: ServiceSummary {
                code: details.service.appointment_type.code.to_string(),
                names: details.service.appointment_type.texts.names.clone(),
                documents: details.service.appointment_type.texts.documents.clone(),
                duration_minutes: details.service.duration_minutes(),
            },
            case_number: booking.case_number.clone(),
            full_name: booking.full_name.clone(),
            email: booking.email.clone(),
            phone: booking.phone.clone(),
            language: booking.language.to_string(),
            channel: booking.channel,
            is_test: booking.is_test,
            changeable_until: local(details.slot.time.starts_at - cutoff, zone),
            cancelled_at: booking.cancelled_at,
            cancelled_by: booking.cancelled_by.clone(),
            cancel_reason: booking.cancel_reason.clone(),
            created_at: booking.created_at,
            reconfirm_by: details
                .service
                .settings
                .reconfirmation
                .map(|rule| local(rule.releases_at(details.slot.time.starts_at), zone)),
            reconfirm_asked_at: booking.reconfirm_asked_at,
            reconfirmed_at: booking.reconfirmed_at,
        }
    }
}

/// A booking as the desk sees it.
#[derive(Serialize, ToSchema)]
pub struct StaffBookingView {
    pub reference: String,
    pub status: Status,
    /// The local day of the visit.
    pub date: NaiveDate,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    #[schema(value_type = i64)]
    pub slot_id: SlotId,
    #[schema(value_type = i64)]
    pub calendar_id: CalendarId,
    pub service: String,
    pub case_number: String,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub language: String,
    pub channel: Channel,
    pub is_test: bool,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The accredited intermediary (account id) who booked for the applicant.
    #[schema(value_type = Option<i64>)]
    pub intermediary_id: Option<StaffId>,
}

impl StaffBookingView {
    pub fn new(details: &Details) -> StaffBookingView {
        let zone = details.office.details.timezone;
        let booking = &details.booking;
        StaffBookingView {
            reference: booking.reference.to_string(),
            status: booking.status,
            date: details.slot.time.local_date,
            starts_at: local(details.slot.time.starts_at, zone),
            ends_at: local(details.slot.time.ends_at, zone),
            slot_id: details.slot.id,
            calendar_id: details.slot.calendar_id,
            service: details.service.appointment_type.code.to_string(),
            case_number: booking.case_number.clone(),
            full_name: booking.full_name.clone(),
            email: booking.email.clone(),
            phone: booking.phone.clone(),
            language: booking.language.to_string(),
            channel: booking.channel,
            is_test: booking.is_test,
            checked_in_at: booking.checked_in_at,
            cancelled_at: booking.cancelled_at,
            cancelled_by: booking.cancelled_by.clone(),
            cancel_reason: booking.cancel_reason.clone(),
            created_at: booking.created_at,
            intermediary_id: booking.intermediary_id,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Agenda {
    pub office: String,
    pub date: NaiveDate,
    pub timezone: String,
    /// The day's bookings (cancelled ones left out), by time.
    pub bookings: Vec<StaffBookingView>,
}

/// A booking as the audit log records it: what was done to which booking, never who booked it
/// (the booking holds that, for as long as retention keeps it, and an erasure reaches it).
#[derive(Serialize)]
pub struct BookingAudit<'a> {
    pub reference: &'a str,
    pub status: Status,
    pub starts_at: &'a LocalTime,
    pub slot_id: SlotId,
    pub service: &'a str,
    pub channel: Channel,
    pub is_test: bool,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<&'a str>,
    pub intermediary_id: Option<StaffId>,
}

impl StaffBookingView {
    /// This booking as the audit log records it.
    pub fn audited(&self) -> BookingAudit<'_> {
        BookingAudit {
            reference: &self.reference,
            status: self.status,
            starts_at: &self.starts_at,
            slot_id: self.slot_id,
            service: &self.service,
            channel: self.channel,
            is_test: self.is_test,
            checked_in_at: self.checked_in_at,
            cancelled_at: self.cancelled_at,
            cancelled_by: self.cancelled_by.as_deref(),
            intermediary_id: self.intermediary_id,
        }
    }
}
