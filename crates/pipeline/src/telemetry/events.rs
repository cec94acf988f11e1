//! The pipeline's observable events as types (Vector's internal_events
//! habit): each `emit` writes the log line and the metric together, so a
//! site that reports an event cannot do one and forget the other.

use super::Metrics;
use crate::breaker::BreakerConfig;
use crate::dead_letter::DeadLetter;
use sluice_model::{PluginInfo, SourceMessage};
use std::time::Duration;

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

/// A batch is done: every record written, dead-lettered or filtered.
pub struct BatchDone<'a> {
    pub records: &'a [SourceMessage],
    pub elapsed: Duration,
}

impl BatchDone<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        metrics.batch_seconds(self.elapsed.as_secs_f64());
        // End-to-end latency: from each record's Kafka timestamp to now,
        // when its rows (or its dead letter) are acknowledged.
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        for message in self.records {
            if let Some(ts) = message.origin.timestamp {
                metrics.record_latency_seconds((now_ms - ts).max(0) as f64 / 1e3);
            }
        }
        tracing::debug!(
            records = self.records.len(),
            millis = self.elapsed.as_millis() as u64,
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
