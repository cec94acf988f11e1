//! Test guest: `row-options`, one row per record `{"id": UUID, "name": TEXT,
//! "op": "upsert" | "delete", "ttl": SECONDS, "micros": WRITE-TIME}` (all but
//! `id` optional): an upsert of `id` and `name` with the TTL and write time
//! given, or a delete of `id`. It exercises the row options of
//! sluice:transform@0.2.0 end to end.

use sluice_plugin::{bad_input, InputRecord, Outcome, PluginInfo, RowBuilder, Transform, Value};

struct RowOptions;

impl Transform for RowOptions {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "row-options".into(),
            version: "1.0.0".into(),
            description: "upserts with a TTL or a write time, and deletes, as each record asks"
                .into(),
        }
    }

    fn new(_config: &[(String, String)]) -> Result<Self, String> {
        Ok(RowOptions)
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        let v = Value::root(&record.value);
        let Ok(id) = v.require_str("id") else {
            return bad_input("id", "field `id` is missing");
        };
        let mut row = RowBuilder::default_table().uuid("id", id);
        if v.lookup("op").and_then(|o| o.as_str()) == Some("delete") {
            row = row.delete();
        } else if let Some(name) = v.lookup("name").and_then(|n| n.as_str()) {
            row = row.text("name", name);
        }
        if let Some(ttl) = v.lookup("ttl").and_then(|t| t.as_i64()) {
            row = row.ttl_seconds(ttl as u32);
        }
        if let Some(micros) = v.lookup("micros").and_then(|t| t.as_i64()) {
            row = row.write_time_micros(micros);
        }
        Outcome::Rows(vec![row.build()])
    }
}

sluice_plugin::export_transform!(RowOptions);
