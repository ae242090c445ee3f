//! Decodes pgoutput messages captured from a real PostgreSQL 15 server
//! (scripts/capture-pgoutput-fixtures.sh) and checks that what comes out matches the workload
//! that produced them.

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use pgcdc::source::pgoutput::*;

fn unhex(line: &str) -> Vec<u8> {
    assert!(line.len().is_multiple_of(2), "odd hex line length");
    (0..line.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&line[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn decode_fixture(name: &str, version: u32) -> Vec<Message> {
    let path = format!(
        "{}/tests/fixtures/pgoutput/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut decoder = Decoder::new(version);
    let messages: Vec<Message> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .enumerate()
        .map(|(i, line)| {
            decoder
                .decode(Bytes::from(unhex(line)))
                .unwrap_or_else(|e| panic!("{name} line {}: {e}", i + 1))
        })
        .collect();
    assert!(!decoder.in_stream(), "{name}: ends inside a stream block");
    assert!(!messages.is_empty(), "{name}: no messages");
    messages
}

fn kind(m: &Message) -> &'static str {
    match m {
        Message::Begin(_) => "B",
        Message::Commit(_) => "C",
        Message::Origin(_) => "O",
        Message::Relation(_) => "R",
        Message::Type(_) => "Y",
        Message::Insert(_) => "I",
        Message::Update(_) => "U",
        Message::Delete(_) => "D",
        Message::Truncate(_) => "T",
        Message::Message(_) => "M",
        Message::StreamStart(_) => "S",
        Message::StreamStop => "E",
        Message::StreamCommit(_) => "c",
        Message::StreamAbort(_) => "A",
        Message::BeginPrepare(_) => "b",
        Message::Prepare(_) => "P",
        Message::CommitPrepared(_) => "K",
        Message::RollbackPrepared(_) => "r",
        Message::StreamPrepare(_) => "p",
    }
}

fn counts(messages: &[Message]) -> HashMap<&'static str, usize> {
    let mut out = HashMap::new();
    for m in messages {
        *out.entry(kind(m)).or_default() += 1;
    }
    out
}

fn text(v: &TupleValue) -> Option<&str> {
    match v {
        TupleValue::Text(b) => Some(std::str::from_utf8(b).expect("utf8 text value")),
        _ => None,
    }
}

fn relations(messages: &[Message]) -> HashMap<u32, Relation> {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::Relation(r) => Some((r.oid, r.clone())),
            _ => None,
        })
        .collect()
}

fn oid_of(rels: &HashMap<u32, Relation>, name: &str) -> u32 {
    rels.values()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no relation {name}"))
        .oid
}

/// Checks that hold for every capture: transaction framing and LSN order.
fn check_framing(messages: &[Message]) {
    let mut open_begin: Option<&Begin> = None;
    let mut open_prepare: Option<&PrepareInfo> = None;
    for m in messages {
        match m {
            Message::Begin(b) => {
                assert!(open_begin.is_none(), "nested begin");
                open_begin = Some(b);
            }
            Message::Commit(c) => {
                let b = open_begin.take().expect("commit without begin");
                assert_eq!(b.final_lsn, c.commit_lsn);
                assert!(c.end_lsn > c.commit_lsn);
                assert_eq!(c.flags, 0);
                assert!(c.commit_ts.unix_micros() > 1_600_000_000_000_000);
            }
            Message::BeginPrepare(b) => open_prepare = Some(b),
            Message::Prepare(p) => {
                let b = open_prepare.take().expect("prepare without begin prepare");
                assert_eq!((b.xid, &b.gid), (p.xid, &p.gid));
                assert_eq!(b.prepare_lsn, p.prepare_lsn);
                assert!(p.end_lsn > p.prepare_lsn);
            }
            Message::StreamCommit(c) => assert!(c.end_lsn > c.commit_lsn),
            Message::CommitPrepared(c) => assert!(c.end_lsn > c.commit_lsn),
            _ => {}
        }
    }
    assert!(open_begin.is_none() && open_prepare.is_none());
}

