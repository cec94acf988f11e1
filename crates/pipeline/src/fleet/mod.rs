//! Fleet deploys: every host of a consumer group runs the group's version,
//! recorded in a durable control log ([`log`]), so one deploy reaches all
//! hosts and survives restarts.
//!
//! A deploy, sent to any host, is two-phase:
//! 1. the host that took it (the coordinator) applies the deploy's additive
//!    CQL, stores the component bytes and appends a *proposal*;
//! 2. every live member (heartbeat within three intervals) fetches the
//!    bytes, checks their hash, loads and validates the candidate exactly as
//!    a local deploy does, and appends its *answer* (the coordinator's own
//!    host validates the load of step 1 rather than loading it again);
//! 3. all accepted: the coordinator appends the next *activation*; any
//!    rejection or a silent member: a *decision* saying why, and nothing
//!    changes anywhere.
//!
//! Each host's [`agent`] answers proposals, takes activations, and sends
//! heartbeats. Workers record a *barrier* before the first batch of an
//! activation on a partition is written ([`ownership`]; it is recorded while
//! that batch is transformed), so a record transformed again after a crash
//! or rebalance gets the version that owned its offset.

mod agent;
mod coordinator;
pub mod log;
pub mod ownership;
pub mod state;

pub use agent::agent;
pub use coordinator::coordinate;

use crate::control::validate::validate;
use crate::control::{ActivePlugin, DeploySettings, Deployer};
use crate::ports::RowSink;
use anyhow::{anyhow, bail, Context, Result};
use log::*;
use ownership::PartitionPlan;
use serde::Serialize;
use sluice_engine::{Engine, Plugin};
use state::FleetState;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Notify;

/// Who this host is in the group, and the protocol's timing.
#[derive(Debug, Clone)]
pub struct FleetSettings {
    /// Unique per process: `host-pid-random`.
    pub member: String,
    pub host: String,
    pub heartbeat: Duration,
    /// How long a coordinator waits for every live member's answer.
    pub answer_timeout: Duration,
}

impl FleetSettings {
    /// A member is live when heard from within this long.
    pub fn live_within(&self) -> Duration {
        self.heartbeat * 3 + Duration::from_secs(1)
    }
}

/// Where the adapter's reader hands records: the state and a wake-up.
#[derive(Clone, Default)]
pub struct Inbox {
    state: Arc<Mutex<FleetState>>,
    changed: Arc<Notify>,
}

impl Inbox {
    pub fn deliver(&self, record: ControlRecord) {
        self.state.lock().expect("fleet state").apply(record);
        self.changed.notify_waiters();
    }
}

/// One deploy as asked for.
#[derive(Debug, Clone, Default)]
pub struct DeployRequest {
    /// Where the bytes came from ("admin upload", a file).
    pub source: String,
    pub bytes: Vec<u8>,
    /// Plugin settings that go with the version (override the host's).
    pub plugin_config: BTreeMap<String, String>,
    /// Additive CQL applied once before validation.
    pub cql: Vec<String>,
    /// A rollback: the activation whose version this restores.
    pub restores: Option<u64>,
    /// Only while the version with this content hash is the group's active
    /// one (a breaker's rollback: when another member's rollback of the
    /// same version lands first, a second would go one more step back).
    pub replaces: Option<String>,
}

impl DeployRequest {
    pub fn new(source: String, bytes: Vec<u8>) -> Self {
        DeployRequest {
            source,
            bytes,
            ..DeployRequest::default()
        }
    }
}

/// A deploy the group did not take: why, and every member's answer.
#[derive(Debug, Clone, thiserror::Error, Serialize)]
#[error("{reason}")]
pub struct Refused {
    pub reason: String,
    pub answers: Vec<Answer>,
}

/// A conditional deploy ([`DeployRequest::replaces`]) whose version was
/// no longer the group's active one: nothing was activated.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{version} is no longer the group's active version (activation {seq} is): nothing to do")]
pub struct Superseded {
    /// The version the deploy was to replace, "name version".
    pub version: String,
    /// The group's active activation now.
    pub seq: u64,
}

