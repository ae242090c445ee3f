//! pgcdc under faults, each while a writer commits small transactions: the walsender killed,
//! PostgreSQL restarted (fast and immediate), the broker frozen. pgcdc runs without
//! --until-lsn and must recover by itself: it must catch up (the slot confirms the end of the
//! workload) without being restarted. A final `run_to_current` then checks, through
//! tests/common/verify.rs, that every committed change is in Kafka with per-key order kept and
//! stable event ids.

mod common;

use std::collections::BTreeSet;
use std::process::Child;
use std::time::{Duration, Instant};

use common::cdc::{Capture, ConnectorFile};
use common::kafka::{free_port, KafkaOptions, Rec, TestKafka};
use common::pg::{StopMode, TestPg};
use common::proxy::{CutMode, Proxy};
use common::verify::{verify, wait_confirmed, Verified, Workload, Writer, EVENT_ID_HEADER};

struct Rig {
    name: &'static str,
    pg: TestPg,
    kafka: TestKafka,
    cap: Capture,
    w: Workload,
    started: Instant,
    /// What happened when (fault times, slot positions), printed if the check fails.
    notes: Vec<String>,
}

impl Rig {
    fn new(name: &'static str, w: Workload) -> Rig {
        let started = Instant::now();
        let pg = TestPg::start();
        let kafka = TestKafka::start();
        Rig::with(name, w, started, pg, kafka, ConnectorFile::new(name))
    }

    /// Creates the workload's tables and runs pgcdc once (slot and publication created).
    fn with(
        name: &'static str,
        w: Workload,
        started: Instant,
        pg: TestPg,
        kafka: TestKafka,
        file: ConnectorFile,
    ) -> Rig {
        w.create_tables(&pg);
        let cap = Capture::new(&pg, &kafka, file);
        cap.run_once();
        Rig {
            name,
            pg,
            kafka,
            cap,
            w,
            started,
            notes: Vec::new(),
        }
    }

    fn slot(&self) -> String {
        format!("{}_slot", self.name)
    }

    /// The slot's confirmed position.
    fn slot_lsn(&self) -> String {
        self.pg.psql(&format!(
            "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '{}'",
            self.slot()
        ))
    }

