//! Test guest: imports WASI's environment and preopens and answers every
//! record with one row counting what it sees (`env_vars`, `args`,
//! `preopens`), so tests can check the host's WASI context grants nothing.

wit_bindgen::generate!({
    // The contract first, so the probe's world can include it.
    path: ["../../wit", "wit"],
    world: "sluice-test:wasi-probe/wasi-probe",
    // Only this crate uses these interfaces: generate them all here.
    generate_all,
});

// The world-level `use` of the contract already brings InputRecord, Outcome, PluginInfo.
// wit/ holds two versions of the package (0.1.0 under deps/), so bindgen suffixes this one.
use sluice::transform0_2_0::types::{Cell, Column, Row, WriteKind};
use wasi::cli::environment;
use wasi::filesystem::preopens;

struct WasiProbe;

impl Guest for WasiProbe {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "wasi-probe".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "counts the env vars, args and preopens WASI grants".into(),
        }
    }

    fn init(_config: Vec<(String, String)>) -> Result<(), String> {
        Ok(())
    }

    fn transform(batch: Vec<InputRecord>) -> Vec<Outcome> {
        let count = |n: usize| Cell::Int(n as i32);
        let columns = vec![
            Column {
                name: "env_vars".into(),
                value: count(environment::get_environment().len()),
            },
            Column {
                name: "args".into(),
                value: count(environment::get_arguments().len()),
            },
            Column {
                name: "preopens".into(),
                value: count(preopens::get_directories().len()),
            },
        ];
        let row = Row {
            table: None,
            columns,
            kind: WriteKind::Upsert,
            ttl_seconds: None,
            write_time_micros: None,
        };
        batch
            .iter()
            .map(|_| Outcome::Rows(vec![row.clone()]))
            .collect()
    }
}

export!(WasiProbe);
