//! Loading several connectors at once and the rules that span files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::connector::ConnectorConfig;
use super::error::ConfigError;
use super::parse::{self, EnvLookup};
use super::process::ProcessConfig;

/// Expands files and directories into connector files: a directory contributes every
/// `*.toml` directly inside it, sorted by name; files are taken as given.
pub fn connector_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ConfigError> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|source| ConfigError::ReadDir {
            dir: path.clone(),
            source,
        })?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| ConfigError::ReadDir {
                dir: path.clone(),
                source,
            })?;
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "toml") && p.is_file() {
                found.push(p);
            }
        }
        if found.is_empty() {
            return Err(ConfigError::NoConnectors { dir: path.clone() });
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// Loads every connector named by `paths` (files or directories) and checks the cross-file
/// rules. Stops at the first error.
pub fn load_connectors(
    paths: &[PathBuf],
    process: &ProcessConfig,
) -> Result<Vec<ConnectorConfig>, ConfigError> {
    load_connectors_with_env(paths, process, &parse::process_env)
}

pub fn load_connectors_with_env(
    paths: &[PathBuf],
    process: &ProcessConfig,
    env: EnvLookup<'_>,
) -> Result<Vec<ConnectorConfig>, ConfigError> {
    let connectors = connector_files(paths)?
        .iter()
        .map(|file| ConnectorConfig::load_with_env(file, env))
        .collect::<Result<Vec<_>, _>>()?;
    check_unique(&connectors, process)?;
    Ok(connectors)
}

/// Two connectors may not share a name, a slot or an offsets file: a shared slot silently
/// loses changes (each consumer advances it past the other's unread WAL), and a shared offsets
/// file is overwritten by both.
pub fn check_unique(
    connectors: &[ConnectorConfig],
    process: &ProcessConfig,
) -> Result<(), ConfigError> {
    let mut names: HashMap<String, &Path> = HashMap::new();
    let mut slots: HashMap<String, &Path> = HashMap::new();
    let mut offsets: HashMap<PathBuf, &Path> = HashMap::new();
    for c in connectors {
        let dup = |key: &str, value: String, other: &Path| ConfigError::Duplicate {
            file: c.file.clone(),
            key: key.to_string(),
            value,
            other: other.to_path_buf(),
        };
        if let Some(other) = names.insert(c.name.clone(), &c.file) {
            return Err(dup("name", c.name.clone(), other));
        }
        if let Some(other) = slots.insert(c.slot.name.clone(), &c.file) {
            return Err(dup("slot.name", c.slot.name.clone(), other));
        }
        let path = c.offsets_path(process);
        if let Some(other) = offsets.insert(path.clone(), &c.file) {
            return Err(dup("offsets.path", path.display().to_string(), other));
        }
    }
    Ok(())
}
