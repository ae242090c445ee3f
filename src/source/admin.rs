//! Slot and publication management over an ordinary SQL connection (tokio-postgres).
//!
//! Kept apart from the replication connection because walsender connections cannot run
//! catalog queries on older servers and because these calls happen once at startup.

use std::str::FromStr;

use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::{Client, NoTls};
use tracing::{info, warn};

use crate::config::SslMode;
use crate::source::replication::error::{advice, sqlstate_is_transient};
use crate::source::replication::tls;
use crate::source::replication::{quote_ident, ConnectParams};
use crate::Lsn;

/// SQL for the server's WAL position, on a primary or a standby (logical decoding on a standby,
/// PostgreSQL 16 and later). A standby that has not streamed yet falls back to its replay
/// position. Debezium reads the same positions.
pub const WAL_POSITION: &str = "(CASE WHEN pg_is_in_recovery() \
     THEN coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) \
     ELSE pg_current_wal_lsn() END)";

/// Debezium's `publication.autocreate.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicationMode {
    /// Create `FOR ALL TABLES` if missing (needs superuser).
    AllTables,
    /// Create for the given tables if missing, otherwise reset its table list to them.
    Filtered,
    /// Never create; the publication must exist.
    Disabled,
    /// Create with no tables if missing; tables are added by someone else.
    NoTables,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid publication.autocreate.mode {0:?}: expected all_tables, filtered, disabled or no_tables")]
pub struct ParsePublicationModeError(pub String);

impl FromStr for PublicationMode {
    type Err = ParsePublicationModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "all_tables" => Ok(PublicationMode::AllTables),
            "filtered" => Ok(PublicationMode::Filtered),
            "disabled" => Ok(PublicationMode::Disabled),
            "no_tables" => Ok(PublicationMode::NoTables),
            _ => Err(ParsePublicationModeError(s.to_string())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    /// `None` for physical slots.
    pub plugin: Option<String>,
    pub database: Option<String>,
    pub active: bool,
    pub active_pid: Option<i32>,
    pub confirmed_flush_lsn: Option<Lsn>,
    pub restart_lsn: Option<Lsn>,
    /// reserved / extended / unreserved / lost; `None` before PostgreSQL 13.
    pub wal_status: Option<String>,
}

/// A slot's distance from the server's WAL position (`pg_replication_slots`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotLag {
    /// Server WAL position minus `confirmed_flush_lsn`; `None` for a physical slot.
    pub lag_bytes: Option<i64>,
    pub confirmed_flush_lsn: Option<Lsn>,
    /// reserved / extended / unreserved / lost; `None` before PostgreSQL 13.
    pub wal_status: Option<String>,
    /// Bytes that can still be written before the slot risks invalidation; `None` when
    /// `max_slot_wal_keep_size` is unlimited or before PostgreSQL 13.
    pub safe_wal_size: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{context}: {}", describe(.source))]
    Db {
        context: String,
        #[source]
        source: tokio_postgres::Error,
    },

    /// The connection could not be established; the text already carries the cause chain
    /// and the fix, so the source is kept out of the error chain to avoid repeating it.
    #[error("{message}")]
    Connect { message: String, transient: bool },

    #[error("TLS: {0}")]
    Tls(String),

    #[error("publication {0:?} does not exist and publication.autocreate.mode is disabled: create it (CREATE PUBLICATION ...) or choose another mode")]
    PublicationMissing(String),

    #[error("publication.autocreate.mode is filtered but no tables were given: check table.include.list")]
    NoTablesForFilter,

    #[error("publication {0:?} cannot be created or altered here: the server is a standby (read-only); create the publication on the primary and set publication.autocreate_mode = \"disabled\"")]
    PublicationOnStandby(String),

    #[error("unexpected answer from PostgreSQL: {0}")]
    Unexpected(String),
}

impl AdminError {
    /// Same rule as the replication client: network trouble and restarts are worth retrying.
    pub fn is_transient(&self) -> bool {
        match self {
            AdminError::Db { source, .. } => match source.code() {
                Some(code) => sqlstate_is_transient(code.code()),
                None => is_network_failure(source),
            },
            AdminError::Connect { transient, .. } => *transient,
            _ => false,
        }
    }
}

/// Without a SQLSTATE the error happened below SQL: an I/O failure is worth retrying, but
/// not a TLS verification failure (which tokio-postgres also reports through `io::Error`).
fn is_network_failure(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    let mut cur = std::error::Error::source(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .is_none();
        }
        cur = err.source();
    }
    false
}

