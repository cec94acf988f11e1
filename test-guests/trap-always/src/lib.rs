//! Test guest: panics on every record, so the sample run of a deploy must
//! reject it (and the breaker must trip if it ever ran).

use sluice_plugin::{InputRecord, Outcome, PluginInfo, Transform};

struct TrapAlways;

impl Transform for TrapAlways {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "trap-always".into(),
            version: "0.0.1".into(),
            description: "panics".into(),
        }
    }

    fn new(_config: &[(String, String)]) -> Result<Self, String> {
        Ok(TrapAlways)
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        panic!("trap-always: record at offset {}", record.offset)
    }
}

sluice_plugin::export_transform!(TrapAlways);
