//! Test guest: `picky` 1.0.0, a transform with a bug. It rejects records whose
//! value has `"kind": "v1-bad"` (the bug) or `"kind": "hopeless"` as bad
//! input; any other record gets one row with its offset. `picky-v2` is the fix.

use sluice_plugin::{bad_input, InputRecord, Outcome, PluginInfo, RowBuilder, Transform, Value};

struct Picky;

impl Transform for Picky {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "picky".into(),
            version: "1.0.0".into(),
            description: "rejects kinds v1-bad and hopeless".into(),
        }
    }

    fn new(_config: &[(String, String)]) -> Result<Self, String> {
        Ok(Picky)
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        let kind = Value::root(&record.value)
            .lookup("kind")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        match kind.as_deref() {
            Some(k @ ("v1-bad" | "hopeless")) => {
                bad_input("kind", format!("picky 1.0.0 cannot read kind {k:?}"))
            }
            _ => Outcome::Rows(vec![RowBuilder::default_table()
                .bigint("offset", record.offset)
                .build()]),
        }
    }
}

sluice_plugin::export_transform!(Picky);
