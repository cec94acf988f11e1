//! A host's standing part in its group: heartbeats, answers to proposals,
//! and taking the group's activations.

use super::log::*;
use super::{load, Fleet};
use crate::control::validate::validate;
use crate::control::{ActivePlugin, Deployer};
use crate::ports::RowSink;
use anyhow::Result;
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use tokio_util::sync::CancellationToken;

/// How often an activation this host could not take is tried again.
const RETRY_FAILED: std::time::Duration = std::time::Duration::from_secs(30);

/// A host's standing part in the group: answers proposals, takes
/// activations, sends heartbeats; a tombstone for its heartbeat on stop.
pub async fn agent<S: RowSink>(
    deployer: Arc<Deployer<S>>,
    fleet: Arc<Fleet>,
    cancel: CancellationToken,
) {
    let mut next_beat = Instant::now();
    loop {
        let wake = fleet.inbox.changed.notified();
        if Instant::now() >= next_beat {
            if let Err(e) = heartbeat(&deployer, &fleet).await {
                tracing::warn!(error = %e, "fleet heartbeat not sent");
            }
            next_beat = Instant::now() + fleet.settings.heartbeat;
        }
        let max_age = fleet.settings.answer_timeout * 2;
        let to_answer = fleet.state().to_answer(&fleet.settings.member, max_age);
        for proposal in to_answer {
            answer(&deployer, &fleet, proposal).await;
        }
        take_activation(&deployer, &fleet).await;
        deployer.follow_shadow(&fleet).await;
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = wake => {}
            _ = tokio::time::sleep_until(next_beat.into()) => {}
        }
    }
    let key = member_key(&fleet.settings.member);
    if let Err(e) = fleet.log.append(Stream::Members, &key, None).await {
        tracing::debug!(error = %e, "leaving the group's member list");
    }
}

async fn heartbeat<S: RowSink>(deployer: &Deployer<S>, fleet: &Fleet) -> Result<()> {
    let (active, seq) = deployer.slot.current_activation();
    let live = deployer.metrics.live.snapshot();
    let partitions = deployer.metrics.live.assigned();
    let lag = partitions
        .iter()
        .filter_map(|p| live.partitions.get(p).and_then(|p| p.lag))
        .sum();
    let info = active.plugin.info();
    let member = Member {
        member: fleet.settings.member.clone(),
        host: fleet.settings.host.clone(),
        pid: std::process::id(),
        seq,
        name: info.name.clone(),
        version: info.version.clone(),
        hash: active.plugin.hash().to_string(),
        partitions,
        lag,
        ready: deployer.metrics.live.waiting().is_empty(),
        admin: fleet.admin(),
        at_ms: now_ms(),
        shadow: deployer.shadow().map(|r| r.counts()),
        shadow_error: deployer.shadow_error(),
    };
    fleet
        .append(Stream::Members, &member_key(&member.member), &member)
        .await
}

/// Validates a proposal here, exactly as a local deploy would, and answers.
async fn answer<S: RowSink>(deployer: &Deployer<S>, fleet: &Fleet, proposal: Proposal) {
    let result: Result<Arc<ActivePlugin>> = async {
        let plugin = match fleet.take_preloaded(&proposal.id) {
            Some(plugin) => plugin,
            None => {
                let bytes = fleet.bytes_of(&proposal.hash).await?;
                load(
                    &deployer.engine,
                    &deployer.settings,
                    &proposal.source,
                    bytes,
                    &proposal.plugin_config,
                )
                .await?
            }
        };
        if !proposal.cql.is_empty() {
            // The coordinator altered tables: read them afresh.
            deployer.sink.refresh().await;
        }
        validate(
            &plugin,
            &*deployer.sink,
            &deployer.settings,
            deployer.recent.snapshot(),
        )
        .await?;
        Ok(Arc::new(ActivePlugin {
            plugin,
            source: proposal.source.clone(),
            since: SystemTime::now(),
        }))
    }
    .await;
    let (accepted, reason) = match result {
        Ok(candidate) => {
            fleet
                .candidates
                .lock()
                .expect("fleet candidates")
                .insert(proposal.id.clone(), candidate);
            (true, None)
        }
        Err(e) => (false, Some(sluice_model::text::cut(format!("{e:#}"), 2048))),
    };
    tracing::info!(proposal = %proposal.id, plugin = %format!("{} {}", proposal.name, proposal.version), accepted, reason = reason.as_deref().unwrap_or(""), "answered a deploy proposal");
    let a = Answer {
        proposal: proposal.id.clone(),
        member: fleet.settings.member.clone(),
        host: fleet.settings.host.clone(),
        accepted,
        reason,
        at_ms: now_ms(),
    };
    if let Err(e) = fleet
        .append(Stream::Deploys, &answer_key(&a.proposal, &a.member), &a)
        .await
    {
        tracing::warn!(error = %e, "answer to a deploy proposal not sent; the coordinator will time out");
    }
}

/// Takes the group's newest activation, if this host does not run it yet.
async fn take_activation<S: RowSink>(deployer: &Deployer<S>, fleet: &Fleet) {
    let Some(activation) = fleet.state().active().cloned() else {
        return;
    };
    let (_, current_seq) = deployer.slot.current_activation();
    if activation.seq <= current_seq {
        return;
    }
    if let Some((seq, at, _)) = &*fleet.failed.lock().expect("fleet failed") {
        if *seq == activation.seq && at.elapsed() < RETRY_FAILED {
            return;
        }
    }
    let what = format!(
        "activation {} ({} {})",
        activation.seq, activation.name, activation.version
    );
    let candidate = fleet
        .candidates
        .lock()
        .expect("fleet candidates")
        .remove(&activation.proposal);
    let next: Result<Arc<ActivePlugin>> = match candidate {
        Some(c) if c.plugin.hash() == activation.hash => Ok(c),
        // Not validated here (this host joined later, or it is a rollback
        // target): load it and validate it now.
        _ => {
            async {
                let bytes = fleet.bytes_of(&activation.hash).await?;
                let plugin = load(
                    &deployer.engine,
                    &deployer.settings,
                    &activation.source,
                    bytes,
                    &activation.plugin_config,
                )
                .await?;
                validate(&plugin, &*deployer.sink, &deployer.settings, Vec::new()).await?;
                Ok(Arc::new(ActivePlugin {
                    plugin,
                    source: activation.source.clone(),
                    since: SystemTime::now(),
                }))
            }
            .await
        }
    };
    match next {
        Ok(next) => {
            fleet.keep(activation.seq, next.clone());
            deployer.activate_as(next, activation.seq);
            *fleet.failed.lock().expect("fleet failed") = None;
            deployer.metrics.live.set_waiting("fleet", None);
        }
        Err(e) => {
            let why = format!("{e:#}");
            tracing::error!(activation = %what, error = %why, "cannot take the group's active version; keeping the current one (retried every 30 s)");
            deployer.metrics.live.set_waiting(
                "fleet",
                Some(format!("cannot take the group's {what}: {why}")),
            );
            *fleet.failed.lock().expect("fleet failed") =
                Some((activation.seq, Instant::now(), why));
        }
    }
    // Drop candidates of decided proposals.
    let state = fleet.state();
    fleet
        .candidates
        .lock()
        .expect("fleet candidates")
        .retain(|id, _| state.decision(id).is_none());
}
