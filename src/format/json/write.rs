//! JSON primitives written the way Jackson's UTF-8 generator writes them.

use base64::Engine;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Jackson's escaping: `"` and `\`, the short escapes \b \t \n \f \r, other control characters
/// as `\u00XX` (upper-case hex); everything else (including `/`, DEL and non-ASCII) verbatim.
#[inline]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Appends `s` as a JSON string. `s` must be UTF-8.
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        out.extend_from_slice(&s[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0C => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xF) as usize],
            ]),
        }
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
    out.push(b'"');
}

pub fn str(out: &mut Vec<u8>, s: &str) {
    string(out, s.as_bytes());
}

pub fn i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Standard base64 (with padding) as a JSON string, as Jackson writes `byte[]`.
pub fn base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let engine = &base64::engine::general_purpose::STANDARD;
    let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
    out.push(b'"');
    let start = out.len();
    out.resize(start + len, 0);
    let written = engine.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
    out.push(b'"');
}

pub fn bool(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(input: &str) -> String {
        let mut out = Vec::new();
        string(&mut out, input.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_jackson() {
        assert_eq!(
            s("héllo \"quoted\" \\ back\nslash"),
            r#""héllo \"quoted\" \\ back\nslash""#
        );
        assert_eq!(s("a/b"), r#""a/b""#);
        assert_eq!(s("\u{1}\u{1f}\u{7f}"), "\"\\u0001\\u001F\u{7f}\"");
        assert_eq!(s("\t\r\u{8}\u{c}"), r#""\t\r\b\f""#);
        assert_eq!(s("日本 \u{2028} 🎉"), "\"日本 \u{2028} 🎉\"");
        assert_eq!(s(""), r#""""#);
    }

    #[test]
    fn integers() {
        for v in [
            0i64,
            7,
            -7,
            10,
            i64::MAX,
            i64::MIN,
            9_223_372_036_825_200_000,
        ] {
            let mut out = Vec::new();
            i64(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
    }

    #[test]
    fn base64_standard_padded() {
        let cases: &[(&[u8], &str)] = &[
            (&[], "\"\""),
            (&[0], "\"AA==\""),
            (&[0xde, 0xad, 0xbe, 0xef], "\"3q2+7w==\""),
            (b"content", "\"Y29udGVudA==\""),
        ];
        for (input, want) in cases {
            let mut out = Vec::new();
            base64(&mut out, input);
            assert_eq!(String::from_utf8(out).unwrap(), *want);
        }
    }
}
