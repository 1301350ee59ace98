//! The rules of the service, free of I/O: validated types parsed from requests at the edge, and
//! decisions such as who may do what. Nothing in here knows about HTTP or SQL.

pub mod booking;
pub mod catalogue;
pub mod email;
pub mod holidays;
pub mod hours;
pub mod mail;
pub mod office;
pub mod slots;
pub mod staff;
pub mod validation;

pub use validation::{FieldError, FieldErrors};
