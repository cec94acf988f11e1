//! The Wasm engine: compiles transform components, checks them against the
//! `transformer` world, and runs batches through them under limits.
//!
//! It knows wasmtime and the [`sluice_model`] types, nothing of Kafka or
//! Cassandra. A [`Plugin`] is compiled and linked once; an instance serves
//! batch after batch until it traps, and a trapped instance is dropped, so a
//! trap never poisons later calls. It runs plugins built for any version of
//! the world it has (`sluice:transform@0.3.0`, and 0.2.0 and 0.1.0 under
//! `wit/deps/`).

mod bindings;
mod host_state;
mod plugin;

pub use bindings::packed_value;
pub use plugin::{
    content_hash, CallError, LoadError, Plugin, RecordResult, MAX_PLUGIN_TEXT, WORLD_VERSIONS,
};

use std::sync::Arc;
use std::time::Duration;

/// How often the epoch ticks; call deadlines are counted in ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Per-call limits a plugin runs under.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Limits {
    /// Wall-clock deadline for one record's transform call (and for `init`
    /// and `metadata`), enforced by epoch interruption.
    #[serde(with = "sluice_model::duration")]
    pub call_timeout: Duration,
    /// Maximum linear memory of one instance, in bytes.
    pub memory_bytes: usize,
    /// Maximum rows one input record may produce.
    pub max_rows_per_record: usize,
    /// Maximum total size of the rows one input record may produce, in bytes.
    pub max_bytes_per_record: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            call_timeout: Duration::from_secs(5),
            memory_bytes: 128 << 20,
            max_rows_per_record: 1_000,
            max_bytes_per_record: 4 << 20,
        }
    }
}

/// Durations in config files; kept here for the configs that name it.
pub use sluice_model::duration as humantime_serde_compat;

/// A wasmtime engine set up for transforms, with its epoch ticker.
#[derive(Clone)]
pub struct Engine {
    inner: wasmtime::Engine,
    _ticker: Arc<Ticker>,
}

impl Engine {
    /// Creates the engine and starts the epoch ticker thread.
    pub fn new() -> anyhow::Result<Self> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.parallel_compilation(true);
        // `perf` names the guests' functions from /tmp/perf-<pid>.map.
        if std::env::var("SLUICE_WASM_PROFILER").as_deref() == Ok("perfmap") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        // Compiled code is cached on disk by content hash: big guests (JS,
        // Python: 12-18 MB) take many seconds to compile, and a restart or a
        // rollback to a known version should not pay that again.
        match compile_cache() {
            Ok(cache) => {
                config.cache(Some(cache));
            }
            Err(e) => {
                tracing::warn!(error = %e, "no compiled-code cache; plugins are compiled at every start")
            }
        }
        let inner = wasmtime::Engine::new(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
        let ticker = Ticker::start(inner.clone());
        Ok(Engine {
            inner,
            _ticker: Arc::new(ticker),
        })
    }

    pub(crate) fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner
    }
}

/// The compiled-code cache: `$SLUICE_CACHE_DIR`, else `~/.cache/sluice/wasmtime`.
fn compile_cache() -> anyhow::Result<wasmtime::Cache> {
    let dir = match std::env::var_os("SLUICE_CACHE_DIR") {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::var_os("HOME")
            .map(|h| std::path::PathBuf::from(h).join(".cache/sluice/wasmtime"))
            .ok_or_else(|| anyhow::anyhow!("neither SLUICE_CACHE_DIR nor HOME is set"))?,
    };
    let mut config = wasmtime::CacheConfig::new();
    config.with_directory(dir);
    wasmtime::Cache::new(config).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Increments the engine's epoch every [`EPOCH_TICK`] until dropped.
struct Ticker {
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Ticker {
    fn start(engine: wasmtime::Engine) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch ticker thread");
        Ticker { stop }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
