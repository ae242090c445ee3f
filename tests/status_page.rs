//! The status page at `/` as a person sees it in a browser (headless Chromium through
//! chromedriver): while an initial snapshot runs it says "snapshotting" with a progress bar;
//! its script then turns that into "streaming" without a reload and draws the slot lag and
//! latency charts; after a definite error it shows "failed" with the error and its fix. Every
//! check reads rendered text or attributes through the browser, not the HTML the server sent.

mod common;

use std::time::{Duration, Instant};

use common::browser::Browser;
use common::cdc::{Capture, ConnectorFile};
use common::http::{get, metric};
use common::kafka::TestKafka;
use common::pg::{PgOptions, TestPg};

const WAIT: Duration = Duration::from_secs(90);
const STATE: &str = "section.connector [data-field=state]";

/// Rows enough for a snapshot of many chunks (16 pages each); it is held mid-way by freezing
/// the broker, so its length does not have to outlast the checks.
const BIG_ROWS: u32 = 100_000;

fn snapshot_section() -> String {
    "[snapshot]\nmode = \"initial\"\nparallelism = 1\nchunk_pages = 16\nprogress_interval = \"1s\"\n"
        .to_string()
}

/// The number at the start of the rows figure in "... 12,345 rows scanned".
fn rows_scanned(text: &str) -> u64 {
    let before = text.split(" rows").next().unwrap_or("");
    let digits: String = before
        .rsplit(' ')
        .next()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or(0)
}

/// Number of points of an SVG path's `d` ("M x y L x y ...").
fn points(d: &str) -> usize {
    d.split_whitespace()
        .filter(|t| *t == "M" || *t == "L")
        .count()
}

#[test]
fn the_page_shows_a_running_snapshot_then_streaming_with_charts() {
    let browser = Browser::start();
    let pg = TestPg::start();
    pg.psql(&format!(
        "CREATE TABLE big (id int PRIMARY KEY, pad text);
         INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, {BIG_ROWS}) g;
         CREATE TABLE small (id int PRIMARY KEY);
         INSERT INTO small SELECT generate_series(1, 10);"
    ));
    // A broker of its own: it is frozen (SIGSTOP) to hold the snapshot open, since a snapshot
    // is not done before every row is acknowledged.
    let kafka = TestKafka::start_own();
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("sp")
            .include_tables(&["public.big", "public.small"])
            .extra(&snapshot_section()),
    );
    let port = cap.enable_http();
    let mut child = cap.spawn(None);
    // The page is opened before the broker is frozen, so that the freeze lasts only as long as
    // the checks (a long one slows the catching up after it on a loaded machine).
    let url = format!("http://127.0.0.1:{port}/");
    cap.wait_until("the listener", WAIT, || get(port, "/health").is_some());
    browser.goto(&url);
    let metrics = || get(port, "/metrics").map(|(_, b)| b).unwrap_or_default();
    cap.wait_until("the snapshot to scan its first rows", WAIT, || {
        metric(
            &metrics(),
            "pgcdc_snapshot_rows_scanned_total",
            &[("connector", "sp")],
        )
        .is_some_and(|n| n > 0.0)
    });
    kafka.pause();
    let paused = Instant::now();
    let m = metrics();
    let running = metric(&m, "pgcdc_snapshot_running", &[("connector", "sp")]);
    if running != Some(1.0) {
        kafka.resume();
        panic!("the snapshot ended before the broker was frozen; make `big` bigger:\n{m}");
    }
    // The open page's script shows the snapshot within its period.
    browser.wait_until("rows scanned", Duration::from_secs(20), |b| {
        b.text("[data-field=snapshot]")
            .is_some_and(|t| rows_scanned(&t) > 0)
    });
    let state = browser.text(STATE);
    let bar = "[data-field=snapshot-bar]";
    let progress = browser.text("[data-field=snapshot]").unwrap_or_default();
    let (max, value) = (browser.attr(bar, "max"), browser.attr(bar, "value"));
    let bar_shown = browser.displayed(bar);
    kafka.resume();
    eprintln!(
        "while the snapshot ran ({:.1} s frozen): state {state:?}, {progress:?}, bar {value:?} of {max:?}",
        paused.elapsed().as_secs_f64()
    );
    assert_eq!(state.as_deref(), Some("snapshotting"));
    assert!(bar_shown, "the progress bar is visible");
    assert_eq!(max.as_deref(), Some("2"), "two tables");
    assert!(
        matches!(value.as_deref(), Some("0" | "1")),
        "tables done: {value:?}"
    );
    assert!(
        progress.starts_with("running: ") && progress.contains(" of 2 tables done"),
        "{progress}"
    );
    assert!(rows_scanned(&progress) > 0, "{progress}");

    // No reload from here on: the page's script keeps it current. (On failure pgcdc's log
    // says more than the page.)
    cap.wait_until("the page to show streaming", 2 * WAIT, || {
        browser.text(STATE).as_deref() == Some("streaming")
    });
    let done = browser.text("[data-field=snapshot]").unwrap_or_default();
    eprintln!("after the snapshot: {done:?}");
    assert_eq!(
        done,
        format!("completed: 2 tables, {} rows", grouped(BIG_ROWS + 10))
    );
    assert_eq!(browser.attr(bar, "value").as_deref(), Some("2"));

    // Transactions for the latency chart; the lag chart needs only time.
    for i in 0..5 {
        pg.psql(&format!("INSERT INTO small VALUES ({});", 100 + i));
        std::thread::sleep(Duration::from_millis(300));
    }
    let lag = "svg[data-chart=lag] path.lag";
    let p99 = "svg[data-chart=latency] path.p99";
    browser.wait_until("a lag line and a latency line", WAIT, |b| {
        let d = |css| b.attr(css, "d").unwrap_or_default();
        points(&d(lag)) >= 3 && points(&d(p99)) >= 1
    });
    let lag_d = browser.attr(lag, "d").unwrap();
    let caption = browser.text("[data-field=lag-now]").unwrap_or_default();
    let latency = browser.text("[data-field=latency-now]").unwrap_or_default();
    eprintln!(
        "lag chart: {} points ({caption}); latency p50/p99 {latency}",
        points(&lag_d)
    );
    assert!(
        caption.starts_with("now ") && caption.contains(", peak "),
        "{caption}"
    );
    assert!(
        latency.contains(" ms") || latency.contains(" s"),
        "{latency}"
    );
    assert!(
        browser.displayed("svg[data-chart=lag]"),
        "the chart is visible"
    );
    assert!(
        !browser.displayed("[data-field=error-box]"),
        "no error shown"
    );
    cap.terminate(&mut child);
}

