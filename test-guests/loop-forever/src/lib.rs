//! Test guest: spins forever on a record whose value has `"loop": true`, so
//! tests can show the call deadline (epoch interruption) stops it. Any other
//! record gets one row with its offset.

use sluice_plugin::{InputRecord, Outcome, PluginInfo, RowBuilder, Transform, Value};

struct LoopForever;

impl Transform for LoopForever {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "loop-forever".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "spins on \"loop\": true".into(),
        }
    }

    fn new(_config: &[(String, String)]) -> Result<Self, String> {
        Ok(LoopForever)
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        if Value::root(&record.value)
            .lookup("loop")
            .and_then(|v| v.as_bool())
            == Some(true)
        {
            // black_box keeps the optimiser from proving the loop useless.
            let mut n = 0u64;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        Outcome::Rows(vec![RowBuilder::default_table()
            .bigint("offset", record.offset)
            .build()])
    }
}

sluice_plugin::export_transform!(LoopForever);
