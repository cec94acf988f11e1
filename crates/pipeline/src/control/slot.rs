//! The active plugin, shared by all partition workers. Workers take the
//! current version at the start of each batch, so a batch is transformed by
//! exactly one version and a swap takes effect at the next batch boundary.

use sluice_engine::Plugin;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// A plugin version as deployed.
pub struct ActivePlugin {
    pub plugin: Plugin,
    /// Where it was loaded from.
    pub source: String,
    pub since: SystemTime,
}

/// The current version and the previous ones (kept compiled for rollback).
pub struct PluginSlot {
    /// The active version and its activation number, which grows with every
    /// swap and rollback (a version re-activated is a new activation).
    current: RwLock<(Arc<ActivePlugin>, u64)>,
    previous: RwLock<Vec<Arc<ActivePlugin>>>,
}

impl PluginSlot {
    pub fn new(plugin: Plugin, source: String) -> Self {
        PluginSlot {
            current: RwLock::new((
                Arc::new(ActivePlugin {
                    plugin,
                    source,
                    since: SystemTime::now(),
                }),
                0,
            )),
            previous: RwLock::new(Vec::new()),
        }
    }

    pub fn current(&self) -> Arc<ActivePlugin> {
        self.current.read().expect("plugin slot").0.clone()
    }

    /// The active version with its activation number.
    pub fn current_activation(&self) -> (Arc<ActivePlugin>, u64) {
        self.current.read().expect("plugin slot").clone()
    }

    /// A slot whose first version has activation number `activation` (the
    /// group's, when the host joins a fleet).
    pub fn with_activation(plugin: Plugin, source: String, activation: u64) -> Self {
        let slot = PluginSlot::new(plugin, source);
        slot.current.write().expect("plugin slot").1 = activation;
        slot
    }

    /// Makes `next` current; the old one becomes the first to roll back to.
    pub fn swap(&self, next: Arc<ActivePlugin>) -> Arc<ActivePlugin> {
        let activation = self.current_activation().1 + 1;
        self.swap_as(next, activation)
    }

    /// [`swap`](Self::swap) with a given activation number.
    pub fn swap_as(&self, next: Arc<ActivePlugin>, activation: u64) -> Arc<ActivePlugin> {
        let mut current = self.current.write().expect("plugin slot");
        let (old, _) = std::mem::replace(&mut *current, (next, activation));
        self.previous
            .write()
            .expect("plugin slot")
            .insert(0, old.clone());
        old
    }

    /// Reactivates the previous version, if any.
    pub fn rollback(&self) -> Option<Arc<ActivePlugin>> {
        let mut previous = self.previous.write().expect("plugin slot");
        if previous.is_empty() {
            return None;
        }
        let back = previous.remove(0);
        let mut current = self.current.write().expect("plugin slot");
        let activation = current.1 + 1;
        *current = (back.clone(), activation);
        Some(back)
    }

    /// Earlier versions, newest first.
    pub fn history(&self) -> Vec<Arc<ActivePlugin>> {
        self.previous.read().expect("plugin slot").clone()
    }
}
