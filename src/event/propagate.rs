//! `column.propagate.source.type` and `datatype.propagate.source.type`: schema parameters
//! naming a column's PostgreSQL type, length and scale (`__debezium.source.column.type`,
//! `.length`, `.scale`, `.name`), on value fields only, as Debezium 3.6.3 adds them.
//!
//! Column rules match `schema.table.column`, datatype rules `schema.table.typename` (anchored,
//! case-insensitive). Debezium consults these rules before the masking and truncation ones,
//! and the first matching rule of all decides: a propagated column is not masked.

use regex::Regex;

use super::schema::Schema;
use crate::config::filter::{anchored, pattern_texts};

/// The compiled rules.
#[derive(Debug, Clone, Default)]
pub struct Propagation {
    columns: Vec<Regex>,
    datatypes: Vec<Regex>,
}

impl PartialEq for Propagation {
    fn eq(&self, other: &Self) -> bool {
        use pattern_texts as pats;
        pats(&self.columns) == pats(&other.columns)
            && pats(&self.datatypes) == pats(&other.datatypes)
    }
}

impl Eq for Propagation {}

/// A column as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct SourceColumn<'a> {
    pub schema: &'a str,
    pub table: &'a str,
    pub column: &'a str,
    /// `pg_type.typname` of the column's own type (a domain's name, `_int4` for arrays).
    pub type_name: &'a str,
    /// The type length and scale are computed from: a domain's base type, an array's element.
    pub base_oid: u32,
    pub type_modifier: i32,
}

impl Propagation {
    /// The error is (true for the column list, index of the bad pattern, regex error).
    pub fn new(columns: &[String], datatypes: &[String]) -> Result<Self, (bool, usize, String)> {
        Ok(Propagation {
            columns: anchored(columns).map_err(|(i, e)| (true, i, e))?,
            datatypes: anchored(datatypes).map_err(|(i, e)| (false, i, e))?,
        })
    }

    /// Rules compiled by the configuration.
    pub fn from_patterns(columns: Vec<Regex>, datatypes: Vec<Regex>) -> Self {
        Propagation { columns, datatypes }
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty() && self.datatypes.is_empty()
    }

    pub fn matches(&self, c: &SourceColumn<'_>) -> bool {
        if self.is_empty() {
            return false;
        }
        let column = format!("{}.{}.{}", c.schema, c.table, c.column);
        let datatype = format!("{}.{}.{}", c.schema, c.table, c.type_name);
        self.columns.iter().any(|r| r.is_match(&column))
            || self.datatypes.iter().any(|r| r.is_match(&datatype))
    }

    /// `field` with the parameters added when a rule matches; `None` otherwise.
    pub fn apply(&self, c: &SourceColumn<'_>, field: &Schema) -> Option<Schema> {
        if !self.matches(c) {
            return None;
        }
        let (length, scale) = length_and_scale(c.base_oid, c.type_modifier);
        Some(
            field
                .clone()
                .param(
                    "__debezium.source.column.type",
                    c.type_name.to_ascii_uppercase(),
                )
                .param("__debezium.source.column.length", length.to_string())
                .param("__debezium.source.column.scale", scale.to_string())
                .param("__debezium.source.column.name", c.column),
        )
    }
}

/// pgjdbc's length for types without one.
const UNBOUNDED: i64 = i32::MAX as i64;

/// Digits of a time's fraction plus its point, as pgjdbc counts display sizes.
fn fraction_width(typmod: i32) -> i64 {
    match typmod {
        -1 => 7,
        0 => 0,
        t => i64::from(t) + 1,
    }
}

