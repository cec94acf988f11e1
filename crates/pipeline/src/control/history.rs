//! What the operator sees of plugin versions: when each was activated, the
//! first offset it handled on each partition, and the stall of each swap.

use super::slot::ActivePlugin;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One activation of a version.
#[derive(Debug, Clone, Serialize)]
pub struct VersionEntry {
    /// The slot's activation number (see `PluginSlot`).
    pub activation: u64,
    pub name: String,
    pub version: String,
    pub hash: String,
    pub source: String,
    /// Milliseconds since the epoch.
    pub activated_at_ms: u64,
    /// "topic/partition" -> the first offset this version transformed there.
    pub first_offsets: BTreeMap<String, i64>,
}

/// One partition's hand-over from one version to the next.
#[derive(Debug, Clone, Serialize)]
pub struct Stall {
    pub partition: String,
    pub from_hash: String,
    pub to_hash: String,
    /// Last old-version batch acknowledged -> first new-version batch acknowledged.
    pub millis: f64,
}

/// Activations, newest last, and swap stalls.
#[derive(Default)]
pub struct SwapHistory {
    versions: Mutex<Vec<VersionEntry>>,
    stalls: Mutex<Vec<Stall>>,
}

impl SwapHistory {
    pub fn activated(&self, active: &Arc<ActivePlugin>, activation: u64) {
        let info = active.plugin.info();
        self.versions.lock().expect("history").push(VersionEntry {
            activation,
            name: info.name.clone(),
            version: info.version.clone(),
            hash: active.plugin.hash().to_string(),
            source: active.source.clone(),
            activated_at_ms: millis(active.since),
            first_offsets: BTreeMap::new(),
        });
    }

    /// Records the first offset an activation transformed on a partition.
    pub fn first_offset(&self, activation: u64, topic: &str, partition: i32, offset: i64) {
        let mut versions = self.versions.lock().expect("history");
        if let Some(v) = versions
            .iter_mut()
            .rev()
            .find(|v| v.activation == activation)
        {
            v.first_offsets
                .entry(format!("{topic}/{partition}"))
                .or_insert(offset);
        }
    }

    pub fn stall(&self, stall: Stall) {
        self.stalls.lock().expect("history").push(stall);
    }

    pub fn versions(&self) -> Vec<VersionEntry> {
        self.versions.lock().expect("history").clone()
    }

    pub fn stalls(&self) -> Vec<Stall> {
        self.stalls.lock().expect("history").clone()
    }
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}
