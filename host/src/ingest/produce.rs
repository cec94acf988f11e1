//! Produces records to one Kafka topic with an idempotent producer
//! (`acks=all`), many in flight at once, counting deliveries and failures.
//!
//! librdkafka asks for the idempotent producer's id on a timer that first
//! fires ~500 ms after the producer is created (no broker is up before
//! that), and holds every record until it has one. Records timestamped in
//! that half second would all arrive late, so [`Sink::connect`] returns only
//! once the id is assigned, and pacing starts from there.

use super::encode::Record;
use super::progress::Counters;
use anyhow::{anyhow, Result};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, ClientContext};
use serde::Deserialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Deliveries awaited at once; librdkafka batches them underneath.
const MAX_IN_FLIGHT: usize = 20_000;
/// How long the first contact with the brokers may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An idempotent producer for one topic.
pub struct Sink {
    producer: FutureProducer<ReadyContext>,
    ready: Arc<Ready>,
    topic: String,
    in_flight: FuturesUnordered<DeliveryFuture>,
    counters: Arc<Counters>,
    first_error: Option<String>,
}

impl Sink {
    /// Creates the producer and checks that the brokers answer.
    pub async fn connect(brokers: &str, topic: &str, counters: Arc<Counters>) -> Result<Self> {
        let ready = Arc::new(Ready::default());
        let producer: FutureProducer<ReadyContext> = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("client.id", "sluice-ingest")
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            // Fail a record after 30 s rather than librdkafka's 5 minutes.
            .set("message.timeout.ms", "30000")
            // Statistics are the only place librdkafka tells the idempotence
            // state; once it is `Assigned` the callback returns at once.
            .set("statistics.interval.ms", "50")
            .create_with_context(ReadyContext(ready.clone()))
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
        let assigned = async {
            while !ready.assigned.load(Ordering::Acquire) {
                ready.changed.notified().await;
            }
        };
        if tokio::time::timeout(CONNECT_TIMEOUT, assigned)
            .await
            .is_err()
        {
            // Records still go out once an id comes; they wait until then.
            tracing::warn!(
                "Kafka at {brokers} gave the producer no idempotent producer id within \
                 {CONNECT_TIMEOUT:?}; records wait in the producer until it does (does the \
                 principal have IDEMPOTENT_WRITE on the cluster?)"
            );
        }
        Ok(Sink {
            producer,
            ready,
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

    /// Whether the brokers have assigned the producer its id (records sent
    /// before that wait in librdkafka).
    pub fn has_producer_id(&self) -> bool {
        self.ready.assigned.load(Ordering::Acquire)
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

/// Set once the idempotent producer has its id.
#[derive(Default)]
struct Ready {
    assigned: AtomicBool,
    changed: Notify,
}

/// Reads the idempotence state out of librdkafka's statistics.
struct ReadyContext(Arc<Ready>);

impl ClientContext for ReadyContext {
    fn stats_raw(&self, statistics: &[u8]) {
        if self.0.assigned.load(Ordering::Acquire) {
            return;
        }
        #[derive(Deserialize)]
        struct Statistics {
            eos: Option<Eos>,
        }
        #[derive(Deserialize)]
        struct Eos {
            idemp_state: String,
        }
        if let Ok(Statistics { eos: Some(eos) }) = serde_json::from_slice(statistics) {
            if eos.idemp_state == "Assigned" {
                self.0.assigned.store(true, Ordering::Release);
                // One waiter; a stored permit covers a wait that starts later.
                self.0.changed.notify_one();
            }
        }
    }
}
