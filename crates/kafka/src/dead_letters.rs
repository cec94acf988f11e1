//! The dead-letter topic: a record that cannot be written goes there with
//! its original key, value and headers, plus headers saying why.
//!
//! A dead letter must always be writable, or its partition stops for good:
//! every text Sluice adds is bounded (`sluice_pipeline::dead_letter::MAX_TEXT`), the topic is created
//! with room for the source's largest record plus headers, and a record
//! that still does not fit is replaced by a letter carrying its coordinates,
//! size and SHA-256 instead of its bytes. Only an outage is retried.

use anyhow::{bail, Context, Result};
use futures::future::BoxFuture;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::ClientConfig;
use sluice_model::PluginInfo;
use sluice_pipeline::dead_letter::bounded;
use sluice_pipeline::{DeadLetter, DeadLetterSink};
use std::collections::BTreeMap;
use std::time::Duration;

/// Room for Sluice's headers on top of the source record, in the topic's limit.
const HEADER_ROOM: usize = 64 << 10;
/// Kafka's default `max.message.bytes`, when the source topic's is unknown.
const KAFKA_DEFAULT_MAX: usize = 1_048_588;
/// The producer's own size limit: above any topic's we create, so the
/// broker (which knows the topic's limit) is the one to refuse.
const PRODUCER_MAX: usize = 64 << 20;

/// Why a dead letter was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Kafka is unreachable or refused for a passing reason: retry.
    #[error("producing to dead-letter topic {topic}: {error}")]
    Unavailable { topic: String, error: KafkaError },
}

/// Produces dead letters, idempotently, waiting for each acknowledgement.
pub struct DeadLetters {
    producer: FutureProducer<QuietContext>,
    topic_pattern: String,
    brokers: String,
    options: BTreeMap<String, String>,
}

/// The librdkafka options a producer or admin client may take from
/// `kafka.options` (consumer-only ones would make it refuse to start).
pub(crate) fn client_options(config: &mut ClientConfig, options: &BTreeMap<String, String>) {
    for (k, v) in options {
        if !k.starts_with("group.")
            && !k.starts_with("auto.")
            && !k.contains("fetch")
            && !k.starts_with("session.")
        {
            config.set(k, v);
        }
    }
}

