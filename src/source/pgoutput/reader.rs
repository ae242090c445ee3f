//! A bounds-checked cursor over one frame. Every read checks the remaining length first, so no
//! input can make it panic or allocate more than the frame could possibly hold.

use bytes::Bytes;

use super::error::{DecodeError, DecodeErrorKind};
use super::messages::PgTimestamp;
use crate::lsn::Lsn;

pub(crate) type Result<T> = std::result::Result<T, DecodeError>;

pub(crate) struct Reader<'a> {
    data: &'a Bytes,
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a Bytes) -> Self {
        Reader { data, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn error_at(&self, offset: usize, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(offset, kind)
    }

    /// Fails unless at least `needed` bytes remain.
    pub(crate) fn need(&self, needed: usize) -> Result<()> {
        let remaining = self.remaining();
        if needed > remaining {
            return Err(DecodeError::new(
                self.pos,
                DecodeErrorKind::UnexpectedEnd { needed, remaining },
            ));
        }
        Ok(())
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.need(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.data[self.pos..self.pos + N]);
        self.pos += N;
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.take()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.take()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.take()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.take()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.take()?))
    }

    pub(crate) fn lsn(&mut self) -> Result<Lsn> {
        Ok(Lsn(self.u64()?))
    }

    pub(crate) fn timestamp(&mut self) -> Result<PgTimestamp> {
        Ok(PgTimestamp(self.i64()?))
    }

    /// A NUL-terminated UTF-8 string; the NUL is consumed but not returned.
    pub(crate) fn cstring(&mut self) -> Result<String> {
        let start = self.pos;
        let rest = &self.data[start..];
        let Some(nul) = rest.iter().position(|&b| b == 0) else {
            return Err(DecodeError::new(start, DecodeErrorKind::MissingNul));
        };
        let s = std::str::from_utf8(&rest[..nul])
            .map_err(|e| DecodeError::new(start + e.valid_up_to(), DecodeErrorKind::InvalidUtf8))?;
        let owned = s.to_owned();
        self.pos = start + nul + 1;
        Ok(owned)
    }

    /// `len` bytes as a zero-copy slice of the frame.
    pub(crate) fn slice(&mut self, len: usize) -> Result<Bytes> {
        self.need(len)?;
        let out = self.data.slice(self.pos..self.pos + len);
        self.pos += len;
        Ok(out)
    }

    /// An Int32 length followed by that many bytes.
    pub(crate) fn counted(&mut self) -> Result<Bytes> {
        let at = self.pos;
        let len = self.i32()?;
        let len = usize::try_from(len)
            .map_err(|_| DecodeError::new(at, DecodeErrorKind::NegativeLength(len)))?;
        self.slice(len)
    }

    /// Succeeds only when the whole frame has been consumed.
    pub(crate) fn finish(self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::new(
                self.pos,
                DecodeErrorKind::TrailingBytes(n),
            )),
        }
    }
}
