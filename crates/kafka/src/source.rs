//! The consumer thread. librdkafka's rebalance callbacks run on the thread
//! that polls, so polling gets a thread of its own: there a revoke can block
//! until the partition's worker has finished its in-flight batch, without
//! stalling the async runtime the workers run on.
//!
//! Offsets: `enable.auto.offset.store=false`; an offset is stored when its
//! worker sends an [`Ack`] (all records before it are written or
//! dead-lettered); stored offsets are auto-committed, and committed
//! synchronously on revoke and on shutdown.

use crate::config::KafkaConfig;
use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{ClientConfig, ClientContext, Offset, Statistics, TopicPartitionList};
use sluice_model::SourceMessage;
use sluice_pipeline::{Ack, CancellationToken, Metrics, PartitionFeed};
use std::collections::{HashMap, VecDeque};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a revoke or shutdown waits for a worker's in-flight batch.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an assignment waits for a partition's end offset.
const END_TIMEOUT: Duration = Duration::from_secs(5);

struct PartitionState {
    tx: mpsc::Sender<SourceMessage>,
    /// Messages polled while the worker's queue was full.
    pending: VecDeque<SourceMessage>,
    paused: bool,
    cancel: CancellationToken,
    done: std_mpsc::Receiver<()>,
}

type Key = (String, i32);

struct SourceContext {
    partitions: Mutex<HashMap<Key, PartitionState>>,
    feeds: mpsc::UnboundedSender<PartitionFeed>,
    acks: Mutex<std_mpsc::Receiver<Ack>>,
    buffer: usize,
    metrics: Arc<Metrics>,
    /// Every partition's token is a child of this one, the host's.
    shutdown: CancellationToken,
}

