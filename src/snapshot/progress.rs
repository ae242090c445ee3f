//! Snapshot progress for people: a bar (rows, rows/s, ETA) on an interactive terminal, and a
//! structured log line every few seconds otherwise, so a long initial load is never silent.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    total_chunks: u64,
    done_chunks: u64,
    rows: u64,
    started: Instant,
    last_log: Instant,
    /// How often progress is logged when stderr is not a terminal.
    log_every: Duration,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(total_chunks: usize, log_every: Duration) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total_chunks as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "snapshot {bar:30} {pos}/{len} chunks {msg} eta {eta}",
                )
                .expect("static template"),
            );
            bar
        });
        let now = Instant::now();
        Progress {
            total_chunks: total_chunks as u64,
            done_chunks: 0,
            rows: 0,
            started: now,
            last_log: now,
            log_every,
            bar,
        }
    }

    /// A chunk of `table` finished with `rows` rows.
    pub fn chunk_done(&mut self, table: &str, rows: u64) {
        self.done_chunks += 1;
        self.rows += rows;
        let rate = self.rows_per_sec();
        if let Some(bar) = &self.bar {
            bar.set_position(self.done_chunks);
            bar.set_message(format!("{} rows, {rate} rows/s, {table}", self.rows));
        } else if self.last_log.elapsed() >= self.log_every {
            self.last_log = Instant::now();
            tracing::info!(
                table,
                chunks_done = self.done_chunks,
                chunks_total = self.total_chunks,
                rows = self.rows,
                rows_per_sec = rate,
                eta_s = self.eta().map(|d| d.as_secs()),
                "snapshot progress"
            );
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn rows_per_sec(&self) -> u64 {
        (self.rows as f64 / self.started.elapsed().as_secs_f64().max(1e-3)) as u64
    }

    /// Remaining time, extrapolated from the chunks done so far (chunks are similar in size:
    /// equal page ranges).
    fn eta(&self) -> Option<Duration> {
        if self.done_chunks == 0 {
            return None;
        }
        let per_chunk = self.started.elapsed().as_secs_f64() / self.done_chunks as f64;
        let left = self.total_chunks.saturating_sub(self.done_chunks) as f64;
        Some(Duration::from_secs_f64(per_chunk * left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_extrapolates_from_chunks_done() {
        let mut p = Progress::new(4, Duration::from_secs(5));
        p.bar = None;
        assert_eq!(p.eta(), None);
        p.started = Instant::now() - Duration::from_secs(10);
        p.chunk_done("public.t", 100);
        let eta = p.eta().unwrap().as_secs_f64();
        assert!(
            (29.0..=31.0).contains(&eta),
            "3 chunks left at 10 s each: {eta}"
        );
        assert!(p.rows_per_sec() >= 9 && p.rows_per_sec() <= 10);
    }
}
