//! A loaded transform plugin: compiled once, checked against the world,
//! configured, then called with batches; instances are reused from batch to
//! batch until one traps.

use super::bindings::{v0_1, v0_2, v0_3};
use super::host_state::HostState;
use super::{Engine, Limits, EPOCH_TICK};
use sha2::{Digest, Sha256};
use sluice_model::{Outcome, PluginInfo, Record};
use std::path::Path;
use wasmtime::component::{Component, HasSelf, InstancePre, Linker};
use wasmtime::Store;

/// The exports the `transformer` world requires, with their WIT signatures
/// (0.3.0's) for error messages.
const REQUIRED_EXPORTS: [(&str, &str); 3] = [
    ("metadata", "func() -> plugin-info"),
    (
        "init",
        "func(config: list<tuple<string, string>>) -> result<_, string>",
    ),
    (
        "transform",
        "func(batch: list<input-record>) -> batch-output",
    ),
];

/// Why a plugin could not be loaded. Each message names the plugin and the fix.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read plugin {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{what} is not a WebAssembly component this host can compile: {message}")]
    Compile { what: String, message: String },
    #[error("{what} does not fit the `transformer` world of sluice:transform@0.3.0, @0.2.0 or @0.1.0: {message}. Rebuild it against this host's wit/ (`just build-plugins`)")]
    World { what: String, message: String },
    #[error("{what} imports what this host does not grant: {message}. A plugin may import only sluice:transform/log, sluice:transform/clock and WASI 0.2 (which grants nothing); remove the import")]
    Import { what: String, message: String },
    #[error("{what} refused its configuration: {message}")]
    Init { what: String, message: String },
    #[error("{what} failed while loading: {message}")]
    Trap { what: String, message: String },
}

/// Why a call, or one record of it, failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The guest trapped: a panic, the deadline, the memory cap.
    #[error("plugin trapped: {0}")]
    Trap(String),
    /// The output broke a limit (too many rows or bytes for one record).
    #[error("plugin output over limit: {0}")]
    Limit(String),
    /// The guest broke the contract (e.g. returned the wrong number of outcomes).
    #[error("plugin broke the contract: {0}")]
    Contract(String),
}

/// The result for one record of a batch.
pub type RecordResult = Result<Outcome, CallError>;

/// The world versions this host runs, newest first.
pub const WORLD_VERSIONS: [&str; 3] = ["0.3.0", "0.2.0", "0.1.0"];

/// A component linked against one version of the world.
#[derive(Clone)]
enum Pre {
    V1(v0_1::TransformerPre<HostState>),
    V2(v0_2::TransformerPre<HostState>),
    V3(v0_3::TransformerPre<HostState>),
}

/// A live instance of any version.
enum Instance {
    V1(v0_1::Transformer),
    V2(v0_2::Transformer),
    V3(v0_3::Transformer),
}

type Live = (Store<HostState>, Instance);

impl Instance {
    fn metadata(&self, store: &mut Store<HostState>) -> wasmtime::Result<PluginInfo> {
        Ok(match self {
            Instance::V1(i) => v0_1::plugin_info(i.call_metadata(store)?),
            Instance::V2(i) => v0_2::plugin_info(i.call_metadata(store)?),
            Instance::V3(i) => v0_3::plugin_info(i.call_metadata(store)?),
        })
    }

    fn init(
        &self,
        store: &mut Store<HostState>,
        config: &[(String, String)],
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Instance::V1(i) => i.call_init(store, config),
            Instance::V2(i) => i.call_init(store, config),
            Instance::V3(i) => i.call_init(store, config),
        }
    }
}

/// A compiled, validated, configured plugin, ready to be called.
pub struct Plugin {
    info: PluginInfo,
    hash: String,
    engine: Engine,
    pre: Pre,
    config: Vec<(String, String)>,
    limits: Limits,
    /// Instances that finished a batch without trapping, for the next
    /// batches: instantiating and `init` cost ~35 us, as much as three
    /// records' transforms, and most batches under light load are small.
    idle: std::sync::Mutex<Vec<Live>>,
    /// How many records a call carries, learnt from the calls so far.
    pace: Pace,
}

/// The most idle instances kept: one per batch in flight is enough.
const IDLE_INSTANCES: usize = 8;

/// The most records in one call. Entering and leaving a component costs
/// about as much as transforming a small record, so calls carry several;
/// more than this saves little and holds more of a batch in guest memory.
const MAX_RECORDS_PER_CALL: usize = 64;

