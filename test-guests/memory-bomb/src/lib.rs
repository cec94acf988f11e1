//! Test guest: allocates without bound on a record whose value has
//! `"bomb": true`, so tests can show the memory cap traps it and the host
//! does not grow. Any other record gets one row with its offset.

use sluice_plugin::{InputRecord, Outcome, PluginInfo, RowBuilder, Transform, Value};

struct MemoryBomb;

impl Transform for MemoryBomb {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "memory-bomb".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "allocates without bound on \"bomb\": true".into(),
        }
    }

    fn new(_config: &[(String, String)]) -> Result<Self, String> {
        Ok(MemoryBomb)
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        if Value::root(&record.value)
            .lookup("bomb")
            .and_then(|v| v.as_bool())
            == Some(true)
        {
            // Non-zero fill so every page is really written, not just reserved.
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![0xA5; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        Outcome::Rows(vec![RowBuilder::default_table()
            .bigint("offset", record.offset)
            .build()])
    }
}

sluice_plugin::export_transform!(MemoryBomb);
