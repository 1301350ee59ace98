//! Settings: `config/default.toml` (compiled in, so the binary runs from any folder), then
//! `config/$APP_ENV.toml`, then `APP__SECTION__KEY` environment variables, then the conventional
//! `DATABASE_URL` and `PORT`. Secrets may come from files (`*_FILE`), as container secrets do.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use config::{Config, Environment, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

const DEFAULT_TOML: &str = include_str!("../config/default.toml");

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
    pub workers: WorkersSettings,
    pub rate_limit: RateLimitSettings,
    pub cors: CorsSettings,
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

    fn check(&self) -> Result<(), SettingsError> {
        let secret = self.auth.jwt_secret.expose_secret();
        if self.is_production()
            && (secret == DEVELOPMENT_JWT_SECRET || secret.len() < MIN_PRODUCTION_SECRET_BYTES)
        {
            return Err(SettingsError::Invalid {
                setting: "auth.jwt_secret",
                message: format!(
                    "production needs a signing secret of at least {MIN_PRODUCTION_SECRET_BYTES} \
                     random bytes that is not the development default: set \
                     APP__AUTH__JWT_SECRET or APP__AUTH__JWT_SECRET_FILE"
                ),
            });
        }
        if self.is_production()
            && let Some(message) = unreachable_link_base(&self.mail.public_base_url)
        {
            return Err(SettingsError::Invalid {
                setting: "mail.public_base_url",
                message: format!(
                    "{message}: applicants open the links in their mail from their own phones; \
                     set APP__MAIL__PUBLIC_BASE_URL to the public https address of the site"
                ),
            });
        }
        let header = self.server.client_address_header.trim();
        if !header.is_empty() && self.server.client_address_header().is_none() {
            return Err(SettingsError::Invalid {
                setting: "server.client_address_header",
                message: format!("{header:?} is not a header name"),
            });
        }
        for origin in &self.cors.allowed_origins {
            let parsed = url::Url::parse(origin);
            let is_origin = parsed.as_ref().is_ok_and(|url| {
                matches!(url.scheme(), "http" | "https")
                    && url.path() == "/"
                    && url.query().is_none()
                    && origin.trim_end_matches('/') == url.origin().ascii_serialization()
            });
            if !is_origin {
                return Err(SettingsError::Invalid {
                    setting: "cors.allowed_origins",
                    message: format!("{origin:?} is not an origin like https://example.it"),
                });
            }
        }
        if !self.metrics.listen.is_empty()
            && self.metrics.listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(SettingsError::Invalid {
                setting: "metrics.listen",
                message: format!(
                    "{:?} is not an address like 127.0.0.1:9100",
                    self.metrics.listen
                ),
            });
        }
        if secret.is_empty() {
            return Err(SettingsError::Invalid {
                setting: "auth.jwt_secret",
                message: "is empty: set APP__AUTH__JWT_SECRET or APP__AUTH__JWT_SECRET_FILE".into(),
            });
        }
        let positive = [
            ("database.pool_size", u64::from(self.database.pool_size)),
            ("auth.token_ttl_seconds", self.auth.token_ttl_seconds),
            (
                "auth.login_max_failures",
                u64::from(self.auth.login_max_failures),
            ),
            (
                "auth.login_max_failures_per_client",
                u64::from(self.auth.login_max_failures_per_client),
            ),
            ("auth.login_window_seconds", self.auth.login_window_seconds),
            (
                "server.body_limit_bytes",
                self.server.body_limit_bytes as u64,
            ),
            (
                "booking.max_active_per_email",
                u64::from(self.booking.max_active_per_email),
            ),
            (
                "booking.housekeeping_interval_seconds",
                self.booking.housekeeping_interval_seconds,
            ),
            ("booking.idempotency_hours", self.booking.idempotency_hours),
            (
                "booking.case_max_guesses",
                u64::from(self.booking.case_max_guesses),
            ),
            (
                "booking.case_max_guesses_per_client",
                u64::from(self.booking.case_max_guesses_per_client),
            ),
            (
                "booking.case_guess_window_seconds",
                self.booking.case_guess_window_seconds,
            ),
            ("mail.poll_interval_ms", self.mail.poll_interval_ms),
            ("mail.batch_size", self.mail.batch_size.max(0) as u64),
            ("mail.send_concurrency", self.mail.send_concurrency as u64),
            ("mail.max_attempts", self.mail.max_attempts.max(0) as u64),
            ("mail.lease_seconds", self.mail.lease_seconds),
            ("webhooks.poll_interval_ms", self.webhooks.poll_interval_ms),
            (
                "webhooks.batch_size",
                self.webhooks.batch_size.max(0) as u64,
            ),
            ("webhooks.concurrency", self.webhooks.concurrency as u64),
            ("webhooks.timeout_seconds", self.webhooks.timeout_seconds),
            (
                "webhooks.max_attempts",
                self.webhooks.max_attempts.max(0) as u64,
            ),
            ("webhooks.lease_seconds", self.webhooks.lease_seconds),
            (
                "workers.stuck_after_seconds",
                self.workers.stuck_after_seconds,
            ),
        ];
        for (setting, value) in positive {
            if value == 0 {
                return Err(SettingsError::Invalid {
                    setting,
                    message: "must be greater than 0".into(),
                });
            }
        }
        Ok(())
    }
}

/// Why links built on `base` would not reach an applicant, if they would not: not https (the
/// links carry booking tokens), or a host only this machine or its network can reach.
fn unreachable_link_base(base: &str) -> Option<String> {
    use url::Host;
    let Ok(url) = url::Url::parse(base) else {
        return Some(format!("{base:?} is not a URL"));
    };
    if url.scheme() != "https" {
        return Some(format!("{base} is not https"));
    }
    let local = match url.host() {
        None => true,
        Some(Host::Domain(name)) => name == "localhost" || name.ends_with(".localhost"),
        Some(Host::Ipv4(ip)) => {
            ip.is_loopback() || ip.is_unspecified() || ip.is_private() || ip.is_link_local()
        }
        Some(Host::Ipv6(ip)) => ip.is_loopback() || ip.is_unspecified(),
    };
    local.then(|| format!("{base} is not a public address"))
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
