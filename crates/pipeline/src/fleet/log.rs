//! The group's control log, as records and the port that stores them.
//!
//! Three streams, each a compacted log keyed so that nothing needed is ever
//! compacted away: `deploys` (proposals, answers, decisions, activations),
//! `barriers` (the first offset each activation owns on each partition) and
//! `members` (heartbeats). Component bytes live in a content-addressed blob
//! store beside them. The Kafka adapter implements [`ControlLog`]; tests
//! may use an in-memory one.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One of the group's control streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Deploys,
    Barriers,
    Members,
}

impl Stream {
    pub const ALL: [Stream; 3] = [Stream::Deploys, Stream::Barriers, Stream::Members];

    pub fn name(self) -> &'static str {
        match self {
            Stream::Deploys => "deploys",
            Stream::Barriers => "barriers",
            Stream::Members => "members",
        }
    }
}

/// A record as read back from a stream; `value` is None for a tombstone.
#[derive(Debug, Clone)]
pub struct ControlRecord {
    pub stream: Stream,
    pub key: String,
    pub value: Option<Vec<u8>>,
    /// Where it sits in its stream, for messages about it.
    pub position: String,
}

/// Why a blob could not be read back whole.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BlobError {
    /// Not in the store (never written, or the store was deleted).
    #[error("plugin {hash} is not in the plugin store{detail}")]
    Missing { hash: String, detail: String },
    /// Present but incomplete or damaged: never used.
    #[error("plugin {hash} in the plugin store is damaged: {detail}")]
    Corrupt { hash: String, detail: String },
    /// The store could not be asked.
    #[error("reading plugin {hash} from the plugin store: {detail}")]
    Unavailable { hash: String, detail: String },
}

/// The durable log of a group. Every write waits for the store's
/// acknowledgement; the reader hands every record, in order, to the
/// callback the adapter was started with.
pub trait ControlLog: Send + Sync + 'static {
    /// Appends `value` (None: a tombstone) under `key`.
    fn append<'a>(
        &'a self,
        stream: Stream,
        key: &'a str,
        value: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<(), String>>;

    /// Resolves once every record appended anywhere before the call has
    /// been handed to the reader's callback.
    fn sync(&self) -> BoxFuture<'_, Result<(), String>>;

    /// Stores component bytes under their SHA-256 (hex).
    fn put_blob<'a>(&'a self, hash: &'a str, bytes: &'a [u8]) -> BoxFuture<'a, Result<(), String>>;

    /// Reads back the bytes stored under `hash`, checked against it.
    fn get_blob<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<Vec<u8>, BlobError>>;

    /// Where the log lives, for messages ("Kafka topics _sluice.g.*").
    fn describe(&self) -> String;
}

/// "Make this version active": written by the host that took the deploy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Proposal {
    pub id: String,
    pub hash: String,
    pub name: String,
    pub version: String,
    pub size: u64,
    /// Plugin settings that go with this version; they override each
    /// host's own `pipeline.plugin-config`.
    #[serde(default)]
    pub plugin_config: BTreeMap<String, String>,
    /// Additive CQL the coordinator applied before proposing.
    #[serde(default)]
    pub cql: Vec<String>,
    /// Where the bytes came from ("admin upload", a file name).
    pub source: String,
    /// The member that coordinates the deploy.
    pub coordinator: String,
    pub at_ms: u64,
    /// A rollback: the activation whose version this restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restores: Option<u64>,
}

/// One member's verdict on a proposal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Answer {
    pub proposal: String,
    pub member: String,
    pub host: String,
    pub accepted: bool,
    #[serde(default)]
    pub reason: Option<String>,
    pub at_ms: u64,
}

/// The end of a proposal: activated (as `seq`) or not, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Decision {
    pub proposal: String,
    pub activated: Option<u64>,
    #[serde(default)]
    pub reason: Option<String>,
    pub at_ms: u64,
}

/// The group's version from now on. Sequence numbers grow by one; when two
/// coordinators race, the first record in the log with the next number
/// wins and the other is ignored by every reader alike.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Activation {
    pub seq: u64,
    pub proposal: String,
    pub hash: String,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub plugin_config: BTreeMap<String, String>,
    pub source: String,
    pub by: String,
    pub at_ms: u64,
    /// A rollback: the activation whose version this restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restores: Option<u64>,
}

/// "From `offset` on, `topic`/`partition` is transformed by activation
/// `seq`": written before the first batch of that activation there is written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Barrier {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub seq: u64,
    pub hash: String,
    pub member: String,
    pub at_ms: u64,
}

impl Barrier {
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.topic, self.partition, self.seq)
    }
}

/// The group's shadow run: every member runs the candidate `hash` beside
/// its active version on `sample` of its records (key [`SHADOW_KEY`] in the
/// deploys stream; a tombstone ends it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShadowSpec {
    pub id: String,
    pub hash: String,
    pub name: String,
    pub version: String,
    pub source: String,
    pub sample: f64,
    /// The member that started it.
    pub by: String,
    pub at_ms: u64,
}

pub const SHADOW_KEY: &str = "shadow";

/// A member's heartbeat: what it runs and what it holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Member {
    pub member: String,
    pub host: String,
    pub pid: u32,
    pub seq: u64,
    pub name: String,
    pub version: String,
    pub hash: String,
    pub partitions: Vec<String>,
    pub lag: i64,
    pub ready: bool,
    #[serde(default)]
    pub admin: Option<String>,
    pub at_ms: u64,
    /// This member's counts of the group's shadow run, if it runs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<crate::shadow::ShadowCounts>,
    /// Why this member does not run the group's shadow run, when it could
    /// not load the candidate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow_error: Option<String>,
}

pub fn proposal_key(id: &str) -> String {
    format!("proposal/{id}")
}

pub fn answer_key(proposal: &str, member: &str) -> String {
    format!("answer/{proposal}/{member}")
}

pub fn decision_key(proposal: &str) -> String {
    format!("decision/{proposal}")
}

pub fn activation_key(seq: u64) -> String {
    format!("activation/{seq:020}")
}

pub fn member_key(member: &str) -> String {
    format!("member/{member}")
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
