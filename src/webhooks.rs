//! The webhook worker: a lane of the outbox beside the mailer. Changes queue one delivery per
//! event and subscription in their own transaction; this worker claims due deliveries, posts
//! each event signed as Standard Webhooks says, and retries failures with backoff until they
//! succeed or run out of attempts (then staff see them and may redeliver). It runs as its own
//! task, so a slow or dead receiver never delays mail; any number of instances may run it.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use futures_util::StreamExt;

use crate::{
    config::WebhookSettings,
    domain::{
        events::event_id,
        webhooks::{DeliveryState, retry_delay_seconds, signature},
    },
    store::{
        Store, StoreError, events,
        webhooks::{self, Claimed, Outcome},
    },
    use_cases::events::EventView,
};

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
}

impl Round {
    pub fn handled(&self) -> usize {
        self.delivered + self.retrying + self.failed
    }
}

pub struct WebhookWorker {
    store: Store,
    client: reqwest::Client,
    settings: WebhookSettings,
}

impl WebhookWorker {
    pub fn new(settings: &WebhookSettings, store: Store) -> anyhow::Result<WebhookWorker> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_seconds))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("sportello-webhooks/1")
            .build()?;
        Ok(WebhookWorker {
            store,
            client,
            settings: settings.clone(),
        })
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.settings.poll_interval_ms)
    }

    /// Delivers forever, every poll interval; `pulse` beats after each round.
    pub async fn run(self: Arc<Self>, pulse: Arc<crate::worker::Pulse>) {
        let mut ticker = tokio::time::interval(self.poll_interval());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match self.deliver_all_due().await {
                Ok(round) if round.handled() > 0 => tracing::info!(?round, "webhooks posted"),
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "webhook round failed; trying again next round")
                }
            }
            pulse.beat();
        }
    }

    /// Rounds until nothing is due.
    pub async fn deliver_all_due(&self) -> Result<Round, StoreError> {
        let mut total = Round::default();
        loop {
            let round = self.deliver_due().await?;
            if round.handled() == 0 {
                return Ok(total);
            }
            total.delivered += round.delivered;
            total.retrying += round.retrying;
            total.failed += round.failed;
        }
    }

    pub async fn deliver_due(&self) -> Result<Round, StoreError> {
        let lease = chrono::Duration::seconds(self.settings.lease_seconds as i64);
        let batch = self.settings.batch_size;
        let claimed = self
            .store
            .write(move |conn| -> Result<Vec<Claimed>, StoreError> {
                Ok(webhooks::claim_due(conn, Utc::now(), lease, batch)?)
            })
            .await?;
        if claimed.is_empty() {
            return Ok(Round::default());
        }
        let ids: Vec<_> = claimed.iter().map(|c| c.event_id).collect();
        let bodies = self
            .store
            .read(move |conn| -> Result<_, StoreError> { Ok(events::find_many(conn, &ids)?) })
            .await?
            .into_iter()
            .map(|event| {
                let body = serde_json::to_vec(&EventView::new(&event)).unwrap_or_default();
                (event.id, body)
            })
            .collect::<std::collections::HashMap<_, _>>();
        let outcomes: Vec<Result<DeliveryState, StoreError>> = futures_util::stream::iter(claimed)
            .map(|delivery| {
                let body = bodies.get(&delivery.event_id).cloned().unwrap_or_default();
                self.deliver(delivery, body)
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        let mut round = Round::default();
        for outcome in outcomes {
            match outcome? {
                DeliveryState::Delivered => round.delivered += 1,
                DeliveryState::Failed => round.failed += 1,
                DeliveryState::Pending | DeliveryState::Sending => round.retrying += 1,
            }
        }
        Ok(round)
    }

    /// One attempt: posts the event, then records what came of it.
    async fn deliver(&self, delivery: Claimed, body: Vec<u8>) -> Result<DeliveryState, StoreError> {
        let (status, error) = match self.post(&delivery, body).await {
            Ok(status) if (200..300).contains(&status) => (Some(i32::from(status)), None),
            Ok(status) => (
                Some(i32::from(status)),
                Some(format!("the receiver answered HTTP {status}")),
            ),
            Err(error) => (None, Some(error)),
        };
        let now = Utc::now();
        let (state, next) = match &error {
            None => (DeliveryState::Delivered, None),
            Some(_) if delivery.attempts >= self.settings.max_attempts => {
                (DeliveryState::Failed, None)
            }
            Some(_) => {
                let wait = retry_delay_seconds(self.settings.retry_base_seconds, delivery.attempts);
                let wait = chrono::Duration::seconds(i64::try_from(wait).unwrap_or(i64::MAX));
                (DeliveryState::Pending, Some(now + wait))
            }
        };
        if let Some(error) = &error {
            let (id, attempts) = (delivery.id, delivery.attempts);
            tracing::warn!(delivery = %id, attempts, %error, ?state, "webhook not delivered");
        }
        let id = delivery.id;
        self.store
            .write(move |conn| -> Result<(), StoreError> {
                let outcome = Outcome {
                    state,
                    status,
                    error: error.as_deref(),
                    next_attempt_at: next,
                };
                Ok(webhooks::settle(conn, id, outcome, Utc::now())?)
            })
            .await?;
        Ok(state)
    }

    /// Posts the body with the Standard Webhooks headers; the receiver's status, or why there
    /// was none.
    async fn post(&self, delivery: &Claimed, body: Vec<u8>) -> Result<u16, String> {
        let id = event_id(delivery.event_id.get());
        let timestamp = Utc::now().timestamp();
        let signed = signature(&delivery.secret, &id, timestamp, &body)
            .ok_or_else(|| "the subscription's secret is not a whsec_ key".to_owned())?;
        let response = self
            .client
            .post(&delivery.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signed)
            .body(body)
            .send()
            .await
            .map_err(|error| describe(&error))?;
        Ok(response.status().as_u16())
    }
}

/// What went wrong with a post, without the URL's query (which may hold a receiver's token).
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "the receiver did not answer in time"
    } else if error.is_connect() {
        "cannot connect to the receiver"
    } else if error.is_redirect() {
        "the receiver redirected (redirects are not followed)"
    } else {
        "the post failed"
    };
    what.to_owned()
}
