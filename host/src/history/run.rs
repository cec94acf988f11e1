//! What replay and reprocess share: the plugin (loaded and validated against
//! the live tables, or refused), the pipeline parts around it, the batch
//! loop over a [`RangeReader`], and the summary.
//!
//! The loop: read a batch of the range, pick the records to run (a replay
//! restores letters and passes some over), [`stages::process`] them exactly
//! as the live pipeline does (rows stamped with the plugin's version,
//! failures dead-lettered), then commit the batch's offsets to the command's
//! group. Nothing is committed before Kafka and Cassandra acknowledged it,
//! so a run stopped anywhere and started again picks up where it left off.

use super::progress::Counters;
use crate::config::Config;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use sluice_engine::{Engine, Plugin};
use sluice_kafka::range::Span;
use sluice_kafka::RangeReader;
use sluice_model::SourceMessage;
use sluice_pipeline::stages::{self, Unfinished};
use sluice_pipeline::{
    Breaker, BreakerConfig, CancellationToken, DeadLetterSink, Deployer, Metrics, PluginSlot,
    RecentRecords, RowSink, Shared, SwapHistory,
};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// What a run did. Counts are records unless named rows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// "dlq replay" or "reprocess".
    pub command: String,
    /// The topic read (the dead-letter topic for a replay).
    pub topic: String,
    /// The consumer group that holds the progress.
    pub group: String,
    /// `name version` of the plugin that ran.
    pub plugin: String,
    pub dry_run: bool,
    /// Every partition's range as read (`start`: where this run began).
    pub range: Vec<Span>,
    /// Records read from the range.
    pub read: u64,
    /// Records handed to the plugin.
    pub processed: u64,
    /// Records whose rows were written.
    pub written: u64,
    /// Rows written.
    pub rows: u64,
    /// Records the plugin filtered out.
    pub filtered: u64,
    /// Records dead-lettered (again), by reason.
    pub dead_lettered: BTreeMap<String, u64>,
    /// Records passed over without running the plugin, by why.
    pub skipped: BTreeMap<String, u64>,
    /// Stopped (SIGTERM) before the end of the range; run it again to go on.
    pub interrupted: bool,
    pub elapsed_ms: u64,
}

impl Summary {
    /// An empty summary of `command` reading `reader`'s range.
    pub fn new(
        command: &str,
        group: &str,
        plugin: &sluice_model::PluginInfo,
        reader: &RangeReader,
        dry_run: bool,
        topic: &str,
    ) -> Self {
        Summary {
            command: command.into(),
            topic: topic.into(),
            group: group.into(),
            plugin: format!("{} {}", plugin.name, plugin.version),
            dry_run,
            range: reader.spans().to_vec(),
            ..Summary::default()
        }
    }

    pub fn dead_lettered_total(&self) -> u64 {
        self.dead_lettered.values().sum()
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// The summary for people: one line a count.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let mut line = |k: &str, v: String| t.push_str(&format!("  {k:<22} {v}\n"));
        line("plugin", self.plugin.clone());
        line("topic", self.topic.clone());
        line("group", self.group.clone());
        line(
            "range",
            self.range
                .iter()
                .map(|s| format!("{}:[{}, {})", s.partition, s.start, s.end))
                .collect::<Vec<_>>()
                .join(" "),
        );
        line("read", self.read.to_string());
        line("processed", self.processed.to_string());
        line("written", format!("{} ({} rows)", self.written, self.rows));
        line("filtered", self.filtered.to_string());
        line("dead-lettered", self.dead_lettered_total().to_string());
        for (reason, n) in &self.dead_lettered {
            line(&format!("  {reason}"), n.to_string());
        }
        line("skipped", self.skipped_total().to_string());
        for (why, n) in &self.skipped {
            line(&format!("  {why}"), n.to_string());
        }
        let how = match (self.interrupted, self.dry_run) {
            (true, _) => "interrupted: run it again to go on (offsets are committed)",
            (false, true) => "complete (dry run: nothing written or committed)",
            (false, false) => "complete",
        };
        line("status", how.to_string());
        line("elapsed", format!("{:.1} s", self.elapsed_ms as f64 / 1e3));
        format!("{}:\n{t}", self.command)
    }
}

/// The plugin `path`, loaded with the config's settings.
pub async fn load_plugin(engine: &Engine, config: &Config, path: &Path) -> Result<Plugin> {
    let settings = crate::pipeline::deploy_settings(config);
    let (engine, path) = (engine.clone(), path.to_path_buf());
    let plugin = tokio::task::spawn_blocking(move || {
        Plugin::load_file(&engine, &path, settings.plugin_config, settings.limits)
    })
    .await??;
    Ok(plugin)
}

