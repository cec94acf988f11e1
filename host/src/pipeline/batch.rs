//! One batch of one partition, start to finish: decode, transform, check
//! rows against their tables, write rows and dead letters. It returns only
//! when every record is written, dead-lettered or filtered, so the caller
//! may then store the offset. Outages (Kafka, Cassandra, the registry) are
//! retried, never dead-lettered.

use super::slot::ActivePlugin;
use crate::decode::Decoder;
use crate::dlq::{DeadLetter, DeadLetters, Reason};
use crate::engine::CallError;
use crate::metrics::Metrics;
use crate::model::{Cell, Outcome, Record, Row};
use crate::sink::{Sink, TableSchema};
use crate::source::SourceMessage;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What every worker shares.
pub(crate) struct Shared {
    pub slot: Arc<super::PluginSlot>,
    pub decoder: Decoder,
    pub sink: Arc<Sink>,
    pub recent: Arc<super::deploy::RecentRecords>,
    pub breaker: Arc<super::breaker::Breaker>,
    pub deployer: Arc<super::Deployer>,
    pub history: Arc<super::history::SwapHistory>,
    pub dead_letters: DeadLetters,
    pub metrics: Arc<Metrics>,
    pub default_table: String,
    pub version_column: String,
    pub plugin_retries: u32,
}

/// Why a batch did not finish; its offset must not be stored either way.
#[derive(Debug)]
pub(crate) enum Unfinished {
    /// Given up: the host is stopping or the partition was revoked during an outage.
    Abandoned,
    /// Held by the open breaker (`tripped`: this batch opened it). It is
    /// processed again once a new version is active.
    Held { tripped: bool },
}
use Unfinished::Abandoned;

