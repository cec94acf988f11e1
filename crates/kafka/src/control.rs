//! The group's control log in Kafka itself: three compacted one-partition
//! topics per group (`<prefix>.<group>.deploys|barriers|members`) and the
//! group's content-addressed, compacted plugin store (`<prefix>.<group>.plugins`,
//! components cut into 512 KiB chunks keyed `<sha256>/<index>`, each with
//! its own digest; a reader scans it, so it is per group). No server besides Kafka.
//!
//! A reader thread assigns itself the three topics from the beginning and
//! hands every record, in order, to the pipeline's fleet inbox; `sync`
//! fetches the topics' ends and waits until the reader is past them.

use crate::config::KafkaConfig;
use crate::dead_letters::{client_options, sha256_hex, QuietContext};
use anyhow::{Context, Result};
use futures::future::BoxFuture;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sluice_pipeline::fleet::log::{BlobError, ControlLog, ControlRecord, Stream};
use sluice_pipeline::fleet::Inbox;
use sluice_pipeline::CancellationToken;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Chunk size in the plugin store: well under Kafka's default 1 MiB limit.
const CHUNK: usize = 512 << 10;
/// How long `sync` waits for the reader.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
const CHUNKS_HEADER: &str = "sluice.chunks";
const DIGEST_HEADER: &str = "sluice.chunk.sha256";

/// The control topics of one group.
#[derive(Debug, Clone)]
pub struct ControlTopics {
    pub deploys: String,
    pub barriers: String,
    pub members: String,
    pub plugins: String,
}

impl ControlTopics {
    /// `<prefix>.<group>.<stream>`; characters Kafka refuses in topic names
    /// become `_`.
    pub fn new(prefix: &str, group: &str) -> Self {
        let group: String = group
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        ControlTopics {
            deploys: format!("{prefix}.{group}.deploys"),
            barriers: format!("{prefix}.{group}.barriers"),
            members: format!("{prefix}.{group}.members"),
            plugins: format!("{prefix}.{group}.plugins"),
        }
    }

    fn of(&self, stream: Stream) -> &str {
        match stream {
            Stream::Deploys => &self.deploys,
            Stream::Barriers => &self.barriers,
            Stream::Members => &self.members,
        }
    }

    fn stream(&self, topic: &str) -> Option<Stream> {
        Stream::ALL.into_iter().find(|s| self.of(*s) == topic)
    }
}

/// Where the reader is: the next offset of each topic it will read.
#[derive(Default)]
struct Progress {
    next: Mutex<HashMap<String, i64>>,
    moved: Notify,
}

/// The control log of one group, in Kafka.
pub struct KafkaControlLog {
    producer: FutureProducer<QuietContext>,
    topics: ControlTopics,
    config: ClientConfig,
    progress: Arc<Progress>,
    stop: CancellationToken,
    reader: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl KafkaControlLog {
    /// Creates the topics when missing and starts the reader, which hands
    /// every record to `inbox` until `stop` is cancelled.
    pub async fn start(
        config: &KafkaConfig,
        prefix: &str,
        inbox: Inbox,
        stop: CancellationToken,
    ) -> Result<Self> {
        let topics = ControlTopics::new(prefix, &config.group_id);
        let mut base = ClientConfig::new();
        base.set("bootstrap.servers", &config.brokers);
        client_options(&mut base, &config.options);
        ensure_topics(&base, &topics, &config.brokers).await?;

        let mut producer_config = base.clone();
        producer_config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0")
            .set("message.timeout.ms", "15000");
        let producer = producer_config
            .create_with_context(QuietContext)
            .context("creating the control-log producer")?;

        let consumer = reader_consumer(&base, &config.group_id)?;
        let mut tpl = TopicPartitionList::new();
        for stream in Stream::ALL {
            tpl.add_partition_offset(topics.of(stream), 0, Offset::Beginning)
                .context("assigning the control topics")?;
        }
        consumer
            .assign(&tpl)
            .context("assigning the control topics")?;
        let progress = Arc::new(Progress::default());
        let reader = {
            let (topics, progress, stop) = (topics.clone(), progress.clone(), stop.clone());
            std::thread::Builder::new()
                .name("control-log".into())
                .spawn(move || read_loop(consumer, topics, inbox, progress, stop))
                .context("spawning the control-log reader")?
        };
        Ok(KafkaControlLog {
            producer,
            topics,
            config: base,
            progress,
            stop,
            reader: Mutex::new(Some(reader)),
        })
    }

    pub fn topics(&self) -> &ControlTopics {
        &self.topics
    }

    /// The end offset of each control topic, now.
    fn ends(&self) -> Result<Vec<(String, i64)>, String> {
        Stream::ALL
            .into_iter()
            .map(|s| {
                let topic = self.topics.of(s);
                self.producer
                    .client()
                    .fetch_watermarks(topic, 0, Duration::from_secs(10))
                    .map(|(_, high)| (topic.to_string(), high))
                    .map_err(|e| format!("reading the end of {topic}: {e}"))
            })
            .collect()
    }

    async fn produce(
        &self,
        topic: &str,
        key: &str,
        value: Option<&[u8]>,
        headers: Option<OwnedHeaders>,
    ) -> Result<(), String> {
        let mut record: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic).key(key);
        if let Some(v) = value {
            record = record.payload(v);
        }
        if let Some(h) = headers {
            record = record.headers(h);
        }
        self.producer
            .send(record, Duration::from_secs(15))
            .await
            .map(|_| ())
            .map_err(|(e, _)| format!("producing {key} to {topic}: {e}"))
    }

