//! The `sportello` binary as an operator runs it: create an admin, serve, stop with SIGTERM.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use diesel::{Connection, RunQueryDsl, connection::SimpleConnection};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    fixtures::{applicant, open_rome},
    harness::{Backend, TestDatabase, spawn_app},
    smtp::SmtpSink,
};

on_both_databases!(
    an_admin_created_on_the_command_line_logs_in_to_the_served_api,
    admin_create_explains_what_is_wrong_with_its_input,
    migrate_applies_each_migration_once,
    sigterm_lets_the_request_in_flight_finish,
    an_unexpected_failure_is_logged_with_its_cause_and_request_id,
    a_separate_worker_process_delivers_the_mail,
);

const PASSWORD: &str = "a long enough passphrase";

/// The binary with a clean environment: only the settings a test gives it.
fn sportello(database: &TestDatabase) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sportello"));
    command
        .env_clear()
        .env(
            "APP_CONFIG_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config"),
        )
        .env("DATABASE_URL", database.url())
        .env("APP__LOG__FORMAT", "json")
        .env("APP__SERVER__WORKERS", "1");
    command
}

fn run(mut command: Command, stdin: &str) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn create_admin(database: &TestDatabase, email: &str, password: &str) -> std::process::Output {
    let mut command = sportello(database);
    command.args(["admin", "create", "--email", email, "--password-stdin"]);
    run(command, &format!("{password}\n"))
}

/// `sportello serve` on a free port, with its log lines collected.
struct Served {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Served {
    fn start(database: &TestDatabase) -> Served {
        let mut child = sportello(database)
            .arg("serve")
            .env("PORT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut served = Served {
            child,
            port: 0,
            log,
        };
        let line = served.wait_for_log(|line| line.contains("sportello is listening"));
        let entry: Value = serde_json::from_str(&line).expect("JSON log line");
        let address = entry["fields"]["address"]
            .as_str()
            .expect("address in the log");
        served.port = address.rsplit(':').next().unwrap().parse().unwrap();
        served
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn wait_for_log(&self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(line) = self.log.lock().unwrap().iter().find(|l| wanted(l)) {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "log line not found in:\n{}",
                self.log.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait_for_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the service did not stop within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn login(client: &reqwest::Client, served: &Served, email: &str) -> reqwest::Response {
    client
        .post(served.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
}

async fn an_admin_created_on_the_command_line_logs_in_to_the_served_api(backend: Backend) {
    let database = TestDatabase::create(backend);
    let output = create_admin(&database, "Chiara@Interno.it", PASSWORD);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("created admin chiara@interno.it"));

    let served = Served::start(&database);
    let client = reqwest::Client::new();
    let response = login(&client, &served, "chiara@interno.it").await;
    assert_eq!(response.status(), StatusCode::OK);
    let token = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me: Value = client
        .get(served.url("/api/v1/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["email"].as_str(), me["role"].as_str()),
        (Some("chiara@interno.it"), Some("admin"))
    );

    // The same email again, in another case: refused with a reason, nothing changed.
    let again = create_admin(&database, "CHIARA@interno.it", "another long passphrase");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{again:?}"
    );
    assert_eq!(
        login(&client, &served, "chiara@interno.it").await.status(),
        StatusCode::OK
    );
}

async fn admin_create_explains_what_is_wrong_with_its_input(backend: Backend) {
    let database = TestDatabase::create(backend);
    let short = create_admin(&database, "chiara@interno.it", "short");
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr)
            .contains("the password must be at least 12 characters"),
        "{short:?}"
    );

    let mut command = sportello(&database);
    command.args(["admin", "create", "--email", "chiara@interno.it"]);
    let no_stdin = run(command, "");
    assert!(!no_stdin.status.success());
    assert!(
        String::from_utf8_lossy(&no_stdin.stderr).contains("--password-stdin"),
        "{no_stdin:?}"
    );

    let bad_email = create_admin(&database, "chiara", PASSWORD);
    assert!(
        String::from_utf8_lossy(&bad_email.stderr).contains("--email must be an email address"),
        "{bad_email:?}"
    );
}

async fn migrate_applies_each_migration_once(backend: Backend) {
    let database = TestDatabase::create(backend);
    let mut command = sportello(&database);
    command.arg("migrate");
    let first = run(command, "");
    assert!(first.status.success(), "{first:?}");
    let expected = sportello::store::migration_versions(backend).len();
    assert_eq!(
        String::from_utf8_lossy(&first.stdout).trim(),
        format!("applied {expected} migration(s)")
    );
    let mut command = sportello(&database);
    command.arg("migrate");
    assert_eq!(
        String::from_utf8_lossy(&run(command, "").stdout).trim(),
        "applied 0 migration(s)"
    );
}

async fn sigterm_lets_the_request_in_flight_finish(backend: Backend) {
    let database = TestDatabase::create(backend);
    assert!(
        create_admin(&database, "chiara@interno.it", PASSWORD)
            .status
            .success()
    );
    let mut served = Served::start(&database);

    // A login whose body is still arriving when the signal comes.
    let body = json!({"email": "chiara@interno.it", "password": PASSWORD}).to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", served.port)).unwrap();
    write!(
        stream,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        &body[..10]
    )
    .unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    served.terminate();
    served.wait_for_log(|line| line.contains("SIGTERM"));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        served.child.try_wait().unwrap().is_none(),
        "the service waits for the request in flight"
    );

    stream.write_all(&body.as_bytes()[10..]).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("access_token"), "{answer}");

