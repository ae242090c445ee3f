//! The HTTP listener of `pgcdc run` against a real PostgreSQL and Apache Kafka: `/metrics`
//! counts what was written, `/ready` follows the connector's state, and after a definite error
//! (the publication dropped) the process stays up with `/health` live, `/ready` 503 and the
//! error in the body. The database password appears in no body.

mod common;

use std::process::Command;
use std::time::Duration;

use common::cdc::{Capture, ConnectorFile};
use common::http::{get, metric};
use common::kafka::TestKafka;
use common::pg::{PgOptions, StopMode, TestPg};

const PASSWORD: &str = "Pw-for-http-test-4711";
const WAIT: Duration = Duration::from_secs(60);

/// A server where user carol must log in with [`PASSWORD`].
fn server_with_password() -> TestPg {
    let pg = TestPg::start_with(PgOptions {
        hba_prepend: vec!["host all,replication carol 127.0.0.1/32 scram-sha-256".into()],
        ..Default::default()
    });
    pg.psql(&format!(
        "CREATE ROLE carol LOGIN REPLICATION SUPERUSER PASSWORD '{PASSWORD}'"
    ));
    pg
}

fn body(port: u16, path: &str) -> (u16, String) {
    get(port, path).unwrap_or_else(|| panic!("no answer on {path}"))
}

/// Every body pgcdc serves, checked for the password.
fn assert_no_password(port: u16) {
    for path in ["/metrics", "/health", "/ready"] {
        let (_, text) = body(port, path);
        assert!(
            !text.contains(PASSWORD),
            "the password is in {path}:\n{text}"
        );
    }
}

