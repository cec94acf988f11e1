//! Test guest: answers a record whose value has `"flood": true` with 100 000
//! rows, so tests can show the host's per-record output limit refuses them.
//! Any other record gets one row with its offset.

use sluice_plugin::{InputRecord, Outcome, PluginInfo, RowBuilder, Transform, Value};

/// Rows produced for a flooding record: far over the default limit of 1 000.
const FLOOD_ROWS: i32 = 100_000;

struct OutputFlood;

impl Transform for OutputFlood {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "output-flood".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "100 000 rows for \"flood\": true".into(),
        }
    }

    fn new(_config: &[(String, String)]) -> Result<Self, String> {
        Ok(OutputFlood)
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        if Value::root(&record.value)
            .lookup("flood")
            .and_then(|v| v.as_bool())
            == Some(true)
        {
            return Outcome::Rows(
                (0..FLOOD_ROWS)
                    .map(|n| RowBuilder::default_table().int("n", n).build())
                    .collect(),
            );
        }
        Outcome::Rows(vec![RowBuilder::default_table()
            .bigint("offset", record.offset)
            .build()])
    }
}

sluice_plugin::export_transform!(OutputFlood);
