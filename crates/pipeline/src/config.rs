//! The pipeline's own settings (`[pipeline]` in sluice.toml).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Batches of one partition in flight: 2 decodes and transforms the next
    /// while the previous is written; 1 does one batch at a time.
    pub batches_in_flight: usize,
    /// While a batch is in flight, how long the next one waits to fill
    /// (it starts early when the one in flight is written); with none in
    /// flight, the records already buffered go at once.
    #[serde(with = "sluice_model::duration")]
    pub batch_linger: Duration,
    /// Records handed to a partition's worker ahead of its batches; beyond
    /// them, records wait in librdkafka's fetch queue of the partition.
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
            batches_in_flight: 2,
            batch_linger: Duration::from_millis(20),
            // Enough for the batches in flight and the next: the rest waits
            // in librdkafka's fetch queue; 2,000 drains as fast as 10,000
            // (bench/results/2026-12-03-split-queues.md).
            max_buffered_per_partition: 2_000,
            plugin_retries: 3,
            version_column: "plugin_version".into(),
            sample_file: None,
        }
    }
}

/// Fleet deploys (`[fleet]` in sluice.toml): the group's durable deploy log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct FleetConfig {
    /// Share deploys with every host of the consumer group through a log in
    /// Kafka, and start from the group's version. False: this host alone,
    /// versions in memory (a restart goes back to `--plugin`). Env: SLUICE_FLEET.
    pub enabled: bool,
    /// Control topics are `<prefix>.<group>.deploys|barriers|members|plugins`.
    pub topic_prefix: String,
    /// How often a host tells the group it is alive.
    #[serde(with = "sluice_model::duration")]
    pub heartbeat: Duration,
    /// How long a deploy waits for every live host's answer.
    #[serde(with = "sluice_model::duration")]
    pub answer_timeout: Duration,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            enabled: true,
            topic_prefix: "_sluice".into(),
            heartbeat: Duration::from_secs(2),
            answer_timeout: Duration::from_secs(30),
        }
    }
}
