//! A walsender connection (`replication=database`): connect, run replication commands, and
//! switch into streaming.

use std::collections::HashMap;
use std::time::Duration;

use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tracing::{debug, info, warn};

use super::auth;
use super::error::ReplicationError;
use super::framing::{self, *};
use super::params::ConnectParams;
use super::stream::ReplicationStream;
use super::tls;
use super::wire::{Io, Wire};
use crate::config::SslMode;
use crate::Lsn;

/// Session settings sent in the startup packet so that every text value pgoutput produces has
/// one fixed format, whatever the server or role defaults are.
pub const SESSION_SETTINGS: &[(&str, &str)] = &[
    ("DateStyle", "ISO"),
    ("TimeZone", "UTC"),
    ("IntervalStyle", "iso_8601"),
    ("extra_float_digits", "3"),
    ("bytea_output", "hex"),
    ("client_encoding", "UTF8"),
    // money's text form follows lc_monetary; the parser reads the C form only.
    ("lc_monetary", "C"),
];

/// How often we confirm our position when nothing else prompts us to.
pub const DEFAULT_STATUS_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemInfo {
    pub systemid: String,
    pub timeline: u32,
    pub xlogpos: Lsn,
    pub dbname: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotCreated {
    pub consistent_point: Lsn,
    /// Exported snapshot; usable (SET TRANSACTION SNAPSHOT) only until the next command on
    /// this connection.
    pub snapshot_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotCreation {
    Created(SlotCreated),
    /// The slot was already there; its position is whatever it was.
    Existed,
}

/// Result of one statement of a simple query, all values in text format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl QueryResult {
    fn value(&self, row: usize, column: &str) -> Option<&str> {
        let idx = self.columns.iter().position(|c| c == column)?;
        self.rows.get(row)?.get(idx)?.as_deref()
    }
}

// Manual so that the socket (which has no Debug) is left out.
impl std::fmt::Debug for ReplicationConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicationConnection")
            .field("server_version_num", &self.server_version_num)
            .field("backend_pid", &self.backend_pid)
            .field("status_interval", &self.status_interval)
            .finish_non_exhaustive()
    }
}

pub struct ReplicationConnection {
    wire: Wire,
    server_params: HashMap<String, String>,
    server_version_num: u32,
    backend_pid: i32,
    status_interval: Duration,
}

impl ReplicationConnection {
    /// Connects, negotiates TLS per `sslmode`, authenticates, and waits until the server is
    /// ready for commands. The whole handshake is bounded by `connect_timeout`.
    pub async fn connect(params: &ConnectParams) -> Result<Self, ReplicationError> {
        match tokio::time::timeout(params.connect_timeout, Self::connect_inner(params)).await {
            Ok(r) => r,
            Err(_) => Err(ReplicationError::ConnectTimeout(params.connect_timeout)),
        }
    }

    async fn connect_inner(params: &ConnectParams) -> Result<Self, ReplicationError> {
        let io = open_transport(params).await?;
        let mut wire = Wire::new(io);

        let mut startup: Vec<(&str, &str)> = vec![
            ("user", &params.user),
            ("database", &params.dbname),
            ("replication", "database"),
            ("application_name", &params.application_name),
        ];
        startup.extend_from_slice(SESSION_SETTINGS);
        frontend::startup_message(startup, &mut wire.wbuf)?;
        wire.flush().await?;

        auth::authenticate(&mut wire, &params.user, params.password.as_deref()).await?;

        let mut server_params = HashMap::new();
        let mut backend_pid = 0;
        loop {
            let frame = wire.read_frame().await?;
            match frame.tag {
                TAG_PARAMETER_STATUS => {
                    let (k, v) = framing::parse_parameter_status(&frame.body)?;
                    server_params.insert(k, v);
                }
                TAG_BACKEND_KEY_DATA => {
                    backend_pid = Reader::new(&frame.body, "BackendKeyData").i32()?;
                }
                TAG_READY_FOR_QUERY => break,
                TAG_ERROR_RESPONSE => {
                    return Err(ReplicationError::Db(framing::parse_error_fields(
                        &frame.body,
                    )?))
                }
                // We only ask for protocol 3.0, so a downgrade offer changes nothing.
                TAG_NOTICE_RESPONSE | TAG_NEGOTIATE_PROTOCOL => {}
                other => {
                    return Err(ReplicationError::protocol(format!(
                        "unexpected message {:?} after authentication",
                        other as char
                    )))
                }
            }
        }

        let mut conn = ReplicationConnection {
            wire,
            server_version_num: server_params
                .get("server_version")
                .and_then(|v| parse_server_version(v))
                .unwrap_or(0),
            server_params,
            backend_pid,
            status_interval: DEFAULT_STATUS_INTERVAL,
        };
        if conn.server_version_num == 0 {
            // Unusual builds report odd version strings; the numeric setting is authoritative.
            let v = conn.show("server_version_num").await?;
            conn.server_version_num = v.trim().parse().map_err(|_| {
                ReplicationError::protocol(format!("server_version_num {v:?} is not a number"))
            })?;
        }
        info!(
            host = %params.host,
            port = params.port,
            server_version = conn.server_version_num,
            backend_pid,
            "replication connection established"
        );
        Ok(conn)
    }

