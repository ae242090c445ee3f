//! One event that cannot go to Kafka, through the real binary against a real PostgreSQL and
//! broker: a record larger than the producer's `message.max.bytes`, and a timestamp beyond what
//! Debezium's microsecond timestamps can hold. With `[errors] mode = "fail"` (the
//! default) pgcdc exits 1 with one line naming table, key, LSN and fix, and the slot stays
//! before the failing transaction; switched to `skip`, `warn` or a dead-letter topic, the next
//! run resumes at that very event and passes it as configured.

mod common;

use std::time::Duration;

use common::cdc::{Capture, ConnectorFile};
use common::kafka::{Rec, TestKafka};
use common::pg::TestPg;

const TIMEOUT: Duration = Duration::from_secs(60);

/// The single ERROR line of a failed run, checked for exit code 1 and no panic.
fn one_error_line(status: std::process::ExitStatus, stderr: &str) -> String {
    assert_eq!(status.code(), Some(1), "exit status {status}:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "expected one error line:\n{stderr}");
    eprintln!("{}", errors[0]);
    errors[0].to_string()
}

/// The commit LSN an error line names (`commit lsn X/Y`).
fn commit_lsn_in(line: &str) -> String {
    let at = line.find("commit lsn ").expect("line names the commit lsn") + 11;
    line[at..].split([',', ' ']).next().unwrap().to_string()
}

fn slot_lsn(pg: &TestPg, slot: &str) -> String {
    pg.psql(&format!(
        "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '{slot}'"
    ))
}

/// `a < b` as pg_lsn values.
fn lsn_lt(pg: &TestPg, a: &str, b: &str) -> bool {
    pg.psql(&format!("SELECT '{a}'::pg_lsn < '{b}'::pg_lsn")) == "t"
}

fn header(r: &Rec, name: &str) -> String {
    String::from_utf8(
        r.header(name)
            .unwrap_or_else(|| panic!("no {name} header: {:?}", r.headers))
            .to_vec(),
    )
    .unwrap()
}

fn ids(recs: &[Rec]) -> Vec<i64> {
    let mut v: Vec<i64> = recs
        .iter()
        .filter_map(|r| r.value.as_ref()?["after"]["id"].as_i64())
        .collect();
    v.sort();
    v.dedup();
    v
}

fn print_headers(r: &Rec) {
    for (k, v) in &r.headers {
        eprintln!(
            "dead-letter header {k} = {}",
            String::from_utf8_lossy(v.as_deref().unwrap_or_default())
        );
    }
}

/// A snapshot row's `pgcdc.event.id` has the form `<lsn>:<table>.<chunk>.<row>`.
fn assert_snapshot_row_id(r: &Rec) {
    let id = header(r, "pgcdc.event.id");
    assert_eq!(
        id.split_once(':')
            .map(|(_, place)| place.split('.').count()),
        Some(3),
        "a snapshot row's id: {id}"
    );
}

/// Replaces the connector file with `base` plus an `[errors]` section.
fn set_errors(cap: &Capture, base: &str, errors: &str) {
    std::fs::write(&cap.connector, format!("{base}\n[errors]\n{errors}\n")).unwrap();
}

#[test]
fn record_larger_than_message_max_bytes() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql("CREATE TABLE big (id int PRIMARY KEY, body text)");
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("big"));
    let base = std::fs::read_to_string(&cap.connector).unwrap();
    cap.run_once();
    pg.psql("INSERT INTO big VALUES (1, 'small')");
    pg.psql("INSERT INTO big VALUES (2, repeat('x', 1500000))");
    pg.psql("INSERT INTO big VALUES (3, 'small again')");

    // fail (the default): exit 1, one line, the slot before the big row's transaction.
    let (status, stderr) = cap.run_failing(TIMEOUT);
    let line = one_error_line(status, &stderr);
    for needle in [
        "public.big",
        "{\"id\":2}",
        "message.max.bytes",
        "[sink.properties]",
        "errors] mode",
        "bytes",
    ] {
        assert!(line.contains(needle), "{needle:?} missing: {line}");
    }
    let failed_at = commit_lsn_in(&line);
    let topic = kafka.read_topic("big.public.big", 1, Duration::from_secs(20));
    assert_eq!(ids(&topic), vec![1], "only the row before the failure");
    let first_commit = header(&topic[0], "pgcdc.event.id");
    let first_commit = first_commit.split(':').next().unwrap();
    let slot = slot_lsn(&pg, "big_slot");
    assert!(
        lsn_lt(&pg, first_commit, &slot) && lsn_lt(&pg, &slot, &failed_at),
        "slot at {slot}: must be past row 1 (commit {first_commit}) and before row 2 (commit {failed_at})"
    );

    // Dead-letter topic: the next run starts at the big row and parks it there.
    set_errors(
        &cap,
        &base,
        "mode = \"warn\"\ndead_letter_topic = \"big.dlq\"",
    );
    cap.run_to_current(&pg);
    let dlq = kafka.read_topic("big.dlq", 1, Duration::from_secs(30));
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    let d = &dlq[0];
    assert_eq!(
        d.key.as_ref().unwrap()["id"],
        2,
        "keeps its key: {:?}",
        d.key
    );
    assert!(d.value.is_none(), "the value is what did not fit");
    assert_eq!(header(d, "pgcdc.error.kind"), "record_too_large");
    assert_eq!(header(d, "pgcdc.error.table"), "public.big");
    assert_eq!(header(d, "pgcdc.error.topic"), "big.public.big");
    assert_eq!(header(d, "pgcdc.error.lsn"), failed_at);
    assert!(header(d, "pgcdc.event.id").starts_with(&format!("{failed_at}:")));
    let size: u64 = header(d, "pgcdc.error.size").parse().unwrap();
    assert!(size > 1_500_000, "size {size}");
    assert!(header(d, "pgcdc.error.message").contains("too large"));
    let log = cap.log();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("public.big") && l.contains("{\"id\":2}")),
        "no warn line for the passed event:\n{log}"
    );
    let topic = kafka.read_topic("big.public.big", 2, Duration::from_secs(20));
    assert_eq!(
        ids(&topic),
        vec![1, 3],
        "row 3 follows, row 2 went to the dead letters"
    );
    print_headers(d);
}

