//! `host dlq replay`: the dead letters of a topic, run again with a given
//! plugin version. Each letter is restored to the record it carries (its
//! original key, value, headers and `topic/partition@offset`) and goes
//! through the live pipeline's stages: its rows are written stamped with the
//! version, and a record that fails again is dead-lettered again with
//! `sluice.attempt` one higher and the new reason.
//!
//! Progress lives in a consumer group of the replay's own
//! (`<kafka.group-id>.replay` unless `--group`): a run reads from where the
//! last one stopped to the dead-letter topic's end at start, so nothing is
//! replayed twice; `--from-beginning` redoes everything. Letters passed over
//! (another reason or time, records Sluice did not write, letters this very
//! version already rejected on a replay) are counted and committed past.

use super::progress::{Counters, Progress};
use super::run::{self, Summary};
use super::sinks::{PrintLetters, PrintRows};
use super::Connection;
use anyhow::{bail, Result};
use clap::Args;
use sluice_cassandra::Sink;
use sluice_engine::Engine;
use sluice_kafka::range::{End, RangeSpec, Start};
use sluice_kafka::restore::{restore, Restored};
use sluice_kafka::{DeadLetters, RangeReader};
use sluice_model::{PluginInfo, SourceMessage};
use sluice_pipeline::{BreakerConfig, Reason, RowSink, Shared};
use std::future::Future;
use std::sync::Arc;

/// Every reason Sluice dead-letters for.
const REASONS: [Reason; 6] = [
    Reason::Decode,
    Reason::PluginError,
    Reason::PluginTrap,
    Reason::PluginLimit,
    Reason::PluginRetry,
    Reason::SchemaMismatch,
];

/// Most foreign records logged one by one (the rest are counted).
const LOG_SKIPPED: u64 = 20;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// Replay only letters of this reason (repeatable): decode, plugin-error,
    /// plugin-trap, plugin-limit, plugin-retry, schema-mismatch.
    #[arg(long = "reason", value_name = "R")]
    pub reasons: Vec<String>,
    /// Only letters dead-lettered at or after TIME (RFC 3339, ms since the
    /// epoch, or a duration ago such as 2h).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only letters dead-lettered before TIME.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Rows to stdout (as `host run --input` prints them), failures to
    /// stderr; nothing written, dead-lettered or committed.
    #[arg(long)]
    pub dry_run: bool,
    /// Start from the dead-letter topic's beginning (or --since) instead of
    /// where the group stopped: letters replayed before are replayed again.
    #[arg(long)]
    pub from_beginning: bool,
    /// Also replay letters that this same plugin version rejected on an
    /// earlier replay (attempt 2 or more; e.g. after fixing a table).
    #[arg(long)]
    pub include_same_version: bool,
}

/// Which letters a replay runs.
struct Selection {
    reasons: Vec<String>,
    since: Option<i64>,
    until: Option<i64>,
    plugin: PluginInfo,
    include_same_version: bool,
}

impl Selection {
    /// The record to run, or why `letter` is passed over.
    fn pick(&self, letter: SourceMessage, logged: &mut u64) -> Result<SourceMessage, &'static str> {
        let at = letter.origin.timestamp.unwrap_or_default();
        let restored = match restore(&letter) {
            Ok(r) => r,
            Err(e) => {
                *logged += 1;
                if *logged <= LOG_SKIPPED {
                    let o = &letter.origin;
                    tracing::warn!(topic = %o.topic, partition = o.partition, offset = o.offset, why = %e, "not a dead letter Sluice can replay: skipped");
                }
                return Err(e.kind());
            }
        };
        let Restored {
            message,
            reason,
            plugin,
            version,
            attempt,
        } = restored;
        if !self.reasons.is_empty() && !self.reasons.contains(&reason) {
            return Err("other-reason");
        }
        if self.since.is_some_and(|t| at < t) || self.until.is_some_and(|t| at >= t) {
            return Err("outside-time-range");
        }
        if attempt >= 2
            && !self.include_same_version
            && plugin == self.plugin.name
            && version == self.plugin.version
        {
            return Err("rejected-by-this-version");
        }
        Ok(message)
    }
}

