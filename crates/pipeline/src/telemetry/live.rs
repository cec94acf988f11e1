//! Recent activity for the status page: throughput and errors in 10-second
//! buckets over the last ten minutes, per-partition progress and lag, and the
//! last few dead letters. Prometheus has the full series; this is what a
//! person wants at a glance without one.

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

const BUCKET_SECS: u64 = 10;
const BUCKETS: usize = 60;
const SAMPLES: usize = 10;

/// Counts in one 10-second bucket.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Bucket {
    /// Start of the bucket, seconds since the epoch.
    pub start: u64,
    pub records_in: u64,
    pub rows_written: u64,
    pub dead_letters: u64,
    pub filtered: u64,
}

/// Where a partition stands.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PartitionProgress {
    /// The next offset to consume: everything before it is done.
    pub committed: Option<i64>,
    /// Records behind the partition's end, as librdkafka last reported.
    pub lag: Option<i64>,
}

/// Whether a server the pipeline depends on (Kafka, Cassandra, the registry)
/// answers, as the pipeline last found it.
#[derive(Debug, Clone, Serialize)]
pub struct DependencyState {
    pub up: bool,
    /// When it went up or down, milliseconds since the epoch.
    pub since_ms: u64,
    /// Failed attempts since it went down (0 while up).
    pub failures: u64,
    /// The last error seen while down, cut short.
    pub last_error: Option<String>,
}

/// A recent dead letter, for operators to look at.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetterSample {
    pub at_ms: u64,
    pub reason: String,
    pub error: String,
    pub source: String,
}

#[derive(Default)]
struct Inner {
    buckets: VecDeque<Bucket>,
    partitions: BTreeMap<String, PartitionProgress>,
    samples: VecDeque<DeadLetterSample>,
    dead_by_reason: BTreeMap<String, u64>,
    dependencies: BTreeMap<String, DependencyState>,
    assigned: std::collections::BTreeSet<String>,
    waiting: BTreeMap<String, String>,
}

/// A snapshot for the status page and `/api/status`.
#[derive(Debug, Clone, Serialize)]
pub struct LiveSnapshot {
    pub buckets: Vec<Bucket>,
    pub partitions: BTreeMap<String, PartitionProgress>,
    pub dead_letter_samples: Vec<DeadLetterSample>,
    pub dead_letters_by_reason: BTreeMap<String, u64>,
    /// By name: "kafka", "cassandra", "registry"; absent until first used.
    pub dependencies: BTreeMap<String, DependencyState>,
}

#[derive(Default)]
pub struct Live(Mutex<Inner>);

fn now() -> (u64, u64) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs(), d.as_millis() as u64)
}

impl Live {
    fn bump(&self, f: impl FnOnce(&mut Bucket)) {
        let start = now().0 / BUCKET_SECS * BUCKET_SECS;
        let mut inner = self.0.lock().expect("live stats");
        if inner.buckets.back().map(|b| b.start) != Some(start) {
            inner.buckets.push_back(Bucket {
                start,
                ..Bucket::default()
            });
            while inner.buckets.len() > BUCKETS {
                inner.buckets.pop_front();
            }
        }
        f(inner.buckets.back_mut().expect("just pushed"));
    }

    pub fn records_in(&self, n: u64) {
        self.bump(|b| b.records_in += n);
    }
    pub fn rows_written(&self, n: u64) {
        self.bump(|b| b.rows_written += n);
    }
    pub fn filtered(&self) {
        self.bump(|b| b.filtered += 1);
    }

    pub fn dead_letter(&self, reason: &str, error: &str, source: String) {
        self.bump(|b| b.dead_letters += 1);
        let mut inner = self.0.lock().expect("live stats");
        *inner.dead_by_reason.entry(reason.to_string()).or_default() += 1;
        if inner.samples.len() == SAMPLES {
            inner.samples.pop_front();
        }
        inner.samples.push_back(DeadLetterSample {
            at_ms: now().1,
            reason: reason.to_string(),
            error: error.chars().take(500).collect(),
            source,
        });
    }

    pub fn committed(&self, topic: &str, partition: i32, next_offset: i64) {
        let mut inner = self.0.lock().expect("live stats");
        inner
            .partitions
            .entry(format!("{topic}/{partition}"))
            .or_default()
            .committed = Some(next_offset);
    }

