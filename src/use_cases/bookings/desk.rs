//! The desk runs the day: the agenda, finding a booking, checking people in, marking them
//! attended or absent, and cancelling with a reason. Every change is audited.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{
    BookingError, BookingFailure, Canceller, Details, Policy, cancel, details, record_change,
    reread,
    views::{Agenda, StaffBookingView},
};
use crate::domain::text::parse_line;
use crate::{
    domain::{
        FieldErrors, Parsed,
        audit::Action,
        booking::{CaseNumber, DeskAction, Reference, Refusal},
        days::{Day, end_of_day, start_of_day, today},
        ids::{CalendarId, SlotId},
        office::OfficeCode,
        staff::Actor,
    },
    store::{DbConnection, Store, bookings, services},
    use_cases::{
        audit::Audit,
        scope::{Need, staff_office},
    },
};

/// Which of the day's bookings the desk wants to see.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgendaQuery {
    /// The local day (default today)
    #[param(value_type = Option<NaiveDate>)]
    pub date: Option<Day>,
    /// Only this calendar
    #[param(value_type = Option<i64>)]
    pub calendar: Option<CalendarId>,
    /// Only this appointment type
    #[param(value_type = Option<crate::domain::schema::TypeCodeText>)]
    pub service: Option<String>,
}

/// The day's bookings by time, optionally for one calendar or service. Staff of the office.
pub async fn agenda(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    query: Parsed<AgendaQuery>,
    now: DateTime<Utc>,
) -> Result<Agenda, BookingError> {
    let (query, mut errors) = query.into_parts();
    store
        .read(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let zone = office.details.timezone;
            let date = query.date.map_or_else(|| today(zone, now), Day::get);
            let services = services::list(conn, office.id)?;
            let service = match &query.service {
                Some(code) => {
                    let offered = services
                        .iter()
                        .find(|s| s.appointment_type.code.as_str() == code);
                    if offered.is_none() {
                        errors.add("service", "the office does not offer this service");
                    }
                    offered.map(|s| s.id)
                }
                None => None,
            };
            errors.or_value(())?;
            let (from, to) = (start_of_day(zone, date), end_of_day(zone, date));
            let rows = bookings::agenda(conn, office.id, from, to, query.calendar, service)?;
            let mut views = Vec::with_capacity(rows.len());
            for (booking, slot) in rows {
                let Some(service) = services
                    .iter()
                    .find(|s| s.id == booking.office_service_id)
                    .cloned()
                else {
                    continue;
                };
                views.push(StaffBookingView::new(&Details {
                    booking,
                    slot,
                    service,
                    office: office.clone(),
                }));
            }
            Ok(Agenda {
                office: office.code.to_string(),
                date,
                timezone: zone.name().to_owned(),
                bookings: views,
            })
        })
        .await
}

/// What the desk searches by.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The case number
    #[param(value_type = Option<crate::domain::schema::CaseNumberText>)]
    pub case_number: Option<String>,
    /// The booking reference
    #[param(value_type = Option<crate::domain::schema::ReferenceText>)]
    pub reference: Option<String>,
}

/// Finds the office's bookings by case number or reference, newest first.
pub async fn search(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    query: Parsed<SearchQuery>,
) -> Result<Vec<StaffBookingView>, BookingError> {
    let (query, mut errors) = query.into_parts();
    let case_number = errors.check_optional(
        "case_number",
        query.case_number.as_deref(),
        CaseNumber::parse,
    );
    let reference =
        errors.check_optional("reference", query.reference.as_deref(), Reference::parse);
    if errors.is_empty() && case_number.is_none() && reference.is_none() {
        errors.add(
            "case_number",
            "give a case_number or a reference to search for",
        );
    }
    errors.or_value(())?;
    store
        .read(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let found =
                bookings::search(conn, office.id, case_number.as_ref(), reference.as_ref())?;
            let mut views = Vec::with_capacity(found.len());
            for booking in found {
                views.push(StaffBookingView::new(&details(conn, booking)?));
            }
            Ok(views)
        })
        .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Told to the applicant.
    #[schema(schema_with = crate::domain::schema::line_500, example = "The office is closed for a strike.")]
    pub reason: String,
}

impl CancelRequest {
    /// The cancellation, its reason checked.
    pub fn parse(&self) -> Result<DeskChange, FieldErrors> {
        Ok(DeskChange {
            action: DeskAction::Cancel,
            reason: Some(office_reason(&self.reason)?),
        })
    }
}

/// The reason the office gives an applicant for cancelling or moving their visit: one line.
fn office_reason(text: &str) -> Result<String, FieldErrors> {
    parse_line(text, 500).map_err(|reason| FieldErrors::single("reason", reason.message()))
}

/// Where the office moves a booking, and why.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffMoveRequest {
    /// A time of the same service at the office, before or after the booked one.
    #[schema(value_type = i64)]
    pub slot_id: SlotId,
    /// Told to the applicant.
    #[schema(schema_with = crate::domain::schema::line_500, example = "The desk is closed that morning.")]
    pub reason: String,
}

