//! The storage layer's promises that HTTP tests cannot see: SQLite write transactions from
//! two processes at once (the server and `sportello admin create`, say) wait for each other
//! instead of failing with "database is locked"; and neither a worker recording what it did
//! outside nor the readiness check queues behind requests.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use chrono::Utc;
use diesel::{QueryDsl, RunQueryDsl};
use secrecy::SecretString;
use sportello::{
    config::Settings,
    domain::office::OfficeCode,
    store::{Store, StoreError, offices, schema},
};

use crate::harness::{Backend, TestDatabase, selected};

on_both_databases!(a_worker_records_a_delivery_while_requests_hold_every_connection);
on_both_databases!(a_busy_instance_still_says_it_is_ready);

/// SQLite only: PostgreSQL has no database-wide write lock to wait for.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_writing_to_one_sqlite_file_wait_for_each_other() {
    if !selected(Backend::Sqlite) {
        return;
    }
    let database = TestDatabase::create(Backend::Sqlite);
    let mut settings = Settings::defaults().unwrap().database;
    settings.url = SecretString::from(database.url());
    settings.pool_size = 4;
    // Two stores over one file, each with its own pool and its own in-process queue, as two
    // processes would have.
    let server = Store::open(&settings).unwrap();
    let cli = Store::open(&settings).unwrap();
    server.migrate().await.unwrap();

    let writes = (0..40).map(|i| {
        let store = if i % 2 == 0 {
            server.clone()
        } else {
            cli.clone()
        };
        async move {
            store
                .write(move |conn| -> Result<(), StoreError> {
                    // Read, pause, then write: a deferred transaction would hold a read
                    // snapshot here that another writer makes stale, and fail at once.
                    let before: i64 = schema::offices::table.count().get_result(conn)?;
                    std::thread::sleep(Duration::from_millis(3));
                    let code = OfficeCode::parse(&format!("T{i:03}")).unwrap();
                    let details = sportello::domain::office::OfficeDetails::new(
                        &format!("Office {before}"),
                        "Via Roma 1",
                        "Roma",
                        "RM",
                    );
                    offices::insert(conn, &code, &details, Utc::now())?;
                    Ok(())
                })
                .await
        }
    });
    let results = futures_util::future::join_all(writes).await;
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of 40 failed: {:?}",
        failures.len(),
        failures.first()
    );
    assert_eq!(offices_stored(&server).await, 40);
}

/// The mailer records a message the SMTP server has accepted ahead of the crowd: until that
/// record commits, an instance killed would leave the message to be sent again.
async fn a_worker_records_a_delivery_while_requests_hold_every_connection(backend: Backend) {
    let database = TestDatabase::create(backend);
    let store = store_of_two_connections(&database).await;
    let crowd = Crowd::holding_every_turn(&store).await;

    let recorded = tokio::time::timeout(
        Duration::from_secs(20),
        store.autocommit_ahead(|conn| -> Result<(), StoreError> {
            let code = OfficeCode::parse("W001").unwrap();
            let details = sportello::domain::office::OfficeDetails::new(
                "Written ahead",
                "Via Roma 1",
                "Roma",
                "RM",
            );
            offices::insert(conn, &code, &details, Utc::now())?;
            Ok(())
        }),
    )
    .await;
    let still_working = crowd.release().await;
    assert!(
        matches!(recorded, Ok(Ok(()))),
        "the record waited behind the requests: {:?}",
        recorded.map(|done| done.map_err(|e| e.to_string()))
    );
    assert_eq!(
        still_working, 2,
        "the record was written while the requests still held their turns"
    );
    assert_eq!(offices_stored(&store).await, 1);
}

/// The load balancer asks `/ready` every 500 ms and gives up after as long: an instance busy
/// with a crowd must still say it is ready, or the balancer takes it out of rotation and
/// answers the crowd 503 itself.
async fn a_busy_instance_still_says_it_is_ready(backend: Backend) {
    let database = TestDatabase::create(backend);
    let store = store_of_two_connections(&database).await;
    let crowd = Crowd::holding_every_turn(&store).await;

    // Queued behind the crowd, the answer would come only when the turn's wait gives up (5 s).
    let ready = tokio::time::timeout(Duration::from_secs(2), store.is_ready()).await;
    let still_working = crowd.release().await;
    assert!(
        matches!(ready, Ok(Ok(true))),
        "a busy instance did not say it was ready: {:?}",
        ready.map(|done| done.map_err(|e| e.to_string()))
    );
    assert_eq!(still_working, 2, "asked after the requests were done");
}

/// A store whose requests have two connections (plus the ones kept apart), migrated.
async fn store_of_two_connections(database: &TestDatabase) -> Store {
    let mut settings = Settings::defaults().unwrap().database;
    settings.url = SecretString::from(database.url());
    settings.pool_size = 2;
    let store = Store::open(&settings).unwrap();
    store.migrate().await.unwrap();
    store
}

/// Requests holding both of a store's ordinary turns, and four more waiting for one, until
/// released.
struct Crowd {
    working: Arc<AtomicUsize>,
    released: Arc<AtomicBool>,
    requests: Vec<tokio::task::JoinHandle<Result<(), StoreError>>>,
}

impl Crowd {
    async fn holding_every_turn(store: &Store) -> Crowd {
        let (working, released) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let requests = (0..6)
            .map(|_| {
                let (store, working, released) = (store.clone(), working.clone(), released.clone());
                tokio::spawn(async move {
                    store
                        .read(move |_conn| -> Result<(), StoreError> {
                            working.fetch_add(1, Ordering::SeqCst);
                            while !released.load(Ordering::SeqCst) {
                                std::thread::sleep(Duration::from_millis(5));
                            }
                            Ok(())
                        })
                        .await
                })
            })
            .collect();
        while working.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Crowd {
            working,
            released,
            requests,
        }
    }

    /// Lets every request finish; returns how many had begun when released. (Released before
    /// the story asserts, so that a failure fails instead of leaving them spinning.)
    async fn release(self) -> usize {
        let began = self.working.load(Ordering::SeqCst);
        self.released.store(true, Ordering::SeqCst);
        for request in self.requests {
            request.await.unwrap().unwrap();
        }
        began
    }
}

async fn offices_stored(store: &Store) -> i64 {
    store
        .read(|conn| -> Result<i64, StoreError> {
            Ok(schema::offices::table.count().get_result(conn)?)
        })
        .await
        .unwrap()
}
