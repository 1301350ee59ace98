//! Storage: the diesel schema, the queries, and the one way to run them.
//!
//! Every query runs on one of the store's own threads (diesel is synchronous; `threads.rs`),
//! through [`Store::read`] or, when it changes data, [`Store::write`], which wraps it in one
//! transaction. Query functions in the submodules take `&mut DbConnection`, so the same
//! function runs alone or inside a larger transaction; they return diesel's `QueryResult` and
//! store only what they are given (rules and checks are the use cases' and the domain's). Only
//! the use cases open transactions.

pub mod accreditations;
pub mod attendance;
pub mod audit;
pub mod bookings;
pub mod calendars;
pub mod case_guesses;
pub mod catalogue;
pub mod changes;
pub mod closure_jobs;
pub mod closures;
pub mod connection;
pub mod events;
pub mod indicators;
pub mod integration_clients;
pub mod invitations;
pub mod login_attempts;
pub mod lottery;
pub mod new_bookings;
pub mod offices;
pub mod outbox;
pub mod personal_data;
pub mod registered_cases;
pub mod schema;
pub mod seats;
pub mod services;
pub mod slots;
pub mod spent_challenges;
pub mod staff;
pub mod surveys;
mod threads;
mod values;
pub mod waitlist;
pub mod webhooks;

use std::{sync::Arc, time::Duration};

use secrecy::ExposeSecret;

