use bytes::Bytes;

use super::*;
use crate::lsn::Lsn;

/// Writes frames the way pgoutput does: big-endian integers, NUL-terminated strings.
struct Frame(Vec<u8>);

impl Frame {
    fn new(tag: u8) -> Self {
        Frame(vec![tag])
    }
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn str(mut self, s: &str) -> Self {
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
        self
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn counted(self, b: &[u8]) -> Self {
        self.i32(b.len() as i32).raw(b)
    }
    fn text(self, b: &str) -> Self {
        self.u8(b't').counted(b.as_bytes())
    }
    fn bytes(self) -> Bytes {
        Bytes::from(self.0)
    }
}

const STREAM_XID: u32 = 777;

fn stream_start(xid: u32, first: bool) -> Bytes {
    Frame::new(b'S').u32(xid).u8(first as u8).bytes()
}

/// A decoder for `version`, already inside a stream block when `in_stream`.
fn decoder(version: u32, in_stream: bool) -> Decoder {
    let mut d = Decoder::new(version);
    if in_stream {
        d.decode(stream_start(STREAM_XID, true)).unwrap();
        assert!(d.in_stream());
    }
    d
}

fn decode(version: u32, in_stream: bool, data: Bytes) -> std::result::Result<Message, DecodeError> {
    decoder(version, in_stream).decode(data)
}

fn decode_ok(version: u32, data: Bytes) -> Message {
    decode(version, false, data).unwrap()
}

fn err_kind(version: u32, data: Bytes) -> (usize, DecodeErrorKind) {
    let e = decode(version, false, data).unwrap_err();
    (e.offset, e.kind)
}

/// Frames with the xid prefix when `xid` is set, as pgoutput writes them inside streams.
fn with_xid(tag: u8, xid: Option<u32>) -> Frame {
    let f = Frame::new(tag);
    match xid {
        Some(x) => f.u32(x),
        None => f,
    }
}

fn relation_frame(xid: Option<u32>) -> Bytes {
    with_xid(b'R', xid)
        .u32(16384)
        .str("public")
        .str("accounts")
        .u8(b'd')
        .u16(2)
        .u8(1)
        .str("id")
        .u32(23)
        .i32(-1)
        .u8(0)
        .str("name")
        .u32(1043)
        .i32(68)
        .bytes()
}

fn type_frame(xid: Option<u32>) -> Bytes {
    with_xid(b'Y', xid)
        .u32(16390)
        .str("public")
        .str("mood")
        .bytes()
}

fn insert_frame(xid: Option<u32>) -> Bytes {
    with_xid(b'I', xid)
        .u32(16384)
        .u8(b'N')
        .u16(4)
        .text("42")
        .u8(b'n')
        .u8(b'u')
        .u8(b'b')
        .counted(&[0xde, 0xad])
        .bytes()
}

fn update_key_frame(xid: Option<u32>) -> Bytes {
    with_xid(b'U', xid)
        .u32(16384)
        .u8(b'K')
        .u16(2)
        .text("1")
        .u8(b'n')
        .u8(b'N')
        .u16(2)
        .text("2")
        .text("bob")
        .bytes()
}

fn update_old_frame() -> Bytes {
    Frame::new(b'U')
        .u32(16384)
        .u8(b'O')
        .u16(1)
        .text("old")
        .u8(b'N')
        .u16(1)
        .text("new")
        .bytes()
}

fn update_plain_frame() -> Bytes {
    Frame::new(b'U').u32(16384).u8(b'N').u16(1).text("").bytes()
}

fn delete_frame(xid: Option<u32>, marker: u8) -> Bytes {
    with_xid(b'D', xid)
        .u32(16384)
        .u8(marker)
        .u16(2)
        .text("7")
        .u8(b'n')
        .bytes()
}

fn truncate_frame(xid: Option<u32>) -> Bytes {
    with_xid(b'T', xid)
        .u32(2)
        .u8(3)
        .u32(16384)
        .u32(16390)
        .bytes()
}

fn message_frame(xid: Option<u32>, flags: u8) -> Bytes {
    with_xid(b'M', xid)
        .u8(flags)
        .u64(0x1_0000_0010)
        .str("pgcdc")
        .counted(b"hello\0world")
        .bytes()
}

fn begin_frame() -> Bytes {
    Frame::new(b'B')
        .u64(0x16_B374_D848)
        .i64(700_000_000_000_000)
        .u32(1234)
        .bytes()
}

fn commit_frame() -> Bytes {
    Frame::new(b'C').u8(0).u64(0x100).u64(0x180).i64(-5).bytes()
}

fn origin_frame() -> Bytes {
    Frame::new(b'O').u64(0xABCDEF).str("upstream").bytes()
}

fn stream_commit_frame() -> Bytes {
    Frame::new(b'c')
        .u32(900)
        .u8(0)
        .u64(0x200)
        .u64(0x280)
        .i64(123)
        .bytes()
}

fn stream_abort_frame(with_info: bool) -> Bytes {
    let f = Frame::new(b'A').u32(900).u32(901);
    if with_info {
        f.u64(0x300).i64(456).bytes()
    } else {
        f.bytes()
    }
}

fn prepare_like_frame(tag: u8) -> Bytes {
    let f = Frame::new(tag);
    let f = if tag == b'b' { f } else { f.u8(0) };
    f.u64(0x400)
        .u64(0x480)
        .i64(789)
        .u32(950)
        .str("gid-1")
        .bytes()
}

fn commit_prepared_frame() -> Bytes {
    Frame::new(b'K')
        .u8(0)
        .u64(0x500)
        .u64(0x580)
        .i64(1)
        .u32(951)
        .str("gid-2")
        .bytes()
}

fn rollback_prepared_frame() -> Bytes {
    Frame::new(b'r')
        .u8(0)
        .u64(0x600)
        .u64(0x680)
        .i64(2)
        .i64(3)
        .u32(952)
        .str("gid-3")
        .bytes()
}

/// Every well-formed sample: (name, protocol version, inside a stream block, frame).
fn samples() -> Vec<(&'static str, u32, bool, Bytes)> {
    let x = Some(STREAM_XID);
    vec![
        ("begin", 1, false, begin_frame()),
        ("commit", 1, false, commit_frame()),
        ("origin", 1, false, origin_frame()),
        ("relation", 1, false, relation_frame(None)),
        ("relation streamed", 2, true, relation_frame(x)),
        ("type", 1, false, type_frame(None)),
        ("type streamed", 2, true, type_frame(x)),
        ("insert", 1, false, insert_frame(None)),
        ("insert streamed", 2, true, insert_frame(x)),
        ("update key", 1, false, update_key_frame(None)),
        ("update key streamed", 2, true, update_key_frame(x)),
        ("update old", 1, false, update_old_frame()),
        ("update plain", 1, false, update_plain_frame()),
        ("delete key", 1, false, delete_frame(None, b'K')),
        ("delete old streamed", 2, true, delete_frame(x, b'O')),
        ("truncate", 1, false, truncate_frame(None)),
        ("truncate streamed", 2, true, truncate_frame(x)),
        ("message", 1, false, message_frame(None, 1)),
        ("message streamed", 2, true, message_frame(x, 1)),
        ("stream start", 2, false, stream_start(5, true)),
        ("stream stop", 2, true, Frame::new(b'E').bytes()),
        ("stream commit", 2, false, stream_commit_frame()),
        ("stream abort", 2, false, stream_abort_frame(false)),
        ("stream abort v4", 4, false, stream_abort_frame(true)),
        (
            "stream abort v4 no info",
            4,
            false,
            stream_abort_frame(false),
        ),
        ("begin prepare", 3, false, prepare_like_frame(b'b')),
        ("prepare", 3, false, prepare_like_frame(b'P')),
        ("stream prepare", 3, false, prepare_like_frame(b'p')),
        ("commit prepared", 3, false, commit_prepared_frame()),
        ("rollback prepared", 3, false, rollback_prepared_frame()),
    ]
}

#[test]
fn every_sample_decodes() {
    for (name, version, in_stream, frame) in samples() {
        decode(version, in_stream, frame).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn begin_and_commit() {
    assert_eq!(
        decode_ok(1, begin_frame()),
        Message::Begin(Begin {
            final_lsn: Lsn(0x16_B374_D848),
            commit_ts: PgTimestamp(700_000_000_000_000),
            xid: 1234,
        })
    );
    assert_eq!(
        decode_ok(1, commit_frame()),
        Message::Commit(Commit {
            flags: 0,
            commit_lsn: Lsn(0x100),
            end_lsn: Lsn(0x180),
            commit_ts: PgTimestamp(-5),
        })
    );
}

#[test]
fn origin() {
    assert_eq!(
        decode_ok(1, origin_frame()),
        Message::Origin(Origin {
            commit_lsn: Lsn(0xABCDEF),
            name: "upstream".into(),
        })
    );
}

#[test]
fn relation_with_columns() {
    let Message::Relation(rel) = decode_ok(1, relation_frame(None)) else {
        panic!("not a relation");
    };
    assert_eq!(rel.xid, None);
    assert_eq!(rel.oid, 16384);
    assert_eq!(rel.namespace, "public");
    assert_eq!(rel.name, "accounts");
    assert_eq!(rel.replica_identity, ReplicaIdentity::Default);
    assert_eq!(
        rel.columns,
        vec![
            Column {
                flags: 1,
                name: "id".into(),
                type_oid: 23,
                type_modifier: -1
            },
            Column {
                flags: 0,
                name: "name".into(),
                type_oid: 1043,
                type_modifier: 68
            },
        ]
    );
    assert!(rel.columns[0].is_key());
    assert!(!rel.columns[1].is_key());
}

#[test]
fn relation_replica_identities_and_pg_catalog_namespace() {
    for (byte, expected) in [
        (b'd', ReplicaIdentity::Default),
        (b'n', ReplicaIdentity::Nothing),
        (b'f', ReplicaIdentity::Full),
        (b'i', ReplicaIdentity::Index),
    ] {
        let frame = Frame::new(b'R')
            .u32(1)
            .str("")
            .str("t")
            .u8(byte)
            .u16(0)
            .bytes();
        let Message::Relation(rel) = decode_ok(1, frame) else {
            panic!("not a relation");
        };
        assert_eq!(rel.replica_identity, expected);
        assert_eq!(rel.namespace, "pg_catalog");
        assert!(rel.columns.is_empty());
    }
    let frame = Frame::new(b'R')
        .u32(1)
        .str("s")
        .str("t")
        .u8(b'x')
        .u16(0)
        .bytes();
    assert_eq!(
        err_kind(1, frame),
        (9, DecodeErrorKind::UnknownReplicaIdentity(b'x'))
    );
}

#[test]
fn type_message() {
    assert_eq!(
        decode_ok(1, type_frame(None)),
        Message::Type(Type {
            xid: None,
            oid: 16390,
            namespace: "public".into(),
            name: "mood".into(),
        })
    );
}

#[test]
fn insert_with_every_column_kind() {
    let frame = insert_frame(None);
    let Message::Insert(ins) = decode_ok(1, frame.clone()) else {
        panic!("not an insert");
    };
    assert_eq!(ins.xid, None);
    assert_eq!(ins.relation_oid, 16384);
    assert_eq!(
        ins.new.0,
        vec![
            TupleValue::Text(Bytes::from_static(b"42")),
            TupleValue::Null,
            TupleValue::UnchangedToast,
            TupleValue::Binary(Bytes::from_static(&[0xde, 0xad])),
        ]
    );
    // Values must be views into the frame, not copies.
    let range = frame.as_ptr() as usize..frame.as_ptr() as usize + frame.len();
    let TupleValue::Text(text) = &ins.new.0[0] else {
        unreachable!()
    };
    assert!(range.contains(&(text.as_ptr() as usize)));
}

#[test]
fn update_variants() {
    let Message::Update(u) = decode_ok(1, update_key_frame(None)) else {
        panic!("not an update");
    };
    assert_eq!(
        u.old,
        Some(OldTuple::Key(TupleData(vec![
            TupleValue::Text(Bytes::from_static(b"1")),
            TupleValue::Null
        ])))
    );
    assert_eq!(
        u.new.0,
        vec![
            TupleValue::Text(Bytes::from_static(b"2")),
            TupleValue::Text(Bytes::from_static(b"bob"))
        ]
    );

    let Message::Update(u) = decode_ok(1, update_old_frame()) else {
        panic!("not an update");
    };
    assert_eq!(
        u.old,
        Some(OldTuple::Old(TupleData(vec![TupleValue::Text(
            Bytes::from_static(b"old")
        )])))
    );
    assert_eq!(u.new.0, vec![TupleValue::Text(Bytes::from_static(b"new"))]);

    let Message::Update(u) = decode_ok(1, update_plain_frame()) else {
        panic!("not an update");
    };
    assert_eq!(u.old, None);
    assert_eq!(u.new.0, vec![TupleValue::Text(Bytes::new())]);
}

#[test]
fn update_and_delete_reject_wrong_markers() {
    let bad_first = Frame::new(b'U').u32(1).u8(b'X').u16(0).bytes();
    assert_eq!(
        err_kind(1, bad_first),
        (
            5,
            DecodeErrorKind::UnexpectedTupleMarker {
                found: b'X',
                expected: "'K', 'O' or 'N'"
            }
        )
    );
    let bad_second = Frame::new(b'U')
        .u32(1)
        .u8(b'K')
        .u16(0)
        .u8(b'K')
        .u16(0)
        .bytes();
    assert_eq!(
        err_kind(1, bad_second),
        (
            8,
            DecodeErrorKind::UnexpectedTupleMarker {
                found: b'K',
                expected: "'N'"
            }
        )
    );
    let bad_delete = Frame::new(b'D').u32(1).u8(b'N').u16(0).bytes();
    assert!(matches!(
        err_kind(1, bad_delete),
        (
            5,
            DecodeErrorKind::UnexpectedTupleMarker { found: b'N', .. }
        )
    ));
    let bad_insert = Frame::new(b'I').u32(1).u8(b'K').u16(0).bytes();
    assert!(matches!(
        err_kind(1, bad_insert),
        (
            5,
            DecodeErrorKind::UnexpectedTupleMarker { found: b'K', .. }
        )
    ));
}

#[test]
fn delete_key_and_old() {
    let Message::Delete(d) = decode_ok(1, delete_frame(None, b'K')) else {
        panic!("not a delete");
    };
    assert!(matches!(d.old, OldTuple::Key(_)));
    assert_eq!(
        d.old.data().0,
        vec![TupleValue::Text(Bytes::from_static(b"7")), TupleValue::Null]
    );
    let Message::Delete(d) = decode_ok(1, delete_frame(None, b'O')) else {
        panic!("not a delete");
    };
    assert!(matches!(d.old, OldTuple::Old(_)));
}

#[test]
fn truncate_reads_count_options_and_oids() {
    assert_eq!(
        decode_ok(1, truncate_frame(None)),
        Message::Truncate(Truncate {
            xid: None,
            options: 3,
            relation_oids: vec![16384, 16390],
        })
    );
}

#[test]
fn logical_message_flags_and_binary_content() {
    let Message::Message(m) = decode_ok(1, message_frame(None, 1)) else {
        panic!("not a message");
    };
    assert!(m.transactional());
    assert_eq!(m.xid, None);
    assert_eq!(m.lsn, Lsn(0x1_0000_0010));
    assert_eq!(m.prefix, "pgcdc");
    assert_eq!(&m.content[..], b"hello\0world");
    let Message::Message(m) = decode_ok(1, message_frame(None, 0)) else {
        panic!("not a message");
    };
    assert!(!m.transactional());
}

#[test]
fn stream_block_adds_xid_to_data_messages() {
    let mut d = Decoder::new(2);
    assert_eq!(
        d.decode(stream_start(STREAM_XID, true)).unwrap(),
        Message::StreamStart(StreamStart {
            xid: STREAM_XID,
            first_segment: true
        })
    );
    let x = Some(STREAM_XID);
    let Message::Relation(r) = d.decode(relation_frame(x)).unwrap() else {
        panic!()
    };
    assert_eq!((r.xid, r.name.as_str()), (x, "accounts"));
    let Message::Type(t) = d.decode(type_frame(x)).unwrap() else {
        panic!()
    };
    assert_eq!(t.xid, x);
    let Message::Insert(i) = d.decode(insert_frame(x)).unwrap() else {
        panic!()
    };
    assert_eq!((i.xid, i.relation_oid), (x, 16384));
    let Message::Update(u) = d.decode(update_key_frame(x)).unwrap() else {
        panic!()
    };
    assert_eq!(u.xid, x);
    let Message::Delete(del) = d.decode(delete_frame(x, b'K')).unwrap() else {
        panic!()
    };
    assert_eq!(del.xid, x);
    let Message::Truncate(t) = d.decode(truncate_frame(x)).unwrap() else {
        panic!()
    };
    assert_eq!((t.xid, t.relation_oids.len()), (x, 2));
    let Message::Message(m) = d.decode(message_frame(x, 1)).unwrap() else {
        panic!()
    };
    assert_eq!((m.xid, m.prefix.as_str()), (x, "pgcdc"));

    // The unstreamed layout is misread inside a stream block: the frame is 4 bytes short.
    assert!(d.decode(insert_frame(None)).is_err());
    assert!(
        d.in_stream(),
        "a failed decode must not change the stream state"
    );

    assert_eq!(
        d.decode(Frame::new(b'E').bytes()).unwrap(),
        Message::StreamStop
    );
    assert!(!d.in_stream());
    let Message::Insert(i) = d.decode(insert_frame(None)).unwrap() else {
        panic!()
    };
    assert_eq!(i.xid, None);

    // A later block for a non-first segment.
    let Message::StreamStart(s) = d.decode(stream_start(9, false)).unwrap() else {
        panic!()
    };
    assert!(!s.first_segment);
    assert!(d.in_stream());
}

#[test]
fn stream_state_errors() {
    let mut d = Decoder::new(2);
    assert_eq!(
        d.decode(Frame::new(b'E').bytes()).unwrap_err().kind,
        DecodeErrorKind::StreamStopOutsideStream
    );
    d.decode(stream_start(1, true)).unwrap();
    assert_eq!(
        d.decode(stream_start(2, true)).unwrap_err().kind,
        DecodeErrorKind::NestedStreamStart
    );
    assert!(d.in_stream());
    // A truncated stream start leaves the state alone.
    let mut d = Decoder::new(2);
    assert!(d.decode(Frame::new(b'S').u32(1).bytes()).is_err());
    assert!(!d.in_stream());
}

#[test]
fn stream_commit_and_abort() {
    assert_eq!(
        decode_ok(2, stream_commit_frame()),
        Message::StreamCommit(StreamCommit {
            xid: 900,
            flags: 0,
            commit_lsn: Lsn(0x200),
            end_lsn: Lsn(0x280),
            commit_ts: PgTimestamp(123),
        })
    );
    let short = StreamAbort {
        xid: 900,
        subxid: 901,
        abort_lsn: None,
        abort_ts: None,
    };
    assert_eq!(
        decode_ok(2, stream_abort_frame(false)),
        Message::StreamAbort(short.clone())
    );
    assert_eq!(
        decode_ok(4, stream_abort_frame(false)),
        Message::StreamAbort(short)
    );
    assert_eq!(
        decode_ok(4, stream_abort_frame(true)),
        Message::StreamAbort(StreamAbort {
            xid: 900,
            subxid: 901,
            abort_lsn: Some(Lsn(0x300)),
            abort_ts: Some(PgTimestamp(456)),
        })
    );
    // Before protocol 4 the abort info does not exist, so it is trailing garbage.
    assert_eq!(
        err_kind(3, stream_abort_frame(true)),
        (9, DecodeErrorKind::TrailingBytes(16))
    );
    // Protocol 4 with partial abort info.
    let partial = Frame::new(b'A').u32(1).u32(1).u64(5).bytes();
    assert_eq!(
        err_kind(4, partial),
        (
            9,
            DecodeErrorKind::UnexpectedEnd {
                needed: 16,
                remaining: 8
            }
        )
    );
}

#[test]
fn two_phase_messages() {
    let info = |flags| PrepareInfo {
        flags,
        prepare_lsn: Lsn(0x400),
        end_lsn: Lsn(0x480),
        prepare_ts: PgTimestamp(789),
        xid: 950,
        gid: "gid-1".into(),
    };
    assert_eq!(
        decode_ok(3, prepare_like_frame(b'b')),
        Message::BeginPrepare(info(0))
    );
    assert_eq!(
        decode_ok(3, prepare_like_frame(b'P')),
        Message::Prepare(info(0))
    );
    assert_eq!(
        decode_ok(3, prepare_like_frame(b'p')),
        Message::StreamPrepare(info(0))
    );
    assert_eq!(
        decode_ok(3, commit_prepared_frame()),
        Message::CommitPrepared(CommitPrepared {
            flags: 0,
            commit_lsn: Lsn(0x500),
            end_lsn: Lsn(0x580),
            commit_ts: PgTimestamp(1),
            xid: 951,
            gid: "gid-2".into(),
        })
    );
    assert_eq!(
        decode_ok(3, rollback_prepared_frame()),
        Message::RollbackPrepared(RollbackPrepared {
            flags: 0,
            prepare_end_lsn: Lsn(0x600),
            rollback_end_lsn: Lsn(0x680),
            prepare_ts: PgTimestamp(2),
            rollback_ts: PgTimestamp(3),
            xid: 952,
            gid: "gid-3".into(),
        })
    );
}

#[test]
fn tags_need_their_protocol_version() {
    let cases: [(Bytes, u8, u32); 9] = [
        (stream_start(1, true), b'S', 2),
        (Frame::new(b'E').bytes(), b'E', 2),
        (stream_commit_frame(), b'c', 2),
        (stream_abort_frame(false), b'A', 2),
        (prepare_like_frame(b'b'), b'b', 3),
        (prepare_like_frame(b'P'), b'P', 3),
        (prepare_like_frame(b'p'), b'p', 3),
        (commit_prepared_frame(), b'K', 3),
        (rollback_prepared_frame(), b'r', 3),
    ];
    for (frame, tag, min_version) in cases {
        let kind = err_kind(min_version - 1, frame.clone()).1;
        assert_eq!(
            kind,
            DecodeErrorKind::TagNeedsNewerProtocol {
                tag,
                min_version,
                protocol_version: min_version - 1
            }
        );
        assert!(decode(min_version, tag == b'E', frame).is_ok());
    }
}

#[test]
fn unknown_tags_and_empty_frames() {
    for tag in [b'Z', b'x', 0, 0xff, b'N'] {
        assert_eq!(
            err_kind(4, Frame::new(tag).bytes()),
            (0, DecodeErrorKind::UnknownTag(tag))
        );
    }
    assert_eq!(
        err_kind(1, Bytes::new()),
        (
            0,
            DecodeErrorKind::UnexpectedEnd {
                needed: 1,
                remaining: 0
            }
        )
    );
}

#[test]
fn unknown_tuple_kind() {
    let frame = Frame::new(b'I')
        .u32(1)
        .u8(b'N')
        .u16(2)
        .u8(b'n')
        .u8(b'q')
        .bytes();
    assert_eq!(
        err_kind(1, frame),
        (9, DecodeErrorKind::UnknownTupleKind(b'q'))
    );
}

#[test]
fn strings_must_be_nul_terminated_utf8() {
    let missing = Frame::new(b'O').u64(1).raw(b"abc").bytes();
    assert_eq!(err_kind(1, missing), (9, DecodeErrorKind::MissingNul));
    let invalid = Frame::new(b'O').u64(1).raw(b"ab\xff\xfe\0").bytes();
    assert_eq!(err_kind(1, invalid), (11, DecodeErrorKind::InvalidUtf8));
    let column = Frame::new(b'R')
        .u32(1)
        .str("s")
        .str("t")
        .u8(b'd')
        .u16(1)
        .u8(0)
        .raw(b"\xc3(\0")
        .u32(23)
        .i32(-1)
        .bytes();
    assert_eq!(err_kind(1, column), (13, DecodeErrorKind::InvalidUtf8));
}

#[test]
fn trailing_bytes_are_rejected() {
    for (name, version, in_stream, frame) in samples() {
        let mut longer = frame.to_vec();
        longer.push(0);
        let err = decode(version, in_stream, Bytes::from(longer)).unwrap_err();
        if name == "stream abort v4 no info" {
            // One extra byte reads as the start of the abort info.
            assert!(matches!(err.kind, DecodeErrorKind::UnexpectedEnd { .. }));
        } else {
            assert_eq!(
                (err.offset, err.kind),
                (frame.len(), DecodeErrorKind::TrailingBytes(1)),
                "{name}"
            );
        }
    }
}

#[test]
fn every_truncation_is_an_error_pointing_inside_the_frame() {
    for (name, version, in_stream, frame) in samples() {
        for cut in 0..frame.len() {
            if name == "stream abort v4" && cut == 9 {
                // Without abort info this is a complete protocol 4 stream abort.
                continue;
            }
            let short = frame.slice(..cut);
            let err = decode(version, in_stream, short.clone())
                .expect_err(&format!("{name} cut at {cut} decoded"));
            match err.kind {
                DecodeErrorKind::UnexpectedEnd { needed, remaining } => {
                    assert_eq!(err.offset + remaining, cut, "{name} cut at {cut}");
                    assert!(needed > remaining, "{name} cut at {cut}");
                }
                DecodeErrorKind::MissingNul => {
                    assert!(err.offset <= cut, "{name} cut at {cut}");
                    assert!(
                        !short[err.offset..].contains(&0),
                        "{name} cut at {cut}: string at {} has a NUL",
                        err.offset
                    );
                }
                other => panic!("{name} cut at {cut}: unexpected {other:?}"),
            }
        }
    }
}

#[test]
fn overlong_lengths_fail_before_allocating() {
    // Value length 0x7fffffff with a few bytes behind it.
    let frame = Frame::new(b'I')
        .u32(1)
        .u8(b'N')
        .u16(1)
        .u8(b't')
        .i32(i32::MAX)
        .raw(b"abc")
        .bytes();
    assert_eq!(
        err_kind(1, frame),
        (
            13,
            DecodeErrorKind::UnexpectedEnd {
                needed: i32::MAX as usize,
                remaining: 3
            }
        )
    );
    let negative = Frame::new(b'I')
        .u32(1)
        .u8(b'N')
        .u16(1)
        .u8(b'b')
        .i32(-1)
        .bytes();
    assert_eq!(
        err_kind(1, negative),
        (9, DecodeErrorKind::NegativeLength(-1))
    );
    // Column count 0xffff: more than PostgreSQL allows at all.
    let frame = Frame::new(b'I')
        .u32(1)
        .u8(b'N')
        .u16(0xffff)
        .u8(b'n')
        .bytes();
    assert_eq!(
        err_kind(1, frame),
        (
            6,
            DecodeErrorKind::TooManyColumns {
                count: 0xffff,
                max: 1664
            }
        )
    );
    // A plausible count that the frame is too short for.
    let frame = Frame::new(b'I')
        .u32(1)
        .u8(b'N')
        .u16(1000)
        .raw(b"nnn")
        .bytes();
    assert_eq!(
        err_kind(1, frame),
        (
            8,
            DecodeErrorKind::UnexpectedEnd {
                needed: 1000,
                remaining: 3
            }
        )
    );
    // Relation columns take at least 10 bytes each.
    let frame = Frame::new(b'R')
        .u32(1)
        .str("s")
        .str("t")
        .u8(b'd')
        .u16(100)
        .raw(&[0; 50])
        .bytes();
    assert_eq!(
        err_kind(1, frame),
        (
            12,
            DecodeErrorKind::UnexpectedEnd {
                needed: 1000,
                remaining: 50
            }
        )
    );
    let frame = Frame::new(b'R')
        .u32(1)
        .str("s")
        .str("t")
        .u8(b'd')
        .u16(0xffff)
        .bytes();
    assert!(matches!(
        err_kind(1, frame).1,
        DecodeErrorKind::TooManyColumns { count: 0xffff, .. }
    ));
    // Truncate with a huge relation count.
    let frame = Frame::new(b'T').u32(u32::MAX).u8(0).u32(1).bytes();
    assert_eq!(
        err_kind(1, frame),
        (
            6,
            DecodeErrorKind::UnexpectedEnd {
                needed: u32::MAX as usize * 4,
                remaining: 4
            }
        )
    );
    // Message content length larger than the frame.
    let frame = Frame::new(b'M')
        .u8(0)
        .u64(1)
        .str("p")
        .i32(0x7fff_ffff)
        .bytes();
    assert!(matches!(
        err_kind(1, frame).1,
        DecodeErrorKind::UnexpectedEnd {
            needed: 0x7fff_ffff,
            remaining: 0
        }
    ));
}

#[test]
fn versions_outside_the_range_are_clamped() {
    assert_eq!(Decoder::new(0).protocol_version(), 1);
    assert_eq!(Decoder::new(9).protocol_version(), 4);
    assert_eq!(Decoder::new(3).protocol_version(), 3);
}

#[test]
fn error_display_explains_the_problem() {
    let e = DecodeError {
        offset: 7,
        kind: DecodeErrorKind::UnknownTag(b'Z'),
    };
    let text = e.to_string();
    assert!(
        text.starts_with("pgoutput decode error at byte 7: "),
        "{text}"
    );
    assert!(text.contains("'Z'"), "{text}");
    let e = DecodeError {
        offset: 0,
        kind: DecodeErrorKind::UnknownTupleKind(0x01),
    };
    assert!(e.to_string().contains("0x01"), "{e}");
}
