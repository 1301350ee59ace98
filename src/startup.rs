//! Building the server: open and migrate the database, bind the listener, start the workers.
//! Tests build it the same way on port 0.

use std::{net::TcpListener, sync::Arc, time::Duration};

use actix_web::{
    HttpServer,
    dev::{Server, ServerHandle},
    web,
};
use anyhow::Context;

use crate::{
    auth::{
        password::{self, Hasher},
        token::Tokens,
    },
    config::Settings,
    http::{self, AppState, limits::Limits, telemetry::Metrics},
    mail::Mailer,
    store::Store,
    use_cases::{bookings::Policy, login::LoginThrottle},
    webhooks::WebhookWorker,
    worker::{self, Backoff, Housekeeping, Workers},
};

pub struct Application {
    port: u16,
    server: Server,
    /// The separate metrics listener (`metrics.listen`) and its port.
    metrics: Option<(Server, u16)>,
    store: Store,
    housekeeping: Housekeeping,
    /// The mail worker, when it runs inside this process (`mail.worker_enabled`).
    mailer: Option<Arc<Mailer>>,
    /// The webhook worker, when it runs inside this process (`webhooks.worker_enabled`).
    webhooks: Option<Arc<WebhookWorker>>,
    workers: Arc<Workers>,
    stuck_after: Duration,
}

impl Application {
    pub async fn build(settings: &Settings) -> anyhow::Result<Application> {
        let store = Store::open(&settings.database).context("cannot open the database")?;
        let applied = store
            .migrate()
            .await
            .context("cannot migrate the database")?;
        tracing::info!(backend = ?store.backend(), migrations_applied = applied, "database ready");
        tokio::task::spawn_blocking(password::warm_up).await?;

        let workers = Arc::new(Workers::default());
        let state = web::Data::new(AppState {
            workers: workers.clone(),
            store: store.clone(),
            offer: Default::default(),
            tokens: Tokens::new(&settings.auth),
            hasher: Hasher::from_settings(&settings.auth),
            throttle: LoginThrottle {
                max_failures: settings.auth.login_max_failures,
                max_failures_per_client: settings.auth.login_max_failures_per_client,
                window: Duration::from_secs(settings.auth.login_window_seconds),
            },
            metrics: Arc::new(Metrics::new()?),
            limits: Limits::from_settings(&settings.rate_limit, &settings.server),
            metrics_token: settings.metrics.token.clone(),
            hsts: http::headers::hsts(settings.server.hsts_max_age_seconds),
            cors: settings.cors.clone(),
            body_limit: settings.server.body_limit_bytes,
            booking_policy: Policy::from_settings(settings),
            letter_cost_cents: i64::from(settings.evaluation.registered_letter_cost_cents),
            pages: crate::web::Pages::new(
                &settings.pages.prefix,
                crate::auth::csrf::CsrfKey::derive(&settings.auth.jwt_secret),
            )?,
        });
        let document = http::OpenApiJson::committed();
        let route_table = web::Data::new(document.route_table()?);
        let document = web::Data::new(document);

        let address = (settings.server.host.as_str(), settings.server.port);
        let listener = TcpListener::bind(address)
            .with_context(|| format!("cannot listen on {}:{}", address.0, address.1))?;
        let port = listener.local_addr()?.port();
        let http_workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let metrics = match settings.metrics.listen.as_str() {
            "" => None,
            address => Some(metrics_server(address, state.clone())?),
        };
        let server = HttpServer::new(move || {
            http::app(state.clone(), route_table.clone(), document.clone())
        })
        .workers(http_workers)
        .h1_write_buffer_size(http::sending::FLUSH_FROM)
        .on_connect(http::sending::no_delay)
        .shutdown_timeout(settings.server.shutdown_timeout_seconds)
        .listen(listener)?
        .run();
        let housekeeping = Housekeeping::from_settings(settings);
        let mailer = match settings.mail.worker_enabled {
            true => Some(Arc::new(Mailer::new(settings, store.clone())?)),
            false => None,
        };
        let webhooks = match settings.webhooks.worker_enabled {
            true => Some(Arc::new(WebhookWorker::new(
                &settings.webhooks,
                store.clone(),
            )?)),
            false => None,
        };
        Ok(Application {
            port,
            server,
            metrics,
            store,
            housekeeping,
            mailer,
            webhooks,
            workers,
            stuck_after: Duration::from_secs(settings.workers.stuck_after_seconds),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the separate metrics listener, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stops the server from elsewhere (tests); SIGTERM does the same for the binary.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped, with the background workers supervised beside it. On SIGTERM or
    /// SIGINT it stops accepting connections and lets in-flight requests finish (up to
    /// `server.shutdown_timeout_seconds`).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let workers = run_workers(
            &self.workers,
            self.stuck_after,
            self.store.clone(),
            self.housekeeping,
            self.mailer,
            self.webhooks,
        );
        let metrics = self.metrics.map(|(server, _)| {
            let handle = server.handle();
            tokio::spawn(server);
            handle
        });
        let served = self.server.await;
        if let Some(metrics) = metrics {
            metrics.stop(true).await;
        }
        // A message cut off mid-send stays claimed until its lease lapses, then goes again
        // with the same Message-ID.
        for worker in workers {
            worker.abort();
        }
        served
    }
}

/// Starts housekeeping, closure jobs and, when given, mail and webhook delivery, each under a supervisor that restarts it
/// if it fails, and stuck when a round ends more than `stuck_after` after it was due; returns
/// the supervisors (abort them to stop the workers).
pub fn run_workers(
    workers: &Workers,
    stuck_after: Duration,
    store: Store,
    housekeeping: Housekeeping,
    mailer: Option<Arc<Mailer>>,
    webhooks: Option<Arc<WebhookWorker>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let pulse = workers.watch("housekeeping", housekeeping.every + stuck_after);
    let (jobs_store, policy) = (store.clone(), housekeeping.policy.clone());
    let mut running = vec![tokio::spawn(worker::supervise(
        pulse,
        Backoff::STANDARD,
        move |pulse| worker::housekeeping(store.clone(), housekeeping.clone(), pulse),
    ))];
    let pulse = workers.watch("closure jobs", worker::CLOSURE_JOB_LONGEST + stuck_after);
    running.push(tokio::spawn(worker::supervise(
        pulse,
        Backoff::STANDARD,
        move |pulse| worker::closure_jobs(jobs_store.clone(), policy.clone(), pulse),
    )));
    if let Some(mailer) = mailer {
        let pulse = workers.watch("mail", mailer.poll_interval() + stuck_after);
        running.push(tokio::spawn(worker::supervise(
            pulse,
            Backoff::STANDARD,
            move |pulse| mailer.clone().run(pulse),
        )));
    }
    if let Some(webhooks) = webhooks {
        let pulse = workers.watch("webhooks", webhooks.poll_interval() + stuck_after);
        running.push(tokio::spawn(worker::supervise(
            pulse,
            Backoff::STANDARD,
            move |pulse| webhooks.clone().run(pulse),
        )));
    }
    running
}

/// A listener that serves `GET /metrics` to anyone who can reach `address`: for a scraper inside
/// the cluster, on an address the public cannot reach.
fn metrics_server(address: &str, state: web::Data<AppState>) -> anyhow::Result<(Server, u16)> {
    let listener = TcpListener::bind(address)
        .with_context(|| format!("cannot listen for metrics on {address}"))?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        actix_web::App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(http::ops::open_metrics))
    })
    .workers(1)
    .listen(listener)?
    .run();
    Ok((server, port))
}
