//! Test guest: flatten as "version 3.0.0" that dropped the `version-column`
//! setting. Its init fails on a host whose `pipeline.plugin-config` still sets
//! it (or sets `refuse` = `yes`), and succeeds everywhere else: a fleet
//! deploy that one host of the group rejects while the others would accept
//! it. Its rows are flatten's, with the host's `plugin_version` stamp.

use flatten::Flatten;
use sluice_plugin::{InputRecord, Outcome, PluginInfo, Transform};

struct InitFailsIf(Flatten);

impl Transform for InitFailsIf {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "flatten-strict".into(),
            version: "3.0.0".into(),
            description: "flatten v3: refuses the setting version-column".into(),
        }
    }

    fn new(config: &[(String, String)]) -> Result<Self, String> {
        for (key, value) in config {
            match (key.as_str(), value.as_str()) {
                ("version-column", v) => {
                    return Err(format!(
                        "flatten-strict 3.0.0 no longer knows setting `version-column` (set to {v:?} on this host): remove it from [pipeline.plugin-config]"
                    ))
                }
                ("refuse", "yes") => {
                    return Err("setting `refuse` is `yes` on this host: refusing to start".into())
                }
                ("refuse", _) => {}
                (other, _) => return Err(format!("flatten-strict has no setting `{other}`")),
            }
        }
        Flatten::new(&[]).map(InitFailsIf)
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        self.0.transform(record)
    }
}

sluice_plugin::export_transform!(InitFailsIf);
