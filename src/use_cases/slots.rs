//! Published slots: the staff view with their counters, and blocking one. What applicants can
//! book is [`super::availability`].

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    audit::Audit,
    scope::{Need, staff_office},
};
use crate::domain::text::parse_line;
use crate::{
    domain::{
        FieldErrors, Parsed,
        audit::Action,
        catalogue::TypeCode,
        days::{Day, days_after, end_of_day, start_of_day, today},
        ids::{CalendarId, OfficeId, SlotId},
        office::OfficeCode,
        staff::Actor,
        time::{LocalTime, local},
    },
    error::{Answer, Error, Explain, Failure},
    store::{
        DbConnection, Store, services,
        slots::{self, Slot},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum SlotFailure {
    #[error("the office has no slot with this id")]
    NoSuchSlot,
    #[error("the office does not offer this service")]
    ServiceNotOffered,
}

impl Explain for SlotFailure {
    fn answer(self) -> Answer {
        Answer::NotFound(match self {
            SlotFailure::NoSuchSlot => "The office has no slot with this id.".into(),
            SlotFailure::ServiceNotOffered => "The office does not offer this service.".into(),
        })
    }
}

impl Failure for SlotFailure {}

pub type SlotError = Error<SlotFailure>;

/// A slot with its counters, as staff see it.
#[derive(Serialize, ToSchema)]
pub struct StaffSlotView {
    #[schema(value_type = i64)]
    pub id: SlotId,
    #[schema(value_type = i64)]
    pub calendar_id: CalendarId,
    /// The local day.
    pub date: NaiveDate,
    pub starts_at: LocalTime,
    pub ends_at: LocalTime,
    /// Seats: the calendar's desks.
    pub capacity: i32,
    /// Seats kept for the desk and phone channel.
    pub held_for_desk: i32,
    pub booked_web: i32,
    pub booked_desk: i32,
    /// Seats given back by a cancellation or a move, on sale again after a cool-down.
    pub cooling: i32,
    /// Seats applicants can still book online.
    pub available_web: i32,
    pub blocked: bool,
    pub block_reason: Option<String>,
    /// When the seats go on public sale (none: on sale since published).
    pub opens_at: Option<LocalTime>,
}

impl StaffSlotView {
    fn new(slot: &Slot, zone: Tz) -> StaffSlotView {
        StaffSlotView {
            id: slot.id,
            calendar_id: slot.calendar_id,
            date: slot.time.local_date,
            starts_at: local(slot.time.starts_at, zone),
            ends_at: local(slot.time.ends_at, zone),
            capacity: slot.seats.capacity,
            held_for_desk: slot.seats.held_for_desk,
            booked_web: slot.seats.booked_web,
            booked_desk: slot.seats.booked_desk,
            cooling: slot.seats.cooling,
            available_web: slot.web_available(),
            blocked: slot.blocked,
            block_reason: slot.block_reason.clone(),
            opens_at: slot.opens_at.map(|opens_at| local(opens_at, zone)),
        }
    }
}

/// Which of the office's slots staff want to see.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotsQuery {
    /// First local day (default today)
    #[param(value_type = Option<NaiveDate>)]
    pub from: Option<Day>,
    /// Last local day (default a week on; at most 62 days)
    #[param(value_type = Option<NaiveDate>)]
    pub to: Option<Day>,
    /// Only slots of calendars serving this type
    #[param(value_type = Option<crate::domain::schema::TypeCodeText>)]
    pub service: Option<String>,
}

/// `from`/`to` local days (defaults: `today` and `default_days` later), spanning fewer than
/// `max_days` days.
pub(super) fn day_range(
    errors: &mut FieldErrors,
    from: Option<Day>,
    to: Option<Day>,
    today: NaiveDate,
    default_days: u64,
    max_days: i64,
) -> (NaiveDate, NaiveDate) {
    let from = from.map_or(today, Day::get);
    let to = to.map_or_else(|| days_after(from, default_days), Day::get);
    if to < from {
        errors.add("to", "must not be before from");
    } else if (to - from).num_days() >= max_days {
        errors.add("to", format!("must be within {max_days} days of from"));
    }
    (from, to)
}

/// How the office runs the service `code` names (active or not), if it offers it at all.
pub(super) fn office_service(
    conn: &mut DbConnection,
    office: OfficeId,
    code: &str,
) -> diesel::QueryResult<Option<services::Rules>> {
    match TypeCode::parse(code) {
        Ok(code) => services::rules(conn, office, &code),
        Err(_) => Ok(None),
    }
}

/// All of the office's slots in a range of local days, with their counters, for staff.
pub async fn for_staff(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    query: Parsed<SlotsQuery>,
    now: DateTime<Utc>,
) -> Result<Vec<StaffSlotView>, SlotError> {
    let (query, mut errors) = query.into_parts();
    store
        .read(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let zone = office.details.timezone;
            let today = today(zone, now);
            let (from, to) = day_range(&mut errors, query.from, query.to, today, 6, 62);
            let service_id = match &query.service {
                Some(code) => match office_service(conn, office.id, code)? {
                    Some(service) => Some(service.id),
                    None => {
                        errors.add("service", "the office does not offer this service");
                        None
                    }
                },
                None => None,
            };
            let (from, to) = errors.or_value((start_of_day(zone, from), end_of_day(zone, to)))?;
            let found = slots::for_staff(conn, office.id, from, to, service_id)?;
            Ok(found
                .iter()
                .map(|slot| StaffSlotView::new(slot, zone))
                .collect())
        })
        .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    /// `true` takes the slot off sale (bookings in it stay); `false` puts it back.
    pub blocked: bool,
    /// Why, when blocking (shown to staff).
    #[schema(schema_with = crate::domain::schema::optional_line_200)]
    pub reason: Option<String>,
}

