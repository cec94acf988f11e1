//! Hostile records against the real Kafka, registry and Cassandra: each
//! lands in the dead-letter topic with a reason, the host neither panics nor
//! stops, and the good records around them land. A dead letter too large for
//! its topic is replaced by one carrying coordinates and a hash.

mod common;

use common::*;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

fn flatten() -> PathBuf {
    PathBuf::from(sluice_test_programs::FLATTEN)
}

/// `Node{next:[null,Node]}`: recursive, so its datum may nest without bound.
const NODE: &str =
    r#"{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}"#;

async fn register(subject: &str, schema: &str) -> u32 {
    host::registry::Registry::new(&registry_url(), None)
        .unwrap()
        .register(subject, schema)
        .await
        .expect("registry answers (`just up`)")
}

fn header(m: &BorrowedMessage<'_>, key: &str) -> Option<String> {
    m.headers()?
        .iter()
        .find(|h| h.key == key)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).to_string())
}

/// Reads `n` dead letters of `topic`, keyed by their record key, with their
/// headers and payload length.
async fn dead_letters(
    topic: &str,
    n: usize,
) -> BTreeMap<String, (BTreeMap<String, String>, usize)> {
    let consumer = dlq_consumer(topic);
    let mut out = BTreeMap::new();
    while out.len() < n {
        let m = tokio::time::timeout(Duration::from_secs(90), consumer.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "only {} of {n} dead letters within 90 s: {out:?}",
                    out.len()
                )
            })
            .unwrap();
        let headers = m
            .headers()
            .map(|hs| {
                hs.iter()
                    .filter(|h| h.key.starts_with("sluice."))
                    .map(|h| {
                        (
                            h.key.to_string(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let key = m
            .key()
            .map(|k| String::from_utf8_lossy(k).to_string())
            .or_else(|| header(&m, "sluice.source.offset").map(|o| format!("@{o}")))
            .unwrap();
        out.insert(key, (headers, m.payload().map_or(0, <[u8]>::len)));
    }
    out
}

/// A hostile record: its key, its value (None: no value at all), and the
/// dead-letter reasons it may get.
type Hostile = (&'static str, Option<Vec<u8>>, &'static [&'static str]);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_record_is_dead_lettered_and_the_good_ones_land() {
    let (topic, ks) = (unique("hostile"), unique("ks"));
    create_topic(&topic, 1).await;
    let node_id = register(&format!("{topic}-node"), NODE).await;

    // A 600-level Node datum: each level is union branch 1 (zig-zag 2).
    let mut deep_avro = vec![2u8; 600];
    deep_avro.push(0);
    let mut big = users(1).remove(0);
    big.as_object_mut().unwrap().remove("login");
    big["padding"] = serde_json::json!("x".repeat(900 << 10));
    let mut no_key = users(1).remove(0);
    no_key["login"].as_object_mut().unwrap().remove("uuid");
    let hostile: Vec<Hostile> = vec![
        ("not-json", Some(b"hello, world".to_vec()), &["decode"]),
        (
            "truncated-avro",
            Some(host::wire::frame(node_id, &[2, 2])),
            &["decode"],
        ),
        (
            "unknown-schema",
            Some(host::wire::frame(0x7fff_fff0, &[0])),
            &["decode"],
        ),
        ("empty", Some(Vec::new()), &["decode"]),
        ("null", None, &["decode"]),
        (
            "invalid-utf8",
            Some(b"{\"a\": \"\xff\xfe\"}".to_vec()),
            &["decode"],
        ),
        (
            "deep-json",
            Some(("[".repeat(100_000) + &"]".repeat(100_000)).into_bytes()),
            &["decode"],
        ),
        (
            "deep-avro",
            Some(host::wire::frame(node_id, &deep_avro)),
            &["decode"],
        ),
        ("big", Some(big.to_string().into_bytes()), &["plugin-error"]),
        (
            "out-of-range",
            Some(br#"{"dob": {"age": 1e400}}"#.to_vec()),
            &["decode"],
        ),
        (
            "no-key",
            Some(no_key.to_string().into_bytes()),
            &["plugin-error"],
        ),
    ];
    let good = users(40);
    let p = producer();
    let mut hostile_iter = hostile.iter();
    for (i, u) in good.iter().enumerate() {
        produce(
            &p,
            &topic,
            u["login"]["uuid"].as_str().unwrap(),
            u.to_string().as_bytes(),
        )
        .await;
        if i % 3 == 0 {
            if let Some((key, value, _)) = hostile_iter.next() {
                let mut record = rdkafka::producer::FutureRecord::<str, [u8]>::to(&topic).key(key);
                if let Some(v) = value {
                    record = record.payload(v.as_slice());
                }
                p.send(record, Duration::from_secs(10)).await.unwrap();
            }
        }
    }
    assert!(
        hostile_iter.next().is_none(),
        "every hostile record was produced"
    );

    let running = Pipeline::start(test_config(&topic, &ks), flatten(), false).await;
    let s = session().await;
    wait_for_rows(
        &s,
        &format!("{ks}.created_users"),
        good.len() as i64,
        Duration::from_secs(120),
    )
    .await;
    let letters = dead_letters(&topic, hostile.len()).await;
    for (key, value, reasons) in &hostile {
        let (headers, payload) = &letters[*key];
        let reason = &headers["sluice.reason"];
        assert!(reasons.contains(&reason.as_str()), "{key}: {headers:?}");
        assert!(!headers["sluice.error"].is_empty(), "{key}: {headers:?}");
        assert!(headers["sluice.error"].len() <= 2048, "{key}: {headers:?}");
        assert_eq!(
            *payload,
            value.as_ref().map_or(0, Vec::len),
            "{key}: the original payload"
        );
        assert_eq!(headers["sluice.source.topic"], topic);
    }
    let deep = &letters["deep-avro"].0["sluice.error"];
    assert!(deep.contains("deeper than 128"), "{deep}");
    let status = running.json("/api/status").await;
    assert_eq!(
        status["active"]["name"], "flatten",
        "still running: {status}"
    );
    running.stop().await;
    assert_eq!(
        count(&s, &format!("{ks}.created_users")).await,
        good.len() as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_too_large_for_its_topic_carries_coordinates_and_a_hash() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    let (topic, ks) = (unique("oversize"), unique("ks"));
    create_topic(&topic, 2).await;
    // An operator's dead-letter topic with a limit below the source's records.
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    let dlq = format!("{topic}.dlq");
    let small =
        NewTopic::new(&dlq, 1, TopicReplication::Fixed(1)).set("max.message.bytes", "100000");
    admin
        .create_topics([&small], &AdminOptions::new())
        .await
        .unwrap()[0]
        .as_ref()
        .unwrap();
    let p = producer();
    let mut bad = users(1).remove(0);
    bad.as_object_mut().unwrap().remove("login");
    bad["padding"] = serde_json::json!("y".repeat(300 << 10));
    let bad = bad.to_string().into_bytes();
    produce(&p, &topic, "too-big", &bad).await;
    let good = users(10);
    produce_users(&p, &topic, &good).await;

    let running = Pipeline::start(test_config(&topic, &ks), flatten(), false).await;
    let s = session().await;
    wait_for_rows(
        &s,
        &format!("{ks}.created_users"),
        10,
        Duration::from_secs(120),
    )
    .await;
    let letters = dead_letters(&topic, 1).await;
    let (headers, payload) = letters.values().next().unwrap();
    assert_eq!(*payload, 0, "the payload is left out: {headers:?}");
    assert_eq!(headers["sluice.reason"], "plugin-error");
    assert_eq!(headers["sluice.payload.bytes"], bad.len().to_string());
    assert_eq!(
        headers["sluice.payload.sha256"],
        host::engine::content_hash(&bad)
    );
    assert!(
        headers.contains_key("sluice.payload.omitted"),
        "{headers:?}"
    );
    assert_eq!(headers["sluice.source.topic"], topic);
    running.stop().await;

    // A dead-letter topic the host creates has the source's partitions.
    let (topic2, ks2) = (unique("dlqparts"), unique("ks"));
    create_topic(&topic2, 3).await;
    let running = Pipeline::start(test_config(&topic2, &ks2), flatten(), false).await;
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(&format!("{topic2}.dlq")), Duration::from_secs(10))
        .unwrap();
    assert_eq!(metadata.topics()[0].partitions().len(), 3);
    running.stop().await;
}