    fn read_blob(&self, hash: &str) -> Result<Vec<u8>, BlobError> {
        let unavailable = |detail: String| BlobError::Unavailable {
            hash: hash.to_string(),
            detail,
        };
        let topic = &self.topics.plugins;
        let (_, end) = self
            .producer
            .client()
            .fetch_watermarks(topic, 0, Duration::from_secs(10))
            .map_err(|e| unavailable(format!("reading the end of {topic}: {e}")))?;
        let consumer = reader_consumer(&self.config, "plugin-store")
            .map_err(|e| unavailable(format!("{e:#}")))?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, 0, Offset::Beginning)
            .and_then(|_| consumer.assign(&tpl))
            .map_err(|e| unavailable(e.to_string()))?;
        let prefix = format!("{hash}/");
        // index -> (declared chunk count, declared digest, bytes, offset)
        let mut chunks: BTreeMap<usize, (usize, String, Vec<u8>, i64)> = BTreeMap::new();
        let mut next = 0;
        let started = std::time::Instant::now();
        while next < end {
            if started.elapsed() > SYNC_TIMEOUT {
                return Err(unavailable(format!(
                    "{topic} was not read to its end ({end}) within {SYNC_TIMEOUT:?}"
                )));
            }
            let Some(m) = consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            let m = m.map_err(|e| unavailable(e.to_string()))?;
            next = m.offset() + 1;
            let Some(index) = m
                .key()
                .and_then(|k| std::str::from_utf8(k).ok())
                .and_then(|k| k.strip_prefix(&prefix))
                .and_then(|i| i.parse::<usize>().ok())
            else {
                continue;
            };
            let header = |name: &str| {
                m.headers().and_then(|hs| {
                    hs.iter()
                        .find(|h| h.key == name)
                        .and_then(|h| h.value)
                        .and_then(|v| std::str::from_utf8(v).ok())
                        .map(str::to_string)
                })
            };
            let count = header(CHUNKS_HEADER)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let digest = header(DIGEST_HEADER).unwrap_or_default();
            let bytes = m.payload().unwrap_or_default().to_vec();
            chunks.insert(index, (count, digest, bytes, m.offset()));
        }
        assemble(hash, topic, chunks)
    }
}

/// Puts the chunks of `hash` back together, checking each and the whole.
fn assemble(
    hash: &str,
    topic: &str,
    chunks: BTreeMap<usize, (usize, String, Vec<u8>, i64)>,
) -> Result<Vec<u8>, BlobError> {
    let corrupt = |detail: String| BlobError::Corrupt {
        hash: hash.to_string(),
        detail,
    };
    let Some((count, ..)) = chunks.values().next() else {
        return Err(BlobError::Missing {
            hash: hash.to_string(),
            detail: format!(" ({topic} has no chunk of it)"),
        });
    };
    let count = *count;
    let mut bytes = Vec::new();
    for i in 0..count {
        let Some((_, digest, chunk, offset)) = chunks.get(&i) else {
            return Err(corrupt(format!(
                "chunk {i} of {count} is missing from {topic}"
            )));
        };
        if sha256_hex(chunk) != *digest {
            return Err(corrupt(format!(
                "chunk {i} of {count} ({topic} offset {offset}) does not match its digest"
            )));
        }
        bytes.extend_from_slice(chunk);
    }
    if count == 0 || sha256_hex(&bytes) != hash {
        return Err(corrupt(format!(
            "its {count} chunks put together do not hash to {hash}"
        )));
    }
    Ok(bytes)
}