/// Processes one batch with the plugin version `active`.
pub(crate) async fn process(
    shared: &Shared,
    active: &Arc<ActivePlugin>,
    batch: &[SourceMessage],
    stop: &AtomicBool,
) -> Result<(), Unfinished> {
    let started = Instant::now();
    let mut dead: Vec<DeadLetter<'_>> = Vec::new();

    // Decode.
    let mut decoded: Vec<(&SourceMessage, Record)> = Vec::with_capacity(batch.len());
    for message in batch {
        let value = retry_outage(stop, &shared.metrics, "registry", || async {
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

    // Transform; records the plugin asks to retry go round again, decoded anew
    // (a call consumes its input).
    let mut rows: Vec<(&SourceMessage, Vec<Row>)> = Vec::new();
    let mut pending = decoded;
    let mut attempt = 0;
    while !pending.is_empty() {
        let (messages, records): (Vec<_>, Vec<_>) = pending.into_iter().unzip();
        let plugin = active.clone();
        let call_started = Instant::now();
        let results = tokio::task::spawn_blocking(move || plugin.plugin.transform(records))
            .await
            .expect("the plugin call does not panic the host");
        shared
            .metrics
            .plugin_call_seconds(call_started.elapsed().as_secs_f64());
        let mut retry: Vec<(&SourceMessage, String)> = Vec::new();
        for (message, result) in messages.into_iter().zip(results) {
            match result {
                Ok(Outcome::Rows(r)) => rows.push((message, r)),
                Ok(Outcome::Filtered(_)) => shared.metrics.filtered(),
                Ok(Outcome::BadInput { field, message: m }) => dead.push(DeadLetter::new(
                    message,
                    Reason::PluginError,
                    match field {
                        Some(f) => format!("bad input in `{f}`: {m}"),
                        None => m,
                    },
                )),
                Ok(Outcome::Retry(reason)) if attempt < shared.plugin_retries => {
                    retry.push((message, reason))
                }
                Ok(Outcome::Retry(reason)) => dead.push(DeadLetter::new(
                    message,
                    Reason::PluginRetry,
                    format!("still asking to retry after {attempt} retries: {reason}"),
                )),
                Err(e) => dead.push(DeadLetter::new(
                    message,
                    match e {
                        CallError::Limit(_) => Reason::PluginLimit,
                        _ => Reason::PluginTrap,
                    },
                    e.to_string(),
                )),
            }
        }
        pending = Vec::new();
        if let Some((_, reason)) = retry.first() {
            attempt += 1;
            tracing::warn!(records = retry.len(), attempt, %reason, "plugin asked to retry records");
            tokio::time::sleep(Duration::from_millis(200 << attempt.min(5))).await;
        }
        for (message, _) in retry {
            // These decoded a moment ago (the call consumed them); decode them
            // again, and dead-letter rather than drop one that no longer does.
            match shared.decoder.decode(message.payload.as_deref()).await {
                Ok(value) => pending.push((
                    message,
                    Record {
                        origin: message.origin.clone(),
                        value,
                    },
                )),
                Err(e) => dead.push(DeadLetter::new(message, Reason::Decode, e.to_string())),
            }
        }
    }

    // A plugin failing on most records is broken: hold the batch rather
    // than dead-letter good data.
    let failed = dead
        .iter()
        .filter(|d| {
            matches!(
                d.reason,
                Reason::PluginError | Reason::PluginTrap | Reason::PluginLimit
            )
        })
        .count() as u64;
    let tripped = shared.breaker.record(failed, batch.len() as u64);
    if tripped || shared.breaker.is_open() {
        return Err(Unfinished::Held { tripped });
    }

    // Check every row against its table; a record with any misfit row is
    // dead-lettered whole, so it is never half written.
    let info = active.plugin.info().clone();
    let mut to_write: Vec<(Arc<TableSchema>, Row)> = Vec::new();
    'records: for (message, record_rows) in rows {
        let mut checked = Vec::with_capacity(record_rows.len());
        for mut row in record_rows {
            let table = row
                .table
                .clone()
                .unwrap_or_else(|| shared.default_table.clone());
            let schema = match shared.sink.table(&table).await {
                Ok(s) => s,
                Err(e) => {
                    dead.push(DeadLetter::new(
                        message,
                        Reason::SchemaMismatch,
                        format!("{e:#}"),
                    ));
                    continue 'records;
                }
            };
            if schema
                .columns
                .get(&shared.version_column)
                .map(String::as_str)
                == Some("text")
                && !row.columns.iter().any(|(n, _)| n == &shared.version_column)
            {
                row.columns.push((
                    shared.version_column.clone(),
                    Cell::Text(info.version.clone()),
                ));
            }
            if let Err(e) = schema.bind(&row) {
                dead.push(DeadLetter::new(message, Reason::SchemaMismatch, e));
                continue 'records;
            }
            checked.push((schema, row));
        }
        to_write.extend(checked);
    }

    // Write rows and dead letters; both must be acknowledged before the offset moves.
    let refs: Vec<(Arc<TableSchema>, &Row)> =
        to_write.iter().map(|(s, r)| (s.clone(), r)).collect();
    let write_rows = async {
        if refs.is_empty() {
            return Ok(());
        }
        retry_outage(stop, &shared.metrics, "cassandra", || async {
            shared.sink.write(&refs).await.map_err(|e| {
                shared.metrics.write_error();
                e.to_string()
            })
        })
        .await?;
        let mut per_table: std::collections::BTreeMap<&str, u64> = Default::default();
        for (schema, _) in &refs {
            *per_table.entry(schema.name.as_str()).or_default() += 1;
        }
        for (table, n) in per_table {
            shared.metrics.rows_written(table, n);
        }
        Ok::<(), Unfinished>(())
    };
    let write_dead = async {
        for letter in &dead {
            retry_outage(stop, &shared.metrics, "kafka", || async {
                shared
                    .dead_letters
                    .send(letter, (&info.name, &info.version))
                    .await
                    .map_err(|e| e.to_string())
            })
            .await?;
            let o = &letter.message.origin;
            shared.metrics.dead_letter(
                letter.reason.as_str(),
                &letter.error,
                format!("{}/{}@{}", o.topic, o.partition, o.offset),
            );
            tracing::warn!(topic = %o.topic, partition = o.partition, offset = o.offset, reason = letter.reason.as_str(), error = %letter.error, "record dead-lettered");
        }
        Ok::<(), Unfinished>(())
    };
    let (a, b) = tokio::join!(write_rows, write_dead);
    a?;
    b?;
    shared
        .metrics
        .batch_seconds(started.elapsed().as_secs_f64());
    // End-to-end latency: from each record's Kafka timestamp to now, when
    // its rows (or its dead letter) are acknowledged.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    for message in batch {
        if let Some(ts) = message.origin.timestamp {
            shared
                .metrics
                .record_latency_seconds((now_ms - ts).max(0) as f64 / 1e3);
        }
    }
    Ok(())
}

/// Runs `op` until it succeeds, backing off between attempts, and reports
/// `dependency` (kafka, cassandra, registry) down or up as it goes. Gives up
/// only when `stop` is set (then the batch is abandoned, its offset not stored).
async fn retry_outage<T, F, Fut>(
    stop: &AtomicBool,
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
                if stop.load(Ordering::SeqCst) && failures >= 3 {
                    tracing::warn!(dependency, "still unavailable while stopping: abandoning the batch; it will be consumed again");
                    return Err(Abandoned);
                }
                tokio::time::sleep(delay).await;
                // Capped low so the pipeline notices within seconds that the server is back.
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}
