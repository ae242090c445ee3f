//! Column defaults → the schema's `default`, the way Debezium's PostgreSQL connector derives
//! them from the catalog's default expression (`pg_get_expr(adbin, adrelid)`).
//!
//! Debezium does not evaluate expressions: it takes the literal of `'literal'::type` or a bare
//! literal, maps a few generated defaults to fixed values (`nextval(..)` → 0, `now()` and the
//! SQL date/time keywords → the epoch, other functions on text columns → `""`, anything on a
//! boolean column that is not `true` → false), and has no default for the types it cannot
//! map (variable-scale numeric, bytea, arrays, money, timetz, point). Each rule here was checked
//! against Debezium 3.6.3 by tests/oracle_diff.rs.

use bytes::Bytes;

use super::convert::{self, Conv};
use super::parse::temporal;
use super::value::Value;

/// SQL-standard date/time functions written without parentheses.
const TIME_KEYWORDS: &[&str] = &[
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "LOCALTIME",
    "LOCALTIMESTAMP",
];

/// What a default expression is, as far as Debezium tells them apart.
#[derive(Debug, PartialEq, Eq)]
enum Expr<'a> {
    /// `NULL` or `NULL::type`: no default.
    Null,
    /// A literal: the unquoted text of `'text'::type`, or a bare `42` / `1.5` / `true`.
    Literal(std::borrow::Cow<'a, str>),
    /// `nextval('seq'::regclass)`.
    Sequence,
    /// Anything computed: function calls, operators, SQL keywords.
    Generated,
}

fn classify(expr: &str) -> Expr<'_> {
    let e = expr.trim();
    if e == "NULL" || e.starts_with("NULL::") {
        return Expr::Null;
    }
    if e.starts_with("nextval(") {
        return Expr::Sequence;
    }
    if let Some(rest) = e.strip_prefix('\'') {
        // 'text' with '' for a quote, then `::type` casts and nothing else.
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if rest[i + 1..].starts_with('\'') {
                    out.push('\'');
                    chars.next();
                    continue;
                }
                let tail = &rest[i + 1..];
                // Only casts may follow (`::character varying`, `::integer[]`, `::"bit"`).
                let casts_only = tail.starts_with("::")
                    && !tail.contains(['\'', '(', '|', '+', '-', '*', '/', '<', '>', '=']);
                return if tail.is_empty() || casts_only {
                    Expr::Literal(out.into())
                } else {
                    Expr::Generated
                };
            }
            out.push(c);
        }
        return Expr::Generated;
    }
    if e.contains('(') || TIME_KEYWORDS.iter().any(|k| e.starts_with(k)) {
        return Expr::Generated;
    }
    // A bare literal, possibly with a cast (`42`, `1.50`, `true`, `42::bigint`).
    let literal = e.split("::").next().unwrap_or(e);
    if literal.is_empty() || literal.contains(' ') {
        return Expr::Generated;
    }
    Expr::Literal(literal.into())
}

/// The epoch in the column's representation, for `now()`-like defaults.
fn epoch(conv: &Conv) -> Option<Value> {
    Some(match conv {
        Conv::Date => Value::Int32(0),
        Conv::TimeMillis => Value::Int32(0),
        Conv::TimeMicros
        | Conv::TimestampMicros
        | Conv::TimestampMillis
        | Conv::TimeNanos
        | Conv::TimestampNanos => Value::Int64(0),
        Conv::IsoDate => Value::Short(temporal::format_iso_date(0)),
        Conv::IsoTime => Value::Short(temporal::format_iso_time(0)),
        Conv::IsoTimestamp => Value::Short(temporal::format_zoned_timestamp(
            temporal::Timestamp::from_micros(0),
            0,
        )),
        Conv::ZonedTimestamp { fraction } => Value::Short(temporal::format_zoned_timestamp(
            temporal::Timestamp::from_micros(0),
            *fraction,
        )),
        _ => return None,
    })
}

/// Types Debezium has no default value for.
fn never_has_default(conv: &Conv) -> bool {
    matches!(
        conv,
        Conv::VarDecimal
            | Conv::Bytea
            | Conv::Array(_)
            | Conv::Money { .. }
            | Conv::ZonedTime
            | Conv::Point
            | Conv::BytesText(_)
            | Conv::MoneyDouble { .. }
            | Conv::MoneyString { .. }
    )
}

