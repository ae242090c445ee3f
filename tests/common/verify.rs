//! The ledger workload shared by the fault tests: a writer that commits small transactions
//! (each inserts a ledger row and bumps a per-key counter) and keeps going through server
//! restarts, and the check that everything it committed reached Kafka, in order, with stable
//! event ids.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::kafka::{Rec, TestKafka};
use super::pg::TestPg;

pub const EVENT_ID_HEADER: &str = "pgcdc.event.id";

#[derive(Debug, Clone, Copy)]
pub struct Workload {
    pub txns: i64,
    pub keys: i64,
    /// Every 10 transactions the writer sleeps this long, so that faults land mid-write.
    pub pace: Duration,
}

impl Workload {
    pub fn create_tables(&self, pg: &TestPg) {
        pg.psql(&format!(
            "CREATE TABLE ledger (id bigint PRIMARY KEY, k int NOT NULL);
             CREATE TABLE counters (k int PRIMARY KEY, v bigint NOT NULL);
             INSERT INTO counters SELECT g, 0 FROM generate_series(0, {}) g;",
            self.keys - 1
        ));
    }

    /// Starts the writer in a background thread.
    pub fn start_writer(&self, pg: &TestPg) -> Writer {
        let w = *self;
        let psql = pg.bin("psql");
        let port = pg.port();
        let done = Arc::new(AtomicBool::new(false));
        let failures = Arc::new(AtomicUsize::new(0));
        let handle = {
            let done = done.clone();
            let failures = failures.clone();
            std::thread::spawn(move || {
                let r = w.write_all(&psql, port, &failures);
                done.store(true, Ordering::SeqCst);
                r
            })
        };
        Writer {
            handle: Some(handle),
            done,
            failures,
        }
    }

