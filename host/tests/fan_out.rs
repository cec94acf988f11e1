//! The fan-out plugin in a real pipeline: each user lands in both tables of
//! schemas/fan-out.cql, and a user it rejects lands in neither.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_user_lands_in_both_tables() {
    let plugin = std::path::PathBuf::from(sluice_test_programs::FAN_OUT);
    let (topic, ks) = (unique("fanout"), unique("ks"));
    create_topic(&topic, 2).await;

    let users = users(60);
    let mut rejected = users[0].clone();
    rejected["login"]["uuid"] = serde_json::json!(uuid::Uuid::new_v4().to_string());
    rejected["location"]
        .as_object_mut()
        .unwrap()
        .remove("country");
    let p = producer();
    produce_users(&p, &topic, &users).await;
    produce_users(&p, &topic, std::slice::from_ref(&rejected)).await;

    let mut config = test_config(&topic, &ks);
    config.cassandra.schema_file = Some(workspace().join("schemas/fan-out.cql"));
    let running = Pipeline::start(config, plugin, false).await;

    let s = session().await;
    let n = users.len() as i64;
    wait_for_rows(
        &s,
        &format!("{ks}.created_users"),
        n,
        Duration::from_secs(120),
    )
    .await;
    wait_for_rows(
        &s,
        &format!("{ks}.users_by_country"),
        n,
        Duration::from_secs(30),
    )
    .await;
    running.stop().await;

    // The same users in both tables, each under its own country.
    let expected: BTreeMap<uuid::Uuid, (String, String)> = users
        .iter()
        .map(|u| {
            let id = uuid::Uuid::parse_str(u["login"]["uuid"].as_str().unwrap()).unwrap();
            let country = u["location"]["country"].as_str().unwrap().to_string();
            (id, (country, u["email"].as_str().unwrap().to_string()))
        })
        .collect();
    let by_country = s
        .query_unpaged(
            format!("SELECT id, country, email FROM {ks}.users_by_country"),
            (),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let by_country: BTreeMap<uuid::Uuid, (String, String)> = by_country
        .rows::<(uuid::Uuid, String, String)>()
        .unwrap()
        .map(|r| {
            r.map(|(id, country, email)| (id, (country, email)))
                .unwrap()
        })
        .collect();
    assert_eq!(by_country, expected);
    let created = s
        .query_unpaged(
            format!("SELECT id, email, plugin_version FROM {ks}.created_users"),
            (),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let mut ids = BTreeSet::new();
    for row in created.rows::<(uuid::Uuid, String, String)>().unwrap() {
        let (id, email, version) = row.unwrap();
        assert_eq!(email, expected[&id].1);
        assert_eq!(
            version, "0.1.0",
            "the host fills the version column of created_users"
        );
        ids.insert(id);
    }
    assert_eq!(
        ids,
        expected.keys().copied().collect::<BTreeSet<_>>(),
        "the rejected user is in neither table"
    );

    // A single-partition read of one country, the table's purpose.
    let france = expected.values().filter(|(c, _)| c == "France").count() as i64;
    assert!(france > 0);
    let r = s
        .query_unpaged(
            format!("SELECT count(*) FROM {ks}.users_by_country WHERE country = ?"),
            ("France",),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(r.single_row::<(i64,)>().unwrap().0, france);
}
