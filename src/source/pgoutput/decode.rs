//! Sans-io decoder: one XLogData payload in, one typed [`Message`] out.
//!
//! The layouts follow PostgreSQL's "Logical Replication Message Formats" (protocol versions 1
//! to 4). The decoder keeps the only state the wire format needs: whether it is inside a
//! Stream Start/Stop block, because there the data messages carry the streamed xid.

use bytes::Bytes;

pub use super::error::{DecodeError, DecodeErrorKind};
use super::messages::*;
use super::reader::{Reader, Result};

/// MaxTupleAttributeNumber: no relation or tuple PostgreSQL sends can have more columns.
const MAX_COLUMNS: usize = 1664;

/// Smallest encoding of one Relation column: flags, empty name + NUL, type oid, typmod.
const MIN_RELATION_COLUMN_BYTES: usize = 1 + 1 + 4 + 4;

/// Stream Abort's optional abort_lsn + abort_ts (protocol 4 with parallel streaming).
const STREAM_ABORT_INFO_BYTES: usize = 16;

#[derive(Debug, Clone)]
pub struct Decoder {
    protocol_version: u32,
    in_stream: bool,
}

impl Decoder {
    /// `protocol_version` is the `proto_version` replication was started with. Values outside
    /// 1..=4 are clamped into that range; validate configuration before getting here.
    pub fn new(protocol_version: u32) -> Self {
        Decoder {
            protocol_version: protocol_version.clamp(1, 4),
            in_stream: false,
        }
    }

    pub fn protocol_version(&self) -> u32 {
        self.protocol_version
    }

    /// True between a Stream Start and its Stream Stop.
    pub fn in_stream(&self) -> bool {
        self.in_stream
    }

    /// One XLogData payload = exactly one pgoutput message.
    ///
    /// On error the stream state is left unchanged.
    pub fn decode(&mut self, data: Bytes) -> std::result::Result<Message, DecodeError> {
        let mut r = Reader::new(&data);
        let tag = r.u8()?;
        let msg = match tag {
            b'B' => Message::Begin(Begin {
                final_lsn: r.lsn()?,
                commit_ts: r.timestamp()?,
                xid: r.u32()?,
            }),
            b'C' => Message::Commit(Commit {
                flags: r.u8()?,
                commit_lsn: r.lsn()?,
                end_lsn: r.lsn()?,
                commit_ts: r.timestamp()?,
            }),
            b'O' => Message::Origin(Origin {
                commit_lsn: r.lsn()?,
                name: r.cstring()?,
            }),
            b'R' => Message::Relation(self.relation(&mut r)?),
            b'Y' => Message::Type(Type {
                xid: self.stream_xid(&mut r)?,
                oid: r.u32()?,
                namespace: namespace(&mut r)?,
                name: r.cstring()?,
            }),
            b'I' => {
                let xid = self.stream_xid(&mut r)?;
                let relation_oid = r.u32()?;
                expect_new(&mut r)?;
                Message::Insert(Insert {
                    xid,
                    relation_oid,
                    new: tuple(&mut r)?,
                })
            }
            b'U' => Message::Update(self.update(&mut r)?),
            b'D' => {
                let xid = self.stream_xid(&mut r)?;
                let relation_oid = r.u32()?;
                let at = r.pos();
                let old = match r.u8()? {
                    b'K' => OldTuple::Key(tuple(&mut r)?),
                    b'O' => OldTuple::Old(tuple(&mut r)?),
                    found => return Err(bad_marker(at, found, "'K' or 'O'")),
                };
                Message::Delete(Delete {
                    xid,
                    relation_oid,
                    old,
                })
            }
            b'T' => Message::Truncate(self.truncate(&mut r)?),
            b'M' => Message::Message(LogicalMessage {
                xid: self.stream_xid(&mut r)?,
                flags: r.u8()?,
                lsn: r.lsn()?,
                prefix: r.cstring()?,
                content: r.counted()?,
            }),
            b'S' => {
                self.require(tag, 2)?;
                if self.in_stream {
                    return Err(DecodeError::new(0, DecodeErrorKind::NestedStreamStart));
                }
                Message::StreamStart(StreamStart {
                    xid: r.u32()?,
                    first_segment: r.u8()? == 1,
                })
            }
            b'E' => {
                self.require(tag, 2)?;
                if !self.in_stream {
                    return Err(DecodeError::new(
                        0,
                        DecodeErrorKind::StreamStopOutsideStream,
                    ));
                }
                Message::StreamStop
            }
            b'c' => {
                self.require(tag, 2)?;
                Message::StreamCommit(StreamCommit {
                    xid: r.u32()?,
                    flags: r.u8()?,
                    commit_lsn: r.lsn()?,
                    end_lsn: r.lsn()?,
                    commit_ts: r.timestamp()?,
                })
            }
            b'A' => Message::StreamAbort(self.stream_abort(&mut r)?),
            b'b' => {
                self.require(tag, 3)?;
                Message::BeginPrepare(PrepareInfo {
                    flags: 0,
                    prepare_lsn: r.lsn()?,
                    end_lsn: r.lsn()?,
                    prepare_ts: r.timestamp()?,
                    xid: r.u32()?,
                    gid: r.cstring()?,
                })
            }
            b'P' => {
                self.require(tag, 3)?;
                Message::Prepare(prepare_info(&mut r)?)
            }
            b'p' => {
                self.require(tag, 3)?;
                Message::StreamPrepare(prepare_info(&mut r)?)
            }
            b'K' => {
                self.require(tag, 3)?;
                Message::CommitPrepared(CommitPrepared {
                    flags: r.u8()?,
                    commit_lsn: r.lsn()?,
                    end_lsn: r.lsn()?,
                    commit_ts: r.timestamp()?,
                    xid: r.u32()?,
                    gid: r.cstring()?,
                })
            }
            b'r' => {
                self.require(tag, 3)?;
                Message::RollbackPrepared(RollbackPrepared {
                    flags: r.u8()?,
                    prepare_end_lsn: r.lsn()?,
                    rollback_end_lsn: r.lsn()?,
                    prepare_ts: r.timestamp()?,
                    rollback_ts: r.timestamp()?,
                    xid: r.u32()?,
                    gid: r.cstring()?,
                })
            }
            other => return Err(DecodeError::new(0, DecodeErrorKind::UnknownTag(other))),
        };
        r.finish()?;
        match msg {
            Message::StreamStart(_) => self.in_stream = true,
            Message::StreamStop => self.in_stream = false,
            _ => {}
        }
        Ok(msg)
    }

