//! docs/grafana/pgcdc-dashboard.json against what pgcdc really exports. Statically: the panels
//! use the data source variable, every selector filters on the `connector` variable, rates are
//! over `$__rate_interval`. Against a running pgcdc: every metric name the PromQL uses is a
//! series of its `/metrics` with every label the dashboard filters, groups or names legends by,
//! rates are taken of counters and histogram parts only, every metric family pgcdc exports is
//! on the dashboard; and a real Prometheus scraping that pgcdc evaluates every expression
//! (with the variables substituted) to at least one series.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::Value;

use common::cdc::{Capture, ConnectorFile};
use common::http::{get, metric};
use common::kafka::TestKafka;
use common::pg::TestPg;

const WAIT: Duration = Duration::from_secs(60);

fn dashboard() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/grafana/pgcdc-dashboard.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every panel, those inside collapsed rows too.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner);
        }
    }
    out
}

struct Target {
    panel: String,
    expr: String,
    legend: String,
}

fn targets(d: &Value) -> Vec<Target> {
    panels(d)
        .into_iter()
        .filter(|p| p["type"] != "row")
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap().to_string();
            p["targets"]
                .as_array()
                .unwrap_or_else(|| panic!("panel {title:?} has no targets"))
                .iter()
                .map(move |t| Target {
                    panel: title.clone(),
                    expr: t["expr"].as_str().unwrap().to_string(),
                    legend: t["legendFormat"].as_str().unwrap_or("").to_string(),
                })
        })
        .collect()
}

fn variable<'a>(d: &'a Value, name: &str) -> &'a Value {
    d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no variable {name}"))
}

/// A series selector of an expression: the metric name and the label names of its matchers.
#[derive(Debug)]
struct Selector {
    name: String,
    matchers: Vec<(String, String, String)>,
}

const KEYWORDS: [&str; 11] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
];

fn selectors(expr: &str) -> Vec<Selector> {
    let grouping = Regex::new(r"\b(by|without|on|ignoring)\s*\([^)]*\)").unwrap();
    let range = Regex::new(r"\[[^\]]*\]").unwrap();
    let stripped = grouping.replace_all(expr, "").into_owned();
    let stripped = range.replace_all(&stripped, "").into_owned();
    let ident = Regex::new(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{([^}]*)\})?").unwrap();
    let matcher =
        Regex::new(r#"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)""#).unwrap();
    let mut out = Vec::new();
    for m in ident.captures_iter(&stripped) {
        let whole = m.get(0).unwrap();
        let name = &m[1];
        // A function call, a keyword or a number's exponent is not a selector.
        let next = stripped[whole.end()..].trim_start().chars().next();
        let prev = stripped[..whole.start()].chars().last();
        if (m.get(2).is_none() && next == Some('('))
            || KEYWORDS.contains(&name)
            || prev.is_some_and(|c| c.is_ascii_digit() || c == '.')
        {
            continue;
        }
        let matchers = m
            .get(3)
            .map(|body| {
                matcher
                    .captures_iter(body.as_str())
                    .map(|c| (c[1].to_string(), c[2].to_string(), c[3].to_string()))
                    .collect()
            })
            .unwrap_or_default();
        out.push(Selector {
            name: name.to_string(),
            matchers,
        });
    }
    out
}

