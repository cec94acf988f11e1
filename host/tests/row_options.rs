//! Row options of sluice:transform@0.2.0 in a real pipeline (Kafka and
//! Cassandra): `USING TTL`, `USING TIMESTAMP`, and deletes by primary key,
//! with the writes of one row applied in record order even when they share
//! a batch.

mod common;

use common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_write_time_and_deletes_reach_cassandra_in_record_order() {
    let plugin = sluice_test_programs::path("row-options");
    let (topic, ks) = (unique("rowopts"), unique("ks"));
    create_topic(&topic, 1).await;
    let tmp = tempfile::tempdir().unwrap();
    let schema = tmp.path().join("schema.cql");
    std::fs::write(
        &schema,
        "CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication};\n\
         CREATE TABLE IF NOT EXISTS {keyspace}.people (id uuid PRIMARY KEY, name text, plugin_version text);\n",
    )
    .unwrap();

    let id = || uuid::Uuid::new_v4();
    let (expiring, timed, deleted, revived, sentinel) = (id(), id(), id(), id(), id());
    let written_at: i64 = 1_700_000_000_000_000;
    let records = [
        serde_json::json!({"id": expiring, "name": "expiring", "ttl": 3600}),
        serde_json::json!({"id": timed, "name": "first", "micros": written_at}),
        // Older than what is stored: Cassandra keeps the newer write.
        serde_json::json!({"id": timed, "name": "late", "micros": written_at - 1}),
        serde_json::json!({"id": deleted, "name": "doomed"}),
        serde_json::json!({"id": deleted, "op": "delete"}),
        // Upsert, delete, upsert of one row, likely in one batch: the last wins.
        serde_json::json!({"id": revived, "name": "once"}),
        serde_json::json!({"id": revived, "op": "delete"}),
        serde_json::json!({"id": revived, "name": "again"}),
        serde_json::json!({"id": sentinel, "name": "last"}),
    ];
    let p = producer();
    for r in &records {
        produce(&p, &topic, "k", r.to_string().as_bytes()).await;
    }

    let mut config = test_config(&topic, &ks);
    config.cassandra.schema_file = Some(schema);
    config.pipeline.default_table = "people".into();
    let running = Pipeline::start(config, plugin, false).await;
    let s = session().await;
    // One partition, written in order: once the last record's row is there,
    // every earlier write has been applied.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        if name_of(&s, &ks, sentinel).await.is_some() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sentinel row never landed"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    running.stop().await;

    assert_eq!(
        name_of(&s, &ks, expiring).await.as_deref(),
        Some("expiring")
    );
    let ttl = about_name::<i32>(&s, &ks, "TTL", expiring)
        .await
        .expect("the expiring row has a TTL");
    assert!((3000..=3600).contains(&ttl), "TTL(name) = {ttl}");
    assert_eq!(
        about_name::<i32>(&s, &ks, "TTL", sentinel).await,
        None,
        "a row without ttl-seconds does not expire"
    );

    assert_eq!(
        name_of(&s, &ks, timed).await.as_deref(),
        Some("first"),
        "the late write (older write time) did not overwrite"
    );
    assert_eq!(
        about_name::<i64>(&s, &ks, "WRITETIME", timed).await,
        Some(written_at)
    );

    assert_eq!(name_of(&s, &ks, deleted).await, None, "deleted");
    assert_eq!(
        name_of(&s, &ks, revived).await.as_deref(),
        Some("again"),
        "upsert, delete, upsert of one row: applied in record order"
    );
}

async fn name_of(s: &scylla::client::session::Session, ks: &str, id: uuid::Uuid) -> Option<String> {
    let rows = s
        .query_unpaged(format!("SELECT name FROM {ks}.people WHERE id = ?"), (id,))
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    rows.maybe_first_row::<(Option<String>,)>()
        .unwrap()
        .and_then(|(n,)| n)
}

/// `SELECT <function>(name)` of one row, e.g. its TTL or WRITETIME.
async fn about_name<T>(
    s: &scylla::client::session::Session,
    ks: &str,
    function: &str,
    id: uuid::Uuid,
) -> Option<T>
where
    T: for<'f, 'm> scylla::deserialize::value::DeserializeValue<'f, 'm>,
{
    let (value,): (Option<T>,) = s
        .query_unpaged(
            format!("SELECT {function}(name) FROM {ks}.people WHERE id = ?"),
            (id,),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap()
        .single_row()
        .unwrap();
    value
}
