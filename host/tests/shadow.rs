//! Shadow runs against the real services: flatten v2 (last names upper-cased)
//! runs beside v1 on 10% of live records and writes nothing; its differences
//! are counted and sampled by column; `promote` then deploys it through the
//! normal swap, and `discard` stops a shadow.

mod common;

use common::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const TOKEN: &str = "shadow-token-7";

fn guest(name: &str) -> Vec<u8> {
    std::fs::read(sluice_test_programs::path(name)).expect("built by sluice-test-programs")
}

async fn post(addr: &str, path: &str, body: Vec<u8>) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .bearer_auth(TOKEN)
        .body(body)
        .send()
        .await
        .expect("admin endpoint answers");
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Produces users, remembering where each landed.
async fn produce_placed(
    topic: &str,
    users: &[serde_json::Value],
) -> HashMap<uuid::Uuid, (i32, i64)> {
    let p = producer();
    let mut placed = HashMap::new();
    for u in users {
        let id = u["login"]["uuid"].as_str().unwrap().to_string();
        let (partition, offset) = p
            .send(
                rdkafka::producer::FutureRecord::to(topic)
                    .key(&id)
                    .payload(&u.to_string()),
                Duration::from_secs(10),
            )
            .await
            .map(|d| (d.partition, d.offset))
            .unwrap_or_else(|(e, _)| panic!("produce: {e}"));
        placed.insert(uuid::Uuid::parse_str(&id).unwrap(), (partition, offset));
    }
    placed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_counts_and_samples_differences_writes_nothing_and_promotes_through_the_swap() {
    let (topic, ks) = (unique("shadow"), unique("ks"));
    create_topic(&topic, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("flatten.wasm");
    std::fs::write(&plugin, guest("flatten")).unwrap();
    let mut config = test_config(&topic, &ks);
    config.pipeline.batch_size = 50;
    config.admin.token = Some(TOKEN.into());
    let running = Pipeline::start(config, plugin, false).await;
    let addr = running.admin.to_string();

    // Bad input first: a sample outside (0, 1] and the active version itself.
    let (code, body) = post(&addr, "/api/plugin/shadow?sample=1.5", guest("flatten-v2")).await;
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("(0, 1]"), "{body}");
    let (code, body) = post(&addr, "/api/plugin/shadow", guest("flatten")).await;
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("is the active version"), "{body}");

    let (code, body) = post(&addr, "/api/plugin/shadow?sample=0.1", guest("flatten-v2")).await;
    assert_eq!(code, 200, "{body}");

    let n = 2000;
    let users = users(n);
    let mut placed = produce_placed(&topic, &users[..n / 2]).await;
    let s = session().await;
    let table = format!("{ks}.created_users");
    wait_for_rows(&s, &table, (n / 2) as i64, Duration::from_secs(120)).await;

    // Every row so far was written by v1; about a tenth were compared.
    let versions = |rows: Vec<(uuid::Uuid, String, String)>| {
        rows.into_iter()
            .map(|(id, last, v)| (id, (last, v)))
            .collect::<HashMap<_, _>>()
    };
    let read = || async {
        let rows = s
            .query_unpaged(
                format!("SELECT id, last_name, plugin_version FROM {table}"),
                (),
            )
            .await
            .unwrap()
            .into_rows_result()
            .unwrap();
        versions(
            rows.rows::<(uuid::Uuid, String, String)>()
                .unwrap()
                .map(Result::unwrap)
                .collect(),
        )
    };
    let before = read().await;
    assert!(
        before.values().all(|(_, v)| v == "0.1.0"),
        "the shadow wrote rows"
    );
    let started = Instant::now();
    let shadow = loop {
        let st = running.json("/api/status").await;
        let compared = st["shadow"]["counts"]["compared"].as_u64().unwrap_or(0);
        if compared + st["shadow"]["counts"]["skipped"].as_u64().unwrap_or(0) >= 60 {
            break st["shadow"].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "too few comparisons: {}",
            st["shadow"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let counts = &shadow["counts"];
    let compared = counts["compared"].as_u64().unwrap();
    // 10% of 1000 records, give or take the sampling's spread.
    assert!(
        (60..=160).contains(&(compared + counts["skipped"].as_u64().unwrap())),
        "{shadow}"
    );
    // flatten-v2 upper-cases every last name: each comparison differs
    // (unless a last name is upper case already), in that column only.
    assert!(
        counts["different"].as_u64().unwrap() * 10 >= compared * 9,
        "{shadow}"
    );
    assert_eq!(counts["candidate_failed"], 0, "{shadow}");
    let samples = shadow["samples"].as_array().unwrap();
    assert!(!samples.is_empty() && samples.len() <= 50, "{shadow}");
    for sample in samples {
        assert_eq!(sample["kind"], "different", "{sample}");
        let columns = sample["columns"].as_array().unwrap();
        assert_eq!(columns.len(), 1, "{sample}");
        assert_eq!(columns[0]["column"], "row 0 / last_name", "{sample}");
        let (a, c) = (
            columns[0]["active"].as_str().unwrap(),
            columns[0]["candidate"].as_str().unwrap(),
        );
        assert_eq!(a.to_uppercase(), c, "{sample}");
    }
    // The page shows it too.
    assert!(running.text("/").await.contains("id=\"shadow\""));

    // Promote: the normal deploy path; the shadow stops.
    let (code, body) = post(&addr, "/api/plugin/promote", Vec::new()).await;
    assert_eq!(code, 200, "{body}");
    let st = running.json("/api/status").await;
    assert_eq!(st["active"]["version"], "2.0.0");
    assert!(st["shadow"].is_null(), "{}", st["shadow"]);
    placed.extend(produce_placed(&topic, &users[n / 2..]).await);
    wait_for_rows(&s, &table, n as i64, Duration::from_secs(120)).await;

    // Per partition, v2 from one offset on (the swap's barrier).
    let st = running.json("/api/status").await;
    let v2 = st["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == "2.0.0")
        .unwrap()
        .clone();
    let barrier: HashMap<i32, i64> = v2["first_offsets"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.rsplit('/').next().unwrap().parse().unwrap(),
                v.as_i64().unwrap(),
            )
        })
        .collect();
    let after = read().await;
    assert_eq!(after.len(), n);
    for (id, (last, version)) in &after {
        let (partition, offset) = placed[id];
        let expected = if barrier.get(&partition).is_some_and(|b| offset >= *b) {
            "2.0.0"
        } else {
            "0.1.0"
        };
        assert_eq!(
            version, expected,
            "{id} at {partition}@{offset}: {barrier:?}"
        );
        if version == "2.0.0" {
            assert_eq!(last, &last.to_uppercase());
        }
    }

    // Discard: a shadow stops; a second discard has nothing to stop.
    let (code, body) = post(&addr, "/api/plugin/shadow?sample=0.5", guest("flatten")).await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = post(&addr, "/api/plugin/discard", Vec::new()).await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = post(&addr, "/api/plugin/discard", Vec::new()).await;
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("no shadow run"), "{body}");
    running.stop().await;
}
