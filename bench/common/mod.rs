//! What the benchmarks share: a scratch database, a server over it, offices configured like a
//! busy prefecture, and latency percentiles.

#![allow(dead_code)]

pub mod balancer;
pub mod click_day;
pub mod outbox;
#[path = "../../tests/api/smtp.rs"]
pub mod smtp;
pub mod staleness;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use diesel::{Connection, ExpressionMethods, PgConnection, QueryDsl, RunQueryDsl};
use secrecy::SecretString;
use sportello::{
    config::Settings,
    domain::days::start_of_day,
    domain::{
        booking::{CaseNumber, Channel, Reference},
        calendar::CalendarFields,
        catalogue::TypeCode,
        email::EmailAddress,
        hours::{IntervalInput, WeeklyHours},
        ids::{OfficeId, ServiceId, SlotId},
        language::Language,
        office::{OfficeCode, OfficeDetails, PatronDay, Stage},
        service::ServiceSettings,
    },
    startup::Application,
    store::{
        Backend, DbConnection, Store, bookings, calendars, catalogue,
        offices::{self, Office},
        schema, services, slots as stored_slots,
    },
    use_cases::{
        bookings::token::{TokenKey, fingerprint},
        publication::{MixedDurations, Mode, PublishReport, reconcile_slots},
    },
};

/// The backends `BENCH_DATABASES` asks for (default both).
pub fn backends() -> Vec<(Backend, &'static str)> {
    let wanted = std::env::var("BENCH_DATABASES").unwrap_or_else(|_| "sqlite,postgres".into());
    [(Backend::Sqlite, "sqlite"), (Backend::Postgres, "postgres")]
        .into_iter()
        .filter(|(_, name)| wanted.split(',').any(|w| w.trim() == *name))
        .collect()
}

pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// A scratch database, removed afterwards.
pub enum Scratch {
    Sqlite(tempfile::TempDir),
    Postgres { server: String, name: String },
}

