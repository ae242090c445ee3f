//! docker-compose.yml and connectors/inventory.toml must agree: the published ports are the
//! ones the connector uses on the host, and the environment compose gives pgcdc points the
//! same connector at the compose services. Prometheus scrapes the pgcdc service on the port it
//! listens on, and Grafana reads that Prometheus and the dashboard in docs/grafana.

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

/// `(source, target)` of each bind mount (`./src:/target[:ro]`); named volumes are left out.
fn bind_mounts(service: &Value) -> Vec<(String, String)> {
    service["volumes"]
        .as_sequence()
        .expect("volumes list")
        .iter()
        .filter_map(|v| {
            let parts: Vec<&str> = v.as_str().unwrap().split(':').collect();
            parts[0]
                .starts_with("./")
                .then(|| (parts[0].to_string(), parts[1].to_string()))
        })
        .collect()
}

/// The file of the repository that a service sees at `container_path`, through the bind
/// mount of that path or of one of its directories.
fn repo_file_at(service: &Value, container_path: &str) -> PathBuf {
    let mounts = bind_mounts(service);
    let (src, rest) = mounts
        .iter()
        .find_map(|(src, dst)| {
            if container_path == dst {
                Some((src, ""))
            } else {
                container_path
                    .strip_prefix(dst.as_str())
                    .and_then(|r| r.strip_prefix('/'))
                    .map(|r| (src, r))
            }
        })
        .unwrap_or_else(|| panic!("nothing is mounted at {container_path}: {mounts:?}"));
    let mut path = repo(src.trim_start_matches("./"));
    if !rest.is_empty() {
        path = path.join(rest);
    }
    assert!(
        path.exists(),
        "{} (mounted at {container_path}) is not in the repository",
        path.display()
    );
    path
}

/// The value of `--name=value` in a service's command.
fn flag(service: &Value, name: &str) -> String {
    let prefix = format!("--{name}=");
    command(service)
        .iter()
        .find_map(|a| a.strip_prefix(&prefix).map(str::to_string))
        .unwrap_or_else(|| panic!("the command has no {prefix}"))
}

fn yaml_file(path: &Path) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The port pgcdc's HTTP listener listens on inside the stack.
fn pgcdc_http_port(c: &Value) -> u16 {
    use pgcdc::config::ProcessConfig;
    let env = environment(service(c, "pgcdc"));
    let lookup = |name: &str| env.get(name).cloned();
    let process = ProcessConfig::load_with_env(repo("config/pgcdc.toml"), &lookup).unwrap();
    assert!(process.http.enabled);
    process.http.addr().unwrap().port()
}

/// The container port of Prometheus's web listener, published on loopback.
fn prometheus_port(c: &Value) -> u16 {
    let prom = service(c, "prometheus");
    let (_, port) = host_port(&flag(prom, "web.listen-address"));
    port
}