    /// Commits transactions until the ledger holds `txns` rows. Each run of psql resumes from
    /// the ledger's highest id, so a run cut short by a server restart is simply run again:
    /// every transaction commits its ledger row and its counter bump together.
    fn write_all(&self, psql: &PathBuf, port: u16, failures: &AtomicUsize) -> Result<(), String> {
        let Workload { txns, keys, pace } = *self;
        let sql = format!(
            "DO $$ DECLARE first bigint; BEGIN
               SELECT coalesce(max(id), 0) + 1 INTO first FROM ledger;
               FOR i IN first..{txns} LOOP
                 INSERT INTO ledger VALUES (i, i % {keys});
                 UPDATE counters SET v = v + 1 WHERE k = i % {keys};
                 COMMIT;
                 IF i % 10 = 0 THEN PERFORM pg_sleep({}); END IF;
               END LOOP; END $$;",
            pace.as_secs_f64()
        );
        let started = Instant::now();
        loop {
            let out = Command::new(psql)
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
                .args(["-U", "postgres", "-d", "postgres"])
                .arg("-p")
                .arg(port.to_string())
                .args(["-c", &sql])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run psql: {e}"))?;
            if out.status.success() {
                return Ok(());
            }
            failures.fetch_add(1, Ordering::SeqCst);
            if started.elapsed() > Duration::from_secs(600) {
                return Err(format!(
                    "writer gave up: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

pub struct Writer {
    handle: Option<JoinHandle<Result<(), String>>>,
    done: Arc<AtomicBool>,
    failures: Arc<AtomicUsize>,
}

impl Writer {
    pub fn is_running(&self) -> bool {
        !self.done.load(Ordering::SeqCst)
    }

    /// psql runs that ended early (server restarts) and were resumed.
    pub fn interruptions(&self) -> usize {
        self.failures.load(Ordering::SeqCst)
    }

    /// Waits for the writer to finish; panics if it failed.
    pub fn finish(&mut self) {
        if let Some(h) = self.handle.take() {
            h.join().expect("writer thread").expect("writer");
        }
    }
}

/// What the check found, for the test's summary line.
#[derive(Debug)]
pub struct Verified {
    pub ledger_records: usize,
    pub counter_records: usize,
    /// Records published more than once (replays of unacknowledged transactions).
    pub replays: usize,
}

/// Reads `<prefix>.public.ledger` and `<prefix>.public.counters` and asserts:
/// - every committed ledger row is there (nothing lost);
/// - per counter key the values arrive in order: each value is the next one, or a replay of
///   one already seen (a sequence may step back after a restart but never skips);
/// - every record carries an event id; a replayed record has the id of its first copy, and
///   distinct changes have distinct ids.
pub fn verify(kafka: &TestKafka, prefix: &str, w: &Workload) -> Verified {
    let n = w.txns as usize;
    let ledger = kafka.read_topic(
        &format!("{prefix}.public.ledger"),
        n,
        Duration::from_secs(120),
    );
    let counters = kafka.read_topic(
        &format!("{prefix}.public.counters"),
        n,
        Duration::from_secs(120),
    );

    let mut seen = BTreeSet::new();
    for r in &ledger {
        seen.insert(after(r, "id"));
    }
    let missing: Vec<i64> = (1..=w.txns)
        .filter(|i| !seen.contains(i))
        .take(10)
        .collect();
    assert!(
        missing.is_empty(),
        "lost ledger rows, first ones: {missing:?}"
    );

    let mut per_key: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for r in &counters {
        per_key
            .entry(after(r, "k"))
            .or_default()
            .push(after(r, "v"));
    }
    assert_eq!(per_key.len() as i64, w.keys, "not every counter key seen");
    for (k, vs) in &per_key {
        let mut high = 0;
        for (i, v) in vs.iter().enumerate() {
            assert!(
                *v == high + 1 || *v <= high,
                "key {k}: value {v} after high-water {high} at position {i} (skipped a change)"
            );
            high = high.max(*v);
        }
        assert_eq!(
            high,
            w.txns / w.keys,
            "key {k} did not reach its final value"
        );
    }

    // Identity of a change → its event id, and back.
    let mut id_of: HashMap<String, String> = HashMap::new();
    let mut change_of: HashMap<String, String> = HashMap::new();
    let mut replays = 0;
    let records = ledger
        .iter()
        .map(|r| (format!("ledger {}", after(r, "id")), r))
        .chain(
            counters
                .iter()
                .map(|r| (format!("counter {}={}", after(r, "k"), after(r, "v")), r)),
        );
    for (change, r) in records {
        // Snapshot reads are not stream events: they carry no commit position to derive an id
        // from (a redone snapshot reads again at a new point).
        if r.op() == Some("r") {
            continue;
        }
        let id = r
            .header(EVENT_ID_HEADER)
            .map(|v| String::from_utf8(v.to_vec()).expect("event id is UTF-8"))
            .unwrap_or_else(|| panic!("{change}: no {EVENT_ID_HEADER} header"));
        match id_of.get(&change) {
            Some(first) => {
                assert_eq!(first, &id, "{change} was replayed with another event id");
                replays += 1;
            }
            None => {
                if let Some(other) = change_of.insert(id.clone(), change.clone()) {
                    panic!("event id {id} given to both {other} and {change}");
                }
                id_of.insert(change, id);
            }
        }
    }
    Verified {
        ledger_records: ledger.len(),
        counter_records: counters.len(),
        replays,
    }
}

fn after(r: &Rec, field: &str) -> i64 {
    r.value.as_ref().expect("not a tombstone")["after"][field]
        .as_i64()
        .unwrap_or_else(|| panic!("record without after.{field}: {:?}", r.value))
}

/// Waits until the slot has confirmed `lsn` (the running pgcdc caught up by itself).
pub fn wait_confirmed(pg: &TestPg, slot: &str, lsn: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let ok = pg.try_psql(&format!(
            "SELECT confirmed_flush_lsn >= '{lsn}'::pg_lsn FROM pg_replication_slots WHERE slot_name = '{slot}'"
        ));
        if ok.is_ok_and(|o| o.trim() == "t") {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// SIGKILLs `pgcdc run` at pseudo-random moments (xorshift from `seed`, so a failure can be
/// replayed) until at least `min_kills` kills happened and the writer is done; each run lives
/// `min_ms` plus up to `spread_ms`. Returns (kills, kills that landed while the writer was
/// still committing). `before_run` is called with the number of kills so far before each start.
pub fn kill_repeatedly(
    cap: &super::cdc::Capture,
    writer: &Writer,
    min_kills: usize,
    mut seed: u64,
    (min_ms, spread_ms): (u64, u64),
    started: Instant,
    mut before_run: impl FnMut(usize),
) -> (usize, usize) {
    let mut kills = 0;
    let mut kills_while_writing = 0;
    while kills < min_kills || writer.is_running() {
        before_run(kills);
        let mut child = cap.spawn(None);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(min_ms + seed % spread_ms));
        let writing = writer.is_running();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        kills_while_writing += writing as usize;
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "writer too slow"
        );
    }
    (kills, kills_while_writing)
}
