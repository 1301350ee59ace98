//! Staff authentication's machinery: password hashing (Argon2id) and signed access tokens
//! (JWT). The login itself, with its throttle, is a use case (`use_cases::login`).

pub mod password;
pub mod token;