impl Scratch {
    pub fn create(backend: Backend, label: &str) -> anyhow::Result<Scratch> {
        Ok(match backend {
            Backend::Sqlite => Scratch::Sqlite(tempfile::tempdir()?),
            Backend::Postgres => {
                let server = std::env::var("SPORTELLO_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let name = format!("sportello_bench_{label}_{}", std::process::id());
                let mut admin = PgConnection::establish(&server)?;
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name}")).execute(&mut admin)?;
                diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)?;
                Scratch::Postgres { server, name }
            }
        })
    }

    pub fn url(&self) -> String {
        match self {
            Scratch::Sqlite(dir) => format!("sqlite://{}/bench.db", dir.path().display()),
            Scratch::Postgres { server, name } => {
                let base = server
                    .rsplit_once('/')
                    .map_or(server.as_str(), |(base, _)| base);
                // The server, the database and the load share one machine: TLS on the loopback
                // would measure encryption the same host has no need of (about a third of a
                // booking's database time on a 2-core machine). BENCH_POSTGRES_TLS=1 keeps
                // libpq's default (TLS when the server offers it).
                match std::env::var_os("BENCH_POSTGRES_TLS") {
                    Some(_) => format!("{base}/{name}"),
                    None => format!("{base}/{name}?sslmode=disable"),
                }
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // BENCH_KEEP_DATABASE=1 leaves a PostgreSQL scratch database behind, seeded, for a
        // closer look (psql, pgbench, EXPLAIN) after the run.
        if let Scratch::Postgres { name, .. } = self
            && std::env::var_os("BENCH_KEEP_DATABASE").is_some()
        {
            eprintln!("kept the scratch database {name}");
            return;
        }
        if let Scratch::Postgres { server, name } = self
            && let Ok(mut admin) = PgConnection::establish(server)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

/// The real server over the scratch database, on a free port.
pub struct Served {
    pub port: u16,
    pub store: Store,
    pub handle: actix_web::dev::ServerHandle,
}

/// Settings for a benchmark over the scratch database: the server on a free port, the mail
/// worker off (benchmarks run it themselves when they measure it).
pub fn settings(scratch: &Scratch, pool_size: u32) -> anyhow::Result<Settings> {
    let mut settings = Settings::defaults()?;
    settings.database.url = SecretString::from(scratch.url());
    settings.database.pool_size = pool_size;
    settings.server.port = 0;
    settings.server.workers = 2;
    settings.booking.max_active_per_email = 1_000_000;
    settings.mail.worker_enabled = false;
    settings.webhooks.worker_enabled = false;
    // The load comes from this one machine: no per-address limits.
    settings.rate_limit.enabled = false;
    Ok(settings)
}

pub async fn serve(scratch: &Scratch, pool_size: u32) -> anyhow::Result<Served> {
    let settings = settings(scratch, pool_size)?;
    let app = Application::build(&settings).await?;
    let served = Served {
        port: app.port(),
        store: app.store().clone(),
        handle: app.handle(),
    };
    tokio::spawn(app.run_until_stopped());
    Ok(served)
}

fn hours() -> WeeklyHours {
    let input: Vec<IntervalInput> = (1..=5)
        .flat_map(|weekday| {
            [("08:30", "13:00"), ("14:00", "16:30")].map(|(opens, closes)| IntervalInput {
                weekday,
                opens: opens.into(),
                closes: closes.into(),
            })
        })
        .collect();
    WeeklyHours::parse(&input).expect("valid hours")
}

pub fn office_code(index: usize) -> OfficeCode {
    OfficeCode::parse(&format!("B{index:03}")).expect("code")
}

/// Office `B001`…, live: document delivery (30 min) on three desks and permit collection
/// (15 min) on two, Monday to Friday 08:30–13:00 and 14:00–16:30, a 20% desk share, bookable
/// from now to 400 days ahead. Returns its id.
pub fn configure_office(conn: &mut DbConnection, index: usize) -> anyhow::Result<OfficeId> {
    let now = Utc::now();
    let details = OfficeDetails {
        patron_day: Some(PatronDay::parse("06-29").expect("day")),
        ..OfficeDetails::new(
            &format!("Sportello Unico {index}"),
            "Piazza del Viminale 1",
            "Roma",
            "RM",
        )
    };
    let office = offices::insert(conn, &office_code(index), &details, now)?;
    offices::set_stage(conn, office, Stage::Live, now)?;
    let settings = ServiceSettings {
        horizon_days: 400,
        min_notice_hours: 0,
        desk_share_percent: 20,
        ..ServiceSettings::default()
    };
    for (type_code, desks) in [("document_delivery", 3), ("permit_collection", 2)] {
        let appointment_type =
            catalogue::find_by_code(conn, &TypeCode::parse(type_code).expect("code"))?
                .with_context(|| format!("{type_code} is not in the catalogue"))?;
        let service = services::insert(conn, office, appointment_type.id, &settings, now)?;
        let fields = CalendarFields {
            name: format!("{type_code} desks"),
            desks,
            valid_from: None,
            valid_until: None,
        };
        let calendar = calendars::insert(conn, office, &fields, &[service], now)?;
        calendars::replace_hours(conn, office, calendar, &hours(), now)?;
    }
    Ok(office)
}

/// The office with this index, as the store has it.
pub fn office(conn: &mut DbConnection, index: usize) -> anyhow::Result<Office> {
    offices::find_by_code(conn, &office_code(index))?
        .with_context(|| format!("office {} is missing", office_code(index)))
}

/// Publishes the office's slots on the local days `from..=to`, as staff publishing would.
pub fn publish(
    conn: &mut DbConnection,
    office: &Office,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<PublishReport> {
    let report = reconcile_slots::<MixedDurations>(
        conn,
        office,
        from,
        to,
        Mode::Publish {
            opens_at: None,
            shares: None,
        },
        Utc::now(),
    )?;
    Ok(report)
}

pub fn percentiles(mut samples: Vec<Duration>) -> String {
    if samples.is_empty() {
        return "no samples".into();
    }
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.90).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3
    )
}

/// A cheap deterministic spread of indexes in `1..=count`, so runs compare.
pub fn pick(i: usize, count: usize) -> usize {
    (i.wrapping_mul(2_654_435_761) >> 7) % count + 1
}

/// The release binary, serving the scratch database on a free port.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    /// Starts it with these extra `APP__…` settings.
    pub fn start(database_url: &str, settings: &[(&str, &str)]) -> anyhow::Result<Server> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sportello"))
            .arg("serve")
            .env_clear()
            .env(
                "APP_CONFIG_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/config"),
            )
            .env("DATABASE_URL", database_url)
            .env("PORT", "0")
            .env("APP__SERVER__WORKERS", "2")
            .env(
                "APP__DATABASE__POOL_SIZE",
                env_number("BENCH_POOL_SIZE", 24).to_string(),
            )
            .env("APP__BOOKING__MAX_ACTIVE_PER_EMAIL", "1000000")
            .env("APP__MAIL__WORKER_ENABLED", "false")
            // The load comes from this one machine: no per-address limits.
            .env("APP__RATE_LIMIT__ENABLED", "false")
            .env("APP__LOG__FORMAT", "json")
            .env("APP__LOG__LEVEL", "warn,sportello::cli=info")
            .envs(settings.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
        let mut lines = BufReader::new(stderr).lines();
        let port = loop {
            let line = lines
                .next()
                .ok_or_else(|| anyhow::anyhow!("the server exited"))??;
            if line.contains("sportello is listening") {
                let entry: serde_json::Value = serde_json::from_str(&line)?;
                let address = entry["fields"]["address"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                break address.rsplit(':').next().unwrap_or("0").parse()?;
            }
        };
        // Keep draining the log so the server never blocks on a full pipe; its errors (the
        // cause behind a 500) go to the benchmark's standard error.
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                // (Left out: the pool's complaints about connections it drops, and the 503s
                // the drills expect while the database is away.)
                if line.contains("\"level\":\"ERROR\"")
                    && !line.contains("\"target\":\"r2d2\"")
                    && !line.contains("503 service_unavailable")
                {
                    eprintln!("server: {line}");
                }
            }
        });
        Ok(Server { child, port })
    }

    /// The most memory the server process has held (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        self.memory_mib("VmHWM:")
    }

    /// The most memory the server process has held since the last call (or since it started),
    /// in MiB: a scenario's own peak. Linux starts the count again at what is held now
    /// (`clear_refs`, 5).
    pub fn take_peak_rss_mib(&self) -> f64 {
        let peak = self.peak_rss_mib();
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
        peak
    }

    /// The memory the server process holds now (VmRSS), in MiB.
    pub fn rss_mib(&self) -> f64 {
        self.memory_mib("VmRSS:")
    }

    /// A line of the server process's /proc status, e.g. `Threads:`.
    pub fn status_field(&self, field: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|l| l.starts_with(field))
                    .map(|l| l[field.len()..].trim().to_owned())
            })
            .unwrap_or_default()
    }

    /// Prints the server's ten largest resident mappings (for finding where memory went).
    pub fn dump_largest_mappings(&self) {
        let smaps =
            std::fs::read_to_string(format!("/proc/{}/smaps", self.child.id())).unwrap_or_default();
        let mut current = String::new();
        let mut sizes: Vec<(u64, String)> = Vec::new();
        for line in smaps.lines() {
            if line.starts_with("Rss:") {
                let kb = line.split_whitespace().nth(1).and_then(|n| n.parse().ok());
                sizes.push((kb.unwrap_or(0), current.clone()));
            } else if !line.contains(':') || line.split_whitespace().count() > 3 {
                current = line.to_owned();
            }
        }
        sizes.sort_by_key(|size| std::cmp::Reverse(size.0));
        let count = sizes.iter().filter(|(kb, _)| *kb > 1024).count();
        println!("{count} mappings over 1 MiB resident; the largest:");
        for (kb, mapping) in sizes.iter().take(10) {
            println!("{:>8} KiB  {mapping}", kb);
        }
    }

    fn memory_mib(&self, field: &str) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