/// The length and scale Debezium reports for a type (pgjdbc's precision, or display size for
/// temporal types), as Debezium 3.6.3 emitted them for every type the oracle test covers.
pub fn length_and_scale(oid: u32, typmod: i32) -> (i64, i64) {
    let time_scale = if typmod < 0 { 6 } else { i64::from(typmod) };
    match oid {
        16 | 18 => (1, 0),
        20 => (19, 0),
        21 => (5, 0),
        23 | 26 => (10, 0),
        700 => (8, 8),
        701 => (17, 17),
        // Unconstrained numeric: PostgreSQL's maximum precision (131072 + 16383 digits ... as
        // Debezium reports it).
        1700 if typmod < 4 => (131_089, 0),
        1700 => {
            let t = typmod - 4;
            (i64::from((t >> 16) & 0xFFFF), i64::from(t & 0xFFFF))
        }
        1042 | 1043 if typmod >= 4 => (i64::from(typmod) - 4, 0),
        1560 => (i64::from(typmod.max(1)), 0),
        1562 if typmod >= 0 => (i64::from(typmod), 0),
        1082 => (13, 0),
        1083 => (8 + fraction_width(typmod), time_scale),
        1266 => (8 + fraction_width(typmod) + 6, time_scale),
        1114 => (22 + fraction_width(typmod), time_scale),
        1184 => (22 + fraction_width(typmod) + 6, time_scale),
        1186 => (
            49,
            if typmod < 0 {
                6
            } else {
                i64::from(typmod & 0xFFFF)
            },
        ),
        _ => (UNBOUNDED, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::schema::SchemaType;

    fn col<'a>(column: &'a str, type_name: &'a str, oid: u32, typmod: i32) -> SourceColumn<'a> {
        SourceColumn {
            schema: "public",
            table: "t",
            column,
            type_name,
            base_oid: oid,
            type_modifier: typmod,
        }
    }

    fn params(s: &Schema) -> Vec<(String, String)> {
        s.parameters
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn lengths_and_scales_as_debezium_reports_them() {
        // From Debezium 3.6.3's events.
        assert_eq!(length_and_scale(23, -1), (10, 0));
        assert_eq!(length_and_scale(1043, 24), (20, 0));
        assert_eq!(length_and_scale(1043, -1), (UNBOUNDED, 0));
        assert_eq!(length_and_scale(1700, (10 << 16 | 2) + 4), (10, 2));
        assert_eq!(length_and_scale(1700, -1), (131_089, 0));
        assert_eq!(length_and_scale(1083, -1), (15, 6));
        assert_eq!(length_and_scale(1083, 3), (12, 3));
        assert_eq!(length_and_scale(1266, -1), (21, 6));
        assert_eq!(length_and_scale(1114, -1), (29, 6));
        assert_eq!(length_and_scale(1114, 3), (26, 3));
        assert_eq!(length_and_scale(1184, -1), (35, 6));
        assert_eq!(length_and_scale(1186, -1), (49, 6));
        assert_eq!(length_and_scale(700, -1), (8, 8));
        assert_eq!(length_and_scale(1560, 3), (3, 0));
        assert_eq!(length_and_scale(1562, -1), (UNBOUNDED, 0));
        assert_eq!(length_and_scale(17, -1), (UNBOUNDED, 0));
    }

    #[test]
    fn column_and_datatype_rules() {
        let p = Propagation::new(&["public\\.t\\.c_.*".into()], &[".+\\.varchar".into()]).unwrap();
        let field = Schema::new(SchemaType::Int32).param("scale", "2");
        let out = p.apply(&col("c_int", "int4", 23, -1), &field).unwrap();
        assert_eq!(
            params(&out),
            [
                ("scale", "2"),
                ("__debezium.source.column.type", "INT4"),
                ("__debezium.source.column.length", "10"),
                ("__debezium.source.column.scale", "0"),
                ("__debezium.source.column.name", "c_int"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        // By datatype, case-insensitively.
        assert!(p.matches(&col("v", "VARCHAR", 1043, 24)));
        assert!(p.apply(&col("id", "int4", 23, -1), &field).is_none());
        assert!(Propagation::default()
            .apply(&col("c", "int4", 23, -1), &field)
            .is_none());
        assert!(!Propagation::new(&[], &["(".into()]).unwrap_err().0);
    }
}
