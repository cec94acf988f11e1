//! One assigned partition: gather a batch, process it, acknowledge its
//! offset, repeat; stop after the in-flight batch when told to.

use super::batch::{self, Shared};
use super::history::Stall;
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

pub(crate) async fn run(
    mut feed: PartitionFeed,
    shared: Arc<Shared>,
    acks: std_mpsc::Sender<Ack>,
    shape: BatchShape,
) {
    let (topic, partition) = (feed.topic.clone(), feed.partition);
    // The activation and version of the previous batch and when it was acknowledged:
    // a swap's stall is measured from there to the new version's first ack.
    let mut last: Option<(u64, String, Instant)> = None;
    loop {
        if feed.stop.load(Ordering::SeqCst) {
            break;
        }
        // Wake up now and then to notice `stop` even when no record comes.
        let first =
            match tokio::time::timeout(Duration::from_millis(200), feed.messages.recv()).await {
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
        let next_offset = messages
            .last()
            .map(|m| m.origin.offset + 1)
            .unwrap_or(first_offset);
        // Process with the current version; if the breaker holds the batch,
        // wait for a new version and process it again with that one.
        let processed_by = loop {
            let (active, activation) = shared.slot.current_activation();
            match batch::process(&shared, &active, &messages, &feed.stop).await {
                Ok(()) => break Some((active, activation)),
                Err(batch::Unfinished::Held { tripped }) => {
                    if tripped {
                        on_trip(&shared).await;
                    }
                    tokio::select! {
                        _ = shared.breaker.closed() => continue,
                        _ = wait_stop(&feed.stop) => break None,
                    }
                }
                Err(batch::Unfinished::Abandoned) => break None,
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
            tracing::info!(%topic, partition, first_offset, plugin = %active.plugin.info(), hash = %&hash[..12], "plugin version took over the partition at this offset");
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
async fn on_trip(shared: &Shared) {
    shared.metrics.set_breaker_open(true);
    let config = shared.breaker.config();
    let active = shared.slot.current();
    tracing::error!(
        plugin = %active.plugin.info(),
        failure_ratio = config.failure_ratio,
        window = %humantime::format_duration(config.window),
        "plugin failing on too many records: breaker open, consumption held (nothing dead-lettered or committed); deploy a fix or roll back (`host plugin rollback`)"
    );
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

async fn wait_stop(stop: &std::sync::atomic::AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
