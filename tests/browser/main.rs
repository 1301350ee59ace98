//! The applicant's pages in a real browser: Debian's Chromium, headless, driven over WebDriver
//! (chromedriver) with fantoccini. Each story runs on SQLite and on PostgreSQL; every page it
//! passes through is checked with axe-core (no violations allowed) and photographed into
//! `$SPORTELLO_SCREENSHOTS` (default `$CARGO_TARGET_DIR/screenshots`, else
//! `target/screenshots`).
//!
//! Without chromedriver this says in one line that it skipped, and why, and succeeds: `cargo
//! test` runs everything else. CI (`.ci/run`) installs Chromium, chromedriver and axe-core.
//!
//! - `SPORTELLO_CHROMEDRIVER`: the chromedriver to run (default `chromedriver` on the PATH).
//! - `SPORTELLO_CHROMIUM`: the browser it drives (default `chromium` on the PATH).
//! - `SPORTELLO_AXE`: axe-core's `axe.min.js` (default
//!   `~/.cache/sportello-axe/node_modules/axe-core/axe.min.js`, where `.ci/run` puts it).

#[path = "../api/harness.rs"]
#[macro_use]
#[allow(dead_code, unused_macros)]
mod harness;
#[path = "../api/client.rs"]
#[allow(dead_code)]
mod client;
#[path = "../api/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;
#[path = "../api/smtp.rs"]
#[allow(dead_code)]
mod smtp;

mod browser;
mod evaluation;
mod stories;

use std::{path::PathBuf, process::ExitCode};

use browser::Driver;
use harness::{Backend, selected};

fn main() -> ExitCode {
    let wanted = |variable: &str, program: &str| {
        let name = std::env::var(variable).unwrap_or_else(|_| program.into());
        find_program(&name).ok_or(name)
    };
    let found = wanted("SPORTELLO_CHROMEDRIVER", "chromedriver").and_then(|driver| {
        wanted("SPORTELLO_CHROMIUM", "chromium").map(|browser| (driver, browser))
    });
    let (driver_path, browser_path) = match found {
        Ok(found) => found,
        Err(missing) => {
            println!(
                "browser tests skipped: {missing} not found (install Debian's chromium and \
                 chromium-driver, as .ci/run does)"
            );
            return ExitCode::SUCCESS;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let screenshots = screenshot_folder();
    let axe = axe_source();
    if axe.is_none() {
        println!(
            "browser tests: accessibility checks skipped: axe-core not found (set SPORTELLO_AXE, \
             or run .ci/run, which installs it)"
        );
    }
    let outcome = runtime.block_on(async {
        let driver = Driver::start(&driver_path, &browser_path, screenshots.clone(), axe).await;
        let mut checked = 0;
        for backend in [Backend::Sqlite, Backend::Postgres] {
            if selected(backend) {
                checked += stories::run_all(&driver, backend).await;
            }
        }
        checked
    });
    println!(
        "browser tests passed: {outcome} pages checked with axe-core, screenshots in {}",
        screenshots.display()
    );
    ExitCode::SUCCESS
}

/// `name` itself when it is a path to a file, else the first match on the PATH.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = PathBuf::from(name);
    if path.components().count() > 1 {
        return path.is_file().then_some(path);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

fn screenshot_folder() -> PathBuf {
    let folder = std::env::var_os("SPORTELLO_SCREENSHOTS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR").map(|dir| PathBuf::from(dir).join("screenshots"))
        })
        .unwrap_or_else(|| PathBuf::from("target/screenshots"));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).expect("the screenshot folder");
    folder
}

fn axe_source() -> Option<String> {
    let path = std::env::var_os("SPORTELLO_AXE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| {
                PathBuf::from(home).join(".cache/sportello-axe/node_modules/axe-core/axe.min.js")
            })
        })?;
    std::fs::read_to_string(path).ok()
}
