//! The harness every API test shares: a real server on port 0 over a fresh database, and the
//! two databases each story runs on.
//!
//! - `SPORTELLO_TEST_DATABASES`: which backends to run, default `sqlite,postgres`.
//! - `SPORTELLO_TEST_POSTGRES_URL`: a PostgreSQL server where tests may create and drop
//!   databases, default `postgres://postgres@127.0.0.1:5432/postgres`.
//! - `TEST_LOG=1`: print the server's logs.

use std::sync::Once;

use actix_web::dev::ServerHandle;
use chrono::Utc;
use diesel::{Connection, PgConnection, RunQueryDsl};
use secrecy::SecretString;
use sportello::{
    auth::password,
    config::Settings,
    domain::{
        office::OfficeCode,
        staff::{EmailAddress, NewPassword, Role},
    },
    startup::Application,
    store::{Store, StoreError, offices, staff},
};

pub use sportello::store::Backend;

use crate::smtp::SmtpSink;

/// The password of every account the harness creates.
pub const PASSWORD: &str = "a long enough passphrase";

/// Runs each named story, an `async fn(Backend)` in the same module, once per database, as
/// `name::sqlite` and `name::postgres` (so `cargo test sqlite` runs one half).
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use $crate::harness::{Backend, selected};

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if selected(Backend::Sqlite) {
                        super::$name(Backend::Sqlite).await
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if selected(Backend::Postgres) {
                        super::$name(Backend::Postgres).await
                    }
                }
            }
        )*
    };
}

/// Whether `SPORTELLO_TEST_DATABASES` asks for this backend.
pub fn selected(backend: Backend) -> bool {
    let wanted =
        std::env::var("SPORTELLO_TEST_DATABASES").unwrap_or_else(|_| "sqlite,postgres".into());
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let chosen = wanted
        .split(',')
        .any(|w| w.trim().eq_ignore_ascii_case(name));
    if !chosen {
        eprintln!("skipped on {name}: not in SPORTELLO_TEST_DATABASES={wanted}");
    }
    chosen
}

fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let mut settings = Settings::defaults().expect("default settings").log;
            settings.level = "debug".into();
            sportello::logging::init(&settings);
        }
    });
}

/// A database that exists for one test: an SQLite file in a temporary folder, or a
/// PostgreSQL database dropped when the test ends.
pub enum TestDatabase {
    Sqlite(tempfile::TempDir),
    Postgres { server_url: String, name: String },
}

impl TestDatabase {
    pub fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => TestDatabase::Sqlite(tempfile::tempdir().expect("temporary folder")),
            Backend::Postgres => {
                let server_url = std::env::var("SPORTELLO_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let name = format!("sportello_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::establish(&server_url).unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL tests need a server at {server_url} ({e}); start one, set \
                         SPORTELLO_TEST_POSTGRES_URL, or run SPORTELLO_TEST_DATABASES=sqlite"
                    )
                });
                diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut admin)
                    .expect("create the test database");
                TestDatabase::Postgres { server_url, name }
            }
        }
    }

    pub fn url(&self) -> String {
        match self {
            TestDatabase::Sqlite(folder) => {
                format!("sqlite://{}/sportello.db", folder.path().display())
            }
            TestDatabase::Postgres { server_url, name } => {
                let (base, query) = server_url
                    .split_once('?')
                    .map_or((server_url.as_str(), None), |(b, q)| (b, Some(q)));
                let (server, _) = base
                    .rsplit_once('/')
                    .expect("the server URL names a database");
                match query {
                    Some(query) => format!("{server}/{name}?{query}"),
                    None => format!("{server}/{name}"),
                }
            }
        }
    }

    /// Drops a PostgreSQL database now (e.g. to see the service lose its database).
    pub fn drop_postgres_database(&self) {
        if let TestDatabase::Postgres { server_url, name } = self
            && let Ok(mut admin) = PgConnection::establish(server_url)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.drop_postgres_database();
    }
}

/// A bearer token of a logged-in staff member.
#[derive(Clone)]
pub struct Token(pub String);

/// A running sportello with its own database.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub settings: Settings,
    /// The separate metrics listener's port, when `metrics.listen` is set.
    pub metrics_port: Option<u16>,
    /// Direct access to the service's database, for fixtures and for checking what was stored.
    pub store: Store,
    server: ServerHandle,
    admin: tokio::sync::OnceCell<Token>,
    /// Where mail goes when no SMTP server is set (the embedded default).
    pub mail_dir: tempfile::TempDir,
    // Declared last so the database outlives everything that uses it.
    pub database: std::sync::Arc<TestDatabase>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts the server with the test defaults, after `customise` has adjusted the settings.
