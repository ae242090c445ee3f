//! Runs the real `pgcdc` binary against the test PostgreSQL and broker, from generated
//! config/ and connectors/ files.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::kafka::TestKafka;
use super::pg::TestPg;

/// A connector file under construction.
#[derive(Clone)]
pub struct ConnectorFile {
    pub name: String,
    include: Vec<String>,
    skipped: Option<Vec<String>>,
    schemas: bool,
    /// The whole `[format]` section's body, instead of JSON with `schemas`.
    format: Option<String>,
    topic_prefix: Option<String>,
    extra: String,
    /// Raw TOML lines inside `[slot]`.
    slot: String,
    db: Database,
    autocreate_mode: String,
    bootstrap: Option<String>,
}

/// `[database]` values that tests change from the defaults (the test server, as postgres).
#[derive(Clone, Default)]
struct Database {
    port: Option<u16>,
    user: Option<String>,
    password: Option<String>,
    sslmode: Option<String>,
}

impl ConnectorFile {
    pub fn new(name: &str) -> Self {
        ConnectorFile {
            name: name.to_string(),
            include: Vec::new(),
            skipped: None,
            schemas: false,
            format: None,
            topic_prefix: None,
            extra: String::new(),
            slot: String::new(),
            db: Database::default(),
            autocreate_mode: "all_tables".into(),
            bootstrap: None,
        }
    }

    pub fn port(mut self, port: u16) -> Self {
        self.db.port = Some(port);
        self
    }

    pub fn user(mut self, user: &str, password: &str) -> Self {
        self.db.user = Some(user.into());
        self.db.password = Some(password.into());
        self
    }

    pub fn sslmode(mut self, mode: &str) -> Self {
        self.db.sslmode = Some(mode.into());
        self
    }

    /// `publication.autocreate_mode` (default here: all_tables).
    pub fn autocreate_mode(mut self, mode: &str) -> Self {
        self.autocreate_mode = mode.into();
        self
    }

    pub fn include_tables(mut self, t: &[&str]) -> Self {
        self.include = t.iter().map(|s| s.to_string()).collect();
        self
    }

    /// `skipped.operations`; empty means none are skipped.
    pub fn skipped_operations(mut self, ops: &[&str]) -> Self {
        self.skipped = Some(if ops.is_empty() {
            vec!["none".into()]
        } else {
            ops.iter().map(|s| s.to_string()).collect()
        });
        self
    }

    /// The `[format]` section's keys (e.g. `type = "avro"` and its registry).
    pub fn format(mut self, body: &str) -> Self {
        self.format = Some(body.to_string());
        self
    }

    /// JsonConverter `schemas.enable` for key and value.
    pub fn schemas(mut self, on: bool) -> Self {
        self.schemas = on;
        self
    }

    /// `topic_prefix` (default: the connector name).
    pub fn topic_prefix(mut self, prefix: &str) -> Self {
        self.topic_prefix = Some(prefix.to_string());
        self
    }

    /// `sink.bootstrap_servers` (default: the broker's plaintext listener).
    pub fn bootstrap(mut self, servers: &str) -> Self {
        self.bootstrap = Some(servers.into());
        self
    }

    /// Raw TOML lines added to the `[slot]` table (the file already has one).
    pub fn slot(mut self, toml: &str) -> Self {
        self.slot.push_str(toml);
        self.slot.push('\n');
        self
    }

    /// Raw TOML appended to the file.
    pub fn extra(mut self, toml: &str) -> Self {
        self.extra.push_str(toml);
        self.extra.push('\n');
        self
    }

    fn render(&self, pg: &TestPg, kafka: &TestKafka) -> String {
        let list = |v: &[String]| {
            v.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut s = format!(
            r#"name = "{name}"
topic_prefix = "{prefix}"

[database]
host = "127.0.0.1"
port = {port}
user = "{user}"
dbname = "postgres"
sslmode = "{sslmode}"{password}

[slot]
name = "{name}_slot"
{slot}
[publication]
name = "{name}_pub"
autocreate_mode = "{autocreate}"

[format]
{format}

[sink]
type = "kafka"
bootstrap_servers = "{bootstrap}"
"#,
            format = self
                .format
                .clone()
                .unwrap_or_else(|| format!("type = \"json\"\nschemas = {}", self.schemas)),
            name = self.name,
            slot = self.slot,
            prefix = self.topic_prefix.as_deref().unwrap_or(&self.name),
            port = self.db.port.unwrap_or(pg.port()),
            user = self.db.user.as_deref().unwrap_or("postgres"),
            sslmode = self.db.sslmode.as_deref().unwrap_or("disable"),
            password = match &self.db.password {
                Some(p) => format!("\npassword = {p:?}"),
                None => String::new(),
            },
            autocreate = self.autocreate_mode,
            bootstrap = self.bootstrap.clone().unwrap_or_else(|| kafka.bootstrap()),
        );
        if !self.include.is_empty() {
            s.push_str(&format!(
                "\n[tables]\ninclude = [{}]\n",
                list(&self.include)
            ));
        }
        if let Some(sk) = &self.skipped {
            s.push_str(&format!(
                "\n[events]\nskipped_operations = [{}]\n",
                list(sk)
            ));
        }
        s.push_str(&self.extra);
        s
    }
}

/// A pgcdc installation in a temp dir: config/pgcdc.toml, one connector file, a data dir.
pub struct Capture {
    pub dir: tempfile::TempDir,
    pub connector: PathBuf,
    pub config: PathBuf,
}

impl Capture {
    /// The HTTP listener is off: tests run side by side and would all want port 8080.
    /// [`Capture::enable_http`] turns it on.
    pub fn new(pg: &TestPg, kafka: &TestKafka, file: ConnectorFile) -> Capture {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("pgcdc.toml");
        let connector = dir.path().join(format!("{}.toml", file.name));
        std::fs::write(&connector, file.render(pg, kafka)).unwrap();
        let cap = Capture {
            dir,
            connector,
            config,
        };
        cap.write_config("[http]\nenabled = false\n");
        cap
    }

