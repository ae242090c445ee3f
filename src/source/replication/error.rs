//! Errors of the replication client, and the one place where SQLSTATEs are classified.

use std::fmt;
use std::io;

/// An ErrorResponse from the server, reduced to the fields an operator needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DbError {
    pub severity: String,
    /// Five-character SQLSTATE, e.g. `28P01`.
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(fix) = advice(&self.code, &self.message) {
            write!(f, ": {fix}")?;
        }
        write!(f, " (SQLSTATE {})", self.code)?;
        if let Some(d) = &self.detail {
            write!(f, "; detail: {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "; hint: {h}")?;
        }
        Ok(())
    }
}

impl DbError {
    pub fn is_transient(&self) -> bool {
        sqlstate_is_transient(&self.code)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    #[error("connection to PostgreSQL failed: {0}")]
    Io(#[from] io::Error),

    #[error("PostgreSQL closed the connection unexpectedly")]
    Closed,

    #[error("cannot connect to PostgreSQL at {addr}: {source}: check database.host and database.port, and that PostgreSQL is running and accepts TCP connections there")]
    Connect {
        addr: String,
        #[source]
        source: io::Error,
    },

    #[error("connecting to PostgreSQL timed out after {0:?}: check database.host and database.port, and that the server is reachable")]
    ConnectTimeout(std::time::Duration),

    #[error("{0}")]
    Db(DbError),

    /// The server's certificate was rejected, or TLS could not be negotiated as configured.
    #[error("TLS: {0}")]
    Tls(String),

    /// Authentication could not even be attempted (method unsupported, no password configured).
    #[error("authentication: {0}")]
    Auth(String),

    /// A caller-supplied value we refuse before sending it (e.g. an invalid slot name).
    #[error("invalid configuration: {0}")]
    Config(String),

    /// The server sent something the protocol does not allow here.
    #[error("replication protocol error: {0}")]
    Protocol(String),
}

impl ReplicationError {
    /// True when retrying later (after a reconnect) may succeed without anyone changing
    /// configuration: network trouble, server restarts, a slot still held by a dying walsender.
    pub fn is_transient(&self) -> bool {
        match self {
            ReplicationError::Io(_)
            | ReplicationError::Connect { .. }
            | ReplicationError::Closed
            | ReplicationError::ConnectTimeout(_) => true,
            ReplicationError::Db(e) => e.is_transient(),
            ReplicationError::Tls(_)
            | ReplicationError::Auth(_)
            | ReplicationError::Config(_)
            | ReplicationError::Protocol(_) => false,
        }
    }

    /// The SQLSTATE when the server reported the error.
    pub fn code(&self) -> Option<&str> {
        match self {
            ReplicationError::Db(e) => Some(&e.code),
            _ => None,
        }
    }

    pub(crate) fn protocol(msg: impl Into<String>) -> Self {
        ReplicationError::Protocol(msg.into())
    }
}

/// SQLSTATEs worth retrying. Everything else is treated as needing a human.
pub fn sqlstate_is_transient(code: &str) -> bool {
    matches!(
        code,
        // admin_shutdown, crash_shutdown, cannot_connect_now (server starting or in recovery)
        "57P01" | "57P02" | "57P03"
        // object_in_use: the slot is still held by another (possibly dying) walsender
        | "55006"
        // connection_exception class
        | "08000" | "08003" | "08006" | "08001" | "08004"
        // serialization/deadlock: harmless to retry for admin statements
        | "40001" | "40P01"
    ) || code.starts_with("53") // insufficient resources: too many connections, out of memory, disk full
}

/// A short instruction that tells the operator how to fix what the server complained about.
/// Keyed by SQLSTATE, refined by message text where one SQLSTATE covers several causes.
pub fn advice(code: &str, message: &str) -> Option<&'static str> {
    Some(match code {
        "28P01" => "check database.user and database.password",
        "28000" if message.contains("pg_hba.conf") => {
            "add a pg_hba.conf line allowing this user to connect for replication (e.g. `host all,replication <user> <address> scram-sha-256`) and reload PostgreSQL"
        }
        "28000" => "check database.user and the server's pg_hba.conf",
        "3D000" => "check database.dbname",
        "42501" if message.contains("replication") || message.contains("walsender") => {
            "grant the replication privilege: ALTER ROLE <user> REPLICATION"
        }
        "42501" => "grant the missing privilege to database.user",
        "42704" if message.contains("slot") => {
            "the replication slot does not exist: check slot.name or let pgcdc create it"
        }
        "42704" if message.contains("publication") => {
            "the publication does not exist: check publication.name or enable publication autocreation"
        }
        "55000" if message.contains("wal_level") => {
            "wal_level must be logical: set wal_level = logical in postgresql.conf and restart"
        }
        "55006" if message.contains("slot") => "stop the other consumer or wait",
        "53300" => "too many connections: raise max_connections or close idle sessions",
        "53400" if message.contains("max_replication_slots") => {
            "no free replication slot: raise max_replication_slots or drop unused slots"
        }
        "53400" if message.contains("wal_senders") => {
            "no free WAL sender: raise max_wal_senders or stop other replication clients"
        }
        "57P01" | "57P02" | "57P03" => "the server is shutting down or starting; will retry",
        "58P01" if message.contains("pgoutput") => "the pgoutput plugin is missing on the server",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(code: &str, message: &str) -> ReplicationError {
        ReplicationError::Db(DbError {
            severity: "FATAL".into(),
            code: code.into(),
            message: message.into(),
            ..DbError::default()
        })
    }

    #[test]
    fn classifies_sqlstates() {
        for code in [
            "57P01", "57P02", "57P03", "55006", "53300", "53400", "08006",
        ] {
            assert!(db(code, "x").is_transient(), "{code} should be transient");
        }
        for code in [
            "28P01", "28000", "42704", "42501", "55000", "3D000", "42601",
        ] {
            assert!(!db(code, "x").is_transient(), "{code} should be definite");
        }
        assert!(ReplicationError::Closed.is_transient());
        assert!(!ReplicationError::Tls("bad cert".into()).is_transient());
    }

    #[test]
    fn messages_name_the_fix() {
        let e = db("28P01", "password authentication failed for user \"bob\"");
        let s = e.to_string();
        assert!(s.starts_with("password authentication failed for user \"bob\": check database.user and database.password"), "{s}");
        let s = db("55006", "replication slot \"s\" is active for PID 42").to_string();
        assert!(
            s.contains("is active for PID 42: stop the other consumer or wait"),
            "{s}"
        );
        let s = db("55000", "logical decoding requires wal_level >= logical").to_string();
        assert!(
            s.contains("set wal_level = logical in postgresql.conf and restart"),
            "{s}"
        );
    }
}
