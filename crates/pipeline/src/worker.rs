//! One assigned partition: gather a batch, process it, acknowledge its
//! offset, repeat; stop after the in-flight batch when told to.
//!
//! In a fleet, each batch is split into runs of one owning activation
//! ([`crate::fleet::ownership`]): offsets a previous owner may have
//! transformed go to the version that owned them, and a barrier is recorded
//! before the first batch of a new activation on the partition is written.

use crate::control::{ActivePlugin, Stall};
use crate::fleet::{self, ownership::PartitionPlan, Fleet};
use crate::ports::{Ack, PartitionFeed, RowSink};
use crate::stages::{self, Shared, Unfinished};
use crate::telemetry::events;
use sluice_model::SourceMessage;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long a worker waits before asking the control log again.
const CONTROL_RETRY: Duration = Duration::from_secs(1);

/// The activation and version of the previous run and when it was
/// acknowledged: a swap's stall is measured from there to the new version's
/// first acknowledgement.
type Last = Option<(u64, String, Instant)>;

/// Runs one partition until its feed is cancelled or closed.
pub async fn run<S: RowSink>(
    mut feed: PartitionFeed,
    shared: Arc<Shared<S>>,
    acks: std_mpsc::Sender<Ack>,
) {
    let (max, linger) = (shared.config.batch_size, shared.config.batch_linger);
    let (topic, partition) = (feed.topic.clone(), feed.partition);
    shared.metrics.live.assign(&topic, partition, true);
    let fleet = shared.deployer.fleet.clone();
    let mut plan = match &fleet {
        Some(f) => match takeover(f, &feed).await {
            Some(plan) => Some(plan),
            None => return stopped(&shared, &topic, partition),
        },
        None => None,
    };
    let mut last: Last = None;
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
        let next_offset = messages
            .last()
            .map(|m| m.origin.offset + 1)
            .unwrap_or_default();
        let runs = match &plan {
            Some(p) => {
                let offsets: Vec<i64> = messages.iter().map(|m| m.origin.offset).collect();
                p.runs(&offsets, shared.slot.current_activation().1)
            }
            None => vec![(0, messages.len(), 0)],
        };
        let mut finished = true;
        for (start, end, owner) in runs {
            let run = &messages[start..end];
            let Some((active, activation)) = process_run(
                &shared,
                fleet.as_deref(),
                plan.as_mut(),
                owner,
                run,
                &feed.cancel,
            )
            .await
            else {
                finished = false;
                break;
            };
            took_over(
                &shared, &topic, partition, run, &active, activation, &mut last,
            );
        }
        if !finished {
            break;
        }
        let _ = acks.send(Ack {
            topic: topic.clone(),
            partition,
            next_offset,
        });
        shared
            .metrics
            .live
            .committed(&topic, partition, next_offset);
    }
    stopped(&shared, &topic, partition)
}

fn stopped<S: RowSink>(shared: &Shared<S>, topic: &str, partition: i32) {
    shared.metrics.live.assign(topic, partition, false);
    tracing::debug!(%topic, partition, "partition worker stopped");
}

/// Reads the partition's barriers; None if the feed was cancelled first.
async fn takeover(fleet: &Fleet, feed: &PartitionFeed) -> Option<PartitionPlan> {
    let end = feed.end_offset.unwrap_or(0);
    loop {
        match fleet.takeover(&feed.topic, feed.partition, end).await {
            Ok(plan) => return Some(plan),
            Err(e) => {
                tracing::warn!(topic = %feed.topic, partition = feed.partition, error = %format!("{e:#}"), "cannot read the partition's barriers yet; retrying")
            }
        }
        tokio::select! {
            _ = feed.cancel.cancelled() => return None,
            _ = tokio::time::sleep(CONTROL_RETRY) => {}
        }
    }
}

/// Processes one run of a batch with the version that owns it (in a fleet)
/// or the current one. If the breaker holds it, waits for a new version
/// and processes it again with that one. None: given up (stopping).
async fn process_run<S: RowSink>(
    shared: &Shared<S>,
    fleet: Option<&Fleet>,
    mut plan: Option<&mut PartitionPlan>,
    mut owner: u64,
    run: &[SourceMessage],
    cancel: &CancellationToken,
) -> Option<(Arc<ActivePlugin>, u64)> {
    let first = run.first()?.origin.clone();
    loop {
        let (active, activation) = match (fleet, plan.as_deref_mut()) {
            (Some(f), Some(p)) => owned(shared, f, p, owner, &first, cancel).await?,
            _ => shared.slot.current_activation(),
        };
        match stages::process(shared, &active, run, cancel).await {
            Ok(()) => return Some((active, activation)),
            Err(Unfinished::Held { tripped }) => {
                if tripped {
                    on_trip(shared).await;
                }
                tokio::select! {
                    _ = shared.breaker.closed() => {
                        // Nothing of the run was written: the new version takes it.
                        owner = shared.slot.current_activation().1;
                        continue;
                    }
                    _ = cancel.cancelled() => return None,
                }
            }
            Err(Unfinished::Abandoned) => return None,
        }
    }
}

/// The version of activation `owner`, with its barrier on the partition
/// recorded first when this is its first run there.
async fn owned<S: RowSink>(
    shared: &Shared<S>,
    fleet: &Fleet,
    plan: &mut PartitionPlan,
    owner: u64,
    first: &sluice_model::Origin,
    cancel: &CancellationToken,
) -> Option<(Arc<ActivePlugin>, u64)> {
    let version = loop {
        match fleet::plugin_for(&shared.deployer, fleet, owner).await {
            Ok(v) => break v,
            Err(e) => {
                tracing::error!(topic = %first.topic, partition = first.partition, offset = first.offset, error = %format!("{e:#}"), "the version that owns these offsets cannot be loaded; the partition waits")
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return None,
            _ = tokio::time::sleep(CONTROL_RETRY * 5) => {}
        }
    };
    if plan.needs_barrier(first.offset, owner) {
        let hash = version.plugin.hash().to_string();
        loop {
            match fleet
                .barrier(&first.topic, first.partition, first.offset, owner, &hash)
                .await
            {
                Ok(()) => break,
                Err(e) => {
                    shared.metrics.dependency("kafka", Some(&e));
                    tracing::warn!(topic = %first.topic, partition = first.partition, error = %e, "cannot record the partition's barrier; retrying before writing");
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = tokio::time::sleep(CONTROL_RETRY) => {}
            }
        }
        plan.add(first.offset, owner);
    }
    Some((version, owner))
}

/// Notes the first run of a new activation on the partition, and the stall.
fn took_over<S: RowSink>(
    shared: &Shared<S>,
    topic: &str,
    partition: i32,
    run: &[SourceMessage],
    active: &Arc<ActivePlugin>,
    activation: u64,
    last: &mut Last,
) {
    let now = Instant::now();
    let hash = active.plugin.hash().to_string();
    let first_offset = run.first().map(|m| m.origin.offset).unwrap_or_default();
    if last
        .as_ref()
        .map(|(a, _, _)| *a != activation)
        .unwrap_or(true)
    {
        events::VersionTookOver {
            topic,
            partition,
            first_offset,
            plugin: active.plugin.info(),
            hash: &hash,
        }
        .emit();
        shared
            .history
            .first_offset(activation, topic, partition, first_offset);
        if let Some((_, from, at)) = &*last {
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
    *last = Some((activation, hash, now));
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