/// A call of several records is stopped at this many times its expected
/// length (then its records are run again one per call under the full
/// deadline), so a record that loops is charged the deadline about once.
const SLACK: u64 = 4;

/// Records per call and the time a record takes, learnt from the calls so
/// far: the call size doubles after each call that finishes and falls back
/// to one after one that traps (shared by every worker using the plugin).
struct Pace {
    records_per_call: std::sync::atomic::AtomicUsize,
    /// Moving average of a record's time in the guest, nanoseconds.
    record_nanos: std::sync::atomic::AtomicU64,
}

impl Pace {
    fn new() -> Self {
        Pace {
            records_per_call: std::sync::atomic::AtomicUsize::new(1),
            record_nanos: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn records_per_call(&self) -> usize {
        self.records_per_call
            .load(std::sync::atomic::Ordering::Relaxed)
            .clamp(1, MAX_RECORDS_PER_CALL)
    }

    fn finished(&self, records: usize, took: std::time::Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        let sample = took.as_nanos() as u64 / records.max(1) as u64;
        let old = self.record_nanos.load(Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old * 7 + sample) / 8
        };
        self.record_nanos.store(new, Relaxed);
        let n = self.records_per_call.load(Relaxed);
        self.records_per_call
            .store((n * 2).min(MAX_RECORDS_PER_CALL), Relaxed);
    }

    fn failed(&self) {
        self.records_per_call
            .store(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Epoch ticks a call of `records` gets: the full deadline for one
    /// record, else `SLACK` times the expected time (at least two ticks).
    fn deadline_ticks(&self, records: usize, full: u64) -> u64 {
        if records <= 1 {
            return full;
        }
        let expected = self
            .record_nanos
            .load(std::sync::atomic::Ordering::Relaxed)
            .saturating_mul(records as u64 * SLACK);
        (expected / EPOCH_TICK.as_nanos() as u64 + 2).min(full)
    }
}

impl Plugin {
    /// Loads a component from a file. See [`Plugin::load`].
    pub fn load_file(
        engine: &Engine,
        path: &Path,
        config: Vec<(String, String)>,
        limits: Limits,
    ) -> Result<Self, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::load(engine, &path.display().to_string(), &bytes, config, limits)
    }

    /// Compiles `bytes`, checks them against the world, and calls `metadata`
    /// and `init(config)` once on a throwaway instance, so that a plugin that
    /// cannot run is refused here and not on the first record. `what` names
    /// the plugin in messages (usually its path).
    pub fn load(
        engine: &Engine,
        what: &str,
        bytes: &[u8],
        config: Vec<(String, String)>,
        limits: Limits,
    ) -> Result<Self, LoadError> {
        let what = what.to_string();
        let component =
            Component::new(engine.wasmtime(), bytes).map_err(|e| LoadError::Compile {
                what: what.clone(),
                message: format!("{e:#}"),
            })?;
        check_exports(engine, &component).map_err(|message| LoadError::World {
            what: what.clone(),
            message,
        })?;
        let linker = linker(engine).map_err(|e| LoadError::Compile {
            what: what.clone(),
            message: format!("{e:#}"),
        })?;
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Import {
                what: what.clone(),
                message: import_error(engine, &component, &e),
            })?;
        let pre = typed(engine, &component, instance_pre).map_err(|message| LoadError::World {
            what: what.clone(),
            message,
        })?;
        let hash = content_hash(bytes);
        let mut plugin = Plugin {
            info: PluginInfo {
                name: what.clone(),
                version: String::new(),
                description: String::new(),
            },
            hash,
            engine: engine.clone(),
            pre,
            config,
            limits,
            idle: std::sync::Mutex::new(Vec::new()),
            pace: Pace::new(),
        };
        let (mut store, instance) = plugin.instantiate().map_err(|e| LoadError::Trap {
            what: what.clone(),
            message: e.to_string(),
        })?;
        let info = instance.metadata(&mut store).map_err(|e| LoadError::Trap {
            what: what.clone(),
            message: format!(
                "metadata(): {}",
                trap_message(&e, &plugin.limits, store.data().panic.as_deref())
            ),
        })?;
        plugin.info = info;
        check_identity(&plugin.info).map_err(|message| LoadError::World {
            what: what.clone(),
            message,
        })?;
        let what = format!("{} ({what})", plugin.info);
        match instance.init(&mut store, &plugin.config) {
            Ok(Ok(())) => Ok(plugin),
            Ok(Err(message)) => Err(LoadError::Init { what, message }),
            Err(e) => Err(LoadError::Trap {
                what,
                message: format!(
                    "init(): {}",
                    trap_message(&e, &plugin.limits, store.data().panic.as_deref())
                ),
            }),
        }
    }

    /// The plugin's name, version and description.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// The SHA-256 of the component's bytes, in hex.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The version of the `sluice:transform` world the plugin was built for.
    pub fn world_version(&self) -> &'static str {
        match self.pre {
            Pre::V1(_) => "0.1.0",
            Pre::V2(_) => "0.2.0",
            Pre::V3(_) => "0.3.0",
        }
    }

