//! Cross-site request forgery protection for the applicant pages' forms, by signed double
//! submit: the browser holds a random value in a cookie, and every form carries its HMAC. A
//! forged form from another site can send the cookie (or not, as `SameSite` decides) but cannot
//! read it, so it cannot compute the field. Nothing is stored on the server, so any instance
//! checks any form.

use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::hex;

/// Signs the cookie's value into the form's field.
#[derive(Clone)]
pub struct CsrfKey(Vec<u8>);

impl CsrfKey {
    pub fn derive(secret: &SecretString) -> CsrfKey {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(b"sportello/csrf/v1");
        CsrfKey(mac.finalize().into_bytes().to_vec())
    }

    /// A fresh cookie value: 128 random bits, hex.
    pub fn new_cookie() -> String {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        hex(&bytes)
    }

    /// The form field that goes with `cookie`.
    pub fn field_for(&self, cookie: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(cookie.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// Whether `cookie` could be one of ours: 32 hex digits.
    pub fn is_cookie(cookie: &str) -> bool {
        cookie.len() == 32 && cookie.bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// Whether `field` was made for `cookie` (compared in constant time); never for an empty
    /// or malformed cookie.
    pub fn matches(&self, cookie: &str, field: &str) -> bool {
        CsrfKey::is_cookie(cookie)
            && bool::from(self.field_for(cookie).as_bytes().ct_eq(field.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_matches_only_its_own_cookie_and_key() {
        let key = CsrfKey::derive(&SecretString::from("a secret of the service"));
        let other_key = CsrfKey::derive(&SecretString::from("another secret"));
        let cookie = CsrfKey::new_cookie();
        let field = key.field_for(&cookie);
        assert!(key.matches(&cookie, &field));
        assert!(!key.matches(&CsrfKey::new_cookie(), &field));
        assert!(!other_key.matches(&cookie, &field));
        assert!(!key.matches(&cookie, ""));
        assert!(!key.matches("", &key.field_for("")));
    }
}
