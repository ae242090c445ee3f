//! Why a pgoutput frame could not be decoded, and where.

use std::fmt;

/// A frame that is not a well-formed pgoutput message for the negotiated protocol version.
///
/// `offset` is the byte position inside the XLogData payload (the tag is byte 0) where the
/// offending field starts, so a hex dump of the frame pinpoints the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pgoutput decode error at byte {offset}: {kind}")]
pub struct DecodeError {
    pub offset: usize,
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    pub(crate) fn new(offset: usize, kind: DecodeErrorKind) -> Self {
        DecodeError { offset, kind }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    #[error(
        "message ends early: the next field needs {needed} byte(s) but only {remaining} remain; \
         the frame is truncated, or the decoder's protocol version does not match the \
         proto_version the slot was started with"
    )]
    UnexpectedEnd { needed: usize, remaining: usize },

    #[error(
        "unknown message tag {}; the server may speak a newer pgoutput protocol than the \
         supported versions 1 to 4",
        Tag(*.0)
    )]
    UnknownTag(u8),

    #[error(
        "message tag {} exists only from protocol version {min_version} on, but the decoder \
         was set up for version {protocol_version}; start replication with a matching \
         proto_version",
        Tag(*.tag)
    )]
    TagNeedsNewerProtocol {
        tag: u8,
        min_version: u32,
        protocol_version: u32,
    },

    #[error("unknown tuple column kind {} (expected 'n', 'u', 't' or 'b')", Tag(*.0))]
    UnknownTupleKind(u8),

    #[error("unexpected tuple marker {} where {expected} was expected", Tag(*.found))]
    UnexpectedTupleMarker { found: u8, expected: &'static str },

    #[error("unknown replica identity {} (expected 'd', 'n', 'f' or 'i')", Tag(*.0))]
    UnknownReplicaIdentity(u8),

    #[error("string is not valid UTF-8; the database encoding should be UTF8")]
    InvalidUtf8,

    #[error("string has no terminating NUL byte before the end of the message")]
    MissingNul,

    #[error(
        "column count {count} exceeds {max}, the most PostgreSQL can send; the frame is corrupt"
    )]
    TooManyColumns { count: usize, max: usize },

    #[error("negative length {0} for a length-prefixed value")]
    NegativeLength(i32),

    #[error("{0} unexpected byte(s) after a complete message")]
    TrailingBytes(usize),

    #[error(
        "stream start while a stream block is already open (missing stream stop); the \
         replication stream is out of sync"
    )]
    NestedStreamStart,

    #[error("stream stop without a preceding stream start; the replication stream is out of sync")]
    StreamStopOutsideStream,
}

/// Shows a tag byte as a quoted character when printable, as hex otherwise.
struct Tag(u8);

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}' ({:#04x})", self.0 as char, self.0)
        } else {
            write!(f, "{:#04x}", self.0)
        }
    }
}