    pub fn lag(&self, topic: &str, partition: i32, lag: i64) {
        let mut inner = self.0.lock().expect("live stats");
        inner
            .partitions
            .entry(format!("{topic}/{partition}"))
            .or_default()
            .lag = Some(lag);
    }

    /// Records that `name` answered (`error` None) or failed. Returns true
    /// when this changes its state (went down or came back).
    pub fn dependency(&self, name: &str, error: Option<&str>) -> bool {
        let mut inner = self.0.lock().expect("live stats");
        let up = error.is_none();
        let entry = inner
            .dependencies
            .entry(name.to_string())
            .or_insert_with(|| DependencyState {
                up: true,
                since_ms: now().1,
                failures: 0,
                last_error: None,
            });
        let changed = entry.up != up;
        if changed {
            entry.up = up;
            entry.since_ms = now().1;
        }
        if let Some(e) = error {
            entry.failures += 1;
            entry.last_error = Some(e.chars().take(500).collect());
        } else {
            entry.failures = 0;
        }
        changed
    }

    /// A partition's worker started (true) or stopped.
    pub fn assign(&self, topic: &str, partition: i32, assigned: bool) {
        let key = format!("{topic}/{partition}");
        let mut inner = self.0.lock().expect("live stats");
        if assigned {
            inner.assigned.insert(key);
        } else {
            inner.assigned.remove(&key);
        }
    }

    /// The partitions this host holds now, as "topic/partition".
    pub fn assigned(&self) -> Vec<String> {
        self.0
            .lock()
            .expect("live stats")
            .assigned
            .iter()
            .cloned()
            .collect()
    }

    /// Readiness: `reason` Some while `name` ("group", "fleet") keeps the
    /// host from being ready; None once it no longer does.
    pub fn set_waiting(&self, name: &str, reason: Option<String>) {
        let mut inner = self.0.lock().expect("live stats");
        match reason {
            Some(r) => inner.waiting.insert(name.to_string(), r),
            None => inner.waiting.remove(name),
        };
    }

    /// What keeps the host from being ready; empty when it is.
    pub fn waiting(&self) -> BTreeMap<String, String> {
        self.0.lock().expect("live stats").waiting.clone()
    }

    pub fn snapshot(&self) -> LiveSnapshot {
        let inner = self.0.lock().expect("live stats");
        LiveSnapshot {
            buckets: inner.buckets.iter().cloned().collect(),
            partitions: inner.partitions.clone(),
            dead_letter_samples: inner.samples.iter().rev().cloned().collect(),
            dead_letters_by_reason: inner.dead_by_reason.clone(),
            dependencies: inner.dependencies.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_counts_and_the_last_samples() {
        let live = Live::default();
        live.records_in(5);
        live.rows_written(4);
        for i in 0..12 {
            live.dead_letter("decode", &format!("bad {i}"), format!("t/0@{i}"));
        }
        live.committed("t", 0, 17);
        live.lag("t", 0, 3);
        let s = live.snapshot();
        let total_in: u64 = s.buckets.iter().map(|b| b.records_in).sum();
        assert_eq!(total_in, 5);
        assert_eq!(s.dead_letters_by_reason["decode"], 12);
        assert_eq!(s.dead_letter_samples.len(), SAMPLES);
        assert_eq!(s.dead_letter_samples[0].error, "bad 11", "newest first");
        assert_eq!(s.partitions["t/0"].committed, Some(17));
        assert_eq!(s.partitions["t/0"].lag, Some(3));
    }

    #[test]
    fn a_dependency_goes_down_and_comes_back() {
        let live = Live::default();
        assert!(!live.dependency("cassandra", None), "first sighting, up");
        assert!(live.dependency("cassandra", Some("connection refused")));
        assert!(!live.dependency("cassandra", Some("connection refused")));
        let down = &live.snapshot().dependencies["cassandra"];
        assert!(!down.up);
        assert_eq!(down.failures, 2);
        assert!(live.dependency("cassandra", None));
        assert!(live.snapshot().dependencies["cassandra"].up);
    }
}
