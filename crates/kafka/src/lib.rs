//! The Kafka adapter: the consumer-group [`source`] that feeds one
//! [`sluice_pipeline::PartitionFeed`] per assigned partition and commits
//! acknowledged offsets, and the [`dead_letters`] producer behind
//! [`sluice_pipeline::DeadLetterSink`]; for `host dlq replay` and `host
//! reprocess`, a bounded [`range`] reader and the [`restore`] of a letter's
//! record. It knows rdkafka and the pipeline's
//! ports, nothing of wasmtime or Cassandra.

pub mod config;
pub mod control;
pub mod dead_letters;
pub mod range;
pub mod restore;
pub mod source;

pub use config::KafkaConfig;
pub use control::KafkaControlLog;
pub use dead_letters::DeadLetters;
pub use range::RangeReader;
pub use source::KafkaSource;
