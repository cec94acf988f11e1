//! The Kafka source: a consumer-group member that feeds each assigned
//! partition to its own worker and stores offsets only when told a record
//! and everything before it are done.

mod kafka;

pub use crate::model::SourceMessage;
pub use kafka::{Ack, KafkaSource, PartitionFeed};
