//! One assigned partition: gather a batch, process it, acknowledge its
//! offset, repeat; stop after the in-flight batch when told to.

use crate::control::Stall;
use crate::ports::{Ack, PartitionFeed, RowSink};
use crate::stages::{self, Shared, Unfinished};
use crate::telemetry::events;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use tokio::time::Instant;

/// Runs one partition until its feed is cancelled or closed.
pub async fn run<S: RowSink>(
    mut feed: PartitionFeed,
    shared: Arc<Shared<S>>,
    acks: std_mpsc::Sender<Ack>,
) {
    let (max, linger) = (shared.config.batch_size, shared.config.batch_linger);
    let (topic, partition) = (feed.topic.clone(), feed.partition);
    // The activation and version of the previous batch and when it was acknowledged:
    // a swap's stall is measured from there to the new version's first ack.
    let mut last: Option<(u64, String, Instant)> = None;
    loop {
        let first = tokio::select! {
            biased;
            _ = feed.cancel.cancelled() => break,
            m = feed.messages.recv() => match m {
                Some(m) => m,
                None => break,
            },
        };
        let mut messages = vec![first];
        let deadline = Instant::now() + linger;
        while messages.len() < max {
            match tokio::time::timeout_at(deadline, feed.messages.recv()).await {
                Ok(Some(m)) => messages.push(m),
                _ => break,
            }
        }
        let first_offset = messages[0].origin.offset;
        let next_offset = messages
            .last()
            .map(|m| m.origin.offset + 1)
            .unwrap_or(first_offset);
        // Process with the current version; if the breaker holds the batch,
        // wait for a new version and process it again with that one.
        let processed_by = loop {
            let (active, activation) = shared.slot.current_activation();
            match stages::process(&shared, &active, &messages, &feed.cancel).await {
                Ok(()) => break Some((active, activation)),
                Err(Unfinished::Held { tripped }) => {
                    if tripped {
                        on_trip(&shared).await;
                    }
                    tokio::select! {
                        _ = shared.breaker.closed() => continue,
                        _ = feed.cancel.cancelled() => break None,
                    }
                }
                Err(Unfinished::Abandoned) => break None,
            }
        };
        let Some((active, activation)) = processed_by else {
            break;
        };
        let _ = acks.send(Ack {
            topic: topic.clone(),
            partition,
            next_offset,
        });
        shared
            .metrics
            .live
            .committed(&topic, partition, next_offset);
        let now = Instant::now();
        let hash = active.plugin.hash().to_string();
        if last
            .as_ref()
            .map(|(a, _, _)| *a != activation)
            .unwrap_or(true)
        {
            events::VersionTookOver {
                topic: &topic,
                partition,
                first_offset,
                plugin: active.plugin.info(),
                hash: &hash,
            }
            .emit();
            shared
                .history
                .first_offset(activation, &topic, partition, first_offset);
            if let Some((_, from, at)) = &last {
                let stall = now.duration_since(*at);
                shared.metrics.swap_stall_seconds(stall.as_secs_f64());
                shared.history.stall(Stall {
                    partition: format!("{topic}/{partition}"),
                    from_hash: from.clone(),
                    to_hash: hash.clone(),
                    millis: stall.as_secs_f64() * 1e3,
                });
            }
        }
        last = Some((activation, hash, now));
    }
    tracing::debug!(%topic, partition, "partition worker stopped");
}

/// The breaker just opened: say so loudly, and roll back if allowed.
async fn on_trip<S: RowSink>(shared: &Shared<S>) {
    let config = shared.breaker.config();
    events::BreakerTripped {
        plugin: shared.slot.current().plugin.info(),
        config,
    }
    .emit(&shared.metrics);
    if config.rollback {
        match shared.deployer.rollback().await {
            Ok(info) => {
                tracing::warn!(plugin = %info, "breaker: rolled back automatically (breaker.rollback = true)")
            }
            Err(e) => {
                tracing::error!(error = %e, "breaker: automatic rollback impossible; waiting for an operator")
            }
        }
    }
}
