//! An S3-compatible object store for a broker whose data must outlive its process: moto's
//! server (`pip install 'moto[server]'`), in its own process on a free loopback port, with one
//! bucket. tansu's S3 engine keeps every batch and its metadata there, so a tansu killed and
//! started again on the same bucket serves what it had acknowledged.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::kafka::free_port;

pub struct TestS3 {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

const BUCKET: &str = "tansu";

impl TestS3 {
    pub fn start() -> TestS3 {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("moto.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("python3 to run moto.server");
        let mut s3 = TestS3 {
            child,
            port,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = s3.child.try_wait().unwrap() {
                panic!(
                    "moto.server exited with {status} (pip install 'moto[server]'):\n{}",
                    s3.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "moto did not listen:\n{}",
                s3.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s3.create_bucket();
        s3
    }

    /// `PUT /<bucket>`; moto accepts unsigned requests.
    fn create_bucket(&self) {
        let mut conn = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            conn,
            "PUT /{BUCKET} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut reply = String::new();
        conn.read_to_string(&mut reply).unwrap();
        assert!(
            reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200"),
            "create bucket: {reply}"
        );
    }

    pub fn bucket(&self) -> &'static str {
        BUCKET
    }

    /// Environment for an S3 client (tansu's object_store) to use this server.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
