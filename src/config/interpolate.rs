//! `${VAR}` and `${VAR:-default}` substitution in string values.
//!
//! Substitution runs on the parsed TOML tree, never on the raw text, so a value such as a
//! password containing quotes cannot change the structure of the file. `$$` is a literal `$`;
//! a `$` not followed by `{` or `$` is kept as is, so passwords with a lone `$` need no escaping.

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolateError {
    /// `${VAR}` with VAR unset and no default.
    Missing(String),
    /// A malformed reference; the message says what is wrong.
    Malformed(String),
}

/// Replaces every reference in `input`, looking variables up with `lookup`.
///
/// As in POSIX shells, `${VAR:-default}` uses the default when VAR is unset *or empty*.
pub fn interpolate(
    input: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolateError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let end = body_and_tail.find('}').ok_or_else(|| {
                InterpolateError::Malformed(format!(
                    "unterminated `${{` in {input:?}; close it with `}}` or write `$$` for a literal `$`"
                ))
            })?;
            out.push_str(&resolve(&body_and_tail[..end], lookup)?);
            rest = &body_and_tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve(
    body: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolateError> {
    let (name, default) = match body.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (body, None),
    };
    if !is_var_name(name) {
        return Err(InterpolateError::Malformed(format!(
            "`${{{body}}}` is not a valid reference; use ${{NAME}} or ${{NAME:-default}} with NAME \
             made of letters, digits and _ (not starting with a digit)"
        )));
    }
    match (lookup(name), default) {
        (Some(value), Some(default)) if value.is_empty() => Ok(default.to_string()),
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_string()),
        (None, None) => Err(InterpolateError::Missing(name.to_string())),
    }
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// An error found while walking a TOML tree, with the dotted key of the offending string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeError {
    pub key: String,
    pub error: InterpolateError,
}

/// Interpolates every string value (not keys) of a TOML table in place.
pub fn interpolate_table(
    table: &mut toml::Table,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), TreeError> {
    walk_table(table, "", lookup)
}

fn walk_table(
    table: &mut toml::Table,
    prefix: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), TreeError> {
    for (key, value) in table.iter_mut() {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        walk_value(value, &path, lookup)?;
    }
    Ok(())
}

fn walk_value(
    value: &mut toml::Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), TreeError> {
    match value {
        toml::Value::String(s) => {
            *s = interpolate(s, lookup).map_err(|error| TreeError {
                key: path.to_string(),
                error,
            })?;
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk_value(item, &format!("{path}[{i}]"), lookup)?;
            }
        }
        toml::Value::Table(table) => walk_table(table, path, lookup)?,
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.internal".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn run(s: &str) -> Result<String, InterpolateError> {
        interpolate(s, &env)
    }

    #[test]
    fn substitutes_set_variables_and_defaults() {
        assert_eq!(run("${HOST}:5432").unwrap(), "db.internal:5432");
        assert_eq!(run("${UNSET:-127.0.0.1}").unwrap(), "127.0.0.1");
        assert_eq!(run("${HOST:-x}").unwrap(), "db.internal");
        assert_eq!(run("${EMPTY:-fallback}").unwrap(), "fallback");
        assert_eq!(run("${EMPTY}").unwrap(), "");
        assert_eq!(run("${UNSET:-}").unwrap(), "");
        assert_eq!(
            run("a${HOST}b${HOST}c").unwrap(),
            "adb.internalbdb.internalc"
        );
    }

    #[test]
    fn dollar_escapes_and_lone_dollars_are_kept() {
        assert_eq!(run("pa$$word").unwrap(), "pa$word");
        assert_eq!(run("$${HOST}").unwrap(), "${HOST}");
        assert_eq!(run("cost$5 and $").unwrap(), "cost$5 and $");
    }

    #[test]
    fn missing_variable_without_default_is_named() {
        assert_eq!(
            run("x${NOPE}"),
            Err(InterpolateError::Missing("NOPE".into()))
        );
    }

    #[test]
    fn malformed_references_are_rejected() {
        assert!(
            matches!(run("${HOST"), Err(InterpolateError::Malformed(m)) if m.contains("unterminated"))
        );
        assert!(matches!(run("${}"), Err(InterpolateError::Malformed(_))));
        assert!(matches!(run("${1X}"), Err(InterpolateError::Malformed(_))));
        assert!(matches!(run("${A-B}"), Err(InterpolateError::Malformed(_))));
    }

    #[test]
    fn tree_walk_reports_the_dotted_key_and_leaves_keys_alone() {
        let mut t: toml::Table = toml::from_str(
            "[a]\nb = \"${HOST}\"\nlist = [\"x\", \"${HOST}\"]\n\"${HOST}\" = 1\n[c]\nd = \"${NOPE}\"\n",
        )
        .unwrap();
        let err = interpolate_table(&mut t, &env).unwrap_err();
        assert_eq!(err.key, "c.d");
        assert_eq!(err.error, InterpolateError::Missing("NOPE".into()));

        let mut t: toml::Table =
            toml::from_str("[a]\nb = \"${HOST}\"\nlist = [\"x\", \"${HOST}\"]\n\"${HOST}\" = 1\n")
                .unwrap();
        interpolate_table(&mut t, &env).unwrap();
        assert_eq!(t["a"]["b"].as_str(), Some("db.internal"));
        assert_eq!(t["a"]["list"][1].as_str(), Some("db.internal"));
        assert!(t["a"].get("${HOST}").is_some());
    }
}
