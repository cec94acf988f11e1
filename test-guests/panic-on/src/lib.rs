//! Test guest: panics on a record whose value has `"poison": true`, so tests
//! can show the host's bisection pins the trap on that record alone. Any other
//! record gets one row with its offset.

use sluice_plugin::{InputRecord, Outcome, PluginInfo, RowBuilder, Transform, Value};

struct PanicOn;

impl Transform for PanicOn {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "panic-on".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "panics on \"poison\": true".into(),
        }
    }

    fn new(_config: &[(String, String)]) -> Result<Self, String> {
        Ok(PanicOn)
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        if Value::root(&record.value)
            .lookup("poison")
            .and_then(|v| v.as_bool())
            == Some(true)
        {
            panic!("poisoned record at offset {}", record.offset);
        }
        Outcome::Rows(vec![RowBuilder::default_table()
            .bigint("offset", record.offset)
            .build()])
    }
}

sluice_plugin::export_transform!(PanicOn);
