//! Background work each instance runs beside its HTTP server, and the supervisor that keeps it
//! running. The tasks keep no state of their own: everything is in the database, and every
//! step is safe with several instances at once.
//!
//! Each task beats its [`Pulse`] once a round. A task that panics or stops is logged, counted
//! and started again after a pause that grows while it keeps failing; `/ready` fails while a
//! task is down or has not finished a round for longer than it should (stuck), so a load
//! balancer and an operator both see it.

use std::{
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::Utc;

use crate::{
    config::Settings,
    store::Store,
    use_cases::{
        bookings::{self, Policy},
        closures, invitations, lottery,
        personal_data::{self, Retention},
        waitlist,
    },
};

#[derive(Clone)]
pub struct Housekeeping {
    pub every: Duration,
    /// How long idempotency records are kept.
    pub idempotency_ttl: chrono::Duration,
    /// When invitations are reminded, and how a seat they held cools down.
    pub policy: Policy,
    /// How long personal data is kept.
    pub retention: Retention,
}

impl Housekeeping {
    pub fn from_settings(settings: &Settings) -> Housekeeping {
        Housekeeping {
            every: Duration::from_secs(settings.booking.housekeeping_interval_seconds),
            idempotency_ttl: chrono::Duration::hours(settings.booking.idempotency_hours as i64),
            policy: Policy::from_settings(settings),
            retention: Retention::from_settings(
                &settings.retention,
                settings.mail.file_dir.clone(),
            ),
        }
    }
}

/// Puts cooled-down seats back on sale, forgets old idempotency records, reminds and expires
/// invitations, makes the lottery draws whose window has closed, asks for reconfirmations and
/// releases visits not reconfirmed, samples each service's lead time once a day,
/// offers free seats to the
/// waitlist, a round every `settings.every`, forever.
pub async fn housekeeping(store: Store, settings: Housekeeping, pulse: Arc<Pulse>) {
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
        match invitations::tidy(&store, &settings.policy, Utc::now()).await {
            Ok(tidied) if tidied == invitations::Tidied::default() => {}
            Ok(tidied) => tracing::info!(?tidied, "invitations reminded and expired"),
            Err(error) => tracing::warn!(?error, "invitation housekeeping failed; trying again"),
        }
        match lottery::draw::draw_due(&store, &settings.policy, Utc::now()).await {
            Ok(0) => {}
            Ok(drawn) => tracing::info!(drawn, "lottery draws made"),
            Err(error) => tracing::warn!(?error, "lottery draws failed; trying again next round"),
        }
        match bookings::reconfirm::tidy(&store, &settings.policy, Utc::now()).await {
            Ok(round) if round == bookings::reconfirm::Round::default() => {}
            Ok(round) => tracing::info!(?round, "reconfirmation asked and released"),
            Err(error) => tracing::warn!(?error, "reconfirmation failed; trying again next round"),
        }
        match crate::use_cases::indicators::sample_lead_times(&store, Utc::now()).await {
            Ok(0) => {}
            Ok(taken) => tracing::info!(taken, "lead times sampled"),
            Err(error) => {
                tracing::warn!(?error, "lead-time sampling failed; trying again next round")
            }
        }
        match personal_data::apply_retention(&store, &settings.retention, Utc::now()).await {
            Ok(purged) if purged == personal_data::Purged::default() => {}
            Ok(purged) => tracing::info!(?purged, "retention applied"),
            Err(error) => tracing::warn!(?error, "retention failed; trying again next round"),
        }
        // After the seats that cooled down went back on sale: they go to the waitlist first.
        match waitlist::offer_due(&store, &settings.policy, Utc::now()).await {
            Ok(round) if round == waitlist::Round::default() => {}
            Ok(round) => tracing::info!(?round, "waitlist offers made and lapsed"),
            Err(error) => tracing::warn!(?error, "waitlist round failed; trying again next round"),
        }
        // A round may read a lot (reminders, retention): its freed memory goes back.
        crate::memory::give_back();
        pulse.beat();
    }
}

/// How often an instance looks for closure jobs staff queued: they are waited for on screen.
pub const CLOSURE_JOBS_EVERY: Duration = Duration::from_secs(1);

/// Longest a closure job may take before its task counts as stuck: a job's lease.
pub const CLOSURE_JOB_LONGEST: Duration = Duration::from_secs(30 * 60);

/// Runs the closure jobs staff queued (closures whose bookings move or are cancelled), looking
/// every [`CLOSURE_JOBS_EVERY`], forever.
pub async fn closure_jobs(store: Store, policy: Policy, pulse: Arc<Pulse>) {
    let mut ticker = tokio::time::interval(CLOSURE_JOBS_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        closures::jobs::run_due(&store, &policy, Utc::now()).await;
        pulse.beat();
    }
}

/// A background task's signs of life.
#[derive(Debug)]
pub struct Pulse {
    name: &'static str,
    /// A round that takes longer than this means the task is stuck.
    stuck_after: Duration,
    running: AtomicBool,
    last_beat: Mutex<Instant>,
    restarts: AtomicU64,
}

