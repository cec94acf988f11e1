//! Test guest: every row has a column `shoe_size` that `created_users` lacks,
//! so validation against the live table must reject it before it goes live.

use sluice_plugin::{InputRecord, Outcome, PluginInfo, RowBuilder, Transform, Value};

struct BadRows;

impl Transform for BadRows {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "bad-rows".into(),
            version: "0.0.1".into(),
            description: "rows that do not fit".into(),
        }
    }

    fn new(_config: &[(String, String)]) -> Result<Self, String> {
        Ok(BadRows)
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        let id = Value::root(&record.value)
            .lookup("login.uuid")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        Outcome::Rows(vec![RowBuilder::default_table()
            .uuid("id", id)
            .int("shoe_size", 44)
            .build()])
    }
}

sluice_plugin::export_transform!(BadRows);