/// A failed connection attempt, described with every cause and what to check.
fn connect_error(params: &ConnectParams, e: tokio_postgres::Error) -> AdminError {
    let transient = match e.code() {
        Some(code) => sqlstate_is_transient(code.code()),
        None => is_network_failure(&e),
    };
    let detail = if e.as_db_error().is_some() {
        describe(&e)
    } else {
        let mut text = e.to_string();
        let mut cur = std::error::Error::source(&e);
        while let Some(err) = cur {
            text.push_str(": ");
            text.push_str(&err.to_string());
            cur = err.source();
        }
        let fix = if text.contains("does not support TLS") {
            format!(
                "the server does not accept TLS connections but database.sslmode is {}: enable ssl on the server or change database.sslmode",
                params.sslmode
            )
        } else if transient {
            "check database.host and database.port, and that PostgreSQL is running and accepts TCP connections there".to_string()
        } else {
            "check database.host, database.port and the database.ssl* settings".to_string()
        };
        format!("{text}: {fix}")
    };
    AdminError::Connect {
        message: format!(
            "cannot connect to PostgreSQL at {}:{}: {detail}",
            params.host, params.port
        ),
        transient,
    }
}

/// A tokio-postgres error with the server's message, our fix, and SQLSTATE.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = db.message().to_string();
            if let Some(fix) = advice(db.code().code(), db.message()) {
                s.push_str(": ");
                s.push_str(fix);
            }
            s.push_str(&format!(" (SQLSTATE {})", db.code().code()));
            if let Some(d) = db.detail() {
                s.push_str(&format!("; detail: {d}"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!("; hint: {h}"));
            }
            s
        }
        None => e.to_string(),
    }
}

fn db(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> AdminError {
    let context = context.into();
    move |source| AdminError::Db { context, source }
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("server_version_num", &self.server_version_num)
            .finish_non_exhaustive()
    }
}

pub struct Admin {
    client: Client,
    server_version_num: u32,
}

