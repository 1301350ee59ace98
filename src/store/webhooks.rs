//! Webhook subscriptions and their deliveries: one row per event and subscription, written in
//! the event's transaction and claimed by the webhook worker, as mail is by the mailer.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{BigInt, Text, Timestamp},
};

use super::{
    DbConnection, db_time, named,
    schema::{webhook_deliveries as deliveries, webhook_subscriptions as subscriptions},
};
use crate::domain::{
    Named,
    ids::{EventId, OfficeId, WebhookDeliveryId, WebhookSubscriptionId},
    webhooks::DeliveryState,
};

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: WebhookSubscriptionId,
    pub office_id: OfficeId,
    pub url: String,
    /// Empty: every type.
    pub event_types: Vec<String>,
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

type SubscriptionRow = (
    WebhookSubscriptionId,
    OfficeId,
    String,
    String,
    String,
    NaiveDateTime,
);

const SUBSCRIPTION: (
    subscriptions::id,
    subscriptions::office_id,
    subscriptions::url,
    subscriptions::event_types,
    subscriptions::secret,
    subscriptions::created_at,
) = (
    subscriptions::id,
    subscriptions::office_id,
    subscriptions::url,
    subscriptions::event_types,
    subscriptions::secret,
    subscriptions::created_at,
);

fn subscription((id, office_id, url, types, secret, created_at): SubscriptionRow) -> Subscription {
    Subscription {
        id,
        office_id,
        url,
        event_types: types.split_whitespace().map(str::to_owned).collect(),
        secret,
        created_at: created_at.and_utc(),
    }
}

pub fn insert(
    conn: &mut DbConnection,
    office_id: OfficeId,
    url: &str,
    event_types: &[String],
    secret: &str,
    now: DateTime<Utc>,
) -> QueryResult<Subscription> {
    let row = diesel::insert_into(subscriptions::table)
        .values((
            subscriptions::office_id.eq(office_id),
            subscriptions::url.eq(url),
            subscriptions::event_types.eq(event_types.join(" ")),
            subscriptions::secret.eq(secret),
            subscriptions::created_at.eq(db_time(now)),
        ))
        .returning(SUBSCRIPTION)
        .get_result(conn)?;
    Ok(subscription(row))
}

/// The office's subscriptions in force, oldest first.
pub fn list(conn: &mut DbConnection, office_id: OfficeId) -> QueryResult<Vec<Subscription>> {
    let rows: Vec<SubscriptionRow> = subscriptions::table
        .filter(subscriptions::office_id.eq(office_id))
        .filter(subscriptions::removed_at.is_null())
        .order(subscriptions::id)
        .select(SUBSCRIPTION)
        .load(conn)?;
    Ok(rows.into_iter().map(subscription).collect())
}

/// Removes a subscription; its pending deliveries are dropped with it. `false` when the office
/// has no such subscription in force.
pub fn remove(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: WebhookSubscriptionId,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let removed = diesel::update(
        subscriptions::table
            .find(id)
            .filter(subscriptions::office_id.eq(office_id))
            .filter(subscriptions::removed_at.is_null()),
    )
    .set(subscriptions::removed_at.eq(db_time(now)))
    .execute(conn)?;
    diesel::update(
        deliveries::table
            .filter(deliveries::subscription_id.eq(id))
            .filter(deliveries::status.eq(DeliveryState::Pending.as_str())),
    )
    .set((
        deliveries::status.eq(DeliveryState::Failed.as_str()),
        deliveries::last_error.eq("the subscription was removed"),
        deliveries::updated_at.eq(db_time(now)),
    ))
    .execute(conn)?;
    Ok(removed == 1)
}

/// Which subscriptions (`s`) want an event of the type in parameter `event_type`, as SQL:
/// those that chose no types (they get every event) and those whose list names it. The list is
/// stored as the types joined by single spaces; `position` is the backend's substring search
/// (`strpos` on PostgreSQL, `instr` on SQLite).
pub(super) fn wanting_sql(position: &str, event_type: &str) -> String {
    format!(
        "(s.event_types = '' OR \
         {position}(' ' || s.event_types || ' ', ' ' || {event_type} || ' ') > 0)"
    )
}

