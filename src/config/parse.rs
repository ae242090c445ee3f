//! From file text to a typed section struct: TOML syntax, `${ENV}` interpolation, then serde
//! with the dotted path of whatever failed.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::error::ConfigError;
use super::interpolate::{interpolate_table, InterpolateError};

/// Looks up an environment variable; injectable so tests need not touch the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, treating non-UTF-8 values as unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

pub fn read(file: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
        file: file.to_path_buf(),
        source,
    })
}

/// Parses, interpolates and deserializes `text`, attributing every error to `file`.
pub fn parse<T: DeserializeOwned>(
    file: &Path,
    text: &str,
    env: EnvLookup<'_>,
) -> Result<T, ConfigError> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| {
        let (line, column) = e
            .span()
            .map(|span| line_col(text, span.start))
            .unwrap_or((1, 1));
        ConfigError::Syntax {
            file: file.to_path_buf(),
            line,
            column,
            message: one_line(e.message()),
        }
    })?;

    interpolate_table(&mut table, env).map_err(|e| match e.error {
        InterpolateError::Missing(var) => ConfigError::MissingEnv {
            file: file.to_path_buf(),
            key: e.key,
            var,
        },
        InterpolateError::Malformed(message) => ConfigError::Interpolation {
            file: file.to_path_buf(),
            key: e.key,
            message,
        },
    })?;

    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let mut message = one_line(e.inner().message());
        if message.ends_with("expected a duration") {
            message.push_str(" such as \"10s\", \"500ms\" or \"1m 30s\"");
        }
        let mut path = e.path().to_string();
        // A section chosen by `type` reports the path inside it in the message.
        if let Some((inner, rest)) = super::tagged::unnest(&message.clone()) {
            path = format!("{path}.{inner}");
            message = rest.to_string();
        }
        let key = error_key(&path, &message);
        ConfigError::Schema {
            file: file.to_path_buf(),
            line: locate_key(text, &key),
            key,
            message,
        }
    })
}

/// The dotted key an error is about. For an unknown field the path may stop at the parent
/// table; the field name is in serde's message, so make sure the key ends with it.
fn error_key(path: &str, message: &str) -> String {
    let path = if path == "." { "" } else { path };
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    match unknown {
        Some(field) if path == field || path.ends_with(&format!(".{field}")) => path.to_string(),
        Some(field) if path.is_empty() => field.to_string(),
        Some(field) => format!("{path}.{field}"),
        None if path.is_empty() => "(top level)".to_string(),
        None => path.to_string(),
    }
}

/// Collapses a multi-line message (regex and TOML errors draw pictures) into one line.
pub(crate) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Best-effort line of `key` (dotted) in the original text, for `[table]` headers and
/// `key = value` lines. Interpolation rebuilt the tree, so serde's own spans are gone.
pub(crate) fn locate_key(text: &str, key: &str) -> Option<usize> {
    let mut table = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_start_matches('[');
            let name = header.split(']').next().unwrap_or("").trim();
            table = unquote_dotted(name);
            if table == key {
                return Some(i + 1);
            }
            continue;
        }
        let Some((lhs, _)) = line.split_once('=') else {
            continue;
        };
        let lhs = unquote_dotted(lhs.trim());
        let full = if table.is_empty() {
            lhs
        } else {
            format!("{table}.{lhs}")
        };
        if full == key {
            return Some(i + 1);
        }
    }
    None
}

fn unquote_dotted(key: &str) -> String {
    let mut out = Vec::new();
    let mut rest = key.trim();
    while !rest.is_empty() {
        let (part, tail) =
            if let Some(q) = rest.strip_prefix('"').or_else(|| rest.strip_prefix('\'')) {
                let end = q.find(['"', '\'']).unwrap_or(q.len());
                (&q[..end], q.get(end + 1..).unwrap_or(""))
            } else {
                let end = rest.find('.').unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            };
        out.push(part.trim().to_string());
        rest = tail.trim_start().trim_start_matches('.').trim_start();
    }
    out.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_is_one_based() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn locate_key_follows_table_headers_and_quoted_keys() {
        let text =
            "name = \"x\"\n[slot]\nname = \"a\"\n\n[sink.properties]\n\"linger.ms\" = \"5\"\n";
        assert_eq!(locate_key(text, "name"), Some(1));
        assert_eq!(locate_key(text, "slot.name"), Some(3));
        assert_eq!(locate_key(text, "sink.properties.linger.ms"), Some(6));
        assert_eq!(locate_key(text, "slot.missing"), None);
    }

    #[test]
    fn error_key_appends_unknown_field_to_parent() {
        assert_eq!(
            error_key("slot", "unknown field `nme`, expected `name`"),
            "slot.nme"
        );
        assert_eq!(
            error_key("slot.nme", "unknown field `nme`, expected `name`"),
            "slot.nme"
        );
        assert_eq!(error_key(".", "unknown field `x`, expected one of"), "x");
        assert_eq!(error_key("slot.name", "invalid type"), "slot.name");
    }
}