#[test]
fn metrics_and_probes_follow_the_connector() {
    let pg = server_with_password();
    pg.psql("CREATE TABLE hm (id int PRIMARY KEY, v text);");
    pg.psql("INSERT INTO hm SELECT g, 'snap' FROM generate_series(1, 4) g;");
    let kafka = TestKafka::start();
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("hm")
            .user("carol", PASSWORD)
            .include_tables(&["public.hm"]),
    );
    let port = cap.enable_http();
    let mut child = cap.spawn(None);

    // Ready while snapshotting too; streaming once the snapshot's rows are acknowledged.
    cap.wait_until("/ready 200 and streaming", WAIT, || {
        get(port, "/ready")
            .is_some_and(|(code, b)| code == 200 && b.contains(r#""state":"streaming""#))
    });

    // Four transactions: 5 creates, 3 updates, 2 deletes (their tombstones are not events),
    // and a row of a table outside tables.include.
    pg.psql("INSERT INTO hm SELECT g, 'new' FROM generate_series(5, 9) g;");
    pg.psql("UPDATE hm SET v = 'upd' WHERE id <= 3;");
    pg.psql("DELETE FROM hm WHERE id >= 8;");
    pg.psql("CREATE TABLE other (id int PRIMARY KEY); INSERT INTO other VALUES (1);");

    let events = |text: &str, op: &str| {
        metric(
            text,
            "pgcdc_events_total",
            &[("connector", "hm"), ("op", op)],
        )
        .unwrap_or(-1.0)
    };
    let text = || body(port, "/metrics").1;
    // The filtered row is the last change written.
    cap.wait_until("the filtered row counted", WAIT, || {
        one_of(&text(), "pgcdc_events_filtered_total") >= 1.0
    });
    // Latency samples and the slot's lag arrive asynchronously (acknowledgements, a poller
    // every few seconds).
    cap.wait_until("acknowledgements and the slot lag", WAIT, || {
        let t = text();
        metric(
            &t,
            "pgcdc_commit_to_ack_seconds_count",
            &[("connector", "hm")],
        )
        .is_some_and(|n| n >= 4.0)
            && metric(&t, "pgcdc_confirmed_lsn", &[("connector", "hm")]).is_some_and(|v| v > 0.0)
    });
    let m = text();
    eprintln!("{m}");
    assert_eq!(events(&m, "r"), 4.0, "snapshot rows");
    assert_eq!(events(&m, "c"), 5.0);
    assert_eq!(events(&m, "u"), 3.0);
    assert_eq!(events(&m, "d"), 2.0);
    assert_eq!(events(&m, "t"), 0.0);
    let one = |name: &str| one_of(&m, name);
    assert_eq!(one("pgcdc_snapshot_rows_scanned_total"), 4.0);
    assert_eq!(one("pgcdc_snapshot_completed"), 1.0);
    assert_eq!(one("pgcdc_snapshot_running"), 0.0);
    assert_eq!(one("pgcdc_snapshot_aborted"), 0.0);
    assert_eq!(one("pgcdc_snapshot_tables_total"), 1.0);
    assert_eq!(one("pgcdc_snapshot_tables_remaining"), 0.0);
    assert!(one("pgcdc_snapshot_duration_seconds") > 0.0);
    assert!(one("pgcdc_transactions_committed_total") >= 4.0, "{m}");
    assert_eq!(
        one("pgcdc_events_filtered_total"),
        1.0,
        "the row of `other`"
    );
    assert_eq!(one("pgcdc_event_failures_total"), 0.0);
    assert_eq!(one("pgcdc_connected"), 1.0);
    assert!(one("pgcdc_received_lsn") > 0.0);
    assert!(one("pgcdc_acknowledged_lsn") > 0.0);
    assert!(one("pgcdc_slot_lag_bytes") >= 0.0);
    assert!(one("pgcdc_milliseconds_behind_source") >= 0.0);
    let since = one("pgcdc_seconds_since_last_event");
    assert!((0.0..120.0).contains(&since), "{since}");
    assert_eq!(
        metric(
            &m,
            "pgcdc_slot_wal_status",
            &[("connector", "hm"), ("wal_status", "reserved")]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &m,
            "pgcdc_reconnects_total",
            &[("connector", "hm"), ("cause", "source")]
        ),
        Some(0.0)
    );
    assert_no_password(port);

    let (code, health) = body(port, "/health");
    assert_eq!(code, 200, "{health}");

    // A definite error: the publication is gone, so the walsender fails on the next change.
    pg.psql("DROP PUBLICATION hm_pub;");
    pg.psql("INSERT INTO hm VALUES (100, 'after');");
    cap.wait_until("/ready 503 with the error", WAIT, || {
        get(port, "/ready").is_some_and(|(code, b)| code == 503 && b.contains("publication"))
    });
    let (_, ready) = body(port, "/ready");
    eprintln!("{ready}");
    assert!(ready.contains(r#""state":"failed""#), "{ready}");
    assert!(ready.contains(r#""last_error_definite":true"#), "{ready}");
    assert!(ready.contains("publication"), "{ready}");
    let (code, health) = body(port, "/health");
    assert_eq!(
        code, 200,
        "the process is live after a definite error: {health}"
    );
    assert!(health.contains(r#""state":"failed""#), "{health}");
    cap.assert_running(&mut child);
    let m = text();
    assert_eq!(one_of(&m, "pgcdc_connected"), 0.0);
    assert_no_password(port);

    // SIGTERM ends it, with the failure's exit code.
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{}", cap.log());
    assert!(
        get(port, "/health").is_none(),
        "the listener is closed after exit"
    );
    assert!(!cap.log().contains(PASSWORD), "the password is in the log");
}

fn one_of(text: &str, name: &str) -> f64 {
    metric(text, name, &[("connector", "hm")]).unwrap_or(-1.0)
}

#[test]
fn status_json_has_the_same_facts_as_the_text() {
    let pg = server_with_password();
    pg.psql("CREATE TABLE sj (id int PRIMARY KEY);");
    let kafka = TestKafka::start();
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("sj").user("carol", PASSWORD),
    );
    cap.run_to_current(&pg);
    pg.psql("INSERT INTO sj SELECT generate_series(1, 100);");
    let out = cap
        .command()
        .args(["status", "--json"])
        .arg(&cap.connector)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains(PASSWORD), "{text}");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let c = &doc["connectors"][0];
    assert_eq!(c["connector"], "sj");
    assert_eq!(c["offsets"]["snapshot_completed"], true);
    let slot = &c["slot"];
    assert_eq!(slot["name"], "sj_slot");
    assert_eq!(slot["exists"], true);
    assert_eq!(slot["active"], false);
    let confirmed = pg
        .psql("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'sj_slot';")
        .trim()
        .to_string();
    assert_eq!(slot["confirmed_flush_lsn"], confirmed.as_str());
    assert!(c["offsets"]["position"].is_string(), "{text}");
    assert!(slot["lag_bytes"].as_u64().unwrap() > 0, "{text}");
    let (ok, plain) = cap.status();
    assert!(ok, "{plain}");
    assert!(
        plain.contains(&format!("slot: sj_slot inactive, confirmed {confirmed}")),
        "{plain}"
    );
}

/// A real Prometheus scrapes pgcdc; its query API sees the events written. Without the
/// Debian package's binary the test says so loudly and passes, except in CI, which installs it.
#[test]
fn prometheus_scrapes_pgcdc() {
    let Some(bin) = common::prometheus::binary() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus is not installed; .ci/run installs it"
        );
        eprintln!("SKIPPED: /usr/bin/prometheus is missing (apt-get install prometheus)");
        return;
    };
    let pg = TestPg::start();
    pg.psql("CREATE TABLE pm (id int PRIMARY KEY);");
    let kafka = TestKafka::start();
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("pm"));
    let port = cap.enable_http();
    let mut child = cap.spawn(None);
    let prom = common::prometheus::TestPrometheus::start(&bin, port);
    cap.wait_until("/ready 200", WAIT, || {
        get(port, "/ready").is_some_and(|(code, _)| code == 200)
    });
    pg.psql("INSERT INTO pm SELECT generate_series(1, 7);");
    let created = r#"pgcdc_events_total{job="pgcdc",connector="pm",op="c"}"#;
    cap.wait_until("prometheus to see 7 creates", WAIT, || {
        prom.query(created) == Some(7.0)
    });
    cap.wait_until("prometheus to see the slot lag", WAIT, || {
        prom.query(r#"pgcdc_slot_lag_bytes{connector="pm"}"#)
            .is_some()
    });
    assert_eq!(
        prom.query(r#"up{job="pgcdc"}"#),
        Some(1.0),
        "{}",
        prom.log()
    );
    cap.terminate(&mut child);
}

/// While the database is down the connector retries: `/ready` is 503 with the lost connection
/// in the body and a reconnect counted; once the server is back `/ready` is 200 again and the
/// changes made meanwhile are counted.
#[test]
fn ready_follows_a_database_outage() {
    let mut pg = TestPg::start();
    pg.psql("CREATE TABLE ro (id int PRIMARY KEY);");
    let kafka = TestKafka::start();
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("ro"));
    let port = cap.enable_http();
    let mut child = cap.spawn(None);
    let streaming = || {
        get(port, "/ready")
            .is_some_and(|(code, b)| code == 200 && b.contains(r#""state":"streaming""#))
    };
    cap.wait_until("/ready 200 and streaming", WAIT, streaming);

    pg.stop(StopMode::Fast);
    cap.wait_until("/ready 503 while retrying", WAIT, || {
        get(port, "/ready")
            .is_some_and(|(code, b)| code == 503 && b.contains(r#""state":"retrying""#))
    });
    let (_, ready) = body(port, "/ready");
    eprintln!("{ready}");
    assert!(ready.contains(r#""last_error_definite":false"#), "{ready}");
    let (code, _) = body(port, "/health");
    assert_eq!(code, 200);
    let m = body(port, "/metrics").1;
    assert!(
        metric(
            &m,
            "pgcdc_reconnects_total",
            &[("connector", "ro"), ("cause", "source")]
        )
        .is_some_and(|n| n >= 1.0),
        "{m}"
    );
    assert_eq!(
        metric(&m, "pgcdc_connected", &[("connector", "ro")]),
        Some(0.0)
    );

    pg.start_again();
    cap.wait_until("/ready 200 after the outage", WAIT, streaming);
    pg.psql("INSERT INTO ro SELECT generate_series(1, 3);");
    cap.wait_until("the inserts counted after the outage", WAIT, || {
        metric(
            &body(port, "/metrics").1,
            "pgcdc_events_total",
            &[("connector", "ro"), ("op", "c")],
        ) == Some(3.0)
    });
    cap.terminate(&mut child);
}

/// An incremental snapshot requested with `pgcdc snapshot` while streaming: its rows are `r`
/// events and its progress gauges end with every row and no table left.
#[test]
fn incremental_snapshot_progress_is_exposed() {
    let pg = TestPg::start();
    pg.psql(
        "CREATE TABLE dbz_signal (id text PRIMARY KEY, type text NOT NULL, data text);
         CREATE TABLE inc (id int PRIMARY KEY);
         INSERT INTO inc SELECT generate_series(1, 25);",
    );
    let kafka = TestKafka::start();
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("ins")
            .include_tables(&["public.inc"])
            .extra(
                "[snapshot]\nmode = \"no_data\"\nincremental_chunk_size = 10\n\
             [signal]\ndata_collection = \"public.dbz_signal\"\n",
            ),
    );
    let port = cap.enable_http();
    let mut child = cap.spawn(None);
    cap.wait_until("/ready 200", WAIT, || {
        get(port, "/ready").is_some_and(|(code, _)| code == 200)
    });
    let out = cap
        .command()
        .args(["snapshot"])
        .arg(&cap.connector)
        .args(["--tables", "public.inc"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gauge = |name: &str| metric(&body(port, "/metrics").1, name, &[("connector", "ins")]);
    cap.wait_until("the snapshot's rows counted", WAIT, || {
        gauge("pgcdc_incremental_snapshot_rows") == Some(25.0)
            && gauge("pgcdc_incremental_snapshot_running") == Some(0.0)
    });
    let m = body(port, "/metrics").1;
    assert_eq!(
        metric(
            &m,
            "pgcdc_events_total",
            &[("connector", "ins"), ("op", "r")]
        ),
        Some(25.0),
        "{m}"
    );
    assert_eq!(
        one_of_named(&m, "ins", "pgcdc_incremental_snapshot_chunks"),
        3.0
    );
    assert_eq!(
        one_of_named(&m, "ins", "pgcdc_incremental_snapshot_tables_remaining"),
        0.0
    );
    assert_eq!(
        one_of_named(&m, "ins", "pgcdc_incremental_snapshot_paused"),
        0.0
    );
    cap.terminate(&mut child);
}

fn one_of_named(text: &str, connector: &str, name: &str) -> f64 {
    metric(text, name, &[("connector", connector)]).unwrap_or(-1.0)
}

/// What the issue calls the most common CDC incident, seen through Prometheus: while the
/// broker is frozen nothing is acknowledged, so the slot holds the WAL written meanwhile and
/// the lag Prometheus scraped rises; once the broker is back it falls again.
#[test]
fn prometheus_sees_the_slot_lag_rise_and_fall_around_a_broker_pause() {
    let Some(bin) = common::prometheus::binary() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus is not installed; .ci/run installs it"
        );
        eprintln!("SKIPPED: /usr/bin/prometheus is missing (apt-get install prometheus)");
        return;
    };
    let pg = TestPg::start();
    pg.psql("CREATE TABLE pl (id int PRIMARY KEY, pad text);");
    let kafka = TestKafka::start_own();
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("pl"));
    let port = cap.enable_http();
    let mut child = cap.spawn(None);
    let prom = common::prometheus::TestPrometheus::start(&bin, port);
    cap.wait_until("/ready 200", WAIT, || {
        get(port, "/ready").is_some_and(|(code, _)| code == 200)
    });
    let lag = || prom.query(r#"pgcdc_slot_lag_bytes{connector="pl"}"#);
    cap.wait_until("a first lag sample", WAIT, || lag().is_some());

    kafka.pause();
    // Many small transactions: the slot's confirmed position stops at the first one the
    // broker did not acknowledge. (Inside one large transaction the server may confirm a
    // keepalive position in its middle, which is safe and keeps the lag low.)
    pg.psql(
        "DO $$ BEGIN FOR i IN 1..1000 LOOP \
         INSERT INTO pl VALUES (i, repeat('x', 1000)); COMMIT; END LOOP; END $$;",
    );
    // pgcdc's own gauge first (its poller reads the slot every 3 s), then Prometheus's copy,
    // so that a failure says which side is behind.
    cap.wait_until("pgcdc's slot lag past 500 kB", WAIT, || {
        metric(
            &body(port, "/metrics").1,
            "pgcdc_slot_lag_bytes",
            &[("connector", "pl")],
        )
        .is_some_and(|b| b > 500_000.0)
    });
    cap.wait_until("prometheus to see the lag past 500 kB", WAIT, || {
        lag().is_some_and(|b| b > 500_000.0)
    });
    let peak = prom
        .query(r#"max_over_time(pgcdc_slot_lag_bytes{connector="pl"}[5m])"#)
        .unwrap();
    eprintln!("lag peak while the broker was frozen: {peak} bytes");
    kafka.resume();
    cap.wait_until("the lag to fall below a tenth of its peak", WAIT, || {
        lag().is_some_and(|b| b < peak / 10.0)
    });
    cap.wait_until("the rows counted", WAIT, || {
        prom.query(r#"pgcdc_events_total{connector="pl",op="c"}"#) == Some(1000.0)
    });
    cap.terminate(&mut child);
}
