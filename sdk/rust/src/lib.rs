//! The Rust SDK for Sluice transform plugins.
//!
//! A plugin implements [`Transform`] in plain Rust and exports it with
//! [`export_transform!`]. The logic stays testable natively with `cargo test`:
//! build inputs with [`testing::record`] and call the same functions.
//!
//! - [`value`]: typed, path-based access to a record's decoded value, read in
//!   place from the packed buffer the host hands over (`sluice:transform@0.3.0`).
//! - [`row`]: output rows and a builder for them; the glue writes a batch's
//!   rows into one packed buffer for the host.
//! - [`time`]: RFC 3339 timestamps to CQL `timestamp` milliseconds.

pub mod arena;
pub mod row;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod value;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "transformer",
        // A copy of the top-level wit/, so the packaged crate carries it
        // (tests/wit_in_sync.rs keeps the copies equal).
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_world",
        default_bindings_module: "sluice_plugin::bindings",
        // So that an `Outcome` (which holds an `InputError`) compares in tests.
        additional_derives: [PartialEq],
    });
}

pub use bindings::sluice::transform::log::Level;
pub use bindings::sluice::transform::types::{Header, InputError, InputRecord, PluginInfo};
pub use row::{Cell, Column, Row, RowBuilder, WriteKind};
pub use sluice_packed::Node;
pub use value::Value;

/// The guest's allocator (see [`arena`]), unless the plugin brings its own
/// (feature `own-allocator`). Only in single-threaded Wasm builds: natively
/// the plugin's tests use the platform's allocator.
#[cfg(all(
    target_family = "wasm",
    not(target_feature = "atomics"),
    not(feature = "own-allocator")
))]
#[global_allocator]
static ARENA: arena::Arena = arena::Arena::new(arena::ARENA_BYTES);

/// Runs `f` with its allocations outside the arena: for what outlives a call.
fn persistent<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(all(
        target_family = "wasm",
        not(target_feature = "atomics"),
        not(feature = "own-allocator")
    ))]
    return ARENA.persistent(f);
    #[allow(unreachable_code)]
    f()
}

/// What a plugin made of one input record.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Rows to write: zero, one or many (fan-out).
    Rows(Vec<Row>),
    /// Deliberately dropped; the reason is counted, nothing is written.
    Filtered(String),
    /// Bad input that will never transform: the record goes to the dead-letter topic.
    BadInput(InputError),
    /// A transient failure (trying again later may work): the host retries
    /// the record with backoff instead of dead-lettering it.
    Retry(String),
}

/// A transform: configured once per instance, then called per record.
pub trait Transform: Sized + 'static {
    /// The plugin's name, version and description.
    fn metadata() -> PluginInfo;

    /// Builds an instance from the pipeline's `plugin-config` pairs. An error
    /// refuses the plugin; name the setting and the fix in it.
    fn new(config: &[(String, String)]) -> Result<Self, String>;

    /// Turns one input record into an outcome.
    fn transform(&self, record: &InputRecord) -> Outcome;
}

/// Logs through the host. Natively (in unit tests) it prints to stderr.
pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    #[cfg(target_family = "wasm")]
    bindings::sluice::transform::log::log(level, message, &fields);
    #[cfg(not(target_family = "wasm"))]
    eprintln!("[{level:?}] {message} {fields:?}");
}

