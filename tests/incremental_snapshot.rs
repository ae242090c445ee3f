//! Incremental snapshots against a real PostgreSQL and a real broker: requested while
//! streaming (through the CLI, the signal table or the signal file), read in primary-key
//! chunks between watermarks while a writer inserts, updates, deletes and changes keys; the
//! topic replays (key by key, last value wins, deletes remove) to exactly the table. Also:
//! pause / resume / stop, additional conditions, the signal table's own rows never published,
//! and pgcdc SIGKILLed mid-snapshot resuming after its last acknowledged chunk.

mod common;

use std::process::Child;
use std::time::{Duration, Instant};

use common::cdc::{Capture, ConnectorFile};
use common::kafka::{Rec, TestKafka};
use common::pg::TestPg;
use common::replay::{background_psql, replay, table_state};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(120);

fn connector(name: &str, chunk: u32, channels: &str) -> ConnectorFile {
    ConnectorFile::new(name)
        .autocreate_mode("filtered")
        .include_tables(&["public.churn", "public.nokey"])
        .extra(&format!(
            "[snapshot]\nmode = \"no_data\"\nincremental_chunk_size = {chunk}\n\
             [signal]\ndata_collection = \"public.dbz_signal\"\nenabled_channels = [{channels}]\n\
             poll_interval = \"100ms\"\n"
        ))
}

fn setup(pg: &TestPg, rows: i64) {
    pg.psql(&format!(
        "CREATE TABLE dbz_signal (id text PRIMARY KEY, type text NOT NULL, data text);
         CREATE TABLE churn (id int PRIMARY KEY, v bigint NOT NULL, pad text);
         INSERT INTO churn SELECT g, 0, repeat('x', 60) FROM generate_series(1, {rows}) g;
         CREATE TABLE nokey (a int, b text);
         INSERT INTO nokey VALUES (1, 'x');"
    ));
}

/// Rows the stored incremental snapshot state says are emitted and acknowledged.
fn stored_rows(cap: &Capture, name: &str) -> u64 {
    cap.offsets(name).unwrap_or(Value::Null)["incremental"]["rows"]
        .as_u64()
        .unwrap_or(0)
}

fn stored_running(cap: &Capture, name: &str) -> bool {
    cap.offsets(name).unwrap_or(Value::Null)["incremental"]["tables"]
        .as_array()
        .is_some_and(|t| !t.is_empty())
}

/// Random updates, deletes, inserts and primary-key changes on `churn`, one small transaction
/// each, for `secs`.
fn writer_sql(rows: i64, secs: u32) -> String {
    format!(
        "DO $$ DECLARE stop timestamptz := clock_timestamp() + interval '{secs} seconds';
                 i int := 0; k int;
         BEGIN
           WHILE clock_timestamp() < stop LOOP
             i := i + 1;
             k := 1 + (random() * {rows})::int;
             UPDATE churn SET v = v + 1 WHERE id = k;
             k := 1 + (random() * {rows})::int;
             IF i % 4 = 0 THEN DELETE FROM churn WHERE id = k; END IF;
             IF i % 4 = 1 THEN INSERT INTO churn VALUES (1000000 + i, 1, 'new'); END IF;
             IF i % 9 = 0 THEN UPDATE churn SET id = -i WHERE id = k; END IF;
             COMMIT;
             PERFORM pg_sleep(0.0005);
           END LOOP;
         END $$;"
    )
}