/// The pipeline's parts around `plugin` (validated first: a version that
/// traps on the samples or writes rows that do not fit refuses to start).
pub async fn shared<S: RowSink>(
    engine: Engine,
    config: &Config,
    plugin: Plugin,
    sink: Arc<S>,
    dead_letters: Arc<dyn DeadLetterSink>,
    breaker: BreakerConfig,
) -> Result<Shared<S>> {
    let settings = crate::pipeline::deploy_settings(config);
    let info = plugin.info().clone();
    sluice_pipeline::control::validate::validate(&plugin, &*sink, &settings, Vec::new())
        .await
        .with_context(|| format!("plugin {info} fails validation; refusing to start"))?;
    let metrics = Arc::new(Metrics::new());
    let slot = Arc::new(PluginSlot::new(plugin, "--plugin".into()));
    let recent = Arc::new(RecentRecords::default());
    let history = Arc::new(SwapHistory::default());
    let breaker = Arc::new(Breaker::new(breaker));
    let deployer = Arc::new(Deployer::new(
        engine,
        slot.clone(),
        sink.clone(),
        settings,
        recent.clone(),
        metrics.clone(),
        history.clone(),
        breaker.clone(),
    ));
    Ok(Shared {
        slot,
        decoder: crate::pipeline::decoder(config)?,
        sink,
        recent,
        breaker,
        deployer,
        history,
        dead_letters,
        metrics,
        config: Arc::new(config.pipeline.clone()),
    })
}

/// A letter or record read from the range: run it, or pass it over (why).
pub type Pick<'a> = dyn FnMut(SourceMessage) -> Result<SourceMessage, &'static str> + Send + 'a;

/// Runs the range to its end (or until `stop`), batch by batch; commits
/// each batch's offsets unless `commit` is false (a dry run).
pub async fn drive<S: RowSink>(
    shared: &Shared<S>,
    reader: &mut RangeReader,
    pick: &mut Pick<'_>,
    commit: bool,
    counters: &Counters,
    summary: &mut Summary,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let started = Instant::now();
    // Cancelled by the stop signal: the batch in flight is still finished
    // (only retries through an outage give up).
    let cancel = CancellationToken::new();
    let stopper = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            stop.await;
            tracing::info!("stop requested: finishing the batch in flight");
            cancel.cancel();
        }
    });
    let result = batches(shared, reader, pick, commit, counters, summary, &cancel).await;
    stopper.abort();
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    result
}

async fn batches<S: RowSink>(
    shared: &Shared<S>,
    reader: &mut RangeReader,
    pick: &mut Pick<'_>,
    commit: bool,
    counters: &Counters,
    summary: &mut Summary,
    cancel: &CancellationToken,
) -> Result<()> {
    let active = shared.slot.current();
    let info = active.plugin.info();
    let (max, linger) = (shared.config.batch_size, shared.config.batch_linger);
    loop {
        let batch = tokio::select! {
            biased;
            _ = cancel.cancelled() => None,
            b = reader.next_batch(max, linger) => b?,
        };
        let Some(batch) = batch else {
            summary.interrupted = cancel.is_cancelled();
            break;
        };
        let mut next = BTreeMap::new();
        let mut run = Vec::with_capacity(batch.len());
        let read = batch.len() as u64;
        for message in batch {
            let o = &message.origin;
            next.insert(o.partition, o.offset + 1);
            match pick(message) {
                Ok(m) => run.push(m),
                Err(why) => {
                    *summary.skipped.entry(why.to_string()).or_default() += 1;
                }
            }
        }
        if !run.is_empty() {
            match stages::process(shared, &active, &run, cancel).await {
                Ok(()) => {}
                Err(Unfinished::Abandoned) => {
                    tracing::warn!("stopping during an outage: the batch in flight is not committed and will be run again next time");
                    summary.interrupted = true;
                    break;
                }
                Err(Unfinished::Held { .. }) => bail!(
                    "the breaker opened: plugin {info} fails on too many records (breaker.failure-ratio); the batch in flight was not written or committed; fix the plugin and run again"
                ),
            }
        }
        if commit {
            tokio::task::block_in_place(|| reader.commit(&next))?;
        }
        summary.read += read;
        summary.processed += run.len() as u64;
        tally(&shared.metrics, summary);
        counters.set(summary);
        tracing::debug!(records = read, processed = run.len(), committed = ?next, "batch done");
        if cancel.is_cancelled() {
            summary.interrupted = true;
            break;
        }
    }
    Ok(())
}

/// Rows, filtered records and dead letters so far, from this run's metrics.
fn tally(metrics: &Metrics, summary: &mut Summary) {
    let text = metrics.render();
    summary.rows = counter(&text, "sluice_rows_written_total");
    summary.filtered = counter(&text, "sluice_filtered_total");
    summary.dead_lettered = metrics.live.snapshot().dead_letters_by_reason;
    summary.written = summary
        .processed
        .saturating_sub(summary.filtered + summary.dead_lettered_total());
}

/// The sum of a counter's series in Prometheus text.
fn counter(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Prints `summary`: JSON with `json`, else the table; to stderr when
/// stdout carries a dry run's rows.
pub fn print(summary: &Summary, json: bool) {
    let text = if json {
        serde_json::to_string_pretty(summary).expect("a summary is JSON")
    } else {
        summary.table()
    };
    if summary.dry_run {
        eprintln!("{text}");
    } else {
        println!("{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_summed_over_their_series() {
        let text = "# HELP sluice_rows_written_total Rows\n\
                    sluice_rows_written_total{table=\"a\"} 3\n\
                    sluice_rows_written_total{table=\"b\"} 4\n\
                    sluice_rows_written_total_other 9\n\
                    sluice_filtered_total 2\n";
        assert_eq!(counter(text, "sluice_rows_written_total"), 7);
        assert_eq!(counter(text, "sluice_filtered_total"), 2);
        assert_eq!(counter(text, "sluice_missing_total"), 0);
    }
}
