//! The storage layer's one promise that HTTP tests cannot see: SQLite write transactions from
//! two processes at once (the server and `sportello admin create`, say) wait for each other
//! instead of failing with "database is locked".

use std::time::Duration;

use chrono::Utc;
use diesel::{QueryDsl, RunQueryDsl};
use secrecy::SecretString;
use sportello::{
    config::Settings,
    domain::office::OfficeCode,
    store::{Store, StoreError, offices, schema},
};

use crate::harness::{Backend, TestDatabase, selected};

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
    let count: i64 = server
        .read(|conn| -> Result<i64, StoreError> {
            Ok(schema::offices::table.count().get_result(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(count, 40);
}