/// `pgcdc snapshot` with `args`; asserts exit 0 and returns stdout.
fn cli_snapshot(cap: &Capture, args: &[&str]) -> String {
    let out = cap
        .command()
        .arg("snapshot")
        .arg(&cap.connector)
        .args(args)
        .output()
        .expect("run pgcdc snapshot");
    assert!(
        out.status.success(),
        "pgcdc snapshot {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until pgcdc confirmed everything committed so far, then stops it.
fn catch_up_and_stop(pg: &TestPg, cap: &Capture, slot: &str, child: &mut Child) {
    let end = pg.mark_end();
    assert!(
        common::verify::wait_confirmed(pg, slot, &end, WAIT),
        "pgcdc did not catch up; log:\n{}",
        cap.log()
    );
    cap.terminate(child);
}

fn snapshot_reads(recs: &[Rec]) -> Vec<&Rec> {
    recs.iter()
        .filter(|r| r.op() == Some("r"))
        .collect::<Vec<_>>()
}

#[test]
fn cli_snapshot_under_a_concurrent_writer_converges() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let rows = 4000;
    setup(&pg, rows);
    let cap = Capture::new(&pg, &kafka, connector("inc", 97, "\"source\""));
    let mut child = cap.spawn(None);
    cap.wait_for_log("streaming", WAIT);
    let mut writer = background_psql(&pg, &writer_sql(rows, 12));
    std::thread::sleep(Duration::from_millis(500));
    let said = cli_snapshot(&cap, &["--tables", "public.churn"]);
    assert!(
        said.contains("requested an incremental snapshot of public.churn")
            && said.contains("inserted into public.dbz_signal"),
        "{said}"
    );
    cap.wait_for_log("incremental snapshot completed", WAIT);
    assert!(writer.wait().unwrap().success(), "writer failed");
    catch_up_and_stop(&pg, &cap, "inc_slot", &mut child);

    let recs = kafka.read_topic("inc.public.churn", rows as usize, WAIT);
    let reads = snapshot_reads(&recs);
    assert!(
        reads.len() > rows as usize / 2,
        "only {} snapshot reads",
        reads.len()
    );
    for r in &reads {
        let v = r.value.as_ref().unwrap();
        // As Debezium 3.6.3 writes them (checked with ../shared/tools/dbz-oracle): the close
        // watermark's position twice in `sequence`, no `lsn`, no `txId`.
        let src = &v["source"];
        assert_eq!(src["snapshot"], "incremental", "{v}");
        assert_eq!(v["before"], Value::Null);
        assert!(src["lsn"].is_null() && src["txId"].is_null(), "{src}");
        let seq: Vec<Option<String>> =
            serde_json::from_str(src["sequence"].as_str().unwrap()).unwrap();
        assert!(seq[0].is_some() && seq[0] == seq[1], "{src}");
    }
    // Streamed changes are not marked.
    assert!(recs
        .iter()
        .filter(|r| r.op() == Some("u"))
        .all(|r| r.value.as_ref().unwrap()["source"]["snapshot"] == "false"));
    let table = table_state(&pg, "churn");
    let topic = replay(&recs);
    assert_eq!(topic.len(), table.len(), "row count");
    for (id, row) in &table {
        assert_eq!(topic.get(id), Some(row), "key {id}");
    }
    assert_eq!(topic, table);
    // The signal table's rows (the request and every watermark) are never published.
    assert!(kafka
        .read_topic("inc.public.dbz_signal", 0, Duration::from_secs(3))
        .is_empty());
    let stored = &cap.offsets("inc").unwrap_or(Value::Null)["incremental"];
    assert_eq!(stored["tables_done"], 1, "{stored}");
    assert!(!stored_running(&cap, "inc"));
    let status = cap
        .command()
        .arg("status")
        .arg(&cap.connector)
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains("incremental snapshot: none running (last one: 1 tables"),
        "{status}"
    );
}

