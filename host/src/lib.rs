//! Sluice: Kafka -> WebAssembly transform -> Cassandra, in one process.
//!
//! A map of the crate:
//! - [`model`]: records, value trees, rows and outcomes, in the host's own types.
//! - [`engine`]: wasmtime; loads transform components and runs batches under limits.
//! - [`source`]: the Kafka consumer; [`decode`] (+ [`registry`], [`wire`], [`json`]): values to trees.
//! - [`sink`]: Cassandra; [`dlq`]: the dead-letter topic.
//! - [`pipeline`]: wires them together; [`config`]: sluice.toml, env, flags.
//! - [`admin`] and [`metrics`]: the admin endpoint and Prometheus metrics.
//! - [`dryrun`]: `host run --input FILE`: a plugin over JSON lines, rows to stdout.

pub use sluice_codec::{avro, decode, json, registry, wire};
pub use sluice_engine as engine;
pub use sluice_model as model;

pub mod admin;
pub mod cli;
pub mod config;
pub mod dlq;
pub mod dryrun;
pub mod ingest;
pub mod live;
pub mod metrics;
pub mod pipeline;
pub mod plugin_cli;
pub mod sink;
pub mod source;
pub mod status_page;
pub mod users_api;
