//! Settings: `config/default.toml` (compiled in, so the binary runs from any folder), then
//! `config/$APP_ENV.toml`, then `APP__SECTION__KEY` environment variables, then the conventional
//! `DATABASE_URL` and `PORT`. Secrets may come from files (`*_FILE`), as container secrets do.

mod check;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use config::{Config, Environment, File, FileFormat};
use secrecy::SecretString;
use serde::Deserialize;

const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// The JWT secret shipped in `config/default.toml`; production refuses to run with it.
const DEVELOPMENT_JWT_SECRET: &str = "insecure-development-secret-change-me";
const MIN_PRODUCTION_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// `APP_ENV`: `development` unless set; `production` turns on the safety checks.
    #[serde(skip)]
    pub environment: String,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub booking: BookingSettings,
    pub retention: RetentionSettings,
    pub evaluation: EvaluationSettings,
    pub workers: WorkersSettings,
    pub rate_limit: RateLimitSettings,
    pub cors: CorsSettings,
    pub pages: PagesSettings,
    pub metrics: MetricsSettings,
    pub mail: MailSettings,
    pub webhooks: WebhookSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub shutdown_timeout_seconds: u64,
    pub body_limit_bytes: usize,
    /// Behind a reverse proxy, the header it puts the client's address in; empty: none.
    pub client_address_header: String,
    pub hsts_max_age_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagesSettings {
    /// The path the applicant pages live under: empty for `/`, or such as `/prenota`.
    pub prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsSettings {
    pub allowed_origins: Vec<String>,
    pub max_age_seconds: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub token: SecretString,
    pub token_file: Option<PathBuf>,
    pub listen: String,
}

impl ServerSettings {
    /// The header client addresses are read from, if one is configured (and valid: `check`
    /// refuses to start otherwise).
    pub fn client_address_header(&self) -> Option<actix_web::http::header::HeaderName> {
        let name = self.client_address_header.trim();
        (!name.is_empty())
            .then(|| actix_web::http::header::HeaderName::try_from(name).ok())
            .flatten()
    }
}

/// Requests per minute per client address and group of routes, with bursts (see
/// `http::limits`); 0 turns a group off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub login_per_minute: u32,
    pub login_burst: u32,
    pub bookings_per_minute: u32,
    pub bookings_burst: u32,
    pub staff_per_minute: u32,
    pub staff_burst: u32,
    pub public_per_minute: u32,
    pub public_burst: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub url_file: Option<PathBuf>,
    pub pool_size: u32,
    pub pool_timeout_seconds: u64,
    pub sqlite_busy_timeout_ms: u64,
    pub postgres_lock_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub jwt_secret: SecretString,
    pub jwt_secret_file: Option<PathBuf>,
    pub issuer: String,
    pub audience: String,
    pub token_ttl_seconds: u64,
    pub login_max_failures: u32,
    pub login_max_failures_per_client: u32,
    pub login_window_seconds: u64,
    pub max_concurrent_password_checks: usize,
    pub password_check_queue_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingSettings {
    pub max_active_per_email: u32,
    pub max_moves_per_booking: u32,
    pub seat_cooldown_seconds: u64,
    pub housekeeping_interval_seconds: u64,
    pub idempotency_hours: u64,
    pub case_max_guesses: u32,
    pub case_max_guesses_per_client: u32,
    pub case_guess_window_seconds: u64,
    pub proof_of_work_min_counter: u32,
    pub proof_of_work_max_counter: u32,
    pub proof_of_work_lifetime_seconds: u64,
    pub waitlist_hold_minutes: u64,
    pub waitlist_max_offers: u32,
    pub waitlist_batch_size: u32,
}

/// How long personal data is kept (see `config/default.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    pub bookings_months: u32,
    pub outbox_days: u32,
    pub audit_years: u32,
    pub batch_size: u32,
}

