//! The pipeline against the real Kafka, registry and Cassandra: records in,
//! rows out, poison records to the dead-letter topic, stop and restart.

mod common;

use common::*;
use host::config::Config;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

fn plugin_path() -> PathBuf {
    PathBuf::from(sluice_test_programs::FLATTEN)
}

fn config(topic: &str, keyspace: &str, group: &str) -> Config {
    let mut c = test_config(topic, keyspace);
    c.kafka.group_id = group.into();
    c
}

/// Runs the flatten pipeline in the background.
async fn start(config: Config) -> Pipeline {
    Pipeline::start(config, plugin_path(), false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_records_become_rows_with_every_column() {
    let (topic, ks) = (unique("json"), unique("ks"));
    create_topic(&topic, 3).await;
    let users = users(300);
    let p = producer();
    produce_users(&p, &topic, &users).await;
    let running = start(config(&topic, &ks, &unique("g"))).await;
    let s = session().await;
    wait_for_rows(
        &s,
        &format!("{ks}.created_users"),
        300,
        Duration::from_secs(120),
    )
    .await;
    running.stop().await;

    let u = &users[7];
    let id = uuid::Uuid::parse_str(u["login"]["uuid"].as_str().unwrap()).unwrap();
    let row = s
        .query_unpaged(
            format!("SELECT first_name, last_name, gender, address, post_code, email, username, dob, registered_date, phone, picture, plugin_version FROM {ks}.created_users WHERE id = ?"),
            (id,),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    type R = (
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
        String,
    );
    let r: R = row.single_row().unwrap();
    assert_eq!(r.0, u["name"]["first"].as_str().unwrap());
    assert_eq!(r.1, u["name"]["last"].as_str().unwrap());
    assert_eq!(r.2, u["gender"].as_str().unwrap());
    let l = &u["location"];
    assert_eq!(
        r.3,
        format!(
            "{} {}, {}, {}, {}",
            l["street"]["number"],
            l["street"]["name"].as_str().unwrap(),
            l["city"].as_str().unwrap(),
            l["state"].as_str().unwrap(),
            l["country"].as_str().unwrap()
        )
    );
    let postcode = match &l["postcode"] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    assert_eq!(r.4, postcode);
    assert_eq!(r.5, u["email"].as_str().unwrap());
    assert_eq!(r.6, "user7");
    let ms = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    };
    assert_eq!(r.7 .0, ms(u["dob"]["date"].as_str().unwrap()));
    assert_eq!(r.8 .0, ms(u["registered"]["date"].as_str().unwrap()));
    assert_eq!(r.9, u["phone"].as_str().unwrap());
    assert_eq!(r.10, u["picture"]["medium"].as_str().unwrap());
    assert_eq!(r.11, "0.1.0", "the plugin version column is filled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_records_go_to_the_dead_letter_topic() {
    let (topic, ks) = (unique("poison"), unique("ks"));
    create_topic(&topic, 1).await;
    let good = users(20);
    let p = producer();
    let mut bad_user = users(1).remove(0);
    bad_user.as_object_mut().unwrap().remove("email");
    for (i, u) in good.iter().enumerate() {
        produce(&p, &topic, &format!("good{i}"), u.to_string().as_bytes()).await;
        match i {
            3 => produce(&p, &topic, "garbage", b"\x07\xff not json").await,
            9 => {
                produce(
                    &p,
                    &topic,
                    "unknown-schema",
                    &[0, 0x7f, 0xff, 0xff, 0x01, 2, 4, 6],
                )
                .await
            }
            15 => produce(&p, &topic, "rejected", bad_user.to_string().as_bytes()).await,
            _ => {}
        }
    }
    let running = start(config(&topic, &ks, &unique("g"))).await;
    let s = session().await;
    wait_for_rows(
        &s,
        &format!("{ks}.created_users"),
        20,
        Duration::from_secs(120),
    )
    .await;

    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", unique("dlq-reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[&format!("{topic}.dlq")]).unwrap();
    let mut seen: HashMap<String, HashMap<String, String>> = HashMap::new();
    while seen.len() < 3 {
        let m = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
            .await
            .expect("3 dead letters within 60 s")
            .unwrap();
        let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
        let headers = m
            .headers()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h.key.to_string(),
                    String::from_utf8_lossy(h.value.unwrap_or_default()).to_string(),
                )
            })
            .collect();
        seen.insert(key, headers);
    }
    running.stop().await;
    assert_eq!(seen["garbage"]["sluice.reason"], "decode");
    assert_eq!(seen["unknown-schema"]["sluice.reason"], "decode");
    assert!(
        seen["unknown-schema"]["sluice.error"].contains("schema id"),
        "{:?}",
        seen["unknown-schema"]
    );
    assert_eq!(seen["rejected"]["sluice.reason"], "plugin-error");
    assert!(seen["rejected"]["sluice.error"].contains("email"));
    for h in seen.values() {
        assert_eq!(h["sluice.plugin"], "flatten");
        assert_eq!(h["sluice.plugin.version"], "0.1.0");
        assert_eq!(h["sluice.source.topic"], topic);
        assert_eq!(h["sluice.source.partition"], "0");
    }
    assert_eq!(seen["garbage"]["sluice.source.offset"], "4");
    assert_eq!(count(&s, &format!("{ks}.created_users")).await, 20);
}

/// Each row's write time, by id.
async fn write_times(
    s: &scylla::client::session::Session,
    table: &str,
) -> HashMap<uuid::Uuid, i64> {
    let r = s
        .query_unpaged(format!("SELECT id, writetime(first_name) FROM {table}"), ())
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    r.rows::<(uuid::Uuid, i64)>()
        .unwrap()
        .map(|x| x.unwrap())
        .collect()
}

