//! A throwaway Apache Kafka broker (one KRaft node, from `scripts/kafka.sh`) for integration
//! tests, and a consumer that reads a topic back by assigning partitions directly.
//!
//! A JVM takes seconds to start, so [`TestKafka::start`] hands every test of one test binary the
//! same broker (each test uses its own topics). A test that stops, freezes or restarts its broker,
//! or needs listeners of its own, starts one with [`TestKafka::start_own`] or
//! [`TestKafka::start_with`]. A broker ends with its test process: `scripts/kafka.sh run` kills
//! it when the pipe on its standard input closes, so the shared one (never dropped) ends too.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// One more listener of a broker started with [`TestKafka::start_with`].
#[derive(Debug, Clone)]
pub struct Listener {
    /// The listener's name, e.g. `SASL_SSL` or `MTLS`.
    pub name: String,
    /// Its security protocol: `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub protocol: String,
}

/// Options for [`TestKafka::start_with`].
#[derive(Debug, Clone, Default)]
pub struct KafkaOptions {
    /// Advertise this port instead of the listening one (a proxy in front of the broker).
    pub advertised_port: Option<u16>,
    /// Listeners besides the plaintext one every broker has.
    pub listeners: Vec<Listener>,
    /// Lines appended to `server.properties` (listener settings, log cleaner tuning).
    pub properties: Vec<String>,
    /// SCRAM-SHA-512 users (`name`, `password`) written when the storage is formatted.
    pub scram_users: Vec<(String, String)>,
}

pub struct TestKafka {
    own: Option<Broker>,
    shared: Option<&'static Broker>,
}

/// A broker process and its directory (configuration, data, log).
pub struct Broker {
    /// `scripts/kafka.sh run`, whose standard input keeps the broker alive.
    child: std::sync::Mutex<Option<Child>>,
    port: u16,
    /// The port clients are told to use (metadata); differs from `port` behind a proxy.
    advertised_port: u16,
    listener_ports: Vec<(String, u16)>,
    dir: tempfile::TempDir,
    scram_users: Vec<(String, String)>,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The broker every test of this binary shares.
fn shared() -> &'static Broker {
    static SHARED: OnceLock<Broker> = OnceLock::new();
    SHARED.get_or_init(|| Broker::start(KafkaOptions::default()))
}

impl TestKafka {
    /// The broker this test binary's tests share.
    pub fn start() -> TestKafka {
        TestKafka {
            own: None,
            shared: Some(shared()),
        }
    }

    /// A broker of this test's own, which it may stop, freeze and restart.
    pub fn start_own() -> TestKafka {
        Self::start_with(KafkaOptions::default())
    }

    pub fn start_with(opts: KafkaOptions) -> TestKafka {
        TestKafka {
            own: Some(Broker::start(opts)),
            shared: None,
        }
    }

    fn broker(&self) -> &Broker {
        self.own.as_ref().or(self.shared).expect("a broker")
    }

    fn own(&self) -> &Broker {
        self.own
            .as_ref()
            .expect("this test shares its broker: start one with TestKafka::start_own to stop it")
    }