/// This host's part in the group's control log.
pub struct Fleet {
    log: Arc<dyn ControlLog>,
    inbox: Inbox,
    pub settings: FleetSettings,
    /// Compiled versions by activation, for offsets an older one owns.
    versions: Mutex<HashMap<u64, Arc<ActivePlugin>>>,
    /// Candidates this host validated, by proposal, until activated.
    candidates: Mutex<HashMap<String, Arc<ActivePlugin>>>,
    /// The version this host's coordinator loaded for its proposal, handed
    /// to its own answer so that one deploy loads the plugin once here.
    preloaded: Mutex<Option<(String, Plugin)>>,
    /// An activation this host could not take, and when it tried.
    failed: Mutex<Option<(u64, Instant, String)>>,
    /// Bytes this host stored or read, by hash (the newest few).
    blobs: Mutex<Vec<(String, Arc<Vec<u8>>)>>,
    /// This host's admin endpoint, shown to operators.
    admin: Mutex<Option<String>>,
}

/// The group as this host sees it, for `/api/status` and the page.
#[derive(Debug, Clone, Serialize)]
pub struct FleetStatus {
    pub log: String,
    pub me: String,
    pub active: Option<Activation>,
    pub members: Vec<MemberView>,
    pub recent_deploys: Vec<DeployView>,
    /// An activation this host could not take, and why.
    pub lagging: Option<String>,
    /// Control records that did not parse.
    pub problems: Vec<String>,
    /// The last `host dlq replay` / `host reprocess` summaries, by tool.
    pub history: BTreeMap<String, serde_json::Value>,
    /// The group's shadow run, if one is going (each member's counts are in
    /// its heartbeat).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowSpec>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    #[serde(flatten)]
    pub member: Member,
    pub last_seen_ms: u64,
    pub live: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeployView {
    pub proposal: Proposal,
    pub decision: Option<Decision>,
    pub answers: Vec<Answer>,
}

impl Fleet {
    pub fn new(log: Arc<dyn ControlLog>, inbox: Inbox, settings: FleetSettings) -> Self {
        Fleet {
            log,
            inbox,
            settings,
            versions: Mutex::new(HashMap::new()),
            candidates: Mutex::new(HashMap::new()),
            preloaded: Mutex::new(None),
            failed: Mutex::new(None),
            blobs: Mutex::new(Vec::new()),
            admin: Mutex::new(None),
        }
    }

    /// Where this host's admin endpoint listens (sent with heartbeats).
    pub fn set_admin(&self, url: String) {
        *self.admin.lock().expect("fleet admin") = Some(url);
    }

    pub fn admin(&self) -> Option<String> {
        self.admin.lock().expect("fleet admin").clone()
    }

    /// Stores bytes in the plugin store (and keeps them at hand).
    pub async fn put_bytes(&self, hash: &str, bytes: &[u8]) -> Result<()> {
        self.log
            .put_blob(hash, bytes)
            .await
            .map_err(|e| anyhow!("storing plugin {hash} in the plugin store: {e}"))?;
        self.remember(hash, Arc::new(bytes.to_vec()));
        Ok(())
    }

    /// Keeps the coordinator's load of `proposal` for this host's answer
    /// (replacing any earlier one, never taken: its proposal is over).
    fn preload(&self, proposal: &str, plugin: Plugin) {
        *self.preloaded.lock().expect("fleet preloaded") = Some((proposal.to_string(), plugin));
    }

    /// The plugin the coordinator here loaded for `proposal`, if any.
    fn take_preloaded(&self, proposal: &str) -> Option<Plugin> {
        let mut preloaded = self.preloaded.lock().expect("fleet preloaded");
        match preloaded.take() {
            Some((id, plugin)) if id == proposal => Some(plugin),
            other => {
                *preloaded = other;
                None
            }
        }
    }

    fn remember(&self, hash: &str, bytes: Arc<Vec<u8>>) {
        let mut blobs = self.blobs.lock().expect("fleet blobs");
        blobs.retain(|(h, _)| h != hash);
        blobs.push((hash.to_string(), bytes));
        if blobs.len() > 4 {
            blobs.remove(0);
        }
    }

    pub fn state(&self) -> MutexGuard<'_, FleetState> {
        self.inbox.state.lock().expect("fleet state")
    }

    /// Waits until everything appended so far has been read.
    pub async fn sync(&self) -> Result<()> {
        self.log.sync().await.map_err(|e| {
            anyhow!(
                "reading the group's control log ({}): {e}",
                self.log.describe()
            )
        })
    }

    async fn append(&self, stream: Stream, key: &str, value: &impl Serialize) -> Result<()> {
        let bytes = serde_json::to_vec(value)?;
        self.log
            .append(stream, key, Some(&bytes))
            .await
            .map_err(|e| {
                anyhow!(
                    "writing {key} to the group's control log ({}): {e}",
                    self.log.describe()
                )
            })
    }