/// A row of the initial snapshot larger than `message.max.bytes` follows `[errors] mode` like a
/// streamed one: `fail` stops with the same one line, a dead-letter topic takes it and the
/// snapshot completes.
#[test]
fn snapshot_row_larger_than_message_max_bytes() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql(
        "CREATE TABLE snapbig (id int PRIMARY KEY, body text);
         INSERT INTO snapbig VALUES (1, 'small'), (2, repeat('x', 1500000)), (3, 'small again');",
    );
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("snapbig"));
    let base = std::fs::read_to_string(&cap.connector).unwrap();

    let (status, stderr) = cap.run_failing(TIMEOUT);
    let line = one_error_line(status, &stderr);
    for needle in [
        "public.snapbig",
        "{\"id\":2}",
        "message.max.bytes",
        "errors] mode",
    ] {
        assert!(line.contains(needle), "{needle:?} missing: {line}");
    }

    set_errors(
        &cap,
        &base,
        "mode = \"skip\"\ndead_letter_topic = \"snapbig.dlq\"",
    );
    cap.run_once();
    let o = cap.offsets("snapbig").expect("offsets written");
    assert_eq!(o["snapshot_completed"], serde_json::json!(true), "{o}");
    let dlq = kafka.read_topic("snapbig.dlq", 1, Duration::from_secs(30));
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    let d = &dlq[0];
    assert_eq!(d.key.as_ref().unwrap()["id"], 2);
    assert_eq!(header(d, "pgcdc.error.kind"), "record_too_large");
    assert_eq!(header(d, "pgcdc.error.table"), "public.snapbig");
    assert_snapshot_row_id(d);
    let topic = kafka.read_topic("snapbig.public.snapbig", 2, Duration::from_secs(20));
    assert_eq!(ids(&topic), vec![1, 3], "row 2 went to the dead letters");
}

