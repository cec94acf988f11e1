//! Configuration: a TOML file (see `sluice.toml`), then `SLUICE_*`
//! environment variables, then command-line flags, each overriding the one
//! before. Unknown keys are errors, so a typo never silently does nothing.

use crate::engine::Limits;
pub use sluice_codec::RegistryConfig;
pub use sluice_model::Secret;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole configuration of `host run`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Config {
    pub kafka: KafkaConfig,
    pub registry: RegistryConfig,
    pub cassandra: CassandraConfig,
    pub pipeline: PipelineConfig,
    pub admin: AdminConfig,
    pub limits: Limits,
    pub breaker: crate::pipeline::BreakerConfig,
}

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

/// Where rows go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct CassandraConfig {
    /// Contact points, comma separated `host:port`. Env: SLUICE_CASSANDRA_HOSTS.
    pub hosts: String,
    /// Keyspace of the tables. Env: SLUICE_CASSANDRA_KEYSPACE.
    pub keyspace: String,
    /// Consistency of writes: one, local_one, quorum, local_quorum, all, ...
    pub consistency: String,
    /// CQL run at start-up to create missing keyspace and tables; `{keyspace}`
    /// is replaced. None: the flatten plugin's `created_users` table.
    pub schema_file: Option<PathBuf>,
    /// Replication used when the keyspace is created by the default schema.
    pub replication: String,
    /// Concurrent writes in flight per partition worker.
    pub concurrency: usize,
    /// Per-request timeout.
    #[serde(with = "sluice_model::duration")]
    pub request_timeout: Duration,
    /// Username. Env: SLUICE_CASSANDRA_USERNAME.
    pub username: Option<String>,
    /// Password. Env: SLUICE_CASSANDRA_PASSWORD. Never logged.
    pub password: Option<Secret>,
}

impl Default for CassandraConfig {
    fn default() -> Self {
        CassandraConfig {
            hosts: "127.0.0.1:9042".into(),
            keyspace: "sluice".into(),
            consistency: "local_quorum".into(),
            schema_file: None,
            replication: "{'class': 'SimpleStrategy', 'replication_factor': 1}".into(),
            concurrency: 256,
            request_timeout: Duration::from_secs(10),
            username: None,
            password: None,
        }
    }
}

/// Topic(s) -> plugin -> table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct PipelineConfig {
    /// Topics to consume. Env: SLUICE_TOPICS (comma separated).
    pub topics: Vec<String>,
    /// The plugin: a path, or a file name in `plugin-dir`. Env: SLUICE_PLUGIN.
    pub plugin: Option<String>,
    /// Where bare plugin names are looked up. Env: SLUICE_PLUGIN_DIR.
    pub plugin_dir: PathBuf,
    /// Settings handed to the plugin's `init`.
    pub plugin_config: BTreeMap<String, String>,
    /// Table for rows whose plugin names none.
    pub default_table: String,
    /// Value format: "auto" (Confluent Avro if framed, else JSON), "avro" or "json".
    pub format: String,
    /// An Avro schema file (.avsc) every writer schema is resolved to, so
    /// evolved producers give the plugin one shape. None: the writer's own.
    pub reader_schema: Option<PathBuf>,
    /// Dead-letter topic; `{topic}` is replaced by the source topic.
    pub dead_letter_topic: String,
    /// Most records per plugin call and per write round.
    pub batch_size: usize,
    /// How long a worker waits to fill a batch.
    #[serde(with = "sluice_model::duration")]
    pub batch_linger: Duration,
    /// Records buffered per partition before it is paused.
    pub max_buffered_per_partition: usize,
    /// Times a record the plugin asked to retry is retried before it is dead-lettered.
    pub plugin_retries: u32,
    /// If the default table has this text column, rows get the plugin version in it.
    pub version_column: String,
    /// JSON lines of sample records a plugin is tried on before it goes live;
    /// none: generated randomuser records.
    pub sample_file: Option<PathBuf>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            topics: vec!["users_created".into()],
            plugin: None,
            plugin_dir: PathBuf::from("plugins/dist"),
            plugin_config: BTreeMap::new(),
            default_table: "created_users".into(),
            format: "auto".into(),
            reader_schema: None,
            dead_letter_topic: "{topic}.dlq".into(),
            batch_size: 500,
            batch_linger: Duration::from_millis(20),
            // 2,000 left workers idle 2/3 of a backlog drain waiting for
            // refetches after a resume (bench/results/2026-11-23-2.md).
            max_buffered_per_partition: 10_000,
            plugin_retries: 3,
            version_column: "plugin_version".into(),
            sample_file: None,
        }
    }
}