    /// Where clients connect: the advertised address (the proxy's, when there is one).
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.broker().advertised_port)
    }

    /// The port the broker itself listens on.
    pub fn port(&self) -> u16 {
        self.broker().port
    }

    /// The port of the listener `name` given in [`KafkaOptions::listeners`].
    pub fn listener_port(&self, name: &str) -> u16 {
        let b = self.broker();
        b.listener_ports
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no listener {name}"))
            .1
    }

    /// The broker's Java process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.broker().java_pid()
    }

    /// Starts the broker again after [`TestKafka::stop`] or [`TestKafka::shut_down`], on the same
    /// ports and the same data.
    pub fn start_again(&mut self) {
        self.own().spawn();
    }

    /// The broker's log (all its processes).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.broker().log_path()).unwrap_or_default()
    }

    /// Freezes the broker (SIGSTOP): connections stay open but nothing is answered, like a
    /// broker stuck in a long GC pause or behind a network partition.
    pub fn pause(&self) {
        self.own().signal("STOP");
    }

    /// Undoes `pause` (SIGCONT).
    pub fn resume(&self) {
        self.own().signal("CONT");
    }

    /// Stops the broker the way an operator does (SIGTERM, then waits for the process to
    /// exit; SIGKILL after 30 s).
    pub fn shut_down(&mut self) {
        self.own().end("TERM");
    }

    /// Kills the broker (SIGKILL: the process is gone at once; what it wrote to its log files
    /// stays, as after a crash). [`TestKafka::start_again`] brings it back.
    pub fn stop(&mut self) {
        self.own().end("KILL");
    }

    /// Reads every record of `topic` (all partitions) from the beginning: at least `expected`
    /// records (unless `timeout` passes first), then whatever follows until the topic is quiet.
    pub fn read_topic(&self, topic: &str, expected: usize, timeout: Duration) -> Vec<Rec> {
        read_topic(&self.bootstrap(), topic, expected, timeout)
    }

    /// A topic's config value as the broker describes it (`None`: no such topic or config).
    pub fn topic_config(&self, topic: &str, name: &str) -> Option<String> {
        use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
        use rdkafka::client::DefaultClientContext;
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .expect("admin client");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let described = rt
            .block_on(admin.describe_configs(
                [&ResourceSpecifier::Topic(topic)],
                &AdminOptions::new().request_timeout(Some(Duration::from_secs(30))),
            ))
            .expect("describe configs");
        let resource = described.into_iter().next()?.ok()?;
        resource.get(name)?.value.clone()
    }

    /// The broker's directory (`server.properties`, `data/`, `kafka.log`).
    pub fn dir(&self) -> &Path {
        self.broker().dir.path()
    }
}

impl Drop for TestKafka {
    fn drop(&mut self) {
        if let Some(b) = &self.own {
            b.end("KILL");
        }
    }
}

