//! Avro end to end: `host ingest` puts users into Kafka in the Confluent wire
//! format (schema in the real registry); the pipeline decodes them with the
//! writer schema fetched by id, and the rows are exactly those the same users
//! give as JSON.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn host() -> Command {
    Command::new(env!("CARGO_BIN_EXE_host"))
}

/// Ingests `n` users of `seed` from a local users API into `topic`.
fn ingest(api: &str, topic: &str, n: usize, seed: &str, format: &str) {
    let status = host()
        .args([
            "ingest",
            "--api",
            api,
            "--topic",
            topic,
            "--count",
            &n.to_string(),
            "--seed",
            seed,
            "--format",
            format,
            "--batch",
            "100",
        ])
        .args(["--brokers", &brokers(), "--registry", &registry_url()])
        .env("RUST_LOG", "warn")
        .status()
        .unwrap();
    assert!(status.success(), "ingest {format} failed: {status}");
}

type Rows = BTreeMap<uuid::Uuid, Vec<String>>;

async fn table(s: &scylla::client::session::Session, ks: &str) -> Rows {
    let r = s
        .query_unpaged(
            format!("SELECT id, first_name, last_name, gender, address, post_code, email, username, dob, registered_date, phone, picture FROM {ks}.created_users"),
            (),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    type R = (
        uuid::Uuid,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        scylla::value::CqlTimestamp,
        scylla::value::CqlTimestamp,
        String,
        String,
    );
    r.rows::<R>()
        .unwrap()
        .map(|row| {
            let r = row.unwrap();
            (
                r.0,
                vec![
                    r.1,
                    r.2,
                    r.3,
                    r.4,
                    r.5,
                    r.6,
                    r.7,
                    r.8 .0.to_string(),
                    r.9 .0.to_string(),
                    r.10,
                    r.11,
                ],
            )
        })
        .collect()
}

async fn run_until_rows(topic: &str, ks: &str, n: usize) {
    let plugin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist/flatten.wasm");
    let running = Pipeline::start(test_config(topic, ks), plugin, false).await;
    let s = session().await;
    wait_for_rows(
        &s,
        &format!("{ks}.created_users"),
        n as i64,
        Duration::from_secs(180),
    )
    .await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_and_json_records_become_the_same_rows() {
    let port = free_port();
    let mut api = host()
        .args(["users-api", "--port", &port.to_string()])
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let api_url = format!("http://127.0.0.1:{port}/");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let n = 500;
    let seed = unique("seed");
    let (avro_topic, json_topic) = (unique("avro"), unique("json"));
    let (avro_ks, json_ks) = (unique("ks"), unique("ks"));
    create_topic(&avro_topic, 2).await;
    create_topic(&json_topic, 2).await;
    ingest(&api_url, &avro_topic, n, &seed, "avro");
    ingest(&api_url, &json_topic, n, &seed, "json");
    api.kill().unwrap();
    let _ = api.wait();

    run_until_rows(&avro_topic, &avro_ks, n).await;
    run_until_rows(&json_topic, &json_ks, n).await;
    let s = session().await;
    let (from_avro, from_json) = (table(&s, &avro_ks).await, table(&s, &json_ks).await);
    assert_eq!(from_avro.len(), n);
    assert_eq!(
        from_avro, from_json,
        "the plugin must see the same value whatever the format"
    );
    // Numeric and text postcodes both arrive as text.
    let postcodes: Vec<&String> = from_avro.values().map(|r| &r[4]).collect();
    assert!(
        postcodes
            .iter()
            .any(|p| p.chars().all(|c| c.is_ascii_digit())),
        "some numeric postcodes"
    );
    assert!(
        postcodes
            .iter()
            .any(|p| p.chars().any(|c| c.is_ascii_alphabetic())),
        "some text postcodes"
    );
}