impl ClientContext for SourceContext {
    /// librdkafka reconnects by itself; this only tells the operator (log,
    /// `sluice_dependency_up`, the page) that every broker is gone.
    fn error(&self, error: KafkaError, reason: &str) {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::AllBrokersDown) => {
                self.metrics.dependency("kafka", Some(reason))
            }
            // One per broker and reconnect attempt during an outage: the
            // all-brokers-down event above is what the operator needs.
            Some(RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::Resolve) => {
                tracing::debug!(error = %error, reason, "Kafka connection failed; librdkafka retries by itself")
            }
            _ => {
                tracing::warn!(error = %error, reason, "Kafka client error; librdkafka retries by itself")
            }
        }
    }

    fn stats(&self, stats: Statistics) {
        // A learned broker that is UP means Kafka answers again.
        if stats
            .brokers
            .values()
            .any(|b| b.nodeid >= 0 && b.state == "UP")
        {
            self.metrics.dependency("kafka", None);
        }
        for (topic, t) in &stats.topics {
            for (p, s) in &t.partitions {
                if *p >= 0 && s.consumer_lag >= 0 {
                    self.metrics.set_lag(topic, *p, s.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for SourceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let keys: Vec<Key> = tpl
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect();
            tracing::info!(partitions = ?keys, "partitions revoked; finishing their in-flight batches");
            self.release(consumer, &keys);
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            self.metrics.live.set_waiting("group", None);
            let mut partitions = self.partitions.lock().expect("partition map");
            for e in tpl.elements() {
                let key = (e.topic().to_string(), e.partition());
                if partitions.contains_key(&key) {
                    continue;
                }
                // Where the partition ends now: records before it may have
                // been transformed by its previous owner (see the fleet's barriers).
                let end_offset = match consumer.fetch_watermarks(&key.0, key.1, END_TIMEOUT) {
                    Ok((_, high)) => Some(high),
                    Err(e) => {
                        tracing::warn!(topic = %key.0, partition = key.1, error = %e, "cannot read the partition's end at assignment");
                        None
                    }
                };
                let (tx, rx) = mpsc::channel(self.buffer);
                let (done_tx, done_rx) = std_mpsc::sync_channel(1);
                let cancel = self.shutdown.child_token();
                let feed = PartitionFeed {
                    topic: key.0.clone(),
                    partition: key.1,
                    messages: rx,
                    cancel: cancel.clone(),
                    done: done_tx,
                    end_offset,
                };
                if self.feeds.send(feed).is_err() {
                    return;
                }
                tracing::info!(topic = %key.0, partition = key.1, "partition assigned");
                partitions.insert(
                    key,
                    PartitionState {
                        tx,
                        pending: VecDeque::new(),
                        paused: false,
                        cancel,
                        done: done_rx,
                    },
                );
            }
        }
    }
}

impl SourceContext {
    /// Stops the partitions' workers after their in-flight batches, stores
    /// the offsets they acknowledged, commits, and forgets the partitions.
    fn release(&self, consumer: &BaseConsumer<Self>, keys: &[Key]) {
        let states: Vec<(Key, PartitionState)> = {
            let mut partitions = self.partitions.lock().expect("partition map");
            keys.iter()
                .filter_map(|k| partitions.remove(k).map(|s| (k.clone(), s)))
                .collect()
        };
        for (_, state) in &states {
            state.cancel.cancel();
        }
        for ((topic, partition), state) in states {
            drop(state.tx);
            // The worker drops its sender when it returns: Disconnected is the signal.
            if let Err(std_mpsc::RecvTimeoutError::Timeout) = state.done.recv_timeout(DRAIN_TIMEOUT)
            {
                tracing::warn!(%topic, partition, "worker did not finish its batch in time; its uncommitted records will be consumed again by the partition's next owner");
            }
        }
        self.store_acks(consumer);
        if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
            // Nothing stored since the last commit is the common, harmless case.
            tracing::debug!(error = %e, "commit after release");
        }
    }

    fn store_acks(&self, consumer: &BaseConsumer<Self>) {
        let acks = self.acks.lock().expect("ack channel");
        let mut tpl = TopicPartitionList::new();
        while let Ok(ack) = acks.try_recv() {
            let _ = tpl.set_partition_offset(
                &ack.topic,
                ack.partition,
                Offset::Offset(ack.next_offset),
            );
            if tpl.find_partition(&ack.topic, ack.partition).is_none() {
                let _ = tpl.add_partition_offset(
                    &ack.topic,
                    ack.partition,
                    Offset::Offset(ack.next_offset),
                );
            }
        }
        if tpl.count() > 0 {
            if let Err(e) = consumer.store_offsets(&tpl) {
                tracing::debug!(error = %e, "storing offsets of partitions no longer assigned");
            }
        }
    }
}

/// The running consumer thread.
pub struct KafkaSource {
    thread: std::thread::JoinHandle<()>,
}

impl KafkaSource {
    /// Subscribes to `topics` and starts polling. New partitions arrive on
    /// `feeds`, each with a child token of `shutdown`; workers acknowledge
    /// progress on the returned sender. Cancelling `shutdown` stops fetching,
    /// lets workers finish their in-flight batches, commits and returns.
    pub fn start(
        config: &KafkaConfig,
        topics: &[String],
        buffer: usize,
        feeds: mpsc::UnboundedSender<PartitionFeed>,
        shutdown: CancellationToken,
        metrics: Arc<Metrics>,
    ) -> Result<(Self, std_mpsc::Sender<Ack>)> {
        let (ack_tx, ack_rx) = std_mpsc::channel();
        metrics.live.set_waiting(
            "group",
            Some(format!(
                "not yet a member of consumer group {} (no partitions assigned yet)",
                config.group_id
            )),
        );
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", &config.brokers)
            .set("group.id", &config.group_id)
            .set("enable.auto.offset.store", "false")
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("auto.offset.reset", &config.auto_offset_reset)
            .set("statistics.interval.ms", "5000")
            .set("enable.partition.eof", "false");
        // KIP-848's protocol keeps the session timeout on the broker and
        // refuses the client setting.
        if config.options.get("group.protocol").map(String::as_str) != Some("consumer") {
            client.set(
                "session.timeout.ms",
                config.session_timeout.as_millis().to_string(),
            );
        }
        if let Some(id) = config.instance_id() {
            tracing::info!(instance = %id, "static group membership: a restart takes the partitions back at once");
            client.set("group.instance.id", id);
        }
        for (k, v) in &config.options {
            client.set(k, v);
        }
        let context = SourceContext {
            partitions: Mutex::new(HashMap::new()),
            feeds,
            acks: Mutex::new(ack_rx),
            buffer: buffer.max(1),
            metrics,
            shutdown: shutdown.clone(),
        };
        let consumer: BaseConsumer<SourceContext> = client
            .create_with_context(context)
            .with_context(|| format!("creating a Kafka consumer for {}", config.brokers))?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&names)
            .with_context(|| format!("subscribing to {}", names.join(", ")))?;
        let thread = std::thread::Builder::new()
            .name("kafka-poll".into())
            .spawn(move || poll_loop(consumer, shutdown))
            .context("spawning the Kafka poll thread")?;
        Ok((KafkaSource { thread }, ack_tx))
    }

    /// Waits for the poll thread to finish (after shutdown was set).
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

fn poll_loop(consumer: BaseConsumer<SourceContext>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        consumer.context().store_acks(&consumer);
        forward_pending(&consumer);
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(e)) => {
                tracing::warn!(error = %e, "Kafka consumer error; librdkafka retries by itself")
            }
            Some(Ok(m)) => {
                let message = crate::range::source_message(&m);
                route(&consumer, message);
            }
        }
    }
    tracing::info!("stopping: finishing in-flight batches and committing offsets");
    let keys: Vec<Key> = consumer
        .context()
        .partitions
        .lock()
        .expect("partition map")
        .keys()
        .cloned()
        .collect();
    if let Ok(assignment) = consumer.assignment() {
        let _ = consumer.pause(&assignment);
    }
    consumer.context().release(&consumer, &keys);
    consumer.unsubscribe();
}

