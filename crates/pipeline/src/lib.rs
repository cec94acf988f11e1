//! The pipeline core: what happens to a record between the source and the
//! sink, and how plugin versions come and go. It knows the engine and the
//! codec, and reaches the world only through its [`ports`]: a row sink, a
//! dead-letter sink and per-partition feeds. The Kafka and Cassandra
//! adapters implement those; unit tests use in-memory fakes.
//!
//! The path of a record, top to bottom:
//! - [`run`]: a [`worker`] per assigned partition;
//! - [`worker`]: gather a batch, [`stages::process`] it, acknowledge it;
//! - [`stages`]: decode -> transform -> bind -> write + dead-letter, with
//!   the outcome [`policy`] and the [`breaker`] in between;
//! - [`control`]: the active version, deploys, validation, swap history;
//! - [`fleet`]: the group's durable deploy log, two-phase deploys, barriers;
//! - [`shadow`]: a candidate beside the active version on sampled records;
//! - [`telemetry`]: metrics, the status page's live view, events.

pub mod breaker;
pub mod config;
pub mod control;
pub mod dead_letter;
pub mod fleet;
pub mod policy;
pub mod ports;
mod run;
pub mod shadow;
pub mod stages;
pub mod telemetry;
pub mod worker;

pub use breaker::{Breaker, BreakerConfig};
pub use config::{FleetConfig, PipelineConfig};
pub use control::{
    ActivePlugin, DeploySettings, Deployed, Deployer, PluginSlot, RecentRecords, Stall,
    SwapHistory, VersionEntry,
};
pub use dead_letter::{DeadLetter, Reason};
pub use fleet::{DeployRequest, Fleet, FleetSettings, Refused};
pub use ports::{Ack, BindError, DeadLetterSink, PartitionFeed, RowSink, Stamp};
pub use run::run;
pub use stages::{Shared, Unfinished};
pub use telemetry::Metrics;
pub use tokio_util::sync::CancellationToken;