    /// The limits calls run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Transforms a batch. Returns one result per record, in order.
    ///
    /// The batch shares one instance (an idle one from an earlier batch when
    /// there is one). Records go to the guest several per call (up to
    /// [`MAX_RECORDS_PER_CALL`], as many as recent calls showed safe), under
    /// a deadline a few times the expected length of the call. When such a
    /// call traps (a panic, its deadline, the memory cap) or breaks the
    /// contract, nothing of it is kept: its records run again one per call,
    /// each under the full deadline, on a fresh instance, so the trap is
    /// pinned on its own record and the others get their rows. A record
    /// that loops is charged the full deadline once (plus the short one of
    /// the call it came in), and its neighbours only a second run.
    pub fn transform(&self, records: Vec<Record>) -> Vec<RecordResult> {
        self.transform_keeping_retries(records)
            .into_iter()
            .map(|(result, _)| result)
            .collect()
    }

    /// [`Plugin::transform`], giving back the input of each record whose
    /// outcome is `retry`, so that a retry needs no second decode.
    pub fn transform_keeping_retries(
        &self,
        records: Vec<Record>,
    ) -> Vec<(RecordResult, Option<Record>)> {
        let mut results = Vec::with_capacity(records.len());
        let mut instance = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some((store, _)) = &mut instance {
            store.data_mut().new_batch(now_ms());
        }
        let mut records = records.into_iter();
        // Records of a call that failed, to run again one per call.
        let mut alone = std::collections::VecDeque::new();
        loop {
            let rerun = alone.pop_front();
            let lone = rerun.is_some();
            let call: Vec<Record> = match rerun {
                Some(record) => vec![record],
                None => records
                    .by_ref()
                    .take(self.pace.records_per_call())
                    .collect(),
            };
            if call.is_empty() {
                break;
            }
            let n = call.len();
            let mut live = match instance.take() {
                Some(live) => live,
                None => match self.instantiate_and_init() {
                    Ok(live) => live,
                    Err(e) => {
                        results.extend(call.into_iter().map(|_| (Err(e.clone()), None)));
                        continue;
                    }
                },
            };
            let started = std::time::Instant::now();
            match self.call(&mut live, call) {
                Ok(outcomes) => {
                    if !lone {
                        self.pace.finished(n, started.elapsed());
                    }
                    results.extend(
                        outcomes
                            .into_iter()
                            .map(|(outcome, back)| (self.check_output(outcome), back)),
                    );
                    instance = Some(live);
                }
                // A trapped instance is never called again.
                Err((e, _)) if n == 1 => results.push((Err(e), None)),
                Err((_, call)) => {
                    self.pace.failed();
                    alone.extend(call);
                }
            }
        }
        if let Some(live) = instance {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < IDLE_INSTANCES {
                idle.push(live);
            }
        }
        results
    }

    /// A fresh instance, configured with `init`.
    fn instantiate_and_init(&self) -> Result<Live, CallError> {
        let (mut store, instance) = self.instantiate()?;
        match instance.init(&mut store, &self.config) {
            Ok(Ok(())) => Ok((store, instance)),
            Ok(Err(message)) => Err(CallError::Contract(format!(
                "init refused the config it accepted at load: {message}"
            ))),
            Err(e) => Err(CallError::Trap(format!(
                "in init: {}",
                trap_message(&e, &self.limits, store.data().panic.as_deref())
            ))),
        }
    }

