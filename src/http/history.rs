//! The last minutes of each connector's slot lag and commit-to-ack latency, for the status
//! page's charts: a background task samples the exporter every [`INTERVAL`] and keeps
//! [`CAPACITY`] samples per connector (ten minutes), oldest dropped first.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use super::scrape::{self, Reading};
use super::Exporter;
use crate::observe::now_ms;

/// Time between samples: the slot lag is polled every 3 s, so faster would repeat values.
pub const INTERVAL: Duration = Duration::from_secs(2);
/// Ten minutes of samples.
pub const CAPACITY: usize = 300;
/// Latency quantiles are taken over the acknowledgements of this many intervals (30 s):
/// one interval often holds none or a handful, which makes a jumpy and mostly empty chart.
const LATENCY_WINDOW: usize = 15;

/// One connector's samples, as parallel columns (a compact JSON body for the page's script).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Series {
    /// Unix milliseconds of each sample.
    pub t: VecDeque<i64>,
    pub lag_bytes: VecDeque<Option<f64>>,
    /// Seconds; `None` where no transaction was acknowledged within the window.
    pub p50_s: VecDeque<Option<f64>>,
    pub p99_s: VecDeque<Option<f64>>,
}

#[derive(Default)]
struct Track {
    series: Series,
    /// Cumulative histograms of the last [`LATENCY_WINDOW`] samples, oldest first.
    window: VecDeque<Vec<(f64, f64)>>,
}

/// Every connector's samples; cheap to clone.
#[derive(Clone, Default)]
pub struct History {
    tracks: Arc<Mutex<BTreeMap<String, Track>>>,
}

impl History {
    /// Adds one sample per connector of `readings`, taken at `t_ms`.
    pub fn record(&self, t_ms: i64, readings: &BTreeMap<String, Reading>) {
        let mut tracks = self.lock();
        for (name, r) in readings {
            tracks.entry(name.clone()).or_default().push(t_ms, r);
        }
    }

    /// A copy of connector `name`'s samples (empty before the first).
    pub fn series(&self, name: &str) -> Series {
        self.lock()
            .get(name)
            .map(|t| t.series.clone())
            .unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Track>> {
        // Samples are plain data: still worth reading after a panic elsewhere.
        self.tracks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Track {
    fn push(&mut self, t_ms: i64, r: &Reading) {
        let oldest = self.window.front().map_or(&[][..], |b| b.as_slice());
        let delta = scrape::bucket_delta(&r.buckets, oldest);
        let q = |q| delta.as_deref().and_then(|d| scrape::quantile(q, d));
        let s = &mut self.series;
        if s.t.len() == CAPACITY {
            s.t.pop_front();
            s.lag_bytes.pop_front();
            s.p50_s.pop_front();
            s.p99_s.pop_front();
        }
        s.t.push_back(t_ms);
        s.lag_bytes.push_back(r.slot_lag_bytes);
        s.p50_s.push_back(q(0.5));
        s.p99_s.push_back(q(0.99));
        if self.window.len() == LATENCY_WINDOW {
            self.window.pop_front();
        }
        self.window.push_back(r.buckets.clone());
    }
}

/// Samples `exporter` into `history` every [`INTERVAL`] until aborted.
pub async fn sample(exporter: Exporter, history: History) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        history.record(now_ms(), &scrape::read(&exporter.render()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(lag: f64, fast: f64, total: f64) -> BTreeMap<String, Reading> {
        let r = Reading {
            slot_lag_bytes: Some(lag),
            buckets: vec![(0.01, fast), (0.1, total), (f64::INFINITY, total)],
            ..Reading::default()
        };
        BTreeMap::from([("inv".to_string(), r)])
    }

    #[test]
    fn keeps_ten_minutes_and_drops_the_oldest() {
        let h = History::default();
        for i in 0..CAPACITY as i64 + 5 {
            h.record(i * 2000, &reading(i as f64, 0.0, 0.0));
        }
        let s = h.series("inv");
        assert_eq!(s.t.len(), CAPACITY);
        assert_eq!(s.t[0], 5 * 2000);
        assert_eq!(s.lag_bytes[0], Some(5.0));
        assert_eq!(s.p99_s[0], None, "no acknowledgement: no latency");
        assert_eq!(h.series("other"), Series::default());
    }

    #[test]
    fn latency_counts_only_the_window() {
        let h = History::default();
        h.record(0, &reading(0.0, 0.0, 0.0));
        // Ten slow acknowledgements (10 to 100 ms), then only fast ones (under 10 ms).
        h.record(1, &reading(0.0, 0.0, 10.0));
        let slow = |s: &Series| s.p99_s.back().unwrap().unwrap();
        assert!(slow(&h.series("inv")) > 0.01);
        for i in 2..=LATENCY_WINDOW as i64 {
            h.record(i, &reading(0.0, i as f64 * 10.0, 10.0 + i as f64 * 10.0));
        }
        assert!(slow(&h.series("inv")) > 0.01, "still in the window");
        h.record(99, &reading(0.0, 500.0, 510.0));
        let s = h.series("inv");
        assert!(slow(&s) <= 0.01, "the slow ones left the window: {s:?}");
        assert_eq!(s.p50_s[0], None, "nothing acknowledged at the start");
    }
}
