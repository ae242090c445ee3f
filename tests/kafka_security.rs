//! pgcdc against secured Kafka listeners: SASL_SSL (SCRAM-SHA-512 over TLS, a test CA) and
//! mutual TLS. With the right settings it streams; a wrong password, a CA it does not trust and
//! a missing client certificate each end it (exit 1) with one line naming the listener and the
//! fix, and the password is in no log line.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::cdc::{Capture, ConnectorFile};
use common::kafka::{KafkaOptions, Listener, TestKafka};
use common::pg::TestPg;

const USER: &str = "pgcdc";
const PASSWORD: &str = "Scram-Secret-4217";
const PASSWORD_VAR: &str = "PGCDC_TEST_KAFKA_PASSWORD";

/// Certificates and keys, as PEM files in a temp dir.
struct Pki {
    dir: tempfile::TempDir,
    ca: String,
    server_cert: String,
    server_key: String,
}

impl Pki {
    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn ca(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    (p.self_signed(&key).unwrap(), key)
}

fn leaf(names: &[&str], ca: &(rcgen::Certificate, rcgen::KeyPair)) -> (String, String) {
    let p = rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &ca.0, &ca.1).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let test_ca = ca("pgcdc test CA");
    let (server_cert, server_key) = leaf(&["localhost", "127.0.0.1"], &test_ca);
    let (client_cert, client_key) = leaf(&["pgcdc"], &test_ca);
    let other_ca = ca("somebody else's CA");
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("ca.pem", &test_ca.0.pem());
    write("other-ca.pem", &other_ca.0.pem());
    write("client.pem", &client_cert);
    write("client.key", &client_key);
    Pki {
        ca: test_ca.0.pem(),
        server_cert,
        server_key,
        dir,
    }
}

/// A PEM text as one `server.properties` value (Java properties read `\n` as a newline).
fn inline(pem: &str) -> String {
    pem.trim_end().replace('\n', "\\n")
}

/// One broker for every test here: plaintext (for reading back), SASL_SSL and MTLS.
fn broker() -> &'static (TestKafka, Pki) {
    static B: OnceLock<(TestKafka, Pki)> = OnceLock::new();
    B.get_or_init(|| {
        let pki = pki();
        let kafka = TestKafka::start_with(KafkaOptions {
            listeners: vec![
                Listener {
                    name: "SASL_SSL".into(),
                    protocol: "SASL_SSL".into(),
                },
                Listener {
                    name: "MTLS".into(),
                    protocol: "SSL".into(),
                },
            ],
            properties: vec![
                "ssl.keystore.type=PEM".into(),
                format!(
                    "ssl.keystore.certificate.chain={}",
                    inline(&pki.server_cert)
                ),
                format!("ssl.keystore.key={}", inline(&pki.server_key)),
                "ssl.truststore.type=PEM".into(),
                format!("ssl.truststore.certificates={}", inline(&pki.ca)),
                "listener.name.mtls.ssl.client.auth=required".into(),
                "sasl.enabled.mechanisms=SCRAM-SHA-512".into(),
                "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=\
                 org.apache.kafka.common.security.scram.ScramLoginModule required;"
                    .into(),
            ],
            scram_users: vec![(USER.into(), PASSWORD.into())],
            ..Default::default()
        });
        (kafka, pki)
    })
}

fn sasl_file(name: &str, kafka: &TestKafka, ca: &Path) -> ConnectorFile {
    ConnectorFile::new(name)
        .bootstrap(&format!("127.0.0.1:{}", kafka.listener_port("SASL_SSL")))
        .extra(&format!(
            r#"[sink.properties]
"security.protocol" = "SASL_SSL"
"sasl.mechanisms" = "SCRAM-SHA-512"
"sasl.username" = "{USER}"
"sasl.password" = "${{{PASSWORD_VAR}}}"
"ssl.ca.location" = "{}""#,
            ca.display()
        ))
}

