//! docker-compose.yml and connectors/inventory.toml must agree: the published ports are the
//! ones the connector uses on the host, and the environment compose gives pgcdc points the
//! same connector at the compose services.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pgcdc::config::{interpolate, ConnectorConfig};
use serde_yaml::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn compose() -> Value {
    let text = std::fs::read_to_string(repo("docker-compose.yml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose["services"]
        .get(name)
        .unwrap_or_else(|| panic!("docker-compose.yml has no service {name:?}"))
}

/// Resolves compose's `${VAR:-default}` as if no variable were set on the host.
fn compose_default(s: &str) -> String {
    interpolate(s, &|_| None).unwrap()
}

/// `(host ip, host port, container port)` of each `"ip:host:container"` entry.
fn published_ports(service: &Value) -> Vec<(String, u16, u16)> {
    service["ports"]
        .as_sequence()
        .expect("ports list")
        .iter()
        .map(|p| {
            let s = p.as_str().expect("ports as strings");
            let parts: Vec<&str> = s.split(':').collect();
            assert_eq!(parts.len(), 3, "publish on an explicit address: {s}");
            (
                parts[0].to_string(),
                parts[1].parse().unwrap(),
                parts[2].parse().unwrap(),
            )
        })
        .collect()
}

fn environment(service: &Value) -> HashMap<String, String> {
    service["environment"]
        .as_mapping()
        .expect("environment as a mapping")
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_string(),
                compose_default(v.as_str().unwrap()),
            )
        })
        .collect()
}

fn command(service: &Value) -> Vec<String> {
    service["command"]
        .as_sequence()
        .expect("command as a list")
        .iter()
        .map(|v| compose_default(v.as_str().unwrap()))
        .collect()
}

fn host_port(addr: &str) -> (&str, u16) {
    let (host, port) = addr.rsplit_once(':').unwrap();
    (host, port.trim_end_matches('/').parse().unwrap())
}

fn load_inventory(env: &HashMap<String, String>) -> ConnectorConfig {
    let lookup = |name: &str| env.get(name).cloned();
    ConnectorConfig::load_with_env(repo("connectors/inventory.toml"), &lookup).unwrap()
}

#[test]
fn services_and_images() {
    let c = compose();
    let pg = service(&c, "postgres");
    assert!(pg["image"].as_str().unwrap().starts_with("postgres:15"));
    assert!(command(pg).iter().any(|a| a == "wal_level=logical"));
    let kafka = service(&c, "kafka");
    assert!(kafka["image"]
        .as_str()
        .unwrap()
        .starts_with("apache/kafka:4"));
    let env = environment(kafka);
    assert_eq!(
        env["KAFKA_PROCESS_ROLES"], "broker,controller",
        "one KRaft node"
    );
    // Exactly-once and consumer groups need their internal topics on the one broker.
    for key in [
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ] {
        assert_eq!(env[key], "1", "{key}");
    }
    let pgcdc = service(&c, "pgcdc");
    assert_eq!(pgcdc["build"].as_str(), Some("."));
    for dep in ["postgres", "kafka"] {
        assert!(
            pgcdc["depends_on"].get(dep).is_some(),
            "pgcdc must depend on {dep}"
        );
    }
    assert!(environment(pgcdc).contains_key("PGCDC_DB_PASSWORD"));
}

#[test]
fn published_ports_match_the_connector_defaults_on_the_host() {
    let c = compose();
    // Outside compose only the password is set: the connector's loopback defaults apply.
    let env = HashMap::from([("PGCDC_DB_PASSWORD".to_string(), "x".to_string())]);
    let conn = load_inventory(&env);

    let pg_ports = published_ports(service(&c, "postgres"));
    assert!(
        pg_ports
            .iter()
            .any(|(ip, host, _)| ip == &conn.database.host && *host == conn.database.port),
        "{pg_ports:?} does not publish {}:{}",
        conn.database.host,
        conn.database.port
    );

    let kafka_ports = published_ports(service(&c, "kafka"));
    let (host, port) = host_port(&conn.sink.kafka().unwrap().bootstrap_servers);
    assert!(
        kafka_ports
            .iter()
            .any(|(ip, h, _)| ip == host && *h == port),
        "{kafka_ports:?} does not publish {}",
        conn.sink.kafka().unwrap().bootstrap_servers
    );
    for (ip, _, _) in pg_ports.iter().chain(&kafka_ports) {
        assert_eq!(ip, "127.0.0.1", "publish on loopback only");
    }
}