/// The labels of every `by (...)` / `without (...)` clause.
fn grouping_labels(expr: &str) -> Vec<String> {
    Regex::new(r"\b(?:by|without)\s*\(([^)]*)\)")
        .unwrap()
        .captures_iter(expr)
        .flat_map(|c| {
            c[1].split(',')
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn legend_labels(legend: &str) -> Vec<String> {
    Regex::new(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
        .unwrap()
        .captures_iter(legend)
        .map(|c| c[1].to_string())
        .collect()
}

/// Metric names taken a rate or increase of.
fn rated(expr: &str) -> Vec<String> {
    Regex::new(r"\b(?:rate|irate|increase)\s*\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)")
        .unwrap()
        .captures_iter(expr)
        .map(|c| c[1].to_string())
        .collect()
}

/// The histogram family of a `_bucket`, `_sum` or `_count` series.
fn histogram_base(name: &str) -> Option<&str> {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
}

#[test]
fn the_parser_finds_selectors_and_labels() {
    let e = r#"histogram_quantile(0.99, sum by (connector, le) (rate(pgcdc_a_bucket{connector=~"$connector"}[$__rate_interval]))) / pgcdc_b 1e3 + max without (x) (pgcdc_c{op="c", cause!="y"})"#;
    let s = selectors(e);
    let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["pgcdc_a_bucket", "pgcdc_b", "pgcdc_c"]);
    assert_eq!(
        s[0].matchers,
        [(
            "connector".to_string(),
            "=~".to_string(),
            "$connector".to_string()
        )]
    );
    assert_eq!(s[2].matchers.len(), 2);
    assert_eq!(s[2].matchers[1].0, "cause");
    assert_eq!(grouping_labels(e), ["connector", "le", "x"]);
    assert_eq!(rated(e), ["pgcdc_a_bucket"]);
    assert_eq!(legend_labels("{{connector}} {{ op }}"), ["connector", "op"]);
}

#[test]
fn dashboard_is_well_formed() {
    let d = dashboard();
    assert!(d["schemaVersion"].as_u64().unwrap() >= 36);
    assert_eq!(d["uid"], "pgcdc");

    let ds = variable(&d, "datasource");
    assert_eq!(ds["type"], "datasource");
    assert_eq!(ds["query"], "prometheus");
    let conn = variable(&d, "connector");
    assert_eq!(conn["type"], "query");
    assert_eq!(
        conn["definition"],
        "label_values(pgcdc_connected, connector)"
    );
    assert_eq!(conn["query"]["query"], conn["definition"]);
    assert_eq!(conn["datasource"]["uid"], "${datasource}");

    let mut ids = BTreeSet::new();
    let mut boxes: Vec<(String, [u64; 4])> = Vec::new();
    for p in panels(&d) {
        let title = p["title"].as_str().unwrap();
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "duplicate id: {title}"
        );
        let g = &p["gridPos"];
        let b = ["x", "y", "w", "h"].map(|k| g[k].as_u64().unwrap());
        assert!(b[0] + b[2] <= 24, "{title} is wider than the grid");
        for (other, o) in &boxes {
            let apart = b[0] + b[2] <= o[0]
                || o[0] + o[2] <= b[0]
                || b[1] + b[3] <= o[1]
                || o[1] + o[3] <= b[1];
            assert!(apart, "panels {title:?} and {other:?} overlap");
        }
        boxes.push((title.to_string(), b));
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{title}");
        let ts = p["targets"].as_array().unwrap();
        assert!(!ts.is_empty(), "{title}");
        for t in ts {
            assert_eq!(t["datasource"]["uid"], "${datasource}", "{title}");
        }
    }

    let mut names = BTreeSet::new();
    let range = Regex::new(r"\[([^\]]*)\]").unwrap();
    for t in targets(&d) {
        let sel = selectors(&t.expr);
        assert!(!sel.is_empty(), "{}: no selector in {}", t.panel, t.expr);
        for s in sel {
            assert!(
                s.name.starts_with("pgcdc_"),
                "{}: {} is not a pgcdc metric",
                t.panel,
                s.name
            );
            assert!(
                s.matchers
                    .iter()
                    .any(|(l, op, v)| l == "connector" && op == "=~" && v == "$connector"),
                "{}: {} does not filter on the connector variable",
                t.panel,
                s.name
            );
            names.insert(s.name);
        }
        let ranges: Vec<String> = range
            .captures_iter(&t.expr)
            .map(|c| c[1].to_string())
            .collect();
        assert_eq!(ranges.len(), rated(&t.expr).len(), "{}", t.expr);
        assert!(
            ranges.iter().all(|r| r == "$__rate_interval"),
            "{}: {ranges:?}",
            t.panel
        );
    }
    // What the issue asks the dashboard to show.
    for want in [
        "pgcdc_slot_lag_bytes",
        "pgcdc_slot_wal_status",
        "pgcdc_slot_safe_wal_size_bytes",
        "pgcdc_milliseconds_behind_source",
        "pgcdc_events_total",
        "pgcdc_commit_to_ack_seconds_bucket",
        "pgcdc_records_in_flight",
        "pgcdc_reconnects_total",
        "pgcdc_dead_lettered_total",
        "pgcdc_snapshot_tables_total",
        "pgcdc_snapshot_tables_remaining",
        "pgcdc_snapshot_rows_scanned_total",
        "pgcdc_incremental_snapshot_chunks",
        "pgcdc_connected",
    ] {
        assert!(names.contains(want), "no panel shows {want}");
    }
}

/// `/metrics` read back: each series name with the label names it carries, and each family's
/// `# TYPE`.
struct Exposition {
    labels: BTreeMap<String, BTreeSet<String>>,
    types: BTreeMap<String, String>,
}

fn parse_exposition(text: &str) -> Exposition {
    let label = Regex::new(r#"([a-zA-Z_][a-zA-Z0-9_]*)=""#).unwrap();
    let mut e = Exposition {
        labels: BTreeMap::new(),
        types: BTreeMap::new(),
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').unwrap();
            e.types.insert(name.to_string(), ty.trim().to_string());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let (series, _) = line.rsplit_once(' ').unwrap();
            let (name, rest) = series.split_once('{').unwrap_or((series, ""));
            let set = e.labels.entry(name.to_string()).or_default();
            set.extend(label.captures_iter(rest).map(|c| c[1].to_string()));
        }
    }
    e
}

#[test]
fn dashboard_queries_what_pgcdc_exports() {
    let pg = TestPg::start();
    pg.psql("CREATE TABLE dash (id int PRIMARY KEY, v text);");
    pg.psql("INSERT INTO dash SELECT g, 'snap' FROM generate_series(1, 3) g;");
    let kafka = TestKafka::start();
    let cap = Capture::new(&pg, &kafka, ConnectorFile::new("dash"));
    let port = cap.enable_http();
    let mut child = cap.spawn(None);
    let prom = common::prometheus::binary()
        .map(|bin| common::prometheus::TestPrometheus::start(&bin, port));
    cap.wait_until("/ready 200", WAIT, || {
        get(port, "/ready").is_some_and(|(code, _)| code == 200)
    });
    pg.psql("INSERT INTO dash SELECT g, 'new' FROM generate_series(4, 9) g;");
    pg.psql("UPDATE dash SET v = 'upd' WHERE id <= 2;");
    pg.psql("DELETE FROM dash WHERE id = 9;");
    let scrape = || get(port, "/metrics").map(|(_, b)| b).unwrap_or_default();
    // The latency histogram has series once a transaction is acknowledged, the slot's
    // wal_status once the poller has read the slot.
    cap.wait_until("acknowledgements and the slot's status", WAIT, || {
        let m = scrape();
        metric(
            &m,
            "pgcdc_commit_to_ack_seconds_count",
            &[("connector", "dash")],
        )
        .is_some_and(|n| n >= 3.0)
            && metric(
                &m,
                "pgcdc_slot_wal_status",
                &[("connector", "dash"), ("wal_status", "reserved")],
            ) == Some(1.0)
    });
    let text = scrape();
    let exp = parse_exposition(&text);
    let d = dashboard();

    let fail = |t: &Target, what: String| -> ! {
        panic!(
            "panel {:?}, expression {}: {what}\n/metrics:\n{text}",
            t.panel, t.expr
        )
    };
    let mut used_families = BTreeSet::new();
    let ts = targets(&d);
    for t in &ts {
        let sel = selectors(&t.expr);
        let mut available = BTreeSet::new();
        for s in &sel {
            let Some(labels) = exp.labels.get(&s.name) else {
                fail(t, format!("pgcdc exports no series {}", s.name))
            };
            for (l, _, _) in &s.matchers {
                if !labels.contains(l) {
                    fail(
                        t,
                        format!("{} has no label {l} (it has {labels:?})", s.name),
                    );
                }
            }
            available.extend(labels.iter().cloned());
            let family = match histogram_base(&s.name) {
                Some(base) if exp.types.get(base).map(String::as_str) == Some("histogram") => base,
                _ => s.name.as_str(),
            };
            used_families.insert(family.to_string());
        }
        let grouping = grouping_labels(&t.expr);
        for l in &grouping {
            if !available.contains(l) {
                fail(t, format!("grouped by {l}, which no series of it has"));
            }
        }
        for l in legend_labels(&t.legend) {
            let ok = if grouping.is_empty() {
                available.contains(&l)
            } else {
                grouping.contains(&l)
            };
            if !ok {
                fail(
                    t,
                    format!("legend {:?} names {l}, lost or absent", t.legend),
                );
            }
        }
        for name in rated(&t.expr) {
            let ty = match histogram_base(&name) {
                Some(base) if exp.types.get(base).map(String::as_str) == Some("histogram") => {
                    "histogram"
                }
                _ => exp.types.get(&name).map(String::as_str).unwrap_or("none"),
            };
            if ty != "counter" && ty != "histogram" {
                fail(t, format!("a rate of {name}, whose type is {ty}"));
            }
        }
        if t.expr.contains("histogram_quantile") {
            let ok = sel.iter().all(|s| {
                s.name.ends_with("_bucket")
                    && histogram_base(&s.name)
                        .and_then(|b| exp.types.get(b))
                        .map(String::as_str)
                        == Some("histogram")
            }) && grouping.iter().any(|l| l == "le");
            if !ok {
                fail(
                    t,
                    "a quantile of something not a histogram's buckets by le".into(),
                );
            }
        }
    }
    // The connector variable's values exist.
    let conn = variable(&d, "connector")["definition"].as_str().unwrap();
    let (m, l) = conn
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
        .and_then(|r| r.split_once(", "))
        .unwrap();
    assert!(
        exp.labels.get(m).is_some_and(|ls| ls.contains(l)),
        "{conn}: {:?}",
        exp.labels.get(m)
    );
    // Every metric family pgcdc exports is on the dashboard.
    let exported: BTreeSet<String> = exp
        .types
        .keys()
        .filter(|n| n.starts_with("pgcdc_"))
        .cloned()
        .collect();
    assert!(exported.len() >= 25, "{exported:?}");
    let missing: Vec<&String> = exported.difference(&used_families).collect();
    assert!(missing.is_empty(), "not on the dashboard: {missing:?}");

    // A real Prometheus evaluates every expression, the variables substituted, to series.
    let Some(prom) = prom else {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus is not installed; .ci/run installs it"
        );
        eprintln!(
            "SKIPPED the PromQL part: /usr/bin/prometheus is missing (apt-get install prometheus)"
        );
        cap.terminate(&mut child);
        return;
    };
    let substitute = |expr: &str| {
        let e = expr
            .replace("$__rate_interval", "30s")
            .replace("$connector", "dash");
        assert!(!e.contains('$'), "a variable left in {e}");
        e
    };
    for t in &ts {
        let expr = substitute(&t.expr);
        let deadline = Instant::now() + WAIT;
        loop {
            let answer = prom.query_json(&expr);
            if let Some(a) = &answer {
                assert_eq!(
                    a["status"], "success",
                    "panel {:?}: Prometheus rejects {expr}: {a}",
                    t.panel
                );
                if a["data"]["result"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty())
                {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "panel {:?}: {expr} has no series: {answer:?}\n{}",
                t.panel,
                prom.log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    let values = prom.query_json(&format!("count by ({l}) ({m})")).unwrap();
    assert_eq!(values["data"]["result"][0]["metric"][l], "dash", "{values}");
    cap.terminate(&mut child);
}
