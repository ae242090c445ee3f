//! The few numbers the status page needs, read back from the exporter's own text exposition.
//!
//! Why parse our own `/metrics` text instead of keeping copies of the values: `metrics` handles
//! are write-only, so copies would mean a second write (an atomic on `observe::Connector`)
//! next to every gauge update in the snapshot, the slot poller and the sink. Reading the
//! rendered text keeps the page a pure reader of what Prometheus sees, and the parser below is
//! small and tested. Only the series of [`WANTED`] are kept.

use std::collections::BTreeMap;

/// The bucket series of `observe::meters::COMMIT_TO_ACK` (a test keeps the two in step).
const BUCKET: &str = "pgcdc_commit_to_ack_seconds_bucket";

/// Series names read; everything else in the exposition is skipped unparsed.
const WANTED: [&str; 11] = [
    "pgcdc_slot_lag_bytes",
    BUCKET,
    "pgcdc_snapshot_running",
    "pgcdc_snapshot_completed",
    "pgcdc_snapshot_tables_total",
    "pgcdc_snapshot_tables_remaining",
    "pgcdc_snapshot_rows_scanned_total",
    "pgcdc_incremental_snapshot_running",
    "pgcdc_incremental_snapshot_paused",
    "pgcdc_incremental_snapshot_tables_remaining",
    "pgcdc_incremental_snapshot_rows",
];

/// One connector's values at the moment of rendering.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    pub slot_lag_bytes: Option<f64>,
    /// Cumulative commit-to-ack histogram: (upper bound in seconds, count), ascending, the
    /// `+Inf` bucket last.
    pub buckets: Vec<(f64, f64)>,
    pub snapshot: Snapshot,
    pub incremental: Incremental,
}

/// The initial snapshot's progress gauges.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Snapshot {
    pub running: bool,
    pub completed: bool,
    pub tables_total: u64,
    pub tables_remaining: u64,
    pub rows_scanned: u64,
}

/// The incremental snapshot's progress gauges.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Incremental {
    pub running: bool,
    pub paused: bool,
    pub tables_remaining: u64,
    pub rows: u64,
}

/// Every connector's [`Reading`], by name.
pub fn read(text: &str) -> BTreeMap<String, Reading> {
    let mut out: BTreeMap<String, Reading> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(s) = parse_line(line) else { continue };
        let Some(connector) = s.label("connector") else {
            continue;
        };
        let r = out.entry(connector.to_string()).or_default();
        apply(r, &s);
    }
    for r in out.values_mut() {
        r.buckets
            .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    }
    out
}

fn apply(r: &mut Reading, s: &Series) {
    let v = s.value;
    let count = v.max(0.0) as u64;
    match s.name {
        "pgcdc_slot_lag_bytes" => r.slot_lag_bytes = Some(v),
        BUCKET => {
            if let Some(le) = s.label("le").and_then(parse_value) {
                r.buckets.push((le, v));
            }
        }
        "pgcdc_snapshot_running" => r.snapshot.running = v > 0.0,
        "pgcdc_snapshot_completed" => r.snapshot.completed = v > 0.0,
        "pgcdc_snapshot_tables_total" => r.snapshot.tables_total = count,
        "pgcdc_snapshot_tables_remaining" => r.snapshot.tables_remaining = count,
        "pgcdc_snapshot_rows_scanned_total" => r.snapshot.rows_scanned = count,
        "pgcdc_incremental_snapshot_running" => r.incremental.running = v > 0.0,
        "pgcdc_incremental_snapshot_paused" => r.incremental.paused = v > 0.0,
        "pgcdc_incremental_snapshot_tables_remaining" => r.incremental.tables_remaining = count,
        "pgcdc_incremental_snapshot_rows" => r.incremental.rows = count,
        _ => {}
    }
}

/// One sample line: `name{k="v",...} value`.
#[derive(Debug, PartialEq)]
struct Series<'a> {
    name: &'a str,
    labels: Vec<(&'a str, String)>,
    value: f64,
}

impl Series<'_> {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A sample line of a [`WANTED`] series; `None` for other series and malformed lines.
fn parse_line(line: &str) -> Option<Series<'_>> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    if !WANTED.contains(&name) {
        return None;
    }
    let (labels, rest) = if line[name_end..].starts_with('{') {
        parse_labels(&line[name_end + 1..])?
    } else {
        (Vec::new(), &line[name_end..])
    };
    // A timestamp may follow the value; the exporter writes none, but it costs nothing.
    let value = parse_value(rest.split_whitespace().next()?)?;
    Some(Series {
        name,
        labels,
        value,
    })
}

