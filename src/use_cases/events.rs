//! Events back to the case system: every change is published in its own transaction
//! ([`publish`]), read from a feed that resumes from a cursor ([`feed`]), and posted to the
//! office's webhook subscriptions (see [`webhooks`](super::webhooks)).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::{
    domain::{
        FieldErrors,
        events::{Cursor, event_id, public_type},
        integration::Caller,
        office::OfficeCode,
    },
    error::{Error, Failure},
    store::{
        DbConnection, Store,
        events::{self, NewEvent, StoredEvent},
        webhooks,
    },
    use_cases::scope::{Need, caller_office},
};

/// No failure of its own: an unknown office is [`Error::NoSuchOffice`].
#[derive(Debug, thiserror::Error)]
pub enum EventFailure {}

impl crate::error::Explain for EventFailure {
    fn answer(self) -> crate::error::Answer {
        match self {}
    }
}

impl Failure for EventFailure {}

pub type EventError = Error<EventFailure>;

/// Records `event` and queues it for every webhook subscription of its office that wants it,
/// in the caller's transaction: the change, its event and its deliveries commit together.
pub fn publish(
    conn: &mut DbConnection,
    event: NewEvent<'_>,
    now: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    let (office_id, event_type) = (event.office_id, public_type(event.kind));
    let id = events::insert(conn, event, now)?;
    webhooks::fan_out(conn, office_id, id, event_type, now)
}

/// What a booking event says: the booking as the change left it.
#[derive(Serialize, ToSchema)]
pub struct BookingEventData {
    #[schema(example = "K7P3Q9XD")]
    pub reference: String,
    #[schema(example = "RM/2026/000123")]
    pub case_number: String,
    /// The appointment type.
    #[schema(example = "document_delivery")]
    pub service: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// `web` or `desk`.
    pub channel: &'static str,
    /// For `booking.cancelled`: `applicant` or `office`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<&'static str>,
    /// For `booking.cancelled` by the office, when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For `booking.rescheduled`: when the visit was before the move.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_starts_at: Option<DateTime<Utc>>,
    /// A staff test booking in an office still in preview.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
}

/// An event as the feed and webhooks publish it.
#[derive(Serialize, ToSchema)]
pub struct EventView {
    /// Stable: the same event always has the same id (it is also the `webhook-id`).
    #[schema(example = "evt_1234")]
    pub id: String,
    /// `booking.confirmed`, `booking.rescheduled`, `booking.cancelled`, `booking.checked_in`,
    /// `booking.attended`, `booking.no_show`; `invitation.sent`, `invitation.booked`,
    /// `invitation.extended`, `invitation.cancelled` or `invitation.expired`.
    #[serde(rename = "type")]
    #[schema(example = "booking.confirmed")]
    pub event_type: &'static str,
    #[schema(example = "RM")]
    pub office_code: String,
    /// When the change happened.
    pub timestamp: DateTime<Utc>,
    /// A booking event's data (`booking.*`) or an invitation event's (`invitation.*`);
    /// `{"anonymised": true}` once its personal data was erased.
    #[schema(schema_with = event_data)]
    pub data: Value,
    /// Where the feed resumes after this event.
    #[schema(example = "7340-12")]
    pub cursor: String,
}

/// The data of an event whose personal data was erased (retention, or a data subject's request).
#[derive(Serialize, ToSchema)]
pub struct AnonymisedEventData {
    /// Always true: the event happened; who it was about is no longer kept.
    #[schema(example = true)]
    pub anonymised: bool,
}

/// `data` is a booking's or an invitation's, as the type says, or only that it was anonymised.
fn event_data() -> utoipa::openapi::Schema {
    use utoipa::openapi::{Ref, Schema, schema::AnyOfBuilder};
    Schema::AnyOf(
        AnyOfBuilder::new()
            .item(Ref::from_schema_name("BookingEventData"))
            .item(Ref::from_schema_name("InvitationEventData"))
            .item(Ref::from_schema_name("AnonymisedEventData"))
            .build(),
    )
}

impl EventView {
    pub fn new(event: &StoredEvent) -> EventView {
        EventView {
            id: event_id(event.id.get()),
            event_type: public_type(event.kind),
            office_code: event.office_code.clone(),
            timestamp: event.created_at,
            data: serde_json::from_str(&event.data).unwrap_or(Value::Null),
            cursor: event.cursor.to_string(),
        }
    }
}

/// A page of the feed.
#[derive(Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventView>,
    /// Send as `after` to get the next events: the last event's cursor, or `after` itself when
    /// there was none (poll again later).
    #[schema(example = "7340-12")]
    pub next: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// A cursor from an earlier page (`next`); absent: from the first event.
    #[param(example = "0-0", pattern = "^[0-9]{1,18}-[0-9]{1,18}$")]
    pub after: Option<String>,
    /// One office's events; national callers may leave it out for every office.
    #[param(example = "RM", pattern = "^[A-Za-z][A-Za-z0-9]{1,7}$")]
    pub office_code: Option<String>,
    /// At most this many events (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// The feed's query, parsed.
pub struct Feed {
    pub after: Cursor,
    pub office: Option<OfficeCode>,
    pub limit: i64,
}

impl FeedQuery {
    pub fn parse(query: crate::domain::Parsed<FeedQuery>) -> Result<Feed, FieldErrors> {
        let (query, mut errors) = query.into_parts();
        let after = match query.after.as_deref() {
            Some(text) => errors.check("after", Cursor::parse(text)),
            None => Some(Cursor::START),
        };
        let office = query
            .office_code
            .as_deref()
            .and_then(|code| errors.check("office_code", OfficeCode::parse(code)));
        let limit = query.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            errors.add("limit", "must be from 1 to 1000");
        }
        match after {
            Some(after) if errors.is_empty() => Ok(Feed {
                after,
                office,
                limit,
            }),
            _ => Err(errors),
        }
    }
}

/// The events after a cursor that the caller may see: of its office, or (national callers)
/// of every office or the one asked for. Never skips an event that commits late, never repeats
/// one before the cursor.
pub async fn feed(store: &Store, caller: Caller, feed: Feed) -> Result<EventPage, EventError> {
    store
        .read(move |conn| -> Result<_, EventError> {
            let office_id = match (&feed.office, caller.office()) {
                (Some(code), _) => Some(caller_office(conn, &caller, code, Need::Read)?.id),
                (None, Some(own)) => Some(caller_office(conn, &caller, own, Need::Read)?.id),
                (None, None) if caller.is_national() => None,
                (None, None) => return Err(Error::NoSuchOffice),
            };
            let found = events::after(conn, office_id, feed.after, feed.limit)?;
            let next = found.last().map_or(feed.after, |e| e.cursor).to_string();
            Ok(EventPage {
                events: found.iter().map(EventView::new).collect(),
                next,
            })
        })
        .await
}