/// The non-streamed part of the workload, common to every capture.
fn check_row_changes(messages: &[Message], binary: bool) {
    let rels = relations(messages);
    let t_default = &rels[&oid_of(&rels, "t_default")];
    let t_full = &rels[&oid_of(&rels, "t_full")];
    assert_eq!(t_default.namespace, "public");
    assert_eq!(t_default.replica_identity, ReplicaIdentity::Default);
    let names: Vec<&str> = t_default.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "name", "feeling", "big"]);
    let keys: Vec<bool> = t_default.columns.iter().map(Column::is_key).collect();
    assert_eq!(keys, [true, false, false, false]);
    assert_eq!(t_default.columns[0].type_oid, 23); // int4
    assert_eq!(t_default.columns[1].type_oid, 25); // text
    assert_eq!(t_full.replica_identity, ReplicaIdentity::Full);
    assert!(t_full.columns.iter().all(Column::is_key));
    // numeric(10,2): typmod is ((10 << 16) | 2) + VARHDRSZ.
    assert_eq!(t_full.columns[2].type_modifier, ((10 << 16) | 2) + 4);

    // The enum type is described before the relation that uses it.
    let ty = messages
        .iter()
        .find_map(|m| match m {
            Message::Type(t) => Some(t),
            _ => None,
        })
        .expect("type message for the enum");
    assert_eq!(
        (ty.namespace.as_str(), ty.name.as_str()),
        ("public", "mood")
    );
    assert_eq!(t_default.columns[2].type_oid, ty.oid);

    let changes_to = |oid: u32| -> Vec<&Message> {
        messages
            .iter()
            .filter(|m| match m {
                Message::Insert(i) => i.relation_oid == oid,
                Message::Update(u) => u.relation_oid == oid,
                Message::Delete(d) => d.relation_oid == oid,
                _ => false,
            })
            .collect()
    };

    let d = changes_to(t_default.oid);
    assert_eq!(d.len(), 5, "t_default changes: {d:?}");
    let Message::Insert(alice) = d[0] else {
        panic!("expected insert, got {:?}", d[0])
    };
    assert!(alice.xid.is_none());
    if binary {
        assert_eq!(
            alice.new.0[0],
            TupleValue::Binary(Bytes::from_static(&[0, 0, 0, 1]))
        );
        assert_eq!(
            alice.new.0[1],
            TupleValue::Binary(Bytes::from_static(b"alice"))
        );
    } else {
        assert_eq!(text(&alice.new.0[0]), Some("1"));
        assert_eq!(text(&alice.new.0[1]), Some("alice"));
        assert_eq!(text(&alice.new.0[2]), Some("happy"));
        assert_eq!(text(&alice.new.0[3]), Some("x".repeat(3000).as_str()));
    }
    let Message::Insert(bob) = d[1] else { panic!() };
    assert_eq!(bob.new.0[3], TupleValue::Null);

    // Updating another column leaves the out-of-line TOAST value out of the message.
    let Message::Update(rename) = d[2] else {
        panic!()
    };
    assert!(rename.old.is_none());
    assert_eq!(rename.new.0[3], TupleValue::UnchangedToast);
    if !binary {
        assert_eq!(text(&rename.new.0[1]), Some("alice2"));
    }

    // A primary-key change carries the old key.
    let Message::Update(pk) = d[3] else { panic!() };
    let Some(OldTuple::Key(old)) = &pk.old else {
        panic!("pk change without old key: {pk:?}")
    };
    assert_eq!(old.0[1], TupleValue::Null, "non-key columns are null");
    let Message::Delete(del) = d[4] else { panic!() };
    assert!(matches!(del.old, OldTuple::Key(_)));
    if !binary {
        assert_eq!(text(&old.0[0]), Some("2"));
        assert_eq!(text(&pk.new.0[0]), Some("10"));
        assert_eq!(text(&del.old.data().0[0]), Some("10"));
    }

    // REPLICA IDENTITY FULL: whole old rows.
    let f = changes_to(t_full.oid);
    let Message::Update(u) = f[1] else {
        panic!("{:?}", f[1])
    };
    let Some(OldTuple::Old(old)) = &u.old else {
        panic!("full update without old row")
    };
    assert_eq!(old.0.len(), 3);
    let Message::Delete(del) = f[2] else { panic!() };
    assert!(matches!(del.old, OldTuple::Old(_)));
    if !binary {
        assert_eq!(text(&old.0[1]), Some("first"));
        assert_eq!(text(&old.0[2]), Some("12.50"));
        assert_eq!(text(&u.new.0[1]), Some("second"));
        assert_eq!(text(&del.old.data().0[1]), Some("second"));
    }

    // Logical messages.
    let msgs: Vec<&LogicalMessage> = messages
        .iter()
        .filter_map(|m| match m {
            Message::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(msgs.len(), 2);
    let tx = msgs.iter().find(|m| m.transactional()).unwrap();
    let non_tx = msgs.iter().find(|m| !m.transactional()).unwrap();
    assert_eq!(tx.prefix, "pgcdc-test");
    assert_eq!(&tx.content[..], b"transactional hello");
    assert_eq!(non_tx.prefix, "pgcdc-test");
    assert_eq!(&non_tx.content[..], b"non-transactional hello");
    assert!(tx.lsn > alice_commit_lsn(messages));

    // Truncates: the second one has CASCADE and RESTART IDENTITY.
    let truncates: Vec<&Truncate> = messages
        .iter()
        .filter_map(|m| match m {
            Message::Truncate(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(truncates.len(), 2);
    assert_eq!(truncates[0].options, 0);
    assert_eq!(truncates[0].relation_oids, [t_full.oid]);
    assert_eq!(truncates[1].options, 3);
    assert!(truncates[1].relation_oids.contains(&t_full.oid));

    // The replicated-from-upstream transaction: Begin, then Origin, then its insert.
    let at = messages
        .iter()
        .position(|m| matches!(m, Message::Origin(_)))
        .expect("origin message");
    let Message::Origin(origin) = &messages[at] else {
        unreachable!()
    };
    assert_eq!(origin.name, "upstream");
    assert_eq!(origin.commit_lsn, "0/ABCDEF".parse().unwrap());
    assert!(matches!(messages[at - 1], Message::Begin(_)));
    let Message::Insert(ins) = &messages[at + 1] else {
        panic!("{:?}", messages[at + 1])
    };
    if !binary {
        assert_eq!(text(&ins.new.0[1]), Some("from upstream"));
    }
}

fn alice_commit_lsn(messages: &[Message]) -> pgcdc::Lsn {
    messages
        .iter()
        .find_map(|m| match m {
            Message::Commit(c) => Some(c.commit_lsn),
            _ => None,
        })
        .unwrap()
}

/// Replays streamed blocks, aborts and prepares, and returns the t_big ids that ended up
/// committed.
fn committed_big_ids(messages: &[Message]) -> BTreeSet<i64> {
    let rels = relations(messages);
    let big = oid_of(&rels, "t_big");
    // (top-level xid of the block, xid the change carries, id)
    let mut pending: Vec<(u32, u32, i64)> = Vec::new();
    let mut prepared: HashMap<u32, Vec<i64>> = HashMap::new();
    let mut committed = BTreeSet::new();
    let mut block: Option<u32> = None;
    let mut in_txn = false;
    for m in messages {
        match m {
            Message::StreamStart(s) => block = Some(s.xid),
            Message::StreamStop => block = None,
            Message::Begin(_) | Message::BeginPrepare(_) => in_txn = true,
            Message::Commit(_) | Message::Prepare(_) => in_txn = false,
            Message::Relation(r) => assert_eq!(r.xid.is_some(), block.is_some()),
            Message::Insert(i) if i.relation_oid == big => {
                assert_eq!(i.new.0.len(), 1, "column list publishes only id");
                let id: i64 = text(&i.new.0[0]).unwrap().parse().unwrap();
                match block {
                    Some(top) => pending.push((top, i.xid.expect("streamed xid"), id)),
                    None => {
                        assert!(in_txn && i.xid.is_none());
                        committed.insert(id);
                    }
                }
            }
            Message::StreamAbort(a) => pending.retain(|&(top, carried, _)| {
                top != a.xid || (a.subxid != a.xid && carried != a.subxid)
            }),
            Message::StreamCommit(c) => {
                pending.retain(|&(top, _, id)| {
                    if top == c.xid {
                        committed.insert(id);
                    }
                    top != c.xid
                });
            }
            Message::StreamPrepare(p) => pending.retain(|&(top, _, id)| {
                if top == p.xid {
                    prepared.entry(p.xid).or_default().push(id);
                }
                top != p.xid
            }),
            Message::CommitPrepared(c) => {
                committed.extend(prepared.remove(&c.xid).unwrap_or_default())
            }
            Message::RollbackPrepared(r) => {
                prepared.remove(&r.xid);
            }
            _ => {}
        }
    }
    assert!(pending.is_empty(), "streamed rows never resolved");
    assert!(prepared.is_empty(), "prepared rows never resolved");
    committed
}

fn expected_big_ids() -> BTreeSet<i64> {
    (1..=400)
        .chain(1001..=1400)
        .chain([3000])
        .chain(5001..=5400)
        .collect()
}

#[test]
fn v1_text() {
    let messages = decode_fixture("v1.hex", 1);
    let c = counts(&messages);
    // 13 transactions touch the small publication (the rolled-back prepared one does not).
    assert_eq!(c["B"], 13);
    assert_eq!(c["C"], 13);
    assert_eq!(c["I"], 5);
    assert_eq!(c["U"], 3);
    assert_eq!(c["D"], 2);
    assert_eq!(c["T"], 2);
    assert_eq!(c["M"], 2);
    assert_eq!(c["O"], 1);
    assert_eq!(c["Y"], 1);
    for k in ["S", "E", "c", "A", "b", "P", "K", "r", "p"] {
        assert!(!c.contains_key(k), "protocol 1 capture has {k}");
    }
    check_framing(&messages);
    check_row_changes(&messages, false);
    // The prepared-and-committed row arrives as an ordinary transaction.
    let notes: Vec<&str> = messages
        .iter()
        .filter_map(|m| match m {
            Message::Insert(i) => i.new.0.get(1).and_then(text),
            _ => None,
        })
        .collect();
    assert!(notes.contains(&"prepared"));
    assert!(!notes.contains(&"rolled back"));
}

#[test]
fn v1_binary() {
    let messages = decode_fixture("v1-binary.hex", 1);
    assert!(messages.iter().all(|m| match m {
        Message::Insert(i) => !i.new.0.iter().any(|v| matches!(v, TupleValue::Text(_))),
        _ => true,
    }));
    check_framing(&messages);
    check_row_changes(&messages, true);
}

#[test]
fn v2_streaming() {
    let messages = decode_fixture("v2.hex", 2);
    let c = counts(&messages);
    assert!(c["S"] >= 3, "the large transactions were streamed");
    assert_eq!(c["S"], c["E"]);
    // Streamed commits: the big insert, the savepoint one and the (not two-phase) prepared one.
    assert_eq!(c["c"], 3);
    for k in ["b", "P", "K", "r", "p"] {
        assert!(!c.contains_key(k), "protocol 2 capture has {k}");
    }
    let aborts: Vec<&StreamAbort> = messages
        .iter()
        .filter_map(|m| match m {
            Message::StreamAbort(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(aborts.len(), 2);
    assert!(
        aborts.iter().any(|a| a.subxid != a.xid),
        "subtransaction abort"
    );
    assert!(aborts.iter().any(|a| a.subxid == a.xid), "whole abort");
    assert!(aborts.iter().all(|a| a.abort_lsn.is_none()));
    check_framing(&messages);
    check_row_changes(&messages, false);
    assert_eq!(committed_big_ids(&messages), expected_big_ids());
}

#[test]
fn v3_two_phase_streaming() {
    let messages = decode_fixture("v3.hex", 3);
    let c = counts(&messages);
    assert_eq!(c["b"], 2);
    assert_eq!(c["P"], 2);
    assert_eq!(c["p"], 1);
    assert_eq!(c["K"], 2);
    assert_eq!(c["r"], 1);
    assert_eq!(c["c"], 2);
    check_framing(&messages);
    check_row_changes(&messages, false);
    assert_eq!(committed_big_ids(&messages), expected_big_ids());

    let gid_of = |m: &Message| -> Option<String> {
        match m {
            Message::BeginPrepare(p) | Message::Prepare(p) | Message::StreamPrepare(p) => {
                Some(p.gid.clone())
            }
            Message::CommitPrepared(c) => Some(c.gid.clone()),
            Message::RollbackPrepared(r) => Some(r.gid.clone()),
            _ => None,
        }
    };
    let gids: Vec<(&str, String)> = messages
        .iter()
        .filter_map(|m| gid_of(m).map(|g| (kind(m), g)))
        .collect();
    let expected: Vec<(&str, String)> = [
        ("b", "gid-commit"),
        ("P", "gid-commit"),
        ("K", "gid-commit"),
        ("b", "gid-rollback"),
        ("P", "gid-rollback"),
        ("r", "gid-rollback"),
        ("p", "gid-big"),
        ("K", "gid-big"),
    ]
    .into_iter()
    .map(|(k, g)| (k, g.to_string()))
    .collect();
    assert_eq!(gids, expected);

    // The rolled-back prepared row is decoded at PREPARE time, before the rollback is known.
    let rolled_back = messages.iter().position(|m| match m {
        Message::Insert(i) => i.new.0.get(1).and_then(text) == Some("rolled back"),
        _ => false,
    });
    let rolled_back = rolled_back.expect("insert of the rolled-back prepared row");
    let Message::Prepare(p) = &messages[rolled_back + 1] else {
        panic!("{:?}", messages[rolled_back + 1])
    };
    assert_eq!(p.gid, "gid-rollback");
    let rollback = messages.iter().find_map(|m| match m {
        Message::RollbackPrepared(r) => Some(r),
        _ => None,
    });
    let r = rollback.unwrap();
    assert!(r.rollback_end_lsn > r.prepare_end_lsn);
    assert!(r.rollback_ts >= r.prepare_ts);
}
