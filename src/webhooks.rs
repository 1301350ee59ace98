//! The webhook worker: a lane of the outbox beside the mailer. Changes queue one delivery per
//! event and subscription in their own transaction; this worker claims due deliveries, posts
//! each event signed as Standard Webhooks says, and retries failures with backoff until they
//! succeed or run out of attempts (then staff see them and may redeliver). It runs as its own
//! task, so a slow or dead receiver never delays mail; any number of instances may run it.

use std::{sync::Arc, time::Duration};

use chrono::Utc;

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

#[derive(Clone)]
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

    /// Delivers forever: keeps up to `concurrency` posts in flight, claims more as places free
    /// up, and looks for newly due ones every poll interval. A receiver that is slow to answer
    /// holds one place until its timeout, not the whole worker. `pulse` beats at every turn.
    pub async fn run(self: Arc<Self>, pulse: Arc<crate::worker::Pulse>) {
        self.drive(Some(&pulse)).await;
    }

    /// Delivers what is due, and what falls due meanwhile, until nothing is due or in flight.
    pub async fn deliver_all_due(&self) -> Result<Round, StoreError> {
        Ok(self.drive(None).await)
    }

    /// The delivery loop: forever with a pulse, else until idle.
    async fn drive(&self, pulse: Option<&crate::worker::Pulse>) -> Round {
        let concurrency = self.settings.concurrency.max(1);
        let mut ticker = tokio::time::interval(self.poll_interval());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Dropped with the loop (the worker stopped): its posts are aborted, and their claims
        // lapse for another worker to take over.
        let mut in_flight = tokio::task::JoinSet::new();
        let mut round = Round::default();
        let mut look = true;
        loop {
            // Claim in batches: at a tick, when idle, or once half the places are free.
            let free = concurrency - in_flight.len();
            if look || in_flight.is_empty() || free >= concurrency.div_ceil(2) {
                match self.claim(free).await {
                    Ok(claimed) => {
                        // Each post runs as a task of its own, so it goes on (and lets go of
                        // what it holds, such as SQLite's turn to write) while this loop waits.
                        for (delivery, body) in claimed {
                            let worker = self.clone();
                            in_flight.spawn(async move { worker.deliver(delivery, body).await });
                        }
                    }
                    Err(error) => tracing::warn!(%error, "cannot claim webhook deliveries"),
                }
            }
            if pulse.is_none() && in_flight.is_empty() {
                return round;
            }
            tokio::select! {
                Some(outcome) = in_flight.join_next() => {
                    look = false;
                    match outcome {
                        Ok(Ok(DeliveryState::Delivered)) => round.delivered += 1,
                        Ok(Ok(DeliveryState::Failed)) => round.failed += 1,
                        Ok(Ok(_)) => round.retrying += 1,
                        Ok(Err(error)) => {
                            tracing::warn!(%error, "cannot record a webhook delivery")
                        }
                        // Its claim lapses, and another attempt posts it again.
                        Err(error) => tracing::error!(%error, "a webhook post failed"),
                    }
                }
                _ = ticker.tick(), if pulse.is_some() => look = true,
            }
            if let Some(pulse) = pulse {
                pulse.beat();
            }
        }
    }

    /// Claims up to `limit` due deliveries, with the bodies of their events.
    async fn claim(&self, limit: usize) -> Result<Vec<(Claimed, Vec<u8>)>, StoreError> {
        let lease = chrono::Duration::seconds(self.settings.lease_seconds as i64);
        let limit = i64::try_from(limit)
            .unwrap_or(i64::MAX)
            .min(self.settings.batch_size);
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let claimed = self
            .store
            .write(move |conn| -> Result<Vec<Claimed>, StoreError> {
                Ok(webhooks::claim_due(conn, Utc::now(), lease, limit)?)
            })
            .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
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
        Ok(claimed
            .into_iter()
            .map(|delivery| {
                let body = bodies.get(&delivery.event_id).cloned().unwrap_or_default();
                (delivery, body)
            })
            .collect())
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
        let (id, office_id) = (delivery.id, delivery.office_id);
        // Ahead of requests, as the mailer records its deliveries (`Store::autocommit_ahead`).
        self.store
            .autocommit_ahead(move |conn| -> Result<(), StoreError> {
                let outcome = Outcome {
                    state,
                    status,
                    error: error.as_deref(),
                    next_attempt_at: next,
                };
                Ok(webhooks::settle(
                    conn,
                    (office_id, id),
                    outcome,
                    Utc::now(),
                )?)
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
