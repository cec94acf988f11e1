//! Test guest: panics in `metadata()`, so tests can show a load (at start-up
//! or on deploy) is refused with the panic's own message, not a backtrace.

use sluice_plugin::{InputRecord, Outcome, PluginInfo, Transform};

/// What the panic says; tests look for it in the refusal.
pub const MESSAGE: &str = "metadata exploded on purpose (marker 7f3a9c)";

struct MetadataPanic;

impl Transform for MetadataPanic {
    fn metadata() -> PluginInfo {
        panic!("{MESSAGE}");
    }

    fn new(_config: &[(String, String)]) -> Result<Self, String> {
        Ok(MetadataPanic)
    }

    fn transform(&self, _record: &InputRecord) -> Outcome {
        Outcome::Filtered("unreachable: metadata() always panics".into())
    }
}

sluice_plugin::export_transform!(MetadataPanic);
