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
    auth::{LoginThrottle, password, token::Tokens},
    config::Settings,
    http::{self, AppState, fallback::RouteTable, telemetry::Metrics},
    store::Store,
};

pub struct Application {
    port: u16,
    server: Server,
    store: Store,
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

        let state = web::Data::new(AppState {
            store: store.clone(),
            tokens: Tokens::new(&settings.auth),
            throttle: LoginThrottle {
                max_failures: settings.auth.login_max_failures,
                window: Duration::from_secs(settings.auth.login_window_seconds),
            },
            metrics: Arc::new(Metrics::new()?),
            body_limit: settings.server.body_limit_bytes,
        });
        let route_table = web::Data::new(RouteTable::from_openapi(&http::openapi()));

        let address = (settings.server.host.as_str(), settings.server.port);
        let listener = TcpListener::bind(address)
            .with_context(|| format!("cannot listen on {}:{}", address.0, address.1))?;
        let port = listener.local_addr()?.port();
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let server = HttpServer::new(move || http::app(state.clone(), route_table.clone()))
            .workers(workers)
            .shutdown_timeout(settings.server.shutdown_timeout_seconds)
            .listen(listener)?
            .run();
        Ok(Application {
            port,
            server,
            store,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stops the server from elsewhere (tests); SIGTERM does the same for the binary.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped. On SIGTERM or SIGINT it stops accepting connections and lets
    /// in-flight requests finish (up to `server.shutdown_timeout_seconds`).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
