//! A deploy that carries its table change, against the real services: a
//! version writing a column the table lacks is refused, destructive CQL is
//! refused before anything runs, and `host plugin deploy --cql` with an
//! additive `ALTER TABLE ... ADD` applies it once and the version goes live.

mod common;

use common::*;
use std::time::Duration;

const TOKEN: &str = "cql-token-3";

fn guest(name: &str) -> std::path::PathBuf {
    sluice_test_programs::path(name)
}

async fn deploy(addr: &str, query: &str, file: &std::path::Path) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/api/plugin/deploy{query}"))
        .bearer_auth(TOKEN)
        .body(std::fs::read(file).unwrap())
        .send()
        .await
        .expect("admin endpoint answers");
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn columns(ks: &str) -> Vec<String> {
    let s = session().await;
    let rows = s
        .query_unpaged(
            "SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = 'created_users'",
            (ks,),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    rows.rows::<(String,)>()
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_brings_its_additive_cql_and_destructive_cql_is_refused() {
    let (topic, ks) = (unique("cql"), unique("ks"));
    create_topic(&topic, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("flatten.wasm");
    std::fs::copy(guest("flatten"), &plugin).unwrap();
    let mut config = test_config(&topic, &ks);
    config.admin.token = Some(TOKEN.into());
    let running = Pipeline::start(config, plugin, false).await;
    let addr = running.admin.to_string();
    let p = producer();
    produce_users(&p, &topic, &users(20)).await;
    let s = session().await;
    let table = format!("{ks}.created_users");
    wait_for_rows(&s, &table, 20, Duration::from_secs(60)).await;

    // Without the column: refused, naming it.
    let (code, body) = deploy(&addr, "", &guest("bad-rows")).await;
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("shoe_size"), "{body}");

    // Destructive CQL is refused before any statement runs (the ADD too).
    let (code, body) = deploy(
        &addr,
        "?cql=ALTER%20TABLE%20created_users%20ADD%20shoe_size%20int%3B%20ALTER%20TABLE%20created_users%20DROP%20email",
        &guest("bad-rows"),
    )
    .await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains("DROP email") && body.contains("run other schema changes by hand"),
        "{body}"
    );
    let before = columns(&ks).await;
    assert!(before.contains(&"email".to_string()), "{before:?}");
    assert!(!before.contains(&"shoe_size".to_string()), "{before:?}");

    // The CLI with --cql: applied once, validated against the altered table, live.
    let cql = dir.path().join("shoe-size.cql");
    std::fs::write(
        &cql,
        "-- bad-rows 0.0.1 writes shoe_size\nALTER TABLE created_users ADD shoe_size int;\n",
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_host"))
        .args(["plugin", "deploy"])
        .arg(guest("bad-rows"))
        .arg("--cql")
        .arg(&cql)
        .args(["--admin", &format!("http://{addr}"), "--token", TOKEN])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Deployed bad-rows 0.0.1"), "{stdout}");
    assert!(columns(&ks).await.contains(&"shoe_size".to_string()));
    assert_eq!(
        running.json("/api/status").await["active"]["name"],
        "bad-rows"
    );

    // Its rows land with the new column.
    produce_users(&p, &topic, &users(20)).await;
    let started = std::time::Instant::now();
    loop {
        let rows = s
            .query_unpaged(format!("SELECT shoe_size FROM {table}"), ())
            .await
            .unwrap()
            .into_rows_result()
            .unwrap();
        let with: usize = rows
            .rows::<(Option<i32>,)>()
            .unwrap()
            .filter(|r| matches!(r, Ok((Some(44),))))
            .count();
        if with >= 20 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{with} rows with shoe_size"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    running.stop().await;
}
