//! Record values to value trees: the Confluent wire format ([`wire`]), the
//! schema registry client ([`registry`], typed errors: not found vs
//! unreachable), bounded Avro ([`avro`]) and JSON ([`json`]) decoders, and the
//! [`decode::Decoder`] that picks between them per record. It knows nothing
//! of Kafka, Cassandra or wasmtime: bytes in, [`sluice_model::ValueTree`] out.

pub mod avro;
pub mod decode;
pub mod json;
pub mod registry;
pub mod wire;

pub use decode::{DecodeError, Decoder, Format};
pub use registry::{Registry, RegistryConfig, SchemaError};
