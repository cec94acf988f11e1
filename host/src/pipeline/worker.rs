//! One assigned partition: gather a batch, process it, acknowledge its
//! offset, repeat; stop after the in-flight batch when told to.

use super::batch::{self, Shared};
use crate::source::{Ack, PartitionFeed};
use std::sync::atomic::Ordering;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

pub(crate) struct BatchShape {
    pub max: usize,
    pub linger: Duration,
}

pub(crate) async fn run(mut feed: PartitionFeed, shared: Arc<Shared>, acks: std_mpsc::Sender<Ack>, shape: BatchShape) {
    let (topic, partition) = (feed.topic.clone(), feed.partition);
    let mut last_version: Option<String> = None;
    loop {
        if feed.stop.load(Ordering::SeqCst) {
            break;
        }
        // Wake up now and then to notice `stop` even when no record comes.
        let first = match tokio::time::timeout(Duration::from_millis(200), feed.messages.recv()).await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(_) => continue,
        };
        let mut messages = vec![first];
        let deadline = Instant::now() + shape.linger;
        while messages.len() < shape.max {
            match tokio::time::timeout_at(deadline, feed.messages.recv()).await {
                Ok(Some(m)) => messages.push(m),
                _ => break,
            }
        }
        let first_offset = messages[0].origin.offset;
        let next_offset = messages.last().map(|m| m.origin.offset + 1).unwrap_or(first_offset);
        let active = shared.slot.current();
        let version = format!("{}#{}", active.plugin.info(), &active.plugin.hash()[..12]);
        if last_version.as_deref() != Some(version.as_str()) {
            tracing::info!(%topic, partition, first_offset, plugin = %version, "plugin version takes over the partition at this offset");
            super::startup::note_first_offset(&shared, &active, &topic, partition, first_offset);
            last_version = Some(version);
        }
        match batch::process(&shared, &active, messages, &feed.stop).await {
            Ok(()) => {
                let _ = acks.send(Ack { topic: topic.clone(), partition, next_offset });
            }
            Err(batch::Abandoned) => break,
        }
    }
    tracing::debug!(%topic, partition, "partition worker stopped");
}
