//! `host reprocess`: a range of the source topic run again with a given
//! plugin version, rows stamped with it, failures dead-lettered as the live
//! pipeline does. It reads in a consumer group of its own
//! (`<kafka.group-id>.reprocess.<from>-<to>` unless `--group`) that it
//! assigns partitions to by itself: the live group's offsets never move, and
//! no live host sees a rebalance. Interrupted and started again with the same
//! range, it goes on where it stopped.

use super::progress::{Counters, Progress};
use super::run::{self, Summary};
use super::sinks::{PrintLetters, PrintRows};
use super::Connection;
use anyhow::{bail, Result};
use clap::{ArgGroup, Args};
use sluice_cassandra::Sink;
use sluice_engine::Engine;
use sluice_kafka::range::{End, RangeSpec, Start};
use sluice_kafka::{DeadLetters, RangeReader};
use sluice_model::SourceMessage;
use sluice_pipeline::{RowSink, Shared};
use std::future::Future;
use std::sync::Arc;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("from").required(true).args(["from_offset", "from_time"])))]
pub struct ReprocessArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// The first offset of the range, in every partition (or those of --partition).
    #[arg(long, value_name = "N")]
    pub from_offset: Option<i64>,
    /// The range starts at the first record stamped at or after TIME (RFC
    /// 3339, ms since the epoch, or a duration ago such as 2h).
    #[arg(long, value_name = "TIME")]
    pub from_time: Option<String>,
    /// The range ends before this offset (exclusive) [default: the end at start].
    #[arg(long, value_name = "N", conflicts_with = "to_time")]
    pub to_offset: Option<i64>,
    /// The range ends before the first record stamped at or after TIME.
    #[arg(long, value_name = "TIME")]
    pub to_time: Option<String>,
    /// Only this partition (repeatable) [default: all].
    #[arg(long = "partition", value_name = "P")]
    pub partitions: Vec<i32>,
    /// Rows to stdout (as `host run --input` prints them), failures to
    /// stderr; nothing written, dead-lettered or committed.
    #[arg(long)]
    pub dry_run: bool,
}

impl ReprocessArgs {
    /// The range's bounds, and their name in the default group id.
    fn bounds(&self) -> Result<(Start, End, String)> {
        let (start, from) = match (self.from_offset, &self.from_time) {
            (Some(o), _) => (Start::Offset(o), o.to_string()),
            (None, Some(t)) => {
                let ms = super::parse_time(t)?;
                (Start::Time(ms), format!("t{ms}"))
            }
            (None, None) => bail!("pass --from-offset N or --from-time T"),
        };
        let (end, to) = match (self.to_offset, &self.to_time) {
            (Some(o), _) => (End::Offset(o), o.to_string()),
            (None, Some(t)) => {
                let ms = super::parse_time(t)?;
                (End::Time(ms), format!("t{ms}"))
            }
            (None, None) => (End::Latest, "end".to_string()),
        };
        match (start, end) {
            (Start::Offset(a), End::Offset(b)) if b <= a => {
                bail!("--to-offset {b} is not after --from-offset {a}: the range is empty")
            }
            (Start::Time(a), End::Time(b)) if b <= a => bail!(
                "--to-time ({}) is not after --from-time ({})",
                super::show_time(b),
                super::show_time(a)
            ),
            _ => {}
        }
        let mut name = format!("{from}-{to}");
        if !self.partitions.is_empty() {
            let mut ps = self.partitions.clone();
            ps.sort_unstable();
            let ps: Vec<String> = ps.iter().map(i32::to_string).collect();
            name.push_str(&format!(".p{}", ps.join("_")));
        }
        Ok((start, end, name))
    }
}

/// Runs `host reprocess` to the end of its range or until `stop`.
pub async fn run(
    args: ReprocessArgs,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary> {
    let (config, path, topic) = args.conn.load()?;
    let (start, end, name) = args.bounds()?;
    let group = args.conn.group(
        &config,
        format!("{}.reprocess.{name}", config.kafka.group_id),
    )?;
    let engine = Engine::new()?;
    let plugin = run::load_plugin(&engine, &config, &path).await?;
    let spec = RangeSpec {
        topic: topic.clone(),
        group,
        start,
        end,
        resume: true,
        partitions: args.partitions.clone(),
    };
    let (json, dry_run) = (args.conn.json, args.dry_run);
    if dry_run {
        let shared = run::shared(
            engine,
            &config,
            plugin,
            Arc::new(PrintRows),
            Arc::new(PrintLetters),
            config.breaker.clone(),
        )
        .await?;
        return go(&config, &shared, &spec, json, dry_run, stop).await;
    }
    let sink = Arc::new(Sink::connect(&config.cassandra).await?);
    let letters = DeadLetters::new(
        &config.kafka.brokers,
        &config.pipeline.dead_letter_topic,
        &config.kafka.options,
    )?;
    letters.ensure_topics(std::slice::from_ref(&topic)).await?;
    let shared = run::shared(
        engine,
        &config,
        plugin,
        sink,
        Arc::new(letters),
        config.breaker.clone(),
    )
    .await?;
    let summary = go(&config, &shared, &spec, json, dry_run, stop).await?;
    super::publish(&config, "reprocess", &summary).await;
    Ok(summary)
}

async fn go<S: RowSink>(
    config: &crate::config::Config,
    shared: &Shared<S>,
    spec: &RangeSpec,
    json: bool,
    dry_run: bool,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary> {
    let mut reader = tokio::task::block_in_place(|| RangeReader::open(&config.kafka, spec))?;
    let info = shared.slot.current().plugin.info().clone();
    let mut summary = Summary::new(
        "reprocess",
        &spec.group,
        &info,
        &reader,
        dry_run,
        &spec.topic,
    );
    if reader.total() == 0 {
        eprintln!(
            "reprocess: no records to reprocess in {} for this range (empty, or group {} already finished it)",
            spec.topic, spec.group
        );
        run::print(&summary, json);
        return Ok(summary);
    }
    tracing::info!(topic = %spec.topic, group = %spec.group, plugin = %info, records = reader.total(), "reprocessing");
    let counters = Arc::new(Counters::default());
    let progress = Progress::start(counters.clone(), reader.total(), "reprocess");
    let mut pick = Ok::<SourceMessage, &'static str>;
    let result = run::drive(
        shared,
        &mut reader,
        &mut pick,
        !dry_run,
        &counters,
        &mut summary,
        stop,
    )
    .await;
    progress.finish().await;
    result?;
    run::print(&summary, json);
    Ok(summary)
}
