//! The mail a benchmark's servers sent: waiting for their outbox to empty, and what arrived at
//! the SMTP server (`super::smtp`) against what the outbox says was sent.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use diesel::prelude::*;
use sportello::store::{Store, schema::mail_outbox};

use super::smtp::SmtpSink;

/// Waits until no message is waiting to be sent (at most `patience`); returns how long it took.
pub async fn drained(store: &Store, patience: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let waiting = store
            .read(|conn| -> anyhow::Result<i64> {
                Ok(mail_outbox::table
                    .filter(mail_outbox::status.eq_any(["pending", "sending"]))
                    .count()
                    .get_result(conn)?)
            })
            .await;
        // After a database restart, this pool's idle connections are gone: each fails once
        // and is replaced, as the service's own are.
        let waiting = match waiting {
            Ok(0) => return Ok(started.elapsed()),
            Ok(waiting) => waiting.to_string(),
            Err(error) => format!("unknown ({error})"),
        };
        anyhow::ensure!(
            started.elapsed() < patience,
            "{waiting} messages still waiting after {} s",
            patience.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The outbox against the SMTP server's mailbox.
pub struct Delivered {
    pub queued: i64,
    pub sent: usize,
    pub received: usize,
    /// Recipients of messages marked sent that the server never received.
    pub lost: usize,
    /// Recipients who received more than one message.
    pub doubled: usize,
    /// Of those, the ones whose messages had different Message-IDs (not one message resent).
    pub doubled_distinct: usize,
}

impl Delivered {
    pub async fn count(store: &Store, sink: &SmtpSink) -> anyhow::Result<Delivered> {
        let (sent, queued): (Vec<String>, i64) = store
            .read(|conn| -> anyhow::Result<_> {
                let sent = mail_outbox::table
                    .filter(mail_outbox::status.eq("sent"))
                    .select(mail_outbox::recipient)
                    .load(conn)?;
                Ok((sent, mail_outbox::table.count().get_result(conn)?))
            })
            .await?;
        let mut deliveries: HashMap<String, Vec<String>> = HashMap::new();
        for message in sink.received() {
            let id = message.parsed().message_id().unwrap_or_default().to_owned();
            for to in message.to {
                let address = to.trim_matches(|c| c == '<' || c == '>').to_owned();
                deliveries.entry(address).or_default().push(id.clone());
            }
        }
        Ok(Delivered {
            queued,
            sent: sent.len(),
            received: deliveries.values().map(Vec::len).sum(),
            lost: sent.iter().filter(|r| !deliveries.contains_key(*r)).count(),
            doubled: deliveries.values().filter(|ids| ids.len() > 1).count(),
            doubled_distinct: deliveries
                .values()
                .filter(|ids| ids.iter().collect::<HashSet<_>>().len() > 1)
                .count(),
        })
    }

    /// The report's line.
    pub fn line(&self) -> String {
        format!(
            "   mail: {} queued, {} marked sent, {} received at the SMTP server; lost {}, doubled {} \
             (of which two different messages: {})\n",
            self.queued, self.sent, self.received, self.lost, self.doubled, self.doubled_distinct
        )
    }
}

/// An instance's settings for delivering its mail (with its own worker) to `sink`.
pub fn delivering_to(sink_port: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("APP__MAIL__WORKER_ENABLED", "true"),
        ("APP__MAIL__SMTP_HOST", "127.0.0.1"),
        ("APP__MAIL__SMTP_PORT", sink_port),
        ("APP__MAIL__SMTP_SECURITY", "none"),
        ("APP__DATABASE__POOL_SIZE", "16"),
    ]
}
