//! The pipeline: wires the Kafka source, the decoder, the plugin engine,
//! the Cassandra sink and the dead-letter topic together, one worker per
//! assigned partition.

mod batch;
mod slot;
mod startup;
mod worker;

pub use slot::{ActivePlugin, PluginSlot};
pub use startup::{run, RunOptions};