use diesel::{
    Connection, QueryResult,
    connection::SimpleConnection,
    connection::{AnsiTransactionManager, TransactionManager},
    migration::MigrationSource,
    r2d2::{Pool, PoolError},
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use connection::{Backend, DatabaseUrl, DbConnection, InvalidDatabaseUrl};
pub use values::{StoredOptionalTime, StoredTime, db_time};
pub(crate) use values::{corrupt, named};

use crate::domain::ids::OfficeId;
use changes::OfficeChanges;
use threads::StoreThreads;

use crate::config::DatabaseSettings;
use connection::ConnectionManager;

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// What can go wrong below the domain. Callers map `Query(NotFound)` and constraint
/// violations they expect; everything else is an internal error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("no database connection available: {0}")]
    Pool(#[from] PoolError),
    /// A writer could not start in time: other writers, or a lock held elsewhere.
    #[error("the database is busy: {0}")]
    Busy(&'static str),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("database work did not finish: {0}")]
    Task(#[from] threads::Unfinished),
    #[error(transparent)]
    Url(#[from] InvalidDatabaseUrl),
    #[error("cannot start the store's threads: {source}")]
    Threads { source: std::io::Error },
    #[error("cannot create the folder for the SQLite database {path}: {source}")]
    CreateFolder {
        path: String,
        source: std::io::Error,
    },
}

impl StoreError {
    /// Whether the moment, not the request, is at fault: no free connection, a writer that
    /// could not start in time, a lock wait given up, or a database gone away under a
    /// statement. A retry will do.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Pool(_) | StoreError::Busy(_) => true,
            StoreError::Query(error) => is_busy(error) || is_unavailable(error),
            _ => false,
        }
    }
}

/// The database, shared by every request and worker. Cloning it is cheap.
#[derive(Clone)]
pub struct Store {
    pool: Pool<ConnectionManager>,
    backend: Backend,
    /// SQLite only: write transactions take turns here, first come first served. SQLite runs
    /// one writer at a time anyway, and its busy handler wakes waiters in no fair order, so
    /// under load one writer could wait past the busy timeout while others overtake it.
    sqlite_writers: Option<Arc<tokio::sync::Mutex<()>>>,
    /// How long an SQLite writer waits for its turn before it is told to come back later.
    sqlite_turn_timeout: Duration,
    /// PostgreSQL connections' `lock_timeout`.
    postgres_lock_timeout: Duration,
    /// Which offices' offer changed, as the database told this instance.
    changes: Arc<OfficeChanges>,
    /// One permit per pooled connection: work waits here, on the async side, for its turn at
    /// a connection (up to the pool's timeout), and only then goes to a store thread. Without
    /// it a crowd of 512 clients kept 512 threads waiting inside the pool, each with its
    /// stack: 93 MiB of an instance's memory at the peak of a click day.
    turns: Arc<tokio::sync::Semaphore>,
    /// Turns at connections kept apart from `turns`, for [`Store::autocommit_ahead`] and
    /// [`Store::is_ready`]: work that must not queue behind the requests.
    turns_ahead: Arc<tokio::sync::Semaphore>,
    /// How long work waits for a connection before it is told to come back later.
    turn_timeout: Duration,
    /// Where work with a turn runs: one thread per connection the pool may open.
    threads: StoreThreads,
}

/// Connections the pool keeps beyond `pool_size` for [`Store::autocommit_ahead`], shared by the
/// mailer and the webhook sender, and for the readiness check. With 16 messages in flight, in
/// drill 1, from the SMTP server's acceptance to the committed record took 10 ms at the median
/// and 20 ms on average with two (the records queued for them), 6 to 8 and 12 to 16 ms with
/// sixteen (each statement slower), 5 and 10 to 12 ms with four.
const CONNECTIONS_AHEAD: u32 = 4;

impl Store {
    /// Opens the pool (creating the SQLite file's folder when needed). Does not migrate.
    pub fn open(settings: &DatabaseSettings) -> Result<Store, StoreError> {
        let url = DatabaseUrl::parse(&settings.url)?;
        if let DatabaseUrl::Sqlite(path) = &url
            && let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(folder).map_err(|source| StoreError::CreateFolder {
                path: path.display().to_string(),
                source,
            })?;
        }
        let backend = url.backend();
        let url_for_listener = url.clone();
        let sqlite_busy_timeout = Duration::from_millis(settings.sqlite_busy_timeout_ms);
        let postgres_lock_timeout = Duration::from_millis(settings.postgres_lock_timeout_ms);
        // Every connection the pool may open: the requests' and those kept apart.
        let connections = settings.pool_size.saturating_add(CONNECTIONS_AHEAD);
        let manager = ConnectionManager {
            url,
            sqlite_busy_timeout,
            postgres_lock_timeout,
        };
        let pool = Pool::builder()
            .max_size(connections)
            .min_idle(Some(1))
            // No `SELECT 1` before each use: it was 2 of a booking's 19 round trips. A
            // connection that died idle (PostgreSQL restarted) fails its next statement
            // instead, which answers 503 (`is_unavailable`), and leaves the pool
            // (`DbConnection::discard_if_dropped`).
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(settings.pool_timeout_seconds))
            .build(manager)?;
        let sqlite_writers =
            (backend == Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        // An SQLite file has one instance, which hears its own changes at commit; PostgreSQL's
        // other instances are heard once the listener is connected.
        let changes = Arc::new(match backend {
            Backend::Sqlite => OfficeChanges::alone(),
            Backend::Postgres => OfficeChanges::among_others(),
        });
        if let DatabaseUrl::Postgres(url) = &url_for_listener {
            changes::listen(url.expose_secret().to_owned(), &changes);
        }
        Ok(Store {
            pool,
            backend,
            sqlite_writers,
            sqlite_turn_timeout: sqlite_busy_timeout,
            postgres_lock_timeout,
            changes,
            turns: Arc::new(tokio::sync::Semaphore::new(settings.pool_size as usize)),
            turns_ahead: Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_AHEAD as usize)),
            turn_timeout: Duration::from_secs(settings.pool_timeout_seconds),
            threads: StoreThreads::start(connections as usize)
                .map_err(|source| StoreError::Threads { source })?,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Which offices' offer changed: what may be kept in memory, and until when.
    pub fn changes(&self) -> &OfficeChanges {
        &self.changes
    }

    /// Applies the migrations embedded in the binary that this database has not seen yet.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let lock_timeout = format!(
            "SET lock_timeout = {}",
            self.postgres_lock_timeout.as_millis()
        );
        self.on_connection(&self.turns, move |conn| {
            let applied = match conn {
                DbConnection::Postgres(c) => {
                    // A migration waits for the requests of running instances to finish,
                    // however long: this connection alone, then back to the pool's timeout.
                    c.batch_execute("SET lock_timeout = 0")?;
                    let applied = c
                        .run_pending_migrations(POSTGRES_MIGRATIONS)
                        .map(|versions| versions.len())
                        .map_err(|e| e.to_string());
                    c.batch_execute(&lock_timeout)?;
                    applied
                }
                DbConnection::Sqlite(c) => {
                    // A migration that rebuilds a table (SQLite cannot change a constraint in
                    // place) drops the old one: with foreign keys on, that would delete or
                    // refuse. SQLite's procedure turns them off (outside any transaction),
                    // then checks every reference before going on.
                    c.batch_execute("PRAGMA foreign_keys = OFF")?;
                    let applied = c
                        .run_pending_migrations(SQLITE_MIGRATIONS)
                        .map(|versions| versions.len())
                        .map_err(|e| e.to_string());
                    c.batch_execute("PRAGMA foreign_keys = ON")?;
                    let check = "SELECT count(*) AS rows FROM pragma_foreign_key_check";
                    let broken =
                        diesel::RunQueryDsl::get_result::<Count>(diesel::sql_query(check), c)?.rows;
                    match (applied, broken) {
                        (Ok(applied), 0) => Ok(applied),
                        (Ok(_), broken) => {
                            Err(format!("{broken} rows refer to rows that do not exist"))
                        }
                        (Err(e), _) => Err(e),
                    }
                }
            };
            applied.map_err(StoreError::Migration)
        })
        .await
    }

    /// True when the database answers and every embedded migration has been applied. Asked on
    /// a connection kept apart from the requests' turns (as [`Store::autocommit_ahead`]): the
    /// load balancer asks every 500 ms and gives up after as long, and behind a click day's
    /// crowd the question waited longer for a turn, so a busy instance was taken out of
    /// rotation as if it were down, and the crowd's requests answered 503 by the balancer.
    pub async fn is_ready(&self) -> Result<bool, StoreError> {
        self.on_connection(&self.turns_ahead, |conn| {
            let pending = match conn {
                DbConnection::Postgres(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
                DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
            }
            .map_err(|e| StoreError::Migration(e.to_string()))?;
            Ok(!pending)
        })
        .await
    }

    /// Runs `work`, which only reads, on a pooled connection off the async threads, without a
    /// transaction.
    pub async fn read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.on_connection(&self.turns, work).await
    }

    /// Runs `work` with every statement committing on its own, as soon as it runs: for writes
    /// that other requests must see before this one goes on (the login throttle counts an
    /// attempt only once every concurrent attempt is visible). Not for anything that must
    /// change together: that is [`Store::write`].
    pub async fn autocommit<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.on_connection(&self.turns, work).await
    }

    async fn on_connection<T, E, F>(
        &self,
        turns: &Arc<tokio::sync::Semaphore>,
        work: F,
    ) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let waited = tokio::time::timeout(self.turn_timeout, turns.clone().acquire_owned());
        let busy = StoreError::Busy("waited too long for a database connection");
        let turn = match waited.await {
            Ok(Ok(turn)) => turn,
            _ => return Err(busy.into()),
        };
        let pool = self.pool.clone();
        self.threads
            .run(move || {
                let _turn = turn;
                let mut conn = pool.get().map_err(StoreError::from)?;
                let done = work(&mut conn);
                if done.is_err() {
                    conn.discard_if_dropped();
                }
                if let DbConnection::Sqlite(_) = &*conn {
                    // Marks a write transaction did not take (it failed, or this was no write
                    // transaction) must not count for the next one on this thread.
                    changes::take_marked_on_sqlite();
                }
                done
            })
            .await
            .map_err(StoreError::from)?
    }

    /// Runs `work` in one write transaction: everything it changes commits together, or, when it
    /// returns an error, nothing does.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        let turn = match &self.sqlite_writers {
            Some(queue) => {
                let wait =
                    tokio::time::timeout(self.sqlite_turn_timeout, queue.clone().lock_owned());
                let busy = StoreError::Busy("waited too long for a turn to write");
                Some(wait.await.map_err(|_| busy)?)
            }
            None => None,
        };
        let changes = self.changes.clone();
        let (value, batch) = self
            .on_connection(&self.turns, move |conn| {
                // Held until the transaction ends, even if the request that asked is gone.
                let _turn = turn;
                let (value, changed) = write_transaction(conn, work)?;
                // Before the caller answers, so that its next request sees what it changed.
                Ok::<_, E>((value, changes.changed_here(&changed)))
            })
            .await?;
        // And the other instances' next requests, once the connection is back in the pool.
        if let Some(batch) = batch {
            self.changes.told(batch).await;
        }
        Ok(value)
    }

    /// Runs `work`, one statement committing as it runs (as [`Store::autocommit`]), on a
    /// connection kept apart from the requests' turns: for a worker recording what it just did
    /// outside (a message the SMTP server accepted, a webhook the receiver took). Until that
    /// record commits, an instance killed would leave the work to be done again, so the wait
    /// is kept short: one statement, not a transaction's four round trips, and no queue behind
    /// the requests. In drill 1 (`cargo bench --bench drills`: kill -9 one of three instances
    /// under a click day) the killed instance's messages sent twice went from 11, 2, 0 and 2
    /// in four runs to none in six. On SQLite it does not queue with the other writers; it
    /// waits for the one writing, on the busy timeout.
    pub async fn autocommit_ahead<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.on_connection(&self.turns_ahead, work).await
    }

    /// PostgreSQL only: a way to write beside a long transaction, each statement committing at
    /// once on another pooled connection (how far a job got, which staff must see before the
    /// job commits). `None` on SQLite, where a second writer would wait for the first.
    pub fn beside(&self) -> Option<Beside> {
        (self.backend == Backend::Postgres).then(|| Beside(self.pool.clone()))
    }

    /// Connections open and idle, for the metrics.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }
}

