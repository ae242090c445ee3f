//! The replication client and admin helpers against a real PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::pg::{PgOptions, SslFiles, TestPg};
use pgcdc::config::SslMode;
use pgcdc::source::admin::{Admin, AdminError, PublicationMode};
use pgcdc::source::replication::{
    ReplicationConnection, ReplicationError, ReplicationEvent, SlotCreation,
};
use pgcdc::Lsn;

#[tokio::test]
async fn trust_login_and_identify_system() {
    let pg = TestPg::start();
    let mut conn = ReplicationConnection::connect(&pg.params()).await.unwrap();
    let expected_version: u32 = pg.psql("SHOW server_version_num").parse().unwrap();
    assert_eq!(conn.server_version_num(), expected_version);

    let info = conn.identify_system().await.unwrap();
    assert_eq!(
        info.systemid,
        pg.psql("SELECT system_identifier FROM pg_control_system()")
    );
    assert_eq!(info.timeline, 1);
    assert_eq!(info.dbname.as_deref(), Some("postgres"));
    let current: Lsn = pg.psql("SELECT pg_current_wal_lsn()").parse().unwrap();
    assert!(
        info.xlogpos > Lsn::ZERO && info.xlogpos <= current,
        "{info:?} vs {current}"
    );

    // The startup packet pinned the text formats the decoder relies on.
    assert_eq!(conn.show("DateStyle").await.unwrap(), "ISO, MDY");
    assert_eq!(conn.show("IntervalStyle").await.unwrap(), "iso_8601");
    assert_eq!(conn.show("TimeZone").await.unwrap(), "UTC");
    assert_eq!(conn.show("extra_float_digits").await.unwrap(), "3");

    let admin = Admin::connect(&pg.params()).await.unwrap();
    assert_eq!(admin.wal_level().await.unwrap(), "logical");
    assert_eq!(admin.server_version_num(), expected_version);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn password_logins() {
    let pg = TestPg::start_with(PgOptions {
        hba_prepend: vec![
            "host all,replication md5user 127.0.0.1/32 md5".into(),
            "host all,replication scramuser 127.0.0.1/32 scram-sha-256".into(),
            "host all,replication clearuser 127.0.0.1/32 password".into(),
        ],
        ..PgOptions::default()
    });
    pg.psql(
        "SET password_encryption = 'md5';
         CREATE ROLE md5user LOGIN REPLICATION PASSWORD 'md5-secret';
         SET password_encryption = 'scram-sha-256';
         CREATE ROLE scramuser LOGIN REPLICATION PASSWORD 'scram-secret';
         CREATE ROLE clearuser LOGIN REPLICATION PASSWORD 'clear-secret';",
    );
    assert!(pg
        .psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'md5user'")
        .starts_with("md5"));

    for (user, password) in [
        ("md5user", "md5-secret"),
        ("scramuser", "scram-secret"),
        ("clearuser", "clear-secret"),
    ] {
        let mut params = pg.params();
        params.user = user.into();
        params.password = Some(password.into());
        let mut conn = ReplicationConnection::connect(&params)
            .await
            .unwrap_or_else(|e| panic!("{user}: {e}"));
        assert_eq!(
            conn.identify_system().await.unwrap().dbname.as_deref(),
            Some("postgres")
        );

        params.password = Some("wrong".into());
        let err = ReplicationConnection::connect(&params)
            .await
            .expect_err("wrong password accepted");
        assert_eq!(err.code(), Some("28P01"), "{user}: {err}");
        assert!(!err.is_transient(), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("password authentication failed for user \"{user}\": check database.user and database.password")),
            "{msg}"
        );

        params.password = None;
        let err = ReplicationConnection::connect(&params)
            .await
            .expect_err("no password accepted");
        assert!(matches!(err, ReplicationError::Auth(_)), "{err:?}");
        assert!(err.to_string().contains("set database.password"), "{err}");
    }

    // The admin connection authenticates the same way.
    let mut params = pg.params();
    params.user = "scramuser".into();
    params.password = Some("scram-secret".into());
    Admin::connect(&params).await.unwrap();
    params.password = Some("nope".into());
    let err = Admin::connect(&params)
        .await
        .expect_err("admin accepted a wrong password");
    assert!(!err.is_transient());
    assert!(
        err.to_string()
            .contains("check database.user and database.password"),
        "{err}"
    );

    // This server has ssl off: prefer falls back to plain TCP, require refuses.
    let mut params = pg.params();
    params.sslmode = SslMode::Prefer;
    ReplicationConnection::connect(&params).await.unwrap();
    params.sslmode = SslMode::Require;
    let err = ReplicationConnection::connect(&params)
        .await
        .expect_err("require without TLS");
    assert!(matches!(err, ReplicationError::Tls(_)), "{err:?}");
    assert!(!err.is_transient());
}

