//! A bounded read of one topic for the history tools (`host dlq replay`,
//! `host reprocess`): a consumer of its own group that assigns the topic's
//! partitions itself (it joins no group, so no live host is disturbed and no
//! rebalance happens), reads each from where the group stopped (or the
//! range's start) to the range's end, fixed when it opens, and commits only
//! what its caller says is done. Reading past the end is never handed out.

use crate::config::KafkaConfig;
use anyhow::{bail, Context, Result};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sluice_model::{Origin, SourceMessage};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a metadata, watermark, offset or commit request may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a read waits before asking whether the partitions are done.
const IDLE: Duration = Duration::from_millis(500);

/// Where a partition's range starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The partition's first offset still held.
    Beginning,
    /// This offset (the first still held, if it is gone).
    Offset(i64),
    /// The first record stamped at or after this time (ms since the epoch).
    Time(i64),
}

/// Where a partition's range ends (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The partition's end when the range is opened.
    Latest,
    /// This offset, or the partition's end if that is sooner.
    Offset(i64),
    /// The first record stamped at or after this time (ms since the epoch).
    Time(i64),
}

/// What to read.
#[derive(Debug, Clone)]
pub struct RangeSpec {
    pub topic: String,
    /// The consumer group whose offsets record the progress.
    pub group: String,
    pub start: Start,
    pub end: End,
    /// Start from the group's committed offset when it is past `start`
    /// (false: `start` as given, e.g. `--from-beginning`).
    pub resume: bool,
    /// Only these partitions (empty: all of them).
    pub partitions: Vec<i32>,
}

/// One partition's range: `[start, end)`, `start` after resuming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    pub partition: i32,
    pub start: i64,
    pub end: i64,
}

