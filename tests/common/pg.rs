//! A throwaway PostgreSQL server per test: initdb into a temp dir, start on a free loopback
//! port, stop and remove on drop.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use pgcdc::config::SslMode;
use pgcdc::source::replication::ConnectParams;

/// Extra settings for `TestPg::start_with`.
#[derive(Debug, Clone, Default)]
pub struct PgOptions {
    /// Lines appended to postgresql.conf, e.g. `"wal_sender_timeout = '2s'"`.
    pub conf: Vec<String>,
    /// pg_hba.conf lines placed before initdb's trust lines, so they win for matching users.
    pub hba_prepend: Vec<String>,
    /// Server certificate and key (PEM); turns on `ssl`.
    pub ssl: Option<SslFiles>,
    /// The server's bin directory, when not `$PG_BIN` (default: the system's PostgreSQL 15).
    pub bin: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct SslFiles {
    pub cert_pem: String,
    pub key_pem: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    Fast,
    Immediate,
}

impl StopMode {
    fn as_str(self) -> &'static str {
        match self {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        }
    }
}

pub struct TestPg {
    // Declared first so it is dropped last, after the server is stopped.
    dir: tempfile::TempDir,
    data: PathBuf,
    log: PathBuf,
    bin: PathBuf,
    port: u16,
    running: bool,
}

impl TestPg {
    pub fn start() -> TestPg {
        Self::start_with(PgOptions::default())
    }

    pub fn start_with(opts: PgOptions) -> TestPg {
        let bin = opts.bin.clone().unwrap_or_else(|| {
            PathBuf::from(
                std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into()),
            )
        });
        let dir = server_dir();
        let data = dir.path().join("data");

