//! sportello: self-booked appointments for Italy's one-stop immigration offices.
//!
//! The layers, from the outside in (ARCHITECTURE.md says more):
//! - [`http`]: routes, extractors, problem+json, middleware: the edge, which parses a request,
//!   calls one use case and maps its answer;
//! - [`use_cases`]: what each feature does, one transaction each, with scope checks and audit;
//! - [`domain`]: validated types and rules, free of I/O;
//! - [`store`]: the database (PostgreSQL or SQLite) and the one way to run a transaction;
//! - [`mail`] and [`webhooks`] beside them: the outbox's workers, which deliver the mail and
//!   the events the use cases queued.
//!
//! [`error`] is the error policy of all of them. [`startup`] puts them together; [`cli`] is what
//! the binary runs.

pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod logging;
pub mod mail;
pub mod memory;
pub mod reports;
pub mod startup;
pub mod store;
pub mod use_cases;
pub mod web;
pub mod webhooks;
pub mod worker;
