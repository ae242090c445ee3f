//! Connection parameters shared by the replication connection and the admin (SQL) connection.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::SslMode;

/// Where and how to connect. Field names follow libpq so that users can map their existing
/// connection strings one to one.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectParams {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub dbname: String,
    pub sslmode: SslMode,
    /// PEM file with the CA certificate(s) to trust; without it the Mozilla roots are used.
    pub sslrootcert: Option<PathBuf>,
    pub application_name: String,
    pub connect_timeout: Duration,
}

impl Default for ConnectParams {
    fn default() -> Self {
        ConnectParams {
            host: "localhost".into(),
            port: 5432,
            user: "postgres".into(),
            password: None,
            dbname: "postgres".into(),
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            application_name: "pgcdc".into(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

// Hand-written so that the password can never end up in a log line.
impl fmt::Debug for ConnectParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectParams")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("dbname", &self.dbname)
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("application_name", &self.application_name)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_password() {
        let p = ConnectParams {
            password: Some("hunter2-secret".into()),
            ..ConnectParams::default()
        };
        let shown = format!("{p:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
