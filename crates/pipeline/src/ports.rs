//! What the pipeline core needs from the world, as small traits and channel
//! types: a row sink, a dead-letter sink, and per-partition feeds of records
//! with a way back for acknowledgements. The Kafka and Cassandra adapters
//! implement them; unit tests use in-memory fakes.

use crate::dead_letter::DeadLetter;
use futures::future::BoxFuture;
use sluice_model::{PluginInfo, Row, SourceMessage};
use std::future::Future;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Why a row could not be bound to its table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BindError {
    /// The row does not fit (unknown table or column, wrong type, missing
    /// key): the record's fault, it is dead-lettered.
    #[error("{0}")]
    Misfit(String),
    /// The sink could not be asked (it is down): held and retried.
    #[error("{0}")]
    Unavailable(String),
}

/// The version stamp a bound row gets when its table has the column.
#[derive(Debug, Clone)]
pub struct Stamp<'a> {
    /// A text column of this name receives...
    pub column: &'a str,
    /// ...the version of the plugin that made the row.
    pub version: &'a str,
}

/// Where rows go. A row is bound once (checked against its live table and
/// converted to what the sink writes), then written as bound.
pub trait RowSink: Send + Sync + 'static {
    /// A live table as the sink knows it (columns, types, keys).
    type Table: Send + Sync + 'static;
    /// A row ready to write, in the sink's own form.
    type Bound: Send + Sync + 'static;

    /// The live table `name`: `Misfit` when it does not exist, `Unavailable`
    /// when the sink cannot be asked. Cached by the sink.
    fn table(&self, name: &str) -> impl Future<Output = Result<Self::Table, BindError>> + Send;

    /// Checks `row` against `table` and converts it, moving its values; adds
    /// `stamp` when the table has that text column and the row lacks it. An
    /// error says why the row does not fit.
    fn bind(table: &Self::Table, row: Row, stamp: &Stamp<'_>) -> Result<Self::Bound, String>;

    /// Writes bound rows. An error is an outage: the caller retries the call
    /// (writes are idempotent upserts).
    fn write(&self, rows: &[Self::Bound]) -> impl Future<Output = Result<(), String>> + Send;

    /// The table a bound row goes to, for counting.
    fn table_of(bound: &Self::Bound) -> &str;

    /// Applies schema statements that go with a plugin version. The sink
    /// refuses anything that is not additive (and then applies none of
    /// them), and forgets its cached tables. Sinks without a schema refuse.
    fn alter(&self, statements: &[String]) -> impl Future<Output = Result<(), String>> + Send {
        let n = statements.len();
        async move {
            Err(format!(
                "this sink takes no schema changes ({n} statements given)"
            ))
        }
    }

    /// Forgets cached tables, so the next [`table`](Self::table) reads them
    /// again (another host altered them).
    fn refresh(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Where dead letters go. Object-safe: dead letters are few and off the hot path.
pub trait DeadLetterSink: Send + Sync + 'static {
    /// Sends one letter and waits until it is durable. An error is an
    /// outage: the caller retries (a letter is never dropped).
    fn send<'a>(
        &'a self,
        letter: &'a DeadLetter<'a>,
        plugin: &'a PluginInfo,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// One assigned partition, handed to a worker by the source.
pub struct PartitionFeed {
    pub topic: String,
    pub partition: i32,
    pub messages: mpsc::Receiver<SourceMessage>,
    /// Cancelled when the partition is revoked or the host stops: the worker
    /// finishes its in-flight batch, acknowledges it and returns.
    pub cancel: CancellationToken,
    /// The worker drops this when it returns; the source waits for that.
    pub done: std::sync::mpsc::SyncSender<()>,
    /// The partition's end when it was assigned, if the source knows it:
    /// records before it may have been transformed by a previous owner.
    pub end_offset: Option<i64>,
}

/// "Every record of `topic`/`partition` before `next_offset` is done."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub topic: String,
    pub partition: i32,
    pub next_offset: i64,
}
