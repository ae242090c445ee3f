//! Mistakes an operator makes, run through the real binary: each must end with exit code 1 and
//! exactly one error line that names what is wrong and how to fix it, without a panic.

mod common;

use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::cdc::{Capture, ConnectorFile};
use common::kafka::{free_port, TestKafka};
use common::pg::{PgOptions, TestPg};

/// Startup retries (0.5 + 1 + 2 + 4 s) plus connection time.
const TIMEOUT: Duration = Duration::from_secs(60);

fn assert_one_clear_error(status: ExitStatus, stderr: &str, needles: &[&str]) -> String {
    assert_eq!(status.code(), Some(1), "exit status {status}:\n{stderr}");
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(bad), "{bad} in output:\n{stderr}");
    }
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "expected one error line:\n{stderr}");
    for n in needles {
        assert!(
            errors[0].contains(n),
            "error line does not mention {n:?}:\n{}",
            errors[0]
        );
    }
    eprintln!("{}", errors[0]);
    errors[0].to_string()
}

#[test]
fn unreachable_host() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let port = free_port();
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("unreach").port(port));
    let started = Instant::now();
    let (status, stderr) = cap.run_failing(TIMEOUT);
    assert_one_clear_error(
        status,
        &stderr,
        &[
            &format!("127.0.0.1:{port}"),
            "database.host",
            "database.port",
        ],
    );
    let attempts = stderr.matches("session failed, reconnecting").count();
    assert_eq!(attempts, 4, "retries before giving up:\n{stderr}");
    eprintln!("gave up after {:?}", started.elapsed());
}

#[test]
fn wrong_password() {
    let pg = TestPg::start_with(PgOptions {
        hba_prepend: vec!["host all,replication bob 127.0.0.1/32 scram-sha-256".into()],
        ..Default::default()
    });
    pg.psql("CREATE ROLE bob LOGIN REPLICATION SUPERUSER PASSWORD 'right'");
    let kafka = TestKafka::start();
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("badpw").user("bob", "wrong"),
    );
    let (status, stderr) = cap.run_failing(TIMEOUT);
    assert_one_clear_error(status, &stderr, &["\"bob\"", "database.password"]);
    assert!(
        !stderr.contains("reconnecting"),
        "a wrong password must not be retried:\n{stderr}"
    );
}

#[test]
fn tls_required_but_server_has_none() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("notls").sslmode("require"));
    let (status, stderr) = cap.run_failing(TIMEOUT);
    let line = assert_one_clear_error(status, &stderr, &["database.sslmode"]);
    assert!(
        line.contains("TLS") || line.contains("SSL"),
        "error does not say TLS: {line}"
    );
    assert!(
        !stderr.contains("reconnecting"),
        "a TLS mismatch must not be retried:\n{stderr}"
    );
}

#[test]
fn slot_active_elsewhere() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("busy"));
    cap.run_once();
    let mut other = Command::new(pg.bin("pg_recvlogical"))
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"])
        .arg("-p")
        .arg(pg.port().to_string())
        .args(["--slot", "busy_slot", "--start", "-f", "/dev/null"])
        .args(["-o", "proto_version=1", "-o", "publication_names=busy_pub"])
        .stderr(Stdio::null())
        .spawn()
        .expect("pg_recvlogical");
    let deadline = Instant::now() + Duration::from_secs(30);
    let pid = loop {
        let pid =
            pg.psql("SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'busy_slot'");
        if !pid.trim().is_empty() {
            break pid.trim().to_string();
        }
        assert!(Instant::now() < deadline, "pg_recvlogical did not start");
        std::thread::sleep(Duration::from_millis(100));
    };
    let (status, stderr) = cap.run_failing(TIMEOUT);
    let _ = other.kill();
    let _ = other.wait();
    assert_one_clear_error(status, &stderr, &["\"busy_slot\"", &pid, "stop the other"]);
}

#[test]
fn wal_level_not_logical() {
    let pg = TestPg::start_with(PgOptions {
        conf: vec!["wal_level = replica".into()],
        ..Default::default()
    });
    let kafka = TestKafka::start();
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("replica"));
    let (status, stderr) = cap.run_failing(TIMEOUT);
    assert_one_clear_error(
        status,
        &stderr,
        &["\"replica\"", "wal_level = logical", "restart"],
    );
}

#[test]
fn publication_missing_and_autocreate_disabled() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("nopub").autocreate_mode("disabled"),
    );
    let (status, stderr) = cap.run_failing(TIMEOUT);
    assert_one_clear_error(
        status,
        &stderr,
        &["\"nopub_pub\"", "CREATE PUBLICATION", "autocreate"],
    );
}
