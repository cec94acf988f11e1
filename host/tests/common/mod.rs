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
    let samples: Vec<serde_json::Value> = include_str!("../../src/pipeline/sample-users.jsonl")
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