/// The sum of `group`'s committed offsets on `partitions` partitions of
/// `topic` (read without joining the group).
fn committed_total(topic: &str, group: &str, partitions: i32) -> i64 {
    let consumer: rdkafka::consumer::BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    committed
        .elements()
        .iter()
        .map(|e| match e.offset() {
            rdkafka::Offset::Offset(o) => o,
            _ => 0,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_mid_stream_loses_and_repeats_nothing() {
    let (topic, ks) = (unique("restart"), unique("ks"));
    create_topic(&topic, 2).await;
    let pool = users(20_000);
    let p = producer();
    produce_users(&p, &topic, &pool[..500]).await;
    let group = unique("g");
    let table = format!("{ks}.created_users");
    let mut cfg = config(&topic, &ks, &group);
    cfg.pipeline.batch_size = 50;
    cfg.cassandra.concurrency = 4;
    let running = start(cfg.clone()).await;
    let s = session().await;
    // Records keep arriving until the host has stopped, so the stop is
    // mid-stream however fast the host drains.
    let stopped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let feeder = tokio::spawn({
        let (p, topic, stopped) = (p.clone(), topic.clone(), stopped.clone());
        let pool = pool.clone();
        async move {
            let mut sent = 500;
            while sent < pool.len() && !stopped.load(std::sync::atomic::Ordering::SeqCst) {
                produce_users(&p, &topic, &pool[sent..sent + 50]).await;
                sent += 50;
            }
            sent
        }
    });
    while count(&s, &table).await < 200 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    running.stop().await;
    stopped.store(true, std::sync::atomic::Ordering::SeqCst);
    let n = feeder.await.unwrap();
    assert!(
        n < pool.len(),
        "the feeder ran out of records before the stop"
    );
    let first = write_times(&s, &table).await;
    assert!(!first.is_empty() && first.len() < n);

    let running = start(cfg).await;
    wait_for_rows(&s, &table, n as i64, Duration::from_secs(180)).await;
    running.stop().await;
    let second = write_times(&s, &table).await;
    assert_eq!(second.len(), n);
    let rewritten = first.iter().filter(|(id, t)| second[id] != **t).count();
    assert_eq!(
        rewritten, 0,
        "{rewritten} rows written before the stop were written again after it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_nothing() {
    let (topic, ks, group) = (unique("kill"), unique("ks"), unique("g"));
    create_topic(&topic, 2).await;
    let n = 4000;
    let p = producer();
    produce_users(&p, &topic, &users(n)).await;
    let table = format!("{ks}.created_users");
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_host"))
            .args(["run", "--plugin"])
            .arg(plugin_path())
            .args([
                "--topic",
                &topic,
                "--group",
                &group,
                "--keyspace",
                &ks,
                "--admin-listen",
                "127.0.0.1:0",
            ])
            .args([
                "--brokers",
                &brokers(),
                "--cassandra",
                &cassandra_hosts(),
                "--registry",
                &registry_url(),
            ])
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("starting host")
    };
    let mut child = spawn();
    let s = session().await;
    loop {
        if count(&s, &table).await >= 100 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "host exited early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap(); // SIGKILL: no chance to commit
    child.wait().unwrap();
    // What the dead host left: rows written, and offsets committed. Rows of
    // offsets below the committed ones are all written (one row a record),
    // so at most `written - committed` rows can be written again.
    let before = write_times(&s, &table).await;
    let committed = committed_total(&topic, &group, 2);
    let mut child = spawn();
    wait_for_rows(&s, &table, n as i64, Duration::from_secs(180)).await;
    let after = write_times(&s, &table).await;
    let rewritten = before.iter().filter(|(id, t)| after[id] != **t).count();
    let tail = before.len() as i64 - committed;
    eprintln!(
        "kill -9: {} rows written, {committed} offsets committed, {rewritten} rows written again after the restart (bound: the uncommitted tail, {tail})",
        before.len()
    );
    assert!(
        rewritten as i64 <= tail,
        "{rewritten} rows rewritten, more than the uncommitted tail of {tail}"
    );
    // SIGTERM: a clean stop exits 0.
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "host exits 0 on SIGTERM, got {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_share_partitions_and_a_leaving_host_hands_over_cleanly() {
    let (topic, ks, group) = (unique("group"), unique("ks"), unique("g"));
    create_topic(&topic, 4).await;
    let n = 4000;
    let all = users(n);
    let p = producer();
    produce_users(&p, &topic, &all[..1000]).await;
    let table = format!("{ks}.created_users");
    let mut cfg = config(&topic, &ks, &group);
    cfg.pipeline.batch_size = 50;
    cfg.cassandra.concurrency = 4;
    let host_a = start(cfg.clone()).await;
    let host_b = start(cfg.clone()).await;
    let s = session().await;
    while count(&s, &table).await < 800 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The rest arrives while host A leaves, so A has batches in flight
    // however fast the two hosts drained the first part (a backlog produced
    // up front was sometimes all written before the test could stop A).
    let rest = all[1000..].to_vec();
    let feeder = tokio::spawn({
        let (p, topic) = (p.clone(), topic.clone());
        async move { produce_users(&p, &topic, &rest).await }
    });
    // Host A leaves: its partitions are revoked after their in-flight batches
    // are written and committed, and host B takes them over from there.
    host_a.stop().await;
    feeder.await.unwrap();
    let before = write_times(&s, &table).await;
    wait_for_rows(&s, &table, n as i64, Duration::from_secs(180)).await;
    host_b.stop().await;
    let after = write_times(&s, &table).await;
    assert_eq!(after.len(), n);
    let rewritten = before.iter().filter(|(id, t)| after[id] != **t).count();
    assert_eq!(
        rewritten, 0,
        "{rewritten} rows were written again after the hand-over"
    );
}
