//! A real Prometheus server (the Debian package's binary) scraping pgcdc, and its HTTP query
//! API read back into numbers.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::http::get;
use super::kafka::free_port;

pub struct TestPrometheus {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// The server binary, when installed.
pub fn binary() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/prometheus");
    path.exists().then_some(path)
}

impl TestPrometheus {
    /// Starts Prometheus scraping `127.0.0.1:<target>/metrics` every second; waits until it
    /// answers.
    pub fn start(binary: &std::path::Path, target: u16) -> TestPrometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: pgcdc\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let p = TestPrometheus { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while get(p.port, "/-/ready").is_none_or(|(code, _)| code != 200) {
            assert!(
                Instant::now() < deadline,
                "prometheus did not become ready:\n{}",
                p.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        p
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The whole answer of an instant query (`status`, `data.result` or `error`), or `None`
    /// while the server does not answer.
    pub fn query_json(&self, expr: &str) -> Option<serde_json::Value> {
        let (_, body) = get(self.port, &format!("/api/v1/query?query={}", encode(expr)))?;
        serde_json::from_str(&body).ok()
    }

    /// The value of an instant query's first series, or `None` while there is none.
    pub fn query(&self, expr: &str) -> Option<f64> {
        let (code, body) = get(self.port, &format!("/api/v1/query?query={}", encode(expr)))?;
        if code != 200 {
            return None;
        }
        let doc: serde_json::Value = serde_json::from_str(&body).ok()?;
        doc["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for TestPrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes everything but unreserved characters, for a query string.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
