//! What each plugin instance's store holds: its resource limits, a WASI
//! context that grants nothing, and the host side of the `log` and `clock`
//! imports.

use super::bindings::{v0_1, v0_2, v0_3};
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// The field the SDK's panic hook tags its log event with.
const PANIC_FIELD: &str = "sluice.panic";

/// Log events a plugin may emit per record of a call before the rest are dropped (and counted).
const LOG_EVENTS_PER_CALL: u32 = 100;

pub struct HostState {
    pub limits: StoreLimits,
    wasi: WasiCtx,
    table: ResourceTable,
    /// `name@version` of the plugin, tagged on every log event.
    plugin: String,
    /// The time the batch started; `clock.now` returns it.
    batch_started_ms: i64,
    logs_left: u32,
    pub logs_dropped: u32,
    /// The message the SDK's panic hook logged, if the guest panicked.
    pub panic: Option<String>,
}

impl HostState {
    pub fn new(plugin: String, memory_bytes: usize, batch_started_ms: i64) -> Self {
        HostState {
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                // componentize-py components hold 13-16 core instances.
                .instances(32)
                .tables(16)
                .memories(4)
                .trap_on_grow_failure(true)
                .build(),
            wasi: locked_down_wasi(),
            table: ResourceTable::new(),
            plugin,
            batch_started_ms,
            logs_left: LOG_EVENTS_PER_CALL,
            logs_dropped: 0,
            panic: None,
        }
    }

    /// An idle instance starts another batch: the clock moves to its start.
    pub fn new_batch(&mut self, batch_started_ms: i64) {
        self.batch_started_ms = batch_started_ms;
    }

    /// Starts a call's budget of log events afresh, for its records.
    pub fn new_call(&mut self, records: usize) {
        self.logs_left = LOG_EVENTS_PER_CALL.saturating_mul(records.max(1) as u32);
        self.logs_dropped = 0;
    }
}

/// The longest log message or panic message kept from a plugin.
const MAX_LOG_TEXT: usize = 4096;

fn cut(text: String) -> String {
    sluice_model::text::cut(text, MAX_LOG_TEXT)
}

/// WASI for components that import it (e.g. built for `wasm32-wasip2`, or by
/// componentize-py): no preopened directories, no environment, no arguments,
/// no stdio, no sockets or name lookup, and clocks frozen at zero, so the only
/// time a plugin sees is what the `clock` interface tells it.
fn locked_down_wasi() -> WasiCtx {
    WasiCtxBuilder::new()
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .wall_clock(FrozenClock)
        .monotonic_clock(FrozenClock)
        .build()
}

struct FrozenClock;

impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
    fn now(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A plugin log event's severity, whichever world version it came through.
enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl HostState {
    fn log(&mut self, level: Level, message: String, fields: Vec<(String, String)>) {
        let message = cut(message);
        if fields.iter().any(|(k, _)| k == PANIC_FIELD) {
            // Kept whatever the log budget: it explains the trap that follows.
            self.panic = Some(message.clone());
        }
        if self.logs_left == 0 {
            self.logs_dropped += 1;
            return;
        }
        self.logs_left -= 1;
        let plugin = self.plugin.as_str();
        // Plugin fields are rendered as one `key=value` list: tracing's field
        // names are static, and a plugin's are not.
        let fields = cut(fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "));
        match level {
            Level::Trace => tracing::trace!(target: "plugin", plugin, fields, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", plugin, fields, "{message}"),
            Level::Info => tracing::info!(target: "plugin", plugin, fields, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", plugin, fields, "{message}"),
            Level::Error => tracing::error!(target: "plugin", plugin, fields, "{message}"),
        }
    }
}

/// The `log` and `clock` imports are the same in every world version.
macro_rules! imports {
    ($v:ident) => {
        impl $v::interfaces::types::Host for HostState {}

        impl $v::interfaces::clock::Host for HostState {
            fn now(&mut self) -> i64 {
                self.batch_started_ms
            }
        }

        impl $v::interfaces::log::Host for HostState {
            fn log(
                &mut self,
                level: $v::interfaces::log::Level,
                message: String,
                fields: Vec<(String, String)>,
            ) {
                use $v::interfaces::log::Level as L;
                let level = match level {
                    L::Trace => Level::Trace,
                    L::Debug => Level::Debug,
                    L::Info => Level::Info,
                    L::Warn => Level::Warn,
                    L::Error => Level::Error,
                };
                HostState::log(self, level, message, fields)
            }
        }
    };
}

imports!(v0_1);
imports!(v0_2);
imports!(v0_3);
