//! The use cases: what applicants, staff and the case system can do, one module per feature.
//!
//! Each public function takes the store, who acts (an [`Actor`], or nobody for applicants),
//! `now`, and input already parsed into domain types; it opens the one transaction it needs,
//! checks that the actor may touch the office ([`scope`]), applies the domain's rules, writes
//! the audit entry in the same transaction, and returns a view (what the client sees, also what
//! the audit log records) or an [`Error`] with the feature's own failures. Request bodies and
//! views live next to the use case that takes or returns them; a request's `parse` checks what
//! can be checked without the database, so the edge refuses bad input before a transaction.
//!
//! [`Actor`]: crate::domain::staff::Actor
//! [`Error`]: crate::error::Error

pub mod audit_log;
pub mod availability;
pub mod bookings;
pub mod calendars;
pub mod case_files;
pub mod cases;
pub mod catalogue;
pub mod closures;
pub mod events;
pub mod indicators;
pub mod integration_clients;
pub mod intermediaries;
pub mod invitations;
pub mod login;
pub mod lottery;
pub mod offer;
pub mod offices;
pub mod outbox;
pub mod personal_data;
pub mod publication;
pub mod services;
pub mod slots;
pub mod staff;
pub mod surveys;
pub mod waitlist;
pub mod webhooks;

mod audit;
mod scope;

use serde::{Deserialize, Deserializer};

/// For optional fields of a change: tells a field sent as `null` (`Some(None)`, clear it) from
/// a field not sent (`None`, leave it).
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}
