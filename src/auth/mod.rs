//! Authentication's machinery: password hashing (Argon2id), signed access tokens (JWT) for
//! staff and integration clients, and stored fingerprints of random secrets. The login itself, with its throttle, is a use case (`use_cases::login`).

pub mod password;
pub mod pow;
pub mod secret;
pub mod token;
