//! Produces records to one Kafka topic with an idempotent producer
//! (`acks=all`), many in flight at once, counting deliveries and failures.

use super::encode::Record;
use super::progress::Counters;
use anyhow::{anyhow, Result};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::ClientConfig;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Deliveries awaited at once; librdkafka batches them underneath.
const MAX_IN_FLIGHT: usize = 20_000;
/// How long the first contact with the brokers may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An idempotent producer for one topic.
pub struct Sink {
    producer: FutureProducer,
    topic: String,
    in_flight: FuturesUnordered<DeliveryFuture>,
    counters: Arc<Counters>,
    first_error: Option<String>,
}

impl Sink {
    /// Creates the producer and checks that the brokers answer.
    pub async fn connect(brokers: &str, topic: &str, counters: Arc<Counters>) -> Result<Self> {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("client.id", "sluice-ingest")
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            // Fail a record after 30 s rather than librdkafka's 5 minutes.
            .set("message.timeout.ms", "30000")
            .create()
            .map_err(|e| anyhow!("creating a Kafka producer for {brokers}: {e}"))?;
        // Metadata for all topics: asking for ours would auto-create it early.
        let probe = producer.clone();
        tokio::task::spawn_blocking(move || probe.client().fetch_metadata(None, CONNECT_TIMEOUT).map(|_| ()))
            .await?
            .map_err(|e| {
                anyhow!(
                    "cannot reach Kafka at {brokers} within {CONNECT_TIMEOUT:?} ({e}); is it running (`just up`)? \
                     Set --brokers or SLUICE_KAFKA_BROKERS"
                )
            })?;
        Ok(Sink {
            producer,
            topic: topic.to_string(),
            in_flight: FuturesUnordered::new(),
            counters,
            first_error: None,
        })
    }

    /// Hands a record to the producer; waits only when too many are in flight.
    pub async fn send(&mut self, record: Record) {
        while self.in_flight.len() >= MAX_IN_FLIGHT {
            self.settle_one().await;
        }
        loop {
            let to_send = FutureRecord::to(&self.topic)
                .key(&record.key)
                .payload(&record.value);
            match self.producer.send_result(to_send) {
                Ok(delivery) => {
                    self.in_flight.push(delivery);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    if self.in_flight.is_empty() {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    } else {
                        self.settle_one().await;
                    }
                }
                Err((e, _)) => {
                    self.failed(format!(
                        "producing key {} to {}: {e}",
                        record.key, self.topic
                    ));
                    break;
                }
            }
        }
        // Count what has been delivered meanwhile, without waiting.
        while let Some(Some(result)) = self.in_flight.next().now_or_never() {
            self.settle(result);
        }
    }

    /// Waits for every record in flight.
    pub async fn flush(&mut self) {
        while !self.in_flight.is_empty() {
            self.settle_one().await;
        }
    }

    /// The first delivery error, if any.
    pub fn first_error(&self) -> Option<&str> {
        self.first_error.as_deref()
    }

    async fn settle_one(&mut self) {
        if let Some(result) = self.in_flight.next().await {
            self.settle(result);
        }
    }

    fn settle(&mut self, result: Result<OwnedDeliveryResult, futures::channel::oneshot::Canceled>) {
        match result {
            Ok(Ok(_)) => {
                self.counters.produced.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err((e, _))) => self.failed(format!("delivering to {}: {e}", self.topic)),
            Err(_) => self.failed(format!(
                "delivering to {}: the producer went away",
                self.topic
            )),
        }
    }

    fn failed(&mut self, error: String) {
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
        if self.first_error.is_none() {
            tracing::error!("{error}");
            self.first_error = Some(error);
        }
    }
}