impl ControlLog for KafkaControlLog {
    fn append<'a>(
        &'a self,
        stream: Stream,
        key: &'a str,
        value: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.produce(self.topics.of(stream), key, value, None))
    }

    fn sync(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + SYNC_TIMEOUT;
            // Right after a broker restart, metadata answers "not leader" for a
            // while: ask again until the deadline.
            let ends = loop {
                let this = &*self;
                match tokio::task::block_in_place(|| this.ends()) {
                    Ok(ends) => break ends,
                    Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                    Err(e) => {
                        tracing::debug!(error = %e, "control log end not readable yet; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            };
            loop {
                let moved = self.progress.moved.notified();
                let behind: Vec<String> = {
                    let next = self.progress.next.lock().expect("control progress");
                    ends.iter()
                        .filter(|(t, end)| next.get(t).copied().unwrap_or(0) < *end)
                        .map(|(t, end)| format!("{t} (end {end})"))
                        .collect()
                };
                if behind.is_empty() {
                    return Ok(());
                }
                if tokio::time::timeout_at(deadline, moved).await.is_err() {
                    return Err(format!(
                        "the control-log reader did not reach the end of {} within {SYNC_TIMEOUT:?}",
                        behind.join(", ")
                    ));
                }
            }
        })
    }

    fn put_blob<'a>(&'a self, hash: &'a str, bytes: &'a [u8]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let count = bytes.len().div_ceil(CHUNK).max(1);
            let sends = (0..count).map(|i| {
                let chunk =
                    &bytes[(i * CHUNK).min(bytes.len())..((i + 1) * CHUNK).min(bytes.len())];
                let (count, digest) = (count.to_string(), sha256_hex(chunk));
                let headers = OwnedHeaders::new()
                    .insert(Header {
                        key: CHUNKS_HEADER,
                        value: Some(count.as_str()),
                    })
                    .insert(Header {
                        key: DIGEST_HEADER,
                        value: Some(digest.as_str()),
                    });
                let key = format!("{hash}/{i}");
                async move {
                    self.produce(&self.topics.plugins, &key, Some(chunk), Some(headers))
                        .await
                }
            });
            futures::future::try_join_all(sends).await.map(|_| ())
        })
    }

    fn get_blob<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<Vec<u8>, BlobError>> {
        Box::pin(async move { tokio::task::block_in_place(|| self.read_blob(hash)) })
    }

    fn describe(&self) -> String {
        format!(
            "Kafka topics {}, {}, {} and {}",
            self.topics.deploys, self.topics.barriers, self.topics.members, self.topics.plugins
        )
    }
}

impl Drop for KafkaControlLog {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(reader) = self.reader.lock().expect("control reader").take() {
            let _ = reader.join();
        }
    }
}

/// Writes `value` under `key` to the group's members topic, for the group's
/// hosts to show (`host dlq replay` and `host reprocess` leave their last
/// summary there: `history/replay`, `history/reprocess`). Skipped, with a
/// debug line, when the group has no control log.
pub async fn publish_note(
    config: &KafkaConfig,
    prefix: &str,
    key: &str,
    value: &[u8],
) -> Result<()> {
    let topics = ControlTopics::new(prefix, &config.group_id);
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.brokers);
    client_options(&mut client, &config.options);
    client.set("message.timeout.ms", "10000");
    let producer: FutureProducer<QuietContext> = client
        .create_with_context(QuietContext)
        .context("creating a control-log producer")?;
    let exists = producer
        .client()
        .fetch_metadata(Some(&topics.members), Duration::from_secs(10))
        .map(|m| {
            m.topics()
                .iter()
                .any(|t| t.error().is_none() && !t.partitions().is_empty())
        })
        .unwrap_or(false);
    if !exists {
        tracing::debug!(topic = %topics.members, "no control log for this group: the summary is not published");
        return Ok(());
    }
    producer
        .send(
            FutureRecord::<str, [u8]>::to(&topics.members)
                .key(key)
                .payload(value),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| anyhow::anyhow!("publishing {key} to {}: {e}", topics.members))?;
    Ok(())
}

