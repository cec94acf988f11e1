//! The circuit breaker: a plugin that fails on too large a share of records
//! is a broken plugin, not bad data. When it trips, workers hold their
//! batches (nothing is dead-lettered, nothing committed) until an operator
//! deploys a fix or rolls back; if allowed, the host rolls back by itself.

use serde::Deserialize;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Breaker settings (`[breaker]` in sluice.toml).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct BreakerConfig {
    /// Share of records (0..1) failing in the window that trips the breaker.
    pub failure_ratio: f64,
    /// The sliding window failures are counted over.
    #[serde(with = "sluice_model::duration")]
    pub window: Duration,
    /// Records the window must hold before the ratio counts.
    pub min_records: u64,
    /// Roll back to the previous version on a trip, when there is one.
    pub rollback: bool,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_ratio: 0.5,
            window: Duration::from_secs(30),
            min_records: 50,
            rollback: false,
        }
    }
}

/// Counts failures per batch over a sliding window; open means "hold".
pub struct Breaker {
    config: BreakerConfig,
    window: Mutex<VecDeque<(Instant, u64, u64)>>,
    open: watch::Sender<bool>,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Self {
        Breaker {
            config,
            window: Mutex::new(VecDeque::new()),
            open: watch::channel(false).0,
        }
    }

    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// Adds a batch's counts; returns true if this trips the breaker.
    pub fn record(&self, failed: u64, total: u64) -> bool {
        let now = Instant::now();
        let mut w = self.window.lock().expect("breaker window");
        w.push_back((now, failed, total));
        while w
            .front()
            .is_some_and(|(t, _, _)| now.duration_since(*t) > self.config.window)
        {
            w.pop_front();
        }
        let (f, t) = w
            .iter()
            .fold((0, 0), |(f, t), (_, bf, bt)| (f + bf, t + bt));
        let trip =
            t >= self.config.min_records && (f as f64) > self.config.failure_ratio * t as f64;
        if trip && !*self.open.borrow() {
            w.clear();
            self.open.send_replace(true);
            return true;
        }
        false
    }

    pub fn is_open(&self) -> bool {
        *self.open.borrow()
    }

    /// Closes the breaker (a new version is active); held workers go on.
    pub fn reset(&self) {
        self.window.lock().expect("breaker window").clear();
        self.open.send_replace(false);
    }

    /// Waits until the breaker is closed.
    pub async fn closed(&self) {
        let mut rx = self.open.subscribe();
        let _ = rx.wait_for(|open| !open).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_on_the_ratio_only_with_enough_records() {
        let b = Breaker::new(BreakerConfig {
            min_records: 100,
            failure_ratio: 0.5,
            ..Default::default()
        });
        assert!(!b.record(40, 40), "too few records to judge");
        assert!(!b.record(10, 60), "50 of 100 is not over half");
        assert!(b.record(5, 5), "55 of 105 is");
        assert!(b.is_open());
        assert!(!b.record(100, 100), "already open: trips once");
        b.reset();
        assert!(!b.is_open());
        assert!(!b.record(1, 200));
    }
}
