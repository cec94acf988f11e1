//! One batch of one partition, as named stages: decode -> transform -> bind
//! -> write + dead-letter. [`process`] returns only when every record is
//! written, dead-lettered or filtered, so the caller may then acknowledge the
//! batch's offset. Outages (Kafka, Cassandra, the registry) are retried,
//! never dead-lettered; no record can leave a batch unaccounted for.

use crate::breaker::Breaker;
use crate::config::PipelineConfig;
use crate::control::{ActivePlugin, Deployer, PluginSlot, RecentRecords, SwapHistory};
use crate::dead_letter::{DeadLetter, Reason};
use crate::policy::{self, Disposition};
use crate::ports::{BindError, DeadLetterSink, RowSink, Stamp};
use crate::shadow::LiveOutcome;
use crate::telemetry::{events, Metrics};
use sluice_codec::Decoder;
use sluice_model::{Record, Row, SourceMessage};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What every worker shares.
pub struct Shared<S: RowSink> {
    pub slot: Arc<PluginSlot>,
    pub decoder: Decoder,
    pub sink: Arc<S>,
    pub recent: Arc<RecentRecords>,
    pub breaker: Arc<Breaker>,
    pub deployer: Arc<Deployer<S>>,
    pub history: Arc<SwapHistory>,
    pub dead_letters: Arc<dyn DeadLetterSink>,
    pub metrics: Arc<Metrics>,
    pub config: Arc<PipelineConfig>,
}

/// Why a batch did not finish; its offset must not be stored either way.
#[derive(Debug, PartialEq, Eq)]
pub enum Unfinished {
    /// Given up: the host is stopping or the partition was revoked during an outage.
    Abandoned,
    /// Held by the open breaker (`tripped`: this batch opened it). It is
    /// processed again once a new version is active.
    Held { tripped: bool },
}

/// A decoded record and the message it came from.
type Decoded<'b> = (&'b SourceMessage, Record);

/// Processes one batch with the plugin version `active`.
pub async fn process<S: RowSink>(
    shared: &Shared<S>,
    active: &Arc<ActivePlugin>,
    batch: &[SourceMessage],
    cancel: &CancellationToken,
) -> Result<(), Unfinished> {
    process_after(shared, active, batch, cancel, async { true }).await
}

/// [`process`], with the writes waiting for `before` (the previous batch of
/// the partition being written): decode, transform and bind overlap the
/// previous batch's writes, while writes of one partition, so of one key,
/// stay in order. `before` resolving to false (the previous batch did not
/// finish) abandons this one unwritten.
pub async fn process_after<S: RowSink>(
    shared: &Shared<S>,
    active: &Arc<ActivePlugin>,
    batch: &[SourceMessage],
    cancel: &CancellationToken,
    before: impl Future<Output = bool>,
) -> Result<(), Unfinished> {
    let mut times = events::StageTimes::start();
    let mut dead = Vec::new();
    let records = decode(shared, batch, &mut dead, cancel).await?;
    times.decoded();
    let rows = transform(shared, active, records, &mut dead).await;
    times.transformed();
    hold_if_broken(&shared.breaker, &dead, batch.len())?;
    let bound = bind(shared, active, rows, &mut dead, cancel).await?;
    times.bound();
    if !before.await {
        return Err(Unfinished::Abandoned);
    }
    times.gated();
    let (written, lettered) = tokio::join!(
        write(shared, &bound, cancel),
        dead_letter(shared, active, &dead, cancel)
    );
    written?;
    lettered?;
    times.written();
    events::BatchDone {
        records: batch,
        times,
    }
    .emit(&shared.metrics);
    Ok(())
}

/// Stage 1: bytes to value trees. Undecodable records become dead letters;
/// an unreachable registry holds the batch.
async fn decode<'b, S: RowSink>(
    shared: &Shared<S>,
    batch: &'b [SourceMessage],
    dead: &mut Vec<DeadLetter<'b>>,
    cancel: &CancellationToken,
) -> Result<Vec<Decoded<'b>>, Unfinished> {
    let mut decoded = Vec::with_capacity(batch.len());
    for message in batch {
        let value = retry_outage(cancel, &shared.metrics, "registry", || async {
            match shared.decoder.decode(message.payload.as_deref()).await {
                Err(e) if e.is_transient() => Err(e.to_string()),
                other => Ok(other),
            }
        })
        .await?;
        match value {
            Ok(value) => decoded.push((
                message,
                Record {
                    origin: message.origin.clone(),
                    value,
                },
            )),
            Err(e) => dead.push(DeadLetter::new(message, Reason::Decode, e.to_string())),
        }
    }
    if let Some((_, record)) = decoded.last() {
        shared.recent.push(record.clone());
    }
    Ok(decoded)
}

