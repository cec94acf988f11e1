//! The dead-letter topic: a record that cannot be written goes there with
//! its original key, value and headers, plus headers saying why.

use crate::source::SourceMessage;
use anyhow::{Context, Result};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use std::time::Duration;

/// Why a record was dead-lettered; the `sluice.reason` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The value could not be decoded (not Avro/JSON, unknown schema id).
    Decode,
    /// The plugin returned bad-input for it.
    PluginError,
    /// The plugin trapped on it (panic, deadline, memory cap).
    PluginTrap,
    /// The plugin's output broke a limit (too many rows or bytes).
    PluginLimit,
    /// The plugin kept asking to retry it.
    PluginRetry,
    /// A row did not fit its table (unknown column, wrong type, missing key).
    SchemaMismatch,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Decode => "decode",
            Reason::PluginError => "plugin-error",
            Reason::PluginTrap => "plugin-trap",
            Reason::PluginLimit => "plugin-limit",
            Reason::PluginRetry => "plugin-retry",
            Reason::SchemaMismatch => "schema-mismatch",
        }
    }
}

/// A record bound for the dead-letter topic.
pub struct DeadLetter<'a> {
    pub message: &'a SourceMessage,
    pub reason: Reason,
    pub error: String,
}

/// Produces dead letters, idempotently, waiting for each acknowledgement.
pub struct DeadLetters {
    producer: FutureProducer,
    topic_pattern: String,
}

impl DeadLetters {
    pub fn new(
        brokers: &str,
        topic_pattern: &str,
        options: &std::collections::BTreeMap<String, String>,
    ) -> Result<Self> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "30000");
        for (k, v) in options {
            // Consumer-only options would make the producer refuse to start.
            if !k.starts_with("group.")
                && !k.starts_with("auto.")
                && !k.contains("fetch")
                && !k.starts_with("session.")
            {
                config.set(k, v);
            }
        }
        let producer = config
            .create()
            .with_context(|| format!("creating the dead-letter producer for {brokers}"))?;
        Ok(DeadLetters {
            producer,
            topic_pattern: topic_pattern.to_string(),
        })
    }

    /// The dead-letter topic of a source topic.
    pub fn topic_for(&self, source: &str) -> String {
        self.topic_pattern.replace("{topic}", source)
    }

    /// Sends one dead letter and waits until Kafka has it. An error means it
    /// was not delivered; the caller retries (never drops it).
    pub async fn send(&self, letter: &DeadLetter<'_>, plugin: (&str, &str)) -> Result<()> {
        let o = &letter.message.origin;
        let topic = self.topic_for(&o.topic);
        let partition = o.partition.to_string();
        let offset = o.offset.to_string();
        let mut headers = OwnedHeaders::new();
        for (k, v) in &o.headers {
            headers = headers.insert(Header {
                key: k,
                value: v.as_deref(),
            });
        }
        for (key, value) in [
            ("sluice.reason", letter.reason.as_str()),
            ("sluice.error", letter.error.as_str()),
            ("sluice.plugin", plugin.0),
            ("sluice.plugin.version", plugin.1),
            ("sluice.source.topic", o.topic.as_str()),
            ("sluice.source.partition", partition.as_str()),
            ("sluice.source.offset", offset.as_str()),
        ] {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&topic).headers(headers);
        if let Some(key) = &o.key {
            record = record.key(key.as_slice());
        }
        if let Some(payload) = &letter.message.payload {
            record = record.payload(payload.as_slice());
        }
        self.producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| anyhow::anyhow!("producing to dead-letter topic {topic}: {e}"))?;
        Ok(())
    }
}
