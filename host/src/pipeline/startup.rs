//! `host run` (no `--input`): build every part, check the plugin against the
//! live tables before consuming anything, then run until a shutdown signal.

use super::batch::Shared;
use super::deploy::{Deployer, RecentRecords};
use super::history::SwapHistory;
use super::slot::PluginSlot;
use super::worker::{self, BatchShape};
use crate::config::Config;
use crate::decode::{Decoder, Format};
use crate::dlq::DeadLetters;
use crate::engine::{Engine, Plugin};
use crate::metrics::Metrics;
use crate::model::{Origin, Outcome, Record};
use crate::sink::Sink;
use crate::source::KafkaSource;
use anyhow::{bail, Context, Result};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What `run` needs besides the config.
pub struct RunOptions {
    /// The resolved plugin file.
    pub plugin_path: PathBuf,
    /// Deploy the file again whenever it changes (hot reload).
    pub watch: bool,
    /// Receives the admin endpoint's bound address (useful with port 0).
    pub admin_addr: Option<tokio::sync::oneshot::Sender<std::net::SocketAddr>>,
}

impl RunOptions {
    pub fn new(plugin_path: PathBuf) -> Self {
        RunOptions {
            plugin_path,
            watch: true,
            admin_addr: None,
        }
    }
}

/// Runs the pipeline until `shutdown` resolves; then stops fetching,
/// finishes in-flight batches, commits, and returns.
pub async fn run(
    config: Config,
    options: RunOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    config.validate()?;
    let metrics = Arc::new(Metrics::new());
    let engine = Engine::new()?;
    let plugin_config: Vec<(String, String)> =
        config.pipeline.plugin_config.clone().into_iter().collect();
    let path = options.plugin_path.clone();
    let limits = config.limits.clone();
    let plugin = tokio::task::spawn_blocking({
        let engine = engine.clone();
        move || Plugin::load_file(&engine, &path, plugin_config, limits)
    })
    .await??;
    tracing::info!(plugin = %plugin.info(), hash = %&plugin.hash()[..12], "plugin loaded");

    let sink = Arc::new(Sink::connect(&config.cassandra).await?);
    check_plugin(&plugin, &sink, &config, Vec::new()).await?;

    let registry = if config.pipeline.format == "json" {
        None
    } else {
        let auth = config
            .registry
            .username
            .clone()
            .zip(config.registry.password.as_deref().map(str::to_string));
        Some(Arc::new(crate::registry::Registry::new(
            &config.registry.url,
            auth,
        )?))
    };
    let dead_letters = DeadLetters::new(
        &config.kafka.brokers,
        &config.pipeline.dead_letter_topic,
        &config.kafka.options,
    )?;
    dead_letters.ensure_topics(&config.pipeline.topics).await?;

    metrics.set_active_plugin(&plugin.info().name, &plugin.info().version, plugin.hash());
    let slot = Arc::new(PluginSlot::new(
        plugin,
        options.plugin_path.display().to_string(),
    ));
    let history = Arc::new(SwapHistory::default());
    history.activated(&slot.current(), 0);
    let recent = Arc::new(RecentRecords::default());
    let breaker = Arc::new(super::breaker::Breaker::new(config.breaker.clone()));
    let deployer = Arc::new(Deployer {
        engine: engine.clone(),
        slot: slot.clone(),
        sink: sink.clone(),
        config: config.clone(),
        recent: recent.clone(),
        metrics: metrics.clone(),
        history: history.clone(),
        breaker: breaker.clone(),
        busy: tokio::sync::Mutex::new(()),
    });
    let _watcher = if options.watch {
        Some(super::watch::watch(&options.plugin_path, deployer.clone())?)
    } else {
        None
    };
    let mut decoder = Decoder::new(Format::parse(&config.pipeline.format)?, registry);
    if let Some(path) = &config.pipeline.reader_schema {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading pipeline.reader-schema {}", path.display()))?;
        let schema = apache_avro::Schema::parse_str(&text).with_context(|| {
            format!(
                "pipeline.reader-schema {} is not an Avro schema",
                path.display()
            )
        })?;
        decoder = decoder.with_reader_schema(schema);
    }
    let shared = Arc::new(Shared {
        slot,
        decoder,
        sink,
        recent,
        breaker,
        deployer: deployer.clone(),
        history,
        dead_letters,
        metrics: metrics.clone(),
        default_table: config.pipeline.default_table.clone(),
        version_column: config.pipeline.version_column.clone(),
        plugin_retries: config.pipeline.plugin_retries,
    });

    let admin = crate::admin::serve(&config.admin, metrics.clone(), deployer.clone()).await?;
    if let Some(tx) = options.admin_addr {
        let _ = tx.send(admin.1);
    }
    let admin = admin.0;

    let stop = Arc::new(AtomicBool::new(false));
    let (feeds_tx, mut feeds) = tokio::sync::mpsc::unbounded_channel();
    let (source, acks) = KafkaSource::start(
        &config.kafka,
        &config.pipeline.topics,
        config.pipeline.max_buffered_per_partition,
        feeds_tx,
        stop.clone(),
        metrics.clone(),
    )?;
    tracing::info!(topics = ?config.pipeline.topics, group = %config.kafka.group_id, "consuming");

    let mut workers = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            feed = feeds.recv() => match feed {
                Some(feed) => {
                    let shape = BatchShape { max: config.pipeline.batch_size, linger: config.pipeline.batch_linger };
                    workers.spawn(worker::run(feed, shared.clone(), acks.clone(), shape));
                }
                None => break,
            },
            Some(_) = workers.join_next(), if !workers.is_empty() => {}
        }
    }
    tracing::info!("shutdown requested");
    stop.store(true, Ordering::SeqCst);
    // The poll thread waits for the workers' in-flight batches and commits.
    tokio::task::spawn_blocking(move || source.join()).await?;
    while workers.join_next().await.is_some() {}
    admin.abort();
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Runs the plugin on `recent` records plus the samples and checks its rows
/// against the live tables, so a plugin that cannot write is refused before
/// anything is consumed (or before it replaces the running version).
/// Returns the number of records tried.
pub(crate) async fn check_plugin(
    plugin: &Plugin,
    sink: &Sink,
    config: &Config,
    recent: Vec<Record>,
) -> Result<usize> {
    let mut samples = recent;
    samples.extend(sample_records(config)?);
    let n = samples.len();
    let results = {
        let plugin_ref = &plugin;
        tokio::task::block_in_place(|| plugin_ref.transform(samples))
    };
    let mut rows_checked = 0;
    for (i, result) in results.into_iter().enumerate() {
        let rows = match result {
            Ok(Outcome::Rows(rows)) => rows,
            Ok(_) => continue,
            Err(e) => bail!("plugin {} fails on sample record {i}: {e}", plugin.info()),
        };
        for row in rows {
            let table = row
                .table
                .clone()
                .unwrap_or_else(|| config.pipeline.default_table.clone());
            let schema = sink.table(&table).await?;
            schema.bind(&row).map_err(|e| {
                anyhow::anyhow!("plugin {} writes rows that do not fit: {e}", plugin.info())
            })?;
            rows_checked += 1;
        }
    }
    if rows_checked == 0 && n > 0 {
        tracing::warn!(plugin = %plugin.info(), samples = n, "the plugin produced no rows from the samples; its output could not be checked against the tables");
    }
    tracing::info!(plugin = %plugin.info(), samples = n, rows_checked, "plugin output fits the live tables");
    Ok(n)
}

/// The records a plugin is tried on: `pipeline.sample-file`, or generated users.
fn sample_records(config: &Config) -> Result<Vec<Record>> {
    let values: Vec<serde_json::Value> = match &config.pipeline.sample_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading pipeline.sample-file {}", path.display()))?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .with_context(|| {
                format!("pipeline.sample-file {} must be JSON lines", path.display())
            })?,
        None => include_str!("sample-users.jsonl")
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .expect("the built-in samples are JSON lines"),
    };
    Ok(values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            origin: Origin {
                topic: "sample".into(),
                offset: i as i64,
                ..Origin::default()
            },
            value: crate::json::tree_from_value(v),
        })
        .collect())
}
