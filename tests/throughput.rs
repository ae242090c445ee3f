//! Rough throughput of the hot path (decode-free): Insert messages → events → JSON records,
//! for the probe's `narrow(id bigserial primary key, a int, b text)` table with 40-char texts.
//! Ignored by default: run with `cargo test --release --test throughput -- --ignored --nocapture`
//! (debug builds are ~10x slower).

use std::time::Instant;

use bytes::Bytes;
use pgcdc::event::{EventBuilder, EventConfig};
use pgcdc::format::json::JsonFormat;
use pgcdc::lsn::Lsn;
use pgcdc::source::pgoutput::*;

#[test]
#[ignore]
fn narrow_inserts_per_second() {
    let mut b = EventBuilder::new(EventConfig::new("dbz", "postgres"));
    let mut events = Vec::new();
    let col = |name: &str, oid, key| Column {
        flags: key as u8,
        name: name.into(),
        type_oid: oid,
        type_modifier: -1,
    };
    let rel = Relation {
        xid: None,
        oid: 1,
        namespace: "public".into(),
        name: "narrow".into(),
        replica_identity: ReplicaIdentity::Default,
        columns: vec![
            col("id", 20, true),
            col("a", 23, false),
            col("b", 25, false),
        ],
    };
    b.handle(Lsn(1), &Message::Relation(rel), &mut events)
        .unwrap();
    let begin = Message::Begin(Begin {
        final_lsn: Lsn(1),
        commit_ts: PgTimestamp(800_000_000_000_000),
        xid: 1,
    });
    b.handle(Lsn(1), &begin, &mut events).unwrap();
    let n = 200_000u64;
    let msgs: Vec<Message> = (0..n)
        .map(|i| {
            Message::Insert(Insert {
                xid: None,
                relation_oid: 1,
                new: TupleData(vec![
                    TupleValue::Text(Bytes::from(i.to_string())),
                    TupleValue::Text(Bytes::from((i % 1000).to_string())),
                    TupleValue::Text(Bytes::from(format!("{:040}", i))),
                ]),
            })
        })
        .collect();
    let mut f = JsonFormat::new(false);
    let mut records = Vec::with_capacity(1024);
    let mut bytes = 0usize;
    let start = Instant::now();
    for (i, m) in msgs.iter().enumerate() {
        b.handle(Lsn(100 + i as u64), m, &mut events).unwrap();
        for ev in events.drain(..) {
            f.encode(&ev, &mut records).unwrap();
        }
        for r in records.drain(..) {
            bytes += r.value.map_or(0, |v| v.len()) + r.key.map_or(0, |k| k.len());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} rows in {secs:.3} s: {:.0} rows/s, {:.0} bytes/row",
        n as f64 / secs,
        bytes as f64 / n as f64
    );
    assert!(bytes > 0);
}