/// The admin endpoint: metrics, status page, deploys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct AdminConfig {
    /// Listen address. Env: SLUICE_ADMIN_LISTEN.
    pub listen: String,
    /// Token required for anything that changes state. Env: SLUICE_ADMIN_TOKEN. Never logged.
    pub token: Option<Secret>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: "127.0.0.1:9180".into(),
            token: None,
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

impl Config {
    /// Reads the file (if any), then applies the environment.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                Self::from_toml(&text)
                    .with_context(|| format!("in config file {}", path.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(|k| std::env::var(k).ok());
        Ok(config)
    }

    pub fn from_toml(text: &str) -> Result<Self> {
        Ok(toml::from_str(text)?)
    }

    /// Applies `SLUICE_*` variables, as read by `var`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) {
        let set = |target: &mut String, key: &str| {
            if let Some(v) = var(key) {
                *target = v;
            }
        };
        set(&mut self.kafka.brokers, "SLUICE_KAFKA_BROKERS");
        set(&mut self.kafka.group_id, "SLUICE_KAFKA_GROUP");
        set(&mut self.registry.url, "SLUICE_REGISTRY_URL");
        set(&mut self.cassandra.hosts, "SLUICE_CASSANDRA_HOSTS");
        set(&mut self.cassandra.keyspace, "SLUICE_CASSANDRA_KEYSPACE");
        set(&mut self.admin.listen, "SLUICE_ADMIN_LISTEN");
        if let Some(v) = var("SLUICE_TOPICS") {
            self.pipeline.topics = v.split(',').map(|s| s.trim().to_string()).collect();
        }
        if let Some(v) = var("SLUICE_PLUGIN") {
            self.pipeline.plugin = Some(v);
        }
        if let Some(v) = var("SLUICE_PLUGIN_DIR") {
            self.pipeline.plugin_dir = v.into();
        }
        let opt = |target: &mut Option<String>, key: &str| {
            if let Some(v) = var(key) {
                *target = Some(v);
            }
        };
        opt(&mut self.registry.username, "SLUICE_REGISTRY_USERNAME");
        opt(&mut self.cassandra.username, "SLUICE_CASSANDRA_USERNAME");
        let secret = |target: &mut Option<Secret>, key: &str| {
            if let Some(v) = var(key) {
                *target = Some(Secret::from(v));
            }
        };
        secret(&mut self.registry.password, "SLUICE_REGISTRY_PASSWORD");
        secret(&mut self.cassandra.password, "SLUICE_CASSANDRA_PASSWORD");
        secret(&mut self.admin.token, "SLUICE_ADMIN_TOKEN");
    }

    /// Checks what serde cannot: values and combinations.
    pub fn validate(&self) -> Result<()> {
        for key in self.kafka.options.keys() {
            if FORBIDDEN_KAFKA_KEYS.contains(&key.as_str()) || key.ends_with(".cmd") {
                bail!("kafka.options.{key} is not allowed: it loads or runs code, or conflicts with what Sluice sets itself (use kafka.brokers / kafka.group-id for those)");
            }
        }
        if self.pipeline.topics.is_empty() {
            bail!("pipeline.topics is empty: name at least one topic to consume");
        }
        if !["auto", "avro", "json"].contains(&self.pipeline.format.as_str()) {
            bail!(
                "pipeline.format = {:?}: use \"auto\", \"avro\" or \"json\"",
                self.pipeline.format
            );
        }
        if self.pipeline.batch_size == 0 {
            bail!("pipeline.batch-size must be at least 1");
        }
        crate::sink::parse_consistency(&self.cassandra.consistency)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_validates() {
        let text = include_str!("../../sluice.toml");
        let config = Config::from_toml(text).unwrap();
        config.validate().unwrap();
        assert_eq!(config.pipeline.default_table, "created_users");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::from_toml("[kafka]\nbrokerz = \"x\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("brokerz"), "{err:#}");
    }

    #[test]
    fn env_overrides_file() {
        let mut c = Config::from_toml("[kafka]\nbrokers = \"file:9092\"\n").unwrap();
        c.apply_env(|k| (k == "SLUICE_KAFKA_BROKERS").then(|| "env:9092".to_string()));
        assert_eq!(c.kafka.brokers, "env:9092");
    }

    #[test]
    fn secrets_never_print() {
        let c = Config::from_toml("[registry]\npassword = \"hunter2\"\n[admin]\ntoken = \"tok\"\n")
            .unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok\""),
            "{shown}"
        );
        assert_eq!(c.admin.token.as_deref(), Some("tok"));
    }

    #[test]
    fn code_loading_kafka_options_are_refused() {
        let c = Config::from_toml("[kafka.options]\n\"plugin.library.paths\" = \"/tmp/x.so\"\n")
            .unwrap();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("plugin.library.paths"));
    }
}