pub async fn spawn_app_with(backend: Backend, customise: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(TestDatabase::create(backend), customise).await
}

/// Starts the server on a database the test created (and may watch) first.
pub async fn spawn_app_on(
    database: TestDatabase,
    customise: impl FnOnce(&mut Settings),
) -> TestApp {
    init_logging();
    let mut settings = Settings::defaults().expect("default settings");
    settings.database.url = SecretString::from(database.url());
    settings.database.pool_size = 4;
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.server.workers = 2;
    // Tests deliver mail when they choose (`deliver_mail`), unless they turn the worker on.
    settings.mail.worker_enabled = false;
    settings.webhooks.worker_enabled = false;
    settings.mail.retry_base_seconds = 0;
    settings.mail.public_base_url = "https://prenota.example.it".into();
    // Every test client is one address; the stories about limits turn them on.
    settings.rate_limit.enabled = false;
    let mail_dir = tempfile::tempdir().expect("mail folder");
    settings.mail.file_dir = mail_dir.path().to_owned();
    customise(&mut settings);
    start(settings, mail_dir, std::sync::Arc::new(database)).await
}

impl TestApp {
    /// Another instance of the service over the same database, with the same settings: the
    /// second of several instances behind a load balancer.
    pub async fn beside(&self) -> TestApp {
        let mail_dir = tempfile::tempdir().expect("mail folder");
        let mut settings = self.settings.clone();
        settings.mail.file_dir = mail_dir.path().to_owned();
        start(settings, mail_dir, self.database.clone()).await
    }
}

async fn start(
    settings: Settings,
    mail_dir: tempfile::TempDir,
    database: std::sync::Arc<TestDatabase>,
) -> TestApp {
    let app = Application::build(&settings)
        .await
        .expect("the application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let server = app.handle();
    let store = app.store().clone();
    let metrics_port = app.metrics_port();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client"),
        settings,
        metrics_port,
        store,
        server,
        admin: tokio::sync::OnceCell::new(),
        mail_dir,
        database,
    }
}

/// A server whose mail goes to `smtp` instead of files.
pub async fn spawn_app_mailing_to(backend: Backend, smtp: &SmtpSink) -> TestApp {
    spawn_app_with(backend, |s| send_mail_to(s, smtp)).await
}

/// Sends mail to `smtp` instead of files.
pub fn send_mail_to(settings: &mut Settings, smtp: &SmtpSink) {
    settings.mail.smtp_host = "127.0.0.1".into();
    settings.mail.smtp_port = smtp.port;
    settings.mail.smtp_security = sportello::config::SmtpSecurity::None;
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let server = self.server.clone();
        // Stop the workers (and their database pools) before the database is dropped.
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(server.stop(false))
        });
    }
}

impl TestApp {
    /// Runs the mail worker until nothing is due, as the worker inside `serve` would.
    pub async fn deliver_mail(&self) -> sportello::mail::Round {
        sportello::mail::Mailer::new(&self.settings, self.store.clone())
            .expect("a mailer")
            .deliver_all_due()
            .await
            .expect("mail delivered")
    }

