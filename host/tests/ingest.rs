//! `host ingest` against the real Kafka and Schema Registry (`just up` starts
//! them), fed by `host users-api` running in-process.

use apache_avro::types::Value as Avro;
use clap::Parser;
use host::ingest::{run_until, IngestArgs, Summary};
use host::registry::Registry;
use host::users_api::generator::{self, Filter};
use host::users_api::{self, Options};
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use std::collections::HashSet;
use std::time::{Duration, Instant};

fn brokers() -> String {
    std::env::var("SLUICE_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

fn registry_url() -> String {
    std::env::var("SLUICE_REGISTRY_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:8081/apis/ccompat/v7".into())
}

fn unique_topic(what: &str) -> String {
    format!("it_ingest_{what}_{}", uuid::Uuid::new_v4().simple())
}

/// Starts `host users-api` on a free port; its API URL.
async fn users_api(options: Options) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(users_api::serve_with(
        listener,
        options,
        std::future::pending(),
    ));
    format!("http://{addr}/api/")
}

/// Starts a server answering every request with `body`.
async fn bad_api(body: String) -> String {
    let app = axum::Router::new().route("/api", axum::routing::get(move || async move { body }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/api")
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: IngestArgs,
}

async fn ingest(args: &[&str]) -> anyhow::Result<Summary> {
    let cli = Cli::try_parse_from(std::iter::once("ingest").chain(args.iter().copied())).unwrap();
    run_until(cli.args, std::future::pending()).await
}

fn consumer<C: rdkafka::config::FromClientConfig>() -> C {
    ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("it-ingest-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .create()
        .expect("a Kafka consumer")
}

/// Records in `topic` (0 if it does not exist), from its watermarks.
fn count_records(topic: &str) -> i64 {
    let c: BaseConsumer = consumer();
    let metadata = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap_or_else(|e| {
            panic!(
                "Kafka at {} does not answer ({e}); run `just up`",
                brokers()
            )
        });
    let Some(t) = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
    else {
        return 0;
    };
    t.partitions()
        .iter()
        .map(|p| {
            let (low, high) = c
                .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                .unwrap();
            high - low
        })
        .sum()
}

/// Every record of `topic` as (key, value); waits for at least `expected`,
/// then a little longer so that duplicates would show.
async fn read_all(topic: &str, expected: usize) -> Vec<(String, Vec<u8>)> {
    let c: StreamConsumer = consumer();
    let metadata = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for p in metadata.topics()[0].partitions() {
        assignment
            .add_partition_offset(topic, p.id(), Offset::Beginning)
            .unwrap();
    }
    c.assign(&assignment).unwrap();
    let mut records = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut settle_until: Option<Instant> = None;
    loop {
        let until = settle_until.unwrap_or(deadline);
        let wait = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, c.recv()).await {
            Ok(Ok(m)) => {
                let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
                records.push((key, m.payload().unwrap().to_vec()));
            }
            Ok(Err(e)) => panic!("consuming {topic}: {e}"),
            Err(_) => break,
        }
        if records.len() >= expected && settle_until.is_none() {
            settle_until = Some(Instant::now() + Duration::from_millis(1500));
        }
    }
    records
}

/// The `login.uuid`s the local API gives for `seed`, fetched `batch` at a time.
fn expected_uuids(seed: &str, count: u64, batch: u64) -> HashSet<String> {
    (0..count)
        .map(|n| {
            let user = generator::user(seed, n / batch + 1, n % batch, &Filter::default());
            user.login.unwrap().uuid
        })
        .collect()
}

fn field<'a>(record: &'a Avro, name: &str) -> &'a Avro {
    let Avro::Record(fields) = record else {
        panic!("not a record: {record:?}")
    };
    &fields
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no field {name}"))
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_users_go_through_kafka_and_read_back_through_the_registry() {
    let api = users_api(Options::default()).await;
    let topic = unique_topic("avro");
    let summary = ingest(&[
        "--api", &api, "--count", "50", "--batch", "20", "--seed", "it-avro", "--topic", &topic,
    ])
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        (summary.fetched, summary.produced, summary.failed),
        (50, 50, 0),
        "{summary}"
    );

    let registry = Registry::new(&registry_url(), None).unwrap();
    let mut keys = HashSet::new();
    let mut nats = HashSet::new();
    for (key, value) in read_all(&topic, 50).await {
        let (id, mut body) = host::wire::unframe(&value).unwrap();
        let schema = registry.schema(id).await.unwrap();
        let user = apache_avro::from_avro_datum(&schema, &mut body, None).unwrap();
        assert!(body.is_empty(), "bytes left after the record");
        assert_eq!(
            field(field(&user, "login"), "uuid"),
            &Avro::String(key.clone())
        );
        nats.insert(format!("{:?}", field(&user, "nat")));
        assert!(keys.insert(key), "a key came twice");
    }
    assert_eq!(keys, expected_uuids("it-avro", 50, 20));
    assert!(nats.len() > 5, "{nats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_after_503_produce_every_user_exactly_once() {
    let api = users_api(Options { fail_first: 2 }).await;
    let topic = unique_topic("retry");
    let started = Instant::now();
    let summary = ingest(&[
        "--api", &api, "--count", "30", "--batch", "10", "--seed", "it-retry", "--topic", &topic,
    ])
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        (summary.fetched, summary.produced, summary.failed),
        (30, 30, 0),
        "{summary}"
    );
    // The 503s' `Retry-After: 1` was waited out (pages 1 and 2 are fetched in parallel).
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let records = read_all(&topic, 30).await;
    let keys: HashSet<&str> = records.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(records.len(), 30);
    assert_eq!(keys.len(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_format_produces_the_user_json() {
    let api = users_api(Options::default()).await;
    let topic = unique_topic("json");
    let summary = ingest(&[
        "--api", &api, "--count", "12", "--batch", "5", "--format", "json", "--topic", &topic,
    ])
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(summary.produced, 12, "{summary}");
    let records = read_all(&topic, 12).await;
    assert_eq!(records.len(), 12);
    for (key, value) in records {
        let user: serde_json::Value = serde_json::from_slice(&value).unwrap();
        assert_eq!(user["login"]["uuid"], key.as_str());
        assert!(
            user["location"]["postcode"].is_number() || user["location"]["postcode"].is_string()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_answers_fail_clearly_and_produce_nothing() {
    // Two users, the second without a postcode: the good first one must not be produced either.
    let mut users: Vec<serde_json::Value> = (0..2)
        .map(|i| serde_json::to_value(generator::user("bad", 1, i, &Filter::default())).unwrap())
        .collect();
    users[1]["location"]
        .as_object_mut()
        .unwrap()
        .remove("postcode");
    let missing = serde_json::json!({ "results": users, "info": {} }).to_string();
    let cases = [
        (
            "html",
            "<!DOCTYPE html><html><title>502 Bad Gateway</title></html>".to_string(),
            "answered HTML",
        ),
        (
            "truncated",
            r#"{"results":[{"gender":"female","name":{"ti"#.to_string(),
            "the JSON ends early",
        ),
        ("missing", missing, "user 2 of the answer of GET"),
    ];
    for (what, body, says) in cases {
        let api = bad_api(body).await;
        let topic = unique_topic(what);
        let args = [
            "--api",
            &api,
            "--count",
            "2",
            "--batch",
            "2",
            "--retries",
            "1",
            "--topic",
            &topic,
        ];
        let err = ingest(&args)
            .await
            .expect_err("a bad answer must fail the ingest");
        let message = format!("{err:#}");
        assert!(
            message.contains(says) && message.contains(&api),
            "{what}: {message}"
        );
        assert!(message.contains("produced 0"), "{what}: {message}");
        if what == "missing" {
            assert!(
                message.contains("location.postcode: is missing"),
                "{message}"
            );
        }
        assert_eq!(count_records(&topic), 0, "{what}: records reached {topic}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_and_rate_bound_the_run() {
    let api = users_api(Options::default()).await;
    let topic = unique_topic("rate");
    let args = [
        "--api",
        &api,
        "--duration",
        "2s",
        "--rate",
        "50",
        "--batch",
        "20",
        "--topic",
        &topic,
    ];
    let summary = ingest(&args).await.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!((summary.fetched, summary.produced), (100, 100), "{summary}");
    assert!(summary.elapsed >= Duration::from_millis(1900), "{summary}");
    assert_eq!(count_records(&topic), 100);
}

/// librdkafka holds records until the idempotent producer has its id, which
/// it first asks for ~500 ms after start-up; a paced run would stamp its
/// first half second of records and then deliver them all late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_producer_has_its_id_before_the_first_record() {
    let topic = unique_topic("ready");
    let counters = std::sync::Arc::new(host::ingest::progress::Counters::default());
    let sink = host::ingest::produce::Sink::connect(&brokers(), &topic, counters)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        sink.has_producer_id(),
        "connect returned before Kafka assigned the producer id"
    );
}
