//! The pipeline's observable events as types (Vector's internal_events
//! habit): each `emit` writes the log line and the metric together, so a
//! site that reports an event cannot do one and forget the other.

use super::Metrics;
use crate::breaker::BreakerConfig;
use crate::dead_letter::DeadLetter;
use sluice_model::{PluginInfo, SourceMessage};
use std::time::{Duration, Instant};

/// A record went to the dead-letter topic (Kafka acknowledged it).
pub struct RecordDeadLettered<'a> {
    pub letter: &'a DeadLetter<'a>,
}

impl RecordDeadLettered<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let l = self.letter;
        let o = &l.message.origin;
        metrics.dead_letter(l.reason.as_str(), &l.error, l.source());
        tracing::warn!(topic = %o.topic, partition = o.partition, offset = o.offset, reason = l.reason.as_str(), error = %l.error, "record dead-lettered");
    }
}

/// The plugin filtered a record out on purpose.
pub struct RecordFiltered;

impl RecordFiltered {
    pub fn emit(&self, metrics: &Metrics) {
        metrics.filtered();
    }
}

/// Rows were acknowledged by the sink.
pub struct RowsWritten<'a> {
    pub table: &'a str,
    pub rows: u64,
}

impl RowsWritten<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        metrics.rows_written(self.table, self.rows);
        tracing::trace!(table = self.table, rows = self.rows, "rows written");
    }
}

/// Where one batch's time went, stage by stage (each mark is the end of a stage).
#[derive(Debug, Clone, Copy)]
pub struct StageTimes {
    /// Wall clock at the start, in ms since the epoch: record timestamps are on that clock.
    started_ms: i64,
    started: Instant,
    marks: [Option<Instant>; 5],
}

impl StageTimes {
    pub fn start() -> Self {
        StageTimes {
            started_ms: now_ms(),
            started: Instant::now(),
            marks: [None; 5],
        }
    }
    pub fn decoded(&mut self) {
        self.marks[0] = Some(Instant::now());
    }
    pub fn transformed(&mut self) {
        self.marks[1] = Some(Instant::now());
    }
    pub fn bound(&mut self) {
        self.marks[2] = Some(Instant::now());
    }
    /// The previous batch of the partition is written: this one's writes may start.
    pub fn gated(&mut self) {
        self.marks[3] = Some(Instant::now());
    }
    pub fn written(&mut self) {
        self.marks[4] = Some(Instant::now());
    }
    /// Each stage's duration in ms: decode, transform, bind, wait for the
    /// previous batch, write (with dead letters).
    fn stage_ms(&self) -> [f64; 5] {
        let mut out = [0.0; 5];
        let mut from = self.started;
        for (o, mark) in out.iter_mut().zip(self.marks) {
            if let Some(at) = mark {
                *o = at.duration_since(from).as_secs_f64() * 1e3;
                from = at;
            }
        }
        out
    }
    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A batch is done: every record written, dead-lettered or filtered.
pub struct BatchDone<'a> {
    pub records: &'a [SourceMessage],
    pub times: StageTimes,
}

impl BatchDone<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let elapsed = self.times.elapsed();
        let [decode, transform, bind, gate, write] = self.times.stage_ms();
        metrics.batch_seconds(elapsed.as_secs_f64());
        metrics.batch_write_seconds(write / 1e3);
        // End-to-end latency: from each record's Kafka timestamp to now,
        // when its rows (or its dead letter) are acknowledged; and the part
        // of it before the batch started (Kafka, the consumer, the
        // worker's queue and batching), to tell waiting from working.
        let now_ms = now_ms();
        let mut queued_max = 0;
        for message in self.records {
            if let Some(ts) = message.origin.timestamp {
                let queued = (self.times.started_ms - ts).max(0);
                queued_max = queued_max.max(queued);
                metrics.record_queue_seconds(queued as f64 / 1e3);
                metrics.record_latency_seconds((now_ms - ts).max(0) as f64 / 1e3);
            }
        }
        let first = self.records.first().map(|m| &m.origin);
        tracing::debug!(
            partition = first.map(|o| o.partition).unwrap_or_default(),
            first_offset = first.map(|o| o.offset).unwrap_or_default(),
            records = self.records.len(),
            millis = elapsed.as_millis() as u64,
            queued_max_ms = queued_max,
            decode_ms = format_args!("{decode:.1}"),
            transform_ms = format_args!("{transform:.1}"),
            bind_ms = format_args!("{bind:.1}"),
            gate_ms = format_args!("{gate:.1}"),
            write_ms = format_args!("{write:.1}"),
            "batch done"
        );
    }
}

