//! The control plane of a running pipeline: the active version ([`slot`]),
//! deploys and rollbacks ([`deploy`]), the one validation every candidate
//! goes through ([`validate`]), what the operator sees of versions
//! ([`history`]), and hot reload on file change ([`watch`]).

pub mod deploy;
pub mod history;
pub mod slot;
pub mod validate;
pub mod watch;

pub use deploy::{DeploySettings, Deployed, Deployer, RecentRecords};
pub use history::{Stall, SwapHistory, VersionEntry};
pub use slot::{ActivePlugin, PluginSlot};
