//! Password hashing with Argon2id (the crate's defaults: 19 MiB, 2 passes), stored as PHC strings.
//! Requests hash through a [`Hasher`], which runs a bounded number of them at once.

use std::{
    sync::{Arc, LazyLock},
    time::Duration,
};

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};
use secrecy::{ExposeSecret, SecretString};

use crate::domain::staff::NewPassword;

/// A real hash of a password nobody has, checked when the email is unknown so that such a login
/// takes as long as a wrong password does.
static EQUALISER_HASH: LazyLock<String> = LazyLock::new(|| {
    Argon2::default()
        .hash_password(b"no account has this password; it only equalises login time")
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

pub fn hash(password: &NewPassword) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password.secret().expose_secret().as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `candidate` matches `stored`; with no stored hash, does the same work and says no.
pub fn verify(candidate: &SecretString, stored: Option<&str>) -> bool {
    let hash_text = stored.unwrap_or(EQUALISER_HASH.as_str());
    let Ok(parsed) = PasswordHash::new(hash_text) else {
        tracing::error!("a stored password hash is not a valid PHC string");
        return false;
    };
    let matches = Argon2::default()
        .verify_password(candidate.expose_secret().as_bytes(), &parsed)
        .is_ok();
    matches && stored.is_some()
}

/// Where requests hash and check passwords: off the async threads, at most `concurrency` at a
/// time. Each check holds 19 MiB while it runs, so a flood of logins waits its turn here
/// (up to `queue_timeout`, then [`HashingError::Busy`]) instead of growing the process's memory
/// by 19 MiB a request.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<tokio::sync::Semaphore>,
    queue_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    #[error("too many password checks are waiting")]
    Busy,
    #[error(transparent)]
    Failed(anyhow::Error),
}

impl Hasher {
    pub fn from_settings(settings: &crate::config::AuthSettings) -> Hasher {
        let concurrency = match settings.max_concurrent_password_checks {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let queue_timeout = Duration::from_millis(settings.password_check_queue_ms);
        Hasher::new(concurrency, queue_timeout)
    }

    pub fn new(concurrency: usize, queue_timeout: Duration) -> Hasher {
        return_large_blocks_to_the_system();
        Hasher {
            permits: Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
            queue_timeout,
        }
    }

    /// See [`verify`].
    pub async fn verify(
        &self,
        candidate: SecretString,
        stored: Option<String>,
    ) -> Result<bool, HashingError> {
        self.run(move || Ok(verify(&candidate, stored.as_deref())))
            .await
    }

    /// See [`hash`].
    pub async fn hash(&self, password: NewPassword) -> Result<String, HashingError> {
        self.run(move || hash(&password).map_err(|e| HashingError::Failed(e.into())))
            .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashingError> + Send + 'static,
    ) -> Result<T, HashingError> {
        let permit = tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| HashingError::Busy)?
            .map_err(|e| HashingError::Failed(e.into()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| HashingError::Failed(e.into()))?
    }
}

/// Argon2 allocates 19 MiB for every check: those blocks must go back to the system when
/// freed (see [`crate::memory::settle`]), also where no server started (the tests, the CLI).
fn return_large_blocks_to_the_system() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(crate::memory::settle);
}

/// Computes the equaliser hash now rather than on the first login with an unknown email.
pub fn warm_up() {
    LazyLock::force(&EQUALISER_HASH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_accepts_its_password_only() {
        let password = NewPassword::parse("correct horse battery staple").unwrap();
        let stored = hash(&password).unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify(
            &SecretString::from("correct horse battery staple"),
            Some(&stored)
        ));
        assert!(!verify(
            &SecretString::from("correct horse battery stapler"),
            Some(&stored)
        ));
    }

    #[tokio::test]
    async fn the_hasher_runs_so_many_at_once_and_turns_away_who_waits_too_long() {
        let hasher = Hasher::new(1, Duration::from_millis(1));
        let password = || NewPassword::parse("correct horse battery staple").unwrap();
        let (first, second) = tokio::join!(hasher.hash(password()), hasher.hash(password()));
        assert!(first.is_ok() != second.is_ok(), "one waited too long");
        assert!(first.or(second).is_ok());

        let patient = Hasher::new(1, Duration::from_secs(30));
        let (first, second) = tokio::join!(patient.hash(password()), patient.hash(password()));
        assert!(first.is_ok() && second.is_ok());
    }

    #[test]
    fn no_stored_hash_never_matches_not_even_the_equaliser_password() {
        let equaliser = "no account has this password; it only equalises login time";
        assert!(!verify(&SecretString::from(equaliser), None));
    }
}
