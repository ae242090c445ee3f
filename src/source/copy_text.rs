//! COPY ... TO STDOUT in text format: splitting the byte stream into rows and fields, and
//! undoing COPY's backslash escapes.
//!
//! Each field, once unescaped, is exactly the type's output-function text, the same text
//! pgoutput sends for a column, so snapshot rows go through the same converters as streamed
//! ones. Rows end with `\n`; fields are separated by `\t`; a field `\N` is NULL; data tabs,
//! newlines and backslashes are always escaped, so raw ones are structure.

use bytes::{Buf, Bytes, BytesMut};

use crate::source::pgoutput::TupleValue;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CopyTextError {
    #[error("COPY text row ends with a lone backslash: {0:?}")]
    TrailingBackslash(String),
    #[error("COPY text output ended in the middle of a row ({0} bytes without a newline)")]
    UnterminatedRow(usize),
}

/// Collects COPY data chunks (which may split or join rows) into complete rows.
#[derive(Debug, Default)]
pub struct RowSplitter {
    partial: BytesMut,
}

impl RowSplitter {
    /// Appends the complete rows of `chunk` (without their `\n`) to `rows`; a trailing partial
    /// row is kept for the next chunk. Rows wholly inside a chunk are not copied.
    pub fn push(&mut self, mut chunk: Bytes, rows: &mut Vec<Bytes>) {
        if !self.partial.is_empty() {
            match chunk.iter().position(|&b| b == b'\n') {
                None => {
                    self.partial.extend_from_slice(&chunk);
                    return;
                }
                Some(i) => {
                    self.partial.extend_from_slice(&chunk[..i]);
                    rows.push(self.partial.split().freeze());
                    chunk.advance(i + 1);
                }
            }
        }
        while let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            let line = chunk.split_to(i + 1);
            rows.push(line.slice(..i));
        }
        self.partial.extend_from_slice(&chunk);
    }

    /// Call at the end of the data: an unterminated row means the output was cut short.
    pub fn finish(&self) -> Result<(), CopyTextError> {
        if self.partial.is_empty() {
            Ok(())
        } else {
            Err(CopyTextError::UnterminatedRow(self.partial.len()))
        }
    }
}

/// Splits one row (without its `\n`) into `columns` values, replacing `out`'s contents.
/// A field count other than `columns` is left for the caller to report (it knows the table).
pub fn parse_row(
    row: &Bytes,
    columns: usize,
    out: &mut Vec<TupleValue>,
) -> Result<(), CopyTextError> {
    out.clear();
    if columns == 0 && row.is_empty() {
        return Ok(());
    }
    let mut start = 0;
    loop {
        let end = row[start..]
            .iter()
            .position(|&b| b == b'\t')
            .map_or(row.len(), |i| start + i);
        let field = &row[start..end];
        out.push(if field == b"\\N" {
            TupleValue::Null
        } else if field.contains(&b'\\') {
            TupleValue::Text(Bytes::from(unescape(field).ok_or_else(|| {
                CopyTextError::TrailingBackslash(String::from_utf8_lossy(field).into_owned())
            })?))
        } else {
            TupleValue::Text(row.slice(start..end))
        });
        if end == row.len() {
            return Ok(());
        }
        start = end + 1;
    }
}

fn octal(b: u8) -> Option<u8> {
    (b'0'..=b'7').contains(&b).then(|| b - b'0')
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Undoes COPY text escapes: `\b \f \n \r \t \v`, `\` + 1-3 octal digits, `\x` + 1-2 hex
/// digits, and `\` + any other byte for that byte. `None` when the field ends in a lone `\`.
pub fn unescape(field: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let c = *field.get(i)?;
        i += 1;
        match c {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                for _ in 0..2 {
                    match field.get(i).copied().and_then(octal) {
                        Some(d) => {
                            v = (v << 3) | u32::from(d);
                            i += 1;
                        }
                        None => break,
                    }
                }
                // Like PostgreSQL, a value above \377 keeps its low byte.
                out.push(v as u8);
            }
            b'x' => match field.get(i).copied().and_then(hex) {
                Some(d) => {
                    let mut v = d;
                    i += 1;
                    if let Some(d2) = field.get(i).copied().and_then(hex) {
                        v = (v << 4) | d2;
                        i += 1;
                    }
                    out.push(v);
                }
                None => out.push(b'x'),
            },
            other => out.push(other),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &TupleValue) -> &[u8] {
        match v {
            TupleValue::Text(b) => b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unescapes_every_form() {
        assert_eq!(unescape(b"plain").unwrap(), b"plain");
        assert_eq!(
            unescape(b"a\\tb\\nc\\rd\\\\e\\bf\\fg\\vh").unwrap(),
            b"a\tb\nc\rd\\e\x08f\x0cg\x0bh"
        );
        assert_eq!(unescape(b"\\101\\7\\0101").unwrap(), b"A\x07\x081");
        assert_eq!(unescape(b"\\x41\\x4g\\xz").unwrap(), b"A\x04gxz");
        assert_eq!(unescape(b"\\q\\.").unwrap(), b"q.");
        assert_eq!(unescape(b"\\777").unwrap(), [0xff]);
        assert_eq!(unescape(b"end\\"), None);
    }

    #[test]
    fn splits_fields_nulls_and_escapes() {
        let row = Bytes::from_static(b"1\t\\N\ttab\\there\t\t\\\\N");
        let mut out = Vec::new();
        parse_row(&row, 5, &mut out).unwrap();
        assert_eq!(out.len(), 5);
        assert_eq!(text(&out[0]), b"1");
        assert_eq!(out[1], TupleValue::Null);
        assert_eq!(text(&out[2]), b"tab\there");
        assert_eq!(text(&out[3]), b"");
        // An escaped backslash followed by N is the text \N, not NULL.
        assert_eq!(text(&out[4]), b"\\N");
        parse_row(&Bytes::new(), 0, &mut out).unwrap();
        assert!(out.is_empty());
        parse_row(&Bytes::new(), 1, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert!(parse_row(&Bytes::from_static(b"x\\"), 1, &mut out).is_err());
    }

    #[test]
    fn rows_split_across_and_joined_in_chunks() {
        let data = b"1\ta\n22\tb\\nb\n333\tc\n";
        // Every way of cutting the stream in two gives the same rows.
        for cut in 0..=data.len() {
            let mut s = RowSplitter::default();
            let mut rows = Vec::new();
            s.push(Bytes::copy_from_slice(&data[..cut]), &mut rows);
            s.push(Bytes::copy_from_slice(&data[cut..]), &mut rows);
            s.finish().unwrap();
            let rows: Vec<&[u8]> = rows.iter().map(|r| r.as_ref()).collect();
            assert_eq!(
                rows,
                [&b"1\ta"[..], b"22\tb\\nb", b"333\tc"],
                "cut at {cut}"
            );
        }
        let mut s = RowSplitter::default();
        let mut rows = Vec::new();
        s.push(Bytes::from_static(b"1\n2"), &mut rows);
        assert_eq!(s.finish(), Err(CopyTextError::UnterminatedRow(1)));
    }
}
