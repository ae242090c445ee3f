//! Sans-io framing of backend messages and parsing of the few message bodies we need.
//!
//! Every backend message is `tag: u8, len: i32 (includes itself), body`. We cut whole frames
//! out of the read buffer without copying: the body is a `Bytes` view into the same allocation,
//! so XLogData payloads travel to the decoder without ever being copied.

use bytes::{Buf, Bytes, BytesMut};

use super::error::{DbError, ReplicationError};

/// A frame larger than this is treated as corruption rather than allocated. PostgreSQL itself
/// cannot produce a single message above 1 GiB (its own allocation limit).
pub const MAX_FRAME_LEN: usize = 1 << 30;

pub const TAG_AUTHENTICATION: u8 = b'R';
pub const TAG_BACKEND_KEY_DATA: u8 = b'K';
pub const TAG_COMMAND_COMPLETE: u8 = b'C';
pub const TAG_COPY_BOTH_RESPONSE: u8 = b'W';
pub const TAG_COPY_DATA: u8 = b'd';
pub const TAG_COPY_DONE: u8 = b'c';
pub const TAG_COPY_OUT_RESPONSE: u8 = b'H';
pub const TAG_DATA_ROW: u8 = b'D';
pub const TAG_EMPTY_QUERY: u8 = b'I';
pub const TAG_ERROR_RESPONSE: u8 = b'E';
pub const TAG_NEGOTIATE_PROTOCOL: u8 = b'v';
pub const TAG_NOTICE_RESPONSE: u8 = b'N';
pub const TAG_PARAMETER_STATUS: u8 = b'S';
pub const TAG_READY_FOR_QUERY: u8 = b'Z';
pub const TAG_ROW_DESCRIPTION: u8 = b'T';

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendFrame {
    pub tag: u8,
    pub body: Bytes,
}

/// Cuts the next complete frame off the front of `buf`.
/// `Ok(None)` means the buffer holds only part of a frame: read more and call again.
pub fn next_frame(buf: &mut BytesMut) -> Result<Option<BackendFrame>, ReplicationError> {
    let Some(total) = pending_frame_len(buf)? else {
        return Ok(None);
    };
    if buf.len() < total {
        return Ok(None);
    }
    let mut frame = buf.split_to(total);
    let tag = frame[0];
    frame.advance(5);
    Ok(Some(BackendFrame {
        tag,
        body: frame.freeze(),
    }))
}

/// Size (header included) of the frame at the front of `buf`, once its header is complete.
/// Lets the reader reserve room for a large frame in one step.
pub fn pending_frame_len(buf: &[u8]) -> Result<Option<usize>, ReplicationError> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
    if len < 4 || len as usize > MAX_FRAME_LEN {
        return Err(ReplicationError::protocol(format!(
            "backend message {:?} has invalid length {len}",
            buf[0] as char
        )));
    }
    Ok(Some(len as usize + 1))
}

/// Bounds-checked big-endian reader over a message body.
pub struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, what }
    }

    fn short(&self) -> ReplicationError {
        ReplicationError::protocol(format!("{} message is truncated", self.what))
    }

    pub fn remaining(&self) -> &'a [u8] {
        self.buf
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], ReplicationError> {
        if self.buf.len() < n {
            return Err(self.short());
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8, ReplicationError> {
        Ok(self.take(1)?[0])
    }

    pub fn i16(&mut self) -> Result<i16, ReplicationError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    pub fn i32(&mut self) -> Result<i32, ReplicationError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes(b.try_into().expect("4 bytes")))
    }

    pub fn i64(&mut self) -> Result<i64, ReplicationError> {
        let b = self.take(8)?;
        Ok(i64::from_be_bytes(b.try_into().expect("8 bytes")))
    }

    /// A NUL-terminated string; invalid UTF-8 is replaced rather than rejected because these
    /// strings only end up in messages and logs.
    pub fn cstr(&mut self) -> Result<String, ReplicationError> {
        let end = self
            .buf
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.short())?;
        let s = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf = &self.buf[end + 1..];
        Ok(s)
    }
}

/// ErrorResponse / NoticeResponse body: `(field type byte, cstring)*` then a zero byte.
pub fn parse_error_fields(body: &[u8]) -> Result<DbError, ReplicationError> {
    let mut r = Reader::new(body, "ErrorResponse");
    let mut e = DbError::default();
    let mut localized_severity = None;
    loop {
        let field = r.u8()?;
        if field == 0 {
            break;
        }
        let value = r.cstr()?;
        match field {
            b'S' => localized_severity = Some(value),
            b'V' => e.severity = value,
            b'C' => e.code = value,
            b'M' => e.message = value,
            b'D' => e.detail = Some(value),
            b'H' => e.hint = Some(value),
            _ => {}
        }
    }
    if e.severity.is_empty() {
        e.severity = localized_severity.unwrap_or_default();
    }
    Ok(e)
}

/// The authentication requests we understand (tag `R`).
#[derive(Debug, PartialEq, Eq)]
pub enum AuthRequest {
    Ok,
    Cleartext,
    Md5 { salt: [u8; 4] },
    Sasl { mechanisms: Vec<String> },
    SaslContinue(Bytes),
    SaslFinal(Bytes),
    Unsupported(i32),
}