#[test]
fn file_channel_with_additional_conditions_and_a_keyless_table() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    setup(&pg, 1000);
    let cap = Capture::new(&pg, &kafka, connector("fch", 64, "\"file\""));
    let mut child = cap.spawn(None);
    cap.wait_for_log("streaming", WAIT);
    // Without a source channel the CLI writes to the file channel.
    let said = cli_snapshot(
        &cap,
        &[
            "--tables",
            "public.churn,public.nokey",
            "--filter",
            "id > 900 AND id % 2 = 0",
        ],
    );
    assert!(said.contains("appended to"), "{said}");
    assert!(said.contains("where id > 900 AND id % 2 = 0"), "{said}");
    cap.wait_for_log("incremental snapshot completed", WAIT);
    assert!(
        cap.log().contains("table public.nokey has no primary key"),
        "{}",
        cap.log()
    );
    catch_up_and_stop(&pg, &cap, "fch_slot", &mut child);
    let recs = kafka.read_topic("fch.public.churn", 50, WAIT);
    let ids: Vec<i64> = snapshot_reads(&recs)
        .iter()
        .map(|r| r.key.as_ref().unwrap()["id"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = (901..=1000).filter(|i| i % 2 == 0).collect();
    assert_eq!(ids, expected);
    // A restart does not run the consumed line again.
    let lines_before = cap.log().matches("incremental snapshot requested").count();
    let mut again = cap.spawn(None);
    cap.wait_until("a second session", WAIT, || {
        cap.log().matches("streaming").count() >= 2
    });
    std::thread::sleep(Duration::from_secs(1));
    catch_up_and_stop(&pg, &cap, "fch_slot", &mut again);
    assert_eq!(
        cap.log().matches("incremental snapshot requested").count(),
        lines_before
    );
    let recs = kafka.read_topic("fch.public.churn", 50, Duration::from_secs(10));
    assert_eq!(snapshot_reads(&recs).len(), expected.len());
}

#[test]
fn pause_resume_and_stop() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let rows = 6000;
    setup(&pg, rows);
    let cap = Capture::new(&pg, &kafka, connector("prs", 5, "\"source\", \"file\""));
    let mut child = cap.spawn(None);
    cap.wait_for_log("streaming", WAIT);
    // The request through the signal table, by hand, as Debezium users do; the table named
    // by a regular expression, as Debezium allows.
    pg.psql(
        "INSERT INTO dbz_signal VALUES ('req-1', 'execute-snapshot',
           '{\"data-collections\": [\"public\\\\.chu.*\"], \"type\": \"incremental\"}')",
    );
    cap.wait_until("some chunks", WAIT, || stored_rows(&cap, "prs") >= 50);
    cli_snapshot(&cap, &["--pause"]);
    cap.wait_until("the pause stored", WAIT, || {
        cap.offsets("prs").unwrap_or(Value::Null)["incremental"]["paused"] == true
    });
    // Let the chunk that was in flight land (its count stops moving; a snapshot that ignored
    // the pause keeps it moving and times out here), then nothing more may come.
    let mut paused_at = stored_rows(&cap, "prs");
    let mut still_since = Instant::now();
    cap.wait_until("the in-flight chunk to land", WAIT, || {
        let now = stored_rows(&cap, "prs");
        if now != paused_at {
            paused_at = now;
            still_since = Instant::now();
        }
        still_since.elapsed() >= Duration::from_secs(1)
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        stored_rows(&cap, "prs"),
        paused_at,
        "rows read while paused"
    );
    let status = cap
        .command()
        .arg("status")
        .arg(&cap.connector)
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains("incremental snapshot: paused, table public.churn"),
        "{status}"
    );

    // Resume through the file channel this time.
    common_append_signal(&cap, "prs", "resume-snapshot");
    cap.wait_until("progress after resume", WAIT, || {
        stored_rows(&cap, "prs") > paused_at + 20
    });
    // A `log` signal puts its message in pgcdc's log.
    pg.psql(
        "INSERT INTO dbz_signal VALUES ('log-1', 'log', '{\"message\": \"operator marker 42\"}')",
    );
    cap.wait_for_log("log signal: operator marker 42", WAIT);
    let said = cli_snapshot(&cap, &["--stop"]);
    assert!(said.contains("to stop"), "{said}");
    cap.wait_until("the stop stored", WAIT, || !stored_running(&cap, "prs"));
    let stopped_at = stored_rows(&cap, "prs");
    assert!(
        stopped_at < rows as u64,
        "the snapshot finished before the stop"
    );
    catch_up_and_stop(&pg, &cap, "prs_slot", &mut child);
    let recs = kafka.read_topic("prs.public.churn", stopped_at as usize, WAIT);
    let reads = snapshot_reads(&recs);
    // Exactly the acknowledged chunks, in key order, no row twice.
    let ids: Vec<i64> = reads
        .iter()
        .map(|r| r.key.as_ref().unwrap()["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len() as u64, stopped_at);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "not in key order");
    assert_eq!(ids[0], 1);
}

/// Appends a signal line to the connector's signal file (`<data_dir>/<name>.signals`).
fn common_append_signal(cap: &Capture, name: &str, kind: &str) {
    use std::io::Write;
    let path = cap.dir.path().join("data").join(format!("{name}.signals"));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    writeln!(
        f,
        "{}",
        json!({"id": format!("t-{kind}"), "type": kind, "data": {}})
    )
    .unwrap();
}

#[test]
fn sigkill_mid_snapshot_resumes_after_the_last_acknowledged_chunk() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let rows = 6000;
    setup(&pg, rows);
    let cap = Capture::new(&pg, &kafka, connector("kil", 20, "\"source\""));
    let mut child = cap.spawn(None);
    cap.wait_for_log("streaming", WAIT);
    let mut writer = background_psql(&pg, &writer_sql(rows, 15));
    cli_snapshot(&cap, &["--tables", "public.churn"]);
    cap.wait_until("a third of the table", WAIT, || {
        stored_rows(&cap, "kil") >= 2000
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let before_kill = stored_rows(&cap, "kil");
    assert!(stored_running(&cap, "kil"));
    let mut child = cap.spawn(None);
    cap.wait_for_log("resuming the incremental snapshot", WAIT);
    cap.wait_for_log("incremental snapshot completed", WAIT);
    assert!(writer.wait().unwrap().success(), "writer failed");
    catch_up_and_stop(&pg, &cap, "kil_slot", &mut child);

    let recs = kafka.read_topic("kil.public.churn", rows as usize, WAIT);
    let table = table_state(&pg, "churn");
    assert_eq!(replay(&recs), table);
    // Resumed, not restarted: at most the chunks in flight at the kill are read twice.
    let reads = snapshot_reads(&recs).len() as u64;
    assert!(
        reads < rows as u64 + before_kill / 2,
        "{reads} snapshot reads for {rows} rows ({before_kill} acknowledged before the kill): restarted from the beginning?"
    );
}

#[test]
fn read_only_snapshot_without_a_signal_table_converges() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let rows = 3000;
    setup(&pg, rows);
    // No signal table at all: signals come from the file, windows close by WAL position.
    let file = ConnectorFile::new("ro")
        .autocreate_mode("filtered")
        .include_tables(&["public.churn"])
        .extra(
            "[snapshot]\nmode = \"no_data\"\nincremental_chunk_size = 250\nincremental_read_only = true\n\
             [signal]\nenabled_channels = [\"file\"]\npoll_interval = \"100ms\"\n",
        );
    let cap = Capture::new(&pg, &kafka, file);
    let mut child = cap.spawn(None);
    cap.wait_for_log("streaming", WAIT);
    let mut writer = background_psql(&pg, &writer_sql(rows, 4));
    let said = cli_snapshot(&cap, &["--tables", "public.churn"]);
    assert!(said.contains("appended to"), "{said}");
    assert!(writer.wait().unwrap().success(), "writer failed");
    cap.wait_for_log("incremental snapshot completed", WAIT);
    // Again on an idle database: its windows close on the server's keepalives.
    let end = pg.mark_end();
    assert!(common::verify::wait_confirmed(&pg, "ro_slot", &end, WAIT));
    cli_snapshot(
        &cap,
        &["--tables", "public.churn", "--filter", "id <= 1000"],
    );
    let started = Instant::now();
    cap.wait_until("the idle snapshot", WAIT, || {
        cap.log().matches("incremental snapshot completed").count() == 2
    });
    // Without asking the server for keepalives this takes the server's own keepalive period
    // per chunk (over 10 s each here).
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "idle read-only snapshot took {:?}",
        started.elapsed()
    );
    catch_up_and_stop(&pg, &cap, "ro_slot", &mut child);
    let recs = kafka.read_topic("ro.public.churn", rows as usize, WAIT);
    assert!(snapshot_reads(&recs).len() > rows as usize / 2);
    assert_eq!(replay(&recs), table_state(&pg, "churn"));
    assert_eq!(pg.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'dbz_signal' AND schemaname = 'public'").trim(), "1");
    assert_eq!(
        pg.psql("SELECT count(*) FROM dbz_signal").trim(),
        "0",
        "read-only wrote watermarks"
    );
}

#[test]
fn exactly_once_mode_commits_the_state_with_the_offset_record() {
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let rows = 1500;
    setup(&pg, rows);
    let file = ConnectorFile::new("eoi").extra(
        "exactly_once = true\ntransaction_interval = \"100ms\"\n\
         [snapshot]\nmode = \"no_data\"\nincremental_chunk_size = 200\n\
         [signal]\ndata_collection = \"public.dbz_signal\"\n",
    );
    let cap = Capture::new(&pg, &kafka, file);
    let mut child = cap.spawn(None);
    cap.wait_for_log("streaming", WAIT);
    let mut writer = background_psql(&pg, &writer_sql(rows, 3));
    cli_snapshot(&cap, &["--tables", "public.churn"]);
    cap.wait_for_log("incremental snapshot completed", WAIT);
    assert!(writer.wait().unwrap().success(), "writer failed");
    catch_up_and_stop(&pg, &cap, "eoi_slot", &mut child);
    let recs = kafka.read_topic("eoi.public.churn", rows as usize, WAIT);
    assert_eq!(replay(&recs), table_state(&pg, "churn"));
    // The last committed offset record carries the finished snapshot's state.
    let last = pgcdc::offsets::kafka::read_latest(
        &kafka.bootstrap(),
        &[],
        "eoi.pgcdc-offsets",
        "eoi",
        "eoi_slot",
        WAIT,
    )
    .unwrap()
    .expect("an offset record");
    let state = last
        .incremental
        .expect("incremental state in the offset record");
    assert_eq!(state.tables_done, 1, "{state:?}");
    assert!(!state.running());
    assert_eq!(
        state.rows,
        snapshot_reads(&recs).len() as u64,
        "rows counted = rows published"
    );
}