    fn require(&self, tag: u8, min_version: u32) -> Result<()> {
        if self.protocol_version < min_version {
            return Err(DecodeError::new(
                0,
                DecodeErrorKind::TagNeedsNewerProtocol {
                    tag,
                    min_version,
                    protocol_version: self.protocol_version,
                },
            ));
        }
        Ok(())
    }

    /// Inside a stream block, data messages carry the xid of the streamed transaction.
    fn stream_xid(&self, r: &mut Reader<'_>) -> Result<Option<u32>> {
        if self.in_stream {
            Ok(Some(r.u32()?))
        } else {
            Ok(None)
        }
    }

    fn relation(&self, r: &mut Reader<'_>) -> Result<Relation> {
        let xid = self.stream_xid(r)?;
        let oid = r.u32()?;
        let namespace = namespace(r)?;
        let name = r.cstring()?;
        let at = r.pos();
        let replica_identity = match r.u8()? {
            b'd' => ReplicaIdentity::Default,
            b'n' => ReplicaIdentity::Nothing,
            b'f' => ReplicaIdentity::Full,
            b'i' => ReplicaIdentity::Index,
            other => {
                return Err(r.error_at(at, DecodeErrorKind::UnknownReplicaIdentity(other)));
            }
        };
        let count = column_count(r, MIN_RELATION_COLUMN_BYTES)?;
        let mut columns = Vec::with_capacity(count);
        for _ in 0..count {
            columns.push(Column {
                flags: r.u8()?,
                name: r.cstring()?,
                type_oid: r.u32()?,
                type_modifier: r.i32()?,
            });
        }
        Ok(Relation {
            xid,
            oid,
            namespace,
            name,
            replica_identity,
            columns,
        })
    }

