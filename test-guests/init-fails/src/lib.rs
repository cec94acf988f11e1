//! Test guest: `init` refuses every configuration, so a deploy of it must be
//! rejected with the plugin's message while the running version goes on.

use sluice_plugin::{InputRecord, Outcome, PluginInfo, Transform};

struct InitFails;

impl Transform for InitFails {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "init-fails".into(),
            version: "0.0.1".into(),
            description: "refuses any config".into(),
        }
    }

    fn new(_config: &[(String, String)]) -> Result<Self, String> {
        Err("setting `api-key` is required: add it to [pipeline.plugin-config]".into())
    }

    fn transform(&self, _record: &InputRecord) -> Outcome {
        Outcome::Filtered("unreachable: init always fails".into())
    }
}

sluice_plugin::export_transform!(InitFails);
