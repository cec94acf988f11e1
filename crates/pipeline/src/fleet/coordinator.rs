//! The host that took a deploy runs it for the group: CQL, bytes,
//! proposal, answers, activation (see the module above).

use super::log::*;
use super::{load, DeployRequest, Fleet, Refused, Superseded};
use crate::control::Deployed;
use crate::control::Deployer;
use crate::ports::RowSink;
use anyhow::{anyhow, bail, Result};
use std::time::{Duration, Instant};

/// How long the coordinator waits for its own host to take an activation.
const SELF_ACTIVATION_WAIT: Duration = Duration::from_secs(20);

/// Runs a deploy as its coordinator: see the module's documentation.
pub async fn coordinate<S: RowSink>(
    deployer: &Deployer<S>,
    fleet: &Fleet,
    request: DeployRequest,
) -> Result<Deployed> {
    let me = fleet.settings.member.clone();
    let hash = sluice_engine::content_hash(&request.bytes);
    // Compile here first: a file that is not a plugin never reaches the log.
    let plugin = load(
        &deployer.engine,
        &deployer.settings,
        &request.source,
        request.bytes.clone(),
        &request.plugin_config,
    )
    .await?;
    let current = deployer.slot.current();
    fleet.sync().await?;
    still_replaces(fleet, &request)?;
    if let Some(active) = fleet.state().active() {
        if active.hash == hash && active.plugin_config == request.plugin_config {
            bail!(
                "{} ({}) is already the group's active version (activation {})",
                plugin.info(),
                request.source,
                active.seq
            );
        }
    } else if current.plugin.hash() == hash {
        bail!(
            "{} ({}) is already the active version",
            plugin.info(),
            request.source
        );
    }
    if !request.cql.is_empty() {
        deployer
            .sink
            .alter(&request.cql)
            .await
            .map_err(|e| anyhow!("the deploy's CQL was refused: {e}"))?;
    }
    fleet.put_bytes(&hash, &request.bytes).await?;
    let id = format!("{}-{}", now_ms(), &hash[..12]);
    let proposal = Proposal {
        id: id.clone(),
        hash: hash.clone(),
        name: plugin.info().name.clone(),
        version: plugin.info().version.clone(),
        size: request.bytes.len() as u64,
        plugin_config: request.plugin_config.clone(),
        cql: request.cql.clone(),
        source: request.source.clone(),
        coordinator: me.clone(),
        at_ms: now_ms(),
        restores: request.restores,
    };
    // This host's answer validates this load rather than loading it again.
    fleet.preload(&id, plugin);
    fleet
        .append(Stream::Deploys, &proposal_key(&id), &proposal)
        .await?;
    tracing::info!(proposal = %id, plugin = %format!("{} {}", proposal.name, proposal.version), "deploy proposed to the group; waiting for every member's answer");

    let verdict = collect_answers(fleet, &id).await;
    let answers = fleet.state().answers(&id);
    let refuse = |reason: String| Refused {
        reason,
        answers: answers.clone(),
    };
    if let Err(reason) = verdict {
        decide(fleet, &id, None, Some(reason.clone())).await?;
        return Err(refuse(reason).into());
    }
    fleet.sync().await?;
    if let Err(superseded) = still_replaces(fleet, &request) {
        decide(fleet, &id, None, Some(superseded.to_string())).await?;
        return Err(superseded.into());
    }
    let seq = fleet.state().active_seq() + 1;
    let activation = Activation {
        seq,
        proposal: id.clone(),
        hash: hash.clone(),
        name: proposal.name.clone(),
        version: proposal.version.clone(),
        plugin_config: proposal.plugin_config.clone(),
        source: proposal.source.clone(),
        by: me.clone(),
        at_ms: now_ms(),
        restores: proposal.restores,
    };
    fleet
        .append(Stream::Deploys, &activation_key(seq), &activation)
        .await?;
    fleet.sync().await?;
    let won = fleet
        .state()
        .activation(seq)
        .map(|a| a.proposal == id)
        .unwrap_or(false);
    decide(
        fleet,
        &id,
        won.then_some(seq),
        (!won).then(|| format!("another deploy took activation {seq} first")),
    )
    .await?;
    if !won {
        // A rollback racing another member's rollback of the same version.
        still_replaces(fleet, &request)?;
        return Err(refuse(format!(
            "another deploy took activation {seq} first; deploy again if this version should follow it"
        ))
        .into());
    }
    // Answer once this host runs it too (the others switch as they read it).
    let waited = Instant::now();
    while deployer.slot.current_activation().1 < seq && waited.elapsed() < SELF_ACTIVATION_WAIT {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Deployed {
        name: proposal.name,
        version: proposal.version,
        hash,
        samples: deployer.recent.snapshot().len(),
        activation: Some(seq),
        answers,
    })
}

/// Writes the proposal's decision: the activation it became, or why not.
async fn decide(
    fleet: &Fleet,
    id: &str,
    activated: Option<u64>,
    reason: Option<String>,
) -> Result<()> {
    let decision = Decision {
        proposal: id.to_string(),
        activated,
        reason,
        at_ms: now_ms(),
    };
    fleet
        .append(Stream::Deploys, &decision_key(id), &decision)
        .await
}

/// For a conditional deploy: the version it replaces is still the group's
/// active one (checked before the proposal and again before activating).
fn still_replaces(fleet: &Fleet, request: &DeployRequest) -> Result<(), Superseded> {
    let Some(hash) = &request.replaces else {
        return Ok(());
    };
    let state = fleet.state();
    match state.active() {
        Some(active) if &active.hash != hash => Err(Superseded {
            version: state
                .activations_of(hash)
                .map(|a| format!("{} {}", a.name, a.version))
                .unwrap_or_else(|| format!("the version {}", &hash[..hash.len().min(12)])),
            seq: active.seq,
        }),
        _ => Ok(()),
    }
}

/// Waits until every live member accepted (Ok), one rejected, or the time is up.
async fn collect_answers(fleet: &Fleet, id: &str) -> Result<(), String> {
    let started = Instant::now();
    let within = fleet.settings.live_within();
    loop {
        let wake = fleet.inbox.changed.notified();
        {
            let state = fleet.state();
            let answers = state.answers(id);
            if let Some(no) = answers.iter().find(|a| !a.accepted) {
                return Err(format!(
                    "host {} ({}) rejected it: {}",
                    no.host,
                    no.member,
                    no.reason.as_deref().unwrap_or("no reason given")
                ));
            }
            let live = state.live_members(within);
            let silent: Vec<String> = live
                .iter()
                .map(|(m, _)| m)
                .filter(|m| !answers.iter().any(|a| a.member == m.member))
                .map(|m| format!("{} ({})", m.host, m.member))
                .collect();
            let me_answered = answers.iter().any(|a| a.member == fleet.settings.member);
            if silent.is_empty() && me_answered {
                return Ok(());
            }
            if started.elapsed() > fleet.settings.answer_timeout {
                return Err(format!(
                    "no answer within {:?} from {}",
                    fleet.settings.answer_timeout,
                    if silent.is_empty() {
                        "this host".to_string()
                    } else {
                        silent.join(", ")
                    }
                ));
            }
        }
        let _ = tokio::time::timeout(Duration::from_millis(250), wake).await;
    }
}