    fn update(&self, r: &mut Reader<'_>) -> Result<Update> {
        let xid = self.stream_xid(r)?;
        let relation_oid = r.u32()?;
        let at = r.pos();
        let old = match r.u8()? {
            b'K' => Some(OldTuple::Key(tuple(r)?)),
            b'O' => Some(OldTuple::Old(tuple(r)?)),
            b'N' => None,
            found => return Err(bad_marker(at, found, "'K', 'O' or 'N'")),
        };
        if old.is_some() {
            expect_new(r)?;
        }
        Ok(Update {
            xid,
            relation_oid,
            old,
            new: tuple(r)?,
        })
    }

    fn truncate(&self, r: &mut Reader<'_>) -> Result<Truncate> {
        let xid = self.stream_xid(r)?;
        let count = r.u32()? as usize;
        let options = r.u8()?;
        r.need(count.saturating_mul(4))?;
        let mut relation_oids = Vec::with_capacity(count);
        for _ in 0..count {
            relation_oids.push(r.u32()?);
        }
        Ok(Truncate {
            xid,
            options,
            relation_oids,
        })
    }

    fn stream_abort(&self, r: &mut Reader<'_>) -> Result<StreamAbort> {
        self.require(b'A', 2)?;
        let xid = r.u32()?;
        let subxid = r.u32()?;
        // Protocol 4 appends abort_lsn/abort_ts only when streaming = 'parallel', and the
        // decoder is not told which mode was requested, so the frame length decides.
        let (abort_lsn, abort_ts) = if self.protocol_version >= 4 && r.remaining() > 0 {
            r.need(STREAM_ABORT_INFO_BYTES)?;
            (Some(r.lsn()?), Some(r.timestamp()?))
        } else {
            (None, None)
        };
        Ok(StreamAbort {
            xid,
            subxid,
            abort_lsn,
            abort_ts,
        })
    }
}

/// pgoutput sends pg_catalog as an empty namespace to save space.
fn namespace(r: &mut Reader<'_>) -> Result<String> {
    let ns = r.cstring()?;
    if ns.is_empty() {
        Ok("pg_catalog".to_owned())
    } else {
        Ok(ns)
    }
}

/// Reads an Int16 column count and checks it against what the frame can hold before anything
/// is allocated for it.
fn column_count(r: &mut Reader<'_>, min_bytes_each: usize) -> Result<usize> {
    let at = r.pos();
    let count = r.u16()? as usize;
    if count > MAX_COLUMNS {
        return Err(r.error_at(
            at,
            DecodeErrorKind::TooManyColumns {
                count,
                max: MAX_COLUMNS,
            },
        ));
    }
    r.need(count * min_bytes_each)?;
    Ok(count)
}

fn tuple(r: &mut Reader<'_>) -> Result<TupleData> {
    let count = column_count(r, 1)?;
    let mut values = Vec::with_capacity(count);
    for _ in 0..count {
        let at = r.pos();
        let value = match r.u8()? {
            b'n' => TupleValue::Null,
            b'u' => TupleValue::UnchangedToast,
            b't' => TupleValue::Text(r.counted()?),
            b'b' => TupleValue::Binary(r.counted()?),
            other => return Err(r.error_at(at, DecodeErrorKind::UnknownTupleKind(other))),
        };
        values.push(value);
    }
    Ok(TupleData(values))
}

fn prepare_info(r: &mut Reader<'_>) -> Result<PrepareInfo> {
    Ok(PrepareInfo {
        flags: r.u8()?,
        prepare_lsn: r.lsn()?,
        end_lsn: r.lsn()?,
        prepare_ts: r.timestamp()?,
        xid: r.u32()?,
        gid: r.cstring()?,
    })
}

fn expect_new(r: &mut Reader<'_>) -> Result<()> {
    let at = r.pos();
    match r.u8()? {
        b'N' => Ok(()),
        found => Err(bad_marker(at, found, "'N'")),
    }
}

fn bad_marker(at: usize, found: u8, expected: &'static str) -> DecodeError {
    DecodeError::new(
        at,
        DecodeErrorKind::UnexpectedTupleMarker { found, expected },
    )
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
