//! Smoke tests against the REAL local servers: Kafka, Cassandra and the schema registry.
//!
//! They do not start anything: run `just up` (scripts/services.sh up) first. Each test uses
//! fresh unique names (topic, keyspace, subject) so that runs never see each other's data,
//! and removes what it created.
//!
//! Addresses come from the same variables the host reads, with the local defaults:
//!   SLUICE_KAFKA_BROKERS    127.0.0.1:9092
//!   SLUICE_CASSANDRA_HOSTS  127.0.0.1:9042  (comma-separated)
//!   SLUICE_REGISTRY_URL     http://127.0.0.1:8081/apis/ccompat/v7

use std::future::Future;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context as _, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use uuid::Uuid;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn kafka_brokers() -> String {
    env_or("SLUICE_KAFKA_BROKERS", "127.0.0.1:9092")
}

fn cassandra_hosts() -> String {
    env_or("SLUICE_CASSANDRA_HOSTS", "127.0.0.1:9042")
}

fn registry_url() -> String {
    env_or(
        "SLUICE_REGISTRY_URL",
        "http://127.0.0.1:8081/apis/ccompat/v7",
    )
    .trim_end_matches('/')
    .to_string()
}

/// The error to show when a server does not answer at all.
fn unreachable(what: &str, addr: &str) -> String {
    format!(
        "{what} at {addr} is unreachable: start the local servers with `just up` \
         (scripts/services.sh up), or point the SLUICE_* variables at running ones"
    )
}

/// Bounds every step so that a misbehaving server fails the test instead of hanging it.
async fn within<T>(secs: u64, what: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .map_err(|_| anyhow!("timed out after {secs} s: {what}"))?
}

// ------------------------------------------------------------------------------- Kafka

#[tokio::test]
async fn kafka_produce_and_consume_one_record() -> Result<()> {
    let brokers = kafka_brokers();
    let id = Uuid::new_v4();
    let topic = format!("sluice-smoke-{id}");
    let key = format!("key-{id}");
    let payload = format!("payload-{id}");

    let mut common = ClientConfig::new();
    common.set("bootstrap.servers", &brokers);

    // Reachability first: a metadata round trip with a short timeout (a blocking call).
    let admin: AdminClient<DefaultClientContext> =
        common.create().context("creating the Kafka admin client")?;
    let admin = tokio::task::spawn_blocking(move || {
        admin
            .inner()
            .fetch_metadata(None, Duration::from_secs(5))
            .map(|_| admin)
    })
    .await?
    .with_context(|| unreachable("Kafka", &brokers))?;

    // An explicit topic: the test does not depend on the broker's auto-creation setting.
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let created = within(15, "creating the topic", async {
        Ok(admin
            .create_topics(
                &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
                &opts,
            )
            .await?)
    })
    .await?;
    for result in created {
        result.map_err(|(t, e)| anyhow!("creating topic {t}: {e}"))?;
    }

    let result = produce_and_consume(&common, &topic, &key, &payload).await;
    // Clean up whatever happened above.
    let _ = admin.delete_topics(&[&topic], &opts).await;
    result
}

async fn produce_and_consume(
    common: &ClientConfig,
    topic: &str,
    key: &str,
    payload: &str,
) -> Result<()> {
    let producer: FutureProducer = common
        .clone()
        .set("message.timeout.ms", "10000")
        .create()
        .context("creating the Kafka producer")?;
    let delivery = producer
        .send(
            FutureRecord::to(topic).key(key).payload(payload),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| anyhow!("producing to {topic}: {e}"))?;

    // The KIP-848 group protocol: the first assignment arrives in well under a second
    // (the classic protocol's join takes about 3 s).
    let consumer: StreamConsumer = common
        .clone()
        .set("group.id", format!("{topic}-group"))
        .set("group.protocol", "consumer")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .context("creating the Kafka consumer")?;
    consumer.subscribe(&[topic])?;
    let message = within(30, "consuming the record back", async {
        Ok(consumer.recv().await?)
    })
    .await?;

    assert_eq!(message.topic(), topic);
    assert_eq!(message.partition(), delivery.partition);
    assert_eq!(message.offset(), delivery.offset);
    assert_eq!(message.key(), Some(key.as_bytes()), "key");
    assert_eq!(message.payload(), Some(payload.as_bytes()), "payload");
    Ok(())
}

// ------------------------------------------------------------------------------- Cassandra