#[test]
fn value_that_cannot_be_converted() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    // PostgreSQL's timestamps reach 294276 AD; Debezium's MicroTimestamp (microseconds since
    // 1970 in an int64) ends in 294247 AD, so such a value has no representation.
    pg.psql("CREATE TABLE names (id int PRIMARY KEY, at timestamp)");
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("far"));
    let base = std::fs::read_to_string(&cap.connector).unwrap();
    cap.run_once();
    pg.psql("INSERT INTO names VALUES (1, '2024-02-29 12:00:00')");
    pg.psql("INSERT INTO names VALUES (2, '294270-01-01 00:00:00')");
    pg.psql("INSERT INTO names VALUES (3, '2025-01-01 00:00:00')");

    let (status, stderr) = cap.run_failing(TIMEOUT);
    let line = one_error_line(status, &stderr);
    for needle in [
        "public.names",
        "column at",
        "{\"id\":2}",
        "294270-01-01",
        "errors] mode",
    ] {
        assert!(line.contains(needle), "{needle:?} missing: {line}");
    }
    let failed_at = commit_lsn_in(&line);
    let slot = slot_lsn(&pg, "far_slot");
    assert!(
        lsn_lt(&pg, &slot, &failed_at),
        "slot at {slot} passed the failing transaction {failed_at}"
    );
    let topic = kafka.read_topic("far.public.names", 1, Duration::from_secs(20));
    assert_eq!(ids(&topic), vec![1], "only the row before the failure");

    // skip: passed and counted, rows 1 and 3 published.
    set_errors(&cap, &base, "mode = \"skip\"");
    cap.run_to_current(&pg);
    let topic = kafka.read_topic("far.public.names", 2, Duration::from_secs(30));
    assert_eq!(ids(&topic), vec![1, 3]);
    let slot = slot_lsn(&pg, "far_slot");
    assert!(lsn_lt(&pg, &failed_at, &slot), "skip passes the event");

    // warn + dead-letter topic: the next bad row is parked with its reason.
    pg.psql("INSERT INTO names VALUES (4, '294275-06-30 10:00:00')");
    pg.psql("INSERT INTO names VALUES (5, '2026-01-01 00:00:00')");
    set_errors(
        &cap,
        &base,
        "mode = \"warn\"\ndead_letter_topic = \"far.dlq\"",
    );
    cap.run_to_current(&pg);
    let dlq = kafka.read_topic("far.dlq", 1, Duration::from_secs(30));
    assert_eq!(
        dlq.len(),
        1,
        "only row 4 (row 2 was skipped before): {dlq:?}"
    );
    let d = &dlq[0];
    assert_eq!(d.key.as_ref().unwrap()["id"], 4);
    assert!(d.value.is_none());
    assert_eq!(header(d, "pgcdc.error.kind"), "value_conversion");
    assert_eq!(header(d, "pgcdc.error.column"), "at");
    assert_eq!(header(d, "pgcdc.error.table"), "public.names");
    assert_eq!(header(d, "pgcdc.error.topic"), "far.public.names");
    assert!(header(d, "pgcdc.error.message").contains("294275-06-30"));
    let lsn = header(d, "pgcdc.error.lsn");
    assert!(header(d, "pgcdc.event.id").starts_with(&format!("{lsn}:")));
    let topic = kafka.read_topic("far.public.names", 3, Duration::from_secs(30));
    assert_eq!(ids(&topic), vec![1, 3, 5]);
    print_headers(d);
}

