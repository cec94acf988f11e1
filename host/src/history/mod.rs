//! Going back over records already consumed, with a chosen plugin version:
//! `host dlq replay` (the dead-letter topic, each letter restored to its
//! source record) and `host reprocess` (a range of the source topic). Both
//! are bounded runs in a consumer group of their own: they read to the end
//! their range had when they started, commit only what is written or
//! dead-lettered, stop after the in-flight batch on SIGTERM, and print a
//! summary. The record path is the live pipeline's
//! ([`sluice_pipeline::stages::process`]).
//!
//! - [`replay`] and [`reprocess`]: the two commands;
//! - [`run`]: the parts they share (plugin, sinks, the batch loop, the summary);
//! - [`sinks`]: the `--dry-run` stand-ins for Cassandra and the dead-letter topic;
//! - [`progress`]: the progress bar (or log lines when stderr is no terminal).

pub mod progress;
pub mod replay;
pub mod reprocess;
pub mod run;
pub mod sinks;

use crate::config::Config;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

pub use replay::ReplayArgs;
pub use reprocess::ReprocessArgs;
pub use run::Summary;

/// The configuration, connection, topic and keyspace flags `host run` takes.
#[derive(Debug, Args)]
pub struct Connection {
    /// The plugin version to run: a path, or a bare file name looked up in --plugin-dir.
    #[arg(long)]
    pub plugin: Option<String>,
    /// Where bare plugin names are looked up [default: plugins/dist].
    #[arg(long)]
    pub plugin_dir: Option<PathBuf>,
    /// Plugin configuration handed to `init`, as KEY=VALUE (repeatable).
    #[arg(long = "plugin-config", value_name = "KEY=VALUE")]
    pub plugin_config: Vec<String>,
    /// The table rows go to when the plugin names none [default: created_users].
    #[arg(long)]
    pub table: Option<String>,
    /// Configuration file (TOML); env SLUICE_CONFIG. See sluice.toml.
    #[arg(long, env = "SLUICE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Kafka bootstrap servers (overrides kafka.brokers).
    #[arg(long)]
    pub brokers: Option<String>,
    /// The source topic (overrides pipeline.topics; needed when it names several).
    #[arg(long)]
    pub topic: Option<String>,
    /// Schema registry base URL, path allowed (overrides registry.url).
    #[arg(long)]
    pub registry: Option<String>,
    /// Cassandra contact points (overrides cassandra.hosts).
    #[arg(long)]
    pub cassandra: Option<String>,
    /// Cassandra keyspace (overrides cassandra.keyspace).
    #[arg(long)]
    pub keyspace: Option<String>,
    /// Value format: auto, avro or json (overrides pipeline.format).
    #[arg(long)]
    pub format: Option<String>,
    /// Records per batch (overrides pipeline.batch-size); a batch's offsets
    /// are committed once it is written.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// The consumer group that records this command's progress (never the
    /// live group, kafka.group-id) [default: derived from kafka.group-id].
    #[arg(long)]
    pub group: Option<String>,
    /// Print the summary as JSON, for scripts.
    #[arg(long)]
    pub json: bool,
}