impl Server {
    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// A reference no random one collides with in practice, from a counter.
fn seeded_reference(n: usize) -> Reference {
    let mut bytes = [0u8; 8];
    for (k, byte) in bytes.iter_mut().enumerate() {
        *byte = ((n >> (5 * k)) & 31) as u8;
    }
    bytes[7] = 31; // a 'Z' last: random references rarely end so, seeded ones always do
    Reference::from_random(bytes)
}

/// Seeds booking number `n` of applicant `SEED/{n}` (web, Italian) straight in the store, in
/// the caller's transaction, without touching the slot's seat counts (the caller sets them);
/// `token` is the manage token's hash and salt, shared by every seeded booking.
pub fn insert_seeded_booking(
    conn: &mut DbConnection,
    n: usize,
    (office_id, slot_id, office_service_id): (OfficeId, SlotId, ServiceId),
    (token_hash, token_salt): (&str, &str),
) -> anyhow::Result<()> {
    let case = CaseNumber::parse(&format!("SEED/{n}"))?;
    let email = EmailAddress::parse(&format!("seed{n}@example.org"))?;
    bookings::insert(
        conn,
        bookings::NewBooking {
            office_id,
            slot_id,
            office_service_id,
            reference: &seeded_reference(n),
            token_hash,
            token_salt,
            case_number: &case,
            full_name: "Seeded Applicant",
            email: Some(&email),
            phone: None,
            language: &Language::italian(),
            channel: Channel::Web,
            is_test: false,
            created_by: None,
            intermediary_id: None,
        },
        Utc::now(),
    )?;
    Ok(())
}

/// Books the office's web seats on the local days `first..=last` (Rome) in time order with
/// `count` seeded bookings numbered from `first_n`, straight in the store, and sets each
/// slot's web count to match; returns the local day of the last one.
pub fn fill_web_seats(
    conn: &mut DbConnection,
    office_id: OfficeId,
    (first, last): (NaiveDate, NaiveDate),
    count: usize,
    first_n: usize,
) -> anyhow::Result<NaiveDate> {
    let zone = chrono_tz::Europe::Rome;
    let service_of: std::collections::HashMap<_, _> = calendars::list(conn, office_id)?
        .into_iter()
        .map(|calendar| (calendar.id, calendar.service_ids[0]))
        .collect();
    let (from, to) = (
        start_of_day(zone, first),
        start_of_day(zone, last + chrono::Days::new(1)),
    );
    let key = TokenKey::derive(&SecretString::from("seed".to_owned()));
    let salt = TokenKey::new_salt();
    let token_hash = fingerprint(&key.token(&salt));
    let mut booked = 0;
    let mut last_day = first;
    for slot in stored_slots::for_staff(conn, office_id, from, to, None)? {
        if booked == count {
            break;
        }
        let seats = (slot.seats.capacity - slot.seats.held_for_desk) as usize;
        let seats = seats.min(count - booked);
        for _ in 0..seats {
            let seat = (office_id, slot.id, service_of[&slot.calendar_id]);
            let token = (token_hash.as_str(), salt.as_str());
            insert_seeded_booking(conn, first_n + booked, seat, token)?;
            booked += 1;
        }
        diesel::update(schema::slots::table.find(slot.id))
            .set(schema::slots::booked_web.eq(seats as i32))
            .execute(conn)?;
        last_day = slot.time.starts_at.with_timezone(&zone).date_naive();
    }
    anyhow::ensure!(booked == count, "the days hold only {booked} web seats");
    Ok(last_day)
}

/// The report's first lines: its title, the date, the commit and the machine the figures
/// belong to.
pub fn report_header(title: &str) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
            })
        })
        .map_or(0, |kb| kb / 1024 / 1024);
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let dirty = if git(&["status", "--porcelain", "--untracked-files=no"]).is_empty() {
        ""
    } else {
        " (with uncommitted changes)"
    };
    let postgres = match std::env::var_os("BENCH_POSTGRES_TLS") {
        Some(_) => "TLS when the server offers it (BENCH_POSTGRES_TLS)",
        None => "plain TCP on the loopback (sslmode=disable)",
    };
    format!(
        "{title}\ndate:    {}\ncommit:  {}{dirty}\nmachine: {cpu}, {cores} cores, {memory} GiB; server, database and load generator share it\npostgres: {postgres}\n",
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
        git(&["rev-parse", "--short", "HEAD"]),
    )
}
