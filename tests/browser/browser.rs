//! One chromedriver for the run, a browser session per story, and what a story does with a
//! page: open it, click, fill, check it with axe-core, photograph it.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use fantoccini::{
    Client, ClientBuilder, Locator,
    wd::{Capabilities, WebDriverCompatibleCommand},
};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// The chromedriver process, killed when the run ends.
pub struct Driver {
    url: String,
    browser: PathBuf,
    _process: Child,
    screenshots: PathBuf,
    axe: Option<String>,
}

/// How a story's browser looks at pages.
#[derive(Clone, Copy)]
pub enum Screen {
    /// A laptop: 1280 px wide.
    Desktop,
    /// The narrowest phone: 320 px wide, as a phone reports itself.
    Phone320,
    /// A laptop with JavaScript turned off.
    NoScript,
}

impl Driver {
    pub async fn start(
        program: &Path,
        browser: &Path,
        screenshots: PathBuf,
        axe: Option<String>,
    ) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let process = Command::new(program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if reqwest::get(format!("{url}/status")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Driver {
            url,
            browser: browser.to_owned(),
            _process: process,
            screenshots,
            axe,
        }
    }

    /// A fresh browser (no cookies) for one story; its screenshots are named after `name`.
    pub async fn browser(&self, name: &str, base: &str, screen: Screen) -> Browser {
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1280,1000",
        ];
        let mut options = json!({});
        match screen {
            Screen::Desktop => {}
            Screen::Phone320 => {
                options["mobileEmulation"] = json!({
                    "deviceMetrics": {"width": 320, "height": 900, "pixelRatio": 1.0, "touch": true}
                });
            }
            Screen::NoScript => {
                options["prefs"] =
                    json!({"profile.managed_default_content_settings.javascript": 2});
                args.push("--blink-settings=scriptEnabled=false");
            }
        }
        options["args"] = json!(args);
        options["binary"] = json!(self.browser);
        let mut capabilities = Capabilities::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a browser session");
        Browser {
            client,
            base: base.to_owned(),
            name: name.to_owned(),
            folder: self.screenshots.clone(),
            axe: self.axe.clone(),
            screen,
            step: 0,
            checked: 0,
        }
    }
}

/// A browser session of one story.
pub struct Browser {
    pub client: Client,
    base: String,
    name: String,
    folder: PathBuf,
    axe: Option<String>,
    screen: Screen,
    step: usize,
    /// Pages checked with axe-core so far.
    pub checked: usize,
}

impl Browser {
    /// Opens `path` on the service (a path and query, or a full link of ours whose public
    /// address is replaced by the test server's).
    pub async fn open(&self, path: &str) {
        let path = match path.find("://") {
            Some(scheme) => {
                let rest = &path[scheme + 3..];
                rest.find('/').map_or("/", |slash| &rest[slash..])
            }
            None => path,
        };
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("the page opens");
    }

    /// Follows the link with this text, and waits for the next page.
    pub async fn click_link(&self, text: &str) {
        let leaving = self.page().await;
        self.client
            .find(Locator::LinkText(text))
            .await
            .unwrap_or_else(|e| panic!("a link {text:?}: {e}"))
            .click()
            .await
            .expect("the link is clicked");
        self.arrive(leaving).await;
    }

    /// Clicks what `css` finds (a link, a button) and waits for the next page.
    pub async fn click(&self, css: &str) {
        let leaving = self.page().await;
        self.choose(css).await;
        self.arrive(leaving).await;
    }

