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

    /// Makes `next` current; the old one becomes the first to roll back to.
    pub fn swap(&self, next: Arc<ActivePlugin>) -> Arc<ActivePlugin> {
        let mut current = self.current.write().expect("plugin slot");
        let activation = current.1 + 1;
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
