//! What settings must hold before the service starts: secrets set in production, limits
//! above zero, mail links that reach applicants.

use secrecy::ExposeSecret;

use super::{DEVELOPMENT_JWT_SECRET, MIN_PRODUCTION_SECRET_BYTES, Settings, SettingsError};

impl Settings {
    pub(super) fn check(&self) -> Result<(), SettingsError> {
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
                "retention.bookings_months",
                u64::from(self.retention.bookings_months),
            ),
            (
                "retention.outbox_days",
                u64::from(self.retention.outbox_days),
            ),
            (
                "retention.audit_years",
                u64::from(self.retention.audit_years),
            ),
            ("retention.batch_size", u64::from(self.retention.batch_size)),
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
            (
                "booking.proof_of_work_min_counter",
                u64::from(self.booking.proof_of_work_min_counter),
            ),
            (
                "booking.proof_of_work_lifetime_seconds",
                self.booking.proof_of_work_lifetime_seconds,
            ),
            (
                "booking.waitlist_hold_minutes",
                self.booking.waitlist_hold_minutes,
            ),
            (
                "booking.waitlist_batch_size",
                u64::from(self.booking.waitlist_batch_size),
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
