//! Where messages go: an SMTP server when one is configured, otherwise `.eml` files (the
//! embedded default), one per Message-ID, so a message sent twice is one file.

use std::{path::PathBuf, time::Duration};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    transport::smtp::{PoolConfig, authentication::Credentials},
};
use secrecy::ExposeSecret;

use crate::config::{MailSettings, SmtpSecurity};

/// Why a message was not handed over.
pub struct Refusal {
    pub reason: String,
    /// The server refused it for good (a 5xx reply, such as an unknown recipient): trying again
    /// would be refused again, so the message bounced.
    pub permanent: bool,
}

impl Refusal {
    fn transient(reason: String) -> Refusal {
        Refusal {
            reason,
            permanent: false,
        }
    }
}

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

impl Transport {
    pub fn from_settings(
        settings: &MailSettings,
    ) -> Result<Transport, lettre::transport::smtp::Error> {
        if settings.smtp_host.trim().is_empty() {
            return Ok(Transport::Files(settings.file_dir.clone()));
        }
        let host = settings.smtp_host.trim();
        let mut builder = match settings.smtp_security {
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        }
        .port(settings.smtp_port)
        .timeout(Some(Duration::from_secs(settings.smtp_timeout_seconds)))
        .pool_config(PoolConfig::new().max_size(settings.smtp_pool_size));
        if !settings.smtp_username.is_empty() {
            builder = builder.credentials(Credentials::new(
                settings.smtp_username.clone(),
                settings.smtp_password.expose_secret().to_owned(),
            ));
        }
        Ok(Transport::Smtp(builder.build()))
    }

    /// Hands the message over. A refusal is worth retrying later unless it is permanent.
    pub async fn send(&self, message: &Message, message_id: &str) -> Result<(), Refusal> {
        match self {
            Transport::Smtp(smtp) => {
                smtp.send(message.clone())
                    .await
                    .map(|_| ())
                    .map_err(|error| Refusal {
                        permanent: error.is_permanent(),
                        reason: error.to_string(),
                    })
            }
            Transport::Files(folder) => {
                let name: String = message_id
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let path = folder.join(format!("{name}.eml"));
                tokio::fs::create_dir_all(folder)
                    .await
                    .map_err(|e| Refusal::transient(format!("{}: {e}", folder.display())))?;
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(|e| Refusal::transient(format!("{}: {e}", path.display())))?;
                tracing::info!(path = %path.display(), "mail written to a file (no SMTP server configured)");
                Ok(())
            }
        }
    }
}