impl Broker {
    fn start(opts: KafkaOptions) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let listener_ports: Vec<(String, u16)> = opts
            .listeners
            .iter()
            .map(|l| (l.name.clone(), free_port()))
            .collect();
        let b = Broker {
            child: std::sync::Mutex::new(None),
            port,
            advertised_port: opts.advertised_port.unwrap_or(port),
            listener_ports,
            dir,
            scram_users: opts.scram_users.clone(),
        };
        b.write_properties(&opts);
        b.spawn();
        b
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("kafka.log")
    }

    fn write_properties(&self, opts: &KafkaOptions) {
        let (cport, iport) = (free_port(), free_port());
        // Clients use PLAINTEXT (perhaps through a proxy); the broker talks to itself over
        // INTERNAL, which no test cuts.
        let mut listeners = vec![
            format!("PLAINTEXT://127.0.0.1:{}", self.port),
            format!("INTERNAL://127.0.0.1:{iport}"),
            format!("CONTROLLER://127.0.0.1:{cport}"),
        ];
        let mut advertised = vec![
            format!("PLAINTEXT://127.0.0.1:{}", self.advertised_port),
            format!("INTERNAL://127.0.0.1:{iport}"),
        ];
        let mut map = vec![
            "PLAINTEXT:PLAINTEXT".to_string(),
            "INTERNAL:PLAINTEXT".into(),
            "CONTROLLER:PLAINTEXT".into(),
        ];
        for (l, (_, p)) in opts.listeners.iter().zip(&self.listener_ports) {
            listeners.push(format!("{}://127.0.0.1:{p}", l.name));
            advertised.push(format!("{}://127.0.0.1:{p}", l.name));
            map.push(format!("{}:{}", l.name, l.protocol));
        }
        let data = self.dir.path().join("data");
        let mut props = format!(
            "process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{cport}
listeners={}
advertised.listeners={}
listener.security.protocol.map={}
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
log.dirs={}
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
",
            listeners.join(","),
            advertised.join(","),
            map.join(","),
            data.display()
        );
        for line in &opts.properties {
            props.push_str(line);
            props.push('\n');
        }
        std::fs::write(self.dir.path().join("server.properties"), props).unwrap();
    }

    /// Runs `scripts/kafka.sh run` (formats the storage the first time) and waits until the
    /// broker says it started.
    fn spawn(&self) {
        let mut slot = self.child.lock().unwrap();
        assert!(slot.is_none(), "the broker is still running");
        let started_before = self.log_text().matches(STARTED).count();
        let _ = std::fs::remove_file(self.dir.path().join("kafka.pid"));
        // Appended: a restarted broker's log follows the previous one's.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let users: Vec<String> = self
            .scram_users
            .iter()
            .map(|(u, p)| format!("{u}:{p}"))
            .collect();
        let child = Command::new("bash")
            .arg(repo_root().join("scripts/kafka.sh"))
            .arg("run")
            .arg(self.dir.path())
            .env("KAFKA_EXIT_ON_STDIN_EOF", "1")
            // Small and quick to start: a test broker carries little, and some tests run a
            // dozen at once (tests/oracle_diff.rs) beside as many Debezium JVMs.
            .env("KAFKA_HEAP_OPTS", "-Xmx512m -Xms64m")
            .env(
                "KAFKA_JVM_PERFORMANCE_OPTS",
                "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
            )
            .env("KAFKA_SCRAM_USERS", users.join(","))
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("run scripts/kafka.sh");
        *slot = Some(child);
        drop(slot);
        let deadline = Instant::now() + Duration::from_secs(180);
        while self.log_text().matches(STARTED).count() <= started_before {
            let exited = self
                .child
                .lock()
                .unwrap()
                .as_mut()
                .unwrap()
                .try_wait()
                .unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "the Kafka broker did not start: {}",
                tail(&self.log_text(), 4000)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn java_pid(&self) -> Option<u32> {
        self.child.lock().unwrap().as_ref()?;
        std::fs::read_to_string(self.dir.path().join("kafka.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn signal(&self, sig: &str) {
        let pid = self.java_pid().expect("broker running");
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{sig} {pid} failed");
    }

    /// Sends `sig` to the broker and waits until it is gone (SIGKILL after 30 s).
    fn end(&self, sig: &str) {
        let Some(pid) = self.java_pid() else {
            return;
        };
        let _ = Command::new("kill")
            .args([format!("-{sig}"), pid.to_string()])
            .status();
        let mut child = self.child.lock().unwrap().take().expect("broker child");
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

const STARTED: &str = "Kafka Server started";

fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
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
    let parse = |b: Option<Vec<u8>>| {
        b.map(|b| {
            serde_json::from_slice(&b).unwrap_or_else(|e| {
                panic!("record is not JSON ({e}): {}", String::from_utf8_lossy(&b))
            })
        })
    };
    read_topic_raw(bootstrap, topic, expected, timeout)
        .into_iter()
        .map(|r| Rec {
            partition: r.partition,
            offset: r.offset,
            key: parse(r.key),
            value: parse(r.value),
            headers: r.headers,
        })
        .collect()
}

/// A consumed record's bytes (for formats other than JSON).
#[derive(Debug, Clone)]
pub struct RawRec {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// [`read_topic`] without decoding.
pub fn read_topic_raw(
    bootstrap: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
) -> Vec<RawRec> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "pgcdc-tests")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        // The partitions are assigned from their beginning; should a fetch still report an
        // offset out of range (a topic created moments ago, a broker under load), start over
        // at the beginning rather than librdkafka's default, the end, which would skip records.
        .set("auto.offset.reset", "earliest")
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
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default();
                quiet_since = None;
                out.push(RawRec {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                    headers,
                });
            }
            Some(Err(e)) => eprintln!("consumer error: {e}"),
            None => {}
        }
    }
    out
}
