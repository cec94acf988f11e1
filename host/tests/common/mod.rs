//! Helpers shared by the integration tests that run against the real
//! Kafka, Schema Registry and Cassandra (`just up` starts them).
#![allow(dead_code)]

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use std::time::{Duration, Instant};

pub fn brokers() -> String {
    std::env::var("SLUICE_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}
pub fn cassandra_hosts() -> String {
    std::env::var("SLUICE_CASSANDRA_HOSTS").unwrap_or_else(|_| "127.0.0.1:9042".into())
}
pub fn registry_url() -> String {
    std::env::var("SLUICE_REGISTRY_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:8081/apis/ccompat/v7".into())
}

/// A consumer of `topic`'s dead-letter topic from its start, in a group of
/// its own (fetches sized for letters near 1 MB).
pub fn dlq_consumer(topic: &str) -> rdkafka::consumer::StreamConsumer {
    use rdkafka::consumer::Consumer;
    let consumer: rdkafka::consumer::StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", unique("dlq"))
        .set("auto.offset.reset", "earliest")
        .set("fetch.message.max.bytes", "2000000")
        .create()
        .unwrap();
    consumer.subscribe(&[&format!("{topic}.dlq")]).unwrap();
    consumer
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A name no other test run uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .get(..10)
            .unwrap_or("x")
    )
}

pub async fn create_topic(name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("admin client");
    let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    let r = admin
        .create_topics(
            [&topic],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "Kafka at {} does not answer ({e}); run `just up`",
                brokers()
            )
        });
    r[0].as_ref().expect("topic created");
}

pub fn producer() -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

pub async fn produce(producer: &FutureProducer, topic: &str, key: &str, value: &[u8]) {
    producer
        .send(
            FutureRecord::to(topic).key(key).payload(value),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|(e, _)| panic!("producing to {topic}: {e}"));
}

pub async fn session() -> Session {
    SessionBuilder::new()
        .known_node(cassandra_hosts())
        .build()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "Cassandra at {} does not answer ({e}); run `just up`",
                cassandra_hosts()
            )
        })
}

/// Randomuser-shaped users with distinct `login.uuid`s, from the samples.
pub fn users(n: usize) -> Vec<serde_json::Value> {
    let samples: Vec<serde_json::Value> =
        include_str!("../../../crates/pipeline/src/control/sample-users.jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    (0..n)
        .map(|i| {
            let mut u = samples[i % samples.len()].clone();
            u["login"]["uuid"] = serde_json::json!(uuid::Uuid::new_v4().to_string());
            u["login"]["username"] = serde_json::json!(format!("user{i}"));
            u
        })
        .collect()
}

/// Counts rows of a table, retrying the timeouts a fresh Cassandra gives.
pub async fn count(session: &Session, table: &str) -> i64 {
    for _ in 0..5 {
        if let Ok(r) = session
            .query_unpaged(format!("SELECT count(*) FROM {table}"), ())
            .await
        {
            if let Ok(rows) = r.into_rows_result() {
                if let Ok((n,)) = rows.single_row::<(i64,)>() {
                    return n;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("counting rows of {table} keeps failing");
}

/// Waits until `table` has `n` rows; panics after `timeout` with what it saw.
pub async fn wait_for_rows(session: &Session, table: &str, n: i64, timeout: Duration) {
    let start = Instant::now();
    loop {
        let c = count(session, table).await;
        if c >= n {
            assert_eq!(c, n, "{table} has more rows than records produced");
            return;
        }
        if start.elapsed() > timeout {
            panic!("{table} has {c} rows after {timeout:?}, expected {n}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A pipeline config for tests: the local services, a unique consumer group,
/// consistency ONE, the admin endpoint on a free port.
pub fn test_config(topic: &str, keyspace: &str) -> host::config::Config {
    let mut c = host::config::Config::default();
    c.kafka.brokers = brokers();
    c.kafka.group_id = unique("g");
    c.registry.url = registry_url();
    c.cassandra.hosts = cassandra_hosts();
    c.cassandra.keyspace = keyspace.into();
    c.cassandra.consistency = "one".into();
    c.pipeline.topics = vec![topic.into()];
    c.admin.listen = "127.0.0.1:0".into();
    c
}

/// [`test_config`] with a `records (offset bigint, plugin_version text)`
/// default table, the one the test guests write; its schema file goes to
/// `schema`.
pub fn records_config(
    topic: &str,
    keyspace: &str,
    schema: &std::path::Path,
) -> host::config::Config {
    std::fs::write(
        schema,
        "CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication};\n\
         CREATE TABLE IF NOT EXISTS {keyspace}.records (offset bigint PRIMARY KEY, plugin_version text);\n",
    )
    .unwrap();
    let mut c = test_config(topic, keyspace);
    c.cassandra.schema_file = Some(schema.to_path_buf());
    c.pipeline.default_table = "records".into();
    c
}

/// Produces users keyed by their `login.uuid`, as JSON.
pub async fn produce_users(producer: &FutureProducer, topic: &str, users: &[serde_json::Value]) {
    for u in users {
        produce(
            producer,
            topic,
            u["login"]["uuid"].as_str().unwrap(),
            u.to_string().as_bytes(),
        )
        .await;
    }
}

/// A pipeline running in-process.
pub struct Pipeline {
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// The admin endpoint's address.
    pub admin: std::net::SocketAddr,
}

impl Pipeline {
    /// Starts `host::pipeline::run` with `plugin`; returns once it listens.
    pub async fn start(
        config: host::config::Config,
        plugin: std::path::PathBuf,
        watch: bool,
    ) -> Self {
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let options = host::pipeline::RunOptions {
            watch,
            admin_addr: Some(addr_tx),
            ..host::pipeline::RunOptions::new(plugin)
        };
        let handle = tokio::spawn(host::pipeline::run(config, options, async {
            let _ = stop_rx.await;
        }));
        let admin = match addr_rx.await {
            Ok(a) => a,
            Err(_) => panic!("the pipeline did not start: {:?}", handle.await),
        };
        Pipeline {
            stop,
            handle,
            admin,
        }
    }

    /// Stops it gracefully and checks it stopped cleanly.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(90), self.handle)
            .await
            .expect("the pipeline stops within 90 s")
            .expect("no panic")
            .expect("clean stop");
    }

    /// GET of an admin path, as JSON.
    pub async fn json(&self, path: &str) -> serde_json::Value {
        reqwest::get(format!("http://{}{path}", self.admin))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// GET of an admin path, as text.
    pub async fn text(&self, path: &str) -> String {
        reqwest::get(format!("http://{}{path}", self.admin))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}
