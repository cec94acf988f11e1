//! Sluice: Kafka -> WebAssembly transform -> Cassandra, in one process.
//!
//! The `host` binary's library: what a person runs, on top of the layer
//! crates (re-exported under their old paths):
//! - [`model`] (`sluice-model`): records, value trees, rows and outcomes.
//! - [`engine`] (`sluice-engine`): wasmtime; loads components, runs records under limits.
//! - [`decode`], [`registry`], [`wire`], [`json`], [`avro`] (`sluice-codec`): bytes to value trees.
//! - `sluice-pipeline`: the core (stages, workers, breaker, deploys) behind its ports.
//! - [`kafka`] (`sluice-kafka`) and [`sink`] (`sluice-cassandra`): the adapters.
//!
//! Its own modules: [`pipeline`] wires the adapters into the core for
//! `host run`; [`config`]: sluice.toml, env, flags; [`admin`] and
//! [`status_page`]: the admin endpoint; [`cli`] and [`plugin_cli`]; [`dryrun`]:
//! `host run --input FILE`; [`ingest`]; [`users_api`]: a development server.

pub use sluice_cassandra as sink;
pub use sluice_codec::{avro, decode, json, registry, wire};
pub use sluice_engine as engine;
pub use sluice_kafka as kafka;
pub use sluice_model as model;
pub use sluice_pipeline::telemetry::live;
pub use sluice_users_api as users_api;

/// The host's Prometheus metrics (the pipeline's telemetry).
pub mod metrics {
    pub use sluice_pipeline::telemetry::histogram_sum_count;
    pub use sluice_pipeline::Metrics;
}

pub mod admin;
pub mod cli;
pub mod config;
pub mod dryrun;
pub mod fleet_view;
pub mod history;
pub mod ingest;
pub mod pipeline;
pub mod plugin_cli;
pub mod project;
pub mod status_page;
