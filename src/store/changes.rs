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
//! - Other instances (PostgreSQL only: an SQLite file has one instance) are told after the
//!   commit: the writing instance's listener thread sends the offices changed since its last
//!   word in one `NOTIFY office_changed`, and the other instances' listeners hear it within
//!   milliseconds. [`Store::write`](super::Store::write) answers once that is sent, so every
//!   acknowledged change reaches the others even if the instance dies right after (except
//!   while its listener is reconnecting: it sends what it missed once connected).
//!   The NOTIFY is not sent inside the transaction, as the triggers once did: PostgreSQL holds a
//!   lock through the commit of every notifying transaction, which made bookings take turns.
//! - While the listener is not connected nothing in memory can be trusted, and
//!   [`OfficeChanges::generation`] says so.

use std::{
    cell::RefCell,
    collections::HashMap,
    sync::{
        Arc, Condvar, Mutex, RwLock, Weak,
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

/// How long a write waits for its changes to be told to the other instances before it answers
/// anyway (the database is likely gone, and the listener tells them once it is back).
const TELL_WITHIN: Duration = Duration::from_secs(1);

/// The PostgreSQL channel instances tell each other their changes on.
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
    /// PostgreSQL: what this instance changed and has yet to tell the others.
    telling: Option<Telling>,
}

/// The offices changed here since the listener last told the other instances, in batches:
/// each NOTIFY carries every office changed while the previous one was being sent.
#[derive(Debug)]
struct Telling {
    untold: Mutex<Untold>,
    /// Wakes the listener when there is something to tell.
    something_to_tell: Condvar,
    /// The last batch told.
    told: tokio::sync::watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct Untold {
    offices: Vec<OfficeId>,
    /// The number of the batch being gathered.
    batch: u64,
}

impl Untold {
    /// Each office once: a batch holds a few offices, so a scan beats a set.
    fn add(&mut self, offices: impl IntoIterator<Item = OfficeId>) {
        for office in offices {
            if !self.offices.contains(&office) {
                self.offices.push(office);
            }
        }
    }
}

impl OfficeChanges {
    /// For an SQLite file, written by this instance alone.
    pub(super) fn alone() -> OfficeChanges {
        OfficeChanges::new(true, None)
    }

    /// For PostgreSQL, shared with other instances: nothing is trusted until [`listen`] is
    /// connected.
    pub(super) fn among_others() -> OfficeChanges {
        let telling = Telling {
            untold: Mutex::new(Untold {
                offices: Vec::new(),
                batch: 1,
            }),
            something_to_tell: Condvar::new(),
            told: tokio::sync::watch::Sender::new(0),
        };
        OfficeChanges::new(false, Some(telling))
    }

    fn new(hearing: bool, telling: Option<Telling>) -> OfficeChanges {
        OfficeChanges {
            offices: RwLock::default(),
            everything: AtomicU64::new(0),
            hearing: AtomicBool::new(hearing),
            telling,
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

    /// These offices changed here: this instance knows at once, the others once
    /// [`OfficeChanges::told`] returns.
    pub(super) fn changed_here(&self, offices: &[OfficeId]) -> Option<Batch> {
        self.changed(offices);
        let telling = self.telling.as_ref().filter(|_| !offices.is_empty())?;
        let mut untold = telling.untold.lock().unwrap_or_else(|e| e.into_inner());
        untold.add(offices.iter().copied());
        telling.something_to_tell.notify_one();
        Some(Batch(untold.batch))
    }

    /// Waits until the batch is told to the other instances, or [`TELL_WITHIN`] passed. Not
    /// while the listener is away: it tells the batch once connected again, and every write
    /// waiting a second for it meanwhile would only slow the service down.
    pub(super) async fn told(&self, batch: Batch) {
        let Some(telling) = &self.telling else { return };
        if !self.hearing.load(Ordering::Acquire) {
            return;
        }
        let mut told = telling.told.subscribe();
        let waited = tokio::time::timeout(TELL_WITHIN, told.wait_for(|told| *told >= batch.0));
        if waited.await.is_err() {
            tracing::warn!("changed offices not yet told to the other instances");
        }
    }

    /// The listener: waits up to `at_most` for something to tell, and takes it.
    fn untold(&self, at_most: Duration) -> Option<(Batch, Vec<OfficeId>)> {
        let telling = self.telling.as_ref()?;
        let untold = telling.untold.lock().unwrap_or_else(|e| e.into_inner());
        let (mut untold, _) = telling
            .something_to_tell
            .wait_timeout_while(untold, at_most, |untold| untold.offices.is_empty())
            .unwrap_or_else(|e| e.into_inner());
        if untold.offices.is_empty() {
            return None;
        }
        let batch = Batch(untold.batch);
        untold.batch += 1;
        Some((batch, std::mem::take(&mut untold.offices)))
    }

    /// The listener could not send them: they go with the next batch.
    fn untold_again(&self, offices: Vec<OfficeId>) {
        let Some(telling) = &self.telling else { return };
        let mut untold = telling.untold.lock().unwrap_or_else(|e| e.into_inner());
        untold.add(offices);
    }

    fn have_told(&self, batch: Batch) {
        if let Some(telling) = &self.telling {
            telling.told.send_replace(batch.0);
        }
    }
}

/// A batch of changes to tell the other instances, by number.
#[derive(Debug, Clone, Copy)]
pub(super) struct Batch(u64);

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

diesel::define_sql_function! {
    /// PostgreSQL's `current_setting(name, missing_ok)`.
    fn current_setting(
        name: diesel::sql_types::Text,
        missing_ok: diesel::sql_types::Bool,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// PostgreSQL, inside the transaction: the offices its triggers marked so far. (Typed, so that
/// diesel prepares it once per connection: every write transaction ends with it.)
pub(super) fn marked_on_postgres(conn: &mut PgConnection) -> QueryResult<Vec<OfficeId>> {
    let marked: Option<String> =
        diesel::select(current_setting("sportello.changed_offices", true)).get_result(conn)?;
    Ok(parse_offices(marked.as_deref().unwrap_or("")))
}

/// `",3,17,"` (or a notification's `"3"`) as offices; anything else is skipped.
fn parse_offices(text: &str) -> Vec<OfficeId> {
    text.split(',')
        .filter_map(|id| id.trim().parse().ok())
        .map(OfficeId::new)
        .collect()
}

/// PostgreSQL: tells the other instances this one's changes, and hears theirs, on a connection of
/// its own, on a thread of its own, until every store sharing `changes` is gone. Each time it
/// (re)connects it first listens, then counts every office as changed, so nothing said while it
/// was away is missed.
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
    // What this connection says comes back to it: this instance knew it already.
    let myself: BackendPid =
        diesel::sql_query("SELECT pg_backend_pid() AS pid").get_result(&mut conn)?;
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
            let notification = notification?;
            if notification.process_id != myself.pid {
                heard.extend(parse_offices(&notification.payload));
            }
        }
        let Some(changes) = changes.upgrade() else {
            return Ok(());
        };
        changes.changed(&heard);
        if pinged.elapsed() >= PING_EVERY {
            conn.batch_execute("SELECT 1")?;
            pinged = Instant::now();
        }
        // Waits for this instance's changes, and tells them at once; hears the others' on the
        // next turn.
        if let Some((batch, offices)) = changes.untold(LISTEN_EVERY) {
            if let Err(error) = tell(&mut conn, &offices) {
                changes.untold_again(offices);
                return Err(error.into());
            }
            changes.have_told(batch);
        }
    }
}

/// Sends one NOTIFY with the offices, `"3,17"`, in as few as fit PostgreSQL's 8,000 bytes.
fn tell(conn: &mut PgConnection, offices: &[OfficeId]) -> QueryResult<()> {
    for some in offices.chunks(400) {
        let payload: Vec<String> = some.iter().map(|office| office.get().to_string()).collect();
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(CHANNEL)
            .bind::<diesel::sql_types::Text, _>(payload.join(","))
            .execute(conn)?;
    }
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct BackendPid {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pid: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_ends_the_generation_of_its_office_only() {
        let changes = OfficeChanges::alone();
        let (rome, milan) = (OfficeId::new(1), OfficeId::new(2));
        let (rome_before, milan_before) = (changes.generation(rome), changes.generation(milan));
        changes.changed(&parse_offices(",1,"));
        assert_ne!(changes.generation(rome), rome_before);
        assert_eq!(changes.generation(milan), milan_before);
        changes.changed_everywhere();
        assert_ne!(changes.generation(milan), milan_before);
    }

    #[tokio::test]
    async fn a_write_answers_once_the_batch_with_its_offices_is_told() {
        let changes = OfficeChanges::among_others();
        changes.hearing.store(true, Ordering::Release);
        let (rome, milan, turin) = (OfficeId::new(1), OfficeId::new(2), OfficeId::new(3));
        let first = changes.changed_here(&[rome]).expect("something to tell");
        let second = changes
            .changed_here(&[milan, rome])
            .expect("something to tell");
        let (taken, offices) = changes.untold(Duration::ZERO).expect("a batch");
        assert_eq!(
            offices,
            [rome, milan],
            "one NOTIFY for both writes, each office once"
        );
        let later = changes.changed_here(&[turin]).expect("something to tell");
        changes.have_told(taken);
        let soon = Duration::from_millis(20);
        assert!(
            tokio::time::timeout(soon, changes.told(first))
                .await
                .is_ok()
        );
        assert!(
            tokio::time::timeout(soon, changes.told(second))
                .await
                .is_ok()
        );
        let waiting = tokio::time::timeout(soon, changes.told(later)).await;
        assert!(
            waiting.is_err(),
            "a change made after the batch was taken waits for the next"
        );
        // A batch that could not be sent goes out with the next one.
        let (_, offices) = changes.untold(Duration::ZERO).expect("a batch");
        changes.untold_again(offices);
        assert_eq!(
            changes.untold(Duration::ZERO).map(|(_, o)| o),
            Some(vec![turin])
        );
        assert!(changes.untold(Duration::ZERO).is_none());
    }

    #[test]
    fn nothing_is_told_from_an_sqlite_file() {
        assert!(
            OfficeChanges::alone()
                .changed_here(&[OfficeId::new(1)])
                .is_none()
        );
    }

    #[test]
    fn nothing_is_trusted_while_changes_go_unheard() {
        let changes = OfficeChanges::among_others();
        assert_eq!(changes.generation(OfficeId::new(1)), None);
    }
}