/// Stage 2: the plugin. Records it asks to retry go round again (their
/// inputs come back from the engine, so nothing is decoded twice), at most
/// `pipeline.plugin-retries` times.
async fn transform<'b, S: RowSink>(
    shared: &Shared<S>,
    active: &Arc<ActivePlugin>,
    records: Vec<Decoded<'b>>,
    dead: &mut Vec<DeadLetter<'b>>,
) -> Vec<(&'b SourceMessage, Vec<Row>)> {
    let retries = shared.config.plugin_retries;
    let default_table = shared.config.default_table.as_str();
    let mut rows = Vec::with_capacity(records.len());
    let mut pending = records;
    let mut attempt = 0;
    // A shadow run gets copies of the sampled records and, below, the
    // active version's outcome of each.
    let shadow = shared.deployer.shadow();
    let mut shadowed: Vec<(usize, Record)> = match &shadow {
        Some(s) => pending
            .iter()
            .enumerate()
            .filter(|(_, (_, r))| s.sampled(r.origin.partition, r.origin.offset))
            .map(|(i, (_, r))| (i, r.clone()))
            .collect(),
        None => Vec::new(),
    };
    let mut compared: Vec<(Record, LiveOutcome)> = Vec::with_capacity(shadowed.len());
    while !pending.is_empty() {
        let (messages, inputs): (Vec<_>, Vec<_>) = pending.into_iter().unzip();
        let plugin = active.clone();
        let call_started = Instant::now();
        let results =
            tokio::task::spawn_blocking(move || plugin.plugin.transform_keeping_retries(inputs))
                .await
                .expect("the plugin call does not panic the host");
        shared
            .metrics
            .plugin_call_seconds(call_started.elapsed().as_secs_f64());
        pending = Vec::new();
        let mut retry_reason = None;
        let mut next_shadowed = shadowed.iter().peekable();
        for (i, (message, (result, input))) in messages.into_iter().zip(results).enumerate() {
            let disposition = match policy::dispose(result, default_table) {
                Disposition::Retry(reason) if attempt >= retries => {
                    policy::retries_exhausted(attempt, &reason)
                }
                other => other,
            };
            if attempt == 0 && next_shadowed.peek().is_some_and(|(j, _)| *j == i) {
                let (_, record) = next_shadowed.next().expect("peeked");
                let live = match &disposition {
                    Disposition::Rows(r) => Some(LiveOutcome::Rows(r.clone())),
                    Disposition::Filtered(why) => Some(LiveOutcome::Filtered(why.clone())),
                    Disposition::Dead(_, error) => Some(LiveOutcome::Failed(error.clone())),
                    // Not settled yet: not compared.
                    Disposition::Retry(_) => None,
                };
                if let Some(live) = live {
                    compared.push((record.clone(), live));
                }
            }
            match disposition {
                Disposition::Rows(r) => rows.push((message, r)),
                Disposition::Filtered(_) => events::RecordFiltered.emit(&shared.metrics),
                Disposition::Dead(reason, error) => {
                    dead.push(DeadLetter::new(message, reason, error))
                }
                Disposition::Retry(reason) => match input {
                    Some(record) => {
                        pending.push((message, record));
                        retry_reason = Some(reason);
                    }
                    // The engine gives every retried input back; should it
                    // not, the record is dead-lettered rather than lost.
                    None => dead.push(DeadLetter::new(
                        message,
                        Reason::PluginRetry,
                        format!("asked to retry, but its input was lost: {reason}"),
                    )),
                },
            }
        }
        if attempt == 0 {
            shadowed.clear();
            if let Some(s) = &shadow {
                s.offer(std::mem::take(&mut compared));
            }
        }
        if let Some(reason) = retry_reason {
            attempt += 1;
            tracing::warn!(records = pending.len(), attempt, %reason, "plugin asked to retry records");
            tokio::time::sleep(Duration::from_millis(200 << attempt.min(5))).await;
        }
    }
    rows
}

