//! Which offices' offer changed: their slots, services, calendars' services, or the office
//! itself. Instances keep what applicants can book in memory ([`crate::use_cases::offer`]); they
//! read an office again when it changed, here or on another instance.
//!
//! The database says what changed, not the code that wrote it, so no writer can forget
//! (migration 000023): a trigger on each of those tables marks the row's office.
//! - The writing instance learns it when the transaction commits: on PostgreSQL from a
//!   transaction-local setting read just before `COMMIT`, on SQLite from a function the
//!   trigger calls on the writing thread. [`Store::write`](super::Store::write) hands the
//!   offices to [`OfficeChanges::changed`] before it returns, so a request that follows a
//!   booking sees it.
//! - Other instances (PostgreSQL only: an SQLite file has one instance) hear
//!   `pg_notify('office_changed', office)`, which [`listen`] receives within milliseconds.
//!   While the listener is not connected nothing in memory can be trusted, and
//!   [`OfficeChanges::generation`] says so.

use std::{
    cell::RefCell,
    collections::HashMap,
    sync::{
        Arc, RwLock, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use diesel::{
    Connection, PgConnection, QueryResult, RunQueryDsl, SqliteConnection,
    connection::SimpleConnection,
};

use crate::domain::ids::OfficeId;

/// How often the listener looks for notifications: other instances' changes reach this one's
/// memory within about this long.
const LISTEN_EVERY: Duration = Duration::from_millis(5);
/// How often the listener makes sure its connection still answers.
const PING_EVERY: Duration = Duration::from_secs(5);
/// How long the listener waits before connecting again after losing its connection.
const RECONNECT_AFTER: Duration = Duration::from_millis(500);

/// The PostgreSQL channel the triggers notify on.
pub const CHANNEL: &str = "office_changed";

/// The count of changes an instance has heard of for one office. Something kept in memory
/// since the same generation is still true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    everything: u64,
    office: u64,
}

/// What this instance has heard of changes, per office. Shared by every clone of the store.
#[derive(Debug)]
pub struct OfficeChanges {
    offices: RwLock<HashMap<OfficeId, u64>>,
    /// Bumped when any office may have changed unheard: the listener (re)connected.
    everything: AtomicU64,
    /// Whether changes on other instances reach this one (always, on SQLite).
    hearing: AtomicBool,
}

impl OfficeChanges {
    pub(super) fn new(hearing: bool) -> OfficeChanges {
        OfficeChanges {
            offices: RwLock::default(),
            everything: AtomicU64::new(0),
            hearing: AtomicBool::new(hearing),
        }
    }

    /// The office's generation now; `None` while changes made elsewhere may go unheard, when
    /// nothing may be served from memory.
    pub fn generation(&self, office: OfficeId) -> Option<Generation> {
        if !self.hearing.load(Ordering::Acquire) {
            return None;
        }
        let everything = self.everything.load(Ordering::Acquire);
        let offices = self.offices.read().unwrap_or_else(|e| e.into_inner());
        Some(Generation {
            everything,
            office: offices.get(&office).copied().unwrap_or(0),
        })
    }

    /// These offices changed.
    pub fn changed(&self, offices: &[OfficeId]) {
        if offices.is_empty() {
            return;
        }
        let mut generations = self.offices.write().unwrap_or_else(|e| e.into_inner());
        for office in offices {
            *generations.entry(*office).or_default() += 1;
        }
    }

    /// Any office may have changed.
    fn changed_everywhere(&self) {
        self.everything.fetch_add(1, Ordering::AcqRel);
    }
}

thread_local! {
    /// SQLite: the offices the triggers marked in the transaction running on this thread.
    static MARKED: RefCell<Vec<OfficeId>> = const { RefCell::new(Vec::new()) };
}

diesel::define_sql_function! {
    /// Called by the SQLite triggers of migration 000023 for each row changed.
    fn sportello_office_changed(office: diesel::sql_types::BigInt) -> diesel::sql_types::Integer;
}

/// Gives an SQLite connection the function its triggers call.
pub(super) fn register_on_sqlite(conn: &mut SqliteConnection) -> QueryResult<()> {
    sportello_office_changed_utils::register_impl(conn, |office: i64| {
        MARKED.with(|marked| {
            let mut marked = marked.borrow_mut();
            let office = OfficeId::new(office);
            if !marked.contains(&office) {
                marked.push(office);
            }
        });
        0
    })
}

/// SQLite: takes the offices marked on this thread since the last call.
pub(super) fn take_marked_on_sqlite() -> Vec<OfficeId> {
    MARKED.with(|marked| std::mem::take(&mut *marked.borrow_mut()))
}

#[derive(diesel::QueryableByName)]
struct Marked {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    offices: Option<String>,
}

/// PostgreSQL, inside the transaction: the offices its triggers marked so far.
pub(super) fn marked_on_postgres(conn: &mut PgConnection) -> QueryResult<Vec<OfficeId>> {
    let marked: Marked =
        diesel::sql_query("SELECT current_setting('sportello.changed_offices', true) AS offices")
            .get_result(conn)?;
    Ok(parse_offices(marked.offices.as_deref().unwrap_or("")))
}

/// `",3,17,"` (or a notification's `"3"`) as offices; anything else is skipped.
fn parse_offices(text: &str) -> Vec<OfficeId> {
    text.split(',')
        .filter_map(|id| id.trim().parse().ok())
        .map(OfficeId::new)
        .collect()
}

/// PostgreSQL: hears the other instances' changes on a connection of its own, on a thread of
/// its own, until every store sharing `changes` is gone. Each time it (re)connects it first
/// listens, then counts every office as changed, so nothing said while it was away is missed.
pub fn listen(url: String, changes: &Arc<OfficeChanges>) {
    let changes: Weak<OfficeChanges> = Arc::downgrade(changes);
    let spawned = std::thread::Builder::new()
        .name("office-changes".into())
        .spawn(move || {
            while changes.strong_count() > 0 {
                let lost = hear(&url, &changes);
                if let Some(changes) = changes.upgrade() {
                    changes.hearing.store(false, Ordering::Release);
                }
                if let Err(error) = lost {
                    tracing::warn!(%error, "lost the database connection that hears office changes");
                }
                std::thread::sleep(RECONNECT_AFTER);
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the thread that hears office changes");
    }
}

/// One connection's worth of listening; returns when the connection fails or no store is left.
fn hear(url: &str, changes: &Weak<OfficeChanges>) -> Result<(), Box<dyn std::error::Error>> {
    let mut conn = PgConnection::establish(url)?;
    conn.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    match changes.upgrade() {
        Some(changes) => {
            changes.changed_everywhere();
            changes.hearing.store(true, Ordering::Release);
        }
        None => return Ok(()),
    }
    let mut pinged = Instant::now();
    loop {
        let mut heard = Vec::new();
        for notification in conn.notifications_iter() {
            heard.extend(parse_offices(&notification?.payload));
        }
        let Some(changes) = changes.upgrade() else {
            return Ok(());
        };
        changes.changed(&heard);
        drop(changes);
        if pinged.elapsed() >= PING_EVERY {
            conn.batch_execute("SELECT 1")?;
            pinged = Instant::now();
        }
        std::thread::sleep(LISTEN_EVERY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_ends_the_generation_of_its_office_only() {
        let changes = OfficeChanges::new(true);
        let (rome, milan) = (OfficeId::new(1), OfficeId::new(2));
        let (rome_before, milan_before) = (changes.generation(rome), changes.generation(milan));
        changes.changed(&parse_offices(",1,"));
        assert_ne!(changes.generation(rome), rome_before);
        assert_eq!(changes.generation(milan), milan_before);
        changes.changed_everywhere();
        assert_ne!(changes.generation(milan), milan_before);
    }

    #[test]
    fn nothing_is_trusted_while_changes_go_unheard() {
        let changes = OfficeChanges::new(false);
        assert_eq!(changes.generation(OfficeId::new(1)), None);
    }
}
