//! Misbehaving plugins inside a real pipeline: each poison record is pinned
//! and dead-lettered while the records around it land; a plugin that fails
//! on most records trips the breaker, which holds the batch (nothing
//! dead-lettered) and rolls back to the previous version.

mod common;

use common::*;
use host::config::Config;
use rdkafka::message::{Headers, Message};
use std::path::PathBuf;
use std::time::Duration;

fn guest_path(name: &str) -> PathBuf {
    sluice_test_programs::path(name)
}

/// A keyspace whose default table takes the test guests' rows.
fn config(topic: &str, ks: &str, schema: &std::path::Path) -> Config {
    let mut c = records_config(topic, ks, schema);
    c.limits.call_timeout = Duration::from_millis(300);
    c.limits.memory_bytes = 32 << 20;
    c.limits.max_rows_per_record = 1000;
    c
}

/// The `sluice.reason` headers of the first `n` dead letters of `topic`.
async fn dead_letter_reasons(topic: &str, n: usize) -> Vec<(String, String)> {
    let consumer = dlq_consumer(topic);
    let mut out = Vec::new();
    while out.len() < n {
        let m = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
            .await
            .expect("dead letter within 60 s")
            .unwrap();
        let header = |k: &str| {
            m.headers()
                .unwrap()
                .iter()
                .find(|h| h.key == k)
                .map(|h| String::from_utf8_lossy(h.value.unwrap()).to_string())
                .unwrap_or_default()
        };
        out.push((header("sluice.reason"), header("sluice.error")));
    }
    out
}

async fn contained(guest: &str, trigger: &str, reason: &str, message: &str) {
    let (topic, ks) = (unique(&guest.replace('-', "_")), unique("ks"));
    create_topic(&topic, 1).await;
    let p = producer();
    for i in 0..60 {
        let value = if i == 25 {
            trigger.to_string()
        } else {
            format!("{{\"i\": {i}}}")
        };
        produce(&p, &topic, &format!("k{i}"), value.as_bytes()).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&topic, &ks, &dir.path().join("schema.cql"));
    let running = Pipeline::start(cfg, guest_path(guest), false).await;
    let s = session().await;
    wait_for_rows(&s, &format!("{ks}.records"), 59, Duration::from_secs(120)).await;
    let letters = dead_letter_reasons(&topic, 1).await;
    assert_eq!(letters[0].0, reason, "{guest}: {letters:?}");
    assert!(letters[0].1.contains(message), "{guest}: {letters:?}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_pinned_on_its_record() {
    contained("panic-on", r#"{"poison": true}"#, "plugin-trap", "panic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_is_stopped_by_the_deadline() {
    contained(
        "loop-forever",
        r#"{"loop": true}"#,
        "plugin-trap",
        "deadline",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_hits_the_cap() {
    contained("memory-bomb", r#"{"bomb": true}"#, "plugin-trap", "memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_flood_hits_the_row_limit() {
    contained(
        "output-flood",
        r#"{"flood": true}"#,
        "plugin-limit",
        "max-rows-per-record",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_plugin_trips_the_breaker_which_rolls_back_and_loses_nothing() {
    let (topic, ks) = (unique("breaker"), unique("ks"));
    create_topic(&topic, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&topic, &ks, &dir.path().join("schema.cql"));
    cfg.breaker.rollback = true;
    // Judge from the first batch, so not one good record is dead-lettered.
    cfg.breaker.min_records = 1;
    cfg.admin.token = Some("t".into());
    let running = Pipeline::start(cfg, guest_path("loop-forever"), false).await;
    let addr = running.admin;
    // panic-on passes the deploy checks (the samples hold no poison)...
    let client = reqwest::Client::new();
    let r = client
        .post(format!("http://{addr}/api/plugin/deploy"))
        .bearer_auth("t")
        .body(std::fs::read(guest_path("panic-on")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // ...then every record is poison to it: the breaker trips and rolls back.
    let p = producer();
    for i in 0..40 {
        produce(&p, &topic, &format!("k{i}"), br#"{"poison": true}"#).await;
    }
    let s = session().await;
    wait_for_rows(&s, &format!("{ks}.records"), 40, Duration::from_secs(120)).await;
    let metrics = running.text("/metrics").await;
    assert!(metrics.contains("sluice_breaker_open 0"), "{metrics}");
    assert!(
        !metrics.contains("sluice_dead_letters_total"),
        "nothing was dead-lettered: {metrics}"
    );
    let status = running.json("/api/status").await;
    assert_eq!(
        status["active"]["name"], "loop-forever",
        "rolled back: {status}"
    );
    running.stop().await;
}