struct TestCa {
    ca_pem: String,
    server: SslFiles,
}

fn make_ca(common_name: &str) -> TestCa {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, common_name);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();

    let mut server =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server.signed_by(&server_key, &ca_cert, &ca_key).unwrap();
    TestCa {
        ca_pem: ca_cert.pem(),
        server: SslFiles {
            cert_pem: server_cert.pem(),
            key_pem: server_key.serialize_pem(),
        },
    }
}

#[tokio::test]
async fn tls_modes() {
    let ca = make_ca("pgcdc test CA");
    let pg = TestPg::start_with(PgOptions {
        ssl: Some(ca.server.clone()),
        // A second loopback address the certificate does not name, to test verify-full.
        conf: vec!["listen_addresses = '127.0.0.1,127.0.0.2'".into()],
        ..PgOptions::default()
    });
    let ca_path = pg.temp_dir().join("ca.pem");
    std::fs::write(&ca_path, &ca.ca_pem).unwrap();
    let other_ca_path = pg.temp_dir().join("other-ca.pem");
    std::fs::write(&other_ca_path, make_ca("someone else").ca_pem).unwrap();

    let uses_tls =
        |pid: i32| pg.psql(&format!("SELECT ssl FROM pg_stat_ssl WHERE pid = {pid}")) == "t";

    let ok_cases = [
        (SslMode::Require, "127.0.0.1", None),
        (SslMode::Prefer, "127.0.0.1", None),
        (SslMode::VerifyCa, "127.0.0.1", Some(&ca_path)),
        (SslMode::VerifyCa, "127.0.0.2", Some(&ca_path)),
        (SslMode::VerifyFull, "localhost", Some(&ca_path)),
        (SslMode::VerifyFull, "127.0.0.1", Some(&ca_path)),
    ];
    for (mode, host, root) in ok_cases {
        let mut params = pg.params();
        params.sslmode = mode;
        params.host = host.into();
        params.sslrootcert = root.cloned();
        let mut conn = ReplicationConnection::connect(&params)
            .await
            .unwrap_or_else(|e| panic!("{mode} to {host}: {e}"));
        conn.identify_system().await.unwrap();
        assert!(
            uses_tls(conn.backend_pid()),
            "{mode} to {host} did not use TLS"
        );
        // The admin connection honours the same settings.
        Admin::connect(&params)
            .await
            .unwrap_or_else(|e| panic!("admin {mode} to {host}: {e}"));
    }

    let mut params = pg.params();
    params.sslmode = SslMode::Disable;
    let conn = ReplicationConnection::connect(&params).await.unwrap();
    assert!(!uses_tls(conn.backend_pid()), "sslmode=disable used TLS");

    // The certificate names localhost and 127.0.0.1 only.
    params.sslmode = SslMode::VerifyFull;
    params.host = "127.0.0.2".into();
    params.sslrootcert = Some(ca_path.clone());
    let err = ReplicationConnection::connect(&params)
        .await
        .expect_err("wrong name accepted");
    assert!(matches!(err, ReplicationError::Tls(_)), "{err:?}");
    assert!(!err.is_transient());
    assert!(
        err.to_string().contains("not valid for host \"127.0.0.2\""),
        "{err}"
    );

    // Signed by a CA we were not told to trust.
    for mode in [SslMode::VerifyCa, SslMode::VerifyFull, SslMode::Require] {
        params.sslmode = mode;
        params.host = "127.0.0.1".into();
        params.sslrootcert = Some(other_ca_path.clone());
        let err = ReplicationConnection::connect(&params)
            .await
            .expect_err("untrusted CA accepted");
        assert!(!err.is_transient(), "{err}");
        assert!(
            err.to_string()
                .contains("not signed by a CA in sslrootcert"),
            "{mode}: {err}"
        );
        assert!(
            Admin::connect(&params).await.is_err(),
            "admin {mode} accepted untrusted CA"
        );
    }
}

