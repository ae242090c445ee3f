//! Configuration errors.
//!
//! Every variant names the file it came from and, where one exists, the dotted key
//! (`slot.name`, `sink.properties.acks`) so that a user can go straight to the offending line.

use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read file: {source}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{}:{line}:{column}: invalid TOML: {message}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// Unknown keys, wrong value types and unknown enum variants, as reported by serde.
    #[error("{}{}: `{key}`: {message}", file.display(), LineSuffix(*line))]
    Schema {
        file: PathBuf,
        key: String,
        line: Option<usize>,
        message: String,
    },

    #[error(
        "{}: `{key}`: environment variable {var} is not set; export it, or give a default \
         with ${{{var}:-default}}",
        file.display()
    )]
    MissingEnv {
        file: PathBuf,
        key: String,
        var: String,
    },

    #[error("{}: `{key}`: {message}", file.display())]
    Interpolation {
        file: PathBuf,
        key: String,
        message: String,
    },

    /// A value that parsed but breaks a rule (`validate()`).
    #[error("{}{}: `{key}`: {rule}", file.display(), LineSuffix(*line))]
    Invalid {
        file: PathBuf,
        key: String,
        line: Option<usize>,
        rule: String,
    },

    #[error(
        "{}: `{key}` = {value:?} is already used by {}; {key} must be unique across connectors",
        file.display(),
        other.display()
    )]
    Duplicate {
        file: PathBuf,
        key: String,
        value: String,
        other: PathBuf,
    },

    #[error("{}: cannot list connector files: {source}", dir.display())]
    ReadDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{}: no connector files (*.toml) found; pass connector files or a directory holding them", dir.display())]
    NoConnectors { dir: PathBuf },
}

impl ConfigError {
    /// The file the error is about.
    pub fn file(&self) -> &std::path::Path {
        match self {
            ConfigError::Read { file, .. }
            | ConfigError::Syntax { file, .. }
            | ConfigError::Schema { file, .. }
            | ConfigError::MissingEnv { file, .. }
            | ConfigError::Interpolation { file, .. }
            | ConfigError::Invalid { file, .. }
            | ConfigError::Duplicate { file, .. } => file,
            ConfigError::ReadDir { dir, .. } | ConfigError::NoConnectors { dir } => dir,
        }
    }
}

/// A broken rule found by `validate()`, before the file name is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub key: String,
    pub rule: String,
}

impl Violation {
    pub fn new(key: impl Into<String>, rule: impl Into<String>) -> Self {
        Violation {
            key: key.into(),
            rule: rule.into(),
        }
    }

    pub fn in_file(self, file: impl Into<PathBuf>) -> ConfigError {
        ConfigError::Invalid {
            file: file.into(),
            key: self.key,
            line: None,
            rule: self.rule,
        }
    }

    /// Like [`Violation::in_file`], pointing at the key's line in `text` when it can be found.
    pub fn in_text(self, file: impl Into<PathBuf>, text: &str) -> ConfigError {
        let key = self.key.split('[').next().unwrap_or(&self.key);
        let line = super::parse::locate_key(text, key);
        ConfigError::Invalid {
            file: file.into(),
            line,
            key: self.key,
            rule: self.rule,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.key, self.rule)
    }
}

struct LineSuffix(Option<usize>);

impl fmt::Display for LineSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(line) => write!(f, ":{line}"),
            None => Ok(()),
        }
    }
}
