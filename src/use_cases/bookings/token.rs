//! The manage token an applicant holds to view, cancel or move a booking.
//!
//! The token is never stored. It is an HMAC of a random per-booking salt under a key derived
//! from the server's secret; the database keeps the salt and the token's SHA-256. So a copy of
//! the database alone opens no booking, and the service can still give the same token again
//! when a request is retried with its Idempotency-Key.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::{RngCore, rngs::OsRng};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

pub use crate::auth::secret::{fingerprint, matches};

type HmacSha256 = Hmac<Sha256>;

/// The key tokens are derived with.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    /// Derives the key from the service's secret, separated from its other uses.
    pub fn derive(secret: &SecretString) -> TokenKey {
        let mut mac = HmacSha256::new_from_slice(secret.expose_secret().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(b"sportello/booking-manage-token/v1");
        TokenKey(mac.finalize().into_bytes().into())
    }

    /// A fresh random salt (128 bits), base64url.
    pub fn new_salt() -> String {
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        URL_SAFE_NO_PAD.encode(salt)
    }

    /// The token for a salt: 256 bits, base64url (43 characters).
    pub fn token(&self, salt: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(salt.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// Random bytes for a booking reference.
pub fn reference_bytes() -> [u8; 8] {
    let mut bytes = [0u8; 8];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_derived_again_from_its_salt_and_checked_by_its_fingerprint() {
        let key = TokenKey::derive(&SecretString::from("a server secret"));
        let salt = TokenKey::new_salt();
        let token = key.token(&salt);
        assert_eq!(token.len(), 43, "256 bits");
        assert_eq!(key.token(&salt), token);
        assert_ne!(key.token(&TokenKey::new_salt()), token);
        let stored = fingerprint(&token);
        assert!(matches(&token, &stored));
        assert!(!matches(&token[..42], &stored));
        assert!(!matches("", &stored));
        let other_key = TokenKey::derive(&SecretString::from("another secret"));
        assert_ne!(other_key.token(&salt), token);
    }
}
