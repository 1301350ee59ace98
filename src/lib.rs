//! sportello: self-booked appointments for Italy's one-stop immigration offices.
//!
//! The layers, from the outside in:
//! - [`http`]: routes, extractors, problem+json errors, middleware (the edge);
//! - [`auth`]: staff passwords, tokens and login;
//! - [`domain`]: validated types and rules, free of I/O;
//! - [`store`]: the database (PostgreSQL or SQLite) and the one way to run a transaction.
//!
//! [`startup`] puts them together; [`cli`] is what the binary runs.

pub mod agenda;
pub mod auth;
pub mod bookings;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod logging;
pub mod mail;
pub mod startup;
pub mod store;
pub mod worker;
