//! Password hashing with Argon2id (the crate's defaults: 19 MiB, 2 passes), stored as PHC strings.

use std::sync::LazyLock;

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

    #[test]
    fn no_stored_hash_never_matches_not_even_the_equaliser_password() {
        let equaliser = "no account has this password; it only equalises login time";
        assert!(!verify(&SecretString::from(equaliser), None));
    }
}