    /// e.g. 150018 for 15.18, like `SHOW server_version_num`.
    pub fn server_version_num(&self) -> u32 {
        self.server_version_num
    }

    /// A ParameterStatus value the server reported (server_version, server_encoding, ...).
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.server_params.get(name).map(String::as_str)
    }

    pub fn backend_pid(&self) -> i32 {
        self.backend_pid
    }

    /// How often the stream confirms its flushed position unprompted. Capped at half of the
    /// server's wal_sender_timeout when streaming starts.
    pub fn set_status_interval(&mut self, interval: Duration) {
        self.status_interval = interval.max(Duration::from_millis(10));
    }

    /// Runs one simple-protocol command and collects its results. On an ErrorResponse the
    /// connection is drained to ReadyForQuery first, so it stays usable.
    pub async fn simple_query(&mut self, sql: &str) -> Result<Vec<QueryResult>, ReplicationError> {
        debug!(sql, "replication command");
        frontend::query(sql, &mut self.wire.wbuf)?;
        self.wire.flush().await?;
        let mut results = Vec::new();
        let mut current: Option<QueryResult> = None;
        let mut error = None;
        loop {
            let frame = self.wire.read_frame().await?;
            match frame.tag {
                TAG_ROW_DESCRIPTION => {
                    current = Some(QueryResult {
                        columns: framing::parse_row_description(&frame.body)?,
                        rows: Vec::new(),
                    })
                }
                TAG_DATA_ROW => {
                    let row = framing::parse_data_row(&frame.body)?;
                    current
                        .as_mut()
                        .ok_or_else(|| {
                            ReplicationError::protocol("DataRow without RowDescription")
                        })?
                        .rows
                        .push(row);
                }
                TAG_COMMAND_COMPLETE | TAG_EMPTY_QUERY => {
                    results.push(current.take().unwrap_or_default());
                }
                TAG_ERROR_RESPONSE => error = Some(framing::parse_error_fields(&frame.body)?),
                TAG_READY_FOR_QUERY => break,
                TAG_PARAMETER_STATUS => {
                    let (k, v) = framing::parse_parameter_status(&frame.body)?;
                    self.server_params.insert(k, v);
                }
                TAG_NOTICE_RESPONSE => log_notice(&frame.body),
                other => {
                    return Err(ReplicationError::protocol(format!(
                        "unexpected message {:?} in reply to {sql:?}",
                        other as char
                    )))
                }
            }
        }
        match error {
            Some(e) => Err(ReplicationError::Db(e)),
            None => Ok(results),
        }
    }

    /// One value of a `SHOW name` command.
    pub async fn show(&mut self, name: &str) -> Result<String, ReplicationError> {
        let results = self
            .simple_query(&format!("SHOW {}", quote_ident(name)))
            .await?;
        results
            .first()
            .and_then(|r| r.rows.first())
            .and_then(|row| row.first().cloned().flatten())
            .ok_or_else(|| ReplicationError::protocol(format!("SHOW {name} returned no value")))
    }

    pub async fn identify_system(&mut self) -> Result<SystemInfo, ReplicationError> {
        let results = self.simple_query("IDENTIFY_SYSTEM").await?;
        let r = results
            .first()
            .ok_or_else(|| ReplicationError::protocol("IDENTIFY_SYSTEM returned no rows"))?;
        let field = |name: &str| {
            r.value(0, name).ok_or_else(|| {
                ReplicationError::protocol(format!("IDENTIFY_SYSTEM did not return {name}"))
            })
        };
        Ok(SystemInfo {
            systemid: field("systemid")?.to_string(),
            timeline: field("timeline")?.parse().map_err(|_| {
                ReplicationError::protocol("IDENTIFY_SYSTEM timeline is not a number")
            })?,
            xlogpos: parse_lsn(field("xlogpos")?)?,
            dbname: r.value(0, "dbname").map(str::to_string),
        })
    }

    /// Creates a logical slot exporting a snapshot; an existing slot of that name is not an
    /// error (restarts must be idempotent), but its plugin/database are not checked here.
    pub async fn create_slot(
        &mut self,
        name: &str,
        plugin: &str,
    ) -> Result<SlotCreation, ReplicationError> {
        check_slot_name(name)?;
        // PostgreSQL 15 introduced the option-list syntax; older servers only know the
        // keyword form, which 15+ still accepts but may drop some day.
        let sql = if self.server_version_num >= 150000 {
            format!(
                "CREATE_REPLICATION_SLOT {} LOGICAL {} (SNAPSHOT 'export')",
                quote_ident(name),
                quote_ident(plugin)
            )
        } else {
            format!(
                "CREATE_REPLICATION_SLOT {} LOGICAL {} EXPORT_SNAPSHOT",
                quote_ident(name),
                quote_ident(plugin)
            )
        };
        let results = match self.simple_query(&sql).await {
            Ok(r) => r,
            Err(ReplicationError::Db(e)) if e.code == "42710" => {
                info!(slot = name, "replication slot already exists");
                return Ok(SlotCreation::Existed);
            }
            Err(e) => return Err(e),
        };
        let r = results.first().ok_or_else(|| {
            ReplicationError::protocol("CREATE_REPLICATION_SLOT returned no rows")
        })?;
        let point = r.value(0, "consistent_point").ok_or_else(|| {
            ReplicationError::protocol("CREATE_REPLICATION_SLOT did not return consistent_point")
        })?;
        let created = SlotCreated {
            consistent_point: parse_lsn(point)?,
            snapshot_name: r.value(0, "snapshot_name").map(str::to_string),
        };
        info!(slot = name, consistent_point = %created.consistent_point, "replication slot created");
        Ok(SlotCreation::Created(created))
    }

    /// Starts logical streaming from `start_lsn` (0/0 = the slot's confirmed position).
    /// `options` go to the output plugin verbatim, e.g. `[("proto_version", "1"),
    /// ("publication_names", "dbz_publication")]`.
    pub async fn start_replication(
        mut self,
        slot: &str,
        start_lsn: Lsn,
        options: &[(&str, &str)],
    ) -> Result<ReplicationStream, ReplicationError> {
        check_slot_name(slot)?;
        let timeout = self.show("wal_sender_timeout").await?;
        let status_interval = capped_status_interval(self.status_interval, &timeout);

        let mut sql = format!(
            "START_REPLICATION SLOT {} LOGICAL {start_lsn}",
            quote_ident(slot)
        );
        if !options.is_empty() {
            let opts: Vec<String> = options
                .iter()
                .map(|(k, v)| format!("{} {}", quote_ident(k), quote_literal(v)))
                .collect();
            sql.push_str(&format!(" ({})", opts.join(", ")));
        }
        debug!(%sql, "starting replication");
        frontend::query(&sql, &mut self.wire.wbuf)?;
        self.wire.flush().await?;
        loop {
            let frame = self.wire.read_frame().await?;
            match frame.tag {
                TAG_COPY_BOTH_RESPONSE => break,
                TAG_NOTICE_RESPONSE => log_notice(&frame.body),
                TAG_PARAMETER_STATUS => {}
                TAG_ERROR_RESPONSE => {
                    return Err(ReplicationError::Db(framing::parse_error_fields(
                        &frame.body,
                    )?))
                }
                other => {
                    return Err(ReplicationError::protocol(format!(
                        "unexpected message {:?} in reply to START_REPLICATION",
                        other as char
                    )))
                }
            }
        }
        info!(slot, %start_lsn, status_interval = ?status_interval, wal_sender_timeout = %timeout, "replication started");
        Ok(ReplicationStream::new(
            self.wire,
            start_lsn,
            status_interval,
        ))
    }

    /// Sends Terminate and closes the socket.
    pub async fn close(mut self) -> Result<(), ReplicationError> {
        frontend::terminate(&mut self.wire.wbuf);
        self.wire.flush().await?;
        self.wire.shutdown().await;
        Ok(())
    }
}

