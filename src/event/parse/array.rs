//! PostgreSQL array text form (`{1,2,NULL}`, `{"a b","c\"d"}`, `{}`), one dimension.

use std::borrow::Cow;

use super::ParseErr;

const WHAT: &str = "a one-dimensional array like {1,2,NULL}";

/// One element: `None` for an unquoted NULL; borrowed when no unescaping was needed.
pub type Element<'a> = Option<Cow<'a, [u8]>>;

/// Splits array text into elements. `delim` is the element type's delimiter (`,` for all
/// everyday types). Multi-dimensional arrays are rejected: Connect arrays have one level.
pub fn parse_array(s: &[u8], delim: u8) -> Result<Vec<Element<'_>>, ParseErr> {
    let mut s = s;
    // Arrays with non-default lower bounds are printed as `[0:2]={...}`.
    if s.first() == Some(&b'[') {
        let eq = s.iter().position(|&b| b == b'=').ok_or(ParseErr(WHAT))?;
        s = &s[eq + 1..];
    }
    let inner = s
        .strip_prefix(b"{")
        .and_then(|r| r.strip_suffix(b"}"))
        .ok_or(ParseErr(WHAT))?;
    let mut out = Vec::new();
    if inner.is_empty() {
        return Ok(out);
    }
    let mut i = 0;
    loop {
        match inner.get(i) {
            Some(b'{') => {
                return Err(ParseErr(
                    "a one-dimensional array (multi-dimensional arrays are not supported)",
                ))
            }
            Some(b'"') => {
                i += 1;
                let start = i;
                let mut owned: Option<Vec<u8>> = None;
                loop {
                    match inner.get(i) {
                        None => return Err(ParseErr(WHAT)),
                        Some(b'"') => break,
                        Some(b'\\') => {
                            let buf = owned.get_or_insert_with(|| inner[start..i].to_vec());
                            let c = *inner.get(i + 1).ok_or(ParseErr(WHAT))?;
                            buf.push(c);
                            i += 2;
                        }
                        Some(&c) => {
                            if let Some(buf) = owned.as_mut() {
                                buf.push(c);
                            }
                            i += 1;
                        }
                    }
                }
                let elem = match owned {
                    Some(v) => Cow::Owned(v),
                    None => Cow::Borrowed(&inner[start..i]),
                };
                out.push(Some(elem));
                i += 1; // closing quote
            }
            _ => {
                let start = i;
                while i < inner.len() && inner[i] != delim {
                    i += 1;
                }
                let raw = &inner[start..i];
                if raw.is_empty() {
                    return Err(ParseErr(WHAT));
                }
                if raw.eq_ignore_ascii_case(b"NULL") {
                    out.push(None);
                } else {
                    out.push(Some(Cow::Borrowed(raw)));
                }
            }
        }
        match inner.get(i) {
            None => return Ok(out),
            Some(&c) if c == delim => i += 1,
            Some(_) => return Err(ParseErr(WHAT)),
        }
    }
}

/// For a multi-dimensional array (`{{1,2},{3,4}}`), the number of its outer elements;
/// `None` for a one-dimensional or malformed one.
pub fn outer_length_if_nested(s: &[u8]) -> Option<usize> {
    let mut s = s;
    if s.first() == Some(&b'[') {
        let eq = s.iter().position(|&b| b == b'=')?;
        s = &s[eq + 1..];
    }
    let inner = s.strip_prefix(b"{")?.strip_suffix(b"}")?;
    if inner.first() != Some(&b'{') {
        return None;
    }
    let (mut depth, mut quoted, mut escaped, mut n) = (0usize, false, false, 0usize);
    for &b in inner {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'{' if !quoted => {
                if depth == 0 {
                    n += 1;
                }
                depth += 1;
            }
            b'}' if !quoted => depth = depth.checked_sub(1)?,
            _ => {}
        }
    }
    (depth == 0 && !quoted).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outer_length_of_nested_arrays() {
        assert_eq!(outer_length_if_nested(b"{{1,2},{3,4}}"), Some(2));
        assert_eq!(
            outer_length_if_nested(br#"{{a,"}{"},{"c d",NULL},{x,y}}"#),
            Some(3)
        );
        assert_eq!(outer_length_if_nested(b"[1:1][1:2]={{1,2}}"), Some(1));
        assert_eq!(outer_length_if_nested(b"{1,2}"), None);
        assert_eq!(outer_length_if_nested(b"{}"), None);
        assert_eq!(outer_length_if_nested(b"{{1,2}"), None);
    }

    fn strs(v: Vec<Element<'_>>) -> Vec<Option<String>> {
        v.into_iter()
            .map(|e| e.map(|c| String::from_utf8(c.into_owned()).unwrap()))
            .collect()
    }

    #[test]
    fn plain_and_null() {
        assert_eq!(
            strs(parse_array(b"{1,2,NULL,4}", b',').unwrap()),
            vec![Some("1".into()), Some("2".into()), None, Some("4".into())]
        );
        assert!(parse_array(b"{}", b',').unwrap().is_empty());
    }

    #[test]
    fn quoted_and_escaped() {
        assert_eq!(
            strs(parse_array(br#"{"x","y z",NULL,"NULL","a\"b\\c",""}"#, b',').unwrap()),
            vec![
                Some("x".into()),
                Some("y z".into()),
                None,
                Some("NULL".into()),
                Some("a\"b\\c".into()),
                Some("".into())
            ]
        );
        assert_eq!(
            strs(parse_array("{héllo,\"ü,ß\"}".as_bytes(), b',').unwrap()),
            vec![Some("héllo".into()), Some("ü,ß".into())]
        );
    }

    #[test]
    fn bounds_prefix() {
        assert_eq!(
            strs(parse_array(b"[0:1]={7,8}", b',').unwrap()),
            vec![Some("7".into()), Some("8".into())]
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b""[..],
            b"{",
            b"1,2",
            b"{1,,2}",
            b"{\"a}",
            b"{{1,2},{3,4}}",
            b"{\"a\"b}",
            b"{1,}",
        ] {
            assert!(
                parse_array(bad, b',').is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
