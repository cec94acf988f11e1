//! Plugins built for an earlier version of the WIT world keep loading and
//! running. `fixtures/flatten-wit-0.1.0.wasm` is flatten as the SDK built
//! it for sluice:transform@0.1.0 (value trees of variants), before 0.2.0
//! (packed values); `fixtures/flatten-wit-0.2.0.wasm` as the SDK built it
//! for 0.2.0 (rows as WIT records), before 0.3.0 (rows in one packed
//! buffer). Both must load beside today's flatten and make the same rows of
//! the same records.

use host::engine::{Engine, Limits, Plugin};
use host::model::{Origin, Outcome, Record, WriteKind};
use std::path::Path;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn users() -> Vec<Record> {
    std::fs::read_to_string(fixture("users.jsonl"))
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, line)| Record {
            origin: Origin {
                topic: "users_created".into(),
                offset: i as i64,
                ..Origin::default()
            },
            value: host::json::tree_from_slice(line.as_bytes()).unwrap(),
        })
        .collect()
}

fn load(engine: &Engine, path: &Path) -> Plugin {
    Plugin::load_file(engine, path, Vec::new(), Limits::default())
        .unwrap_or_else(|e| panic!("{} did not load: {e}", path.display()))
}

#[test]
fn plugins_built_for_0_1_0_and_0_2_0_run_beside_0_3_0_and_make_the_same_rows() {
    let engine = Engine::new().unwrap();
    let v1 = load(&engine, &fixture("flatten-wit-0.1.0.wasm"));
    let v2 = load(&engine, &fixture("flatten-wit-0.2.0.wasm"));
    let new = load(&engine, Path::new(sluice_test_programs::FLATTEN));
    assert_eq!(v1.world_version(), "0.1.0");
    assert_eq!(v2.world_version(), "0.2.0");
    assert_eq!(new.world_version(), "0.3.0");
    assert_eq!(v1.info().name, "flatten");
    assert_eq!(v2.info().name, "flatten");

    let records = users();
    assert!(records.len() >= 5, "fixture users");
    let new_out = new.transform(records.clone());
    assert_eq!(new_out.len(), records.len());
    for (old, version) in [(&v1, "0.1.0"), (&v2, "0.2.0")] {
        let old_out = old.transform(records.clone());
        assert_eq!(old_out.len(), records.len());
        let mut rows = 0;
        for (i, (a, b)) in old_out.iter().zip(&new_out).enumerate() {
            let (Ok(Outcome::Rows(a)), Ok(Outcome::Rows(b))) = (a, b) else {
                panic!("record {i}: {version} gave {a:?}, 0.3.0 gave {b:?}");
            };
            assert_eq!(a, b, "record {i}: the same rows from {version} and 0.3.0");
            assert!(a
                .iter()
                .all(|r| r.kind == WriteKind::Upsert && r.ttl_seconds.is_none()));
            rows += a.len();
        }
        assert_eq!(rows, records.len(), "one row per user");

        // A bad record is bad input in both, naming the same field.
        let mut bad = records[0].clone();
        bad.value = host::json::tree_from_slice(br#"{"login": {}}"#).unwrap();
        let a = old.transform(vec![bad.clone()]);
        let b = new.transform(vec![bad]);
        match (&a[0], &b[0]) {
            (Ok(Outcome::BadInput { field: fa, .. }), Ok(Outcome::BadInput { field: fb, .. })) => {
                assert_eq!(fa, fb, "{version}")
            }
            other => panic!("expected bad input from {version} and 0.3.0: {other:?}"),
        }
    }
}

#[test]
fn row_options_reach_the_host_through_packed_rows() {
    let engine = Engine::new().unwrap();
    let plugin = load(&engine, &sluice_test_programs::path("row-options"));
    let id = "8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10";
    let record = |json: serde_json::Value| Record {
        origin: Origin::default(),
        value: host::json::tree_from_slice(json.to_string().as_bytes()).unwrap(),
    };
    let out = plugin.transform(vec![
        record(serde_json::json!({"id": id, "name": "a", "ttl": 60, "micros": 5})),
        record(serde_json::json!({"id": id, "op": "delete"})),
    ]);
    let rows: Vec<_> = out
        .into_iter()
        .map(|o| match o {
            Ok(Outcome::Rows(mut r)) if r.len() == 1 => r.remove(0),
            other => panic!("expected one row: {other:?}"),
        })
        .collect();
    assert_eq!(rows[0].kind, WriteKind::Upsert);
    assert_eq!(rows[0].ttl_seconds, Some(60));
    assert_eq!(rows[0].write_time_micros, Some(5));
    assert_eq!(rows[1].kind, WriteKind::Delete);
    assert_eq!(rows[1].columns.len(), 1, "a delete carries the key only");
}