async fn open_transport(params: &ConnectParams) -> Result<Box<dyn Io>, ReplicationError> {
    let mut tcp = TcpStream::connect((params.host.as_str(), params.port))
        .await
        .map_err(|source| ReplicationError::Connect {
            addr: format!("{}:{}", params.host, params.port),
            source,
        })?;
    // Status updates are tiny and latency-sensitive; don't let Nagle hold them back.
    tcp.set_nodelay(true)?;
    let config = tls::client_config(params).map_err(|e| ReplicationError::Tls(e.0))?;
    let Some(config) = config else {
        return Ok(Box::new(tcp));
    };

    let mut req = bytes::BytesMut::new();
    frontend::ssl_request(&mut req);
    tcp.write_all(&req).await?;
    // Exactly one byte: anything read beyond it before the handshake could be injected
    // plaintext (CVE-2021-23222), so we never buffer here.
    match tcp.read_u8().await? {
        b'S' => {}
        b'N' if params.sslmode == SslMode::Prefer => {
            debug!("server does not offer TLS, continuing without (sslmode=prefer)");
            return Ok(Box::new(tcp));
        }
        b'N' => {
            return Err(ReplicationError::Tls(format!(
                "the server does not accept TLS connections but sslmode={}: enable ssl on the server or change database.sslmode",
                params.sslmode
            )))
        }
        other => {
            return Err(ReplicationError::protocol(format!(
                "unexpected reply {other:#x} to SSLRequest"
            )))
        }
    }
    let name = tls::server_name(params).map_err(|e| ReplicationError::Tls(e.0))?;
    let tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| match tls::describe_handshake_error(&e, params) {
            Some(msg) => ReplicationError::Tls(msg),
            None => ReplicationError::Io(e),
        })?;
    Ok(Box::new(tls))
}