/// Taking a slot off sale, with the reason staff see, or putting it back.
pub enum Blocking {
    Block { reason: String },
    Unblock,
}

impl BlockRequest {
    /// `parse`'s rule between the fields, as JSON Schema states it (`if`/`then`), so the
    /// document does not call `{"blocked": true}` alone valid: blocking needs a reason. One
    /// keyword (`allOf`), so the document's text does not depend on a map's order.
    pub fn schema_conditions() -> (String, serde_json::Value) {
        let blocking_needs_a_reason = serde_json::json!({
            "if": {"properties": {"blocked": {"const": true}}, "required": ["blocked"]},
            "then": {"properties": {"reason": {"type": "string"}}, "required": ["reason"]},
        });
        (
            "allOf".to_owned(),
            serde_json::json!([blocking_needs_a_reason]),
        )
    }

    pub fn parse(&self) -> Result<Blocking, FieldErrors> {
        match (self.blocked, self.reason.as_deref()) {
            (true, Some(reason)) => parse_line(reason, 200)
                .map(|reason| Blocking::Block { reason })
                .map_err(|reason| FieldErrors::single("reason", reason.message())),
            (true, None) => Err(FieldErrors::single(
                "reason",
                "is required when blocking a slot",
            )),
            (false, None) => Ok(Blocking::Unblock),
            // A reason sent with an unblocking is not kept, but it must still be text.
            (false, Some(reason)) => parse_line(reason, 200)
                .map(|_| Blocking::Unblock)
                .map_err(|reason| FieldErrors::single("reason", reason.message())),
        }
    }
}

/// Blocks or unblocks one slot. A blocked slot sells no more seats; its bookings stay valid.
pub async fn block(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    id: SlotId,
    blocking: Blocking,
    now: DateTime<Utc>,
) -> Result<StaffSlotView, SlotError> {
    store
        .write(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let zone = office.details.timezone;
            let before = slots::find(conn, office.id, id)?.ok_or(SlotFailure::NoSuchSlot)?;
            let (blocked, reason, action) = match &blocking {
                Blocking::Block { reason } => (true, Some(reason.as_str()), Action::SlotBlock),
                Blocking::Unblock => (false, None, Action::SlotUnblock),
            };
            slots::set_blocked(conn, office.id, id, blocked, reason, now)?;
            let after = slots::find(conn, office.id, id)?.ok_or(SlotFailure::NoSuchSlot)?;
            let (before, after) = (
                StaffSlotView::new(&before, zone),
                StaffSlotView::new(&after, zone),
            );
            let audit = Audit::by(&actor, now);
            audit.changed(conn, Some(office.id), action, id, &before, &after)?;
            Ok(after)
        })
        .await
}