    /// One round of the invitations' housekeeping as if it were `now`: reminders queued,
    /// invitations past their deadline expired.
    pub async fn tidy_invitations_at(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> sportello::use_cases::invitations::Tidied {
        let policy = sportello::use_cases::bookings::Policy::from_settings(&self.settings);
        sportello::use_cases::invitations::tidy(&self.store, &policy, now)
            .await
            .expect("invitations tidied")
    }

    /// The lottery draws whose window has closed by `now`, made as housekeeping makes them.
    /// Returns how many.
    pub async fn draw_lotteries_at(&self, now: chrono::DateTime<chrono::Utc>) -> usize {
        let policy = sportello::use_cases::bookings::Policy::from_settings(&self.settings);
        sportello::use_cases::lottery::draw::draw_due(&self.store, &policy, now)
            .await
            .expect("draws made")
    }

    /// One round of the waitlist as if it were `now`: lapsed offers let go, free seats offered.
    /// Returns (lapsed, offered).
    pub async fn run_waitlist_at(&self, now: chrono::DateTime<chrono::Utc>) -> (usize, usize) {
        let policy = sportello::use_cases::bookings::Policy::from_settings(&self.settings);
        let round = sportello::use_cases::waitlist::offer_due(&self.store, &policy, now)
            .await
            .expect("waitlist round");
        (round.lapsed, round.offered)
    }

    /// One round of reconfirmation as if it were `now`: applicants asked, unconfirmed visits
    /// released. Returns (asked, released).
    pub async fn run_reconfirmation_at(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (usize, usize) {
        let policy = sportello::use_cases::bookings::Policy::from_settings(&self.settings);
        let round = sportello::use_cases::bookings::reconfirm::tidy(&self.store, &policy, now)
            .await
            .expect("reconfirmation round");
        (round.asked, round.released)
    }

    /// One round of retention as if it were `now`, with the service's settings.
    pub async fn run_retention_at(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> sportello::use_cases::personal_data::Purged {
        use sportello::use_cases::personal_data::{Retention, apply_retention};
        let retention = Retention::from_settings(
            &self.settings.retention,
            self.settings.mail.file_dir.clone(),
        );
        apply_retention(&self.store, &retention, now)
            .await
            .expect("retention applied")
    }

    /// Housekeeping's daily lead-time sample as if it were `now`; returns how many were taken.
    pub async fn sample_lead_times_at(&self, now: chrono::DateTime<chrono::Utc>) -> usize {
        sportello::use_cases::indicators::sample_lead_times(&self.store, now)
            .await
            .expect("lead times sampled")
    }

    /// The columns of every table of the database, by table.
    pub async fn columns_by_table(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        use diesel::{QueryableByName, RunQueryDsl, sql_types::Text};
        #[derive(QueryableByName)]
        struct Column {
            #[diesel(sql_type = Text)]
            table_name: String,
            #[diesel(sql_type = Text)]
            column_name: String,
        }
        let backend = self.store.backend();
        let columns = self
            .store
            .read(
                move |conn| -> Result<Vec<Column>, sportello::store::StoreError> {
                    let sql = match backend {
                        sportello::store::Backend::Postgres => {
                            "SELECT c.table_name::text AS table_name, \
                             c.column_name::text AS column_name \
                             FROM information_schema.columns c JOIN information_schema.tables t \
                             ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
                             WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'"
                        }
                        sportello::store::Backend::Sqlite => {
                            "SELECT m.name AS table_name, p.name AS column_name \
                             FROM sqlite_master m, pragma_table_info(m.name) p \
                             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
                        }
                    };
                    Ok(diesel::sql_query(sql).load(conn)?)
                },
            )
            .await
            .unwrap();
        let mut tables = std::collections::BTreeMap::<String, Vec<String>>::new();
        for column in columns {
            tables
                .entry(column.table_name)
                .or_default()
                .push(column.column_name);
        }
        tables
    }

    /// Every row of every table of the database, as text, by table: to search for what must
    /// not be stored anywhere.
    pub async fn every_row(&self) -> Vec<(String, String)> {
        use diesel::{QueryableByName, RunQueryDsl, sql_types::Text};
        #[derive(QueryableByName)]
        struct Line {
            #[diesel(sql_type = Text)]
            text: String,
        }
        let backend = self.store.backend();
        self.store
            .read(
                move |conn| -> Result<Vec<(String, String)>, sportello::store::StoreError> {
                    let tables: Vec<Line> = match backend {
                        sportello::store::Backend::Postgres => diesel::sql_query(
                            "SELECT table_name::text AS text FROM information_schema.tables \
                         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
                        )
                        .load(conn)?,
                        sportello::store::Backend::Sqlite => diesel::sql_query(
                            "SELECT name AS text FROM sqlite_master WHERE type = 'table' \
                         AND name NOT LIKE 'sqlite_%'",
                        )
                        .load(conn)?,
                    };
                    let mut rows = Vec::new();
                    for Line { text: table } in tables {
                        let query = match backend {
                            sportello::store::Backend::Postgres => {
                                format!("SELECT t::text AS text FROM \"{table}\" t")
                            }
                            sportello::store::Backend::Sqlite => {
                                let columns: Vec<Line> = diesel::sql_query(format!(
                                    "SELECT name AS text FROM pragma_table_info('{table}')"
                                ))
                                .load(conn)?;
                                let joined: Vec<String> = columns
                                    .iter()
                                    .map(|c| format!("COALESCE(CAST(\"{}\" AS TEXT), '')", c.text))
                                    .collect();
                                format!(
                                    "SELECT {} AS text FROM \"{table}\"",
                                    joined.join(" || '|' || ")
                                )
                            }
                        };
                        for line in diesel::sql_query(query).load::<Line>(conn)? {
                            rows.push((table.clone(), line.text));
                        }
                    }
                    Ok(rows)
                },
            )
            .await
            .unwrap()
    }

    /// One round of the seats' housekeeping as if it were `now`: seats whose cool-down has
    /// passed go back on sale. Returns how many.
    pub async fn release_cooled_seats_at(&self, now: chrono::DateTime<chrono::Utc>) -> i32 {
        let keep_keys = chrono::Duration::hours(24);
        let (released, _) = sportello::use_cases::bookings::tidy(&self.store, keep_keys, now)
            .await
            .expect("seats tidied");
        released
    }

    /// Runs the mail worker until nothing is due as of `now` (a time ahead, when the test's
    /// housekeeping queued something for then).
    pub async fn deliver_mail_at(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> sportello::mail::Round {
        sportello::mail::Mailer::new(&self.settings, self.store.clone())
            .expect("a mailer")
            .deliver_all_due_at(now)
            .await
            .expect("mail delivered")
    }

    /// A link containing `part` in the newest mail that has one, among the mails written to the
    /// mail folder (where mail goes when no SMTP server is set), as the applicant would click it.
    pub fn link_in_newest_mail(&self, part: &str) -> String {
        let mut files: Vec<_> = std::fs::read_dir(self.mail_dir.path())
            .expect("the mail folder")
            .map(|entry| entry.expect("a mail file").path())
            .collect();
        files.sort_by_key(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok());
        files
            .iter()
            .rev()
            .find_map(|file| {
                let data = std::fs::read(file).expect("the mail file");
                let message = mail_parser::MessageParser::default().parse(&data)?;
                let text = message.body_text(0)?.into_owned();
                text.split_whitespace()
                    .find(|word| word.contains(part))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| panic!("a mail with a link to {part}"))
    }

    /// What the newest mail's link to `path` names (a reference or id) and its token, from a
    /// link of the form `…{path}{name}?token={token}`.
    pub fn name_and_token_in_newest_mail(&self, path: &str) -> (String, String) {
        let link = self.link_in_newest_mail(path);
        let rest = link.split(path).nth(1).expect("the link's path");
        let (name, token) = rest.split_once("?token=").expect("the link's token");
        (name.to_owned(), token.to_owned())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Logs in and returns the token, failing the test if login does not succeed.
    pub async fn token_for(&self, email: &str, password: &str) -> Token {
        let body = self.login(email, password).await.ok();
        Token(
            body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
        )
    }

    /// Creates an account straight in the store, with [`PASSWORD`], as `sportello admin
    /// create` does for administrators (no audit entry: nobody is signed in); returns its id.
    pub async fn create_staff(&self, email: &str, role: Role, office: Option<&str>) -> i64 {
        let email = EmailAddress::parse(email).expect("email");
        let office = office.map(|code| OfficeCode::parse(code).expect("office code"));
        let password = NewPassword::parse(PASSWORD).expect("password");
        let hash = password::hash(&password).expect("hash");
        self.store
            .write(move |conn| -> Result<i64, StoreError> {
                let office_id = match &office {
                    Some(code) => Some(offices::id_by_code(conn, code)?.expect("office exists")),
                    None => None,
                };
                let new = staff::NewStaff {
                    email: &email,
                    password_hash: &hash,
                    role,
                    office_id,
                };
                Ok(staff::insert(conn, new, Utc::now())?.get())
            })
            .await
            .expect("staff created")
    }

    /// The national administrator every test app has on demand (created once, then reused).
    pub async fn admin_token(&self) -> Token {
        self.admin
            .get_or_init(|| async {
                self.create_staff("admin@interno.it", Role::Admin, None)
                    .await;
                self.token_for("admin@interno.it", PASSWORD).await
            })
            .await
            .clone()
    }

    /// Logs in as the manager of `office` (creating the office when needed).
    pub async fn manager(&self, office: &str) -> Token {
        self.staff_of(office, Role::Manager, "manager").await
    }

    /// Logs in as an operator of `office` (creating the office when needed).
    pub async fn operator(&self, office: &str) -> Token {
        self.staff_of(office, Role::Operator, "operator").await
    }

    async fn staff_of(&self, office: &str, role: Role, title: &str) -> Token {
        self.ensure_office(office).await;
        let email = format!("{title}.{}@prefettura.it", office.to_lowercase());
        self.create_staff(&email, role, Some(office)).await;
        self.token_for(&email, PASSWORD).await
    }

    async fn ensure_office(&self, office: &str) {
        let code = OfficeCode::parse(office).expect("office code");
        let exists = self
            .store
            .read(move |conn| -> Result<bool, StoreError> {
                Ok(offices::id_by_code(conn, &code)?.is_some())
            })
            .await
            .expect("office lookup");
        if !exists {
            crate::fixtures::create_office(self, office).await;
        }
    }
}
