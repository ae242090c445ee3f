//! Column masking and truncation: Debezium's `column.truncate.to.<N>.chars`,
//! `column.mask.with.<N>.chars` and `column.mask.hash[.v2].<algorithm>.with.salt.<salt>`.
//!
//! Rules match `schema.table.column` (anchored, case-insensitive) and are tried in the order
//! truncate, mask, hash; the first match decides, as Debezium's column mappers do. They apply
//! to converted row values (`before`/`after`), not to keys, whose values and schemas stay as
//! they are (key changes are detected on the real values). What Debezium 3.6.3 does, and this
//! follows (checked by tests/oracle_diff.rs):
//!
//! - truncate: only when the column's declared length is unknown or longer than N; then the
//!   field schema gets parameter `truncateLength` = N and longer strings (in UTF-16 code units,
//!   like Java's `substring`) or byte arrays are cut.
//! - mask: the field schema gets `masked` = `true`; values of character columns (text,
//!   varchar, char, "char", name) become N `*`, null included; other columns keep theirs.
//! - hash: `masked` = `true` too; non-null values of character columns become the lowercase
//!   hex digest (MD5, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512) of salt + value bytes
//!   (v1: the value as Java serializes a `String`; v2: its UTF-8 bytes), cut to the column's
//!   declared length when it has one.

use regex::Regex;
use ring::digest;

use super::schema::Schema;
use super::value::Value;
use crate::config::filter::{anchored, pattern_texts};
use crate::config::{ColumnRules, HashAlgorithm, Rule};
use bytes::Bytes;

/// The digest of `parts`, concatenated.
fn digest(algorithm: HashAlgorithm, parts: &[&[u8]]) -> Vec<u8> {
    // ring has neither MD5 nor SHA-224; the RustCrypto crates (already behind
    // postgres-protocol's SCRAM and MD5 authentication) have.
    fn rust_crypto<D: sha2::Digest>(parts: &[&[u8]]) -> Vec<u8> {
        let mut d = D::new();
        for p in parts {
            d.update(p);
        }
        d.finalize().to_vec()
    }
    let ring_alg = match algorithm {
        HashAlgorithm::Md5 => return rust_crypto::<md5::Md5>(parts),
        HashAlgorithm::Sha224 => return rust_crypto::<sha2::Sha224>(parts),
        HashAlgorithm::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        HashAlgorithm::Sha256 => &digest::SHA256,
        HashAlgorithm::Sha384 => &digest::SHA384,
        HashAlgorithm::Sha512 => &digest::SHA512,
    };
    let mut ctx = digest::Context::new(ring_alg);
    for p in parts {
        ctx.update(p);
    }
    ctx.finish().as_ref().to_vec()
}

/// The compiled rules of a connector.
#[derive(Debug, Clone, Default)]
pub struct ColumnMasks {
    rules: Vec<(Vec<Regex>, Rule)>,
    /// Source-type propagation, which Debezium tries before the rules above.
    propagation: super::propagate::Propagation,
}

impl PartialEq for ColumnMasks {
    fn eq(&self, other: &Self) -> bool {
        use pattern_texts as pats;
        self.rules.len() == other.rules.len()
            && self
                .rules
                .iter()
                .zip(&other.rules)
                .all(|((a, ra), (b, rb))| pats(a) == pats(b) && ra == rb)
            && self.propagation == other.propagation
    }
}

impl Eq for ColumnMasks {}

/// A rule as applied to one column (after looking at its type).
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnMapper {
    Truncate(usize),
    /// The constant every value becomes.
    Mask(Bytes),
    Hash {
        algorithm: HashAlgorithm,
        salt: Vec<u8>,
        v2: bool,
        /// The column's declared length, when it has one.
        cut_to: Option<usize>,
    },
}

impl ColumnMasks {
    /// Adds a rule; rules must be added truncate first, then mask, then hash. The error is the
    /// index of the bad pattern and the regex error.
    pub fn add(&mut self, columns: &[String], rule: Rule) -> Result<(), (usize, String)> {
        self.rules.push((anchored(columns)?, rule));
        Ok(())
    }