/// The commit's end LSN out of a pgoutput Commit message: 'C', flags, commit LSN, end LSN.
fn commit_end_lsn(data: &[u8]) -> Lsn {
    assert_eq!(data[0], b'C');
    Lsn(u64::from_be_bytes(data[10..18].try_into().unwrap()))
}

/// pgoutput message kinds of the next transaction, up to and including its commit.
async fn next_transaction(
    stream: &mut pgcdc::source::replication::ReplicationStream,
) -> Vec<(u8, Lsn)> {
    let mut kinds = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let ev = tokio::time::timeout(Duration::from_secs(15), stream.next())
            .await
            .expect("no replication event in time")
            .unwrap()
            .expect("stream ended");
        if let ReplicationEvent::XLogData { data, .. } = ev {
            let end = if data[0] == b'C' {
                commit_end_lsn(&data)
            } else {
                Lsn::ZERO
            };
            kinds.push((data[0], end));
            if data[0] == b'C' {
                return kinds;
            }
        }
    }
    panic!("no commit within 15 s; saw {kinds:?}");
}

async fn wait_for_slot<F: Fn(&pgcdc::source::admin::SlotInfo) -> bool>(
    admin: &Admin,
    slot: &str,
    what: &str,
    ok: F,
) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let info = admin.slot_info(slot).await.unwrap().expect("slot exists");
        if ok(&info) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "slot never reached {what}: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn slots_publications_and_streaming() {
    let pg = TestPg::start_with(PgOptions {
        conf: vec!["wal_sender_timeout = '2s'".into()],
        ..PgOptions::default()
    });
    pg.psql("CREATE TABLE public.items (id int PRIMARY KEY, name text)");
    let admin = Admin::connect(&pg.params()).await.unwrap();

    // Publications.
    match admin
        .ensure_publication("missing_pub", PublicationMode::Disabled, &[])
        .await
    {
        Err(AdminError::PublicationMissing(name)) => assert_eq!(name, "missing_pub"),
        other => panic!("expected PublicationMissing, got {other:?}"),
    }
    admin
        .ensure_publication("empty_pub", PublicationMode::NoTables, &[])
        .await
        .unwrap();
    admin
        .ensure_publication("all_pub", PublicationMode::AllTables, &[])
        .await
        .unwrap();
    assert_eq!(
        pg.psql("SELECT puballtables FROM pg_publication WHERE pubname = 'all_pub'"),
        "t"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_publication_tables WHERE pubname = 'empty_pub'"),
        "0"
    );
    let tables = vec!["public.items".to_string()];
    admin
        .ensure_publication("cdc_pub", PublicationMode::Filtered, &tables)
        .await
        .unwrap();
    pg.psql("CREATE TABLE public.other (id int PRIMARY KEY)");
    let both = vec!["public.items".to_string(), "public.other".to_string()];
    admin
        .ensure_publication("cdc_pub", PublicationMode::Filtered, &both)
        .await
        .unwrap();
    assert_eq!(
        pg.psql("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_publication_tables WHERE pubname = 'cdc_pub'"),
        "items,other"
    );
    admin
        .ensure_publication("cdc_pub", PublicationMode::Disabled, &[])
        .await
        .unwrap();

    // Slots: creating twice is fine.
    let mut conn = ReplicationConnection::connect(&pg.params()).await.unwrap();
    let created = match conn.create_slot("cdc_slot", "pgoutput").await.unwrap() {
        SlotCreation::Created(c) => c,
        SlotCreation::Existed => panic!("fresh slot reported as existing"),
    };
    assert!(created.consistent_point > Lsn::ZERO);
    assert!(created.snapshot_name.is_some());
    assert_eq!(
        conn.create_slot("cdc_slot", "pgoutput").await.unwrap(),
        SlotCreation::Existed
    );
    let info = admin.slot_info("cdc_slot").await.unwrap().unwrap();
    assert_eq!(info.plugin.as_deref(), Some("pgoutput"));
    assert_eq!(info.database.as_deref(), Some("postgres"));
    assert!(!info.active);
    assert_eq!(info.confirmed_flush_lsn, Some(created.consistent_point));
    assert!(admin.slot_info("no_such_slot").await.unwrap().is_none());

    // Streaming.
    let options = [
        ("proto_version", "1"),
        ("publication_names", "cdc_pub"),
        ("messages", "true"),
    ];
    let mut stream = conn
        .start_replication("cdc_slot", Lsn::ZERO, &options)
        .await
        .unwrap();
    // Our default of 1 s already fits wal_sender_timeout = 2s; a longer wish gets capped.
    assert_eq!(stream.status_interval(), Duration::from_secs(1));
    pg.psql("INSERT INTO public.items VALUES (1, 'one')");
    let tx = next_transaction(&mut stream).await;
    let kinds: Vec<u8> = tx.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        kinds,
        b"BRIC".to_vec(),
        "got {:?}",
        String::from_utf8_lossy(&kinds)
    );
    let commit_end = tx.last().unwrap().1;
    assert!(commit_end > created.consistent_point);

    let info = admin.slot_info("cdc_slot").await.unwrap().unwrap();
    assert!(info.active && info.active_pid.is_some(), "{info:?}");

    // A second consumer is refused while the slot is busy, with a retryable error.
    let second = ReplicationConnection::connect(&pg.params()).await.unwrap();
    let err = second
        .start_replication("cdc_slot", Lsn::ZERO, &options)
        .await
        .expect_err("slot taken twice");
    assert_eq!(err.code(), Some("55006"), "{err}");
    assert!(err.is_transient());
    assert!(
        err.to_string().contains("stop the other consumer or wait"),
        "{err}"
    );

    // Confirming moves the slot.
    stream.set_flushed(commit_end);
    stream.send_status(false).await.unwrap();
    wait_for_slot(&admin, "cdc_slot", "the confirmed commit", |i| {
        i.confirmed_flush_lsn >= Some(commit_end)
    })
    .await;

    // Idle for longer than wal_sender_timeout: our status updates and keepalive replies must
    // keep the walsender from timing us out.
    let idle_until = Instant::now() + Duration::from_secs(5);
    let mut keepalives = 0;
    let mut reply_requests = 0;
    while Instant::now() < idle_until {
        match tokio::time::timeout_at(idle_until.into(), stream.next()).await {
            Err(_) => break,
            Ok(ev) => match ev
                .expect("stream failed while idle")
                .expect("server ended the stream")
            {
                ReplicationEvent::Keepalive {
                    reply_requested, ..
                } => {
                    keepalives += 1;
                    // Usually the server asks for a reply about once a second here; whether it
                    // does depends on timing, so it is reported rather than asserted.
                    reply_requests += reply_requested as u32;
                }
                ReplicationEvent::XLogData { data, .. } => {
                    panic!("unexpected data while idle: {:?}", data[0] as char)
                }
            },
        }
    }
    assert!(
        keepalives > 0,
        "no keepalive in 5 s with wal_sender_timeout = 2s"
    );
    eprintln!("idle 5 s: {keepalives} keepalives, {reply_requests} asked for a reply");
    assert!(!pg
        .server_log()
        .contains("terminating walsender process due to replication timeout"));

    pg.psql("INSERT INTO public.items VALUES (2, 'two')");
    let tx = next_transaction(&mut stream).await;
    assert_eq!(
        tx.first().unwrap().0,
        b'B',
        "stream did not survive the idle period"
    );
    let second_commit = tx.last().unwrap().1;
    stream.set_flushed(second_commit);
    // set_flushed never goes backwards.
    stream.set_flushed(commit_end);
    assert_eq!(stream.flushed(), second_commit);

    // finish() confirms the position once more and releases the slot.
    stream.finish().await.unwrap();
    wait_for_slot(&admin, "cdc_slot", "inactive at the second commit", |i| {
        !i.active && i.confirmed_flush_lsn >= Some(second_commit)
    })
    .await;

    assert!(admin.drop_slot("cdc_slot").await.unwrap());
    assert!(!admin.drop_slot("cdc_slot").await.unwrap());
}