/// An office's move, checked.
pub struct StaffMove {
    pub to: SlotId,
    pub reason: String,
}

impl StaffMoveRequest {
    pub fn parse(&self) -> Result<StaffMove, FieldErrors> {
        Ok(StaffMove {
            to: self.slot_id,
            reason: office_reason(&self.reason)?,
        })
    }
}

/// Staff move a booking of their office to another time of its service (the desk's share of
/// seats included), with a reason the applicant is mailed with the new time. Audited with the
/// booking before and after; the booking keeps its reference and token.
pub async fn move_visit(
    store: &Store,
    policy: &Policy,
    actor: Actor,
    code: OfficeCode,
    reference: Reference,
    change: StaffMove,
    now: DateTime<Utc>,
) -> Result<StaffBookingView, BookingError> {
    let policy = policy.clone();
    let on = (actor, code, reference);
    change_at_desk(
        store,
        on,
        Action::BookingMove,
        now,
        move |conn, details, _| {
            let StaffMove { to, reason } = &change;
            super::manage::move_by_office(conn, details, *to, reason, &policy, now)
        },
    )
    .await
}

/// What the desk does with a booking, with the reason the applicant is told when it cancels.
pub struct DeskChange {
    pub action: DeskAction,
    pub reason: Option<String>,
}

impl From<DeskAction> for DeskChange {
    fn from(action: DeskAction) -> DeskChange {
        DeskChange {
            action,
            reason: None,
        }
    }
}

/// A status change at the desk: check-in on the day, attended, no-show once the visit was due,
/// or cancellation with a reason (the applicant is told why). Audited with the booking before
/// and after.
pub async fn act(
    store: &Store,
    policy: &Policy,
    actor: Actor,
    code: OfficeCode,
    reference: Reference,
    change: DeskChange,
    now: DateTime<Utc>,
) -> Result<StaffBookingView, BookingError> {
    let policy = policy.clone();
    let DeskChange { action, reason } = change;
    let on = (actor, code, reference);
    change_at_desk(
        store,
        on,
        action.audited_as(),
        now,
        move |conn, details, actor| {
            let reason = reason.as_deref();
            change_status(conn, details, action, actor, reason, &policy, now)
        },
    )
    .await
}

/// A change staff make to one booking of their office, in one transaction: the booking found
/// at the office, changed, read back, and the change audited with the booking before and
/// after.
async fn change_at_desk(
    store: &Store,
    (actor, code, reference): (Actor, OfficeCode, Reference),
    audited_as: Action,
    now: DateTime<Utc>,
    change: impl FnOnce(&mut DbConnection, &Details, &Actor) -> Result<(), BookingError>
    + Send
    + 'static,
) -> Result<StaffBookingView, BookingError> {
    store
        .write(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let booking = bookings::find_by_reference(conn, &reference)?
                .filter(|booking| booking.office_id == office.id)
                .ok_or(BookingFailure::NotAtOffice)?;
            let details = details(conn, booking)?;
            let before = StaffBookingView::new(&details);
            change(conn, &details, &actor)?;
            let after = StaffBookingView::new(&reread(conn, details)?);
            let audit = Audit::by(&actor, now);
            audit.changed(
                conn,
                Some(office.id),
                audited_as,
                &after.reference,
                &before.audited(),
                &after.audited(),
            )?;
            Ok(after)
        })
        .await
}

fn change_status(
    conn: &mut DbConnection,
    details: &Details,
    action: DeskAction,
    actor: &Actor,
    reason: Option<&str>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let booking = &details.booking;
    let next = action.apply(booking.status)?;
    match action {
        DeskAction::CheckIn
            if today(details.office.details.timezone, now) != details.slot.time.local_date =>
        {
            return Err(Refusal::NotTheVisitDay.into());
        }
        DeskAction::MarkNoShow if now < details.slot.time.starts_at => {
            return Err(Refusal::VisitNotStarted.into());
        }
        _ => {}
    }
    let changed = match action {
        DeskAction::Cancel => {
            let by = Canceller::Office {
                staff: actor.staff_id,
                reason,
            };
            cancel(conn, details, by, policy, now)?.is_some()
        }
        _ => bookings::set_status(
            conn,
            booking.office_id,
            booking.id,
            booking.status,
            next,
            now,
        )?,
    };
    if !changed {
        // Another request changed the booking first: the refusal names its status now.
        let current = bookings::find(conn, booking.office_id, booking.id)?
            .map_or(booking.status, |b| b.status);
        return Err(Refusal::InvalidTransition {
            status: current,
            action,
        }
        .into());
    }
    if action != DeskAction::Cancel {
        let event = action.event();
        let actor_id = Some(actor.staff_id);
        record_change(conn, details, &details.slot, event, None, actor_id, now)?;
    }
    if action == DeskAction::MarkAttended {
        crate::use_cases::surveys::send_after_visit(conn, details, &policy.tokens, now)?;
    }
    Ok(())
}
