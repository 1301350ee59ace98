//! sportello's API tests: each one starts the real server on a fresh database and talks HTTP
//! to it. Tests that touch data run on SQLite and on PostgreSQL (see `helpers`).

#[macro_use]
mod helpers;

mod agenda;
mod auth;
mod binary;
mod bookings;
mod desk;
mod errors;
mod mail;
mod offices;
mod openapi;
mod operations;
mod smtp;
mod staff;
mod store;
