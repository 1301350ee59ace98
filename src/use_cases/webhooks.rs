//! Webhook subscriptions: the case system (or the office's managers) asks for an office's events
//! to be posted to a URL; staff see what failed and post it again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    auth::secret::signing_key,
    domain::{
        FieldErrors, Named,
        audit::Action,
        events::event_id,
        ids::{WebhookDeliveryId, WebhookSubscriptionId},
        integration::Caller,
        office::OfficeCode,
        webhooks::{DeliveryState, WebhookUrl, parse_event_types},
    },
    error::{Answer, Error, Explain, Failure},
    store::{
        Store,
        webhooks::{self, Delivery, Subscription},
    },
    use_cases::{
        audit::Audit,
        scope::{Need, caller_office},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum WebhookFailure {
    #[error("the office has no such webhook subscription")]
    NoSuchSubscription,
    #[error("the office has no such delivery, it is being posted, or its subscription ended")]
    NoSuchDelivery,
}

impl Explain for WebhookFailure {
    fn answer(self) -> Answer {
        match self {
            WebhookFailure::NoSuchSubscription => {
                Answer::NotFound("The office has no such webhook subscription.".into())
            }
            WebhookFailure::NoSuchDelivery => Answer::NotFound(
                "The office has no such delivery, it is being posted right now, or its \
                 subscription has ended."
                    .into(),
            ),
        }
    }
}

impl Failure for WebhookFailure {}

pub type WebhookError = Error<WebhookFailure>;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionRequest {
    /// Where each event is posted (JSON, signed as Standard Webhooks says).
    #[schema(schema_with = crate::domain::schema::webhook_url)]
    pub url: String,
    /// The event types wanted; absent or empty for all of them.
    #[schema(schema_with = crate::domain::schema::optional_event_types)]
    pub event_types: Option<Vec<String>>,
}

impl SubscriptionRequest {
    pub fn parse(self) -> Result<(WebhookUrl, Vec<String>), FieldErrors> {
        let mut errors = FieldErrors::new();
        let url = errors.check("url", WebhookUrl::parse(&self.url));
        let types = errors.check(
            "event_types",
            parse_event_types(&self.event_types.unwrap_or_default()),
        );
        match (url, types) {
            (Some(url), Some(types)) if errors.is_empty() => Ok((url, types)),
            _ => Err(errors),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionView {
    #[schema(value_type = i64)]
    pub id: WebhookSubscriptionId,
    pub office_code: String,
    pub url: String,
    /// Empty: every type.
    pub event_types: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl SubscriptionView {
    fn new(subscription: &Subscription, office_code: &OfficeCode) -> SubscriptionView {
        SubscriptionView {
            id: subscription.id,
            office_code: office_code.to_string(),
            url: subscription.url.clone(),
            event_types: subscription.event_types.clone(),
            created_at: subscription.created_at,
        }
    }
}

/// A new subscription, with the secret its deliveries are signed with: shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedSubscription {
    #[serde(flatten)]
    pub subscription: SubscriptionView,
    /// `whsec_` and a base64 key: verify each delivery's `webhook-signature` with it.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    #[schema(value_type = i64)]
    pub id: WebhookDeliveryId,
    #[schema(value_type = i64)]
    pub subscription_id: WebhookSubscriptionId,
    /// The event's id, as its `webhook-id` header carries it.
    #[schema(example = "evt_1234")]
    pub event_id: String,
    pub state: DeliveryState,
    pub attempts: i32,
    /// The receiver's HTTP status at the last attempt, when it answered.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    /// When a pending delivery is tried next.
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> DeliveryView {
        DeliveryView {
            id: d.id,
            subscription_id: d.subscription_id,
            event_id: event_id(d.event_id.get()),
            state: d.state,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
            created_at: d.created_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only deliveries in this state.
    #[param(value_type = Option<DeliveryState>, example = "failed")]
    pub state: Option<String>,
}

impl DeliveryQuery {
    pub fn parse(
        query: crate::domain::Parsed<DeliveryQuery>,
    ) -> Result<Option<DeliveryState>, FieldErrors> {
        query
            .complete()?
            .state
            .as_deref()
            .map(|state| {
                DeliveryState::parse(state)
                    .map_err(|reason| FieldErrors::single("state", reason.message()))
            })
            .transpose()
    }
}

/// Subscribes a URL to the office's events. Managers of the office, admins, and the case
/// system's clients for the office or national ones.
pub async fn subscribe(
    store: &Store,
    caller: Caller,
    code: OfficeCode,
    (url, event_types): (WebhookUrl, Vec<String>),
    now: DateTime<Utc>,
) -> Result<CreatedSubscription, WebhookError> {
    store
        .write(move |conn| -> Result<_, WebhookError> {
            let office = caller_office(conn, &caller, &code, Need::Configure)?;
            let secret = signing_key("whsec_");
            let subscription =
                webhooks::insert(conn, office.id, url.as_str(), &event_types, &secret, now)?;
            let view = SubscriptionView::new(&subscription, &office.code);
            let audit = Audit::by(&caller, now);
            let action = Action::WebhookSubscribe;
            audit.created(conn, Some(office.id), action, subscription.id, &view)?;
            Ok(CreatedSubscription {
                subscription: view,
                secret,
            })
        })
        .await
}

/// The office's subscriptions in force, without their secrets.
pub async fn list(
    store: &Store,
    caller: Caller,
    code: OfficeCode,
) -> Result<Vec<SubscriptionView>, WebhookError> {
    store
        .read(move |conn| -> Result<_, WebhookError> {
            let office = caller_office(conn, &caller, &code, Need::Configure)?;
            let subscriptions = webhooks::list(conn, office.id)?;
            Ok(subscriptions
                .iter()
                .map(|s| SubscriptionView::new(s, &office.code))
                .collect())
        })
        .await
}

/// Ends a subscription; what was still to be posted to it is not.
pub async fn unsubscribe(
    store: &Store,
    caller: Caller,
    code: OfficeCode,
    id: WebhookSubscriptionId,
    now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    store
        .write(move |conn| -> Result<_, WebhookError> {
            let office = caller_office(conn, &caller, &code, Need::Configure)?;
            if !webhooks::remove(conn, office.id, id, now)? {
                return Err(WebhookFailure::NoSuchSubscription.into());
            }
            let audit = Audit::by(&caller, now);
            audit.removed(conn, Some(office.id), Action::WebhookUnsubscribe, id)?;
            Ok(())
        })
        .await
}

/// The office's deliveries, newest first (the last 500), optionally in one state.
pub async fn deliveries(
    store: &Store,
    caller: Caller,
    code: OfficeCode,
    state: Option<DeliveryState>,
) -> Result<Vec<DeliveryView>, WebhookError> {
    store
        .read(move |conn| -> Result<_, WebhookError> {
            let office = caller_office(conn, &caller, &code, Need::Configure)?;
            let found = webhooks::list_deliveries(conn, office.id, state, None, 500)?;
            Ok(found.into_iter().map(DeliveryView::from).collect())
        })
        .await
}

/// Posts a delivery again, at once and with a fresh count of attempts: one that failed for
/// good, or one the receiver says it lost. The event keeps its id.
pub async fn redeliver(
    store: &Store,
    caller: Caller,
    code: OfficeCode,
    id: WebhookDeliveryId,
    now: DateTime<Utc>,
) -> Result<DeliveryView, WebhookError> {
    store
        .write(move |conn| -> Result<_, WebhookError> {
            let office = caller_office(conn, &caller, &code, Need::Configure)?;
            if !webhooks::redeliver(conn, office.id, id, now)? {
                return Err(WebhookFailure::NoSuchDelivery.into());
            }
            let delivery = webhooks::list_deliveries(conn, office.id, None, Some(id), 1)?
                .pop()
                .ok_or(WebhookFailure::NoSuchDelivery)?;
            let view = DeliveryView::from(delivery);
            let audit = Audit::by(&caller, now);
            audit.created(conn, Some(office.id), Action::WebhookRedeliver, id, &view)?;
            Ok(view)
        })
        .await
}
