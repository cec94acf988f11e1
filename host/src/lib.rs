//! Sluice: Kafka -> WebAssembly transform -> Cassandra, in one process.
//!
//! A map of the crate:
//! - [`model`]: records, value trees, rows and outcomes, in the host's own types.
//! - [`engine`]: wasmtime; loads transform components and runs batches under limits.
//! - [`dryrun`]: `host run --input FILE`: a plugin over JSON lines, rows to stdout.

pub mod cli;
pub mod dryrun;
pub mod engine;
pub mod json;
pub mod model;