impl DeadLetters {
    pub fn new(
        brokers: &str,
        topic_pattern: &str,
        options: &BTreeMap<String, String>,
    ) -> Result<Self> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "30000")
            .set("message.max.bytes", PRODUCER_MAX.to_string());
        client_options(&mut config, options);
        let producer = config
            .create_with_context(QuietContext)
            .with_context(|| format!("creating the dead-letter producer for {brokers}"))?;
        Ok(DeadLetters {
            producer,
            topic_pattern: topic_pattern.to_string(),
            brokers: brokers.to_string(),
            options: options.clone(),
        })
    }

    /// The dead-letter topic of a source topic.
    pub fn topic_for(&self, source: &str) -> String {
        self.topic_pattern.replace("{topic}", source)
    }

    /// Creates the dead-letter topics of `sources` when missing: as many
    /// partitions as the source, and a `max.message.bytes` that fits the
    /// source's largest record plus Sluice's headers. An existing topic with
    /// a smaller limit is kept (oversized letters then carry coordinates
    /// only), with a warning saying how to raise it.
    pub async fn ensure_topics(&self, sources: &[String]) -> Result<()> {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        client_options(&mut config, &self.options);
        let admin: AdminClient<DefaultClientContext> =
            config.create().context("creating a Kafka admin client")?;
        let unreachable = || {
            format!(
                "reading topic metadata from {} (is Kafka running? `just up`)",
                self.brokers
            )
        };
        // Blocking, once at start-up.
        let metadata = self
            .producer
            .client()
            .fetch_metadata(None, Duration::from_secs(10))
            .with_context(unreachable)?;
        let partitions = |name: &str| {
            metadata
                .topics()
                .iter()
                .find(|t| t.name() == name && t.error().is_none())
                .map(|t| t.partitions().len() as i32)
        };
        let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
        for source in sources {
            let dlq = self.topic_for(source);
            let needed = self.source_limit(&admin, source, &options).await + HEADER_ROOM;
            if partitions(&dlq).is_some() {
                let limit = self.topic_limit(&admin, &dlq, &options).await;
                if limit.is_some_and(|l| l < needed) {
                    tracing::warn!(topic = %dlq, limit, needed, "dead-letter topic's max.message.bytes is below the source's plus headers: oversized dead letters will carry coordinates and a hash instead of the payload; raise it with kafka-configs --alter --add-config max.message.bytes={needed}");
                }
                continue;
            }
            let count = partitions(source).unwrap_or_else(|| {
                tracing::warn!(topic = %source, "source topic not found: its dead-letter topic gets 1 partition");
                1
            });
            let needed_text = needed.to_string();
            let topic = NewTopic::new(&dlq, count, TopicReplication::Fixed(-1))
                .set("max.message.bytes", &needed_text);
            let result = admin
                .create_topics([&topic], &options)
                .await
                .with_context(unreachable)?;
            match result.into_iter().next() {
                Some(Ok(name)) => {
                    tracing::info!(topic = %name, partitions = count, max_message_bytes = needed, "dead-letter topic created")
                }
                Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) | None => {}
                Some(Err((name, e))) => bail!("creating dead-letter topic {name}: {e}"),
            }
        }
        Ok(())
    }

    async fn topic_limit(
        &self,
        admin: &AdminClient<DefaultClientContext>,
        topic: &str,
        options: &AdminOptions,
    ) -> Option<usize> {
        let results = admin
            .describe_configs([&ResourceSpecifier::Topic(topic)], options)
            .await
            .ok()?;
        let resource = results.into_iter().next()?.ok()?;
        resource
            .get("max.message.bytes")?
            .value
            .as_ref()?
            .parse()
            .ok()
    }

    async fn source_limit(
        &self,
        admin: &AdminClient<DefaultClientContext>,
        topic: &str,
        options: &AdminOptions,
    ) -> usize {
        self.topic_limit(admin, topic, options)
            .await
            .unwrap_or(KAFKA_DEFAULT_MAX)
    }

    /// Sends one dead letter and waits until Kafka has it. A letter too large
    /// for the topic is replaced by one without the payload (see the module
    /// comment). An error means an outage; the caller retries.
    pub async fn send(
        &self,
        letter: &DeadLetter<'_>,
        plugin: (&str, &str),
    ) -> Result<(), SendError> {
        let topic = self.topic_for(&letter.message.origin.topic);
        match self.produce(&topic, letter, plugin, None).await {
            Err(e) if too_large(&e) => {
                let payload = letter.message.payload.as_deref().unwrap_or_default();
                let omitted = Omitted {
                    bytes: payload.len(),
                    sha256: sha256_hex(payload),
                    why: e.to_string(),
                };
                tracing::warn!(%topic, bytes = omitted.bytes, "dead letter too large for its topic: sending coordinates and a hash instead of the payload");
                self.produce(&topic, letter, plugin, Some(&omitted))
                    .await
                    .map_err(|error| SendError::Unavailable { topic, error })
            }
            Err(error) => Err(SendError::Unavailable { topic, error }),
            Ok(()) => Ok(()),
        }
    }

    async fn produce(
        &self,
        topic: &str,
        letter: &DeadLetter<'_>,
        plugin: (&str, &str),
        omitted: Option<&Omitted>,
    ) -> Result<(), KafkaError> {
        let o = &letter.message.origin;
        let partition = o.partition.to_string();
        let offset = o.offset.to_string();
        let mut headers = OwnedHeaders::new();
        if omitted.is_none() {
            // A replayed record carries its letter's attempt: the new one counts on.
            for (k, v) in o
                .headers
                .iter()
                .filter(|(k, _)| k != crate::restore::ATTEMPT)
            {
                headers = headers.insert(Header {
                    key: k,
                    value: v.as_deref(),
                });
            }
        }
        let mut ours = vec![
            ("sluice.reason", letter.reason.as_str().to_string()),
            ("sluice.error", letter.error.clone()),
            ("sluice.plugin", plugin.0.to_string()),
            ("sluice.plugin.version", plugin.1.to_string()),
            ("sluice.source.topic", o.topic.clone()),
            ("sluice.source.partition", partition),
            ("sluice.source.offset", offset),
        ];
        if let Some(attempt) = crate::restore::next_attempt(letter.message) {
            ours.push((crate::restore::ATTEMPT, attempt.to_string()));
        }
        if let Some(omitted) = omitted {
            ours.push(("sluice.payload.omitted", bounded(omitted.why.clone())));
            ours.push(("sluice.payload.bytes", omitted.bytes.to_string()));
            ours.push(("sluice.payload.sha256", omitted.sha256.clone()));
        }
        for (key, value) in &ours {
            headers = headers.insert(Header {
                key,
                value: Some(value.as_str()),
            });
        }
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).headers(headers);
        if omitted.is_none() {
            if let Some(key) = &o.key {
                record = record.key(key.as_slice());
            }
            if let Some(payload) = &letter.message.payload {
                record = record.payload(payload.as_slice());
            }
        }
        self.producer
            .send(record, Duration::from_secs(30))
            .await
            .map(|_| ())
            .map_err(|(e, _)| e)
    }
}

impl DeadLetterSink for DeadLetters {
    fn send<'a>(
        &'a self,
        letter: &'a DeadLetter<'a>,
        plugin: &'a PluginInfo,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            DeadLetters::send(self, letter, (&plugin.name, &plugin.version))
                .await
                .map_err(|e| e.to_string())
        })
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The producer's client context: an outage is reported once by the
/// pipeline (`sluice_dependency_up`), so librdkafka's own all-brokers-down
/// and reconnect errors, repeated every few seconds, go to debug.
pub(crate) struct QuietContext;

impl rdkafka::ClientContext for QuietContext {
    fn error(&self, error: KafkaError, reason: &str) {
        match error.rdkafka_error_code() {
            Some(
                RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::Resolve,
            ) => tracing::debug!(error = %error, reason, "dead-letter producer: Kafka unreachable"),
            _ => tracing::warn!(error = %error, reason, "dead-letter producer error"),
        }
    }
}

/// What a dead letter says in place of a payload too large to carry.
struct Omitted {
    bytes: usize,
    sha256: String,
    why: String,
}

/// True when Kafka refused the letter for its size: retrying cannot help.
fn too_large(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::MessageBatchTooLarge
                | RDKafkaErrorCode::InvalidRecord
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_refusal_is_not_an_outage() {
        let size = KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge);
        let down = KafkaError::MessageProduction(RDKafkaErrorCode::AllBrokersDown);
        assert!(too_large(&size));
        assert!(!too_large(&down));
    }
}
