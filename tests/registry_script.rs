//! The schema registry the tests run (`scripts/registry.sh`: Apicurio Registry, in-memory
//! storage, its Confluent-compatible API under `/apis/ccompat/v7`) answers the Confluent Schema
//! Registry API as a serializer uses it: register a schema and get an id, fetch the schema by
//! id, set a subject's compatibility, and a change that breaks it is refused with 409.
//!
//! `tests/common/registry.rs` starts it as `tests/common/kafka.rs` starts the broker.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};

use common::registry::{free_port, http, script, TestRegistry, API};
use serde_json::{json, Value};

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