/// See [`Store::beside`].
pub struct Beside(Pool<ConnectionManager>);

impl Beside {
    /// Runs `work` on another connection, outside the caller's transaction.
    pub fn run<T>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> QueryResult<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.0.get()?;
        Ok(work(&mut conn)?)
    }
}

/// The one way to open a write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, taking
/// the write lock up front: a deferred transaction that reads and then writes cannot wait for a
/// concurrent writer and fails at once with "database is locked". Immediate ones queue on the
/// busy timeout instead. Returns, beside `work`'s value, the offices whose offer it changed
/// (see [`changes`]).
fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<(T, Vec<OfficeId>), E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    // The enum's transaction manager delegates to the inner connection's, so beginning on the
    // inner connection and finishing through the enum keeps one consistent transaction state.
    match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        DbConnection::Postgres(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    let done = work(conn).and_then(|value| {
        let changed = match conn {
            DbConnection::Postgres(pg) => changes::marked_on_postgres(pg)?,
            DbConnection::Sqlite(_) => Vec::new(),
        };
        Ok((value, changed))
    });
    match done {
        Ok((value, mut changed)) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            if let DbConnection::Sqlite(_) = conn {
                changed = changes::take_marked_on_sqlite();
            }
            Ok((value, changed))
        }
        Err(error) => {
            <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(error)
        }
    }
}

