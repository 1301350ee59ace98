//! What applicants can book: the availability of a public office's service, from the offer an
//! instance keeps in memory ([`Offer`]) or from the database, and the answer as JSON.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    offer::{Kept, Offer},
    scope::visible_office,
    slots::{SlotError, SlotFailure, day_range, office_service},
};
use crate::{
    domain::{
        FieldErrors, Parsed,
        days::{Day, end_of_day, start_of_day, today},
        ids::SlotId,
        office::OfficeCode,
        staff::Actor,
        time::{LocalTime, local},
    },
    error::Error,
    store::{DbConnection, Store, services, slots},
};

/// What applicants ask to see.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// Appointment type
    #[param(value_type = crate::domain::schema::TypeCodeText)]
    pub service: String,
    /// First local day (default today)
    #[param(value_type = Option<NaiveDate>)]
    pub from: Option<Day>,
    /// Last local day (default four weeks on; at most 92 days)
    #[param(value_type = Option<NaiveDate>)]
    pub to: Option<Day>,
}

#[derive(Serialize, ToSchema)]
pub struct AvailableSlot {
    #[schema(value_type = i64)]
    pub id: SlotId,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    /// Seats an applicant can book.
    pub available: i32,
    /// When the seats go on sale, when that is still to come: listed, not yet bookable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opens_at: Option<LocalTime>,
}

#[derive(Serialize, ToSchema)]
pub struct AvailableDay {
    pub date: NaiveDate,
    pub slots: Vec<AvailableSlot>,
}

#[derive(Serialize, ToSchema)]
pub struct Availability {
    #[schema(example = "RM")]
    pub office: String,
    #[schema(example = "document_delivery")]
    pub service: String,
    #[schema(example = "Europe/Rome")]
    pub timezone: String,
    /// Only days with at least one seat.
    pub days: Vec<AvailableDay>,
    /// When the service's next seats go on sale, if some are published to open later.
    pub next_seats_open_at: Option<LocalTime>,
}

impl Availability {
    /// The answer as JSON, byte for byte what serde_json writes of it (a test holds them
    /// together), written straight into one buffer: through serde every key and every time is
    /// scanned for characters to escape, which was a quarter of the server's time answering
    /// availability.
    pub fn to_json(&self) -> Vec<u8> {
        // About 130 bytes a slot and 40 a day, so the buffer seldom grows.
        let slots: usize = self.days.iter().map(|day| 40 + 130 * day.slots.len()).sum();
        let mut out = Vec::with_capacity(160 + slots);
        out.extend_from_slice(b"{\"office\":");
        write_json_string(&mut out, &self.office);
        out.extend_from_slice(b",\"service\":");
        write_json_string(&mut out, &self.service);
        out.extend_from_slice(b",\"timezone\":");
        write_json_string(&mut out, &self.timezone);
        out.extend_from_slice(b",\"days\":[");
        for (index, day) in self.days.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"date\":");
            write_json_date(&mut out, day.date);
            out.extend_from_slice(b",\"slots\":[");
            for (index, slot) in day.slots.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"id\":");
                out.extend_from_slice(itoa::Buffer::new().format(slot.id.get()).as_bytes());
                out.extend_from_slice(b",\"starts_at\":");
                slot.starts_at.write_json(&mut out);
                out.extend_from_slice(b",\"ends_at\":");
                slot.ends_at.write_json(&mut out);
                out.extend_from_slice(b",\"available\":");
                out.extend_from_slice(itoa::Buffer::new().format(slot.available).as_bytes());
                if let Some(opens_at) = &slot.opens_at {
                    out.extend_from_slice(b",\"opens_at\":");
                    opens_at.write_json(&mut out);
                }
                out.push(b'}');
            }
            out.extend_from_slice(b"]}");
        }
        out.extend_from_slice(b"],\"next_seats_open_at\":");
        match &self.next_seats_open_at {
            Some(at) => at.write_json(&mut out),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
        out
    }
}

