//! High-entropy secrets handed out once (booking manage tokens, integration client secrets):
//! the database keeps only their SHA-256. With 256 random bits nothing can be guessed, so a
//! fast hash is as safe as a slow one, and checking one costs microseconds.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::{RngCore, rngs::OsRng};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A fresh secret: `prefix` and 256 random bits, base64url.
pub fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A key to sign with that the other side must hold too (a webhook subscription's): `prefix`
/// and 192 random bits, standard base64, as Standard Webhooks writes its `whsec_` secrets. It is
/// stored as it is, since every signature needs it.
pub fn signing_key(prefix: &str) -> String {
    let mut bytes = [0u8; 24];
    OsRng.fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// What is stored of a secret: its SHA-256, base64url.
pub fn fingerprint(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// Whether a presented secret is the one stored, compared in constant time.
pub fn matches(presented: &str, stored_fingerprint: &str) -> bool {
    fingerprint(presented)
        .as_bytes()
        .ct_eq(stored_fingerprint.as_bytes())
        .into()
}

type HmacSha256 = Hmac<Sha256>;

/// The key applicants' verification secrets are hashed with. Such a secret may be as guessable
/// as a date of birth, so it is never stored, nor its plain hash: only an HMAC under a key the
/// database does not hold, with a salt per case. A copy of the database alone cannot be
/// searched for it.
#[derive(Clone)]
pub struct VerificationKey([u8; 32]);

impl VerificationKey {
    /// Derives the key from the service's secret, separated from its other uses.
    pub fn derive(secret: &SecretString) -> VerificationKey {
        let mut mac = HmacSha256::new_from_slice(secret.expose_secret().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(b"sportello/case-verification/v1");
        VerificationKey(mac.finalize().into_bytes().into())
    }

    /// A fresh salt (128 bits), base64url.
    pub fn new_salt() -> String {
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        URL_SAFE_NO_PAD.encode(salt)
    }

    /// What is stored of `secret` with `salt`.
    pub fn hash(&self, salt: &str, secret: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(salt.as_bytes());
        mac.update(b"\0");
        mac.update(secret.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `secret` is the one stored as `stored` with `salt`, in constant time.
    pub fn matches(&self, salt: &str, secret: &str, stored: &str) -> bool {
        self.hash(salt, secret)
            .as_bytes()
            .ct_eq(stored.as_bytes())
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_matches_its_fingerprint_only() {
        let secret = random_secret("sis_");
        assert!(secret.starts_with("sis_") && secret.len() == 4 + 43);
        assert_ne!(random_secret("sis_"), secret);
        let stored = fingerprint(&secret);
        assert!(matches(&secret, &stored));
        assert!(!matches(&secret[..46], &stored));
        assert!(!matches("", &stored));
    }

    #[test]
    fn a_verification_secret_is_hashed_under_the_key_with_its_salt() {
        let key = VerificationKey::derive(&SecretString::from("a server secret"));
        let salt = VerificationKey::new_salt();
        let stored = key.hash(&salt, "1990-04-12");
        assert!(key.matches(&salt, "1990-04-12", &stored));
        assert!(!key.matches(&salt, "1990-04-13", &stored));
        assert!(!key.matches(&VerificationKey::new_salt(), "1990-04-12", &stored));
        let other = VerificationKey::derive(&SecretString::from("another secret"));
        assert!(!other.matches(&salt, "1990-04-12", &stored));
    }
}
