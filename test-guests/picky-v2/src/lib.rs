//! Test guest: `picky` 2.0.0, the fix of `picky-v1`: it reads records of
//! kind "v1-bad" and still rejects `"kind": "hopeless"` as bad input. Every
//! other record gets one row with its offset.

use sluice_plugin::{bad_input, InputRecord, Outcome, PluginInfo, RowBuilder, Transform, Value};

struct Picky;

impl Transform for Picky {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "picky".into(),
            version: "2.0.0".into(),
            description: "rejects kind hopeless".into(),
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
            Some("hopeless") => {
                bad_input("kind", "picky 2.0.0 cannot read kind \"hopeless\" either")
            }
            _ => Outcome::Rows(vec![RowBuilder::default_table()
                .bigint("offset", record.offset)
                .build()]),
        }
    }
}

sluice_plugin::export_transform!(Picky);
