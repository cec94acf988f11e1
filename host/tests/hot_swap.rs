//! Hot swap against the real services: while records stream in, broken
//! versions are rejected, flatten v1 -> v2 is swapped by a file change with
//! no record lost or handled by both, then rolled back over HTTP.

mod common;

use common::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TOKEN: &str = "test-token-42";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn guest(name: &str) -> Vec<u8> {
    std::fs::read(sluice_test_programs::path(name)).expect("built by sluice-test-programs")
}

async fn post(
    client: &reqwest::Client,
    addr: &str,
    path: &str,
    body: Vec<u8>,
    token: Option<&str>,
) -> (u16, String) {
    let mut req = client.post(format!("http://{addr}{path}")).body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("admin endpoint answers");
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Replaces `path` atomically, as `just build-plugins` does.
fn install(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swap_under_load_is_exact_and_broken_versions_are_rejected() {
    let (topic, ks) = (unique("swap"), unique("ks"));
    create_topic(&topic, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("flatten.wasm");
    std::fs::copy(repo().join("plugins/dist/flatten.wasm"), &plugin)
        .expect("run `just build-plugins`");

    let mut config = test_config(&topic, &ks);
    config.pipeline.batch_size = 50;
    config.admin.token = Some(TOKEN.into());
    let running = Pipeline::start(config, plugin.clone(), true).await;
    let addr = running.admin.to_string();
    let client = reqwest::Client::new();

    // A steady stream: 3000 users at about 400/s; remember where each landed.
    let n = 3000;
    let users = users(n);
    let producer_topic = topic.clone();
    let stream = tokio::spawn(async move {
        let p = producer();
        let mut placed = HashMap::new();
        for (i, u) in users.iter().enumerate() {
            let id = u["login"]["uuid"].as_str().unwrap().to_string();
            let (partition, offset) = p
                .send(
                    rdkafka::producer::FutureRecord::to(&producer_topic)
                        .key(&id)
                        .payload(&u.to_string()),
                    Duration::from_secs(10),
                )
                .await
                .map(|d| (d.partition, d.offset))
                .unwrap_or_else(|(e, _)| panic!("produce: {e}"));
            placed.insert(uuid::Uuid::parse_str(&id).unwrap(), (partition, offset));
            if i % 20 == 19 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        placed
    });
    let s = session().await;
    let table = format!("{ks}.created_users");
    while count(&s, &table).await < 300 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Broken versions are rejected with a reason; v1 goes on.
    let (code, _) = post(
        &client,
        &addr,
        "/api/plugin/deploy",
        guest("flatten-v2"),
        None,
    )
    .await;
    assert_eq!(code, 401, "a deploy without the token is refused");
    for (name, reason) in [
        ("missing-export", "transform"),
        ("init-fails", "api-key"),
        ("bad-rows", "shoe_size"),
        ("trap-always", "sample record"),
    ] {
        let (code, body) = post(
            &client,
            &addr,
            "/api/plugin/deploy",
            guest(name),
            Some(TOKEN),
        )
        .await;
        assert_eq!(code, 422, "{name}: {body}");
        assert!(
            body.contains(reason),
            "{name} rejected without naming `{reason}`: {body}"
        );
        assert_eq!(
            running.json("/api/status").await["active"]["version"],
            "0.1.0",
            "{name} must not go live"
        );
    }

    // v2 lands by a file change, mid-stream.
    let swapped_at = Instant::now();
    install(&plugin, &guest("flatten-v2"));
    loop {
        if running.json("/api/status").await["active"]["version"] == "2.0.0" {
            break;
        }
        assert!(
            swapped_at.elapsed() < Duration::from_secs(30),
            "file change not deployed within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let placed = stream.await.unwrap();
    wait_for_rows(&s, &table, n as i64, Duration::from_secs(180)).await;

    // Every row on the right side of its partition's barrier.
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
    assert_eq!(barrier.len(), 2, "v2 took over both partitions: {v2}");
    let rows = s
        .query_unpaged(
            format!("SELECT id, last_name, plugin_version FROM {table}"),
            (),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let (mut v1_rows, mut v2_rows) = (0, 0);
    for row in rows.rows::<(uuid::Uuid, String, String)>().unwrap() {
        let (id, last_name, version) = row.unwrap();
        let (partition, offset) = placed[&id];
        let expected = if offset >= barrier[&partition] {
            "2.0.0"
        } else {
            "0.1.0"
        };
        assert_eq!(
            version, expected,
            "row {id} at {partition}@{offset}, barrier {}",
            barrier[&partition]
        );
        assert_eq!(
            last_name == last_name.to_uppercase(),
            version == "2.0.0",
            "{last_name} written by {version}"
        );
        if version == "2.0.0" {
            v2_rows += 1
        } else {
            v1_rows += 1
        }
    }
    assert_eq!(v1_rows + v2_rows, n);
    assert!(
        v1_rows > 0 && v2_rows > 0,
        "the swap happened mid-stream: v1 {v1_rows}, v2 {v2_rows}"
    );
    let stalls: Vec<f64> = st["stalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["millis"].as_f64().unwrap())
        .collect();
    eprintln!(
        "swap: v1 rows {v1_rows}, v2 rows {v2_rows}, barrier {barrier:?}, stalls (ms) {stalls:?}"
    );

    // Rollback is instant: v1 is still compiled.
    let (code, body) = post(&client, &addr, "/api/plugin/rollback", vec![], Some(TOKEN)).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        running.json("/api/status").await["active"]["version"],
        "0.1.0"
    );
    let metrics = running.text("/metrics").await;
    assert!(
        metrics.contains("sluice_plugin_rejected_deploys_total 4"),
        "{metrics}"
    );
    assert!(metrics.contains("sluice_plugin_swaps_total 2"));

    running.stop().await;
}