/// A string as serde_json writes it, escaped where JSON needs it.
fn write_json_string(out: &mut Vec<u8>, text: &str) {
    // Writing into a vector cannot fail, and a string always serializes.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// A day as chrono's `Serialize` writes it, `2027-09-13`: its `Display`, which needs no escaping.
fn write_json_date(out: &mut Vec<u8>, date: NaiveDate) {
    use std::io::Write as _;
    out.push(b'"');
    // Writing into a vector cannot fail.
    let _ = write!(out, "{date}");
    out.push(b'"');
}

/// What applicants can book: the slots of one service with free seats, by local day. Slots
/// inside the service's minimum notice or beyond its booking horizon are not offered.
///
/// The busiest read of all: a public office's offer is kept in memory ([`Offer`]) and read
/// again only when the database says the office changed.
pub async fn availability(
    store: &Store,
    offer: &Offer,
    viewer: Option<Actor>,
    code: OfficeCode,
    query: Parsed<AvailabilityQuery>,
    now: DateTime<Utc>,
) -> Result<Availability, SlotError> {
    let (query, errors) = query.into_parts();
    if let Some(kept) = offer.kept(store.changes(), &code, &query.service) {
        return kept.availability(&query, errors, now);
    }
    let _turn = offer.turn_to_fill().await;
    // The turn before may have read it.
    if let Some(kept) = offer.current(store.changes(), &code, &query.service) {
        return kept.availability(&query, errors, now);
    }
    let (shared, offer) = (store.clone(), offer.clone());
    store
        .read(move |conn| {
            let office = visible_office(conn, viewer.as_ref(), &code)?;
            let service = office_service(conn, office.id, &query.service)?
                .filter(|service| service.active && office.stage.is_public());
            let Some(service) = service else {
                // A staff preview (never kept, never shown to the public) or a service the
                // office does not offer: answered, or refused, from the database.
                return Ok(offered(conn, &office, &query, errors, now)?.1);
            };
            let Some(kept) = Kept::read(conn, shared.changes(), office.clone(), service, now)?
            else {
                return Ok(offered(conn, &office, &query, errors, now)?.1);
            };
            let availability = kept.availability(&query, errors, now);
            offer.keep(code, &query.service, kept);
            availability
        })
        .await
}

/// A public office's service and what applicants can book of it: what an applicant's page
/// shows to choose a time.
pub struct ServiceTimes {
    pub office: crate::use_cases::offices::OfficeView,
    pub service: crate::use_cases::services::PublicServiceView,
    pub availability: Availability,
    /// The service's draws not closed yet: their times are shared out by lot.
    pub draws: Vec<OpenDraw>,
}

/// A draw that takes entries now or soon.
#[derive(Serialize)]
pub struct OpenDraw {
    pub id: crate::domain::ids::DrawId,
    pub opens_at: LocalTime,
    pub closes_at: LocalTime,
    /// Entries are taken now (else from `opens_at`).
    pub open: bool,
}

pub async fn service_times(
    store: &Store,
    code: OfficeCode,
    query: Parsed<AvailabilityQuery>,
    now: DateTime<Utc>,
) -> Result<ServiceTimes, SlotError> {
    store
        .read(move |conn| {
            let office = visible_office(conn, None, &code)?;
            let (query, errors) = query.into_parts();
            let (rules, availability) = offered(conn, &office, &query, errors, now)?;
            let service = services::find_by_id(conn, office.id, rules.id)?
                .ok_or_else(|| Error::vanished(format!("service {}", rules.id)))?;
            let zone = office.details.timezone;
            let draws = crate::store::lottery::draws_of_office(conn, office.id, now, 20)?
                .into_iter()
                .filter(|draw| draw.office_service_id == service.id && !draw.is_drawn())
                .map(|draw| OpenDraw {
                    id: draw.id,
                    opens_at: local(draw.opens_at, zone),
                    closes_at: local(draw.closes_at, zone),
                    open: draw.opens_at <= now,
                })
                .collect();
            Ok(ServiceTimes {
                office: (&office).into(),
                service: (&service).into(),
                availability,
                draws,
            })
        })
        .await
}

/// The service `query` names, if the office offers it, and its bookable slots, read from the
/// database.
fn offered(
    conn: &mut DbConnection,
    office: &crate::store::offices::Office,
    query: &AvailabilityQuery,
    mut errors: FieldErrors,
    now: DateTime<Utc>,
) -> Result<(services::Rules, Availability), SlotError> {
    let zone = office.details.timezone;
    let (from, to) = day_range(&mut errors, query.from, query.to, today(zone, now), 27, 92);
    errors.or_value(())?;
    let service = office_service(conn, office.id, &query.service)?
        .filter(|service| service.active)
        .ok_or(SlotFailure::ServiceNotOffered)?;
    let found = match bookable_window(zone, &service.settings, from, to, now) {
        Some((start, end)) => slots::web_bookable(conn, office.id, service.id, start, end)?,
        None => Vec::new(),
    };
    let next = crate::store::slots::next_opening(conn, office.id, Some(service.id), now)?;
    let slots = found.iter().map(|slot| OfferedSlot::of(slot, zone));
    let availability = availability_of(office, &query.service, slots, next, now);
    Ok((service, availability))
}

/// The instants `[start, end)` in which the service's slots are offered, for the local days
/// `from..=to`: none inside its minimum notice, none beyond its booking horizon.
pub(super) fn bookable_window(
    zone: Tz,
    settings: &crate::domain::service::ServiceSettings,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let earliest = now + Duration::hours(i64::from(settings.min_notice_hours));
    let latest = now + Duration::days(i64::from(settings.horizon_days));
    let start = start_of_day(zone, from).max(earliest);
    let end = end_of_day(zone, to).min(latest);
    (start < end).then_some((start, end))
}

/// A slot with seats the web can book, as an applicant is shown it.
pub(super) struct OfferedSlot {
    pub id: SlotId,
    pub local_date: NaiveDate,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    pub available: i32,
    pub opens_at: Option<DateTime<Utc>>,
}

impl OfferedSlot {
    pub(super) fn of(slot: &slots::Bookable, zone: Tz) -> OfferedSlot {
        OfferedSlot {
            id: slot.id,
            local_date: slot.time.local_date,
            starts_at: local(slot.time.starts_at, zone),
            ends_at: local(slot.time.ends_at, zone),
            available: slot.seats.web_available(),
            opens_at: slot.opens_at,
        }
    }
}

/// The answer: `slots` (in time order) by local day, on the office's clock.
pub(super) fn availability_of(
    office: &crate::store::offices::Office,
    service: &str,
    slots: impl Iterator<Item = OfferedSlot>,
    next_opening: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Availability {
    let zone = office.details.timezone;
    let mut days: Vec<AvailableDay> = Vec::new();
    for slot in slots {
        let available = AvailableSlot {
            id: slot.id,
            starts_at: slot.starts_at,
            ends_at: slot.ends_at,
            available: slot.available,
            opens_at: slot
                .opens_at
                .filter(|opens_at| *opens_at > now)
                .map(|opens_at| local(opens_at, zone)),
        };
        match days.last_mut() {
            Some(day) if day.date == slot.local_date => day.slots.push(available),
            _ => days.push(AvailableDay {
                date: slot.local_date,
                slots: vec![available],
            }),
        }
    }
    Availability {
        next_seats_open_at: next_opening.map(|at| local(at, zone)),
        office: office.code.to_string(),
        service: service.trim().to_owned(),
        timezone: zone.name().to_owned(),
        days,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::{ids::SlotId, time::local};

    #[test]
    fn an_answer_written_by_hand_is_what_serde_writes() {
        let rome = chrono_tz::Europe::Rome;
        let at = |day: u32, hour: u32| Utc.with_ymd_and_hms(2027, 3, day, hour, 0, 0).unwrap();
        let slot = |id: i64, day: u32, hour: u32, opens: Option<DateTime<Utc>>| AvailableSlot {
            id: SlotId::new(id),
            starts_at: local(at(day, hour), rome),
            ends_at: local(at(day, hour + 1), rome),
            available: 3,
            opens_at: opens.map(|opens| local(opens, rome)),
        };
        let date = |day: u32| NaiveDate::from_ymd_opt(2027, 3, day).unwrap();
        let answers = [
            Availability {
                office: "RM".into(),
                service: "document_delivery".into(),
                timezone: "Europe/Rome".into(),
                days: vec![
                    AvailableDay {
                        // The spring change: the second slot reads +02:00.
                        date: date(28),
                        slots: vec![slot(1, 28, 0, None), slot(9_007_199_254, 28, 8, None)],
                    },
                    AvailableDay {
                        date: date(29),
                        slots: vec![slot(12, 29, 7, Some(at(20, 10)))],
                    },
                ],
                next_seats_open_at: Some(local(at(20, 10), chrono_tz::America::St_Johns)),
            },
            Availability {
                office: "Q\"\\\u{1}è".into(),
                service: "a\nb".into(),
                timezone: "Asia/Kolkata".into(),
                days: vec![AvailableDay {
                    date: NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap(),
                    // Off the whole second: chrono's own form.
                    slots: vec![AvailableSlot {
                        id: SlotId::new(-1),
                        starts_at: local(at(1, 9) + Duration::milliseconds(250), rome),
                        ends_at: local(at(1, 10), chrono_tz::Asia::Kolkata),
                        available: -2,
                        opens_at: None,
                    }],
                }],
                next_seats_open_at: None,
            },
            Availability {
                office: String::new(),
                service: String::new(),
                timezone: String::new(),
                days: vec![],
                next_seats_open_at: None,
            },
        ];
        for answer in answers {
            assert_eq!(
                String::from_utf8(answer.to_json()).unwrap(),
                serde_json::to_string(&answer).unwrap()
            );
        }
    }
}
