//! Test guest: `init` spins forever, so tests can show a load (at start-up
//! or on deploy) is refused once the call deadline passes, instead of
//! hanging the host.

use sluice_plugin::{InputRecord, Outcome, PluginInfo, RowBuilder, Transform};

struct InitHangs;

impl Transform for InitHangs {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "init-hangs".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "init never returns".into(),
        }
    }

    fn new(_config: &[(String, String)]) -> Result<Self, String> {
        // black_box keeps the optimiser from proving the loop useless.
        let mut n = 0u64;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        Outcome::Rows(vec![RowBuilder::default_table()
            .bigint("offset", record.offset)
            .build()])
    }
}

sluice_plugin::export_transform!(InitHangs);