impl Connection {
    /// The config (file, then `SLUICE_*`, then these flags), the plugin
    /// file and the one source topic.
    pub fn load(&self) -> Result<(Config, PathBuf, String)> {
        let mut config = Config::load(self.config.as_deref())?;
        if let Some(v) = &self.plugin {
            config.pipeline.plugin = Some(v.clone());
        }
        if let Some(v) = &self.plugin_dir {
            config.pipeline.plugin_dir = v.clone();
        }
        for (k, v) in crate::cli::parse_pairs(&self.plugin_config)? {
            config.pipeline.plugin_config.insert(k, v);
        }
        let set = |field: &mut String, flag: &Option<String>| {
            if let Some(v) = flag {
                *field = v.clone();
            }
        };
        set(&mut config.pipeline.default_table, &self.table);
        set(&mut config.kafka.brokers, &self.brokers);
        set(&mut config.registry.url, &self.registry);
        set(&mut config.cassandra.hosts, &self.cassandra);
        set(&mut config.cassandra.keyspace, &self.keyspace);
        set(&mut config.pipeline.format, &self.format);
        if let Some(t) = &self.topic {
            config.pipeline.topics = vec![t.clone()];
        }
        if let Some(n) = self.batch_size {
            config.pipeline.batch_size = n;
        }
        config.validate()?;
        let topic = match config.pipeline.topics.as_slice() {
            [one] => one.clone(),
            several => bail!(
                "pipeline.topics names {} topics ({}): pass --topic T for the one to go back over",
                several.len(),
                several.join(", ")
            ),
        };
        let plugin = config.pipeline.plugin.clone().context(
            "no plugin: pass --plugin FILE.wasm, the version to run (or set pipeline.plugin / SLUICE_PLUGIN)",
        )?;
        let path = crate::cli::resolve_plugin(&plugin, &config.pipeline.plugin_dir);
        Ok((config, path, topic))
    }

    /// `--group`, or `default`; refuses the live group, whose offsets this
    /// command must never move.
    pub fn group(&self, config: &Config, default: String) -> Result<String> {
        let group = self.group.clone().unwrap_or(default);
        if group == config.kafka.group_id {
            bail!(
                "--group {group} is the live consumer group (kafka.group-id): this command commits offsets of its own and must use another group"
            );
        }
        Ok(group)
    }
}

/// A time on the command line, in ms since the epoch: RFC 3339
/// (`2026-12-01T10:00:00Z`, or without the zone for UTC), milliseconds since
/// the epoch, or a duration meaning that long ago (`90m`, `2h`, `1day`).
pub fn parse_time(text: &str) -> Result<i64> {
    let t = text.trim();
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    let at = match humantime::parse_rfc3339_weak(t) {
        Ok(at) => at,
        Err(_) => {
            let ago = humantime::parse_duration(t).with_context(|| {
                format!("{text:?} is not a time: use RFC 3339 (2026-12-01T10:00:00Z), ms since the epoch, or a duration ago (2h)")
            })?;
            std::time::SystemTime::now() - ago
        }
    };
    let ms = at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Ok(ms)
}

/// A time in ms since the epoch as RFC 3339, for messages.
pub fn show_time(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => ms.to_string(),
    }
}

/// Leaves a finished run's summary in the group's control log, where the
/// group's hosts show it (status page, `/api/status` under `fleet.history`).
/// A failure only warns: the run itself is done.
pub async fn publish(config: &Config, tool: &str, summary: &run::Summary) {
    if summary.dry_run || !config.fleet.enabled {
        return;
    }
    let mut value = serde_json::to_value(summary).unwrap_or_default();
    value["at_ms"] = serde_json::json!(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0));
    let bytes = serde_json::to_vec(&value).unwrap_or_default();
    let key = format!("history/{tool}");
    if let Err(e) =
        sluice_kafka::control::publish_note(&config.kafka, &config.fleet.topic_prefix, &key, &bytes)
            .await
    {
        tracing::warn!(error = %format!("{e:#}"), "the summary was not left for the group's status pages");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_instants_epoch_millis_or_durations_ago() {
        assert_eq!(parse_time("1700000000000").unwrap(), 1_700_000_000_000);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000
        );
        let now = parse_time("0s").unwrap();
        let ago = parse_time("2h").unwrap();
        assert!((now - ago - 7_200_000).abs() < 1_000, "{now} {ago}");
        let e = parse_time("yesterday-ish").unwrap_err();
        assert!(format!("{e:#}").contains("RFC 3339"), "{e:#}");
        assert_eq!(show_time(1_700_000_000_000), "2023-11-14T22:13:20Z");
    }
}