/// A consumer that only reads assigned partitions (no group, no commits).
fn reader_consumer(base: &ClientConfig, name: &str) -> Result<BaseConsumer> {
    let mut config = base.clone();
    config
        .set("group.id", format!("sluice-control-reader.{name}"))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.max.bytes", (4 * CHUNK).to_string());
    config
        .create()
        .context("creating a control-log reader (Kafka consumer)")
}

fn read_loop(
    consumer: BaseConsumer,
    topics: ControlTopics,
    inbox: Inbox,
    progress: Arc<Progress>,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        let Some(m) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "control-log reader; librdkafka retries by itself");
                continue;
            }
        };
        let Some(stream) = topics.stream(m.topic()) else {
            continue;
        };
        let key = m
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .unwrap_or_default();
        inbox.deliver(ControlRecord {
            stream,
            key,
            value: m.payload().map(<[u8]>::to_vec),
            position: format!("{}@{}", m.topic(), m.offset()),
        });
        progress
            .next
            .lock()
            .expect("control progress")
            .insert(m.topic().to_string(), m.offset() + 1);
        progress.moved.notify_waiters();
    }
}

/// Creates the control topics that are missing: one partition, compacted.
async fn ensure_topics(base: &ClientConfig, topics: &ControlTopics, brokers: &str) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        base.create().context("creating a Kafka admin client")?;
    let max = (2 * CHUNK).to_string();
    let new: Vec<NewTopic<'_>> = [
        &topics.deploys,
        &topics.barriers,
        &topics.members,
        &topics.plugins,
    ]
    .into_iter()
    .map(|t| {
        NewTopic::new(t, 1, TopicReplication::Fixed(-1))
            .set("cleanup.policy", "compact")
            .set("max.message.bytes", &max)
    })
    .collect();
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let results = admin.create_topics(&new, &options).await.with_context(|| {
        format!("creating the control topics on {brokers} (is Kafka running? `just up`)")
    })?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(%topic, "created a control topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => anyhow::bail!(
                "creating control topic {topic} on {brokers}: {code} (create it by hand: 1 partition, cleanup.policy=compact)"
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_are_made_legal() {
        let t = ControlTopics::new("_sluice", "my group/1");
        assert_eq!(t.deploys, "_sluice.my_group_1.deploys");
        assert_eq!(t.plugins, "_sluice.my_group_1.plugins");
        assert_eq!(
            t.stream("_sluice.my_group_1.barriers"),
            Some(Stream::Barriers)
        );
    }

    fn chunk(count: usize, bytes: &[u8], offset: i64) -> (usize, String, Vec<u8>, i64) {
        (count, sha256_hex(bytes), bytes.to_vec(), offset)
    }

    #[test]
    fn a_blob_is_checked_chunk_by_chunk_and_whole() {
        let whole = b"abcdef";
        let hash = sha256_hex(whole);
        let good = BTreeMap::from([(0, chunk(2, b"abc", 5)), (1, chunk(2, b"def", 6))]);
        assert_eq!(assemble(&hash, "t", good.clone()).unwrap(), whole);

        let mut missing = good.clone();
        missing.remove(&1);
        let e = assemble(&hash, "t", missing).unwrap_err().to_string();
        assert!(e.contains("chunk 1 of 2 is missing"), "{e}");

        let mut damaged = good.clone();
        damaged.get_mut(&0).unwrap().2 = b"abX".to_vec();
        let e = assemble(&hash, "t", damaged).unwrap_err().to_string();
        assert!(
            e.contains("chunk 0 of 2 (t offset 5) does not match"),
            "{e}"
        );

        let e = assemble(&sha256_hex(b"other"), "t", good)
            .unwrap_err()
            .to_string();
        assert!(e.contains("do not hash to"), "{e}");

        let e = assemble(&hash, "t", BTreeMap::new()).unwrap_err();
        assert!(matches!(e, BlobError::Missing { .. }));
    }
}
