//! Configuration: a TOML file (see `sluice.toml`), then `SLUICE_*`
//! environment variables, then command-line flags, each overriding the one
//! before. Unknown keys are errors, so a typo never silently does nothing.

use crate::engine::Limits;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
pub use sluice_cassandra::CassandraConfig;
pub use sluice_codec::RegistryConfig;
pub use sluice_kafka::KafkaConfig;
pub use sluice_model::Secret;
pub use sluice_pipeline::{BreakerConfig, FleetConfig, PipelineConfig};
use std::path::Path;

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
    pub breaker: BreakerConfig,
    pub fleet: FleetConfig,
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
        if let Some(v) = var("SLUICE_FLEET") {
            // Anything but an explicit "off" keeps the default (on).
            self.fleet.enabled = !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "false" | "0" | "off" | "no"
            );
        }
        opt(&mut self.registry.username, "SLUICE_REGISTRY_USERNAME");
        opt(&mut self.kafka.instance_id, "SLUICE_KAFKA_INSTANCE_ID");
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
        self.kafka.validate()?;
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
        sluice_cassandra::parse_consistency(&self.cassandra.consistency)?;
        if self.fleet.heartbeat.is_zero() || self.fleet.answer_timeout < self.fleet.heartbeat * 3 {
            bail!(
                "fleet.answer-timeout ({:?}) must be at least three fleet.heartbeat intervals ({:?} each), and the heartbeat above zero",
                self.fleet.answer_timeout,
                self.fleet.heartbeat
            );
        }
        // Said in the first second, not after connecting to everything.
        if let Ok(addr) = self.admin.listen.parse::<std::net::SocketAddr>() {
            let has_token = self.admin.token.as_deref().is_some_and(|t| !t.is_empty());
            check_exposure(addr, has_token)?;
        }
        Ok(())
    }
}

/// Refuses an endpoint reachable from other machines without a token: the
/// page, status and metrics would be open to anyone who can reach the port.
pub fn check_exposure(addr: std::net::SocketAddr, has_token: bool) -> Result<()> {
    if has_token || addr.ip().to_canonical().is_loopback() {
        return Ok(());
    }
    bail!(
        "refusing to serve the admin endpoint on {addr} without a token: it is not a loopback \
         address, so anyone who can reach it would see the status page, status and metrics. \
         Set admin.token (or SLUICE_ADMIN_TOKEN) to a long random token, or listen on loopback \
         with admin.listen = \"127.0.0.1:9180\" (or SLUICE_ADMIN_LISTEN, --admin-listen)"
    )
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
    fn an_exposed_admin_endpoint_without_a_token_is_refused_at_once() {
        let c = Config::from_toml("[admin]\nlisten = \"0.0.0.0:9180\"\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("admin.token") && e.contains("0.0.0.0:9180"),
            "{e}"
        );
        let c = Config::from_toml("[admin]\nlisten = \"0.0.0.0:9180\"\ntoken = \"t0k\"\n").unwrap();
        c.validate().unwrap();
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
