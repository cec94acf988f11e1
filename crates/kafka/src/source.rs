//! The consumer thread. librdkafka's rebalance callbacks run on the thread
//! that polls, so polling gets a thread of its own: there a revoke can block
//! until the partition's worker has finished its in-flight batch, without
//! stalling the async runtime the workers run on.
//!
//! Each assigned partition's records come through a queue of its own (split
//! from the consumer queue), and a forwarder task moves them into the
//! partition's worker queue only when that has room. A worker that is behind
//! thus leaves its records in librdkafka's fetch queue, which stops fetching
//! at `queued.max.messages.kbytes` per partition: memory stays bounded
//! without pausing the partition, which made librdkafka drop its prefetched
//! records and fetch them again (the drain slowed by half with small buffers).
//!
//! Offsets: `enable.auto.offset.store=false`; an offset is stored when its
//! worker sends an [`Ack`] (all records before it are written or
//! dead-lettered); stored offsets are auto-committed, and committed
//! synchronously on revoke and on shutdown.

use crate::config::KafkaConfig;
use anyhow::{Context, Result};
use rdkafka::consumer::{
    base_consumer::PartitionQueue, BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance,
};
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
/// How long a revoke waits for a forwarder to let go of its queue.
const FORWARDER_TIMEOUT: Duration = Duration::from_secs(5);
/// What librdkafka may prefetch per partition, in KiB, unless
/// `kafka.options` says otherwise: 4 MiB is several hundred batches of
/// typical records, and librdkafka's 64 MiB default was most of a host's
/// memory with a few partitions.
const PREFETCH_KIB: &str = "4096";

struct PartitionState {
    tx: mpsc::Sender<SourceMessage>,
    /// Messages polled from the consumer queue while the worker's queue was
    /// full: only a partition whose queue could not be split has them.
    pending: VecDeque<SourceMessage>,
    paused: bool,
    cancel: CancellationToken,
    done: std_mpsc::Receiver<()>,
    /// Disconnects when the partition's forwarder has let go of its queue.
    forwarder: Option<std_mpsc::Receiver<()>>,
}

type Key = (String, i32);

struct SourceContext {
    partitions: Mutex<HashMap<Key, PartitionState>>,
    /// Assigned (and paused) partitions whose queues the poll loop splits.
    to_split: Mutex<Vec<Key>>,
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
                // Paused until the poll loop has split its queue (that
                // needs the consumer's Arc): nothing is fetched before, so
                // nothing reaches the consumer queue out of order.
                let paused = consumer.pause(&one_partition(&key.0, key.1)).is_ok();
                if paused {
                    self.to_split.lock().expect("split list").push(key.clone());
                }
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
                        paused,
                        cancel,
                        done: done_rx,
                        forwarder: None,
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
            // A queue split again after a reassignment must be the only one.
            if let Some(forwarder) = state.forwarder {
                if let Err(std_mpsc::RecvTimeoutError::Timeout) =
                    forwarder.recv_timeout(FORWARDER_TIMEOUT)
                {
                    tracing::warn!(%topic, partition, "the partition's forwarder did not stop in time");
                }
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
            .set("enable.partition.eof", "false")
            .set("queued.max.messages.kbytes", PREFETCH_KIB);
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
            to_split: Mutex::new(Vec::new()),
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
        // Forwarders run as tasks of the runtime the workers run on.
        let runtime = tokio::runtime::Handle::try_current()
            .context("the Kafka source starts inside a Tokio runtime")?;
        let consumer = Arc::new(consumer);
        let thread = std::thread::Builder::new()
            .name("kafka-poll".into())
            .spawn(move || poll_loop(consumer, runtime, shutdown))
            .context("spawning the Kafka poll thread")?;
        Ok((KafkaSource { thread }, ack_tx))
    }

    /// Waits for the poll thread to finish (after shutdown was set).
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

type SharedConsumer = Arc<BaseConsumer<SourceContext>>;

fn poll_loop(
    consumer: SharedConsumer,
    runtime: tokio::runtime::Handle,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        consumer.context().store_acks(&consumer);
        split_assigned(&consumer, &runtime);
        forward_pending(&consumer);
        // Records of split partitions never come here; this serves
        // rebalances, statistics and errors (and any unsplit partition).
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

/// Gives each newly assigned partition its own queue and forwarder, then
/// resumes it. A partition whose queue cannot be split is resumed all the
/// same and goes through the consumer queue, with pause and resume.
fn split_assigned(consumer: &SharedConsumer, runtime: &tokio::runtime::Handle) {
    let keys = std::mem::take(&mut *consumer.context().to_split.lock().expect("split list"));
    if keys.is_empty() {
        return;
    }
    let mut resume = TopicPartitionList::new();
    let mut partitions = consumer.context().partitions.lock().expect("partition map");
    for key in keys {
        let Some(state) = partitions.get_mut(&key) else {
            continue; // revoked meanwhile
        };
        match consumer.split_partition_queue(&key.0, key.1) {
            Some(queue) => {
                let (done_tx, done_rx) = std_mpsc::sync_channel(1);
                state.forwarder = Some(done_rx);
                runtime.spawn(forward(
                    queue,
                    state.tx.clone(),
                    state.cancel.clone(),
                    consumer.context().metrics.clone(),
                    key.0.clone(),
                    done_tx,
                ));
            }
            None => {
                tracing::warn!(topic = %key.0, partition = key.1, "cannot split the partition's queue; it is read through the consumer queue")
            }
        }
        state.paused = false;
        resume.add_partition(&key.0, key.1);
    }
    if let Err(e) = consumer.resume(&resume) {
        tracing::error!(error = %e, "cannot resume newly assigned partitions");
    }
}

/// Moves a partition's records from its librdkafka queue into its worker's,
/// one free slot at a time: while the worker is behind, records stay in
/// librdkafka, which stops fetching when the queue is full.
async fn forward(
    mut queue: PartitionQueue<SourceContext>,
    tx: mpsc::Sender<SourceMessage>,
    cancel: CancellationToken,
    metrics: Arc<Metrics>,
    topic: String,
    done: std_mpsc::SyncSender<()>,
) {
    let arrived = Arc::new(tokio::sync::Notify::new());
    queue.set_nonempty_callback({
        let arrived = arrived.clone();
        move || arrived.notify_one()
    });
    'records: loop {
        let permit = tokio::select! {
            _ = cancel.cancelled() => break,
            permit = tx.reserve() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // the worker is gone
            },
        };
        let message = loop {
            match queue.poll(Duration::ZERO) {
                Some(Ok(m)) => break crate::range::source_message(&m),
                Some(Err(e)) => {
                    tracing::warn!(%topic, error = %e, "Kafka partition error; librdkafka retries by itself")
                }
                // The callback fires as the queue stops being empty (Notify
                // keeps a wake-up that comes before the wait); the timeout
                // is a safety net should librdkafka not call back.
                None => tokio::select! {
                    _ = cancel.cancelled() => break 'records,
                    _ = arrived.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                },
            }
        };
        metrics.record_in(&topic);
        permit.send(message);
    }
    drop(queue);
    drop(done);
}

fn one_partition(topic: &str, partition: i32) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    tpl
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
        if !state.paused && consumer.pause(&one_partition(&key.0, key.1)).is_ok() {
            state.paused = true;
            tracing::debug!(topic = %key.0, partition = key.1, "partition paused: its worker is behind");
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
        if state.paused
            && state.pending.is_empty()
            && consumer.resume(&one_partition(topic, *partition)).is_ok()
        {
            state.paused = false;
        }
    }
}