/// The database password, which the page must not show.
const PASSWORD: &str = "Pw-for-status-page-0815";

#[test]
fn the_page_shows_a_definite_error_with_its_fix() {
    let browser = Browser::start();
    let pg = TestPg::start_with(PgOptions {
        hba_prepend: vec!["host all,replication dora 127.0.0.1/32 scram-sha-256".into()],
        ..Default::default()
    });
    pg.psql(&format!(
        "CREATE ROLE dora LOGIN REPLICATION SUPERUSER PASSWORD '{PASSWORD}';
         CREATE TABLE fe (id int PRIMARY KEY);"
    ));
    let kafka = TestKafka::start();
    let cap = Capture::new(
        &pg,
        &kafka,
        ConnectorFile::new("fe")
            .user("dora", PASSWORD)
            .include_tables(&["public.fe"]),
    );
    let port = cap.enable_http();
    let mut child = cap.spawn(None);
    cap.wait_until("/ready 200 and streaming", WAIT, || {
        get(port, "/ready")
            .is_some_and(|(code, b)| code == 200 && b.contains(r#""state":"streaming""#))
    });
    let url = format!("http://127.0.0.1:{port}/");
    browser.goto(&url);
    assert_eq!(browser.text(STATE).as_deref(), Some("streaming"));
    assert!(!browser.displayed("[data-field=error-box]"));

    // A definite error, as in tests/http.rs: the publication is gone, so the walsender fails
    // on the next change. The open page learns it from its script.
    pg.psql("DROP PUBLICATION fe_pub;");
    pg.psql("INSERT INTO fe VALUES (1);");
    browser.wait_until("failed", WAIT, |b| {
        b.text(STATE).as_deref() == Some("failed")
    });
    let shown = |b: &Browser| {
        (
            b.displayed("[data-field=error-box]"),
            b.text("[data-field=error-kind]").unwrap_or_default(),
            b.text("[data-field=error]").unwrap_or_default(),
            b.text(".fix").unwrap_or_default(),
        )
    };
    let updated = shown(&browser);
    // And the same when the page is opened afresh (rendered by the server).
    browser.goto(&url);
    assert_eq!(browser.text(STATE).as_deref(), Some("failed"));
    let fresh = shown(&browser);
    eprintln!("after the definite error: {fresh:?}");
    for (visible, kind, error, fix) in [&updated, &fresh] {
        assert!(visible, "the error is visible");
        assert_eq!(kind, "Stopped by:");
        assert!(
            error.contains("publication \"fe_pub\" does not exist")
                && error.contains("SQLSTATE 42704"),
            "{error}"
        );
        assert_eq!(
            fix,
            "Fix: check publication.name or enable publication autocreation"
        );
    }
    assert!(
        !browser.source().contains(PASSWORD),
        "the password is on the page"
    );
    cap.assert_running(&mut child);
    // SIGTERM ends it, with the failure's exit code.
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    assert_eq!(child.wait().unwrap().code(), Some(1), "{}", cap.log());
}

/// `1234` as `1,234`, as the page writes counts.
fn grouped(n: u32) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