impl Admin {
    pub async fn connect(params: &ConnectParams) -> Result<Self, AdminError> {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&params.host)
            .port(params.port)
            .user(&params.user)
            .dbname(&params.dbname)
            .application_name(&params.application_name)
            .connect_timeout(params.connect_timeout)
            // verify-ca/verify-full are enforced by our rustls verifier; tokio-postgres only
            // needs to know whether TLS is optional.
            .ssl_mode(match params.sslmode {
                SslMode::Disable => PgSslMode::Disable,
                SslMode::Prefer => PgSslMode::Prefer,
                _ => PgSslMode::Require,
            });
        if let Some(pw) = &params.password {
            cfg.password(pw);
        }
        let connect_err = |e: tokio_postgres::Error| connect_error(params, e);
        let client = match tls::client_config(params).map_err(|e| AdminError::Tls(e.0))? {
            None => {
                let (client, conn) = cfg.connect(NoTls).await.map_err(connect_err)?;
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        warn!(error = %e, "admin connection ended");
                    }
                });
                client
            }
            Some(config) => {
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new((*config).clone());
                let (client, conn) = cfg.connect(tls).await.map_err(connect_err)?;
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        warn!(error = %e, "admin connection ended");
                    }
                });
                client
            }
        };
        let row = client
            .query_one("SELECT current_setting('server_version_num')", &[])
            .await
            .map_err(db("cannot read server_version_num"))?;
        let v: String = row.get(0);
        let server_version_num = v
            .parse()
            .map_err(|_| AdminError::Unexpected(format!("server_version_num {v:?}")))?;
        Ok(Admin {
            client,
            server_version_num,
        })
    }

    /// e.g. 150018 for 15.18.
    pub fn server_version_num(&self) -> u32 {
        self.server_version_num
    }

    /// The underlying client, for queries this module has no helper for.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The server's current WAL position: `pg_current_wal_lsn()` on a primary, the WAL
    /// received so far on a standby (where the former is an error).
    pub async fn current_wal_lsn(&self) -> Result<Lsn, AdminError> {
        let row = self
            .client
            .query_one(&format!("SELECT {WAL_POSITION}::text"), &[])
            .await
            .map_err(db("cannot read the current WAL position"))?;
        row.get::<_, String>(0)
            .parse()
            .map_err(|e| AdminError::Unexpected(format!("{e}")))
    }

    pub async fn wal_level(&self) -> Result<String, AdminError> {
        let row = self
            .client
            .query_one("SELECT current_setting('wal_level')", &[])
            .await
            .map_err(db("cannot read wal_level"))?;
        Ok(row.get(0))
    }

    /// Makes sure publication `name` exists as `mode` wants. `tables` are `schema.table`
    /// names (split at the first dot and quoted here), used by `Filtered` only.
    pub async fn ensure_publication(
        &self,
        name: &str,
        mode: PublicationMode,
        tables: &[String],
    ) -> Result<(), AdminError> {
        let exists = self
            .client
            .query_opt("SELECT 1 FROM pg_publication WHERE pubname = $1", &[&name])
            .await
            .map_err(db(format!("cannot look up publication {name:?}")))?
            .is_some();
        let publication = quote_ident(name);
        let sql = match (mode, exists) {
            (PublicationMode::Disabled, false) => {
                return Err(AdminError::PublicationMissing(name.to_string()))
            }
            (PublicationMode::Filtered, _) if tables.is_empty() => {
                return Err(AdminError::NoTablesForFilter)
            }
            (PublicationMode::AllTables, false) => {
                format!("CREATE PUBLICATION {publication} FOR ALL TABLES")
            }
            (PublicationMode::NoTables, false) => format!("CREATE PUBLICATION {publication}"),
            (PublicationMode::Filtered, false) => {
                format!(
                    "CREATE PUBLICATION {publication} FOR TABLE {}",
                    table_list(tables)
                )
            }
            // Keeps the publication in step with the configured table list across restarts.
            (PublicationMode::Filtered, true) => {
                format!(
                    "ALTER PUBLICATION {publication} SET TABLE {}",
                    table_list(tables)
                )
            }
            (_, true) => return Ok(()),
        };
        let standby: bool = self
            .client
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .map_err(db("cannot ask whether the server is a standby"))?
            .get(0);
        if standby {
            return Err(AdminError::PublicationOnStandby(name.to_string()));
        }
        self.client
            .batch_execute(&sql)
            .await
            .map_err(db(format!("cannot create/alter publication {name:?}")))?;
        info!(publication = name, ?mode, "publication ensured");
        Ok(())
    }

    pub async fn slot_info(&self, name: &str) -> Result<Option<SlotInfo>, AdminError> {
        // wal_status exists from PostgreSQL 13 on.
        let wal_status = if self.server_version_num >= 130000 {
            "wal_status"
        } else {
            "NULL::text"
        };
        let sql = format!(
            "SELECT plugin::text, database::text, active, active_pid, \
             confirmed_flush_lsn::text, restart_lsn::text, {wal_status} \
             FROM pg_replication_slots WHERE slot_name = $1"
        );
        let Some(row) = self
            .client
            .query_opt(&sql, &[&name])
            .await
            .map_err(db(format!("cannot look up replication slot {name:?}")))?
        else {
            return Ok(None);
        };
        let lsn = |i: usize| -> Result<Option<Lsn>, AdminError> {
            row.get::<_, Option<String>>(i)
                .map(|s| {
                    s.parse()
                        .map_err(|e| AdminError::Unexpected(format!("{e}")))
                })
                .transpose()
        };
        Ok(Some(SlotInfo {
            plugin: row.get(0),
            database: row.get(1),
            active: row.get(2),
            active_pid: row.get(3),
            confirmed_flush_lsn: lsn(4)?,
            restart_lsn: lsn(5)?,
            wal_status: row.get(6),
        }))
    }

    /// How far slot `name` is behind the server, as the server sees it; `None` when there is
    /// no such slot.
    pub async fn slot_lag(&self, name: &str) -> Result<Option<SlotLag>, AdminError> {
        // wal_status and safe_wal_size exist from PostgreSQL 13 on.
        let extra = if self.server_version_num >= 130000 {
            "wal_status, safe_wal_size"
        } else {
            "NULL::text, NULL::int8"
        };
        let sql = format!(
            "SELECT ({WAL_POSITION} - confirmed_flush_lsn)::int8, confirmed_flush_lsn::text, {extra} \
             FROM pg_replication_slots WHERE slot_name = $1"
        );
        let Some(row) = self
            .client
            .query_opt(&sql, &[&name])
            .await
            .map_err(db(format!(
                "cannot read the lag of replication slot {name:?}"
            )))?
        else {
            return Ok(None);
        };
        let confirmed = row
            .get::<_, Option<String>>(1)
            .map(|s| {
                s.parse()
                    .map_err(|e| AdminError::Unexpected(format!("{e}")))
            })
            .transpose()?;
        Ok(Some(SlotLag {
            lag_bytes: row.get(0),
            confirmed_flush_lsn: confirmed,
            wal_status: row.get(2),
            safe_wal_size: row.get(3),
        }))
    }

    /// Terminates the backend holding slot `name` (`pg_terminate_backend`) and waits until the
    /// slot is free; the terminated PID, or `None` when nobody held it.
    pub async fn terminate_slot_holder(&self, name: &str) -> Result<Option<i32>, AdminError> {
        let Some(pid) = self.slot_info(name).await?.and_then(|i| i.active_pid) else {
            return Ok(None);
        };
        warn!(
            slot = name,
            pid, "slot.takeover: terminating the backend that holds the replication slot"
        );
        self.client
            .query_one("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .map_err(db(format!(
                "cannot terminate PID {pid} holding replication slot {name:?} (slot.takeover needs superuser or pg_signal_backend)"
            )))?;
        // The slot is released once the walsender has exited.
        for _ in 0..100 {
            match self.slot_info(name).await? {
                Some(i) if i.active_pid == Some(pid) => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await
                }
                _ => break,
            }
        }
        Ok(Some(pid))
    }

    /// Every user table's replica identity: (schema, table, `relreplident`, the replica
    /// identity index's name when it is `i`).
    pub async fn replica_identities(
        &self,
    ) -> Result<Vec<(String, String, char, Option<String>)>, AdminError> {
        let rows = self
            .client
            .query(
                "SELECT n.nspname::text, c.relname::text, c.relreplident::text, \
                 (SELECT i.relname::text FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
                  WHERE x.indrelid = c.oid AND x.indisreplident) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p') \
                 AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                 AND n.nspname !~ '^pg_toast'",
                &[],
            )
            .await
            .map_err(db("cannot read the tables' replica identities"))?;
        Ok(rows
            .iter()
            .map(|r| {
                let code: String = r.get(2);
                (
                    r.get(0),
                    r.get(1),
                    code.chars().next().unwrap_or('d'),
                    r.get(3),
                )
            })
            .collect())
    }

    /// `ALTER TABLE schema.table REPLICA IDENTITY <clause>`.
    pub async fn set_replica_identity(
        &self,
        schema: &str,
        table: &str,
        clause: &str,
    ) -> Result<(), AdminError> {
        let sql = format!(
            "ALTER TABLE {}.{} REPLICA IDENTITY {clause}",
            quote_ident(schema),
            quote_ident(table)
        );
        self.client
            .batch_execute(&sql)
            .await
            .map_err(db(format!("{sql} failed")))
    }

    /// Waits (up to 10 s) until no backend holds slot `name`, e.g. the walsender of a
    /// replication connection that was just closed.
    pub async fn wait_slot_released(&self, name: &str) -> Result<(), AdminError> {
        for _ in 0..100 {
            match self.slot_info(name).await? {
                Some(i) if i.active_pid.is_some() => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// Drops the slot if it exists; returns whether there was one. Fails with SQLSTATE 55006
    /// while a consumer is attached.
    pub async fn drop_slot(&self, name: &str) -> Result<bool, AdminError> {
        let rows = self
            .client
            .query(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
                &[&name],
            )
            .await
            .map_err(db(format!("cannot drop replication slot {name:?}")))?;
        if !rows.is_empty() {
            info!(slot = name, "replication slot dropped");
        }
        Ok(!rows.is_empty())
    }
}

/// `schema.table` entries → `"schema"."table", ...`; a bare name stays unqualified.
fn table_list(tables: &[String]) -> String {
    tables
        .iter()
        .map(|t| match t.split_once('.') {
            Some((schema, table)) => format!("{}.{}", quote_ident(schema), quote_ident(table)),
            None => quote_ident(t),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_table_lists() {
        let t = vec!["public.orders".to_string(), "Weird\"Name".to_string()];
        assert_eq!(table_list(&t), "\"public\".\"orders\", \"Weird\"\"Name\"");
    }

    #[test]
    fn parses_publication_modes() {
        assert_eq!(
            "filtered".parse::<PublicationMode>().unwrap(),
            PublicationMode::Filtered
        );
        assert_eq!(
            "ALL_TABLES".parse::<PublicationMode>().unwrap(),
            PublicationMode::AllTables
        );
        assert!("some".parse::<PublicationMode>().is_err());
    }
}