/// `k="v",k2="v2"}` and what follows the closing brace. Values may hold `\"`, `\\` and `\n`
/// (connector names are the operator's choice).
fn parse_labels(mut s: &str) -> Option<(Vec<(&str, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start_matches(',');
        if let Some(rest) = s.strip_prefix('}') {
            return Some((labels, rest));
        }
        let (key, rest) = s.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((key.trim(), value));
        s = &rest[end + 1..];
    }
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// Bucket counts of `now` minus those of `before` (the observations in between); `None` when a
/// count went down (a different bucket layout, or a reset) and the difference means nothing.
pub fn bucket_delta(now: &[(f64, f64)], before: &[(f64, f64)]) -> Option<Vec<(f64, f64)>> {
    if before.is_empty() {
        return Some(now.to_vec());
    }
    if now.len() != before.len() {
        return None;
    }
    now.iter()
        .zip(before)
        .map(|(&(le, n), &(le0, n0))| (le == le0 && n >= n0).then_some((le, n - n0)))
        .collect()
}

/// The `q` quantile of a cumulative histogram, interpolated within its bucket the way
/// Prometheus' `histogram_quantile` does; `None` without observations. Observations beyond
/// the last finite bound count as that bound (the histogram knows no more).
pub fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(lower);
            }
            let inside = count - below;
            let frac = if inside > 0.0 {
                (rank - below) / inside
            } else {
                1.0
            };
            return Some(lower + (le - lower) * frac);
        }
        (lower, below) = (le, count);
    }
    Some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP pgcdc_slot_lag_bytes lag
# TYPE pgcdc_slot_lag_bytes gauge
pgcdc_slot_lag_bytes{connector="inv"} 4096
pgcdc_slot_lag_bytes{connector="we\"ird\\name"} 7
pgcdc_events_total{connector="inv",op="c"} 12
pgcdc_snapshot_running{connector="inv"} 1
pgcdc_snapshot_tables_total{connector="inv"} 3
pgcdc_snapshot_tables_remaining{connector="inv"} 2
pgcdc_snapshot_rows_scanned_total{connector="inv"} 15000
pgcdc_incremental_snapshot_rows{connector="inv"} 25
pgcdc_commit_to_ack_seconds_bucket{connector="inv",le="0.01"} 2
pgcdc_commit_to_ack_seconds_bucket{connector="inv",le="0.001"} 0
pgcdc_commit_to_ack_seconds_bucket{connector="inv",le="+Inf"} 4
pgcdc_commit_to_ack_seconds_bucket{connector="inv",le="0.1"} 4
pgcdc_commit_to_ack_seconds_sum{connector="inv"} 0.1
"#;

    #[test]
    fn the_bucket_series_is_the_latency_histograms() {
        assert_eq!(
            BUCKET,
            format!("{}_bucket", crate::observe::meters::COMMIT_TO_ACK)
        );
    }

    #[test]
    fn reads_the_wanted_series_by_connector() {
        let r = read(TEXT);
        assert_eq!(r.len(), 2, "{r:?}");
        let inv = &r["inv"];
        assert_eq!(inv.slot_lag_bytes, Some(4096.0));
        assert_eq!(
            inv.snapshot,
            Snapshot {
                running: true,
                completed: false,
                tables_total: 3,
                tables_remaining: 2,
                rows_scanned: 15000,
            }
        );
        assert_eq!(inv.incremental.rows, 25);
        assert_eq!(
            inv.buckets,
            vec![(0.001, 0.0), (0.01, 2.0), (0.1, 4.0), (f64::INFINITY, 4.0)],
            "sorted by bound"
        );
        assert_eq!(r[r#"we"ird\name"#].slot_lag_bytes, Some(7.0));
    }

    #[test]
    fn malformed_lines_are_skipped() {
        for line in [
            "pgcdc_slot_lag_bytes{connector=\"a\" 5",
            "pgcdc_slot_lag_bytes{connector=\"a\"} x",
            "pgcdc_slot_lag_bytes{connector=\"a",
            "pgcdc_slot_lag_bytes",
        ] {
            assert_eq!(parse_line(line), None, "{line}");
        }
        assert!(read("garbage\n{}\n").is_empty());
    }

    #[test]
    fn quantiles_interpolate_within_the_bucket() {
        let b = [(0.001, 0.0), (0.01, 2.0), (0.1, 4.0), (f64::INFINITY, 4.0)];
        let close = |q: f64, want: f64| {
            let got = quantile(q, &b).unwrap();
            assert!((got - want).abs() < 1e-9, "p{q}: {got}, not {want}");
        };
        // Rank 2 of 4 is the top of the (0.001, 0.01] bucket.
        close(0.5, 0.01);
        // Rank 3: halfway through (0.01, 0.1].
        close(0.75, 0.055);
        assert_eq!(quantile(0.5, &[(0.1, 0.0), (f64::INFINITY, 0.0)]), None);
        assert_eq!(quantile(0.5, &[]), None);
        // Everything beyond the last bound: the last bound.
        assert_eq!(
            quantile(0.99, &[(60.0, 0.0), (f64::INFINITY, 3.0)]),
            Some(60.0)
        );
    }

    #[test]
    fn deltas_need_the_same_layout_and_growing_counts() {
        let before = [(0.1, 1.0), (f64::INFINITY, 2.0)];
        let now = [(0.1, 3.0), (f64::INFINITY, 5.0)];
        assert_eq!(
            bucket_delta(&now, &before),
            Some(vec![(0.1, 2.0), (f64::INFINITY, 3.0)])
        );
        assert_eq!(bucket_delta(&before, &now), None, "went down");
        assert_eq!(bucket_delta(&now, &[]), Some(now.to_vec()));
        assert_eq!(bucket_delta(&now, &[(0.1, 1.0)]), None);
    }
}
