//! The database password must not leak into any output, even at debug level and on an
//! authentication failure.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::cdc::{Capture, ConnectorFile};
use common::kafka::TestKafka;
use common::pg::{PgOptions, TestPg};

const PASSWORD: &str = "Sup3r-s3cret-pw-0815";

fn assert_no_password(what: &str, out: &[u8]) {
    let text = String::from_utf8_lossy(out);
    assert!(
        !text.contains(PASSWORD),
        "{what} leaks the password:\n{text}"
    );
}

#[test]
fn password_never_printed() {
    let pg = TestPg::start_with(PgOptions {
        hba_prepend: vec!["host all,replication carol 127.0.0.1/32 scram-sha-256".into()],
        ..Default::default()
    });
    pg.psql("CREATE ROLE carol LOGIN REPLICATION SUPERUSER PASSWORD 'another-one'");
    let kafka = TestKafka::start();
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("pw").user("carol", PASSWORD),
    );
    assert!(std::fs::read_to_string(&cap.connector)
        .unwrap()
        .contains(PASSWORD));

    let out = cap
        .command()
        .env("RUST_LOG", "trace")
        .arg("validate")
        .arg("--print")
        .arg(&cap.connector)
        .output()
        .unwrap();
    assert!(out.status.success(), "validate failed: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("password"),
        "validate --print does not show the (masked) password key"
    );
    assert_no_password("validate stdout", &out.stdout);
    assert_no_password("validate stderr", &out.stderr);

    // Files rather than pipes: debug output may exceed a pipe's buffer.
    let out_path = cap.dir.path().join("run.out");
    let err_path = cap.dir.path().join("run.err");
    let mut child = cap
        .command()
        .env("RUST_LOG", "trace")
        .arg("run")
        .arg(&cap.connector)
        .stdout(Stdio::from(std::fs::File::create(&out_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err_path).unwrap()))
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("pgcdc did not give up within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read(&out_path).unwrap();
    let stderr = std::fs::read(&err_path).unwrap();
    let text = String::from_utf8_lossy(&stderr);
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(
        text.contains("\"carol\""),
        "no authentication error:\n{text}"
    );
    assert_no_password("run stdout", &stdout);
    assert_no_password("run stderr", &stderr);
}
