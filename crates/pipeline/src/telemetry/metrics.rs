//! Prometheus metrics. Label values stay low-cardinality: topic, partition,
//! table, reason, plugin version; never an offset or a key.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

/// Label pairs with each value escaped per the exposition format
/// (prometheus-client writes values as given): a plugin-supplied value can
/// never end its label and start a line of its own.
fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), escape_label(v)))
        .collect()
}

fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Every metric the host exports.
pub struct Metrics {
    registry: Registry,
    records_in: Family<Labels, Counter>,
    rows_written: Family<Labels, Counter>,
    dead_letters: Family<Labels, Counter>,
    filtered: Counter,
    write_errors: Counter,
    lag: Family<Labels, Gauge>,
    batch_seconds: Histogram,
    batch_write_seconds: Histogram,
    plugin_call_seconds: Histogram,
    plugin_active: Family<Labels, Gauge>,
    swaps: Counter,
    rejected_deploys: Counter,
    swap_stall_seconds: Histogram,
    breaker_open: Gauge,
    record_latency_seconds: Histogram,
    record_queue_seconds: Histogram,
    dependency_up: Family<Labels, Gauge>,
    /// Recent activity for the status page.
    pub live: super::live::Live,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sluice");
        let m = Metrics {
            records_in: Family::default(),
            rows_written: Family::default(),
            dead_letters: Family::default(),
            filtered: Counter::default(),
            write_errors: Counter::default(),
            lag: Family::default(),
            batch_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            batch_write_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            plugin_call_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 18)),
            plugin_active: Family::default(),
            swaps: Counter::default(),
            rejected_deploys: Counter::default(),
            swap_stall_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            breaker_open: Gauge::default(),
            record_latency_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 18)),
            record_queue_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 18)),
            dependency_up: Family::default(),
            live: super::live::Live::default(),
            registry: Registry::default(),
        };
        registry.register(
            "records_in",
            "Records consumed from Kafka",
            m.records_in.clone(),
        );
        registry.register(
            "rows_written",
            "Rows written to Cassandra",
            m.rows_written.clone(),
        );
        registry.register(
            "dead_letters",
            "Records sent to the dead-letter topic, by reason",
            m.dead_letters.clone(),
        );
        registry.register(
            "filtered",
            "Records the plugin filtered out on purpose",
            m.filtered.clone(),
        );
        registry.register(
            "write_errors",
            "Failed Cassandra write attempts (retried)",
            m.write_errors.clone(),
        );
        registry.register(
            "consumer_lag",
            "Records behind the partition's end",
            m.lag.clone(),
        );
        registry.register(
            "batch_seconds",
            "Time to process one batch: decode, transform, write, dead-letter",
            m.batch_seconds.clone(),
        );
        registry.register(
            "batch_write_seconds",
            "Time of one batch's writes to Cassandra (and its dead letters to Kafka), retries included",
            m.batch_write_seconds.clone(),
        );
        registry.register(
            "plugin_call_seconds",
            "Time of one plugin transform call",
            m.plugin_call_seconds.clone(),
        );
        registry.register(
            "plugin_active",
            "The active plugin version (value 1)",
            m.plugin_active.clone(),
        );
        registry.register("plugin_swaps", "Hot swaps completed", m.swaps.clone());
        registry.register(
            "plugin_rejected_deploys",
            "Deploys refused by validation",
            m.rejected_deploys.clone(),
        );
        registry.register(
            "plugin_swap_stall_seconds",
            "Per partition: last record of the old version to first of the new",
            m.swap_stall_seconds.clone(),
        );
        registry.register(
            "record_latency_seconds",
            "Kafka record timestamp to the acknowledgement of its rows or dead letter",
            m.record_latency_seconds.clone(),
        );
        registry.register(
            "record_queue_seconds",
            "Kafka record timestamp to the start of its batch: time in Kafka, the consumer and the partition's queue",
            m.record_queue_seconds.clone(),
        );
        registry.register(
            "breaker_open",
            "1 while the plugin breaker holds consumption",
            m.breaker_open.clone(),
        );
        registry.register(
            "dependency_up",
            "1 while a server the pipeline needs answers (kafka, cassandra, registry), 0 during an outage",
            m.dependency_up.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn record_in(&self, topic: &str) {
        self.records_in
            .get_or_create(&labels(&[("topic", topic)]))
            .inc();
        self.live.records_in(1);
    }
    pub fn rows_written(&self, table: &str, n: u64) {
        self.rows_written
            .get_or_create(&labels(&[("table", table)]))
            .inc_by(n);
        self.live.rows_written(n);
    }
    /// Counts a dead letter and keeps it as a recent sample.
    pub fn dead_letter(&self, reason: &str, error: &str, source: String) {
        self.dead_letters
            .get_or_create(&labels(&[("reason", reason)]))
            .inc();
        self.live.dead_letter(reason, error, source);
    }
    pub fn filtered(&self) {
        self.filtered.inc();
        self.live.filtered();
    }
    pub fn write_error(&self) {
        self.write_errors.inc();
    }
    pub fn set_lag(&self, topic: &str, partition: i32, lag: i64) {
        self.lag
            .get_or_create(&labels(&[
                ("topic", topic),
                ("partition", &partition.to_string()),
            ]))
            .set(lag);
        self.live.lag(topic, partition, lag);
    }
    pub fn batch_seconds(&self, s: f64) {
        self.batch_seconds.observe(s);
    }
    pub fn batch_write_seconds(&self, s: f64) {
        self.batch_write_seconds.observe(s);
    }
    pub fn plugin_call_seconds(&self, s: f64) {
        self.plugin_call_seconds.observe(s);
    }
    /// Marks `name@version` (with its hash) as the active plugin, clearing the previous one.
    pub fn set_active_plugin(&self, name: &str, version: &str, hash: &str) {
        self.plugin_active.clear();
        self.plugin_active
            .get_or_create(&labels(&[
                ("name", name),
                ("version", version),
                ("hash", &hash[..hash.len().min(12)]),
            ]))
            .set(1);
    }
    pub fn swap(&self) {
        self.swaps.inc();
    }
    pub fn rejected_deploy(&self) {
        self.rejected_deploys.inc();
    }
    pub fn swap_stall_seconds(&self, s: f64) {
        self.swap_stall_seconds.observe(s);
    }

    pub fn record_latency_seconds(&self, s: f64) {
        self.record_latency_seconds.observe(s);
    }
    pub fn record_queue_seconds(&self, s: f64) {
        self.record_queue_seconds.observe(s);
    }
    pub fn set_breaker_open(&self, open: bool) {
        self.breaker_open.set(open as i64);
    }

    /// Records whether `dependency` answered (`error` None) or failed; logs
    /// once when it goes down and once when it comes back.
    pub fn dependency(&self, dependency: &str, error: Option<&str>) {
        self.dependency_up
            .get_or_create(&labels(&[("dependency", dependency)]))
            .set(error.is_none() as i64);
        if self.live.dependency(dependency, error) {
            match error {
                Some(e) => {
                    tracing::warn!(dependency, error = %e, "dependency unavailable; records are held, not dropped")
                }
                None => tracing::info!(dependency, "dependency reachable again"),
            }
        }
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// `sluice_<name>_sum` and `sluice_<name>_count` of a histogram, read back
/// from the text [`Metrics::render`] wrote (or a scrape of `/metrics`); NaN
/// where a line is missing.
pub fn histogram_sum_count(text: &str, name: &str) -> (f64, f64) {
    let get = |suffix: &str| {
        let key = format!("sluice_{name}_{suffix} ");
        text.lines()
            .find_map(|l| l.strip_prefix(key.as_str()))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(f64::NAN)
    };
    (get("sum"), get("count"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_value_cannot_add_a_line() {
        let m = Metrics::new();
        m.set_active_plugin("x\"} 1\nsluice_injected_metric{x=\"y", "1\\", "abc");
        let text = m.render();
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("sluice_injected_metric")),
            "{text}"
        );
        assert!(
            text.contains(r#"name="x\"} 1\nsluice_injected_metric{x=\"y""#),
            "{text}"
        );
        assert!(text.contains(r#"version="1\\""#), "{text}");
    }
}
