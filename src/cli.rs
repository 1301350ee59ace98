//! The `sportello` command: `serve` (the default), `migrate`, `admin create`, `openapi`.

use std::io::BufRead;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::{Parser, Subcommand};

use crate::{
    config::Settings,
    domain::staff::{EmailAddress, NewPassword},
    logging,
    mail::Mailer,
    startup::Application,
    store::Store,
    use_cases::staff,
    worker::Housekeeping,
};

#[derive(Parser)]
#[command(
    name = "sportello",
    version,
    about = "Self-booked appointments for one-stop immigration offices"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (the default). Applies pending migrations first.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage staff accounts from the command line.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Run only the background work (mail delivery, housekeeping), without HTTP: for running
    /// it apart from the web instances. Stops on SIGTERM or Ctrl-C.
    Worker,
}

#[derive(Subcommand)]
enum AdminAction {
    /// Create a national administrator account.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input (so it stays out of the
        /// shell history and the process list).
        #[arg(long)]
        password_stdin: bool,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::Migrate => migrate().await,
        Command::Admin {
            action:
                AdminAction::Create {
                    email,
                    password_stdin,
                },
        } => create_admin(&email, password_stdin).await,
        Command::Worker => worker().await,
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&crate::http::openapi())?);
            Ok(())
        }
    }
}

fn settings() -> anyhow::Result<Settings> {
    let settings = Settings::load()?;
    logging::init(&settings.log);
    Ok(settings)
}

async fn serve() -> anyhow::Result<()> {
    crate::memory::settle();
    let settings = settings()?;
    let app = Application::build(&settings).await?;
    crate::memory::give_back();
    tracing::info!(
        address = format!("http://{}:{}", settings.server.host, app.port()),
        environment = %settings.environment,
        "sportello is listening; API docs at /docs"
    );
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn worker() -> anyhow::Result<()> {
    crate::memory::settle();
    let settings = settings()?;
    let store = Store::open(&settings.database)?;
    store.migrate().await?;
    let mailer = std::sync::Arc::new(Mailer::new(&settings, store.clone())?);
    let store_for_webhooks = store.clone();
    let running = crate::startup::run_workers(
        &crate::worker::Workers::default(),
        std::time::Duration::from_secs(settings.workers.stuck_after_seconds),
        store,
        Housekeeping::from_settings(&settings),
        Some(mailer),
        Some(std::sync::Arc::new(crate::webhooks::WebhookWorker::new(
            &settings.webhooks,
            store_for_webhooks,
        )?)),
    );
    tracing::info!("sportello worker running: mail and webhook delivery, housekeeping");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    for worker in running {
        worker.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

async fn migrate() -> anyhow::Result<()> {
    let settings = settings()?;
    let store = Store::open(&settings.database)?;
    let applied = store.migrate().await?;
    println!("applied {applied} migration(s)");
    Ok(())
}

async fn create_admin(email: &str, password_stdin: bool) -> anyhow::Result<()> {
    if !password_stdin {
        bail!("pass the password on standard input with --password-stdin");
    }
    let email = EmailAddress::parse(email).map_err(|reason| anyhow::anyhow!("--email {reason}"))?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = NewPassword::parse(line.trim_end_matches(['\r', '\n']))
        .map_err(|reason| anyhow::anyhow!("the password {reason}"))?;

    let settings = settings()?;
    let store = Store::open(&settings.database)?;
    store.migrate().await?;
    let hasher = crate::auth::password::Hasher::from_settings(&settings.auth);
    let admin = staff::create_admin(&store, &hasher, email, password, Utc::now()).await?;
    println!("created admin {} (id {})", admin.email, admin.id);
    Ok(())
}
