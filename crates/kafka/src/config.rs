//! The Kafka adapter's settings (`[kafka]` in sluice.toml).

use anyhow::{bail, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

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
    /// How long the group waits for a silent host before its partitions go
    /// to the others: after a crash, the uncommitted tail waits this long.
    #[serde(with = "sluice_model::duration")]
    pub session_timeout: Duration,
    /// Static membership (KIP-345): a stable id per host, e.g. a StatefulSet
    /// pod name, lets a restarted host take its partitions back at once,
    /// without waiting for `session-timeout`. `{hostname}` is replaced. Leave
    /// unset where hosts come back under new names (a Deployment): a static
    /// member that leaves holds its partitions until the session times out.
    /// Env: SLUICE_KAFKA_INSTANCE_ID.
    pub instance_id: Option<String>,
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
            // librdkafka's 45 s made a restarted host wait 42 s for its own
            // partitions; heartbeats come from librdkafka's own thread, so a
            // long batch never looks like a dead host.
            session_timeout: Duration::from_secs(10),
            instance_id: None,
            options: BTreeMap::new(),
        }
    }
}

/// librdkafka keys a config may not set: they load or run code, or would
/// break the offset guarantees.
const FORBIDDEN_KAFKA_KEYS: [&str; 9] = [
    "group.instance.id",
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
        if !(6..=300).contains(&self.session_timeout.as_secs()) {
            bail!(
                "kafka.session-timeout = {} is outside what brokers accept by default (6s to 300s)",
                humantime::format_duration(self.session_timeout)
            );
        }
        Ok(())
    }

    /// The static member id, with `{hostname}` replaced.
    pub fn instance_id(&self) -> Option<String> {
        let id = self.instance_id.as_deref()?;
        if !id.contains("{hostname}") {
            return Some(id.to_string());
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "localhost".into());
        Some(id.replace("{hostname}", host.trim()))
    }
}