        let out = run_as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            ],
        );
        assert!(
            out.status.success(),
            "initdb failed:\n{}",
            output_text(&out)
        );

        let mut conf = vec![
            "listen_addresses = '127.0.0.1'".to_string(),
            // Sockets go to the private temp dir so parallel servers never collide.
            format!("unix_socket_directories = '{}'", dir.path().display()),
            "wal_level = logical".into(),
            "max_wal_senders = 40".into(),
            "max_replication_slots = 40".into(),
            "fsync = off".into(),
            "synchronous_commit = off".into(),
            "full_page_writes = off".into(),
            "shared_buffers = 16MB".into(),
            "max_connections = 120".into(),
        ];
        if let Some(ssl) = &opts.ssl {
            write_owned(&data.join("server.crt"), &ssl.cert_pem, 0o644);
            write_owned(&data.join("server.key"), &ssl.key_pem, 0o600);
            conf.push("ssl = on".into());
            conf.push("ssl_cert_file = 'server.crt'".into());
            conf.push("ssl_key_file = 'server.key'".into());
        }
        conf.extend(opts.conf.iter().cloned());
        append(&data.join("postgresql.conf"), &conf.join("\n"));

        if !opts.hba_prepend.is_empty() {
            let hba_path = data.join("pg_hba.conf");
            let old = fs::read_to_string(&hba_path).expect("read pg_hba.conf");
            let new = format!("{}\n{old}", opts.hba_prepend.join("\n"));
            fs::write(&hba_path, new).expect("write pg_hba.conf");
        }

        Self::launch(dir, bin)
    }

    /// A hot standby of `self`, streaming from it with `hot_standby_feedback` (what logical
    /// decoding on a standby needs, PostgreSQL 16 and later). Its data directory is a copy
    /// taken while the primary is stopped cleanly, which is a valid base backup and works
    /// with server-only builds that ship no pg_basebackup. The primary is running again
    /// afterwards, on its own port.
    pub fn standby(&mut self) -> TestPg {
        let dir = server_dir();
        let data = dir.path().join("data");
        self.stop(StopMode::Fast);
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&self.data)
            .arg(&data)
            .status()
            .expect("run cp");
        assert!(copied.success(), "copying the primary's data dir failed");
        self.start_again();
        chown_to_postgres(dir.path());
        write_owned(&data.join("standby.signal"), "", 0o600);
        append(
            &data.join("postgresql.conf"),
            &format!(
                "unix_socket_directories = '{}'\n\
                 primary_conninfo = 'host=127.0.0.1 port={} user=postgres application_name=standby'\n\
                 hot_standby = on\nhot_standby_feedback = on",
                dir.path().display(),
                self.port
            ),
        );
        Self::launch(dir, self.bin.clone())
    }

    /// Starts the server whose data directory is `dir/data` on a free port.
    fn launch(dir: tempfile::TempDir, bin: PathBuf) -> TestPg {
        let mut pg = TestPg {
            data: dir.path().join("data"),
            log: dir.path().join("server.log"),
            dir,
            bin,
            port: 0,
            running: false,
        };
        // A port picked as free can be taken by a parallel test before we bind it; retry.
        for attempt in 1..=5 {
            pg.port = free_port();
            match pg.pg_ctl_start() {
                Ok(()) => return pg,
                Err(e) if attempt < 5 && e.contains("could not bind") => continue,
                Err(e) => panic!("PostgreSQL did not start:\n{e}"),
            }
        }
        unreachable!()
    }

    fn pg_ctl_start(&mut self) -> Result<(), String> {
        let out = run_as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                self.data.to_str().unwrap(),
                "-l",
                self.log.to_str().unwrap(),
                "-o",
                &format!("-p {}", self.port),
            ],
        );
        if out.status.success() {
            self.running = true;
            Ok(())
        } else {
            Err(format!(
                "{}\n--- server log ---\n{}",
                output_text(&out),
                self.server_log()
            ))
        }
    }

    pub fn params(&self) -> ConnectParams {
        ConnectParams {
            host: "127.0.0.1".into(),
            port: self.port,
            user: "postgres".into(),
            password: None,
            dbname: "postgres".into(),
            sslmode: SslMode::Disable,
            sslrootcert: None,
            application_name: "pgcdc-test".into(),
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// A PostgreSQL client program (psql, pgbench, ...) of the server's version.
    /// Client programs come from the server's directory when it has them; server-only builds
    /// (the version matrix's npm packages) fall back to the system's PostgreSQL 15 clients,
    /// which speak to every supported server version.
    pub fn bin(&self, program: &str) -> PathBuf {
        let own = self.bin.join(program);
        if own.exists() {
            own
        } else {
            PathBuf::from("/usr/lib/postgresql/15/bin").join(program)
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// A scratch directory next to the data dir (for CA files and the like).
    pub fn temp_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn server_log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs SQL through psql as the superuser; returns unaligned, tuples-only output.
    /// Panics with psql's error and the server log on failure.
    pub fn psql(&self, sql: &str) -> String {
        match self.try_psql(sql) {
            Ok(out) => out,
            Err(e) => panic!(
                "psql failed for {sql:?}:\n{e}\n--- server log ---\n{}",
                self.server_log()
            ),
        }
    }

    pub fn try_psql(&self, sql: &str) -> Result<String, String> {
        let mut child = Command::new(self.bin("psql"))
            .args([
                "-X",
                "-A",
                "-t",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-f",
                "-",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run psql");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(sql.as_bytes())
            .expect("write to psql");
        let out = child.wait_with_output().expect("wait for psql");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(output_text(&out))
        }
    }

    /// An ordinary SQL connection for assertions.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .dbname("postgres")
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect to test server: {e}\n{}", self.server_log()));
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }

    pub fn stop(&mut self, mode: StopMode) {
        let out = run_as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "stop",
                "-w",
                "-m",
                mode.as_str(),
                "-D",
                self.data.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop failed:\n{}",
            output_text(&out)
        );
        self.running = false;
    }

    /// Starts the server again on the same port after `stop`.
    pub fn start_again(&mut self) {
        if let Err(e) = self.pg_ctl_start() {
            panic!("PostgreSQL did not restart:\n{e}");
        }
    }

    /// Makes pg_hba.conf / postgresql.conf edits take effect.
    pub fn reload(&self) {
        self.psql("SELECT pg_reload_conf()");
    }
}

impl Drop for TestPg {
    fn drop(&mut self) {
        if self.running {
            let _ = run_as_postgres(
                &self.bin.join("pg_ctl"),
                &[
                    "stop",
                    "-w",
                    "-m",
                    "immediate",
                    "-D",
                    self.data.to_str().unwrap(),
                ],
            );
        }
    }
}

/// A temp dir owned by the server's user, for one server's data dir, log and sockets.
fn server_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("pgcdc-test-pg-")
        .tempdir()
        .expect("create temp dir");
    chown_to_postgres(dir.path());
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// initdb and postgres refuse to run as root, so when we are root they run as `postgres`.
fn run_as_postgres(program: &Path, args: &[&str]) -> Output {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn chown_to_postgres(path: &Path) {
    if !is_root() {
        return;
    }
    let status = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(path)
        .status()
        .expect("run chown");
    assert!(status.success(), "chown {} failed", path.display());
}

fn write_owned(path: &Path, contents: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, contents).expect("write file");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
    chown_to_postgres(path);
}

fn append(path: &Path, text: &str) {
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open for append");
    writeln!(f, "\n{text}").expect("append");
}

fn output_text(out: &Output) -> String {
    format!(
        "status: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
