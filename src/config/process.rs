//! Process-wide settings (`config/pgcdc.toml`): where state lives, how to log, and the HTTP
//! listener for metrics and probes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, Violation};
use super::parse::{self, EnvLookup};

/// `config/pgcdc.toml`. Every key is optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessConfig {
    /// Directory for offsets and other state; relative paths are relative to the working
    /// directory. Default `data`.
    pub data_dir: PathBuf,
    pub log: LogConfig,
    pub http: HttpConfig,
}

impl Default for ProcessConfig {
    fn default() -> Self {
        ProcessConfig {
            data_dir: PathBuf::from("data"),
            log: LogConfig::default(),
            http: HttpConfig::default(),
        }
    }
}

/// `[http]`: the listener serving `/metrics`, `/health` and `/ready` while `pgcdc run` runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Default `true`.
    pub enabled: bool,
    /// `IP:port` to listen on. A string so that `${VAR}` can set it. Default `127.0.0.1:8080`
    /// (loopback: a sidecar's probes and scrapes come from the same host or pod).
    pub listen: String,
    /// After a definite error stops the connectors, keep serving (`/health` live, `/ready`
    /// 503 with the error) until SIGTERM, so that probes and scrapes see why; `false` exits
    /// at once. Default `true`.
    pub stay_up_after_failure: bool,
}

pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8080";

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            enabled: true,
            listen: DEFAULT_HTTP_LISTEN.to_string(),
            stay_up_after_failure: true,
        }
    }
}

impl HttpConfig {
    /// The address to bind; `validate` made sure it parses.
    pub fn addr(&self) -> Result<SocketAddr, std::net::AddrParseError> {
        self.listen.parse()
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter (`info`, `pgcdc=debug,info`); `RUST_LOG` overrides it. Default `info`.
    pub level: String,
    /// Default `text`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".to_string(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl ProcessConfig {
    /// Reads, interpolates, deserializes and validates a process config file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(path, &parse::process_env)
    }

    pub fn load_with_env(path: impl AsRef<Path>, env: EnvLookup<'_>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = parse::read(path)?;
        Self::from_toml(path, &text, env)
    }

    /// Like [`ProcessConfig::load`] on text already read; `file` is only used in errors.
    pub fn from_toml(file: &Path, text: &str, env: EnvLookup<'_>) -> Result<Self, ConfigError> {
        let config: ProcessConfig = parse::parse(file, text, env)?;
        config.validate().map_err(|v| v.in_text(file, text))?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), Violation> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(Violation::new(
                "data_dir",
                "must not be empty (it holds the offsets files)",
            ));
        }
        if let Err(e) = self.http.addr() {
            return Err(Violation::new(
                "http.listen",
                format!(
                    "{:?} must be an IP address and port such as \"127.0.0.1:8080\" or \"0.0.0.0:8080\" ({e})",
                    self.http.listen
                ),
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return Err(Violation::new(
                "log.level",
                format!("must be a tracing filter such as \"info\" or \"pgcdc=debug,info\" ({e})"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = ProcessConfig::from_toml(Path::new("p.toml"), "", &no_env).unwrap();
        assert_eq!(c, ProcessConfig::default());
        assert_eq!(c.data_dir, PathBuf::from("data"));
        assert_eq!(c.log.format, LogFormat::Text);
        assert!(c.http.enabled);
        assert_eq!(c.http.addr().unwrap().to_string(), DEFAULT_HTTP_LISTEN);
    }

    #[test]
    fn http_section_parses_and_checks_the_address() {
        let c = ProcessConfig::from_toml(
            Path::new("p.toml"),
            "[http]\nenabled = false\nlisten = \"0.0.0.0:9100\"\nstay_up_after_failure = false\n",
            &no_env,
        )
        .unwrap();
        assert!(!c.http.enabled && !c.http.stay_up_after_failure);
        assert_eq!(c.http.addr().unwrap().port(), 9100);
        let e = ProcessConfig::from_toml(
            Path::new("conf/p.toml"),
            "[http]\nlisten = \"localhost\"\n",
            &no_env,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("conf/p.toml"), "{e}");
        assert!(
            e.contains("`http.listen`") && e.contains("IP address and port"),
            "{e}"
        );
        let e = ProcessConfig::from_toml(Path::new("p.toml"), "[http]\nport = 1\n", &no_env)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`http.port`") && e.contains("unknown field"),
            "{e}"
        );
    }

    #[test]
    fn parses_all_keys() {
        let c = ProcessConfig::from_toml(
            Path::new("p.toml"),
            "data_dir = \"/var/lib/pgcdc\"\n[log]\nlevel = \"debug\"\nformat = \"json\"\n",
            &no_env,
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/pgcdc"));
        assert_eq!(c.log.level, "debug");
        assert_eq!(c.log.format, LogFormat::Json);
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let e =
            ProcessConfig::from_toml(Path::new("conf/p.toml"), "[log]\nlevl = \"x\"\n", &no_env)
                .unwrap_err()
                .to_string();
        assert!(e.starts_with("conf/p.toml:2:"), "{e}");
        assert!(e.contains("`log.levl`"), "{e}");
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn bad_log_format_and_level_are_rejected() {
        let e = ProcessConfig::from_toml(Path::new("p.toml"), "[log]\nformat = \"xml\"\n", &no_env)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`log.format`") && e.contains("unknown variant"),
            "{e}"
        );
        let e =
            ProcessConfig::from_toml(Path::new("p.toml"), "[log]\nlevel = \"a=b=c\"\n", &no_env)
                .unwrap_err()
                .to_string();
        assert!(
            e.contains("`log.level`") && e.contains("tracing filter"),
            "{e}"
        );
    }
}