/// The initial snapshot applies `[errors]` to a row it cannot convert as the stream does: `fail`
/// stops before it (nothing recorded as done), `skip` with a dead-letter topic parks it and the
/// snapshot completes with the other rows.
#[test]
fn snapshot_value_that_cannot_be_converted() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql(
        "CREATE TABLE farsnap (id int PRIMARY KEY, at timestamp);
         INSERT INTO farsnap VALUES (1, '2024-02-29 12:00:00'), (2, '294270-01-01 00:00:00'),
                                    (3, '2025-01-01 00:00:00'), (4, '2026-01-01 00:00:00');",
    );
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("farsnap"));
    let base = std::fs::read_to_string(&cap.connector).unwrap();

    let (status, stderr) = cap.run_failing(TIMEOUT);
    let line = one_error_line(status, &stderr);
    for needle in [
        "public.farsnap",
        "column at",
        "{\"id\":2}",
        "out of range for io.debezium.time.MicroTimestamp",
        "errors] mode",
    ] {
        assert!(line.contains(needle), "{needle:?} missing: {line}");
    }
    assert!(
        cap.offsets("farsnap")
            .is_none_or(|o| o["snapshot_completed"] != serde_json::json!(true)),
        "a failed snapshot is not recorded as done"
    );

    set_errors(
        &cap,
        &base,
        "mode = \"skip\"\ndead_letter_topic = \"farsnap.dlq\"",
    );
    cap.run_once();
    let o = cap.offsets("farsnap").expect("offsets written");
    assert_eq!(o["snapshot_completed"], serde_json::json!(true), "{o}");
    let dlq = kafka.read_topic("farsnap.dlq", 1, Duration::from_secs(30));
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    let d = &dlq[0];
    assert_eq!(d.key.as_ref().unwrap()["id"], 2);
    assert!(d.value.is_none());
    assert_eq!(header(d, "pgcdc.error.kind"), "value_conversion");
    assert_eq!(header(d, "pgcdc.error.column"), "at");
    assert_eq!(header(d, "pgcdc.error.table"), "public.farsnap");
    assert_snapshot_row_id(d);
    let mut rows = ids(&kafka.read_topic("farsnap.public.farsnap", 3, Duration::from_secs(20)));
    rows.sort();
    assert_eq!(rows, vec![1, 3, 4], "row 2 went to the dead letters");
}

/// The same far-future timestamp met by an incremental snapshot: a chunk's row follows
/// `[errors]` like a streamed change, and the other rows of its chunk are published.
#[test]
fn incremental_snapshot_value_that_cannot_be_converted() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    pg.psql(
        "CREATE TABLE dbz_signal (id text PRIMARY KEY, type text NOT NULL, data text);
         CREATE TABLE farinc (id int PRIMARY KEY, at timestamp);
         INSERT INTO farinc VALUES (1, '2024-02-29 12:00:00'), (2, '294270-01-01 00:00:00'),
                                   (3, '2025-01-01 00:00:00'), (4, '2026-01-01 00:00:00');",
    );
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("farinc").extra(
            "[snapshot]\nmode = \"no_data\"\n\
             [signal]\ndata_collection = \"public.dbz_signal\"\n",
        ),
    );
    let base = std::fs::read_to_string(&cap.connector).unwrap();
    cap.run_once();
    pg.psql(
        "INSERT INTO dbz_signal VALUES ('req-1', 'execute-snapshot',
           '{\"data-collections\": [\"public.farinc\"]}');",
    );

    let (status, stderr) = cap.run_failing(TIMEOUT);
    let line = one_error_line(status, &stderr);
    for needle in [
        "public.farinc",
        "column at",
        "{\"id\":2}",
        "out of range for io.debezium.time.MicroTimestamp",
        "errors] mode",
    ] {
        assert!(line.contains(needle), "{needle:?} missing: {line}");
    }
    assert!(
        kafka
            .read_topic("farinc.public.farinc", 0, Duration::from_secs(3))
            .is_empty(),
        "the failing chunk was published in part"
    );

    set_errors(
        &cap,
        &base,
        "mode = \"skip\"\ndead_letter_topic = \"farinc.dlq\"",
    );
    let mut child = cap.spawn(None);
    let dlq = kafka.read_topic("farinc.dlq", 1, TIMEOUT);
    let rows = kafka.read_topic("farinc.public.farinc", 3, TIMEOUT);
    cap.terminate(&mut child);
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    let d = &dlq[0];
    print_headers(d);
    assert_eq!(d.key.as_ref().unwrap()["id"], 2);
    assert!(d.value.is_none());
    assert_eq!(header(d, "pgcdc.error.kind"), "value_conversion");
    assert_eq!(header(d, "pgcdc.error.column"), "at");
    assert_eq!(header(d, "pgcdc.error.table"), "public.farinc");
    assert!(!header(d, "pgcdc.event.id").is_empty());
    assert!(rows.iter().all(|r| r.op() == Some("r")), "{rows:?}");
    assert_eq!(ids(&rows), vec![1, 3, 4], "row 2 went to the dead letters");
}