    let status = served.wait_for_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    served.wait_for_log(|line| line.contains("\"stopped\""));
}

async fn an_unexpected_failure_is_logged_with_its_cause_and_request_id(backend: Backend) {
    let database = TestDatabase::create(backend);
    let served = Served::start(&database);
    // Break the database under the running service.
    let drop_table = diesel::sql_query("DROP TABLE login_attempts");
    match backend {
        Backend::Postgres => {
            drop_table
                .execute(&mut diesel::PgConnection::establish(&database.url()).unwrap())
                .unwrap();
        }
        Backend::Sqlite => {
            let path = database.url().strip_prefix("sqlite://").unwrap().to_owned();
            let mut conn = diesel::SqliteConnection::establish(&path).unwrap();
            // The service's mail worker may be writing at this moment: wait for it, as the
            // service would.
            conn.batch_execute("PRAGMA busy_timeout = 5000").unwrap();
            drop_table.execute(&mut conn).unwrap();
        }
    }
    let response = login(&reqwest::Client::new(), &served, "chiara@interno.it").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let line =
        served.wait_for_log(|line| line.contains("request failed") && line.contains(&request_id));
    let entry: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(entry["level"], "ERROR");
    assert!(
        entry["fields"]["error"]
            .as_str()
            .unwrap()
            .contains("login_attempts"),
        "{line}"
    );
}

async fn a_separate_worker_process_delivers_the_mail(backend: Backend) {
    let smtp = SmtpSink::start();
    // The web instance, with its own worker off…
    let app = spawn_app(backend).await;
    let rome = open_rome(&app).await;
    let booked = app
        .public()
        .book("RM", &applicant(&rome.slots[0], 1))
        .await
        .json();
    // …and `sportello worker` beside it on the same database.
    let mut worker = Command::new(env!("CARGO_BIN_EXE_sportello"))
        .env_clear()
        .env(
            "APP_CONFIG_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config"),
        )
        .env("DATABASE_URL", app.database.url())
        .env("APP__MAIL__SMTP_HOST", "127.0.0.1")
        .env("APP__MAIL__SMTP_PORT", smtp.port.to_string())
        .env("APP__MAIL__SMTP_SECURITY", "none")
        .env("APP__MAIL__POLL_INTERVAL_MS", "100")
        .arg("worker")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the worker runs");
    let received = smtp.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 1);
    let subject = received[0]
        .parsed()
        .subject()
        .unwrap_or_default()
        .to_owned();
    assert!(
        subject.ends_with(booked["reference"].as_str().unwrap()),
        "{subject}"
    );

    let stopped = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = worker.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the worker did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn production_refuses_to_start_with_the_development_secret() {
    let database = TestDatabase::create(Backend::Sqlite);
    let mut command = sportello(&database);
    command.arg("serve").env("APP_ENV", "production");
    let output = run(command, "");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("auth.jwt_secret") && stderr.contains("APP__AUTH__JWT_SECRET"),
        "{stderr}"
    );
}