/// The schema default of a column with converter `conv` and default expression `expr`, or
/// `None` when Debezium would leave the default out.
pub fn default_value(conv: &Conv, expr: &str) -> Option<Value> {
    if never_has_default(conv) {
        return None;
    }
    let class = classify(expr);
    match (conv, class) {
        (_, Expr::Null) => None,
        (Conv::Bool, Expr::Literal(t)) => Some(Value::Bool(t.eq_ignore_ascii_case("true"))),
        (Conv::Bool, _) => Some(Value::Bool(false)),
        (Conv::Int16, Expr::Sequence) => Some(Value::Int16(0)),
        (Conv::Int32, Expr::Sequence) => Some(Value::Int32(0)),
        (Conv::Int64, Expr::Sequence) => Some(Value::Int64(0)),
        (Conv::Text, Expr::Generated | Expr::Sequence) => Some(Value::from_static("")),
        (_, Expr::Generated) => epoch(conv),
        (_, Expr::Sequence) => None,
        (_, Expr::Literal(t)) => convert::convert(conv, &Bytes::copy_from_slice(t.as_bytes())).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::value::Unscaled;

    #[test]
    fn classifies_catalog_expressions() {
        assert_eq!(classify("42"), Expr::Literal("42".into()));
        assert_eq!(classify("'-1'::integer"), Expr::Literal("-1".into()));
        assert_eq!(
            classify("'a''b'::character varying"),
            Expr::Literal("a'b".into())
        );
        assert_eq!(classify("''::text"), Expr::Literal("".into()));
        assert_eq!(
            classify("'{1,2}'::integer[]"),
            Expr::Literal("{1,2}".into())
        );
        assert_eq!(classify("NULL::text"), Expr::Null);
        assert_eq!(classify("nextval('t_id_seq'::regclass)"), Expr::Sequence);
        assert_eq!(classify("now()"), Expr::Generated);
        assert_eq!(classify("CURRENT_DATE"), Expr::Generated);
        assert_eq!(classify("(1 + 2)"), Expr::Generated);
        assert_eq!(classify("md5('x'::text)"), Expr::Generated);
        assert_eq!(classify("'x'::text || 'y'::text"), Expr::Generated);
    }

    #[test]
    fn maps_like_debezium() {
        assert_eq!(default_value(&Conv::Int32, "42"), Some(Value::Int32(42)));
        assert_eq!(
            default_value(&Conv::Int32, "nextval('s'::regclass)"),
            Some(Value::Int32(0))
        );
        assert_eq!(default_value(&Conv::Int32, "(1 + 2)"), None);
        assert_eq!(
            default_value(&Conv::Bool, "(1 = 1)"),
            Some(Value::Bool(false))
        );
        assert_eq!(default_value(&Conv::Bool, "true"), Some(Value::Bool(true)));
        assert_eq!(
            default_value(&Conv::Text, "md5('x'::text)"),
            Some(Value::from_static(""))
        );
        assert_eq!(default_value(&Conv::Text, "NULL::text"), None);
        assert_eq!(
            default_value(&Conv::TimestampMicros, "now()"),
            Some(Value::Int64(0))
        );
        assert_eq!(
            default_value(&Conv::Date, "CURRENT_DATE"),
            Some(Value::Int32(0))
        );
        match default_value(&Conv::ZonedTimestamp { fraction: 6 }, "now()") {
            Some(Value::Short(s)) => assert_eq!(s.as_str(), "1970-01-01T00:00:00.000000Z"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            default_value(&Conv::Decimal { scale: 2 }, "'-1.5'::numeric"),
            Some(Value::Decimal(Unscaled::Small(-150)))
        );
        assert_eq!(default_value(&Conv::VarDecimal, "3.14"), None);
        assert_eq!(default_value(&Conv::Bytea, "'\\x0102'::bytea"), None);
        assert_eq!(
            default_value(&Conv::Array(Box::new(Conv::Int32)), "'{1,2}'::integer[]"),
            None
        );
        // A literal that does not convert has no default (Debezium logs and leaves it out).
        assert_eq!(default_value(&Conv::Int32, "'abc'::text"), None);
    }
}