#[tokio::test]
async fn missing_slot_is_a_definite_error() {
    let pg = TestPg::start();
    let conn = ReplicationConnection::connect(&pg.params()).await.unwrap();
    let err = conn
        .start_replication(
            "no_such_slot",
            Lsn::ZERO,
            &[("proto_version", "1"), ("publication_names", "p")],
        )
        .await
        .expect_err("missing slot accepted");
    assert_eq!(err.code(), Some("42704"), "{err}");
    assert!(!err.is_transient());
    assert!(
        err.to_string()
            .contains("replication slot \"no_such_slot\" does not exist"),
        "{err}"
    );
}

// Multi-threaded so the stream keeps being served while pg_ctl blocks this thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_is_transient_and_recoverable() {
    let mut pg = TestPg::start();
    let mut conn = ReplicationConnection::connect(&pg.params()).await.unwrap();
    conn.set_status_interval(Duration::from_secs(45));
    conn.create_slot("restart_slot", "pgoutput").await.unwrap();
    pg.psql("CREATE PUBLICATION restart_pub FOR ALL TABLES");
    let options = [("proto_version", "1"), ("publication_names", "restart_pub")];
    let mut stream = conn
        .start_replication("restart_slot", Lsn::ZERO, &options)
        .await
        .unwrap();
    // Capped to half of the default wal_sender_timeout (60 s).
    assert_eq!(stream.status_interval(), Duration::from_secs(30));

    // A fast shutdown waits until every walsender's client confirmed all WAL sent to it, so
    // an idle consumer has to confirm keepalive positions (as pg_recvlogical does), or the
    // shutdown stalls for wal_sender_timeout.
    let consumer = tokio::spawn(async move {
        loop {
            match stream.next().await {
                Ok(Some(ReplicationEvent::Keepalive { wal_end, .. })) => {
                    stream.set_flushed(wal_end)
                }
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(e) => return Some(e),
            }
        }
    });
    let stop_started = Instant::now();
    pg.stop(common::pg::StopMode::Fast);
    assert!(
        stop_started.elapsed() < Duration::from_secs(30),
        "fast shutdown took {:?}: the idle stream did not confirm",
        stop_started.elapsed()
    );
    let ended = tokio::time::timeout(Duration::from_secs(15), consumer)
        .await
        .expect("stream did not notice the shutdown")
        .unwrap();
    // The stream ends one way or another; whatever the shape, it must be retryable.
    if let Some(e) = ended {
        assert!(
            e.is_transient(),
            "shutdown error should be transient: {e:?}"
        );
    }
    let err = ReplicationConnection::connect(&pg.params())
        .await
        .expect_err("connected to a stopped server");
    assert!(err.is_transient(), "{err:?}");

    pg.start_again();
    let mut conn = ReplicationConnection::connect(&pg.params()).await.unwrap();
    assert_eq!(
        conn.create_slot("restart_slot", "pgoutput").await.unwrap(),
        SlotCreation::Existed
    );
    let mut stream = conn
        .start_replication("restart_slot", Lsn::ZERO, &options)
        .await
        .unwrap();
    pg.psql("CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
    let tx = next_transaction(&mut stream).await;
    assert_eq!(tx.first().unwrap().0, b'B');
    stream.finish().await.unwrap();
}