    /// Turns the HTTP listener on, on a free loopback port, which it returns.
    pub fn enable_http(&self) -> u16 {
        let port = super::kafka::free_port();
        self.write_config(&format!("[http]\nlisten = \"127.0.0.1:{port}\"\n"));
        port
    }

    fn write_config(&self, http: &str) {
        std::fs::write(
            &self.config,
            format!(
                "data_dir = {:?}\n[log]\nlevel = \"info\"\n{http}",
                self.dir.path().join("data").display().to_string()
            ),
        )
        .unwrap();
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pgcdc"));
        c.arg("--config").arg(&self.config);
        c
    }

    /// Starts `pgcdc run` in the background (stderr to a log file in the capture's dir).
    pub fn spawn(&self, until: Option<&str>) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut c = self.command();
        c.arg("run").arg(&self.connector);
        if let Some(u) = until {
            c.arg("--until-lsn").arg(u);
        }
        c.stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn pgcdc")
    }

    /// The offsets file of connector `name` as JSON; `None` before it is first written.
    pub fn offsets(&self, name: &str) -> Option<serde_json::Value> {
        let path = self
            .dir
            .path()
            .join("data")
            .join(format!("{name}.offsets.json"));
        std::fs::read_to_string(path)
            .ok()
            .map(|t| serde_json::from_str(&t).expect("offsets file is JSON"))
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("pgcdc.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// `pgcdc status` for this connector: whether it exited 0, and its stdout and stderr.
    pub fn status(&self) -> (bool, String) {
        let out = self
            .command()
            .arg("status")
            .arg(&self.connector)
            .output()
            .expect("run pgcdc status");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    /// Polls `f` until it holds; past `timeout`, fails naming `what`, with pgcdc's log.
    pub fn wait_until(&self, what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !f() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until pgcdc's log holds `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) {
        self.wait_until(&format!("{needle:?} in the log"), timeout, || {
            self.log().contains(needle)
        });
    }

    /// Runs until everything committed so far is acknowledged and confirmed; asserts exit 0.
    pub fn run_to_current(&self, pg: &TestPg) {
        let until = pg.mark_end();
        self.run_until(&until);
    }

    /// The first run: creates slot and publication, then stops.
    pub fn run_once(&self) {
        let mut child = self.spawn(Some("0/1"));
        self.wait_ok(&mut child, Duration::from_secs(60));
    }

    pub fn run_until(&self, until: &str) {
        let mut child = self.spawn(Some(until));
        self.wait_ok(&mut child, Duration::from_secs(120));
    }

    /// Runs `pgcdc run` in the foreground to its end; the exit status and stderr.
    pub fn run_failing(&self, timeout: Duration) -> (std::process::ExitStatus, String) {
        let mut child = self
            .command()
            .arg("run")
            .arg(&self.connector)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pgcdc");
        let deadline = Instant::now() + timeout;
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "pgcdc still running after {timeout:?}:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Asks a running pgcdc to stop (SIGTERM) and asserts that it exits 0.
    pub fn terminate(&self, child: &mut Child) {
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        self.wait_ok(child, Duration::from_secs(60));
    }

    /// Asserts that a pgcdc started without --until-lsn is still running.
    pub fn assert_running(&self, child: &mut Child) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("pgcdc exited with {status}:\n{}", self.log());
        }
    }

    pub fn wait_ok(&self, child: &mut Child, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "pgcdc exited with {status}:\n{}",
                    self.log()
                );
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("pgcdc did not finish within {timeout:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl TestPg {
    /// The current WAL position, followed by a non-transactional message so that the stream
    /// has a record beyond it (like ../shared/bench/limit.sh does for pg_recvlogical).
    pub fn mark_end(&self) -> String {
        let lsn = self
            .psql("SELECT pg_current_wal_insert_lsn();")
            .trim()
            .to_string();
        self.psql("SELECT pg_logical_emit_message(false, 'pgcdc-test-mark', '');");
        lsn
    }
}

/// The byte count of `pgcdc status`'s `lag:` line.
pub fn status_lag(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.trim().strip_prefix("lag: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no lag line: {status}"))
}
