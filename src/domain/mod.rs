//! The rules of the service, free of I/O: validated types parsed from input, and decisions such
//! as who may do what, which slots a calendar has and when a booking is refused. Each rule is
//! stated once, here; nothing in here knows about HTTP or SQL.

pub mod attendance;
pub mod audit;
pub mod booking;
pub mod calendar;
pub mod cases;
pub mod catalogue;
pub mod client;
pub mod comparison;
pub mod days;
pub mod email;
pub mod events;
pub mod holidays;
pub mod hours;
pub mod ids;
pub mod indicators;
pub mod integration;
pub mod intermediary;
pub mod invitations;
pub mod language;
pub mod lottery;
pub mod mail;
pub mod office;
pub mod release;
pub mod rescheduling;
pub mod schema;
pub mod seats;
pub mod service;
pub mod slots;
pub mod staff;
pub mod survey;
pub mod text;
pub mod time;
pub mod validation;
pub mod waitlist;
pub mod webhooks;

pub use validation::{FieldError, FieldErrors, Invalid, Named, Parsed};
