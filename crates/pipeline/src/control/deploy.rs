//! Hot swap: validate a new plugin version fully, then make it current.
//!
//! A candidate is compiled, checked against the world, `init`ed with the
//! pipeline's plugin config, run on recent records (and the built-in
//! samples), and its rows are checked against the live tables. Only then is
//! it swapped in; workers pick it up at their next batch boundary, so every
//! record is transformed by exactly one version. Earlier versions stay
//! compiled, so a rollback is a pointer swap.

use super::history::SwapHistory;
use super::slot::{ActivePlugin, PluginSlot};
use super::validate::validate;
use crate::breaker::Breaker;
use crate::ports::RowSink;
use crate::telemetry::{events, Metrics};
use sluice_engine::{Engine, Limits, Plugin};
use sluice_model::{PluginInfo, Record};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// How many recent records a candidate is tried on.
const RECENT: usize = 32;

/// A bounded sample of recently consumed records, for trying candidates.
#[derive(Default)]
pub struct RecentRecords(Mutex<VecDeque<Record>>);

impl RecentRecords {
    pub fn push(&self, record: Record) {
        let mut q = self.0.lock().expect("recent records");
        if q.len() == RECENT {
            q.pop_front();
        }
        q.push_back(record);
    }

    pub fn snapshot(&self) -> Vec<Record> {
        self.0
            .lock()
            .expect("recent records")
            .iter()
            .cloned()
            .collect()
    }
}

/// The result of a successful deploy.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Deployed {
    pub name: String,
    pub version: String,
    pub hash: String,
    pub samples: usize,
}

/// What a candidate is loaded and validated with.
#[derive(Debug, Clone)]
pub struct DeploySettings {
    /// `pipeline.plugin-config`, handed to `init`.
    pub plugin_config: Vec<(String, String)>,
    pub limits: Limits,
    pub default_table: String,
    pub version_column: String,
    pub sample_file: Option<PathBuf>,
}

/// Validates and activates plugin versions; one deploy at a time.
pub struct Deployer<S: RowSink> {
    pub engine: Engine,
    pub slot: Arc<PluginSlot>,
    pub sink: Arc<S>,
    pub settings: DeploySettings,
    pub recent: Arc<RecentRecords>,
    pub metrics: Arc<Metrics>,
    pub history: Arc<SwapHistory>,
    pub breaker: Arc<Breaker>,
    busy: tokio::sync::Mutex<()>,
}

impl<S: RowSink> Deployer<S> {
    /// A deployer for the pipeline whose parts these are.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        engine: Engine,
        slot: Arc<PluginSlot>,
        sink: Arc<S>,
        settings: DeploySettings,
        recent: Arc<RecentRecords>,
        metrics: Arc<Metrics>,
        history: Arc<SwapHistory>,
        breaker: Arc<Breaker>,
    ) -> Self {
        Deployer {
            engine,
            slot,
            sink,
            settings,
            recent,
            metrics,
            history,
            breaker,
            busy: tokio::sync::Mutex::new(()),
        }
    }

    /// Validates `bytes` as the next version and swaps it in. On any failure
    /// the running version is untouched and the error says why.
    pub async fn deploy(&self, source: String, bytes: Vec<u8>) -> anyhow::Result<Deployed> {
        let _one_at_a_time = self.busy.lock().await;
        let result = self.try_deploy(source.clone(), bytes).await;
        if let Err(error) = &result {
            events::DeployRejected {
                source: &source,
                error,
            }
            .emit(&self.metrics);
        }
        result
    }

    async fn try_deploy(&self, source: String, bytes: Vec<u8>) -> anyhow::Result<Deployed> {
        let current = self.slot.current();
        let engine = self.engine.clone();
        let plugin_config = self.settings.plugin_config.clone();
        let limits = self.settings.limits.clone();
        let what = source.clone();
        let plugin = tokio::task::spawn_blocking(move || {
            Plugin::load(&engine, &what, &bytes, plugin_config, limits)
        })
        .await??;
        if plugin.hash() == current.plugin.hash() {
            anyhow::bail!("{} ({source}) is already the active version", plugin.info());
        }
        let samples = self.recent.snapshot();
        let samples_tried = validate(&plugin, &*self.sink, &self.settings, samples).await?;
        let deployed = Deployed {
            name: plugin.info().name.clone(),
            version: plugin.info().version.clone(),
            hash: plugin.hash().to_string(),
            samples: samples_tried,
        };
        let next = Arc::new(ActivePlugin {
            plugin,
            source,
            since: SystemTime::now(),
        });
        self.activate(next);
        Ok(deployed)
    }

    /// Makes the previous version current again.
    pub async fn rollback(&self) -> anyhow::Result<PluginInfo> {
        let _one_at_a_time = self.busy.lock().await;
        let back = self
            .slot
            .rollback()
            .ok_or_else(|| anyhow::anyhow!("no earlier version to roll back to"))?;
        self.announce(&back, "rolled back to");
        Ok(back.plugin.info().clone())
    }

    fn activate(&self, next: Arc<ActivePlugin>) {
        let old = self.slot.swap(next.clone());
        tracing::info!(from = %old.plugin.info(), "plugin swap: old version finishes its in-flight batches");
        self.announce(&next, "activated");
    }

    fn announce(&self, active: &Arc<ActivePlugin>, how: &str) {
        self.history
            .activated(active, self.slot.current_activation().1);
        // A new version gets a fresh chance: held workers go on with it.
        self.breaker.reset();
        events::VersionActivated {
            plugin: active.plugin.info(),
            hash: active.plugin.hash(),
            source: &active.source,
            how,
        }
        .emit(&self.metrics);
    }
}
