//! Test guest: `metadata()` gives a name that, pasted into the Prometheus
//! text format, would close the label set and forge a metric line of its
//! own. The host must refuse the name at load.

use sluice_plugin::{InputRecord, Outcome, PluginInfo, RowBuilder, Transform};

struct ForgedName;

impl Transform for ForgedName {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "x\"} 1\nsluice_injected_metric{x=\"y".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "a name that forges a metric line".into(),
        }
    }

    fn new(_config: &[(String, String)]) -> Result<Self, String> {
        Ok(ForgedName)
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        Outcome::Rows(vec![RowBuilder::default_table()
            .bigint("offset", record.offset)
            .build()])
    }
}

sluice_plugin::export_transform!(ForgedName);
