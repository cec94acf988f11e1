//! The Cassandra sink: creates the schema, checks rows against the live
//! tables, and writes them with prepared, idempotent upserts.

mod cassandra;
mod table;

pub use cassandra::{parse_consistency, Sink, WriteError};
pub use table::TableSchema;
