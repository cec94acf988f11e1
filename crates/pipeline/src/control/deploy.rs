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
use crate::fleet::{self, DeployRequest, Fleet};
use crate::ports::RowSink;
use crate::shadow::{ShadowRun, ShadowStatus};
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
    /// The group's activation number (fleet deploys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation: Option<u64>,
    /// Every member's answer (fleet deploys).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<fleet::log::Answer>,
}

/// How often a group's shadow run this host could not start is tried again.
const SHADOW_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

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
    /// The group's control log; None: this host alone (versions in memory).
    pub fleet: Option<Arc<Fleet>>,
    /// A candidate running in the shadow of the active version, if any.
    shadow: Mutex<Option<Arc<ShadowRun>>>,
    /// One shadow start, stop or change at a time (the API and the agent).
    shadow_busy: tokio::sync::Mutex<()>,
    /// The group's shadow run this host could not start: its id, when this
    /// host tried, and why it failed.
    shadow_failed: Mutex<Option<(String, std::time::Instant, String)>>,
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
            fleet: None,
            shadow: Mutex::new(None),
            shadow_busy: tokio::sync::Mutex::new(()),
            shadow_failed: Mutex::new(None),
            busy: tokio::sync::Mutex::new(()),
        }
    }

    /// Deploys go through the group's control log from now on.
    pub fn with_fleet(mut self, fleet: Arc<Fleet>) -> Self {
        self.fleet = Some(fleet);
        self
    }

    /// Validates `bytes` as the next version and swaps it in. On any failure
    /// the running version is untouched and the error says why.
    pub async fn deploy(&self, source: String, bytes: Vec<u8>) -> anyhow::Result<Deployed> {
        self.deploy_request(DeployRequest::new(source, bytes)).await
    }

    /// A deploy with its settings and CQL. With a fleet, every live member
    /// of the group validates it and it becomes active everywhere or nowhere
    /// (a refusal is a [`fleet::Refused`] with every answer).
    pub async fn deploy_request(&self, request: DeployRequest) -> anyhow::Result<Deployed> {
        let _one_at_a_time = self.busy.lock().await;
        let source = request.source.clone();
        let result = match &self.fleet {
            Some(f) => fleet::coordinate(self, f, request).await,
            None => self.try_deploy(request).await,
        };
        // A superseded rollback is not a rejection: its work was done.
        let superseded =
            matches!(&result, Err(e) if e.downcast_ref::<fleet::Superseded>().is_some());
        if let (Err(error), false) = (&result, superseded) {
            events::DeployRejected {
                source: &source,
                error,
            }
            .emit(&self.metrics);
        }
        result
    }

    async fn try_deploy(&self, request: DeployRequest) -> anyhow::Result<Deployed> {
        let DeployRequest {
            source,
            bytes,
            plugin_config,
            cql,
            ..
        } = request;
        let current = self.slot.current();
        let engine = self.engine.clone();
        let plugin_config = fleet::effective_config(&self.settings.plugin_config, &plugin_config);
        let limits = self.settings.limits.clone();
        let what = source.clone();
        let plugin = tokio::task::spawn_blocking(move || {
            Plugin::load(&engine, &what, &bytes, plugin_config, limits)
        })
        .await??;
        if plugin.hash() == current.plugin.hash() {
            anyhow::bail!("{} ({source}) is already the active version", plugin.info());
        }
        if !cql.is_empty() {
            self.sink
                .alter(&cql)
                .await
                .map_err(|e| anyhow::anyhow!("the deploy's CQL was refused: {e}"))?;
        }
        let samples = self.recent.snapshot();
        let samples_tried = validate(&plugin, &*self.sink, &self.settings, samples).await?;
        let deployed = Deployed {
            name: plugin.info().name.clone(),
            version: plugin.info().version.clone(),
            hash: plugin.hash().to_string(),
            samples: samples_tried,
            activation: None,
            answers: Vec::new(),
        };
        let next = Arc::new(ActivePlugin {
            plugin,
            source,
            since: SystemTime::now(),
        });
        self.activate(next);
        Ok(deployed)
    }

    /// Makes the previous version current again; with a fleet, through the
    /// group's log like any deploy.
    pub async fn rollback(&self) -> anyhow::Result<PluginInfo> {
        self.roll_back(None)
            .await?
            .ok_or_else(|| anyhow::anyhow!("nothing was rolled back"))
    }

    /// Rolls back the version with content hash `hash` only if it is still
    /// the active one (the group's, with a fleet); None if something else
    /// already replaced it. A breaker rolls back this way: when every
    /// member's breaker opens on the same bad version, the first rollback
    /// wins and the others do nothing, instead of each going one more
    /// version back.
    pub async fn rollback_from(&self, hash: &str) -> anyhow::Result<Option<PluginInfo>> {
        self.roll_back(Some(hash)).await
    }

    async fn roll_back(&self, from: Option<&str>) -> anyhow::Result<Option<PluginInfo>> {
        if let Some(f) = &self.fleet {
            f.sync().await?;
            let (seq, active, previous) = {
                let state = f.state();
                let seq = state.active_seq();
                let active = state.active().map(|a| a.hash.clone());
                (seq, active, state.previous(seq).cloned())
            };
            if from.is_some_and(|h| active.as_deref() != Some(h)) {
                return Ok(None);
            }
            let previous = previous.ok_or_else(|| {
                anyhow::anyhow!("no earlier version to roll back to in the group's deploy log")
            })?;
            let bytes = f.bytes_of(&previous.hash).await?;
            let request = DeployRequest {
                source: format!(
                    "rollback from activation {seq} to {} ({})",
                    previous.seq, previous.source
                ),
                bytes,
                plugin_config: previous.plugin_config.clone(),
                cql: Vec::new(),
                restores: Some(previous.seq),
                replaces: from.map(str::to_string),
            };
            return match self.deploy_request(request).await {
                Ok(_) => Ok(Some(self.slot.current().plugin.info().clone())),
                Err(e) if e.downcast_ref::<fleet::Superseded>().is_some() => Ok(None),
                Err(e) => Err(e),
            };
        }
        let _one_at_a_time = self.busy.lock().await;
        if from.is_some_and(|h| self.slot.current().plugin.hash() != h) {
            return Ok(None);
        }
        let back = self
            .slot
            .rollback()
            .ok_or_else(|| anyhow::anyhow!("no earlier version to roll back to"))?;
        self.announce(&back, "rolled back to");
        Ok(Some(back.plugin.info().clone()))
    }

    /// The shadow run, if one is going.
    pub fn shadow(&self) -> Option<Arc<ShadowRun>> {
        self.shadow.lock().expect("shadow slot").clone()
    }

    /// Starts running `bytes` in the shadow of the active version on a
    /// share `sample` of the records, after the same validation as a deploy.
    /// It writes nothing; a shadow already running is replaced. With a
    /// fleet, every member of the group runs it (each on its own
    /// partitions), and so does a member that starts later.
    pub async fn start_shadow(
        &self,
        source: String,
        bytes: Vec<u8>,
        sample: f64,
    ) -> anyhow::Result<ShadowStatus> {
        let _one_at_a_time = self.shadow_busy.lock().await;
        let run = self.load_shadow(source, bytes, sample).await?;
        if let Some(f) = &self.fleet {
            let status = run.status();
            f.put_bytes(&status.hash, &run.bytes).await?;
            let spec = fleet::log::ShadowSpec {
                id: format!("{}-{}", fleet::log::now_ms(), &status.hash[..12]),
                hash: status.hash,
                name: status.name,
                version: status.version,
                source: status.source,
                sample,
                by: f.settings.member.clone(),
                at_ms: fleet::log::now_ms(),
            };
            f.publish_shadow(Some(&spec)).await?;
        }
        let status = run.status();
        tracing::info!(plugin = %format!("{} {}", status.name, status.version), sample, "shadow run started: the candidate sees a sample of live records and writes nothing");
        *self.shadow.lock().expect("shadow slot") = Some(run);
        Ok(status)
    }

    /// Loads and validates a shadow candidate and starts its task.
    async fn load_shadow(
        &self,
        source: String,
        bytes: Vec<u8>,
        sample: f64,
    ) -> anyhow::Result<Arc<ShadowRun>> {
        if !(sample > 0.0 && sample <= 1.0) {
            anyhow::bail!("--sample {sample} is not a share of the records: give a number in (0, 1], e.g. 0.1");
        }
        let engine = self.engine.clone();
        let (config, limits) = (
            self.settings.plugin_config.clone(),
            self.settings.limits.clone(),
        );
        let (what, copy) = (source.clone(), bytes.clone());
        let plugin = tokio::task::spawn_blocking(move || {
            Plugin::load(&engine, &what, &copy, config, limits)
        })
        .await??;
        if plugin.hash() == self.slot.current().plugin.hash() {
            anyhow::bail!(
                "{} ({source}) is the active version: nothing to compare it with",
                plugin.info()
            );
        }
        validate(&plugin, &*self.sink, &self.settings, self.recent.snapshot()).await?;
        let candidate = Arc::new(ActivePlugin {
            plugin,
            source,
            since: SystemTime::now(),
        });
        Ok(ShadowRun::start(
            candidate,
            bytes,
            sample,
            self.settings.default_table.clone(),
        ))
    }

    /// Follows the group's shadow run (the fleet agent, whenever the log
    /// changes): starts it here, or stops the one here once it ended.
    pub(crate) async fn follow_shadow(&self, f: &Fleet) {
        let _one_at_a_time = self.shadow_busy.lock().await;
        // Read under the lock: a start or discard that held it has written
        // the log and read it back, so this is never older than its change.
        let spec = f.state().shadow().cloned();
        let Some(spec) = spec else {
            if let Some(run) = self.shadow.lock().expect("shadow slot").take() {
                tracing::info!(plugin = %run.candidate.plugin.info(), "shadow run ended by the group (discarded or promoted)");
            }
            *self.shadow_failed.lock().expect("shadow failed") = None;
            return;
        };
        if self
            .shadow()
            .is_some_and(|r| r.candidate.plugin.hash() == spec.hash && r.sample == spec.sample)
        {
            return;
        }
        if let Some((id, at, _)) = &*self.shadow_failed.lock().expect("shadow failed") {
            if *id == spec.id && at.elapsed() < SHADOW_RETRY {
                return;
            }
        }
        let what = format!("{} {}", spec.name, spec.version);
        let started = async {
            let bytes = f.bytes_of(&spec.hash).await?;
            self.load_shadow(spec.source.clone(), bytes, spec.sample)
                .await
        }
        .await;
        match started {
            Ok(run) => {
                tracing::info!(plugin = %what, sample = spec.sample, by = %spec.by, "shadow run of the group started here: the candidate sees a sample of live records and writes nothing");
                *self.shadow.lock().expect("shadow slot") = Some(run);
                *self.shadow_failed.lock().expect("shadow failed") = None;
            }
            Err(e) => {
                let error = format!("{e:#}");
                tracing::error!(plugin = %what, error = %error, "cannot run the group's shadow run here (tried again every 30 s)");
                *self.shadow_failed.lock().expect("shadow failed") =
                    Some((spec.id.clone(), std::time::Instant::now(), error));
            }
        }
    }

    /// Why this host does not run the group's shadow run, when it could not
    /// load the candidate (it tries again every 30 s).
    pub fn shadow_error(&self) -> Option<String> {
        self.shadow_failed
            .lock()
            .expect("shadow failed")
            .as_ref()
            .map(|(_, _, e)| e.clone())
    }

    /// Stops the shadow run (the group's, with a fleet); its last counts here.
    pub async fn discard_shadow(&self) -> anyhow::Result<ShadowStatus> {
        let _one_at_a_time = self.shadow_busy.lock().await;
        // The group's first: if the log cannot be written, nothing stops.
        let group = match &self.fleet {
            Some(f) => {
                f.sync().await?;
                let going = f.state().shadow().cloned();
                if going.is_some() {
                    f.publish_shadow(None).await?;
                }
                going
            }
            None => None,
        };
        let run = self.shadow.lock().expect("shadow slot").take();
        let Some(run) = run else {
            return match group {
                Some(spec) => Err(anyhow::anyhow!(
                    "the group's shadow run of {} {} is discarded; it was not running on this host",
                    spec.name,
                    spec.version
                )),
                None => Err(anyhow::anyhow!(
                    "no shadow run to discard (start one with `host plugin shadow FILE`)"
                )),
            };
        };
        tracing::info!(plugin = %run.candidate.plugin.info(), "shadow run discarded");
        Ok(run.status())
    }

    /// Deploys the shadow's candidate through the normal deploy path; the
    /// shadow stops once it is active (and goes on if the deploy is refused).
    pub async fn promote_shadow(&self) -> anyhow::Result<Deployed> {
        let run = self.shadow().ok_or_else(|| {
            anyhow::anyhow!("no shadow run to promote (start one with `host plugin shadow FILE`)")
        })?;
        let request = DeployRequest::new(
            format!("promoted shadow: {}", run.candidate.source),
            run.bytes.clone(),
        );
        let deployed = self.deploy_request(request).await?;
        let _one_at_a_time = self.shadow_busy.lock().await;
        if let Some(f) = &self.fleet {
            let hash = run.candidate.plugin.hash();
            if f.state().shadow().is_some_and(|s| s.hash == hash) {
                f.publish_shadow(None).await?;
            }
        }
        let mut slot = self.shadow.lock().expect("shadow slot");
        if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, &run)) {
            *slot = None;
        }
        Ok(deployed)
    }

    /// Makes `next` current as the group's activation `seq` (the fleet
    /// agent, when it reads an activation in the log).
    pub fn activate_as(&self, next: Arc<ActivePlugin>, seq: u64) {
        let old = self.slot.swap_as(next.clone(), seq);
        tracing::info!(from = %old.plugin.info(), activation = seq, "plugin swap: old version finishes its in-flight batches");
        self.announce(&next, "activated");
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
