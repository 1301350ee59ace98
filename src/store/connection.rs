//! Which database we talk to, picked from the URL's scheme, and how a connection to it is opened.

use std::{path::PathBuf, time::Duration};

use diesel::{
    connection::SimpleConnection,
    prelude::*,
    r2d2::{self, ManageConnection, R2D2Connection},
};
use secrecy::{ExposeSecret, SecretString};

/// One connection type over both backends. Queries written against it run on either; the few
/// statements diesel cannot express over both (upserts, `FOR UPDATE`) match on the variant.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl DbConnection {
    /// After a failed piece of work: a PostgreSQL connection the server dropped (a restart, a
    /// failover) is marked broken, so the pool replaces it instead of handing it out again.
    /// The pool does not `SELECT 1` before each use (see `Store::open`); this round trip is
    /// paid only after a failure.
    pub(super) fn discard_if_dropped(&mut self) {
        if let DbConnection::Postgres(pg) = self
            && pg.ping().is_err()
        {
            use diesel::connection::{AnsiTransactionManager, TransactionManager};
            AnsiTransactionManager::transaction_manager_status_mut(pg).set_in_error();
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Postgres(_) => Backend::Postgres,
            DbConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// A database URL whose scheme has been checked.
#[derive(Clone)]
pub enum DatabaseUrl {
    Postgres(SecretString),
    /// A file path; `sqlite://data/x.db` is relative to the working directory,
    /// `sqlite:///srv/x.db` absolute.
    Sqlite(PathBuf),
}

#[derive(Debug, thiserror::Error)]
#[error("database.url: {0}")]
pub struct InvalidDatabaseUrl(String);

impl DatabaseUrl {
    pub fn parse(url: &SecretString) -> Result<DatabaseUrl, InvalidDatabaseUrl> {
        let text = url.expose_secret();
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.clone()));
        }
        if let Some(path) = text.strip_prefix("sqlite://") {
            if path.is_empty() || path.contains(":memory:") || path.starts_with("file:") {
                return Err(InvalidDatabaseUrl(
                    "sqlite:// needs a file path (an in-memory database would give every pooled \
                     connection its own empty database)"
                        .into(),
                ));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        let scheme = text
            .split_once("://")
            .map_or("(none)", |(scheme, _)| scheme);
        Err(InvalidDatabaseUrl(format!(
            "unsupported scheme '{scheme}': use postgres://user@host/database or sqlite://path"
        )))
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Postgres(_) => Backend::Postgres,
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Opens connections for the pool. SQLite gets its settings on every connection, because
/// PRAGMAs other than `journal_mode` do not persist in the file.
pub struct ConnectionManager {
    pub url: DatabaseUrl,
    pub sqlite_busy_timeout: Duration,
    pub postgres_lock_timeout: Duration,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                let mut conn = diesel::PgConnection::establish(url.expose_secret())
                    .map_err(r2d2::Error::ConnectionError)?;
                // A row lock held by a stuck transaction must not hold requests forever.
                conn.batch_execute(&format!(
                    "SET lock_timeout = {}",
                    self.postgres_lock_timeout.as_millis()
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Postgres(conn))
            }
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_string_lossy();
                let mut conn = diesel::SqliteConnection::establish(&path)
                    .map_err(r2d2::Error::ConnectionError)?;
                // busy_timeout first: switching to WAL itself may have to wait for another writer.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                    self.sqlite_busy_timeout.as_millis()
                ))
                .map_err(r2d2::Error::QueryError)?;
                super::changes::register_on_sqlite(&mut conn).map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<DatabaseUrl, InvalidDatabaseUrl> {
        DatabaseUrl::parse(&SecretString::from(url.to_owned()))
    }

    #[test]
    fn the_scheme_picks_the_backend() {
        assert_eq!(
            parse("postgres://u@h/db").unwrap().backend(),
            Backend::Postgres
        );
        assert_eq!(
            parse("postgresql://u@h/db").unwrap().backend(),
            Backend::Postgres
        );
        match parse("sqlite://data/sportello.db").unwrap() {
            DatabaseUrl::Sqlite(path) => assert_eq!(path, PathBuf::from("data/sportello.db")),
            DatabaseUrl::Postgres(_) => panic!("expected sqlite"),
        }
        match parse("sqlite:///srv/sportello.db").unwrap() {
            DatabaseUrl::Sqlite(path) => assert_eq!(path, PathBuf::from("/srv/sportello.db")),
            DatabaseUrl::Postgres(_) => panic!("expected sqlite"),
        }
    }

    #[test]
    fn other_schemes_and_in_memory_sqlite_are_refused_with_a_reason() {
        let err = parse("mysql://h/db").err().unwrap().to_string();
        assert!(err.contains("unsupported scheme 'mysql'"), "{err}");
        let err = parse("data/x.db").err().unwrap().to_string();
        assert!(err.contains("unsupported scheme"), "{err}");
        let err = parse("sqlite://:memory:").err().unwrap().to_string();
        assert!(err.contains("in-memory"), "{err}");
    }
}