fn log_notice(body: &[u8]) {
    if let Ok(n) = framing::parse_error_fields(body) {
        warn!(code = %n.code, "server notice: {}", n.message);
    }
}

fn parse_lsn(s: &str) -> Result<Lsn, ReplicationError> {
    s.parse()
        .map_err(|e| ReplicationError::protocol(format!("server sent a bad LSN: {e}")))
}

/// Slot names are restricted by PostgreSQL to `[a-z0-9_]{1,63}`; rejecting others early gives
/// a clearer message than the server's syntax error.
fn check_slot_name(name: &str) -> Result<(), ReplicationError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ReplicationError::Config(format!(
            "invalid replication slot name {name:?}: use only lower-case letters, digits and underscores (at most 63)"
        )))
    }
}

pub(crate) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// "15.18 (Debian 15.18-1.pgdg120+1)" → 150018; "9.6.24" → 90624; "17beta2" → 170000.
pub fn parse_server_version(v: &str) -> Option<u32> {
    let numeric: String = v
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = numeric
        .split('.')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    if major >= 10 {
        Some(major * 10000 + minor)
    } else {
        let patch = parts.next().flatten().unwrap_or(0);
        Some(major * 10000 + minor * 100 + patch)
    }
}

/// The server drops a walsender it has not heard from for wal_sender_timeout, so we confirm
/// at least twice per timeout. `value` is the SHOW output: "60s", "1min", "500ms", "0".
fn capped_status_interval(wanted: Duration, value: &str) -> Duration {
    match parse_pg_duration(value) {
        Some(t) if !t.is_zero() => wanted.min(t / 2),
        _ => wanted,
    }
}

fn parse_pg_duration(value: &str) -> Option<Duration> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: u64 = num.parse().ok()?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" => n * 1000,
        "min" => n * 60_000,
        "h" => n * 3_600_000,
        "d" => n * 86_400_000,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_versions() {
        assert_eq!(
            parse_server_version("15.18 (Debian 15.18-1.pgdg120+1)"),
            Some(150018)
        );
        assert_eq!(parse_server_version("9.6.24"), Some(90624));
        assert_eq!(parse_server_version("17beta2"), Some(170000));
        assert_eq!(parse_server_version("devel"), None);
    }

    #[test]
    fn caps_status_interval_at_half_the_sender_timeout() {
        let one = Duration::from_secs(1);
        assert_eq!(capped_status_interval(one, "60s"), one);
        assert_eq!(capped_status_interval(one, "1min"), one);
        assert_eq!(
            capped_status_interval(one, "1s"),
            Duration::from_millis(500)
        );
        assert_eq!(
            capped_status_interval(one, "600ms"),
            Duration::from_millis(300)
        );
        assert_eq!(
            capped_status_interval(one, "0"),
            one,
            "0 disables the timeout"
        );
        assert_eq!(capped_status_interval(one, "weird"), one);
    }

    #[test]
    fn quotes_safely() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert!(check_slot_name("debezium_1").is_ok());
        for bad in ["", "Slot", "a-b", "a;drop", &"x".repeat(64)] {
            assert!(check_slot_name(bad).is_err(), "{bad:?}");
        }
    }
}