fn mtls_file(name: &str, kafka: &TestKafka, pki: &Pki, with_cert: bool) -> ConnectorFile {
    let mut props = format!(
        "[sink.properties]\n\"security.protocol\" = \"SSL\"\n\"ssl.ca.location\" = \"{}\"\n",
        pki.file("ca.pem").display()
    );
    if with_cert {
        props.push_str(&format!(
            "\"ssl.certificate.location\" = \"{}\"\n\"ssl.key.location\" = \"{}\"\n",
            pki.file("client.pem").display(),
            pki.file("client.key").display()
        ));
    }
    ConnectorFile::new(name)
        .bootstrap(&format!("127.0.0.1:{}", kafka.listener_port("MTLS")))
        .extra(&props)
}

/// Runs pgcdc until it exits by itself (60 s at most) with `password` in the environment;
/// returns its exit code and stderr.
fn run_to_exit(cap: &Capture, password: &str) -> (Option<i32>, String) {
    let mut child = cap
        .command()
        .arg("run")
        .arg(&cap.connector)
        .env(PASSWORD_VAR, password)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pgcdc");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "pgcdc still running after 60 s instead of failing:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Streams one insert through the listener and reads it back over plaintext.
fn streams(name: &str, file: ConnectorFile, kafka: &TestKafka) -> String {
    let pg = TestPg::start();
    pg.psql("CREATE TABLE t (id int PRIMARY KEY)");
    let cap = Capture::new(&pg, kafka, file);
    let until = pg.psql("INSERT INTO t VALUES (1); SELECT pg_current_wal_insert_lsn()");
    let until = until.lines().last().unwrap().trim().to_string();
    let status = cap
        .command()
        .arg("run")
        .arg(&cap.connector)
        .arg("--until-lsn")
        .arg(&until)
        .env(PASSWORD_VAR, PASSWORD)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(cap.log_path()).unwrap())
        .status()
        .unwrap();
    let log = cap.log();
    assert!(status.success(), "{name}: pgcdc failed:\n{log}");
    let recs = kafka.read_topic(&format!("{name}.public.t"), 1, Duration::from_secs(30));
    assert_eq!(recs.len(), 1, "{name}: {recs:?}\n{log}");
    log
}

#[test]
fn sasl_ssl_and_mutual_tls_stream() {
    let (kafka, pki) = broker();
    let log = streams(
        "scram",
        sasl_file("scram", kafka, &pki.file("ca.pem")),
        kafka,
    );
    assert!(
        !log.contains(PASSWORD),
        "the password is in the log:\n{log}"
    );
    streams("mtls", mtls_file("mtls", kafka, pki, true), kafka);
}

/// The one line that names the listener and the fix, and that the password is nowhere.
fn assert_refused(case: &str, code: Option<i32>, stderr: &str, listener: u16, fix: &str) {
    assert_eq!(code, Some(1), "{case}: exit code\n{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("refused pgcdc's connection"))
        .collect();
    assert_eq!(lines.len(), 1, "{case}: one line saying so\n{stderr}");
    assert!(
        lines[0].contains(&format!("127.0.0.1:{listener}")) && lines[0].contains(fix),
        "{case}: the line names the listener and {fix:?}: {}",
        lines[0]
    );
    assert!(
        !stderr.contains(PASSWORD),
        "{case}: password in the log\n{stderr}"
    );
    eprintln!("{case}: {}", lines[0]);
}

#[test]
fn refused_connections_say_what_to_fix() {
    let (kafka, pki) = broker();
    let pg = TestPg::start();
    let sasl = kafka.listener_port("SASL_SSL");
    let mtls = kafka.listener_port("MTLS");

    let cap = Capture::new(&pg, kafka, sasl_file("badpw", kafka, &pki.file("ca.pem")));
    let (code, err) = run_to_exit(&cap, "not-the-password");
    assert_refused("wrong password", code, &err, sasl, "sasl.password");

    let cap = Capture::new(
        &pg,
        kafka,
        sasl_file("badca", kafka, &pki.file("other-ca.pem")),
    );
    let (code, err) = run_to_exit(&cap, PASSWORD);
    assert_refused("unknown CA", code, &err, sasl, "ssl.ca.location");

    let cap = Capture::new(&pg, kafka, mtls_file("nocert", kafka, pki, false));
    let (code, err) = run_to_exit(&cap, PASSWORD);
    assert_refused(
        "no client certificate",
        code,
        &err,
        mtls,
        "ssl.certificate.location",
    );
}
