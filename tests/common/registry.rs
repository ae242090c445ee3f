//! The schema registry for the tests (`scripts/registry.sh`: Apicurio Registry, in-memory
//! storage, its Confluent-compatible API under `/apis/ccompat/v7`), one per test, killed when
//! the test ends; a plain HTTP/1.1 client over `std::net::TcpStream`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The path of the Confluent-compatible API on the registry's port.
pub const API: &str = "/apis/ccompat/v7";

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

pub use super::kafka::free_port;

pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/registry.sh")
}

/// A registry process of this test's own.
pub struct TestRegistry {
    /// `scripts/registry.sh run`, whose standard input keeps the registry alive.
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl TestRegistry {
    /// The Confluent-compatible API's base URL, as `format.schema_registry_url` takes it.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}{API}", self.port)
    }

    /// The schema registered under `id`, parsed.
    pub fn schema(&self, id: u32) -> Value {
        let (status, body) = self.call("GET", &format!("/schemas/ids/{id}"), None);
        assert_eq!(status, 200, "schema {id}: {body}");
        serde_json::from_str(body["schema"].as_str().expect("schema text")).unwrap()
    }

    /// Stops the registry (SIGSTOP) so it answers nothing, as a hung server would.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = std::fs::read_to_string(self.dir.path().join("registry.pid")).unwrap();
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), pid.trim()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} {pid}");
    }

    pub fn start() -> TestRegistry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("bash")
            .arg(script())
            .arg("run")
            .arg(dir.path())
            .arg(port.to_string())
            .env("REGISTRY_EXIT_ON_STDIN_EOF", "1")
            // Quick to start and small, as the test brokers are.
            .env("REGISTRY_HEAP_OPTS", "-Xmx256m -Xms64m")
            .env(
                "REGISTRY_JVM_OPTS",
                "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
            )
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("run scripts/registry.sh");
        let mut r = TestRegistry {
            child: Some(child),
            port,
            dir,
        };
        r.wait_until_it_answers();
        r
    }

    fn wait_until_it_answers(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Ok((200, _)) = http(self.port, "GET", &format!("{API}/subjects"), None) {
                return;
            }
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "the registry did not start ({}): {}",
                match exited {
                    Some(status) => format!("exited with {status}"),
                    None => "no answer in 180 s".to_string(),
                },
                tail(&self.log(), 4000)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// `method` on a path under the Confluent API, with a JSON body: the status and the JSON
    /// the registry answered.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let body = body.map(Value::to_string);
        let (status, text) = http(self.port, method, &format!("{API}{path}"), body.as_deref())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: HTTP {status}, not JSON ({e}): {text}"));
        (status, value)
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // The Java process (`run` writes its id); closing its standard input ends it as well.
        if let Some(pid) = std::fs::read_to_string(self.dir.path().join("registry.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
        {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        drop(child.stdin.take());
        let _ = child.wait();
    }
}

/// One HTTP/1.1 request to 127.0.0.1:`port` (`Connection: close`): the status and the body.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: {CONTENT_TYPE}\r\n\
         Content-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let bad = |what: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{what}: {}", String::from_utf8_lossy(&raw)),
        )
    };
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of the response head"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut rest = raw[split + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        rest = dechunk(&rest).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok((status, String::from_utf8_lossy(&rest).to_string()))
}

/// A `Transfer-Encoding: chunked` body, decoded.
fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

pub fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}