/// Hands a message to its partition's worker, or parks it and pauses the
/// partition when the worker's queue is full (polling goes on for the rest).
fn route(consumer: &BaseConsumer<SourceContext>, message: SourceMessage) {
    let key = (message.origin.topic.clone(), message.origin.partition);
    let mut partitions = consumer.context().partitions.lock().expect("partition map");
    let Some(state) = partitions.get_mut(&key) else {
        return; // revoked meanwhile: its next owner reads it again
    };
    consumer.context().metrics.record_in(&key.0);
    if !state.pending.is_empty() {
        state.pending.push_back(message);
        return;
    }
    if let Err(mpsc::error::TrySendError::Full(message)) = state.tx.try_send(message) {
        state.pending.push_back(message);
        if !state.paused {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition(&key.0, key.1);
            if consumer.pause(&tpl).is_ok() {
                state.paused = true;
                tracing::debug!(topic = %key.0, partition = key.1, "partition paused: its worker is behind");
            }
        }
    }
}

/// Moves parked messages into queues that have room again; resumes a
/// partition once its parked messages are all handed over.
fn forward_pending(consumer: &BaseConsumer<SourceContext>) {
    let mut partitions = consumer.context().partitions.lock().expect("partition map");
    for ((topic, partition), state) in partitions.iter_mut() {
        while let Some(message) = state.pending.pop_front() {
            match state.tx.try_send(message) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(m))
                | Err(mpsc::error::TrySendError::Closed(m)) => {
                    state.pending.push_front(m);
                    break;
                }
            }
        }
        if state.paused && state.pending.is_empty() {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition(topic, *partition);
            if consumer.resume(&tpl).is_ok() {
                state.paused = false;
            }
        }
    }
}