/// Runs `host dlq replay` until the end of the dead-letter topic (as it was
/// at start) or `stop`.
pub async fn run(
    args: ReplayArgs,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary> {
    let (config, path, topic) = args.conn.load()?;
    for r in &args.reasons {
        if !REASONS.iter().any(|k| k.as_str() == r) {
            let known: Vec<&str> = REASONS.iter().map(|k| k.as_str()).collect();
            bail!(
                "--reason {r:?} is not a reason Sluice dead-letters for ({})",
                known.join(", ")
            );
        }
    }
    let since = args.since.as_deref().map(super::parse_time).transpose()?;
    let until = args.until.as_deref().map(super::parse_time).transpose()?;
    if let (Some(s), Some(u)) = (since, until) {
        if u <= s {
            bail!(
                "--until ({}) is not after --since ({})",
                super::show_time(u),
                super::show_time(s)
            );
        }
    }
    let group = args
        .conn
        .group(&config, format!("{}.replay", config.kafka.group_id))?;
    let engine = Engine::new()?;
    let plugin = run::load_plugin(&engine, &config, &path).await?;
    let dlq = config.pipeline.dead_letter_topic.replace("{topic}", &topic);
    // Letters replayed are a failing lot by nature: the breaker, which tells
    // a broken plugin from bad data by the share of failures, stays shut (a
    // record failing again simply goes back to the dead-letter topic).
    let breaker = BreakerConfig {
        failure_ratio: 1.0,
        rollback: false,
        ..config.breaker.clone()
    };
    let info = plugin.info().clone();
    let selection = Selection {
        reasons: args.reasons.clone(),
        since,
        until,
        plugin: info.clone(),
        include_same_version: args.include_same_version,
    };
    let spec = RangeSpec {
        topic: dlq.clone(),
        group: group.clone(),
        start: since.map_or(Start::Beginning, Start::Time),
        end: until.map_or(End::Latest, End::Time),
        resume: !args.from_beginning,
        partitions: Vec::new(),
    };
    let job = Job {
        spec,
        selection,
        json: args.conn.json,
        dry_run: args.dry_run,
    };
    if args.dry_run {
        let shared = run::shared(
            engine,
            &config,
            plugin,
            Arc::new(PrintRows),
            Arc::new(PrintLetters),
            breaker,
        )
        .await?;
        return job.run(&config, &shared, &topic, stop).await;
    }
    let sink = Arc::new(Sink::connect(&config.cassandra).await?);
    let letters = DeadLetters::new(
        &config.kafka.brokers,
        &config.pipeline.dead_letter_topic,
        &config.kafka.options,
    )?;
    letters.ensure_topics(std::slice::from_ref(&topic)).await?;
    let shared = run::shared(engine, &config, plugin, sink, Arc::new(letters), breaker).await?;
    let summary = job.run(&config, &shared, &topic, stop).await?;
    super::publish(&config, "replay", &summary).await;
    Ok(summary)
}

struct Job {
    spec: RangeSpec,
    selection: Selection,
    json: bool,
    dry_run: bool,
}

impl Job {
    async fn run<S: RowSink>(
        self,
        config: &crate::config::Config,
        shared: &Shared<S>,
        topic: &str,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Summary> {
        let spec = &self.spec;
        let mut reader = tokio::task::block_in_place(|| RangeReader::open(&config.kafka, spec))
            .map_err(|e| match e.to_string().contains("does not exist") {
                true => e.context(format!(
                    "no dead-letter topic {}: nothing was ever dead-lettered from {topic}",
                    spec.topic
                )),
                false => e,
            })?;
        let mut summary = Summary::new(
            "dlq replay",
            &spec.group,
            &self.selection.plugin,
            &reader,
            self.dry_run,
            &spec.topic,
        );
        if reader.total() == 0 {
            let when = match (self.selection.since, self.selection.until) {
                (None, None) => String::new(),
                (s, u) => format!(
                    " dead-lettered {}{}",
                    s.map(|t| format!("from {} ", super::show_time(t)))
                        .unwrap_or_default(),
                    u.map(|t| format!("before {}", super::show_time(t)))
                        .unwrap_or_default(),
                ),
            };
            eprintln!(
                "dlq replay: no letters to replay in {}{when} (group {} is at the end)",
                spec.topic, spec.group
            );
            run::print(&summary, self.json);
            return Ok(summary);
        }
        tracing::info!(topic = %spec.topic, group = %spec.group, plugin = %self.selection.plugin, letters = reader.total(), "replaying dead letters");
        let counters = Arc::new(Counters::default());
        let progress = Progress::start(counters.clone(), reader.total(), "dlq replay");
        let mut logged = 0;
        let selection = &self.selection;
        let mut pick = |m: SourceMessage| selection.pick(m, &mut logged);
        let result = run::drive(
            shared,
            &mut reader,
            &mut pick,
            !self.dry_run,
            &counters,
            &mut summary,
            stop,
        )
        .await;
        progress.finish().await;
        if logged > LOG_SKIPPED {
            tracing::warn!(skipped = logged, "records not written by Sluice were skipped (only the first {LOG_SKIPPED} are logged)");
        }
        result?;
        run::print(&summary, self.json);
        Ok(summary)
    }
}
