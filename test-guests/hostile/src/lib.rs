//! Test guest: misbehaves on a record according to the `"mode"` field of its
//! value, so tests can show each kind of hostile record is contained on its
//! own while the records around it land:
//!
//! - `{"mode": "stack-overflow"}` recurses without bound;
//! - `{"mode": "slow", "ms": N}` busy-loops about N ms (without `ms`, forever);
//! - `{"mode": "huge-error"}` returns bad-input with a 60 MiB message;
//! - `{"mode": "log-flood"}` calls `log` 1 000 000 times, then returns a row;
//! - `{"mode": "huge-output"}` returns one row with a 60 MiB text cell;
//! - `{"mode": "oom"}` allocates until the memory cap stops it.
//!
//! Any other record gets one row with its offset.

use sluice_plugin::{
    log, InputError, InputRecord, Level, Outcome, PluginInfo, RowBuilder, Transform, Value,
};
use std::hint::black_box;

/// The size of the huge error message and of the huge text cell.
const HUGE: usize = 60 << 20;

/// Log events a flooding record emits.
const FLOOD_LOGS: u32 = 1_000_000;

/// Busy-loop iterations per millisecond, roughly. The sandbox has no clock
/// that advances during a call, so "slow" is counted in work, not time; the
/// tests only need a record that outlasts the deadline.
const SPINS_PER_MS: u64 = 500_000;

struct Hostile;

impl Transform for Hostile {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "misbehaves by the record's \"mode\"".into(),
        }
    }

    fn new(_config: &[(String, String)]) -> Result<Self, String> {
        Ok(Hostile)
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        let value = Value::root(&record.value);
        let row = || {
            Outcome::Rows(vec![RowBuilder::default_table()
                .bigint("offset", record.offset)
                .build()])
        };
        match value.get("mode").and_then(|m| m.as_str()) {
            Some("stack-overflow") => {
                let depth = descend(0);
                Outcome::Filtered(format!("came back from a bottomless recursion at {depth}"))
            }
            Some("slow") => {
                match value.get("ms").and_then(|m| m.as_i64()) {
                    Some(ms) => spin((ms.max(0) as u64).saturating_mul(SPINS_PER_MS)),
                    None => spin(u64::MAX),
                }
                row()
            }
            Some("huge-error") => Outcome::BadInput(InputError {
                field: Some("mode".into()),
                message: "e".repeat(HUGE),
            }),
            Some("log-flood") => {
                for _ in 0..FLOOD_LOGS {
                    log(Level::Info, "log flood", &[]);
                }
                row()
            }
            Some("huge-output") => Outcome::Rows(vec![RowBuilder::default_table()
                .bigint("offset", record.offset)
                .text("plugin_version", "o".repeat(HUGE))
                .build()]),
            Some("oom") => {
                // Non-zero fill so every page is really written, not just reserved.
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![0x5A; 1 << 20]);
                    black_box(&hoard);
                }
            }
            _ => row(),
        }
    }
}

/// Recurses until the stack runs out. Each frame keeps an array on the
/// (linear-memory) stack and adds to the callee's result, so the compiler
/// can neither drop the frames nor turn the recursion into a loop.
#[inline(never)]
fn descend(depth: u64) -> u64 {
    let frame = black_box([depth; 32]);
    if black_box(depth) == u64::MAX {
        return frame[0];
    }
    descend(depth + 1).wrapping_add(frame[1])
}

/// Burns `spins` iterations of work the optimiser cannot remove.
fn spin(spins: u64) {
    let mut n = 0u64;
    while n < spins {
        n = black_box(n + 1);
    }
}

sluice_plugin::export_transform!(Hostile);
