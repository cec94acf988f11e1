//! The real local services as the benchmark sees them: topics, keyspaces,
//! row counts, Cassandra write times and Kafka record timestamps.

use anyhow::{bail, Context, Result};
use futures::TryStreamExt;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::Statement;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Where the services are (`scripts/services.sh` defaults, or SLUICE_* env).
#[derive(Debug, Clone, clap::Args)]
pub struct Endpoints {
    #[arg(long, env = "SLUICE_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub brokers: String,
    #[arg(long, env = "SLUICE_CASSANDRA_HOSTS", default_value = "127.0.0.1:9042")]
    pub cassandra: String,
    #[arg(
        long,
        env = "SLUICE_REGISTRY_URL",
        default_value = "http://127.0.0.1:8081/apis/ccompat/v7"
    )]
    pub registry: String,
}

/// A run-unique suffix for topic and keyspace names.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

pub async fn create_topic(brokers: &str, name: &str, partitions: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    // SLUICE_BENCH_TIMESTAMP_TYPE=LogAppendTime: records carry the broker's
    // append time instead of the producer's, which splits a latency into
    // producer -> broker and broker -> row (latency work only).
    let timestamp_type = std::env::var("SLUICE_BENCH_TIMESTAMP_TYPE").ok();
    if let Some(t) = &timestamp_type {
        topic = topic.set("message.timestamp.type", t);
    }
    let results = admin
        .create_topics(
            [&topic],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(20))),
        )
        .await
        .with_context(|| format!("creating topic {name} on {brokers} (is Kafka up? `just up`)"))?;
    for r in results {
        r.map_err(|(n, e)| anyhow::anyhow!("creating topic {n}: {e}"))?;
    }
    Ok(())
}

/// Deletes a benchmark's topic and the dead-letter topic the host made for it.
pub async fn delete_topic(brokers: &str, name: &str) {
    let admin: Result<AdminClient<DefaultClientContext>, _> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create();
    if let Ok(admin) = admin {
        let dlq = format!("{name}.dlq");
        let _ = admin
            .delete_topics(&[name, dlq.as_str()], &AdminOptions::new())
            .await;
    }
}

pub async fn session(hosts: &str) -> Result<Session> {
    SessionBuilder::new()
        .known_nodes(hosts.split(',').map(str::trim))
        .build()
        .await
        .with_context(|| format!("connecting to Cassandra at {hosts} (is it up? `just up`)"))
}

/// Creates `keyspace` and its `created_users` table as the host does (`schemas/cassandra.cql`).
pub async fn create_schema(session: &Session, keyspace: &str) -> Result<()> {
    let text = include_str!("../../schemas/cassandra.cql")
        .replace("{keyspace}", keyspace)
        .replace(
            "{replication}",
            "{'class': 'SimpleStrategy', 'replication_factor': 1}",
        );
    let without_comments: String = text
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    for statement in without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let mut st = Statement::new(statement);
        st.set_request_timeout(Some(Duration::from_secs(60)));
        session
            .query_unpaged(st, ())
            .await
            .with_context(|| format!("running {statement}"))?;
    }
    Ok(())
}

pub async fn drop_keyspace(session: &Session, keyspace: &str) {
    let mut st = Statement::new(format!("DROP KEYSPACE IF EXISTS {keyspace}"));
    st.set_request_timeout(Some(Duration::from_secs(60)));
    let _ = session.query_unpaged(st, ()).await;
}

/// `SELECT count(*)`, with a long timeout and retries (a busy Cassandra is slow to count).
pub async fn count(session: &Session, table: &str) -> Result<i64> {
    let mut last = None;
    for _ in 0..5 {
        let mut st = Statement::new(format!("SELECT count(*) FROM {table}"));
        st.set_request_timeout(Some(Duration::from_secs(60)));
        match session.query_unpaged(st, ()).await {
            Ok(r) => return Ok(r.into_rows_result()?.single_row::<(i64,)>()?.0),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("counting {table} keeps failing: {last:?}")
}

/// How many of `ids` have a row in `table` (point reads: cheap, unlike `count(*)`).
pub async fn present(session: &Session, table: &str, ids: &[uuid::Uuid]) -> Result<usize> {
    let mut st = Statement::new(format!("SELECT id FROM {table} WHERE id IN ?"));
    st.set_request_timeout(Some(Duration::from_secs(30)));
    let rows = session
        .query_unpaged(st, (ids,))
        .await?
        .into_rows_result()?;
    Ok(rows.rows_num())
}

/// Each row's id and write time (microseconds since the epoch, given by the
/// Cassandra coordinator when the write reached it).
pub async fn write_times(session: &Session, table: &str) -> Result<HashMap<uuid::Uuid, i64>> {
    let mut st = Statement::new(format!("SELECT id, writetime(first_name) FROM {table}"));
    st.set_page_size(5000);
    st.set_request_timeout(Some(Duration::from_secs(60)));
    let mut rows = session
        .query_iter(st, ())
        .await?
        .rows_stream::<(uuid::Uuid, Option<i64>)>()?;
    let mut out = HashMap::new();
    while let Some((id, wt)) = rows.try_next().await? {
        if let Some(wt) = wt {
            out.insert(id, wt);
        }
    }
    Ok(out)
}

/// The end offset of each partition of `topic`.
pub fn end_offsets(brokers: &str, topic: &str, partitions: i32) -> Result<Vec<i64>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "sluice-bench-probe")
        .create()?;
    (0..partitions)
        .map(|p| {
            Ok(consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))?
                .1)
        })
        .collect()
}

/// One record's key and timestamp (ms since the epoch, set by the producer).
#[derive(Debug, Clone)]
pub struct Stamp {
    pub key: String,
    pub timestamp_ms: i64,
    pub partition: i32,
    pub offset: i64,
}

/// Reads the records of `topic` between `from` and `to` offsets (per partition).
pub fn stamps(brokers: &str, topic: &str, from: &[i64], to: &[i64]) -> Result<Vec<Stamp>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "sluice-bench-stamps")
        .set("enable.auto.commit", "false")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for (p, &o) in from.iter().enumerate() {
        tpl.add_partition_offset(topic, p as i32, Offset::Offset(o))?;
    }
    consumer.assign(&tpl)?;
    let wanted: i64 = to.iter().zip(from).map(|(t, f)| t - f).sum();
    let mut out = Vec::with_capacity(wanted as usize);
    let deadline = Instant::now() + Duration::from_secs(120);
    while (out.len() as i64) < wanted {
        if Instant::now() > deadline {
            bail!("read {} of {wanted} records back from {topic}", out.len());
        }
        let Some(m) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let m = m?;
        let p = m.partition() as usize;
        if m.offset() < from[p] || m.offset() >= to[p] {
            continue;
        }
        out.push(Stamp {
            key: m
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default(),
            timestamp_ms: m.timestamp().to_millis().unwrap_or(0),
            partition: m.partition(),
            offset: m.offset(),
        });
    }
    Ok(out)
}