    /// Waits until pgcdc holds the slot again (it reconnected).
    fn wait_streaming(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let sql = format!(
            "SELECT active FROM pg_replication_slots WHERE slot_name = '{}'",
            self.slot()
        );
        while Instant::now() < deadline {
            if self.pg.try_psql(&sql).is_ok_and(|o| o.trim() == "t") {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "pgcdc did not reconnect within {timeout:?}:\n{}",
            self.cap.log()
        );
    }

    /// The writer is done: the running pgcdc must catch up by itself, then stop cleanly; a
    /// final run and the check follow.
    fn finish(&mut self, mut child: Child, mut writer: Writer) -> Verified {
        writer.finish();
        let end = self.pg.mark_end();
        assert!(
            wait_confirmed(&self.pg, &self.slot(), &end, Duration::from_secs(90)),
            "pgcdc did not catch up to {end} by itself:\n{}",
            self.cap.log()
        );
        self.cap.assert_running(&mut child);
        self.cap.terminate(&mut child);
        self.cap.run_to_current(&self.pg);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            verify(&self.kafka, self.name, &self.w)
        })) {
            Ok(v) => v,
            Err(panic) => {
                self.explain_gaps();
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// After a failed check: the ledger records around each run of missing rows (their commit
    /// LSNs, compared with the slot positions noted during the faults, tell whether pgcdc had
    /// been told they were acknowledged), and what the logs say.
    fn explain_gaps(&self) {
        let topic = format!("{}.public.ledger", self.name);
        let recs = self
            .kafka
            .read_topic(&topic, self.w.txns as usize, Duration::from_secs(30));
        let id = |r: &Rec| {
            r.value
                .as_ref()
                .map_or(-1, |v| v["after"]["id"].as_i64().unwrap_or(-1))
        };
        let present: BTreeSet<i64> = recs.iter().map(id).collect();
        let missing: Vec<i64> = (1..=self.w.txns).filter(|i| !present.contains(i)).collect();
        eprintln!(
            "{topic}: {} records, {} ids missing",
            recs.len(),
            missing.len()
        );
        let edges: Vec<i64> = missing
            .iter()
            .enumerate()
            .filter(|(i, m)| {
                *i == 0
                    || *i + 1 == missing.len()
                    || missing[i - 1] != **m - 1
                    || missing[i + 1] != **m + 1
            })
            .map(|(_, m)| *m)
            .take(8)
            .collect();
        for m in &edges {
            for r in recs.iter().filter(|r| (id(r) - m).abs() == 1) {
                eprintln!(
                    "  next to missing id {m}: id {} offset {} event id {}",
                    id(r),
                    r.offset,
                    r.header(EVENT_ID_HEADER)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .unwrap_or_default()
                );
            }
        }
        for n in &self.notes {
            eprintln!("  {n}");
        }
        let log = self.cap.log();
        let notable: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .filter(|l| !l.contains("Connection refused") && !l.contains("brokers are down"))
            .take(40)
            .collect();
        eprintln!(
            "pgcdc warnings and errors (first 40):\n{}",
            notable.join("\n")
        );
    }

    fn report(&self, faults: &str, v: &Verified, writer_interruptions: usize) {
        eprintln!(
            "faults: {faults}; {} ledger + {} counter records for {} transactions ({} replays); \
             writer resumed {writer_interruptions} times; {:.1?}",
            v.ledger_records,
            v.counter_records,
            self.w.txns,
            v.replays,
            self.started.elapsed()
        );
    }
}

#[test]
fn walsender_killed() {
    const KILLS: usize = 5;
    let mut rig = Rig::new(
        "wskill",
        Workload {
            txns: 3000,
            keys: 10,
            pace: Duration::from_millis(25),
        },
    );
    let mut child = rig.cap.spawn(None);
    rig.wait_streaming(Duration::from_secs(30));
    let writer = rig.w.start_writer(&rig.pg);
    let kill_sql = format!(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
         WHERE slot_name = '{}' AND active_pid IS NOT NULL",
        rig.slot()
    );
    let mut kills = 0;
    let mut while_writing = 0;
    while kills < KILLS {
        rig.wait_streaming(Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(800));
        rig.cap.assert_running(&mut child);
        if rig.pg.psql(&kill_sql).trim() == "t" {
            kills += 1;
            while_writing += writer.is_running() as usize;
        }
    }
    let interruptions = writer.interruptions();
    let v = rig.finish(child, writer);
    rig.report(
        &format!("walsender kills {kills} ({while_writing} while writing)"),
        &v,
        interruptions,
    );
    assert!(
        while_writing >= 3,
        "only {while_writing} walsender kills while the writer ran"
    );
    let reconnects = rig
        .cap
        .log()
        .matches("session failed, reconnecting")
        .count();
    assert!(
        reconnects >= kills,
        "{reconnects} reconnects for {kills} kills"
    );
}

#[test]
fn postgres_restarted() {
    let mut rig = Rig::new(
        "pgrestart",
        Workload {
            txns: 6000,
            keys: 10,
            pace: Duration::from_millis(25),
        },
    );
    let mut child = rig.cap.spawn(None);
    rig.wait_streaming(Duration::from_secs(30));
    let writer = rig.w.start_writer(&rig.pg);
    let modes = [
        StopMode::Fast,
        StopMode::Immediate,
        StopMode::Fast,
        StopMode::Immediate,
        StopMode::Fast,
        StopMode::Immediate,
    ];
    let mut while_writing = 0;
    for mode in modes {
        // Reconnecting after a restart goes through the backoff; a minute is plenty.
        rig.wait_streaming(Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(1000));
        rig.cap.assert_running(&mut child);
        while_writing += writer.is_running() as usize;
        rig.pg.stop(mode);
        std::thread::sleep(Duration::from_millis(500));
        rig.pg.start_again();
    }
    rig.wait_streaming(Duration::from_secs(60));
    let interruptions = writer.interruptions();
    let v = rig.finish(child, writer);
    rig.report(
        &format!("postgres restarts 3 fast + 3 immediate ({while_writing} while writing)"),
        &v,
        interruptions,
    );
    assert!(
        while_writing >= 4,
        "only {while_writing} restarts while the writer ran"
    );
}

/// Runs both halves of a two-configuration fault test at once (so that they overlap), and
/// fails if either does.
fn in_parallel(a: impl FnOnce() + Send, b: impl FnOnce() + Send) {
    std::thread::scope(|s| {
        let handles = [s.spawn(a), s.spawn(b)];
        for h in handles {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

/// A connector file, with librdkafka's `message.timeout.ms` set when given.
fn with_message_timeout(name: &str, message_timeout_ms: Option<u32>) -> ConnectorFile {
    let file = ConnectorFile::new(name);
    match message_timeout_ms {
        Some(ms) => file.extra(&format!(
            "\n[sink.properties]\n\"message.timeout.ms\" = \"{ms}\"\n"
        )),
        None => file,
    }
}

/// SIGSTOP the broker for 30 s, three times, while transactions are in flight, in two
/// configurations at once (two servers, two brokers; one test so that they overlap):
/// - librdkafka's default delivery timeout (5 min): pgcdc just waits (backpressure), then
///   everything is delivered once the broker answers again;
/// - a delivery timeout shorter than the pause: deliveries fail while the broker is frozen, and
///   each failure must end the session and resend from the durable position (with a fresh
///   producer), never skip.
#[test]
fn broker_frozen() {
    in_parallel(
        || broker_frozen_with("brokerstop", None),
        || broker_frozen_with("brokertimeout", Some(5000)),
    );
}

fn broker_frozen_with(name: &'static str, message_timeout_ms: Option<u32>) {
    const PAUSES: usize = 3;
    const PAUSE: Duration = Duration::from_secs(30);
    let w = Workload {
        txns: 11_000,
        keys: 10,
        pace: Duration::from_millis(100),
    };
    let started = Instant::now();
    let pg = TestPg::start();
    let kafka = TestKafka::start_own();
    let file = with_message_timeout(name, message_timeout_ms);
    let mut rig = Rig::with(name, w, started, pg, kafka, file);
    let mut child = rig.cap.spawn(None);
    rig.wait_streaming(Duration::from_secs(30));
    let writer = rig.w.start_writer(&rig.pg);
    let mut while_writing = 0;
    for _ in 0..PAUSES {
        std::thread::sleep(Duration::from_secs(2));
        rig.cap.assert_running(&mut child);
        while_writing += writer.is_running() as usize;
        rig.kafka.pause();
        std::thread::sleep(PAUSE);
        rig.kafka.resume();
    }
    let interruptions = writer.interruptions();
    let v = rig.finish(child, writer);
    let log = rig.cap.log();
    let reconnects = log.matches("session failed, reconnecting").count();
    rig.report(
        &format!(
            "broker frozen {PAUSES}x{PAUSE:?} ({while_writing} while writing), \
             message.timeout.ms {message_timeout_ms:?}, {reconnects} reconnects"
        ),
        &v,
        interruptions,
    );
    assert_eq!(
        while_writing, PAUSES,
        "the writer finished before the broker pauses did"
    );
    if message_timeout_ms.is_some() {
        assert!(
            reconnects >= PAUSES,
            "expected failed deliveries to end sessions:\n{log}"
        );
    }
}

/// The broker process killed (SIGKILL) and a new one started on the same port and data, three
/// times, once after 30 s, while transactions are in flight. Apache Kafka keeps what it
/// acknowledged in its log files, so nothing acknowledged may be missing afterwards.
/// While the broker is gone pgcdc must not confirm anything new to the slot; afterwards it must
/// catch up by itself, and the topics must hold every change in per-key order. Two
/// configurations at once, as for the frozen broker: librdkafka's default delivery timeout
/// (pgcdc waits for the broker), and one shorter than the stop (sessions fail and resend).
#[test]
fn broker_restarted() {
    in_parallel(
        || broker_restarted_with("brokerrestart", None),
        || broker_restarted_with("brokerrestartfail", Some(5000)),
    );
}

fn broker_restarted_with(name: &'static str, message_timeout_ms: Option<u32>) {
    const STOPS: [Duration; 3] = [
        Duration::from_secs(30),
        Duration::from_secs(8),
        Duration::from_secs(8),
    ];
    // Long enough that the writer still runs at the last restart: a Kafka broker restarting
    // after SIGKILL recovers its logs and starts a JVM, which takes seconds on a loaded host.
    let w = Workload {
        txns: 20_000,
        keys: 10,
        pace: Duration::from_millis(100),
    };
    let started = Instant::now();
    let pg = TestPg::start();
    let kafka = TestKafka::start_own();
    let file = with_message_timeout(name, message_timeout_ms);
    let mut rig = Rig::with(name, w, started, pg, kafka, file);
    let mut child = rig.cap.spawn(None);
    rig.wait_streaming(Duration::from_secs(30));
    let writer = rig.w.start_writer(&rig.pg);
    let mut while_writing = 0;
    for stop in STOPS {
        std::thread::sleep(Duration::from_secs(3));
        rig.cap.assert_running(&mut child);
        while_writing += writer.is_running() as usize;
        let before = rig.slot_lsn();
        rig.kafka.stop();
        // Acknowledgements that arrived before the kill may still be confirmed; after that,
        // with no broker, the slot must stand still.
        std::thread::sleep(Duration::from_secs(2));
        let held = rig.slot_lsn();
        std::thread::sleep(stop - Duration::from_secs(2));
        let after = rig.slot_lsn();
        assert_eq!(
            held, after,
            "the slot moved from {held} to {after} while the broker was down"
        );
        rig.cap.assert_running(&mut child);
        rig.kafka.start_again();
        rig.notes.push(format!(
            "broker stopped at {:.1?} for {stop:?}: slot at {before} just before the stop, {held} \
             while the broker was gone (everything before {held} was acknowledged by the stopped \
             broker)",
            rig.started.elapsed() - stop
        ));
    }
    let interruptions = writer.interruptions();
    let v = rig.finish(child, writer);
    let log = rig.cap.log();
    let reconnects = log.matches("session failed, reconnecting").count();
    rig.report(
        &format!(
            "broker restarts {} (SIGKILL, down {:?}, one of 30 s; {while_writing} while writing), \
             message.timeout.ms {message_timeout_ms:?}, {reconnects} reconnects",
            STOPS.len(),
            STOPS
        ),
        &v,
        interruptions,
    );
    assert_eq!(
        while_writing,
        STOPS.len(),
        "the writer finished before the broker restarts did"
    );
    // Not one per stop: a session that starts while the broker is gone waits in topic creation
    // for it to come back instead of failing again.
    if message_timeout_ms.is_some() {
        assert!(
            reconnects >= 1,
            "expected failed deliveries to end sessions:\n{log}"
        );
    }
}

/// The network between pgcdc and a server cut while transactions are in flight, through a TCP
/// proxy (tests/common/proxy.rs): `Reset` drops every connection and closes new ones,
/// `Blackhole` lets nothing through and answers nothing (only timeouts tell), `DropReplies`
/// lets produce requests reach the broker but loses its acknowledgements, then `heal`. In
/// front of the broker (which advertises the proxy, so every connection goes through it) and,
/// at the same time, in front of PostgreSQL (replication and SQL connections). While the
/// broker is cut off the slot must stand still; pgcdc must recover by itself, lose nothing,
/// keep per-key order, and give replays the event id of their first copy.
#[test]
fn network_cut() {
    std::thread::scope(|s| {
        let broker = s.spawn(network_cut_broker);
        let postgres = s.spawn(network_cut_postgres);
        for h in [broker, postgres] {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

/// Time for acknowledgements that crossed before a cut to reach the slot.
const SETTLE: Duration = Duration::from_millis(2500);

fn network_cut_broker() {
    const CUTS: [(CutMode, Duration); 4] = [
        (CutMode::Reset, Duration::from_secs(6)),
        (CutMode::Blackhole, Duration::from_secs(12)),
        (CutMode::Reset, Duration::from_secs(6)),
        (CutMode::DropReplies, Duration::from_secs(8)),
    ];
    let name = "netcutkafka";
    let w = Workload {
        txns: 4000,
        keys: 10,
        pace: Duration::from_millis(100),
    };
    let started = Instant::now();
    let proxy_port = free_port();
    let kafka = TestKafka::start_with(KafkaOptions {
        advertised_port: Some(proxy_port),
        ..Default::default()
    });
    let proxy = Proxy::start(proxy_port, kafka.port());
    let pg = TestPg::start();
    let mut rig = Rig::with(name, w, started, pg, kafka, ConnectorFile::new(name));
    let mut child = rig.cap.spawn(None);
    rig.wait_streaming(Duration::from_secs(30));
    let writer = rig.w.start_writer(&rig.pg);
    let mut while_writing = 0;
    for (mode, len) in CUTS {
        std::thread::sleep(Duration::from_secs(3));
        rig.cap.assert_running(&mut child);
        while_writing += writer.is_running() as usize;
        proxy.cut(mode);
        std::thread::sleep(SETTLE);
        let held = rig.slot_lsn();
        std::thread::sleep(len - SETTLE);
        let after = rig.slot_lsn();
        assert_eq!(
            held, after,
            "the slot moved from {held} to {after} while the broker was cut off ({mode:?})"
        );
        proxy.heal();
        rig.notes.push(format!(
            "broker cut off ({mode:?}) at {:.1?} for {len:?}: slot held at {held}",
            rig.started.elapsed() - len
        ));
    }
    let interruptions = writer.interruptions();
    let v = rig.finish(child, writer);
    let count = |mode| CUTS.iter().filter(|(m, _)| *m == mode).count();
    rig.report(
        &format!(
            "network cuts to the broker {} ({} reset, {} blackhole, {} replies dropped; \
             {while_writing} while writing; {} connections through the proxy)",
            CUTS.len(),
            count(CutMode::Reset),
            count(CutMode::Blackhole),
            count(CutMode::DropReplies),
            proxy.accepted()
        ),
        &v,
        interruptions,
    );
    assert_eq!(while_writing, CUTS.len(), "the writer finished too early");
}

fn network_cut_postgres() {
    const CUTS: [(CutMode, Duration); 3] = [
        (CutMode::Reset, Duration::from_secs(4)),
        (CutMode::Blackhole, Duration::from_secs(8)),
        (CutMode::Reset, Duration::from_secs(4)),
    ];
    let name = "netcutpg";
    let w = Workload {
        txns: 4000,
        keys: 10,
        pace: Duration::from_millis(100),
    };
    let started = Instant::now();
    let pg = TestPg::start();
    let kafka = TestKafka::start();
    let proxy = Proxy::start(free_port(), pg.port());
    let mut rig = Rig::with(
        name,
        w,
        started,
        pg,
        kafka,
        ConnectorFile::new(name).port(proxy.port()),
    );
    let mut child = rig.cap.spawn(None);
    rig.wait_streaming(Duration::from_secs(30));
    let writer = rig.w.start_writer(&rig.pg);
    let mut while_writing = 0;
    for (mode, len) in CUTS {
        rig.wait_streaming(Duration::from_secs(60));
        std::thread::sleep(Duration::from_secs(2));
        rig.cap.assert_running(&mut child);
        while_writing += writer.is_running() as usize;
        proxy.cut(mode);
        std::thread::sleep(len);
        proxy.heal();
    }
    rig.wait_streaming(Duration::from_secs(60));
    let interruptions = writer.interruptions();
    let v = rig.finish(child, writer);
    let reconnects = rig
        .cap
        .log()
        .matches("session failed, reconnecting")
        .count();
    let resets = CUTS.iter().filter(|(m, _)| *m == CutMode::Reset).count();
    rig.report(
        &format!(
            "network cuts to postgres {} ({resets} reset, {} blackhole; {while_writing} while \
             writing), {reconnects} reconnects",
            CUTS.len(),
            CUTS.len() - resets,
        ),
        &v,
        interruptions,
    );
    assert_eq!(while_writing, CUTS.len(), "the writer finished too early");
    assert!(
        reconnects >= CUTS.len(),
        "{reconnects} reconnects for {} cuts",
        CUTS.len()
    );
}
