//! Headless Chromium driven through chromedriver (the Debian packages chromium and
//! chromium-driver) over WebDriver, behind a blocking facade so that tests read like the rest
//! of the harness. What it reads is what a person sees: rendered text of displayed elements.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

use super::kafka::free_port;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<fantoccini::Client>,
    driver: Child,
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session. Fails, naming
    /// the packages, when they are not installed: CI installs them, so a missing browser must
    /// not pass as a skipped test.
    pub fn start() -> Browser {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: install the Debian packages chromium and chromium-driver \
                 (apt-get install chromium chromium-driver; .ci/run does)"
            );
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut b = Browser {
            rt,
            client: None,
            driver,
            profile,
        };
        // Listening is enough: a session request waits for the driver to be ready. (Its
        // `/status` answers but keeps the connection open despite `Connection: close`.)
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = capabilities(b.profile.path());
        let client =
            b.rt.block_on(
                ClientBuilder::new(HttpConnector::new())
                    .capabilities(caps)
                    .connect(&format!("http://127.0.0.1:{port}")),
            )
            .expect("open a headless Chromium session");
        b.client = Some(client);
        b
    }

    fn client(&self) -> &fantoccini::Client {
        self.client.as_ref().expect("a session")
    }

    pub fn goto(&self, url: &str) {
        self.rt
            .block_on(self.client().goto(url))
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The rendered text of the first element matching `css` (empty when it is hidden), or
    /// `None` when there is none.
    pub fn text(&self, css: &str) -> Option<String> {
        self.rt.block_on(async {
            let el = self.client().find(Locator::Css(css)).await.ok()?;
            el.text().await.ok()
        })
    }

    /// An attribute of the first element matching `css`.
    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.rt.block_on(async {
            let el = self.client().find(Locator::Css(css)).await.ok()?;
            el.attr(name).await.ok().flatten()
        })
    }

    /// Whether the first element matching `css` exists and is displayed.
    pub fn displayed(&self, css: &str) -> bool {
        self.rt.block_on(async {
            match self.client().find(Locator::Css(css)).await {
                Ok(el) => el.is_displayed().await.unwrap_or(false),
                Err(_) => false,
            }
        })
    }

    /// The page's current DOM as HTML.
    pub fn source(&self) -> String {
        self.rt.block_on(self.client().source()).unwrap_or_default()
    }

    /// Polls `f` (which reads through the browser) until it holds; past `timeout`, fails
    /// naming `what`, with the page as it was last seen.
    pub fn wait_until(&self, what: &str, timeout: Duration, mut f: impl FnMut(&Browser) -> bool) {
        let deadline = Instant::now() + timeout;
        while !f(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for the page to show {what}; page:\n{}",
                self.source()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = self.rt.block_on(c.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Headless Chromium with a throwaway profile; no sandbox, since tests may run as root in a
/// container.
fn capabilities(profile: &Path) -> fantoccini::wd::Capabilities {
    let opts = serde_json::json!({
        "binary": CHROMIUM,
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1200,900",
            format!("--user-data-dir={}", profile.display()),
        ],
    });
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), opts);
    caps
}
