//! Tracing setup: `RUST_LOG` wins over `[log] level`; logs go to stderr.

use std::io::IsTerminal;

use pgcdc::config::{LogConfig, LogFormat};
use tracing_subscriber::EnvFilter;

pub fn init(config: &LogConfig) {
    let (filter, bad_env) = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => match EnvFilter::try_new(&value) {
            Ok(filter) => (filter, None),
            Err(e) => (config_filter(config), Some(format!("{value:?}: {e}"))),
        },
        _ => (config_filter(config), None),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (only possible in tests) keeps the first subscriber.
    let _ = match config.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
    if let Some(why) = bad_env {
        tracing::warn!(rust_log = %why, "ignoring invalid RUST_LOG, using log.level");
    }
}

fn config_filter(config: &LogConfig) -> EnvFilter {
    // ProcessConfig::validate already checked the level parses.
    EnvFilter::try_new(&config.level).unwrap_or_else(|_| EnvFilter::new("info"))
}
