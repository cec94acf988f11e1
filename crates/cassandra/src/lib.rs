//! The Cassandra adapter: creates the schema, reads live tables
//! ([`table::TableSchema`], with typed column types), binds rows against
//! them once, and writes bound rows with prepared, idempotent upserts. It
//! implements [`sluice_pipeline::RowSink`]; it knows the scylla driver and the
//! pipeline's ports, nothing of wasmtime or Kafka.

pub mod config;
pub mod schema_change;
pub mod sink;
pub mod table;

pub use config::CassandraConfig;
pub use sink::{parse_consistency, Sink, WriteError};
pub use table::{BoundRow, CqlType, Misfit, TableSchema};
