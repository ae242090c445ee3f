//! Geometric types other than point (line, lseg, box, path, polygon, circle) as Debezium
//! emits them with `include.unknown.datatypes`: pgjdbc parses them into its `PG*` objects
//! and Debezium takes the bytes of their `toString()`, which prints every number the way Java
//! prints a `double` (`1.0`, `1.0E-300`, `-0.0`, `NaN`) and keeps PostgreSQL's punctuation.

use super::{scalar, ParseErr};

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'<' | b'>' | b','
    )
}

/// The text with every number rewritten in Java's `Double.toString` form.
pub fn java_numbers(s: &[u8]) -> Result<Vec<u8>, ParseErr> {
    let mut out = Vec::with_capacity(s.len() + 16);
    let mut i = 0;
    while i < s.len() {
        if is_delimiter(s[i]) {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < s.len() && !is_delimiter(s[i]) {
            i += 1;
        }
        let v = scalar::parse_f64(s[start..i].trim_ascii())
            .map_err(|_| ParseErr("a geometric value like ((0,0),(1,1))"))?;
        if v.is_nan() {
            out.extend_from_slice(b"NaN");
        } else if v.is_infinite() {
            out.extend_from_slice(if v > 0.0 { b"Infinity" } else { b"-Infinity" });
        } else {
            crate::event::java_float::write_java_double(&mut out, v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(s: &str) -> String {
        String::from_utf8(java_numbers(s.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn numbers_in_java_form() {
        // What Debezium 3.6.3 emitted for these PostgreSQL values.
        assert_eq!(j("{1,-1,0}"), "{1.0,-1.0,0.0}");
        assert_eq!(j("[(0,0),(1,2.5)]"), "[(0.0,0.0),(1.0,2.5)]");
        assert_eq!(j("(3,4),(1,2)"), "(3.0,4.0),(1.0,2.0)");
        assert_eq!(j("<(1,2),3.5>"), "<(1.0,2.0),3.5>");
        assert_eq!(
            j("[(1e-300,-0),(NaN,Infinity)]"),
            "[(1.0E-300,-0.0),(NaN,Infinity)]"
        );
        assert!(java_numbers(b"((0,x))").is_err());
    }
}
