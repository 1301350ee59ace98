//! Authentication's machinery: password hashing (Argon2id), signed access tokens (JWT) for
//! staff and integration clients, and stored fingerprints of random secrets. The login itself, with its throttle, is a use case (`use_cases::login`).

pub mod csrf;
pub mod password;
pub mod pow;
pub mod secret;
pub mod token;

/// Bytes as lowercase hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