#[tokio::test]
async fn cassandra_keyspace_table_insert_select() -> Result<()> {
    let hosts = cassandra_hosts();
    let mut builder = SessionBuilder::new().connection_timeout(Duration::from_secs(5));
    for host in hosts.split(',').map(str::trim).filter(|h| !h.is_empty()) {
        builder = builder.known_node(host);
    }
    let session = within(15, "connecting to Cassandra", async {
        builder
            .build()
            .await
            .with_context(|| unreachable("Cassandra", &hosts))
    })
    .await?;

    // Unquoted CQL names: letters, digits and underscores, at most 48 characters (45 here).
    let keyspace = format!("sluice_smoke_{}", Uuid::new_v4().simple());
    session
        .query_unpaged(
            format!(
                "CREATE KEYSPACE {keyspace} WITH replication = \
                 {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
            ),
            &[],
        )
        .await
        .context("creating the keyspace")?;

    let result = insert_and_select(&session, &keyspace).await;
    // Drop the keyspace whatever happened above.
    let dropped = session
        .query_unpaged(format!("DROP KEYSPACE IF EXISTS {keyspace}"), &[])
        .await;
    result?;
    dropped.context("dropping the keyspace")?;
    Ok(())
}

async fn insert_and_select(session: &Session, keyspace: &str) -> Result<()> {
    session
        .query_unpaged(
            format!("CREATE TABLE {keyspace}.smoke (id uuid PRIMARY KEY, name text, n bigint)"),
            &[],
        )
        .await
        .context("creating the table")?;

    let id = Uuid::new_v4();
    let name = format!("row-{id}");
    let n: i64 = 1_234_567_890_123;
    session
        .query_unpaged(
            format!("INSERT INTO {keyspace}.smoke (id, name, n) VALUES (?, ?, ?)"),
            (id, name.as_str(), n),
        )
        .await
        .context("inserting")?;

    let (got_name, got_n) = session
        .query_unpaged(
            format!("SELECT name, n FROM {keyspace}.smoke WHERE id = ?"),
            (id,),
        )
        .await
        .context("selecting")?
        .into_rows_result()?
        .single_row::<(String, i64)>()?;
    assert_eq!(got_name, name);
    assert_eq!(got_n, n);
    Ok(())
}

// ------------------------------------------------------------------------------- Registry

#[tokio::test]
async fn registry_register_and_fetch_avro_schema() -> Result<()> {
    let url = registry_url();
    let subject = format!("sluice-smoke-{}-value", Uuid::new_v4());
    let schema = r#"{
        "type": "record",
        "name": "SmokeEvent",
        "namespace": "dev.sluice.smoke",
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "count", "type": "long", "default": 0},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {"name": "note", "type": ["null", "string"], "default": null}
        ]
    }"#;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;

    let response = http
        .post(format!("{url}/subjects/{subject}/versions"))
        .header("Content-Type", "application/vnd.schemaregistry.v1+json")
        .json(&serde_json::json!({ "schema": schema }))
        .send()
        .await
        .with_context(|| unreachable("The schema registry", &url))?;
    let result = check_registered(&http, &url, &subject, schema, response).await;

    // Remove the subject (soft, then permanent) whatever happened above; best effort.
    let subject_url = format!("{url}/subjects/{subject}");
    let _ = http.delete(&subject_url).send().await;
    let _ = http
        .delete(format!("{subject_url}?permanent=true"))
        .send()
        .await;
    result
}

async fn check_registered(
    http: &reqwest::Client,
    url: &str,
    subject: &str,
    schema: &str,
    response: reqwest::Response,
) -> Result<()> {
    let status = response.status();
    let body: serde_json::Value = response.json().await.context("registration response")?;
    if !status.is_success() {
        bail!("registering {subject}: HTTP {status}: {body}");
    }
    let id = body["id"]
        .as_u64()
        .with_context(|| format!("no numeric id in the registration response {body}"))?;

    let response = http.get(format!("{url}/schemas/ids/{id}")).send().await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.context("schema-by-id response")?;
    ensure!(
        status.is_success(),
        "fetching schema {id}: HTTP {status}: {body}"
    );
    let fetched = body["schema"]
        .as_str()
        .with_context(|| format!("no schema string in {body}"))?;

    let registered = apache_avro::Schema::parse_str(schema).context("parsing our own schema")?;
    let fetched = apache_avro::Schema::parse_str(fetched)
        .with_context(|| format!("the registry returned a schema Avro cannot parse: {fetched}"))?;
    assert_eq!(fetched.canonical_form(), registered.canonical_form());
    Ok(())
}