impl Pulse {
    fn new(name: &'static str, stuck_after: Duration) -> Pulse {
        Pulse {
            name,
            stuck_after,
            // Watched from the moment its supervisor is about to start it.
            running: AtomicBool::new(true),
            last_beat: Mutex::new(Instant::now()),
            restarts: AtomicU64::new(0),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The task finished a round.
    pub fn beat(&self) {
        if let Ok(mut last) = self.last_beat.lock() {
            *last = Instant::now();
        }
    }

    /// How many times the supervisor has started the task again.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// What is wrong with the task now, if anything.
    pub fn trouble(&self) -> Option<String> {
        if !self.running.load(Ordering::Relaxed) {
            return Some(format!("the {} worker is down and restarting", self.name));
        }
        let silent = self.last_beat.lock().map(|last| last.elapsed()).ok()?;
        (silent > self.stuck_after).then(|| {
            format!(
                "the {} worker has not finished a round for {} s",
                self.name,
                silent.as_secs()
            )
        })
    }
}

/// The background tasks this instance runs, for readiness and the metrics.
#[derive(Debug, Default)]
pub struct Workers {
    pulses: Mutex<Vec<Arc<Pulse>>>,
}

impl Workers {
    /// Starts watching a task called `name`, stuck when a round takes longer than `stuck_after`.
    pub fn watch(&self, name: &'static str, stuck_after: Duration) -> Arc<Pulse> {
        let pulse = Arc::new(Pulse::new(name, stuck_after));
        if let Ok(mut pulses) = self.pulses.lock() {
            pulses.push(pulse.clone());
        }
        pulse
    }

    pub fn pulses(&self) -> Vec<Arc<Pulse>> {
        self.pulses.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// What is wrong with any of the tasks now.
    pub fn troubles(&self) -> Vec<String> {
        self.pulses().iter().filter_map(|p| p.trouble()).collect()
    }
}

/// How long the supervisor waits before starting a failed task again: `first`, doubling up to
/// `max` while the task keeps failing quickly.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    pub const STANDARD: Backoff = Backoff {
        first: Duration::from_secs(1),
        max: Duration::from_secs(60),
    };
}

/// Aborts the task when dropped, so that stopping the supervisor stops what it supervises.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs the task `start` makes, forever: when it panics or returns, says why in the log,
/// counts a restart and starts it again after a pause (see [`Backoff`]). Stop it by aborting.
pub async fn supervise<F, T>(pulse: Arc<Pulse>, backoff: Backoff, start: F)
where
    F: Fn(Arc<Pulse>) -> T,
    T: Future<Output = ()> + Send + 'static,
{
    let mut pause = backoff.first;
    loop {
        pulse.beat();
        pulse.running.store(true, Ordering::Relaxed);
        let started = Instant::now();
        let mut task = AbortOnDrop(tokio::spawn(start(pulse.clone())));
        let ended = (&mut task.0).await;
        pulse.running.store(false, Ordering::Relaxed);
        let worker = pulse.name;
        match ended {
            Err(error) if error.is_panic() => {
                let panic = error.into_panic();
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".to_owned());
                tracing::error!(worker, panic = %message, "background worker panicked; restarting");
            }
            Err(_) => tracing::error!(worker, "background worker was cancelled; restarting"),
            Ok(()) => tracing::error!(worker, "background worker stopped; restarting"),
        }
        if started.elapsed() > backoff.max {
            pause = backoff.first;
        }
        pulse.restarts.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(backoff.max);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    const QUICK: Backoff = Backoff {
        first: Duration::from_millis(20),
        max: Duration::from_millis(40),
    };

    async fn until(what: &str, mut condition: impl FnMut() -> bool) {
        for _ in 0..200 {
            if condition() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never happened: {what}");
    }

    #[tokio::test]
    async fn a_task_that_panics_is_started_again_and_counted() {
        let workers = Workers::default();
        let pulse = workers.watch("mail", Duration::from_secs(60));
        let starts = Arc::new(AtomicU32::new(0));
        let counted = starts.clone();
        let supervisor = tokio::spawn(supervise(pulse.clone(), QUICK, move |pulse| {
            let run = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if run < 2 {
                    panic!("bad luck {run}");
                }
                loop {
                    pulse.beat();
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }));
        until("the third start", || starts.load(Ordering::SeqCst) == 3).await;
        until("running again", || workers.troubles().is_empty()).await;
        assert_eq!(pulse.restarts(), 2);
        supervisor.abort();
    }

    #[tokio::test]
    async fn a_task_that_is_down_is_trouble_until_it_runs_again() {
        let workers = Workers::default();
        let pulse = workers.watch("mail", Duration::from_secs(60));
        let slow = Backoff {
            first: Duration::from_millis(300),
            max: Duration::from_millis(300),
        };
        let supervisor = tokio::spawn(supervise(pulse.clone(), slow, |_| async {
            panic!("always")
        }));
        until("down", || !workers.troubles().is_empty()).await;
        assert_eq!(
            workers.troubles(),
            ["the mail worker is down and restarting"]
        );
        supervisor.abort();
    }

    #[tokio::test]
    async fn a_task_that_does_not_finish_a_round_is_stuck() {
        let workers = Workers::default();
        let pulse = workers.watch("housekeeping", Duration::from_millis(50));
        let supervisor = tokio::spawn(supervise(pulse.clone(), QUICK, |_| async {
            // Never finishes a round.
            std::future::pending::<()>().await
        }));
        assert!(workers.troubles().is_empty());
        until("stuck", || !workers.troubles().is_empty()).await;
        assert!(
            workers.troubles()[0].contains("has not finished a round"),
            "{:?}",
            workers.troubles()
        );
        supervisor.abort();
    }

    #[tokio::test]
    async fn stopping_the_supervisor_stops_the_task() {
        let pulse = Workers::default().watch("mail", Duration::from_secs(60));
        let beats = Arc::new(AtomicU32::new(0));
        let counted = beats.clone();
        let supervisor = tokio::spawn(supervise(pulse, QUICK, move |_| {
            let beats = counted.clone();
            async move {
                loop {
                    beats.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }));
        until("running", || beats.load(Ordering::SeqCst) > 2).await;
        supervisor.abort();
        let _ = supervisor.await;
        let after_stop = beats.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(beats.load(Ordering::SeqCst), after_stop);
    }
}
