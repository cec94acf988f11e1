//! One assigned partition: gather a batch, process it, acknowledge its
//! offset, repeat, with the next batch decoded and transformed while the
//! previous one is written; stop after the in-flight batches when told to.
//!
//! In a fleet, each batch is split into runs of one owning activation
//! ([`crate::fleet::ownership`]): offsets a previous owner may have
//! transformed go to the version that owned them, and a barrier is recorded
//! before the first batch of a new activation on the partition is written
//! (while that batch is decoded and transformed, so a swap costs no extra
//! round trip).

use crate::control::{ActivePlugin, Stall};
use crate::fleet::{self, ownership::PartitionPlan, Fleet};
use crate::ports::{Ack, PartitionFeed, RowSink};
use crate::stages::{self, Shared, Unfinished};
use crate::telemetry::events;
use sluice_model::SourceMessage;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long a worker waits before asking the control log again.
const CONTROL_RETRY: Duration = Duration::from_secs(1);

/// The activation and version of the previous run and when it was
/// acknowledged: a swap's stall is measured from there to the new version's
/// first acknowledgement.
type Last = Option<(u64, String, Instant)>;

/// One run of a batch (all of it, unless owners change inside it) and the
/// version that transforms it.
#[derive(Clone)]
struct Run {
    start: usize,
    end: usize,
    active: Arc<ActivePlugin>,
    activation: u64,
}

/// A barrier being recorded: true once it is in the control log, false if
/// the partition stopped first. The run it opens is written only after it.
type BarrierWrite = tokio::task::JoinHandle<bool>;

/// A batch being processed in a task of its own, so the next batch can be
/// decoded and transformed while this one is written.
struct InFlight {
    runs: Vec<Run>,
    next_offset: i64,
    task: tokio::task::JoinHandle<Finished>,
    /// Resolves (true) once this batch is written: the next one's writes wait for it.
    written: Option<oneshot::Receiver<bool>>,
}

/// What a batch's task hands back.
struct Finished {
    messages: Vec<SourceMessage>,
    /// Runs written and dead-lettered, in order.
    done: usize,
    failure: Option<Unfinished>,
    /// It stopped because the batch before it did not finish.
    gated_out: bool,
}

/// Runs one partition until its feed is cancelled or closed. Two batches
/// at most are in flight: while one is written, the next is decoded,
/// transformed and bound; its writes start once the first's are done, and
/// acknowledgements go strictly in offset order.
pub async fn run<S: RowSink>(
    mut feed: PartitionFeed,
    shared: Arc<Shared<S>>,
    acks: std_mpsc::Sender<Ack>,
) {
    let (max, linger) = (shared.config.batch_size, shared.config.batch_linger);
    let (topic, partition) = (feed.topic.clone(), feed.partition);
    shared.metrics.live.assign(&topic, partition, true);
    let fleet = shared.deployer.fleet.clone();
    let fleet = fleet.as_ref();
    let mut plan = match fleet {
        Some(f) => match takeover(f, &feed).await {
            Some(plan) => Some(plan),
            None => return stopped(&shared, &topic, partition),
        },
        None => None,
    };
    let mut done = Done {
        shared: &shared,
        fleet,
        acks: &acks,
        topic: &topic,
        partition,
        last: None,
    };
    let mut inflight: Option<InFlight> = None;
    'batches: loop {
        // Waiting for records, the batch in flight is finished and
        // acknowledged as soon as it is done, not when the next one comes.
        let first = loop {
            tokio::select! {
                biased;
                _ = feed.cancel.cancelled() => break 'batches,
                finished = wait(&mut inflight) => {
                    let job = inflight.take().expect("only polled with a batch in flight");
                    if !done.finish(job, finished, plan.as_mut(), &feed.cancel).await {
                        break 'batches;
                    }
                }
                m = feed.messages.recv() => match m {
                    Some(m) => break m,
                    None => break 'batches,
                },
            }
        };
        let mut messages = vec![first];
        // Nothing in flight: the records already here go at once, since
        // waiting to fill the batch would only add latency at a light load.
        take_ready(&mut feed, &mut messages, max);
        // With a batch in flight the next one fills until it is written
        // (or the linger ends): the batch size follows the load.
        let deadline = Instant::now() + linger;
        while inflight.is_some() && messages.len() < max {
            tokio::select! {
                biased;
                finished = wait(&mut inflight) => {
                    let job = inflight.take().expect("only polled with a batch in flight");
                    if !done.finish(job, finished, plan.as_mut(), &feed.cancel).await {
                        break 'batches;
                    }
                    take_ready(&mut feed, &mut messages, max);
                }
                m = tokio::time::timeout_at(deadline, feed.messages.recv()) => match m {
                    Ok(Some(m)) => messages.push(m),
                    _ => break,
                },
            }
        }
        let next_offset = messages
            .last()
            .map(|m| m.origin.offset + 1)
            .unwrap_or_default();
        let Some((runs, barriers)) =
            resolve(&shared, fleet, plan.as_mut(), &messages, &feed.cancel).await
        else {
            break;
        };
        let (written_tx, written_rx) = oneshot::channel();
        let before = inflight.as_mut().and_then(|f| f.written.take());
        let task = tokio::spawn(batch_task(
            shared.clone(),
            runs.clone(),
            barriers,
            messages,
            before,
            written_tx,
            feed.cancel.clone(),
        ));
        let next = InFlight {
            runs,
            next_offset,
            task,
            written: Some(written_rx),
        };
        if shared.config.batches_in_flight <= 1 {
            let mut only = next;
            let finished = (&mut only.task).await;
            if !done
                .finish(only, finished, plan.as_mut(), &feed.cancel)
                .await
            {
                break;
            }
            continue;
        }
        if let Some(mut previous) = inflight.replace(next) {
            let finished = (&mut previous.task).await;
            if !done
                .finish(previous, finished, plan.as_mut(), &feed.cancel)
                .await
            {
                break;
            }
        }
    }
    // The batch still in flight: finished (or abandoned) and acknowledged.
    if let Some(mut last) = inflight.take() {
        let finished = (&mut last.task).await;
        done.finish(last, finished, plan.as_mut(), &feed.cancel)
            .await;
    }
    stopped(&shared, &topic, partition)
}

