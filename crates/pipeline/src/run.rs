//! The pipeline's main loop: a worker per partition the source assigns,
//! until cancelled; then every worker finishes its in-flight batch.

use crate::ports::{Ack, PartitionFeed, RowSink};
use crate::stages::Shared;
use crate::worker;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Runs workers for the partitions arriving on `feeds` until `cancel` is
/// cancelled or the source closes `feeds`. Each feed's own token is a child
/// of `cancel` (the source makes it so), so cancelling `cancel` stops every
/// worker after its in-flight batch; this returns once they all have.
pub async fn run<S: RowSink>(
    shared: Arc<Shared<S>>,
    mut feeds: mpsc::UnboundedReceiver<PartitionFeed>,
    acks: std_mpsc::Sender<Ack>,
    cancel: CancellationToken,
) {
    let mut workers = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            feed = feeds.recv() => match feed {
                Some(feed) => {
                    workers.spawn(worker::run(feed, shared.clone(), acks.clone()));
                }
                None => break,
            },
            Some(_) = workers.join_next(), if !workers.is_empty() => {}
        }
    }
    while workers.join_next().await.is_some() {}
}
