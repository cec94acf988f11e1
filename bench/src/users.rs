//! The records every figure is measured on: randomuser-shaped users from the
//! host's own generator (what `host users-api` serves), as JSON and as
//! Confluent-framed Avro; the `created_users` table; the flatten logic called
//! natively through the same host types the Wasm engine takes and returns.

use host::ingest::encode::{Encoder, USER_SCHEMA};
use host::model::{self, Cell, Outcome, Record, Row};
use host::sink::TableSchema;
use host::users_api::generator::{self, Filter};
use sluice_plugin::Transform;

/// Users per API page, as `host ingest` asks for them by default.
pub const PAGE: u64 = 500;

/// `n` users for `seed`: user `k` is the one `host users-api` serves at page
/// `k / 500 + 1`, index `k % 500`, i.e. what `host ingest --seed` produces.
pub fn users(seed: &str, n: usize) -> Vec<serde_json::Value> {
    let filter = Filter::default();
    (0..n as u64)
        .map(|k| {
            serde_json::to_value(generator::user(seed, k / PAGE + 1, k % PAGE, &filter))
                .expect("users serialize")
        })
        .collect()
}

/// The users as JSON bytes and as Confluent-framed Avro (schema id `schema_id`).
pub fn encoded(users: &[serde_json::Value], schema_id: u32) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let json = users
        .iter()
        .map(|u| serde_json::to_vec(u).expect("users serialize"))
        .collect();
    let avro = Encoder::avro(schema_id)
        .encode_all(&host::ingest::fetch::Users::from_values(users))
        .unwrap_or_else(|(i, e)| panic!("user {i} does not fit schemas/user.avsc: {e}"))
        .into_iter()
        .map(|r| r.value)
        .collect();
    (json, avro)
}

/// A record as the pipeline builds it from a consumed value.
pub fn record(value: model::ValueTree, offset: i64) -> Record {
    Record {
        origin: model::Origin {
            topic: "users_created".into(),
            offset,
            timestamp: Some(0),
            ..Default::default()
        },
        value,
    }
}

/// `created_users` as `schemas/cassandra.cql` creates it (what `Sink::table` reads back).
pub fn created_users(keyspace: &str) -> std::sync::Arc<TableSchema> {
    let columns = [
        ("id", "uuid"),
        ("first_name", "text"),
        ("last_name", "text"),
        ("gender", "text"),
        ("address", "text"),
        ("post_code", "text"),
        ("email", "text"),
        ("username", "text"),
        ("dob", "timestamp"),
        ("registered_date", "timestamp"),
        ("phone", "text"),
        ("picture", "text"),
        ("plugin_version", "text"),
    ];
    std::sync::Arc::new(TableSchema {
        name: format!("{keyspace}.created_users"),
        columns: columns
            .iter()
            .map(|(n, t)| (n.to_string(), host::sink::CqlType::parse(t)))
            .collect(),
        partition_key: vec!["id".into()],
        clustering: vec![],
    })
}

/// What the pipeline adds before binding: the plugin version column.
pub fn with_version(mut row: Row, version: &str) -> Row {
    if !row.columns.iter().any(|(n, _)| n == "plugin_version") {
        row.columns
            .push(("plugin_version".into(), Cell::Text(version.into())));
    }
    row
}

/// The flatten plugin's logic compiled natively, called with the host's
/// types: the records are moved into the SDK's types and the outcomes moved
/// back, as the engine moves them into and out of the component.
pub struct NativeFlatten(flatten::Flatten);

impl NativeFlatten {
    pub fn new() -> Self {
        NativeFlatten(flatten::Flatten::new(&[]).expect("flatten takes an empty config"))
    }

    pub fn transform(&self, records: Vec<Record>) -> Vec<Outcome> {
        records
            .into_iter()
            .map(|r| outcome(self.0.transform(&input(r))))
            .collect()
    }
}

fn input(r: Record) -> sluice_plugin::InputRecord {
    let o = r.origin;
    sluice_plugin::InputRecord {
        topic: o.topic,
        partition: o.partition,
        offset: o.offset,
        timestamp: o.timestamp,
        key: o.key,
        headers: o
            .headers
            .into_iter()
            .map(|(key, value)| sluice_plugin::Header { key, value })
            .collect(),
        // The engine's own packing, so the native chain pays it too.
        value: sluice_engine::packed_value(&r.value),
    }
}

fn outcome(o: sluice_plugin::Outcome) -> Outcome {
    use sluice_plugin::Cell as S;
    match o {
        sluice_plugin::Outcome::Rows(rows) => Outcome::Rows(
            rows.into_iter()
                .map(|r| Row {
                    table: r.table,
                    kind: match r.kind {
                        sluice_plugin::WriteKind::Upsert => model::WriteKind::Upsert,
                        sluice_plugin::WriteKind::Delete => model::WriteKind::Delete,
                    },
                    ttl_seconds: r.ttl_seconds,
                    write_time_micros: r.write_time_micros,
                    columns: r
                        .columns
                        .into_iter()
                        .map(|c| {
                            let cell = match c.value {
                                S::Null => Cell::Null,
                                S::Text(s) => Cell::Text(s),
                                S::Int(i) => Cell::Int(i),
                                S::Bigint(i) => Cell::Bigint(i),
                                S::Double(d) => Cell::Double(d),
                                S::Boolean(b) => Cell::Boolean(b),
                                S::Uuid(u) => Cell::Uuid(u),
                                S::Timestamp(t) => Cell::Timestamp(t),
                                S::Date(d) => Cell::Date(d),
                                S::Blob(b) => Cell::Blob(b),
                                S::TextList(l) => Cell::TextList(l),
                                S::TextSet(l) => Cell::TextSet(l),
                                S::TextMap(m) => Cell::TextMap(m),
                            };
                            (c.name, cell)
                        })
                        .collect(),
                })
                .collect(),
        ),
        sluice_plugin::Outcome::Filtered(r) => Outcome::Filtered(r),
        sluice_plugin::Outcome::BadInput(e) => Outcome::BadInput {
            field: e.field,
            message: e.message,
        },
        sluice_plugin::Outcome::Retry(r) => Outcome::Retry(r),
    }
}

/// A registry that knows one schema, `schemas/user.avsc` as id 1, so the
/// Avro decode stage runs without the services. Returns its base URL.
pub async fn stub_registry() -> anyhow::Result<String> {
    use axum::routing::get;
    let body = serde_json::json!({ "schema": USER_SCHEMA, "schemaType": "AVRO" }).to_string();
    let app = axum::Router::new().route(
        "/schemas/ids/{id}",
        get(move || {
            let body = body.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}