    /// Records through one `transform` call on a live instance, under the
    /// call's deadline; each outcome comes with its record if it is `retry`.
    /// On failure the records come back, for a run one by one.
    #[allow(clippy::type_complexity)]
    fn call(
        &self,
        (store, instance): &mut Live,
        records: Vec<Record>,
    ) -> Result<Vec<(Outcome, Option<Record>)>, (CallError, Vec<Record>)> {
        let n = records.len();
        store.set_epoch_deadline(self.pace.deadline_ticks(n, self.deadline_ticks()));
        store.data_mut().new_call(n);
        let trap = |e: wasmtime::Error, store: &Store<HostState>| {
            CallError::Trap(trap_message(
                &e,
                &self.limits,
                store.data().panic.as_deref(),
            ))
        };
        let outcomes = match instance {
            Instance::V1(i) => {
                let wit: Vec<_> = records.into_iter().map(v0_1::input_record).collect();
                let called = i
                    .call_transform(&mut *store, &wit)
                    .map_err(|e| trap(e, store));
                settle(called, wit, v0_1::outcome, v0_1::record_from_wit)
            }
            Instance::V2(i) => {
                let (wit, trees): (Vec<_>, Vec<_>) =
                    records.into_iter().map(v0_2::input_record).unzip();
                let called = i
                    .call_transform(&mut *store, &wit)
                    .map_err(|e| trap(e, store));
                let inputs = wit.into_iter().zip(trees).collect();
                settle(called, inputs, v0_2::outcome, |(w, t)| {
                    v0_2::record_from_wit(w, t)
                })
            }
            Instance::V3(i) => {
                let (wit, trees): (Vec<_>, Vec<_>) =
                    records.into_iter().map(v0_3::input_record).unzip();
                let called = i
                    .call_transform(&mut *store, &wit)
                    .map_err(|e| trap(e, store))
                    .and_then(|out| v0_3::outcomes(out).map_err(CallError::Contract));
                let inputs = wit.into_iter().zip(trees).collect();
                settle(called, inputs, |o| o, |(w, t)| v0_3::record_from_wit(w, t))
            }
        };
        if store.data().logs_dropped > 0 {
            tracing::warn!(plugin = %self.info, dropped = store.data().logs_dropped, "plugin log events over the per-call limit were dropped");
        }
        outcomes
    }

