//! `[database]`: how to reach PostgreSQL (Debezium `database.*`).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::error::Violation;
use crate::config::secret::Secret;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `database.hostname`. Default `127.0.0.1`.
    pub host: String,
    /// `database.port`. Default 5432. A string is accepted too, so that it can come from the
    /// environment (`port = "${PGPORT:-5432}"`).
    #[serde(deserialize_with = "port_from_int_or_string")]
    pub port: u16,
    /// `database.user`. Default `postgres`.
    pub user: String,
    /// `database.password`. Default: none (trust, peer or a `.pgpass`-less setup).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// `database.dbname`. Default `postgres`.
    pub dbname: String,
    /// `database.sslmode`. Default `prefer`.
    pub sslmode: SslMode,
    /// `database.sslrootcert`: PEM file of trusted CAs; without it the Mozilla roots are used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sslrootcert: Option<PathBuf>,
    /// libpq `connect_timeout`. Default `10s`.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            host: "127.0.0.1".to_string(),
            port: 5432,
            user: "postgres".to_string(),
            password: None,
            dbname: "postgres".to_string(),
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// libpq `sslmode` values with libpq's meaning (Debezium passes them through to the JDBC
/// driver). The one definition: the replication and admin connections use it as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS if the server offers it, plain otherwise; the certificate is not checked.
    #[default]
    Prefer,
    /// TLS or fail; the certificate is not checked (unless `sslrootcert` is given, which
    /// libpq treats as a request for `VerifyCa`).
    Require,
    /// TLS, certificate chain must lead to a trusted root; the host name is not checked.
    VerifyCa,
    /// TLS, trusted chain and the certificate must name the host we connected to.
    VerifyFull,
}

impl SslMode {
    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl std::fmt::Display for SslMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl DatabaseConfig {
    pub(crate) fn validate(&self) -> Result<(), Violation> {
        if self.host.trim().is_empty() {
            return Err(Violation::new("database.host", "must not be empty"));
        }
        if self.port == 0 {
            return Err(Violation::new(
                "database.port",
                "must be between 1 and 65535",
            ));
        }
        if self.user.is_empty() {
            return Err(Violation::new("database.user", "must not be empty"));
        }
        if self.dbname.is_empty() {
            return Err(Violation::new("database.dbname", "must not be empty"));
        }
        if self.connect_timeout.is_zero() {
            return Err(Violation::new(
                "database.connect_timeout",
                "must be greater than zero, e.g. \"10s\"",
            ));
        }
        if let Some(path) = &self.sslrootcert {
            if path.as_os_str().is_empty() {
                return Err(Violation::new(
                    "database.sslrootcert",
                    "must be a path to a PEM file, or be left out",
                ));
            }
        }
        Ok(())
    }

    /// A tokio-postgres configuration for this database: host, port, user, password,
    /// dbname, connect timeout and `application_name`. TLS and replication mode are the
    /// caller's business.
    pub fn pg_config(&self, application_name: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .connect_timeout(self.connect_timeout)
            .application_name(application_name);
        // An empty value (e.g. `${PGCDC_DB_PASSWORD:-}`) means no password, as in libpq.
        if let Some(password) = self.password.as_ref().filter(|p| !p.expose().is_empty()) {
            config.password(password.expose());
        }
        config
    }
}

fn port_from_int_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrString {
        Int(u16),
        Str(String),
    }
    match IntOrString::deserialize(d)? {
        IntOrString::Int(p) => Ok(p),
        IntOrString::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a port number (1-65535)"))),
    }
}
