//! The pipeline: wires the Kafka source, the decoder, the plugin engine,
//! the Cassandra sink and the dead-letter topic together, one worker per
//! assigned partition.

mod batch;
mod breaker;
mod deploy;
mod history;
mod slot;
mod startup;
mod watch;
mod worker;

pub use breaker::{Breaker, BreakerConfig};
pub use deploy::{Deployed, Deployer, RecentRecords};
pub use history::{Stall, SwapHistory, VersionEntry};
pub use slot::{ActivePlugin, PluginSlot};
pub use startup::{run, RunOptions};
