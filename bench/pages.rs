//! Applicant pages benchmark: what each page weighs (HTML + CSS + JS, bytes as sent) and how
//! long the server takes to answer it with 16 clients asking at once (p50, p99, pages/s).
//!
//!     cargo bench --bench pages                       # SQLite and PostgreSQL
//!     BENCH_DATABASES=sqlite BENCH_SECONDS=5 cargo bench --bench pages
//!
//! One live office (see `common::configure_office`) with four weeks published and one booking,
//! so the booking's own pages exist. Each page is asked for `BENCH_SECONDS` (default 5) by
//! `BENCH_CLIENTS` (default 16) clients in a loop, each with its own connection.

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use serde_json::{Value, json};
use sportello::store::Backend;

use common::{Scratch, configure_office, percentiles};

/// The assets a page may load, by where they are referenced.
const STYLE: &str = "/assets/site.css";
const WIDGET: [&str; 4] = [
    "/assets/altcha.js",
    "/assets/altcha.css",
    "/assets/altcha-setup.js",
    "/assets/altcha-pbkdf2.js",
];

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let seconds = common::env_number("BENCH_SECONDS", 5) as u64;
    let clients = common::env_number("BENCH_CLIENTS", 16);
    println!(
        "pages benchmark, {clients} clients, {seconds} s a page, {}",
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    for (backend, name) in common::backends() {
        println!("\n== {name} ==");
        runtime.block_on(run(backend, clients, Duration::from_secs(seconds)))?;
    }
    Ok(())
}

async fn run(backend: Backend, clients: usize, each: Duration) -> anyhow::Result<()> {
    let scratch = Scratch::create(backend, "pages")?;
    let served = common::serve(&scratch, 16).await?;
    let base = format!("http://127.0.0.1:{}", served.port);
    let today = Utc::now().date_naive();
    served
        .store
        .write(move |conn| {
            configure_office(conn, 1)?;
            let office = common::office(conn, 1)?;
            common::publish(conn, &office, today, today + Days::new(27))?;
            Ok::<_, anyhow::Error>(())
        })
        .await?;

    // One booking, for its pages.
    let http = reqwest::Client::new();
    let availability: Value = http
        .get(format!(
            "{base}/api/v1/offices/B001/availability?service=document_delivery"
        ))
        .send()
        .await?
        .json()
        .await?;
    let slot = &availability["days"][1]["slots"][0];
    let day = availability["days"][1]["date"].as_str().unwrap_or_default();
    let booked: Value = http
        .post(format!("{base}/api/v1/offices/B001/bookings"))
        .json(&json!({
            "slot_id": slot["id"],
            "case_number": "RM/2026/000001",
            "full_name": "Amina Diallo",
            "email": "amina@example.org",
            "language": "it",
        }))
        .send()
        .await?
        .json()
        .await?;
    let (reference, token) = (
        booked["reference"].as_str().unwrap_or_default(),
        booked["manage_token"].as_str().unwrap_or_default(),
    );
    let free = &availability["days"][1]["slots"][1]["id"];
    let pages = [
        ("directory", "/".to_owned()),
        ("office", "/offices/B001".to_owned()),
        (
            "times (two weeks)",
            "/offices/B001/services/document_delivery".to_owned(),
        ),
        (
            "form",
            format!("/offices/B001/services/document_delivery/book?slot={free}&day={day}"),
        ),
        ("booking", format!("/bookings/{reference}?token={token}")),
        (
            "cancel step",
            format!("/bookings/{reference}/cancel?token={token}"),
        ),
        (
            "move (two weeks)",
            format!("/bookings/{reference}/move?token={token}"),
        ),
    ];

    println!("weight (bytes as sent to a browser: pages as they are, assets gzip-compressed):");
    let style = fetch_gzip(&http, &format!("{base}{STYLE}")).await?.len();
    let (mut widget, mut widget_plain) = (0, 0);
    for asset in WIDGET {
        widget += fetch_gzip(&http, &format!("{base}{asset}")).await?.len();
        widget_plain += fetch(&http, &format!("{base}{asset}")).await?.len();
    }
    for (name, path) in &pages {
        let html = fetch(&http, &format!("{base}{path}")).await?.len();
        println!(
            "  {name:<18} HTML {html:>6} + CSS {style:>5} = {:>6} bytes",
            html + style
        );
    }
    println!(
        "  form where the office asks for proof of work: + {widget} bytes of the ALTCHA widget \
         (script, style, worker; {widget_plain} uncompressed)"
    );

    println!("server time with {clients} clients:");
    for (name, path) in &pages {
        let url = format!("{base}{path}");
        let (count, samples) = load(&url, clients, each).await;
        println!(
            "  {name:<18} {:>7.0} pages/s, {}",
            count as f64 / each.as_secs_f64(),
            percentiles(samples)
        );
    }
    served.handle.stop(true).await;
    Ok(())
}

/// The body as a browser that takes gzip receives it (this client does not decode it).
async fn fetch_gzip(http: &reqwest::Client, url: &str) -> anyhow::Result<Vec<u8>> {
    let response = http
        .get(url)
        .header("accept-encoding", "gzip")
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    Ok(response.bytes().await?.to_vec())
}

async fn fetch(http: &reqwest::Client, url: &str) -> anyhow::Result<Vec<u8>> {
    let response = http.get(url).send().await?;
    anyhow::ensure!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    Ok(response.bytes().await?.to_vec())
}

/// `clients` clients asking for `url` in a loop for `each`: how many answers, and each one's
/// time.
async fn load(url: &str, clients: usize, each: Duration) -> (usize, Vec<Duration>) {
    let until = Instant::now() + each;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let url = url.to_owned();
            tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .expect("a client");
                let mut samples = Vec::new();
                while Instant::now() < until {
                    let started = Instant::now();
                    let ok = match http.get(&url).send().await {
                        Ok(response) => response.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if ok {
                        samples.push(started.elapsed());
                    }
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await.unwrap_or_default());
    }
    (samples.len(), samples)
}
