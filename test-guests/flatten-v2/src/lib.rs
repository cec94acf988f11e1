//! Test guest: flatten as "version 2": the same rows, with `last_name` in
//! upper case, so a hot-swap test can tell which version wrote each row.

use flatten::Flatten;
use sluice_plugin::{Cell, InputRecord, Outcome, PluginInfo, Transform};

struct FlattenV2(Flatten);

impl Transform for FlattenV2 {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "flatten".into(),
            version: "2.0.0".into(),
            description: "flatten v2: last names upper-cased".into(),
        }
    }

    fn new(config: &[(String, String)]) -> Result<Self, String> {
        Flatten::new(config).map(FlattenV2)
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        let mut outcome = self.0.transform(record);
        if let Outcome::Rows(rows) = &mut outcome {
            for row in rows {
                for (name, cell) in row.columns.iter_mut().map(|c| (&c.name, &mut c.value)) {
                    if let (true, Cell::Text(s)) = (name == "last_name", cell) {
                        *s = s.to_uppercase();
                    }
                }
            }
        }
        outcome
    }
}

sluice_plugin::export_transform!(FlattenV2);