#[test]
fn prometheus_scrapes_the_pgcdc_service_on_its_listen_port() {
    let c = compose();
    let prom = service(&c, "prometheus");
    assert!(
        prom["image"]
            .as_str()
            .unwrap()
            .starts_with("prom/prometheus:"),
        "{:?}",
        prom["image"]
    );
    assert!(
        prom["depends_on"]
            .as_sequence()
            .is_some_and(|d| d.iter().any(|s| s.as_str() == Some("pgcdc"))),
        "prometheus must depend on pgcdc"
    );

    // The configuration it is started with is the repository's file.
    let config_path = repo_file_at(prom, &flag(prom, "config.file"));
    let config = yaml_file(&config_path);
    let jobs = config["scrape_configs"]
        .as_sequence()
        .expect("scrape_configs");
    let targets: Vec<(String, String)> = jobs
        .iter()
        .flat_map(|job| {
            let path = job["metrics_path"]
                .as_str()
                .unwrap_or("/metrics")
                .to_string();
            job["static_configs"]
                .as_sequence()
                .into_iter()
                .flatten()
                .flat_map(|s| s["targets"].as_sequence().unwrap().clone())
                .map(move |t| (t.as_str().unwrap().to_string(), path.clone()))
        })
        .collect();
    let want = format!("pgcdc:{}", pgcdc_http_port(&c));
    assert!(
        targets
            .iter()
            .any(|(t, path)| *t == want && path == "/metrics"),
        "no job scrapes {want}/metrics: {targets:?}"
    );
    // Every target is a service of the stack.
    for (t, _) in &targets {
        let (host, _) = host_port(t);
        service(&c, host);
    }

    // Its web listener is published on loopback, on the port Grafana is given.
    let port = prometheus_port(&c);
    assert!(
        published_ports(prom).contains(&("127.0.0.1".to_string(), 9090, port)),
        "{:?}",
        published_ports(prom)
    );

    // promtool (Debian package prometheus) accepts the file.
    if Path::new("/usr/bin/promtool").exists() {
        let out = std::process::Command::new("/usr/bin/promtool")
            .args(["check", "config"])
            .arg(&config_path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("promtool is missing: the file's syntax is not checked by Prometheus");
    }
}

#[test]
fn grafana_reads_the_stack_prometheus_and_the_dashboard() {
    let c = compose();
    let grafana = service(&c, "grafana");
    assert!(grafana["image"]
        .as_str()
        .unwrap()
        .starts_with("grafana/grafana:"));
    assert_eq!(
        published_ports(grafana),
        vec![("127.0.0.1".to_string(), 3000, 3000)]
    );
    assert!(grafana["depends_on"]
        .as_sequence()
        .is_some_and(|d| d.iter().any(|s| s.as_str() == Some("prometheus"))));
    let env = environment(grafana);
    assert_eq!(
        env["GF_AUTH_ANONYMOUS_ORG_ROLE"], "Viewer",
        "anonymous users only view"
    );

    // The provisioned data source is the prometheus service on its listen port.
    let provisioning = repo_file_at(grafana, "/etc/grafana/provisioning");
    let datasources = yaml_file(&provisioning.join("datasources/prometheus.yml"));
    let ds = datasources["datasources"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|d| d["type"].as_str() == Some("prometheus"))
        .expect("a prometheus data source");
    let url = ds["url"].as_str().unwrap();
    let (host, port) = host_port(url.strip_prefix("http://").expect("http:// URL"));
    assert_eq!(host, "prometheus", "{url}");
    service(&c, host);
    assert_eq!(port, prometheus_port(&c), "{url}");
    assert_eq!(ds["isDefault"].as_bool(), Some(true));

    // The dashboard provider reads a directory mounted from docs/grafana, which holds the
    // dashboard, and the home dashboard is that file.
    let providers = yaml_file(&provisioning.join("dashboards/pgcdc.yml"));
    let dir = providers["providers"][0]["options"]["path"]
        .as_str()
        .unwrap();
    let local = repo_file_at(grafana, dir);
    assert_eq!(local, repo("docs/grafana"));
    let home = &env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"];
    assert!(
        home.starts_with(&format!("{dir}/")),
        "{home} is not under {dir}"
    );
    let file = repo_file_at(grafana, home);
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(dashboard["uid"], "pgcdc");
    // Its panels use the data source variable, whose type is the provisioned one.
    let var = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["type"] == "datasource")
        .expect("a data source variable");
    assert_eq!(var["query"], ds["type"].as_str().unwrap());
}

#[test]
fn every_published_port_is_on_loopback_and_unique() {
    let c = compose();
    let mut seen = std::collections::HashSet::new();
    for (name, svc) in c["services"].as_mapping().unwrap() {
        if svc.get("ports").is_none() {
            continue;
        }
        for (ip, host, _) in published_ports(svc) {
            assert_eq!(ip, "127.0.0.1", "{name:?} publishes on {ip}");
            assert!(seen.insert(host), "host port {host} published twice");
        }
    }
    assert!(seen.contains(&3000) && seen.contains(&9090), "{seen:?}");
}
