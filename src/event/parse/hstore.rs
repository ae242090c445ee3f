//! hstore text form (`"a"=>"1", "b"=>NULL`) and the order Debezium emits its entries in.
//!
//! Debezium reads an hstore through pgjdbc into a `java.util.HashMap` and writes the map
//! (or its Jackson JSON) in the map's iteration order: by hash bucket, then insertion order.
//! [`java_hash_map_order`] reproduces that order from the PostgreSQL output order.

use super::ParseErr;

const WHAT: &str = "an hstore like \"a\"=>\"1\", \"b\"=>NULL";

/// One entry: key and value (`None` for NULL).
pub type Entry = (String, Option<String>);

fn skip_spaces(s: &[u8], i: &mut usize) {
    while s.get(*i).is_some_and(|b| b.is_ascii_whitespace()) {
        *i += 1;
    }
}

/// A double-quoted string with `\` escapes, starting at `s[*i]`.
fn quoted(s: &[u8], i: &mut usize) -> Result<String, ParseErr> {
    if s.get(*i) != Some(&b'"') {
        return Err(ParseErr(WHAT));
    }
    *i += 1;
    let mut out = Vec::new();
    loop {
        match s.get(*i) {
            None => return Err(ParseErr(WHAT)),
            Some(b'"') => break,
            Some(b'\\') => {
                out.push(*s.get(*i + 1).ok_or(ParseErr(WHAT))?);
                *i += 2;
            }
            Some(&c) => {
                out.push(c);
                *i += 1;
            }
        }
    }
    *i += 1;
    String::from_utf8(out).map_err(|_| ParseErr("hstore text in UTF-8"))
}

/// Parses hstore output text into its entries, in output order.
pub fn parse_hstore(s: &[u8]) -> Result<Vec<Entry>, ParseErr> {
    let mut out = Vec::new();
    let mut i = 0;
    skip_spaces(s, &mut i);
    while i < s.len() {
        let key = quoted(s, &mut i)?;
        skip_spaces(s, &mut i);
        if !s[i..].starts_with(b"=>") {
            return Err(ParseErr(WHAT));
        }
        i += 2;
        skip_spaces(s, &mut i);
        let value = if s[i..].starts_with(b"NULL") {
            i += 4;
            None
        } else {
            Some(quoted(s, &mut i)?)
        };
        out.push((key, value));
        skip_spaces(s, &mut i);
        match s.get(i) {
            None => break,
            Some(b',') => {
                i += 1;
                skip_spaces(s, &mut i);
            }
            Some(_) => return Err(ParseErr(WHAT)),
        }
    }
    Ok(out)
}

/// Java's `String.hashCode` (over UTF-16 code units).
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
}

/// Reorders entries inserted in this order into a default `java.util.HashMap` the way the map
/// iterates them. Tree bins (more than 8 keys in one bucket of a 64+ table) are not modelled:
/// they would need colliding hashes PostgreSQL keys practically never have.
pub fn java_hash_map_order(entries: &mut [Entry]) {
    // Capacity 16, doubled whenever the size exceeds 3/4 of it.
    let mut capacity: usize = 16;
    while entries.len() > capacity / 4 * 3 {
        capacity *= 2;
    }
    let bucket = |k: &str| {
        let h = java_string_hash(k) as u32;
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    // A stable sort keeps insertion order within a bucket, as the bins' linked lists do.
    entries.sort_by_key(|(k, _)| bucket(k));
}

/// The map as Jackson writes it (`{"k":"v","n":null}`), entries in the given order.
pub fn to_json(entries: &[Entry]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k).unwrap_or_default());
        out.push(':');
        match v {
            Some(v) => out.push_str(&serde_json::to_string(v).unwrap_or_default()),
            None => out.push_str("null"),
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(k: &str, v: Option<&str>) -> Entry {
        (k.to_string(), v.map(str::to_string))
    }

    #[test]
    fn parses_output_text() {
        let got = parse_hstore(br#""a"=>"1", "b c"=>NULL, "q\"x"=>"v,w", "z"=>"x\\y""#).unwrap();
        assert_eq!(
            got,
            vec![
                e("a", Some("1")),
                e("b c", None),
                e("q\"x", Some("v,w")),
                e("z", Some("x\\y"))
            ]
        );
        assert!(parse_hstore(b"").unwrap().is_empty());
        assert!(parse_hstore(br#""a"=>"#).is_err());
        assert!(parse_hstore(br#""a"=>"1" "b"=>"2""#).is_err());
        assert!(parse_hstore(br#""a"#).is_err());
    }

    #[test]
    fn java_hashes() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        // Overflowing, and a non-BMP character counted as two UTF-16 units.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(java_string_hash("\u{1F418}"), 0xD83D * 31 + 0xDC18);
    }

    #[test]
    fn hash_map_order_matches_debezium() {
        // What Debezium 3.6.3 emitted for this hstore (17 keys: a 32-bucket table).
        let keys = [
            "a", "p", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "zz", "é", "k10",
            "k11", "k12", "k13",
        ];
        let mut entries: Vec<Entry> = keys.iter().map(|k| e(k, None)).collect();
        java_hash_map_order(&mut entries);
        let got: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            got,
            [
                "zz", "a", "k1", "k2", "k3", "k4", "é", "k5", "k11", "k6", "k10", "k7", "k13",
                "k8", "k12", "k9", "p"
            ]
        );
        // Two keys: p (bucket 0) before a (bucket 1), whatever the insertion order.
        let mut two = vec![e("a", None), e("p", None)];
        java_hash_map_order(&mut two);
        assert_eq!(two[0].0, "p");
    }

    #[test]
    fn json_like_jackson() {
        let v = vec![e("a", Some("1")), e("q\"x", None), e("é", Some("\\\n"))];
        assert_eq!(to_json(&v), r#"{"a":"1","q\"x":null,"é":"\\\n"}"#);
        assert_eq!(to_json(&[]), "{}");
    }
}