/// The host's clock: the time the current batch started, in ms since the epoch.
/// Natively it is the system clock.
pub fn now_millis() -> i64 {
    #[cfg(target_family = "wasm")]
    {
        bindings::sluice::transform::clock::now()
    }
    #[cfg(not(target_family = "wasm"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A bad-input outcome blaming `field`.
pub fn bad_input(field: &str, message: impl Into<String>) -> Outcome {
    Outcome::BadInput(InputError {
        field: Some(field.to_string()),
        message: message.into(),
    })
}

#[doc(hidden)]
pub mod __glue {
    //! What `export_transform!` expands to call. Not a public API.
    use super::*;
    use bindings::sluice::transform::types as wit;
    use sluice_packed::rows::RowWriter;
    use std::cell::{Cell as Hint, RefCell};

    thread_local! {
        static INSTANCE: RefCell<Option<Box<dyn std::any::Any>>> = const { RefCell::new(None) };
    }

    /// Installs (once) a panic hook that logs the panic's message through the
    /// host, tagged `sluice.panic`, so the host's trap reason can say what
    /// panicked and where instead of "unreachable executed".
    pub fn hook() {
        #[cfg(target_family = "wasm")]
        {
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| {
                persistent(|| {
                    std::panic::set_hook(Box::new(|info| {
                        log(Level::Error, &info.to_string(), &[("sluice.panic", "1")]);
                    }))
                })
            });
        }
    }

    pub fn init<T: Transform>(config: Vec<(String, String)>) -> Result<(), String> {
        // The plugin's state lives as long as the instance: not in the arena.
        persistent(|| {
            let t = T::new(&config)?;
            INSTANCE.with(|i| *i.borrow_mut() = Some(Box::new(t)));
            Ok(())
        })
    }

    thread_local! {
        /// The last call's rows buffer size: the next call's first guess.
        static ROWS_BYTES: Hint<usize> = const { Hint::new(0) };
    }

    pub fn transform<T: Transform>(batch: Vec<InputRecord>) -> wit::BatchOutput {
        INSTANCE.with(|i| {
            let guard = i.borrow();
            let t = guard
                .as_ref()
                .and_then(|b| b.downcast_ref::<T>())
                .expect("the host calls init before transform");
            let outcomes: Vec<Outcome> = batch.iter().map(|r| t.transform(r)).collect();
            // The buffer after the transform's own allocations, so that these
            // land at the same place in every call (alloc-probe's test shows
            // the arena starting again by their addresses).
            let mut rows = RowWriter::with_capacity(ROWS_BYTES.get());
            let outcomes = outcomes.into_iter().map(|o| encode(o, &mut rows)).collect();
            ROWS_BYTES.set(rows.len());
            wit::BatchOutput {
                outcomes,
                rows: rows.finish(),
            }
        })
    }

    /// The WIT outcome of `o`, its rows appended to `rows`.
    fn encode(o: Outcome, rows: &mut RowWriter) -> wit::Outcome {
        match o {
            Outcome::Rows(r) => {
                r.iter().for_each(|row| row.write(rows));
                wit::Outcome::Rows(r.len() as u32)
            }
            Outcome::Filtered(reason) => wit::Outcome::Filtered(reason),
            Outcome::BadInput(e) => wit::Outcome::BadInput(e),
            Outcome::Retry(reason) => wit::Outcome::Retry(reason),
        }
    }
}

/// Exports a [`Transform`] implementation as the plugin's component exports
/// (in Wasm builds; natively it only type-checks the implementation).
///
/// ```ignore
/// struct MyPlugin;
/// impl sluice_plugin::Transform for MyPlugin { /* ... */ }
/// sluice_plugin::export_transform!(MyPlugin);
/// ```
#[macro_export]
macro_rules! export_transform {
    ($t:ty) => {
        #[doc(hidden)]
        pub struct __SluiceExports;
        impl $crate::bindings::Guest for __SluiceExports {
            fn metadata() -> $crate::PluginInfo {
                $crate::__glue::hook();
                <$t as $crate::Transform>::metadata()
            }
            fn init(config: Vec<(String, String)>) -> Result<(), String> {
                $crate::__glue::hook();
                $crate::__glue::init::<$t>(config)
            }
            fn transform(
                batch: Vec<$crate::InputRecord>,
            ) -> $crate::bindings::sluice::transform::types::BatchOutput {
                $crate::__glue::hook();
                $crate::__glue::transform::<$t>(batch)
            }
        }
        // Only a Wasm build exports: natively (unit tests, `cargo test
        // --workspace`) a plugin that wraps another plugin's crate would
        // otherwise link two sets of the same export symbols.
        #[cfg(target_family = "wasm")]
        $crate::bindings::__export_world!(__SluiceExports);
    };
}