    /// Presses one key, as a keyboard does (to whatever has the focus).
    pub async fn press(&self, key: fantoccini::key::Key) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let key: char = key.into();
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client
            .perform_actions(actions)
            .await
            .expect("the key is pressed");
    }

    /// Moves the focus with Tab, as someone without a mouse does, until it is on what `css`
    /// finds; fails if Tab never gets there.
    pub async fn tab_to(&self, css: &str) {
        let target = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("an element {css:?}: {e}"))
            .element_id();
        for _ in 0..80 {
            self.press(fantoccini::key::Key::Tab).await;
            let focused = self.client.active_element().await.expect("the focus");
            if focused.element_id() == target {
                return;
            }
        }
        panic!("{}: Tab never reaches {css}", self.name);
    }

    /// Types into whatever has the focus.
    pub async fn type_text(&self, text: &str) {
        self.client
            .active_element()
            .await
            .expect("the focus")
            .send_keys(text)
            .await
            .expect("typed");
    }

    /// Presses Enter on what has the focus, and waits for the next page.
    pub async fn enter(&self) {
        let leaving = self.page().await;
        self.press(fantoccini::key::Key::Enter).await;
        self.arrive(leaving).await;
    }

    /// Clicks what `css` finds, on this page (a radio button).
    pub async fn choose(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("an element {css:?}: {e}"))
            .click()
            .await
            .expect("clicked");
    }

    async fn page(&self) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css("html"))
            .await
            .expect("a page")
    }

    /// Waits until the page `leaving` is gone (its root element goes stale) and the next one
    /// has a body; works with scripts off, as it asks the driver, not the page.
    async fn arrive(&self, leaving: fantoccini::elements::Element) {
        for _ in 0..200 {
            if leaving.tag_name().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("body"))
            .await
            .expect("the next page");
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("a field {css:?}: {e}"));
        field.clear().await.expect("cleared");
        field.send_keys(text).await.expect("typed");
    }

    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("an element {css:?}: {e}"))
            .text()
            .await
            .expect("its text")
    }

    pub async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("an element {css:?}: {e}"))
            .attr(name)
            .await
            .expect("its attribute")
    }

    pub async fn has(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("a search")
            .is_empty()
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("the address")
            .to_string()
    }

    pub async fn source(&self) -> String {
        self.client.source().await.expect("the page source")
    }

    /// The page as it is now, checked and kept: axe-core finds no violation (where it is
    /// installed and scripts run), the page does not scroll sideways, and a screenshot is
    /// written as `{story}-{NN}-{what}.png`.
    pub async fn step(&mut self, what: &str) {
        self.step += 1;
        let scripts = !matches!(self.screen, Screen::NoScript);
        if scripts {
            self.check_accessibility(what).await;
            self.check_no_sideways_scroll(what).await;
        }
        if let (Screen::Desktop, true) = (self.screen, scripts) {
            // The whole page in one picture: the window as tall as the page (within reason).
            let height = self
                .client
                .execute("return document.documentElement.scrollHeight;", vec![])
                .await
                .ok()
                .and_then(|value| value.as_u64())
                .unwrap_or(1000)
                .clamp(600, 3000);
            let _ = self.client.set_window_size(1280, height as u32 + 120).await;
        }
        let png = self.client.screenshot().await.expect("a screenshot");
        let file = self
            .folder
            .join(format!("{}-{:02}-{what}.png", self.name, self.step));
        std::fs::write(&file, png).expect("the screenshot is written");
    }

    async fn check_no_sideways_scroll(&self, what: &str) {
        let widths = self
            .client
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .expect("the page's widths");
        let (scroll, inner) = (widths[0].as_u64(), widths[1].as_u64());
        assert!(
            scroll <= inner,
            "{}: {what} scrolls sideways ({scroll:?} > {inner:?} px)",
            self.name
        );
    }

    async fn check_accessibility(&mut self, what: &str) {
        let Some(axe) = &self.axe else {
            return;
        };
        self.client
            .execute(&format!("{axe}\n;return true;"), vec![])
            .await
            .expect("axe-core loads");
        let report = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document).then(result => done(result.violations.map(v => ({
                   id: v.id, impact: v.impact, help: v.help,
                   nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)
                 }))), error => done([{id: 'axe-error', help: String(error), nodes: []}]));",
                vec![],
            )
            .await
            .expect("axe-core runs");
        let violations: Vec<Value> = serde_json::from_value(report).unwrap_or_default();
        assert!(
            violations.is_empty(),
            "{}: {what} ({}) has accessibility violations: {}",
            self.name,
            self.url().await,
            serde_json::to_string_pretty(&violations).unwrap_or_default()
        );
        self.checked += 1;
    }

    /// Sends `Authorization: Bearer {token}` with every request from now on, as an API client
    /// would, so that pages behind a staff login open with their own headers (their CSP too).
    pub async fn authorize(&self, token: &str) {
        let headers = json!({"headers": {"Authorization": format!("Bearer {token}")}});
        for (command, params) in [
            ("Network.enable", json!({})),
            ("Network.setExtraHTTPHeaders", headers),
        ] {
            self.client
                .issue_cmd(DevTools { command, params })
                .await
                .unwrap_or_else(|e| panic!("{command}: {e}"));
        }
    }

    pub async fn close(self) -> usize {
        let checked = self.checked;
        let _ = self.client.close().await;
        checked
    }
}

/// A Chrome DevTools Protocol command, sent through chromedriver's `goog/cdp/execute`.
#[derive(Debug)]
struct DevTools {
    command: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"cmd": self.command, "params": self.params});
        (http::Method::POST, Some(body.to_string()))
    }
}