/// Queues the event for every subscription of its office that wants it, in one statement.
pub fn fan_out(
    conn: &mut DbConnection,
    office_id: OfficeId,
    event_id: EventId,
    event_type: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let statement = |position: &str, p: [&str; 4]| {
        format!(
            "INSERT INTO webhook_deliveries (office_id, subscription_id, event_id, \
             next_attempt_at, created_at, updated_at) \
             SELECT {office}, s.id, {event}, {at}, {at}, {at} FROM webhook_subscriptions s \
             WHERE s.office_id = {office} AND s.removed_at IS NULL AND {wanting}",
            office = p[0],
            event = p[1],
            at = p[2],
            wanting = wanting_sql(position, p[3]),
        )
    };
    let at = db_time(now);
    match conn {
        DbConnection::Postgres(pg) => {
            diesel::sql_query(statement("strpos", ["$1", "$2", "$3", "$4"]))
                .bind::<BigInt, _>(office_id.get())
                .bind::<BigInt, _>(event_id.get())
                .bind::<Timestamp, _>(at)
                .bind::<Text, _>(event_type)
                .execute(pg)?
        }
        DbConnection::Sqlite(lite) => {
            diesel::sql_query(statement("instr", ["?1", "?2", "?3", "?4"]))
                .bind::<BigInt, _>(office_id.get())
                .bind::<BigInt, _>(event_id.get())
                .bind::<Timestamp, _>(at)
                .bind::<Text, _>(event_type)
                .execute(lite)?
        }
    };
    Ok(())
}

/// A delivery claimed for one attempt, with where it goes and how it is signed.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: WebhookDeliveryId,
    pub office_id: OfficeId,
    pub event_id: EventId,
    pub url: String,
    pub secret: String,
    /// This attempt included.
    pub attempts: i32,
}