    /// The masks of a validated `[columns]` section.
    pub fn from_rules(rules: ColumnRules) -> Self {
        ColumnMasks {
            rules: rules.rules,
            propagation: super::propagate::Propagation::from_patterns(
                rules.propagate_columns,
                rules.propagate_datatypes,
            ),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.propagation.is_empty()
    }

    /// `column.propagate.source.type` / `datatype.propagate.source.type`.
    pub fn set_propagation(&mut self, p: super::propagate::Propagation) {
        self.propagation = p;
    }

    /// The field schema with the source-type parameters, when a propagation rule matches the
    /// column (no masking rule applies to it then).
    pub fn propagate(
        &self,
        column: &super::propagate::SourceColumn<'_>,
        field: &Schema,
    ) -> Option<Schema> {
        self.propagation.apply(column, field)
    }

    /// The mapper for a column, and the field schema altered as Debezium does.
    pub fn for_column(
        &self,
        schema: &str,
        table: &str,
        column: &str,
        type_oid: u32,
        type_modifier: i32,
        field: Schema,
    ) -> (Option<ColumnMapper>, Schema) {
        if self.rules.is_empty() {
            return (None, field);
        }
        let name = format!("{schema}.{table}.{column}");
        let Some((_, rule)) = self
            .rules
            .iter()
            .find(|(res, _)| res.iter().any(|r| r.is_match(&name)))
        else {
            return (None, field);
        };
        let length = declared_length(type_oid, type_modifier);
        let character = is_character_type(type_oid);
        match rule {
            Rule::Truncate(n) => {
                if length.is_some_and(|l| l <= *n as i64) {
                    (None, field)
                } else {
                    (
                        Some(ColumnMapper::Truncate(*n)),
                        field.param("truncateLength", n.to_string()),
                    )
                }
            }
            Rule::Mask(n) => {
                let field = field.param("masked", "true");
                if character {
                    (Some(ColumnMapper::Mask(Bytes::from("*".repeat(*n)))), field)
                } else {
                    (None, field)
                }
            }
            Rule::Hash {
                algorithm,
                salt,
                v2,
            } => {
                let field = field.param("masked", "true");
                if character {
                    let cut_to = length.filter(|l| *l > 0).map(|l| l as usize);
                    let m = ColumnMapper::Hash {
                        algorithm: *algorithm,
                        salt: salt.clone(),
                        v2: *v2,
                        cut_to,
                    };
                    (Some(m), field)
                } else {
                    (None, field)
                }
            }
        }
    }
}

impl ColumnMapper {
    pub fn apply(&self, v: Value) -> Value {
        match self {
            ColumnMapper::Mask(m) => Value::Text(m.clone()),
            ColumnMapper::Truncate(n) => match v {
                Value::Text(b) => Value::Text(cut_utf16(b, *n)),
                Value::Short(s) => {
                    Value::Text(cut_utf16(Bytes::copy_from_slice(s.as_str().as_bytes()), *n))
                }
                Value::Bytes(b) if b.len() > *n => Value::Bytes(b.slice(..*n)),
                v => v,
            },
            ColumnMapper::Hash {
                algorithm,
                salt,
                v2,
                cut_to,
            } => {
                let text: &str = match &v {
                    Value::Text(b) => std::str::from_utf8(b).unwrap_or_default(),
                    Value::Short(s) => s.as_str(),
                    Value::Null => return Value::Null,
                    _ => return v,
                };
                let serialized;
                let value: &[u8] = if *v2 {
                    text.as_bytes()
                } else {
                    serialized = java_serialized_string(text);
                    &serialized
                };
                let mut hex = String::with_capacity(128);
                for b in digest(*algorithm, &[salt, value]) {
                    hex.push_str(&format!("{b:02x}"));
                }
                if let Some(n) = cut_to {
                    hex.truncate(*n);
                }
                Value::Text(Bytes::from(hex))
            }
        }
    }
}

/// The first `n` UTF-16 code units of a UTF-8 string (Java's `substring(0, n)`); a surrogate
/// pair cut in half loses its first half too, since UTF-8 cannot hold a lone surrogate.
fn cut_utf16(b: Bytes, n: usize) -> Bytes {
    let Ok(s) = std::str::from_utf8(&b) else {
        return b;
    };
    let mut units = 0;
    for (i, c) in s.char_indices() {
        if units + c.len_utf16() > n {
            return b.slice(..i);
        }
        units += c.len_utf16();
    }
    b
}

/// A `String` as `ObjectOutputStream.writeObject` writes it into a fresh stream: the stream
/// header, then `TC_STRING` with a 16-bit length (or `TC_LONGSTRING` with a 64-bit one) and
/// the modified UTF-8 bytes.
fn java_serialized_string(s: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(s.len() + 8);
    for u in s.encode_utf16() {
        match u {
            0x0001..=0x007F => body.push(u as u8),
            0x0000 | 0x0080..=0x07FF => {
                body.push(0xC0 | ((u >> 6) & 0x1F) as u8);
                body.push(0x80 | (u & 0x3F) as u8);
            }
            _ => {
                body.push(0xE0 | ((u >> 12) & 0x0F) as u8);
                body.push(0x80 | ((u >> 6) & 0x3F) as u8);
                body.push(0x80 | (u & 0x3F) as u8);
            }
        }
    }
    let mut out = vec![0xAC, 0xED, 0x00, 0x05];
    if body.len() <= 0xFFFF {
        out.push(0x74);
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    } else {
        out.push(0x7C);
        out.extend_from_slice(&(body.len() as u64).to_be_bytes());
    }
    out.extend_from_slice(&body);
    out
}

/// Character types (JDBC CHAR/VARCHAR in the PostgreSQL driver): the ones masks apply to.
fn is_character_type(oid: u32) -> bool {
    matches!(oid, 25 | 1043 | 1042 | 18 | 19)
}

/// The column length Debezium sees (the JDBC column size); `None` when unbounded.
fn declared_length(oid: u32, typmod: i32) -> Option<i64> {
    match oid {
        1043 | 1042 if typmod >= 4 => Some(i64::from(typmod) - 4),
        18 | 16 => Some(1),
        19 => Some(63),
        21 => Some(5),
        23 | 26 => Some(10),
        20 => Some(19),
        700 => Some(8),
        701 => Some(17),
        1082 => Some(13),
        1700 if typmod >= 4 => Some(i64::from(((typmod - 4) >> 16) & 0xFFFF)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::schema::SchemaType;

    fn masks(rule: Rule, cols: &[&str]) -> ColumnMasks {
        let mut m = ColumnMasks::default();
        let cols: Vec<String> = cols.iter().map(|c| c.to_string()).collect();
        m.add(&cols, rule).unwrap();
        m
    }

    fn text(s: &str) -> Value {
        Value::Text(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn string_schema() -> Schema {
        Schema::new(SchemaType::String).optional(true)
    }

    #[test]
    fn truncate_counts_utf16_units_and_marks_the_schema() {
        let m = masks(Rule::Truncate(3), &["s\\.t\\.c"]);
        let (mapper, schema) = m.for_column("s", "t", "c", 25, -1, string_schema());
        let mapper = mapper.unwrap();
        assert_eq!(schema.parameters[0].1, "3");
        assert_eq!(mapper.apply(text("abcdef")), text("abc"));
        assert_eq!(mapper.apply(text("héllo")), text("hél"));
        // U+1F600 is two UTF-16 units.
        assert_eq!(mapper.apply(text("a\u{1F600}b")), text("a\u{1F600}"));
        assert_eq!(mapper.apply(text("ab")), text("ab"));
        assert_eq!(mapper.apply(Value::Null), Value::Null);
        assert_eq!(
            mapper.apply(Value::Bytes(Bytes::from_static(b"12345"))),
            Value::Bytes(Bytes::from_static(b"123"))
        );
        // varchar(3) cannot be longer: nothing to do, schema untouched.
        let (none, schema) = m.for_column("s", "t", "c", 1043, 7, string_schema());
        assert!(none.is_none());
        assert!(schema.parameters.is_empty());
        // Other columns are not matched.
        assert!(m
            .for_column("s", "t", "d", 25, -1, string_schema())
            .0
            .is_none());
    }

    #[test]
    fn mask_replaces_character_values_null_included() {
        let m = masks(Rule::Mask(4), &["s\\.t\\..*"]);
        let (mapper, schema) = m.for_column("s", "t", "c", 1043, 24, string_schema());
        assert_eq!(schema.parameters[0].0, "masked");
        let mapper = mapper.unwrap();
        assert_eq!(mapper.apply(text("secret")), text("****"));
        assert_eq!(mapper.apply(Value::Null), text("****"));
        // An int column only gets the schema parameter.
        let (none, schema) = m.for_column("s", "t", "n", 23, -1, Schema::new(SchemaType::Int32));
        assert!(none.is_none());
        assert_eq!(schema.parameters.len(), 1);
    }

    #[test]
    fn java_serialization_of_strings() {
        let b = java_serialized_string("ab");
        assert_eq!(b, vec![0xAC, 0xED, 0, 5, 0x74, 0, 2, b'a', b'b']);
        // NUL and non-BMP characters in modified UTF-8.
        let b = java_serialized_string("\0\u{1F600}");
        assert_eq!(&b[5..7], &[0, 8]);
        assert_eq!(&b[7..9], &[0xC0, 0x80]);
        assert_eq!(&b[9..], &[0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80]);
        let long = "x".repeat(70_000);
        let b = java_serialized_string(&long);
        assert_eq!(b[4], 0x7C);
        assert_eq!(&b[5..13], &70_000u64.to_be_bytes());
    }

    #[test]
    fn hash_is_hex_of_salted_digest_cut_to_the_column_length() {
        let m = masks(
            Rule::Hash {
                algorithm: HashAlgorithm::Sha256,
                salt: b"salt".to_vec(),
                v2: true,
            },
            &["s\\.t\\.c"],
        );
        let (mapper, _) = m.for_column("s", "t", "c", 25, -1, string_schema());
        let v = mapper.unwrap().apply(text("hello"));
        let expected = digest::digest(&digest::SHA256, b"salthello");
        let hex: String = expected
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(v, text(&hex));
        let (mapper, _) = m.for_column("s", "t", "c", 1043, 14, string_schema());
        assert_eq!(mapper.unwrap().apply(text("hello")), text(&hex[..10]));
        assert_eq!(
            HashAlgorithm::from_java_name("sha-512"),
            Some(HashAlgorithm::Sha512)
        );
        assert_eq!(HashAlgorithm::from_java_name("MD2"), None);
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn md5_and_sha224_digests() {
        // RFC 1321 and FIPS 180-4 test vectors.
        let md5 = HashAlgorithm::from_java_name("md5").unwrap();
        assert_eq!(
            hex(&digest(md5, &[b"a", b"bc"])),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        let sha224 = HashAlgorithm::from_java_name("SHA-224").unwrap();
        assert_eq!(
            hex(&digest(sha224, &[b"abc"])),
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"
        );
        // What Debezium 3.6.3 emitted for `cit` under column.mask.hash.MD5.with.salt.s2 (v1:
        // the salt, then the Java serialization of the string).
        let m = masks(
            Rule::Hash {
                algorithm: md5,
                salt: b"s2".to_vec(),
                v2: false,
            },
            &["s\\.t\\.c"],
        );
        let (mapper, _) = m.for_column("s", "t", "c", 25, -1, string_schema());
        assert_eq!(
            mapper.unwrap().apply(text("cit")),
            text("d9b95721a7a537d294db55df6b59fd89")
        );
    }
}
