//! The Kafka adapter's settings (`[kafka]` in sluice.toml).

use anyhow::{bail, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Where records come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma separated. Env: SLUICE_KAFKA_BROKERS.
    pub brokers: String,
    /// Consumer group: hosts with the same group share the partitions. Env: SLUICE_KAFKA_GROUP.
    pub group_id: String,
    /// Where a group with no committed offset starts: "earliest" or "latest".
    pub auto_offset_reset: String,
    /// Extra librdkafka settings, passed through (e.g. `security.protocol`).
    /// Keys that load or run code (plugin.library.paths, *.cmd) are refused,
    /// and so are those Sluice must control (offset storage, auto commit).
    pub options: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            group_id: "sluice".into(),
            auto_offset_reset: "earliest".into(),
            options: BTreeMap::new(),
        }
    }
}

/// librdkafka keys a config may not set: they load or run code, or would
/// break the offset guarantees.
const FORBIDDEN_KAFKA_KEYS: [&str; 8] = [
    "plugin.library.paths",
    "sasl.kerberos.kinit.cmd",
    "ssl.engine.location",
    "oauthbearer.method",
    "enable.auto.offset.store",
    "enable.auto.commit",
    "group.id",
    "bootstrap.servers",
];

impl KafkaConfig {
    /// Refuses librdkafka options that load code or break the offset guarantees.
    pub fn validate(&self) -> Result<()> {
        for key in self.options.keys() {
            if FORBIDDEN_KAFKA_KEYS.contains(&key.as_str()) || key.ends_with(".cmd") {
                bail!("kafka.options.{key} is not allowed: it loads or runs code, or conflicts with what Sluice sets itself (use kafka.brokers / kafka.group-id for those)");
            }
        }
        Ok(())
    }
}
