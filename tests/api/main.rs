//! sportello's API tests: each story starts the real server on a fresh database and talks HTTP
//! to it through one typed client. Stories that touch data run on SQLite and on PostgreSQL (see
//! `harness`); `fixtures` holds what they start from.

#[macro_use]
mod harness;
mod client;
mod fixtures;
mod receiver;
mod smtp;

mod auth;
mod binary;
mod bookings;
mod case_system;
mod closing;
mod desk;
mod errors;
mod evaluation;
mod events;
mod headers;
mod intermediaries;
mod invitations;
mod limits;
mod lottery;
mod mail;
mod offices;
mod openapi;
mod opening;
mod operations;
mod pages;
mod personal_data;
mod proof_of_work;
mod reconfirmation;
mod registered;
mod scaling;
mod staff;
mod store;
mod waitlist;