#[test]
fn inside_compose_the_connector_points_at_the_services() {
    let c = compose();
    let pgcdc = service(&c, "pgcdc");
    let conn = load_inventory(&environment(pgcdc));

    // The database host is the postgres service, on the port postgres listens on inside.
    assert_eq!(conn.database.host, "postgres");
    assert!(service(&c, "postgres").is_mapping());
    let pg_container_ports: Vec<u16> = published_ports(service(&c, "postgres"))
        .into_iter()
        .map(|(_, _, container)| container)
        .collect();
    assert!(pg_container_ports.contains(&conn.database.port));

    // The bootstrap server is the kafka service on its listener port, and the broker
    // advertises that same address (clients reconnect to the advertised one).
    let (host, port) = host_port(&conn.sink.kafka().unwrap().bootstrap_servers);
    let kafka = service(&c, "kafka");
    assert_eq!(host, "kafka");
    let env = environment(kafka);
    let listener = |key: &str, addr: &str| -> Option<String> {
        env[key]
            .split(',')
            .find(|l| l.ends_with(addr))
            .map(|l| l.split("://").next().unwrap().to_string())
    };
    let advertised = listener(
        "KAFKA_ADVERTISED_LISTENERS",
        &conn.sink.kafka().unwrap().bootstrap_servers,
    )
    .unwrap_or_else(|| {
        panic!(
            "no listener advertises {}: {}",
            conn.sink.kafka().unwrap().bootstrap_servers,
            env["KAFKA_ADVERTISED_LISTENERS"]
        )
    });
    let listening = listener("KAFKA_LISTENERS", &format!(":{port}"));
    assert_eq!(
        listening.as_deref(),
        Some(advertised.as_str()),
        "the listener advertising {} must listen on port {port}",
        conn.sink.kafka().unwrap().bootstrap_servers
    );

    // The password compose gives pgcdc is the one postgres is initialised with.
    assert_eq!(
        environment(pgcdc)["PGCDC_DB_PASSWORD"],
        environment(service(&c, "postgres"))["POSTGRES_PASSWORD"]
    );
    assert_eq!(
        conn.database.password.as_ref().unwrap().expose(),
        environment(pgcdc)["PGCDC_DB_PASSWORD"]
    );
}

#[test]
fn pgcdc_http_listener_is_published_on_the_port_it_listens_on() {
    use pgcdc::config::ProcessConfig;
    let c = compose();
    let pgcdc = service(&c, "pgcdc");
    let env = environment(pgcdc);
    let lookup = |name: &str| env.get(name).cloned();
    let process = ProcessConfig::load_with_env(repo("config/pgcdc.toml"), &lookup).unwrap();
    assert!(process.http.enabled);
    let addr = process.http.addr().unwrap();
    assert!(
        addr.ip().is_unspecified(),
        "inside the container pgcdc must listen on every interface, not {addr}"
    );
    let ports = published_ports(pgcdc);
    assert!(
        ports
            .iter()
            .any(|(ip, _, container)| ip == "127.0.0.1" && *container == addr.port()),
        "{ports:?} does not publish port {} on loopback",
        addr.port()
    );
    // Outside compose the shipped file keeps the listener on loopback.
    let outside = ProcessConfig::load_with_env(repo("config/pgcdc.toml"), &|_| None).unwrap();
    assert!(outside.http.addr().unwrap().ip().is_loopback());
}

#[test]
fn pgcdc_mounts_config_where_the_image_runs() {
    let c = compose();
    let dockerfile = std::fs::read_to_string(repo("Dockerfile")).unwrap();
    let workdir = dockerfile
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("WORKDIR "))
        .expect("Dockerfile sets WORKDIR")
        .trim()
        .to_string();
    let mounts: Vec<(String, String)> = service(&c, "pgcdc")["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| {
            let parts: Vec<&str> = v.as_str().unwrap().split(':').collect();
            (parts[0].to_string(), parts[1].to_string())
        })
        .collect();
    for dir in ["config", "connectors"] {
        assert!(
            mounts
                .iter()
                .any(|(src, dst)| src == &format!("./{dir}") && dst == &format!("{workdir}/{dir}")),
            "./{dir} must be mounted at {workdir}/{dir}: {mounts:?}"
        );
        assert!(repo(dir).is_dir());
    }
    // The init script mounted into postgres exists.
    let pg_mounts = service(&c, "postgres")["volumes"].as_sequence().unwrap();
    for m in pg_mounts {
        let src = m.as_str().unwrap().split(':').next().unwrap();
        assert!(repo(src.trim_start_matches("./")).exists(), "{src} missing");
    }
}
