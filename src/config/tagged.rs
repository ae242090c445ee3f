//! Sections chosen by a `type` key (`[sink]`, `[format]`). serde's own tagged enums buffer the
//! section and lose the path of an error inside it, so these read the section as a table,
//! take `type`, and deserialize the rest into the variant with the inner path kept: the error
//! line still names `sink.properties.linger.ms`, not just `sink`.

use serde::de::{DeserializeOwned, Error};

/// How a nested error carries its path out of the section to [`super::parse`].
pub(crate) const NESTED: &str = "at key `";

/// The section's `type` and the rest of its keys.
pub(crate) fn split<E: Error>(mut table: toml::Table) -> Result<(String, toml::Table), E> {
    let kind = match table.remove("type") {
        None => return Err(E::missing_field("type")),
        Some(toml::Value::String(s)) => s,
        Some(other) => {
            return Err(nested("type", format!("expected a string, got {other}")));
        }
    };
    Ok((kind, table))
}

/// A `type` that is none of `known`, reported at the `type` key.
pub(crate) fn unknown<T, E: Error>(kind: &str, known: &'static [&'static str]) -> Result<T, E> {
    Err(nested("type", E::unknown_variant(kind, known).to_string()))
}

/// The variant's settings from the rest of the section.
pub(crate) fn variant<T: DeserializeOwned, E: Error>(rest: toml::Table) -> Result<T, E> {
    serde_path_to_error::deserialize(toml::Value::Table(rest)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." {
            E::custom(inner)
        } else {
            nested(&path, inner)
        }
    })
}

fn nested<E: Error>(path: &str, message: String) -> E {
    E::custom(format!("{NESTED}{path}`: {message}"))
}

/// Splits a message made by [`nested`] into the inner path and the message.
pub(crate) fn unnest(message: &str) -> Option<(&str, &str)> {
    let rest = message.strip_prefix(NESTED)?;
    rest.split_once("`: ")
}
