//! Background work each instance runs beside its HTTP server. It keeps no state of its own:
//! everything is in the database, and every step is safe with several instances at once.

use std::time::Duration;

use chrono::Utc;

use crate::{config::Settings, store::Store, use_cases::bookings};

#[derive(Debug, Clone, Copy)]
pub struct Housekeeping {
    pub every: Duration,
    /// How long idempotency records are kept.
    pub idempotency_ttl: chrono::Duration,
}

impl Housekeeping {
    pub fn from_settings(settings: &Settings) -> Housekeeping {
        Housekeeping {
            every: Duration::from_secs(settings.booking.housekeeping_interval_seconds),
            idempotency_ttl: chrono::Duration::hours(settings.booking.idempotency_hours as i64),
        }
    }
}

/// Puts cooled-down seats back on sale and forgets old idempotency records, forever.
pub async fn housekeeping(store: Store, settings: Housekeeping) {
    let mut ticker = tokio::time::interval(settings.every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let done = bookings::tidy(&store, settings.idempotency_ttl, Utc::now()).await;
        match done {
            Ok((0, 0)) => {}
            Ok((released, forgotten)) => tracing::info!(released, forgotten, "housekeeping"),
            Err(error) => tracing::warn!(?error, "housekeeping failed; trying again next round"),
        }
    }
}