/// Adds the records already in the feed to `messages`, up to `max`, without waiting.
fn take_ready(feed: &mut PartitionFeed, messages: &mut Vec<SourceMessage>, max: usize) {
    while messages.len() < max {
        match feed.messages.try_recv() {
            Ok(m) => messages.push(m),
            Err(_) => break,
        }
    }
}

/// The batch in flight's result, once it is done; never, without one.
async fn wait(inflight: &mut Option<InFlight>) -> Result<Finished, tokio::task::JoinError> {
    match inflight {
        Some(job) => (&mut job.task).await,
        None => std::future::pending().await,
    }
}

/// Processes a batch's runs in order; the first run's writes wait for the
/// previous batch's, and a run's writes for its barrier.
async fn batch_task<S: RowSink>(
    shared: Arc<Shared<S>>,
    runs: Vec<Run>,
    barriers: Vec<Option<BarrierWrite>>,
    messages: Vec<SourceMessage>,
    before: Option<oneshot::Receiver<bool>>,
    written: oneshot::Sender<bool>,
    cancel: CancellationToken,
) -> Finished {
    let mut before = before;
    let mut gated_out = false;
    let mut finished = 0;
    let mut failure = None;
    for (run, barrier) in runs.iter().zip(barriers) {
        let gate = async {
            let ok = match before.take() {
                Some(rx) => rx.await.unwrap_or(false),
                None => true,
            };
            gated_out = !ok;
            // Stopped before its barrier was recorded: abandoned, not gated out.
            ok && match barrier {
                Some(b) => b.await.unwrap_or(false),
                None => true,
            }
        };
        let batch = &messages[run.start..run.end];
        match stages::process_after(&shared, &run.active, batch, &cancel, gate).await {
            Ok(()) => finished += 1,
            Err(u) => {
                failure = Some(u);
                break;
            }
        }
    }
    let _ = written.send(failure.is_none());
    Finished {
        messages,
        done: finished,
        failure,
        gated_out,
    }
}

/// The owners of a batch's runs, with the barriers (in a fleet) being
/// recorded for runs that open an activation on the partition. None: the
/// feed was cancelled meanwhile.
async fn resolve<S: RowSink>(
    shared: &Shared<S>,
    fleet: Option<&Arc<Fleet>>,
    plan: Option<&mut PartitionPlan>,
    messages: &[SourceMessage],
    cancel: &CancellationToken,
) -> Option<(Vec<Run>, Vec<Option<BarrierWrite>>)> {
    let (Some(f), Some(p)) = (fleet, plan) else {
        let (active, activation) = shared.slot.current_activation();
        let run = Run {
            start: 0,
            end: messages.len(),
            active,
            activation,
        };
        return Some((vec![run], vec![None]));
    };
    let offsets: Vec<i64> = messages.iter().map(|m| m.origin.offset).collect();
    let (mut runs, mut barriers) = (Vec::new(), Vec::new());
    for (start, end, owner) in p.runs(&offsets, shared.slot.current_activation().1) {
        let (active, activation, barrier) =
            owned(shared, f, p, owner, &messages[start].origin, cancel).await?;
        runs.push(Run {
            start,
            end,
            active,
            activation,
        });
        barriers.push(barrier);
    }
    Some((runs, barriers))
}

/// What a worker does with batches that come back from their tasks.
struct Done<'a, S: RowSink> {
    shared: &'a Arc<Shared<S>>,
    fleet: Option<&'a Arc<Fleet>>,
    acks: &'a std_mpsc::Sender<Ack>,
    topic: &'a str,
    partition: i32,
    last: Last,
}