impl Span {
    pub fn len(&self) -> u64 {
        (self.end - self.start).max(0) as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The open read.
pub struct RangeReader {
    consumer: StreamConsumer,
    topic: String,
    spans: Vec<Span>,
    /// The end of every partition not read to its end yet.
    open: BTreeMap<i32, i64>,
}

impl RangeReader {
    /// Fixes every partition's range and starts reading. Blocking requests
    /// to Kafka: call it from a multi-threaded runtime.
    pub fn open(config: &KafkaConfig, spec: &RangeSpec) -> Result<Self> {
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", &config.brokers)
            .set("group.id", &spec.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false");
        for (k, v) in &config.options {
            // The live group's membership settings are not this reader's.
            if !k.starts_with("group.") && !k.starts_with("enable.auto.") && !k.starts_with("auto.")
            {
                client.set(k, v);
            }
        }
        let consumer: StreamConsumer = client
            .create()
            .with_context(|| format!("creating a Kafka consumer for {}", config.brokers))?;
        let topic = spec.topic.as_str();
        let metadata = consumer
            .fetch_metadata(Some(topic), TIMEOUT)
            .with_context(|| {
                format!(
                    "reading the metadata of topic {topic} from {} (is Kafka running?)",
                    config.brokers
                )
            })?;
        let mut partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            bail!("topic {topic} does not exist (or has no partitions)");
        }
        if !spec.partitions.is_empty() {
            if let Some(p) = spec.partitions.iter().find(|p| !partitions.contains(p)) {
                bail!("topic {topic} has no partition {p} (it has {partitions:?})");
            }
            partitions.retain(|p| spec.partitions.contains(p));
        }
        partitions.sort_unstable();
        let marks = partitions
            .iter()
            .map(|&p| {
                consumer
                    .fetch_watermarks(topic, p, TIMEOUT)
                    .with_context(|| format!("reading the offsets of {topic}/{p}"))
            })
            .collect::<Result<Vec<(i64, i64)>>>()?;
        let at = |time: i64| -> Result<Vec<i64>> {
            let mut tpl = TopicPartitionList::new();
            for &p in &partitions {
                tpl.add_partition_offset(topic, p, Offset::Offset(time))?;
            }
            let found = consumer
                .offsets_for_times(tpl, TIMEOUT)
                .with_context(|| format!("looking up offsets of {topic} by time"))?;
            Ok(partitions
                .iter()
                .zip(&marks)
                .map(
                    |(&p, &(_, high))| match found.find_partition(topic, p).map(|e| e.offset()) {
                        Some(Offset::Offset(o)) => o,
                        // No record at or after the time: the partition's end.
                        _ => high,
                    },
                )
                .collect())
        };
        let starts: Vec<i64> = match spec.start {
            Start::Beginning => marks.iter().map(|&(low, _)| low).collect(),
            Start::Offset(o) => marks.iter().map(|&(low, _)| o.max(low)).collect(),
            Start::Time(t) => at(t)?,
        };
        let ends: Vec<i64> = match spec.end {
            End::Latest => marks.iter().map(|&(_, high)| high).collect(),
            End::Offset(o) => marks.iter().map(|&(_, high)| o.min(high)).collect(),
            End::Time(t) => at(t)?,
        };
        let committed = if spec.resume {
            let mut tpl = TopicPartitionList::new();
            for &p in &partitions {
                tpl.add_partition(topic, p);
            }
            let found = consumer.committed_offsets(tpl, TIMEOUT).with_context(|| {
                format!("reading the committed offsets of group {}", spec.group)
            })?;
            partitions
                .iter()
                .map(
                    |&p| match found.find_partition(topic, p).map(|e| e.offset()) {
                        Some(Offset::Offset(o)) => Some(o),
                        _ => None,
                    },
                )
                .collect()
        } else {
            vec![None; partitions.len()]
        };
        let spans: Vec<Span> = partitions
            .iter()
            .enumerate()
            .map(|(i, &partition)| {
                let start = committed[i].map_or(starts[i], |c| c.max(starts[i]));
                Span {
                    partition,
                    start,
                    end: ends[i].max(start),
                }
            })
            .collect();
        let mut assignment = TopicPartitionList::new();
        let mut open = BTreeMap::new();
        for s in spans.iter().filter(|s| !s.is_empty()) {
            assignment.add_partition_offset(topic, s.partition, Offset::Offset(s.start))?;
            open.insert(s.partition, s.end);
        }
        if assignment.count() > 0 {
            consumer
                .assign(&assignment)
                .with_context(|| format!("assigning the partitions of {topic}"))?;
        }
        tracing::debug!(%topic, group = %spec.group, ?spans, "range opened");
        Ok(RangeReader {
            consumer,
            topic: spec.topic.clone(),
            spans,
            open,
        })
    }

    /// Every partition's range.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// Records in the whole range.
    pub fn total(&self) -> u64 {
        self.spans.iter().map(Span::len).sum()
    }

    /// The next records of the range, up to `max`, waiting at most `linger`
    /// for more once one is there. None: every partition is read to its end.
    /// Origins are the read topic's (`topic/partition@offset`).
    pub async fn next_batch(
        &mut self,
        max: usize,
        linger: Duration,
    ) -> Result<Option<Vec<SourceMessage>>> {
        let mut batch = Vec::new();
        let mut deadline = None;
        while !self.open.is_empty() && batch.len() < max.max(1) {
            let wait = match deadline {
                Some(d) => {
                    tokio::time::Instant::saturating_duration_since(&d, tokio::time::Instant::now())
                }
                None => IDLE,
            };
            match tokio::time::timeout(wait, self.consumer.recv()).await {
                Ok(Ok(m)) => {
                    let (partition, offset) = (m.partition(), m.offset());
                    let Some(&end) = self.open.get(&partition) else {
                        continue;
                    };
                    if offset < end {
                        batch.push(source_message(&m));
                        deadline.get_or_insert_with(|| tokio::time::Instant::now() + linger);
                    }
                    if offset + 1 >= end {
                        self.close(partition);
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(topic = %self.topic, error = %e, "Kafka consumer error; librdkafka retries by itself")
                }
                Err(_) if !batch.is_empty() => break,
                // Nothing for a while: a partition whose last offsets hold
                // no record (transaction markers) is done once its position
                // reaches the end.
                Err(_) => self.close_finished()?,
            }
        }
        Ok((!batch.is_empty()).then_some(batch))
    }

    fn close(&mut self, partition: i32) {
        self.open.remove(&partition);
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&self.topic, partition);
        if let Err(e) = self.consumer.pause(&tpl) {
            tracing::debug!(topic = %self.topic, partition, error = %e, "pausing a finished partition");
        }
    }

    fn close_finished(&mut self) -> Result<()> {
        let positions = self.consumer.position()?;
        let done: Vec<i32> = self
            .open
            .iter()
            .filter(|(&p, &end)| {
                matches!(
                    positions.find_partition(&self.topic, p).map(|e| e.offset()),
                    Some(Offset::Offset(o)) if o >= end
                )
            })
            .map(|(&p, _)| p)
            .collect();
        for p in done {
            self.close(p);
        }
        Ok(())
    }

    /// Commits `next` (partition -> the next offset to read: everything
    /// before it is done) to the range's group, synchronously.
    pub fn commit(&self, next: &BTreeMap<i32, i64>) -> Result<()> {
        if next.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (&p, &o) in next {
            tpl.add_partition_offset(&self.topic, p, Offset::Offset(o))?;
        }
        self.consumer
            .commit(&tpl, CommitMode::Sync)
            .with_context(|| format!("committing offsets of {} ({next:?})", self.topic))
    }
}

/// A consumed record as the pipeline takes it (the live source uses it too).
pub(crate) fn source_message(m: &BorrowedMessage<'_>) -> SourceMessage {
    SourceMessage {
        origin: Origin {
            topic: m.topic().to_string(),
            partition: m.partition(),
            offset: m.offset(),
            timestamp: m.timestamp().to_millis(),
            key: m.key().map(<[u8]>::to_vec),
            headers: m
                .headers()
                .map(|hs| {
                    hs.iter()
                        .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                        .collect()
                })
                .unwrap_or_default(),
        },
        payload: m.payload().map(<[u8]>::to_vec),
    }
}