/// A plugin version transformed its first batch on a partition.
pub struct VersionTookOver<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub first_offset: i64,
    pub plugin: &'a PluginInfo,
    pub hash: &'a str,
}

impl VersionTookOver<'_> {
    pub fn emit(&self) {
        tracing::info!(topic = %self.topic, partition = self.partition, first_offset = self.first_offset, plugin = %self.plugin, hash = %&self.hash[..self.hash.len().min(12)], "plugin version took over the partition at this offset");
    }
}

/// The breaker opened: consumption is held.
pub struct BreakerTripped<'a> {
    pub plugin: &'a PluginInfo,
    pub config: &'a BreakerConfig,
}

impl BreakerTripped<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        metrics.set_breaker_open(true);
        tracing::error!(
            plugin = %self.plugin,
            failure_ratio = self.config.failure_ratio,
            window = %humantime::format_duration(self.config.window),
            "plugin failing on too many records: breaker open, consumption held (nothing dead-lettered or committed); deploy a fix or roll back (`host plugin rollback`)"
        );
    }
}

/// A deploy was refused; the running version goes on.
pub struct DeployRejected<'a> {
    pub source: &'a str,
    pub error: &'a anyhow::Error,
}

impl DeployRejected<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        metrics.rejected_deploy();
        tracing::warn!(source = %self.source, error = %format!("{:#}", self.error), "deploy rejected; the running version goes on");
    }
}

/// A version became active (deploy, rollback).
pub struct VersionActivated<'a> {
    pub plugin: &'a PluginInfo,
    pub hash: &'a str,
    pub source: &'a str,
    /// "activated", "rolled back to".
    pub how: &'a str,
}

impl VersionActivated<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        metrics.swap();
        metrics.set_active_plugin(&self.plugin.name, &self.plugin.version, self.hash);
        metrics.set_breaker_open(false);
        tracing::info!(plugin = %self.plugin, hash = %&self.hash[..self.hash.len().min(12)], source = %self.source, "plugin {}", self.how);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::histogram_sum_count as sum_count;
    use sluice_model::Origin;

    #[test]
    fn a_batch_reports_how_long_its_records_waited_and_its_write_took() {
        let metrics = Metrics::new();
        let mut times = StageTimes::start();
        let message = |offset, age_ms: i64| SourceMessage {
            origin: Origin {
                offset,
                timestamp: Some(times.started_ms - age_ms),
                ..Origin::default()
            },
            payload: None,
        };
        let records = [message(0, 2_000), message(1, 500)];
        times.decoded();
        times.transformed();
        times.bound();
        times.gated();
        std::thread::sleep(Duration::from_millis(20));
        times.written();
        let [decode, .., write] = times.stage_ms();
        assert!(write >= 20.0 && decode < write, "{:?}", times.stage_ms());
        BatchDone {
            records: &records,
            times,
        }
        .emit(&metrics);
        let text = metrics.render();
        let (queued, n) = sum_count(&text, "record_queue_seconds");
        assert_eq!(n, 2.0, "{text}");
        assert!((2.5..2.6).contains(&queued), "queued {queued}");
        let (latency, _) = sum_count(&text, "record_latency_seconds");
        assert!(
            latency >= queued + 0.04,
            "latency {latency} includes the 20 ms write per record"
        );
        let (written, batches) = sum_count(&text, "batch_write_seconds");
        assert_eq!(batches, 1.0);
        assert!(written >= 0.02, "write {written}");
    }
}