    /// The barriers of a partition just assigned, once the log is read up to
    /// now, with the partition's end at assignment as the cut.
    pub async fn takeover(&self, topic: &str, partition: i32, end: i64) -> Result<PartitionPlan> {
        self.sync().await?;
        Ok(PartitionPlan::new(
            self.state().barriers(topic, partition),
            end,
        ))
    }

    /// Starts (Some) or ends (None) the group's shadow run, and waits until
    /// this host has read it back.
    pub async fn publish_shadow(&self, spec: Option<&ShadowSpec>) -> Result<()> {
        let bytes = spec.map(serde_json::to_vec).transpose()?;
        self.log
            .append(Stream::Deploys, SHADOW_KEY, bytes.as_deref())
            .await
            .map_err(|e| {
                anyhow!(
                    "writing the shadow run to the group's control log ({}): {e}",
                    self.log.describe()
                )
            })?;
        self.sync().await
    }

    /// Records that activation `seq` owns `topic`/`partition` from `offset` on.
    pub async fn barrier(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        seq: u64,
        hash: &str,
    ) -> Result<(), String> {
        let b = Barrier {
            topic: topic.to_string(),
            partition,
            offset,
            seq,
            hash: hash.to_string(),
            member: self.settings.member.clone(),
            at_ms: now_ms(),
        };
        let bytes = serde_json::to_vec(&b).map_err(|e| e.to_string())?;
        self.log
            .append(Stream::Barriers, &b.key(), Some(&bytes))
            .await
    }

    /// Remembers a compiled activation for offsets it owns.
    pub fn keep(&self, seq: u64, active: Arc<ActivePlugin>) {
        let mut versions = self.versions.lock().expect("fleet versions");
        versions.insert(seq, active);
        // The newest few are the ones a takeover can need.
        while versions.len() > 8 {
            let oldest = *versions.keys().min().expect("not empty");
            versions.remove(&oldest);
        }
    }

    pub fn status(&self) -> FleetStatus {
        let within = self.settings.live_within();
        let state = self.state();
        FleetStatus {
            log: self.log.describe(),
            me: self.settings.member.clone(),
            active: state.active().cloned(),
            members: state
                .members()
                .into_iter()
                .map(|(member, age)| MemberView {
                    member,
                    last_seen_ms: age.as_millis() as u64,
                    live: age <= within,
                })
                .collect(),
            recent_deploys: state
                .recent_decisions(10)
                .into_iter()
                .map(|(proposal, decision, answers)| DeployView {
                    proposal,
                    decision,
                    answers,
                })
                .collect(),
            lagging: self
                .failed
                .lock()
                .expect("fleet failed")
                .as_ref()
                .map(|(seq, _, why)| format!("activation {seq}: {why}")),
            problems: state.problems(),
            history: state.notes(),
            shadow: state.shadow().cloned(),
        }
    }

    /// The bytes of `hash`, from this host's few at hand or the store,
    /// checked against the hash.
    pub async fn bytes_of(&self, hash: &str) -> Result<Vec<u8>> {
        let at_hand = self
            .blobs
            .lock()
            .expect("fleet blobs")
            .iter()
            .find(|(h, _)| h == hash)
            .map(|(_, b)| b.clone());
        let bytes = match at_hand {
            Some(b) => b.to_vec(),
            None => self.log.get_blob(hash).await?,
        };
        let got = sluice_engine::content_hash(&bytes);
        if got != hash {
            bail!("plugin store returned bytes hashing to {got} for {hash}: not used");
        }
        self.remember(hash, Arc::new(bytes.clone()));
        Ok(bytes)
    }
}

/// The host's `pipeline.plugin-config` with a version's own settings on top.
pub fn effective_config(
    base: &[(String, String)],
    overrides: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut merged: BTreeMap<String, String> = base.iter().cloned().collect();
    merged.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged.into_iter().collect()
}

async fn load(
    engine: &Engine,
    settings: &DeploySettings,
    what: &str,
    bytes: Vec<u8>,
    overrides: &BTreeMap<String, String>,
) -> Result<Plugin> {
    let (engine, what) = (engine.clone(), what.to_string());
    let config = effective_config(&settings.plugin_config, overrides);
    let limits = settings.limits.clone();
    Ok(
        tokio::task::spawn_blocking(move || Plugin::load(&engine, &what, &bytes, config, limits))
            .await??,
    )
}

/// What a host starts with: the group's active version (or the file, which
/// seeds a group that has none) and its activation number.
pub struct Joined {
    pub plugin: Plugin,
    pub seq: u64,
    pub source: String,
}