/// What the pilot evaluation counts in money (see `config/default.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationSettings {
    pub registered_letter_cost_cents: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkersSettings {
    pub stuck_after_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub from: String,
    pub public_base_url: String,
    pub file_dir: PathBuf,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_security: SmtpSecurity,
    pub smtp_username: String,
    pub smtp_password: SecretString,
    pub smtp_password_file: Option<PathBuf>,
    pub smtp_timeout_seconds: u64,
    pub smtp_pool_size: u32,
    pub worker_enabled: bool,
    pub poll_interval_ms: u64,
    pub batch_size: i64,
    pub send_concurrency: usize,
    pub max_attempts: i32,
    pub retry_base_seconds: u64,
    pub retry_max_seconds: u64,
    pub lease_seconds: u64,
    pub reminder_hours_before: u64,
    pub invitation_reminder_hours_before: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub worker_enabled: bool,
    pub poll_interval_ms: u64,
    pub batch_size: i64,
    pub concurrency: usize,
    pub timeout_seconds: u64,
    pub max_attempts: i32,
    pub retry_base_seconds: u64,
    pub lease_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration: {setting} names {path}, which cannot be read: {source}")]
    SecretFile {
        setting: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration: {setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

impl Settings {
    /// Loads the settings from `./config` (or `APP_CONFIG_DIR`) and this process's environment.
    pub fn load() -> Result<Settings, SettingsError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let dir = env
            .get("APP_CONFIG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("config"));
        Self::load_from(&dir, &env)
    }

    /// The compiled-in defaults alone, untouched by files or environment (tests start from here).
    pub fn defaults() -> Result<Settings, SettingsError> {
        Self::load_from(Path::new("/nonexistent"), &HashMap::new())
    }

    /// Loads the settings from `config_dir` and the given environment variables.
    pub fn load_from(
        config_dir: &Path,
        env: &HashMap<String, String>,
    ) -> Result<Settings, SettingsError> {
        let explicit_env = env.get("APP_ENV").filter(|name| !name.is_empty());
        let environment = explicit_env
            .cloned()
            .unwrap_or_else(|| "development".to_owned());
        let env_file = config_dir.join(format!("{environment}.toml"));
        if explicit_env.is_some() && config_dir.exists() && !env_file.exists() {
            return Err(SettingsError::Invalid {
                setting: "APP_ENV",
                message: format!("{} does not exist", env_file.display()),
            });
        }

        let config = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .add_source(File::from(env_file).required(false))
            .add_source(
                Environment::with_prefix("APP")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("cors.allowed_origins")
                    .source(Some(env.clone().into_iter().collect())),
            )
            .set_override_option("database.url", env.get("DATABASE_URL").cloned())?
            .set_override_option("database.url_file", env.get("DATABASE_URL_FILE").cloned())?
            .set_override_option("server.port", env.get("PORT").cloned())?
            .build()?;

        let mut settings: Settings = config.try_deserialize()?;
        settings.environment = environment;
        settings.read_secret_files()?;
        settings.check()?;
        Ok(settings)
    }

    pub fn is_production(&self) -> bool {
        self.environment == "production"
    }

    fn read_secret_files(&mut self) -> Result<(), SettingsError> {
        if let Some(path) = &self.database.url_file {
            self.database.url = read_secret("database.url_file", path)?;
        }
        if let Some(path) = &self.auth.jwt_secret_file {
            self.auth.jwt_secret = read_secret("auth.jwt_secret_file", path)?;
        }
        if let Some(path) = &self.mail.smtp_password_file {
            self.mail.smtp_password = read_secret("mail.smtp_password_file", path)?;
        }
        if let Some(path) = &self.metrics.token_file {
            self.metrics.token = read_secret("metrics.token_file", path)?;
        }
        Ok(())
    }
}

fn read_secret(setting: &'static str, path: &Path) -> Result<SecretString, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::SecretFile {
        setting,
        path: path.to_owned(),
        source,
    })?;
    Ok(SecretString::from(
        text.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn repo_config() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    #[test]
    fn defaults_serve_sqlite_on_localhost() {
        let s = Settings::defaults().unwrap();
        assert_eq!(s.environment, "development");
        assert_eq!(s.server.port, 8080);
        assert_eq!(s.database.url.expose_secret(), "sqlite://data/sportello.db");
        assert_eq!(s.auth.token_ttl_seconds, 3600);
    }

    #[test]
    fn environment_variables_override_files_and_conventional_names_win() {
        let s = Settings::load_from(
            &repo_config(),
            &env(&[
                ("APP__SERVER__PORT", "9000"),
                ("APP__AUTH__TOKEN_TTL_SECONDS", "60"),
                ("APP__DATABASE__URL", "sqlite://elsewhere.db"),
                ("DATABASE_URL", "postgres://localhost/sportello"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.port, 9000);
        assert_eq!(s.auth.token_ttl_seconds, 60);
        assert_eq!(
            s.database.url.expose_secret(),
            "postgres://localhost/sportello"
        );

        let s = Settings::load_from(&repo_config(), &env(&[("PORT", "7001")])).unwrap();
        assert_eq!(s.server.port, 7001);
    }

    #[test]
    fn secrets_are_read_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("jwt");
        let url = dir.path().join("db");
        std::fs::write(&secret, "s".repeat(40) + "\n").unwrap();
        std::fs::write(&url, "postgres://db.internal/sportello\n").unwrap();
        let s = Settings::load_from(
            &repo_config(),
            &env(&[
                ("APP__AUTH__JWT_SECRET_FILE", secret.to_str().unwrap()),
                ("DATABASE_URL_FILE", url.to_str().unwrap()),
            ]),
        )
        .unwrap();
        assert_eq!(s.auth.jwt_secret.expose_secret(), &"s".repeat(40));
        assert_eq!(
            s.database.url.expose_secret(),
            "postgres://db.internal/sportello"
        );

        let missing = Settings::load_from(
            &repo_config(),
            &env(&[("APP__AUTH__JWT_SECRET_FILE", "/no/such/file")]),
        )
        .unwrap_err()
        .to_string();
        assert!(missing.contains("auth.jwt_secret_file"), "{missing}");
    }

    #[test]
    fn production_refuses_the_default_or_empty_secret_and_names_the_setting() {
        for extra in [None, Some(DEVELOPMENT_JWT_SECRET), Some("short")] {
            let mut vars = env(&[("APP_ENV", "production")]);
            if let Some(secret) = extra {
                vars.insert("APP__AUTH__JWT_SECRET".into(), secret.into());
            }
            let err = Settings::load_from(&repo_config(), &vars)
                .unwrap_err()
                .to_string();
            assert!(err.contains("APP__AUTH__JWT_SECRET"), "{err}");
        }
        let ok = Settings::load_from(
            &repo_config(),
            &env(&[
                ("APP_ENV", "production"),
                ("APP__AUTH__JWT_SECRET", &"k".repeat(48)),
                (
                    "APP__MAIL__PUBLIC_BASE_URL",
                    "https://prenota.interno.gov.it",
                ),
            ]),
        )
        .unwrap();
        assert!(ok.is_production());
        assert_eq!(ok.server.host, "0.0.0.0");
        assert_eq!(ok.log.format, LogFormat::Json);
    }

    #[test]
    fn production_refuses_mail_links_that_would_lead_nowhere() {
        for base in [
            "http://127.0.0.1:8080",
            "https://localhost",
            "https://app.localhost:8443",
            "https://127.0.0.1",
            "https://[::1]",
            "https://10.1.2.3",
            "https://0.0.0.0",
            "http://prenota.interno.gov.it",
            "prenota.interno.gov.it",
        ] {
            let err = Settings::load_from(
                &repo_config(),
                &env(&[
                    ("APP_ENV", "production"),
                    ("APP__AUTH__JWT_SECRET", &"k".repeat(48)),
                    ("APP__MAIL__PUBLIC_BASE_URL", base),
                ]),
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains("mail.public_base_url"), "{base}: {err}");
        }
        // Development keeps its local links.
        let dev = Settings::load_from(&repo_config(), &env(&[])).unwrap();
        assert_eq!(dev.mail.public_base_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn an_unknown_environment_or_setting_is_an_error() {
        let err = Settings::load_from(&repo_config(), &env(&[("APP_ENV", "prodution")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("prodution.toml"), "{err}");
        let err = Settings::load_from(&repo_config(), &env(&[("APP__SERVER__PROT", "1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("prot"), "{err}");
    }
}