    fn deadline_ticks(&self) -> u64 {
        (self.limits.call_timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }

    fn instantiate(&self) -> Result<Live, CallError> {
        let state = HostState::new(self.info.to_string(), self.limits.memory_bytes, now_ms());
        let mut store = Store::new(self.engine.wasmtime(), state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(self.deadline_ticks());
        let instance = match &self.pre {
            Pre::V1(pre) => pre.instantiate(&mut store).map(Instance::V1),
            Pre::V2(pre) => pre.instantiate(&mut store).map(Instance::V2),
            Pre::V3(pre) => pre.instantiate(&mut store).map(Instance::V3),
        }
        .map_err(|e| CallError::Trap(format!("instantiation failed: {e:#}")))?;
        Ok((store, instance))
    }

    fn check_output(&self, outcome: Outcome) -> RecordResult {
        // A plugin's texts are cut as soon as they are lifted, so a batch of
        // records with 60 MB messages never holds more than one of them.
        let outcome = match outcome {
            Outcome::BadInput { field, message } => Outcome::BadInput {
                field: field.map(cut_text),
                message: cut_text(message),
            },
            Outcome::Filtered(reason) => Outcome::Filtered(cut_text(reason)),
            Outcome::Retry(reason) => Outcome::Retry(cut_text(reason)),
            rows => rows,
        };
        if let Outcome::Rows(rows) = &outcome {
            if rows.len() > self.limits.max_rows_per_record {
                return Err(CallError::Limit(format!(
                    "{} rows for one record; the limit is {} (limits.max-rows-per-record)",
                    rows.len(),
                    self.limits.max_rows_per_record
                )));
            }
            let bytes: usize = rows.iter().map(|r| r.size()).sum();
            if bytes > self.limits.max_bytes_per_record {
                return Err(CallError::Limit(format!(
                    "{bytes} bytes of rows for one record; the limit is {} (limits.max-bytes-per-record)",
                    self.limits.max_bytes_per_record
                )));
            }
        }
        Ok(outcome)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// True when a record's outcome is `retry`.
fn retried(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Retry(_))
}

/// A call's outcomes paired with its inputs (each kept as a record when its
/// outcome is `retry`); on a trap or a wrong number of outcomes, the error
/// and every input back as a record, for a run one by one.
#[allow(clippy::type_complexity)]
fn settle<W, O>(
    called: Result<Vec<O>, CallError>,
    inputs: Vec<W>,
    outcome: impl Fn(O) -> Outcome,
    record: impl Fn(W) -> Record,
) -> Result<Vec<(Outcome, Option<Record>)>, (CallError, Vec<Record>)> {
    let n = inputs.len();
    match called {
        Ok(out) if out.len() == n => Ok(out
            .into_iter()
            .map(outcome)
            .zip(inputs)
            .map(|(o, w)| {
                let back = retried(&o).then(|| record(w));
                (o, back)
            })
            .collect()),
        Ok(out) => Err((
            miscount(out.len(), n),
            inputs.into_iter().map(record).collect(),
        )),
        Err(e) => Err((e, inputs.into_iter().map(record).collect())),
    }
}

/// The contract error of a call that returned the wrong number of outcomes.
fn miscount(got: usize, records: usize) -> CallError {
    CallError::Contract(format!(
        "transform returned {got} outcomes for {records} records; it must return exactly one per record"
    ))
}

/// Every version's imports: they differ in version, so they sit side by side.
fn linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine.wasmtime());
    v0_3::Transformer::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    v0_2::Transformer::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    v0_1::Transformer::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    Ok(linker)
}

/// Types the component's exports against the newest world they fit. When
/// none fits, the message is the type error against the version the
/// component's imports name (else the newest).
fn typed(
    engine: &Engine,
    component: &Component,
    pre: InstancePre<HostState>,
) -> Result<Pre, String> {
    let v3 = match v0_3::TransformerPre::new(pre.clone()) {
        Ok(p) => return Ok(Pre::V3(p)),
        Err(e) => e,
    };
    let v2 = match v0_2::TransformerPre::new(pre.clone()) {
        Ok(p) => return Ok(Pre::V2(p)),
        Err(e) => e,
    };
    let v1 = match v0_1::TransformerPre::new(pre) {
        Ok(p) => return Ok(Pre::V1(p)),
        Err(e) => e,
    };
    let imports = |version: &str| {
        component
            .component_type()
            .imports(engine.wasmtime())
            .any(|(name, _)| name.starts_with("sluice:transform/") && name.ends_with(version))
    };
    let (e, version) = if imports("@0.1.0") {
        (v1, "0.1.0")
    } else if imports("@0.2.0") {
        (v2, "0.2.0")
    } else {
        (v3, "0.3.0")
    };
    Err(format!(
        "{e:#}; the world (sluice:transform@{version}) declares {}",
        REQUIRED_EXPORTS
            .iter()
            .map(|&(n, sig)| match (n, version) {
                // Before 0.3.0, rows came back as records.
                ("transform", "0.1.0" | "0.2.0") => {
                    format!("`{n}: func(batch: list<input-record>) -> list<outcome>`")
                }
                _ => format!("`{n}: {sig}`"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Names the missing exports before wasmtime's type check, whose message for
/// a missing function is less direct.
fn check_exports(engine: &Engine, component: &Component) -> Result<(), String> {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(engine.wasmtime())
        .map(|(n, _)| n.to_string())
        .collect();
    let missing: Vec<String> = REQUIRED_EXPORTS
        .iter()
        .filter(|(name, _)| !exports.iter().any(|e| e == name))
        .map(|(name, sig)| format!("`{name}: {sig}`"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "it does not export {} (it exports: {})",
            missing.join(", "),
            if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            }
        ))
    }
}

/// The most bytes of a plugin's own text (a bad-input message, a reason) kept.
pub const MAX_PLUGIN_TEXT: usize = 4096;

fn cut_text(text: String) -> String {
    sluice_model::text::cut(text, MAX_PLUGIN_TEXT)
}

/// How a deadline trap's message starts.
pub(crate) const DEADLINE: &str = "the call ran past its deadline";

/// The longest plugin name or version accepted.
const MAX_IDENTITY: usize = 64;

/// A plugin's name and version go into metric labels, log fields, headers
/// and the page: refuse anything but a plain identifier at load, so no
/// plugin can forge a metric line or a header.
fn check_identity(info: &PluginInfo) -> Result<(), String> {
    for (what, value, extra) in [
        ("name", &info.name, "-_."),
        ("version", &info.version, "-_.+"),
    ] {
        let ok = !value.is_empty()
            && value.len() <= MAX_IDENTITY
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || extra.contains(c));
        if !ok {
            return Err(format!(
                "metadata() gave the {what} {:?}; a plugin {what} is 1 to {MAX_IDENTITY} characters of \
                 A-Z a-z 0-9 and `{extra}`: change it in the plugin's metadata()",
                value.chars().take(80).collect::<String>()
            ));
        }
    }
    Ok(())
}

/// A trap's reason in one line, with the cause wasmtime gives (deadline,
/// memory cap, the plugin's panic message) rather than a backtrace.
fn trap_message(e: &wasmtime::Error, limits: &Limits, panic: Option<&str>) -> String {
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        return match (trap, panic) {
            (wasmtime::Trap::Interrupt, _) => format!(
                "{DEADLINE} of {} (limits.call-timeout)",
                humantime::format_duration(limits.call_timeout)
            ),
            // The SDK's hook logs Rust's own text: "panicked at FILE:LINE:COL:\nMESSAGE".
            (_, Some(panic)) if panic.starts_with("panicked") => {
                format!("the plugin {}", panic.replace('\n', " "))
            }
            (_, Some(panic)) => format!("the plugin panicked: {panic}"),
            (wasmtime::Trap::UnreachableCodeReached, None) => {
                "unreachable executed (a panic in the plugin?)".to_string()
            }
            (wasmtime::Trap::StackOverflow, None) => {
                "stack overflow: the plugin recursed too deep".to_string()
            }
            // Rust's Wasm stack lives in linear memory: overflowing it shows
            // as an access below address 0, i.e. out of bounds.
            (wasmtime::Trap::MemoryOutOfBounds, None) => {
                "out of bounds memory access: a stack overflow in the plugin (deep recursion) or a bad pointer"
                    .to_string()
            }
            (other, None) => other.to_string(),
        };
    }
    let cause = e.root_cause().to_string();
    if cause.contains("growing memory") {
        return format!(
            "ran out of memory: {cause}; the limit is {} MiB (limits.memory-bytes)",
            limits.memory_bytes >> 20
        );
    }
    // Skip wasmtime's backtrace header; the first real sentence says what happened.
    e.chain()
        .map(|c| c.to_string())
        .find(|m| !m.starts_with("error while executing at wasm backtrace"))
        .unwrap_or(cause)
}

/// Names the imports the linker cannot satisfy.
fn import_error(engine: &Engine, component: &Component, e: &wasmtime::Error) -> String {
    let granted = ["sluice:transform/", "wasi:"];
    let ungranted: Vec<String> = component
        .component_type()
        .imports(engine.wasmtime())
        .map(|(name, _)| name.to_string())
        .filter(|name| !granted.iter().any(|g| name.starts_with(g)))
        .collect();
    if ungranted.is_empty() {
        format!("{}", e.root_cause())
    } else {
        format!(
            "it imports {}",
            ungranted
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// The SHA-256 of a component's bytes, in hex: a version's identity.
pub fn content_hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn calls_grow_after_successes_and_fall_back_to_one_after_a_trap() {
        let pace = Pace::new();
        assert_eq!(
            pace.records_per_call(),
            1,
            "nothing learnt yet: one record per call"
        );
        for want in [2, 4, 8, 16, 32, 64, 64] {
            pace.finished(pace.records_per_call(), Duration::from_micros(10));
            assert_eq!(pace.records_per_call(), want);
        }
        pace.failed();
        assert_eq!(pace.records_per_call(), 1);
    }

    #[test]
    fn a_call_of_several_records_gets_a_few_times_its_expected_length() {
        let pace = Pace::new();
        let full = 500; // 5 s in 10 ms ticks
        assert_eq!(
            pace.deadline_ticks(1, full),
            full,
            "one record: the full deadline"
        );
        pace.finished(1, Duration::from_millis(1));
        // 64 records x 1 ms x SLACK 4 = 256 ms: 25 ticks, plus 2 of margin.
        assert_eq!(pace.deadline_ticks(64, full), 27);
        assert_eq!(
            pace.deadline_ticks(64, 10),
            10,
            "never over the full deadline"
        );
        // Fast records still get two ticks: the epoch ticks asynchronously.
        let fast = Pace::new();
        fast.finished(1, Duration::from_micros(5));
        assert_eq!(fast.deadline_ticks(64, full), 2);
    }
}