/// A plugin failing on most records is broken: hold the batch rather than
/// dead-letter good data.
fn hold_if_broken(
    breaker: &Breaker,
    dead: &[DeadLetter<'_>],
    total: usize,
) -> Result<(), Unfinished> {
    let failed = dead.iter().filter(|d| d.reason.is_plugin_failure()).count() as u64;
    let tripped = breaker.record(failed, total as u64);
    if tripped || breaker.is_open() {
        return Err(Unfinished::Held { tripped });
    }
    Ok(())
}

/// Stage 3: every row against its live table, once. A record with any
/// misfit row is dead-lettered whole, so it is never half written.
async fn bind<'b, S: RowSink>(
    shared: &Shared<S>,
    active: &ActivePlugin,
    rows: Vec<(&'b SourceMessage, Vec<Row>)>,
    dead: &mut Vec<DeadLetter<'b>>,
    cancel: &CancellationToken,
) -> Result<Vec<S::Bound>, Unfinished> {
    let stamp = Stamp {
        column: &shared.config.version_column,
        version: &active.plugin.info().version,
    };
    let mut bound = Vec::with_capacity(rows.len());
    'records: for (message, record_rows) in rows {
        let mut record_bound = Vec::with_capacity(record_rows.len());
        for row in record_rows {
            let name = row.table.as_deref().unwrap_or(&shared.config.default_table);
            let table = retry_outage(cancel, &shared.metrics, "cassandra", || async {
                match shared.sink.table(name).await {
                    Err(BindError::Unavailable(e)) => Err(e),
                    other => Ok(other),
                }
            })
            .await?;
            match table.and_then(|t| S::bind(&t, row, &stamp).map_err(BindError::Misfit)) {
                Ok(b) => record_bound.push(b),
                Err(e) => {
                    dead.push(DeadLetter::new(
                        message,
                        Reason::SchemaMismatch,
                        e.to_string(),
                    ));
                    continue 'records;
                }
            }
        }
        bound.extend(record_bound);
    }
    Ok(bound)
}

/// Stage 4: the bound rows, retried through outages until acknowledged.
async fn write<S: RowSink>(
    shared: &Shared<S>,
    bound: &[S::Bound],
    cancel: &CancellationToken,
) -> Result<(), Unfinished> {
    if bound.is_empty() {
        return Ok(());
    }
    retry_outage(cancel, &shared.metrics, "cassandra", || async {
        shared
            .sink
            .write(bound)
            .await
            .inspect_err(|_| shared.metrics.write_error())
    })
    .await?;
    let mut per_table: std::collections::BTreeMap<&str, u64> = Default::default();
    for b in bound {
        *per_table.entry(S::table_of(b)).or_default() += 1;
    }
    for (table, rows) in per_table {
        events::RowsWritten { table, rows }.emit(&shared.metrics);
    }
    Ok(())
}

/// Stage 5: dead letters, each acknowledged by Kafka before the offset moves.
async fn dead_letter<S: RowSink>(
    shared: &Shared<S>,
    active: &ActivePlugin,
    dead: &[DeadLetter<'_>],
    cancel: &CancellationToken,
) -> Result<(), Unfinished> {
    let info = active.plugin.info();
    for letter in dead {
        retry_outage(cancel, &shared.metrics, "kafka", || {
            shared.dead_letters.send(letter, info)
        })
        .await?;
        events::RecordDeadLettered { letter }.emit(&shared.metrics);
    }
    Ok(())
}

/// Runs `op` until it succeeds, backing off between attempts, and reports
/// `dependency` (kafka, cassandra, registry) down or up as it goes. Gives up
/// only once `cancel` is cancelled (the batch is then abandoned, its offset
/// not stored, and consumed again by the partition's next owner).
async fn retry_outage<T, F, Fut>(
    cancel: &CancellationToken,
    metrics: &Metrics,
    dependency: &str,
    mut op: F,
) -> Result<T, Unfinished>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let mut delay = Duration::from_millis(100);
    let mut failures = 0u32;
    loop {
        match op().await {
            Ok(v) => {
                if failures > 0 {
                    metrics.dependency(dependency, None);
                }
                return Ok(v);
            }
            Err(e) => {
                failures += 1;
                metrics.dependency(dependency, Some(&e));
                if failures % 10 == 0 {
                    tracing::warn!(error = %e, failures, dependency, "still unavailable; retrying (records are held, not dropped)");
                }
                if cancel.is_cancelled() && failures >= 3 {
                    tracing::warn!(dependency, "still unavailable while stopping: abandoning the batch; it will be consumed again");
                    return Err(Unfinished::Abandoned);
                }
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = cancel.cancelled(), if failures < 3 => {}
                }
                // Capped low so the pipeline notices within seconds that the server is back.
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}