pub fn parse_auth(body: &Bytes) -> Result<AuthRequest, ReplicationError> {
    let mut r = Reader::new(body, "Authentication");
    Ok(match r.i32()? {
        0 => AuthRequest::Ok,
        3 => AuthRequest::Cleartext,
        5 => {
            let s = r.take(4)?;
            AuthRequest::Md5 {
                salt: [s[0], s[1], s[2], s[3]],
            }
        }
        10 => {
            let mut mechanisms = Vec::new();
            loop {
                let m = r.cstr()?;
                if m.is_empty() {
                    break;
                }
                mechanisms.push(m);
            }
            AuthRequest::Sasl { mechanisms }
        }
        11 => AuthRequest::SaslContinue(body.slice(4..)),
        12 => AuthRequest::SaslFinal(body.slice(4..)),
        other => AuthRequest::Unsupported(other),
    })
}

/// ParameterStatus body: name and value.
pub fn parse_parameter_status(body: &[u8]) -> Result<(String, String), ReplicationError> {
    let mut r = Reader::new(body, "ParameterStatus");
    Ok((r.cstr()?, r.cstr()?))
}

/// Column names out of a RowDescription.
pub fn parse_row_description(body: &[u8]) -> Result<Vec<String>, ReplicationError> {
    let mut r = Reader::new(body, "RowDescription");
    let n = r.i16()?;
    if n < 0 {
        return Err(ReplicationError::protocol(
            "RowDescription has a negative field count",
        ));
    }
    let mut names = Vec::with_capacity((n as usize).min(body.len()));
    for _ in 0..n {
        names.push(r.cstr()?);
        // table oid, column number, type oid, type size, type modifier, format code
        r.take(4 + 2 + 4 + 2 + 4 + 2)?;
    }
    Ok(names)
}

/// A DataRow in text format; NULL stays `None`.
pub fn parse_data_row(body: &[u8]) -> Result<Vec<Option<String>>, ReplicationError> {
    let mut r = Reader::new(body, "DataRow");
    let n = r.i16()?;
    if n < 0 {
        return Err(ReplicationError::protocol(
            "DataRow has a negative column count",
        ));
    }
    let mut values = Vec::with_capacity((n as usize).min(body.len()));
    for _ in 0..n {
        let len = r.i32()?;
        if len < 0 {
            values.push(None);
        } else {
            let raw = r.take(len as usize)?;
            values.push(Some(String::from_utf8_lossy(raw).into_owned()));
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn needs_more_bytes_is_not_an_error() {
        let whole = frame(b'd', b"hello");
        for cut in 0..whole.len() {
            let mut buf = BytesMut::from(&whole[..cut]);
            assert_eq!(next_frame(&mut buf).unwrap(), None, "cut at {cut}");
            assert_eq!(buf.len(), cut, "partial input must stay buffered");
        }
    }

    #[test]
    fn splits_consecutive_frames() {
        let mut bytes = frame(b'd', b"abc");
        bytes.extend(frame(b'Z', b"I"));
        bytes.extend_from_slice(&[b'C', 0]); // start of a third, incomplete frame
        let mut buf = BytesMut::from(&bytes[..]);
        let a = next_frame(&mut buf).unwrap().unwrap();
        assert_eq!((a.tag, &a.body[..]), (b'd', &b"abc"[..]));
        let b = next_frame(&mut buf).unwrap().unwrap();
        assert_eq!((b.tag, &b.body[..]), (b'Z', &b"I"[..]));
        assert_eq!(next_frame(&mut buf).unwrap(), None);
        assert_eq!(buf.len(), 2);
    }

    #[test]
    fn rejects_bad_lengths_before_allocating() {
        for len in [0i32, 3, -1, i32::MAX] {
            let mut buf = BytesMut::new();
            buf.extend_from_slice(b"d");
            buf.extend_from_slice(&len.to_be_bytes());
            assert!(next_frame(&mut buf).is_err(), "length {len} accepted");
        }
    }

    #[test]
    fn parses_error_fields() {
        let body = b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \"x\"\0Hcheck it\0\0";
        let e = parse_error_fields(body).unwrap();
        assert_eq!(e.code, "28P01");
        assert_eq!(e.severity, "FATAL");
        assert_eq!(e.hint.as_deref(), Some("check it"));
        assert!(e.message.starts_with("password authentication failed"));
        // Missing terminator must not panic.
        assert!(parse_error_fields(b"C28P0").is_err());
    }

    #[test]
    fn parses_auth_requests() {
        let md5 = Bytes::from_static(&[0, 0, 0, 5, 1, 2, 3, 4]);
        assert_eq!(
            parse_auth(&md5).unwrap(),
            AuthRequest::Md5 { salt: [1, 2, 3, 4] }
        );
        let sasl = Bytes::from_static(b"\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0");
        assert_eq!(
            parse_auth(&sasl).unwrap(),
            AuthRequest::Sasl {
                mechanisms: vec!["SCRAM-SHA-256-PLUS".into(), "SCRAM-SHA-256".into()]
            }
        );
        assert!(parse_auth(&Bytes::from_static(&[0, 0, 0, 5, 1])).is_err());
    }

    #[test]
    fn parses_rows() {
        let mut desc = vec![0, 2];
        for name in ["a", "b"] {
            desc.extend_from_slice(name.as_bytes());
            desc.push(0);
            desc.extend_from_slice(&[0; 18]);
        }
        assert_eq!(parse_row_description(&desc).unwrap(), vec!["a", "b"]);
        let row = [0, 2, 0, 0, 0, 2, b'h', b'i', 0xff, 0xff, 0xff, 0xff];
        assert_eq!(parse_data_row(&row).unwrap(), vec![Some("hi".into()), None]);
        // A column length that points past the end is rejected, not trusted.
        let bad = [0, 1, 0x7f, 0xff, 0xff, 0xff, b'x'];
        assert!(parse_data_row(&bad).is_err());
    }
}
