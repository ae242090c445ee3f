//! The schema registry the tests run (`scripts/registry.sh`: Apicurio Registry, in-memory
//! storage, its Confluent-compatible API under `/apis/ccompat/v7`) answers the Confluent Schema
//! Registry API as a serializer uses it: register a schema and get an id, fetch the schema by
//! id, set a subject's compatibility, and a change that breaks it is refused with 409.
//!
//! [`TestRegistry`] starts it as `tests/common/kafka.rs` starts the broker: `scripts/registry.sh
//! run` on a free port with its directory in a temp dir, the registry killed when the test ends
//! (dropped, or the pipe on its standard input closed when the test process dies). The HTTP
//! client is a plain HTTP/1.1 request over `std::net::TcpStream`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The path of the Confluent-compatible API on the registry's port.
const API: &str = "/apis/ccompat/v7";

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/registry.sh")
}

/// A registry process of this test's own.
struct TestRegistry {
    /// `scripts/registry.sh run`, whose standard input keeps the registry alive.
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl TestRegistry {
    fn start() -> TestRegistry {
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

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// `method` on a path under the Confluent API, with a JSON body: the status and the JSON
    /// the registry answered.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
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
fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> std::io::Result<(u16, String)> {
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

fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn record(fields: Value) -> Value {
    json!({"schema": json!({"type": "record", "name": "V", "fields": fields}).to_string()})
}

#[test]
fn the_registry_answers_the_confluent_api() {
    let r = TestRegistry::start();
    let v1 = record(json!([{"name": "a", "type": "int"}]));

    // Register: an id.
    let (status, body) = r.call("POST", "/subjects/t-value/versions", Some(&v1));
    assert_eq!(status, 200, "register: {body}");
    let id = body["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id: {body}"));

    // The id round trip: the same schema back.
    let (status, body) = r.call("GET", &format!("/schemas/ids/{id}"), None);
    assert_eq!(status, 200, "schema {id}: {body}");
    let got: Value = serde_json::from_str(body["schema"].as_str().expect("schema text")).unwrap();
    let sent: Value = serde_json::from_str(v1["schema"].as_str().unwrap()).unwrap();
    assert_eq!(got, sent, "schema {id} as fetched");

    // The same schema again: the same id, as a serializer that registers on every start expects.
    let (status, body) = r.call("POST", "/subjects/t-value/versions", Some(&v1));
    assert_eq!((status, body["id"].as_i64()), (200, Some(id)), "{body}");

    // BACKWARD for the subject.
    let (status, body) = r.call(
        "PUT",
        "/config/t-value",
        Some(&json!({"compatibility": "BACKWARD"})),
    );
    assert_eq!(status, 200, "set compatibility: {body}");
    let (status, body) = r.call("GET", "/config/t-value", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["compatibilityLevel"], "BACKWARD", "{body}");

    // int -> string without a default: a reader of the new schema cannot read the old data.
    let breaking = record(json!([{"name": "a", "type": "string"}]));
    let (status, body) = r.call("POST", "/subjects/t-value/versions", Some(&breaking));
    assert_eq!(
        status, 409,
        "an incompatible change must be refused: {body}"
    );
    assert_eq!(body["error_code"], 409, "{body}");

    // A field added with a default is a compatible change: a second version, a new id.
    let v2 = record(
        json!([{"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": ""}]),
    );
    let (status, body) = r.call("POST", "/subjects/t-value/versions", Some(&v2));
    assert_eq!(status, 200, "a compatible change: {body}");
    let id2 = body["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id: {body}"));
    assert_ne!(id2, id);
    let (status, body) = r.call("GET", "/subjects/t-value/versions", None);
    assert_eq!((status, body), (200, json!([1, 2])));
    println!("registry: ids {id} and {id2}; the breaking change refused with 409");
}

/// `start` prints the base URL once the API answers and leaves the process id in DIR;
/// `stop` ends it and frees the port.
#[test]
fn start_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = Command::new("bash")
        .arg(script())
        .arg("start")
        .arg(dir.path())
        .arg(port.to_string())
        .env(
            "REGISTRY_JVM_OPTS",
            "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
        )
        .output()
        .expect("run scripts/registry.sh start");
    // Stopped whatever happens below.
    struct Stop<'a>(&'a Path);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = Command::new("bash")
                .arg(script())
                .arg("stop")
                .arg(self.0)
                .status();
        }
    }
    let stop = Stop(dir.path());
    assert!(
        out.status.success(),
        "start failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default()
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("http://127.0.0.1:{port}{API}")
    );
    let pid: u32 = std::fs::read_to_string(dir.path().join("registry.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let (status, _) = http(port, "GET", &format!("{API}/subjects"), None).unwrap();
    assert_eq!(status, 200);

    drop(stop);
    let alive = Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(!alive, "pid {pid} still runs after stop");
    assert!(!dir.path().join("registry.pid").exists());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} still open"
    );
}