impl<S: RowSink> Done<'_, S> {
    /// Waits for a batch, finishes what it left (a batch held by the
    /// breaker, or one whose predecessor was), and acknowledges it. False:
    /// the partition stops (the host is stopping or it was revoked).
    async fn finish(
        &mut self,
        job: InFlight,
        finished: Result<Finished, tokio::task::JoinError>,
        mut plan: Option<&mut PartitionPlan>,
        cancel: &CancellationToken,
    ) -> bool {
        let Ok(f) = finished else {
            tracing::error!(topic = %self.topic, partition = self.partition, "a batch task failed; its records will be consumed again");
            return false;
        };
        for run in &job.runs[..f.done] {
            self.took_over(&f.messages[run.start..run.end], &run.active, run.activation);
        }
        match f.failure {
            None => {}
            Some(Unfinished::Abandoned) if !f.gated_out => return false,
            Some(failure) => {
                if let Unfinished::Held { tripped: true } = failure {
                    on_trip(self.shared).await;
                }
                // Held, or its predecessor was: nothing of the rest was
                // written, so the version active now (after a rollback or a
                // fix) takes it, one run at a time. Never the held one again,
                // and never one older than a barrier already written.
                for run in &job.runs[f.done..] {
                    let batch = &f.messages[run.start..run.end];
                    let owner = self.shared.slot.current_activation().1;
                    let Some((active, activation)) = process_run(
                        self.shared,
                        self.fleet,
                        plan.as_deref_mut(),
                        owner,
                        batch,
                        cancel,
                    )
                    .await
                    else {
                        return false;
                    };
                    self.took_over(batch, &active, activation);
                }
            }
        }
        let _ = self.acks.send(Ack {
            topic: self.topic.to_string(),
            partition: self.partition,
            next_offset: job.next_offset,
        });
        self.shared
            .metrics
            .live
            .committed(self.topic, self.partition, job.next_offset);
        true
    }

    fn took_over(&mut self, run: &[SourceMessage], active: &Arc<ActivePlugin>, activation: u64) {
        took_over(
            self.shared,
            self.topic,
            self.partition,
            run,
            active,
            activation,
            &mut self.last,
        );
    }
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
    fleet: Option<&Arc<Fleet>>,
    mut plan: Option<&mut PartitionPlan>,
    mut owner: u64,
    run: &[SourceMessage],
    cancel: &CancellationToken,
) -> Option<(Arc<ActivePlugin>, u64)> {
    let first = run.first()?.origin.clone();
    loop {
        let (active, activation) = match (fleet, plan.as_deref_mut()) {
            (Some(f), Some(p)) => {
                let (active, activation, barrier) =
                    owned(shared, f, p, owner, &first, cancel).await?;
                if let Some(b) = barrier {
                    if !b.await.unwrap_or(false) {
                        return None;
                    }
                }
                (active, activation)
            }
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

/// The version of activation `owner`, and, when this is its first run on
/// the partition, its barrier being recorded.
async fn owned<S: RowSink>(
    shared: &Shared<S>,
    fleet: &Arc<Fleet>,
    plan: &mut PartitionPlan,
    owner: u64,
    first: &sluice_model::Origin,
    cancel: &CancellationToken,
) -> Option<(Arc<ActivePlugin>, u64, Option<BarrierWrite>)> {
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
    let barrier = plan.needs_barrier(first.offset, owner).then(|| {
        // Noted now: every later write on the partition waits for this run's,
        // which wait for the barrier.
        plan.add(first.offset, owner);
        tokio::spawn(record_barrier(
            shared.metrics.clone(),
            fleet.clone(),
            first.clone(),
            owner,
            version.plugin.hash().to_string(),
            cancel.clone(),
        ))
    });
    Some((version, owner, barrier))
}

/// Records that activation `owner` owns the partition from `first` on,
/// retrying until it is written (true) or the partition stops (false).
async fn record_barrier(
    metrics: Arc<crate::telemetry::Metrics>,
    fleet: Arc<Fleet>,
    first: sluice_model::Origin,
    owner: u64,
    hash: String,
    cancel: CancellationToken,
) -> bool {
    loop {
        match fleet
            .barrier(&first.topic, first.partition, first.offset, owner, &hash)
            .await
        {
            Ok(()) => return true,
            Err(e) => {
                metrics.dependency("kafka", Some(&e));
                tracing::warn!(topic = %first.topic, partition = first.partition, error = %e, "cannot record the partition's barrier; retrying before writing");
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return false,
            _ = tokio::time::sleep(CONTROL_RETRY) => {}
        }
    }
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
    let tripped = shared.slot.current();
    events::BreakerTripped {
        plugin: tripped.plugin.info(),
        config,
    }
    .emit(&shared.metrics);
    if config.rollback {
        // Only from the version that tripped: another member's breaker (or
        // an operator) may have rolled it back already.
        match shared.deployer.rollback_from(tripped.plugin.hash()).await {
            Ok(Some(info)) => {
                tracing::warn!(plugin = %info, "breaker: rolled back automatically (breaker.rollback = true)")
            }
            Ok(None) => {
                tracing::info!(plugin = %tripped.plugin.info(), "breaker: no rollback needed, the version that tripped was already replaced")
            }
            Err(e) => {
                tracing::error!(error = %e, "breaker: automatic rollback impossible; waiting for an operator")
            }
        }
    }
}