/// Reads the group's log and settles the version to start with. A group
/// with an active version runs it (the file is only compared); a new group
/// is seeded with the file, which was validated by the caller.
pub async fn join<S: RowSink>(
    fleet: &Fleet,
    engine: &Engine,
    sink: &S,
    settings: &DeploySettings,
    file: Plugin,
    file_bytes: &[u8],
    file_source: &str,
) -> Result<Joined> {
    fleet.sync().await?;
    let active = fleet.state().active().cloned();
    let active = match active {
        Some(a) => a,
        None => {
            let hash = file.hash().to_string();
            fleet.put_bytes(&hash, file_bytes).await?;
            let id = format!("{}-{}", now_ms(), &hash[..12]);
            let seed = Activation {
                seq: 1,
                proposal: id.clone(),
                hash,
                name: file.info().name.clone(),
                version: file.info().version.clone(),
                plugin_config: BTreeMap::new(),
                source: file_source.to_string(),
                by: fleet.settings.member.clone(),
                at_ms: now_ms(),
                restores: None,
            };
            fleet
                .append(Stream::Deploys, &activation_key(1), &seed)
                .await?;
            fleet.sync().await?;
            let winner = fleet
                .state()
                .active()
                .cloned()
                .context("the seed activation was written but not read back")?;
            if winner.proposal == id {
                tracing::info!(plugin = %file.info(), log = %fleet.log.describe(), "new group: seeded its deploy log with the --plugin file (activation 1)");
                return Ok(Joined {
                    plugin: file,
                    seq: 1,
                    source: file_source.to_string(),
                });
            }
            winner
        }
    };
    if active.hash == file.hash() && active.plugin_config.is_empty() {
        return Ok(Joined {
            plugin: file,
            seq: active.seq,
            source: active.source.clone(),
        });
    }
    tracing::warn!(
        file = %file.info(), file_hash = %&file.hash()[..12],
        group = %format!("{} {}", active.name, active.version), group_hash = %&active.hash[..12],
        seq = active.seq,
        "the --plugin file differs from the group's active version: running the group's (deploy the file with `host plugin deploy` to change it)"
    );
    let what = format!(
        "activation {} ({} {})",
        active.seq, active.name, active.version
    );
    let bytes = fleet.bytes_of(&active.hash).await.with_context(|| {
        format!("the group's active version, {what}, cannot be loaded; this host keeps no other. Deploy a version again with `host plugin deploy FILE` against a running host, or start with fleet.enabled = false")
    })?;
    let plugin = load(
        engine,
        settings,
        &active.source,
        bytes,
        &active.plugin_config,
    )
    .await
    .with_context(|| format!("loading the group's active version, {what}"))?;
    validate(&plugin, sink, settings, Vec::new())
        .await
        .with_context(|| format!("validating the group's active version, {what}, on this host"))?;
    Ok(Joined {
        plugin,
        seq: active.seq,
        source: active.source,
    })
}

/// The compiled version of activation `seq`, for offsets it owns.
pub async fn plugin_for<S: RowSink>(
    deployer: &Deployer<S>,
    fleet: &Fleet,
    seq: u64,
) -> Result<Arc<ActivePlugin>> {
    let (current, current_seq) = deployer.slot.current_activation();
    if current_seq == seq {
        return Ok(current);
    }
    if let Some(v) = fleet.versions.lock().expect("fleet versions").get(&seq) {
        return Ok(v.clone());
    }
    let activation = fleet
        .state()
        .activation(seq)
        .cloned()
        .with_context(|| format!("activation {seq} is not in the group's deploy log"))?;
    let what = format!(
        "activation {seq} ({} {})",
        activation.name, activation.version
    );
    let bytes = fleet
        .bytes_of(&activation.hash)
        .await
        .with_context(|| format!("{what} owns offsets being transformed again"))?;
    let plugin = load(
        &deployer.engine,
        &deployer.settings,
        &activation.source,
        bytes,
        &activation.plugin_config,
    )
    .await
    .with_context(|| format!("loading {what}"))?;
    let active = Arc::new(ActivePlugin {
        plugin,
        source: activation.source,
        since: SystemTime::now(),
    });
    fleet.keep(seq, active.clone());
    Ok(active)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_versions_settings_override_the_hosts() {
        let base = vec![("a".to_string(), "1".to_string()), ("b".into(), "2".into())];
        let overrides = BTreeMap::from([("b".to_string(), "3".to_string())]);
        assert_eq!(
            effective_config(&base, &overrides),
            vec![("a".to_string(), "1".to_string()), ("b".into(), "3".into())]
        );
    }
}