/// Claims up to `limit` due deliveries for `lease`: pending ones whose time has come, and those
/// a worker claimed but never settled (it died). Runs in a write transaction; on PostgreSQL
/// concurrent workers skip each other's rows.
pub fn claim_due(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> QueryResult<Vec<Claimed>> {
    let at = db_time(now);
    macro_rules! due_ids {
        () => {
            deliveries::table
                .filter(
                    deliveries::status
                        .eq(DeliveryState::Pending.as_str())
                        .and(deliveries::next_attempt_at.le(at))
                        .or(deliveries::status
                            .eq(DeliveryState::Sending.as_str())
                            .and(deliveries::claimed_until.le(at))),
                )
                .order(deliveries::next_attempt_at)
                .select(deliveries::id)
                .limit(limit)
        };
    }
    let ids: Vec<WebhookDeliveryId> = match conn {
        DbConnection::Postgres(pg) => due_ids!().for_update().skip_locked().load(pg)?,
        DbConnection::Sqlite(lite) => due_ids!().load(lite)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(deliveries::table.filter(deliveries::id.eq_any(&ids)))
        .set((
            deliveries::status.eq(DeliveryState::Sending.as_str()),
            deliveries::claimed_until.eq(db_time(now + lease)),
            deliveries::attempts.eq(deliveries::attempts + 1),
            deliveries::updated_at.eq(at),
        ))
        .execute(conn)?;
    let rows: Vec<(WebhookDeliveryId, OfficeId, EventId, String, String, i32)> = deliveries::table
        .inner_join(subscriptions::table)
        .filter(deliveries::id.eq_any(&ids))
        .select((
            deliveries::id,
            deliveries::office_id,
            deliveries::event_id,
            subscriptions::url,
            subscriptions::secret,
            deliveries::attempts,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, office_id, event_id, url, secret, attempts)| Claimed {
            id,
            office_id,
            event_id,
            url,
            secret,
            attempts,
        })
        .collect())
}

/// What an attempt came to.
pub struct Outcome<'a> {
    pub state: DeliveryState,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<i32>,
    pub error: Option<&'a str>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Records what became of a claimed delivery; ignored if the claim was lost meanwhile.
pub fn settle(
    conn: &mut DbConnection,
    (office_id, id): (OfficeId, WebhookDeliveryId),
    outcome: Outcome<'_>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let at = db_time(now);
    let delivered_at = (outcome.state == DeliveryState::Delivered).then_some(at);
    diesel::update(
        deliveries::table
            .filter(deliveries::office_id.eq(office_id))
            .filter(deliveries::id.eq(id))
            .filter(deliveries::status.eq(DeliveryState::Sending.as_str())),
    )
    .set((
        deliveries::status.eq(outcome.state.as_str()),
        deliveries::last_status.eq(outcome.status),
        deliveries::last_error.eq(outcome.error),
        deliveries::delivered_at.eq(delivered_at),
        deliveries::claimed_until.eq(None::<NaiveDateTime>),
        deliveries::next_attempt_at.eq(outcome.next_attempt_at.map_or(at, db_time)),
        deliveries::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(())
}

/// A delivery as staff see it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: WebhookDeliveryId,
    pub subscription_id: WebhookSubscriptionId,
    pub event_id: EventId,
    pub state: DeliveryState,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

type DeliveryRow = (
    WebhookDeliveryId,
    WebhookSubscriptionId,
    EventId,
    String,
    i32,
    Option<i32>,
    Option<String>,
    NaiveDateTime,
    Option<NaiveDateTime>,
    NaiveDateTime,
);

/// The office's deliveries, newest first, optionally in one state only or only the one with
/// `id`.
pub fn list_deliveries(
    conn: &mut DbConnection,
    office_id: OfficeId,
    state: Option<DeliveryState>,
    only: Option<WebhookDeliveryId>,
    limit: i64,
) -> QueryResult<Vec<Delivery>> {
    let mut query = deliveries::table
        .filter(deliveries::office_id.eq(office_id))
        .select((
            deliveries::id,
            deliveries::subscription_id,
            deliveries::event_id,
            deliveries::status,
            deliveries::attempts,
            deliveries::last_status,
            deliveries::last_error,
            deliveries::next_attempt_at,
            deliveries::delivered_at,
            deliveries::created_at,
        ))
        .order(deliveries::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(state) = state {
        query = query.filter(deliveries::status.eq(state.as_str()));
    }
    if let Some(id) = only {
        query = query.filter(deliveries::id.eq(id));
    }
    query
        .load::<DeliveryRow>(conn)?
        .into_iter()
        .map(|row| {
            let (id, subscription_id, event_id, state, attempts, last_status, last_error) =
                (row.0, row.1, row.2, row.3, row.4, row.5, row.6);
            Ok(Delivery {
                id,
                subscription_id,
                event_id,
                state: named(&state)?,
                attempts,
                last_status,
                last_error,
                next_attempt_at: row.7.and_utc(),
                delivered_at: row.8.map(|t| t.and_utc()),
                created_at: row.9.and_utc(),
            })
        })
        .collect()
}

/// Puts a delivery of the office back in the queue to go at once (a failed one, or a delivered
/// one the receiver lost), with a fresh count of attempts. `false` when the office has no such
/// delivery, it is being posted right now, or its subscription was removed.
pub fn redeliver(
    conn: &mut DbConnection,
    office_id: OfficeId,
    id: WebhookDeliveryId,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let at = db_time(now);
    let changed = diesel::update(
        deliveries::table
            .find(id)
            .filter(deliveries::office_id.eq(office_id))
            .filter(deliveries::status.ne(DeliveryState::Sending.as_str()))
            .filter(
                deliveries::subscription_id.eq_any(
                    subscriptions::table
                        .filter(subscriptions::removed_at.is_null())
                        .select(subscriptions::id),
                ),
            ),
    )
    .set((
        deliveries::status.eq(DeliveryState::Pending.as_str()),
        deliveries::attempts.eq(0),
        deliveries::next_attempt_at.eq(at),
        deliveries::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}