/// The version names of the embedded migrations, per backend (they must be identical).
pub fn migration_versions(backend: Backend) -> Vec<String> {
    let source = match backend {
        Backend::Postgres => POSTGRES_MIGRATIONS,
        Backend::Sqlite => SQLITE_MIGRATIONS,
    };
    MigrationSource::<diesel::sqlite::Sqlite>::migrations(&source)
        .unwrap_or_default()
        .iter()
        .map(|m| m.name().version().to_string())
        .collect()
}

/// Runs the same diesel statement against the concrete connection, for the statements diesel
/// cannot build over the two-backend enum (multi-row inserts). Both arms compile the same
/// expression, once per backend.
macro_rules! on_backend {
    ($conn:expr, |$inner:ident| $body:expr) => {
        match $conn {
            $crate::store::DbConnection::Postgres($inner) => $body,
            $crate::store::DbConnection::Sqlite($inner) => $body,
        }
    };
}
pub(crate) use on_backend;

/// True when a query failed on a unique constraint (e.g. an email already taken).
/// Whether a statement gave up waiting for a lock another transaction holds: SQLite's busy
/// timeout ran out (`database is locked`) or PostgreSQL's `lock_timeout` did (SQLSTATE 55P03).
/// Nothing is wrong but the moment: the client may retry.
pub fn is_busy(error: &diesel::result::Error) -> bool {
    match error {
        diesel::result::Error::DatabaseError(_, info) => {
            let message = info.message();
            message.starts_with("database is locked")
                || message.starts_with("database table is locked")
                || message.starts_with("canceling statement due to lock timeout")
        }
        _ => false,
    }
}

/// Whether a statement failed because the database went away: the connection closed under it
/// (PostgreSQL restarting, a failover, the network) or the server turned work away while
/// shutting down or starting up. Nothing is wrong with the request: the client may retry, and
/// the pool replaces the broken connection.
pub fn is_unavailable(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        Error::DatabaseError(_, info) => {
            let message = info.message();
            message.starts_with("terminating connection")
                || message.starts_with("the database system is")
                || message.starts_with("no connection to the server")
                || message.starts_with("could not receive data from server")
                || message.starts_with("could not send data to server")
                || message.contains("server closed the connection unexpectedly")
        }
        // A transaction whose connection broke cannot be rolled back on it.
        Error::BrokenTransactionManager => true,
        _ => false,
    }
}

#[derive(diesel::QueryableByName)]
/// A row count read with raw SQL.
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    rows: i64,
}

pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_gone_away_is_transient_and_a_broken_query_is_not() {
        use diesel::result::{DatabaseErrorKind, Error};
        let failed = |kind, message: &str| {
            StoreError::Query(Error::DatabaseError(kind, Box::new(message.to_owned())))
        };
        for away in [
            failed(
                DatabaseErrorKind::ClosedConnection,
                "server closed the connection unexpectedly",
            ),
            failed(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            failed(
                DatabaseErrorKind::Unknown,
                "the database system is shutting down",
            ),
            failed(
                DatabaseErrorKind::Unknown,
                "canceling statement due to lock timeout",
            ),
            StoreError::Query(Error::BrokenTransactionManager),
            StoreError::Busy("waited too long for a turn to write"),
        ] {
            assert!(away.is_transient(), "{away}");
        }
        for broken in [
            failed(
                DatabaseErrorKind::Unknown,
                "syntax error at or near \"FORM\"",
            ),
            failed(DatabaseErrorKind::UniqueViolation, "duplicate key value"),
            StoreError::Query(Error::NotFound),
        ] {
            assert!(!broken.is_transient(), "{broken}");
        }
    }

    #[test]
    fn both_backends_have_the_same_migration_versions() {
        let postgres = migration_versions(Backend::Postgres);
        assert!(!postgres.is_empty());
        assert_eq!(postgres, migration_versions(Backend::Sqlite));
    }
}
