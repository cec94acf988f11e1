//! `host run` (no `--input`): builds every part from the config, validates
//! the plugin against the live tables before consuming anything, then runs
//! [`sluice_pipeline::run`] between the Kafka source and the Cassandra sink
//! until the shutdown signal. The wiring lives here, in the binary, so the
//! pipeline core never names a concrete adapter.

use crate::config::Config;
use anyhow::{Context, Result};
use sluice_cassandra::Sink;
use sluice_codec::{Decoder, Format, Registry};
use sluice_engine::{Engine, Plugin};
use sluice_kafka::{DeadLetters, KafkaControlLog, KafkaSource};
use sluice_pipeline::control::{validate::validate, watch};
use sluice_pipeline::fleet::{self, Fleet, FleetSettings, Inbox};
use sluice_pipeline::{CancellationToken, Metrics, Shared};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

pub use sluice_pipeline::{
    ActivePlugin, Breaker, BreakerConfig, Deployed, PluginSlot, RecentRecords, Stall, SwapHistory,
    VersionEntry,
};

/// The deployer of this binary's pipeline (rows go to Cassandra).
pub type Deployer = sluice_pipeline::Deployer<Sink>;

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

/// The settings a candidate plugin is loaded and validated with.
pub fn deploy_settings(config: &Config) -> sluice_pipeline::DeploySettings {
    sluice_pipeline::DeploySettings {
        plugin_config: config.pipeline.plugin_config.clone().into_iter().collect(),
        limits: config.limits.clone(),
        default_table: config.pipeline.default_table.clone(),
        version_column: config.pipeline.version_column.clone(),
        sample_file: config.pipeline.sample_file.clone(),
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
    let settings = deploy_settings(&config);
    let file_source = options.plugin_path.display().to_string();
    let file_bytes = tokio::fs::read(&options.plugin_path)
        .await
        .with_context(|| format!("reading plugin {file_source}"))?;
    let plugin = tokio::task::spawn_blocking({
        let (engine, path) = (engine.clone(), options.plugin_path.clone());
        let (plugin_config, limits) = (settings.plugin_config.clone(), settings.limits.clone());
        move || Plugin::load_file(&engine, &path, plugin_config, limits)
    })
    .await??;
    tracing::info!(plugin = %plugin.info(), hash = %&plugin.hash()[..12], "plugin loaded");

    let sink = Arc::new(Sink::connect(&config.cassandra).await?);
    validate(&plugin, &*sink, &settings, Vec::new()).await?;

    let dead_letters = DeadLetters::new(
        &config.kafka.brokers,
        &config.pipeline.dead_letter_topic,
        &config.kafka.options,
    )?;
    dead_letters.ensure_topics(&config.pipeline.topics).await?;

    // One token for the whole host; each partition's feed gets a child.
    let cancel = CancellationToken::new();
    let fleet = if config.fleet.enabled {
        Some(join_fleet(&config, cancel.child_token()).await?)
    } else {
        tracing::info!("fleet.enabled = false: deploys live in this host's memory only; a restart runs --plugin again");
        None
    };
    let (plugin, seq, source) = match &fleet {
        Some(f) => {
            let joined = fleet::join(
                f,
                &engine,
                &*sink,
                &settings,
                plugin,
                &file_bytes,
                &file_source,
            )
            .await?;
            (joined.plugin, joined.seq, joined.source)
        }
        None => (plugin, 0, file_source),
    };
    drop(file_bytes);

    metrics.set_active_plugin(&plugin.info().name, &plugin.info().version, plugin.hash());
    let slot = Arc::new(PluginSlot::with_activation(plugin, source, seq));
    let history = Arc::new(SwapHistory::default());
    history.activated(&slot.current(), seq);
    let recent = Arc::new(RecentRecords::default());
    let breaker = Arc::new(Breaker::new(config.breaker.clone()));
    let mut deployer = Deployer::new(
        engine,
        slot.clone(),
        sink.clone(),
        settings,
        recent.clone(),
        metrics.clone(),
        history.clone(),
        breaker.clone(),
    );
    if let Some(f) = &fleet {
        f.keep(seq, slot.current());
        deployer = deployer.with_fleet(f.clone());
    }
    let deployer = Arc::new(deployer);
    let _watcher = if options.watch {
        Some(watch::watch(&options.plugin_path, deployer.clone())?)
    } else {
        None
    };
    let shared = Arc::new(Shared {
        slot,
        decoder: decoder(&config)?,
        sink,
        recent,
        breaker,
        deployer: deployer.clone(),
        history,
        dead_letters: Arc::new(dead_letters),
        metrics: metrics.clone(),
        config: Arc::new(config.pipeline.clone()),
    });

    let (admin, admin_addr) =
        crate::admin::serve(&config.admin, metrics.clone(), deployer.clone()).await?;
    if let Some(tx) = options.admin_addr {
        let _ = tx.send(admin_addr);
    }
    let agent = fleet.as_ref().map(|f| {
        f.set_admin(format!("http://{admin_addr}"));
        tokio::spawn(fleet::agent(deployer.clone(), f.clone(), cancel.clone()))
    });

    let (feeds_tx, feeds) = tokio::sync::mpsc::unbounded_channel();
    let (source, acks) = KafkaSource::start(
        &config.kafka,
        &config.pipeline.topics,
        config.pipeline.max_buffered_per_partition,
        feeds_tx,
        cancel.clone(),
        metrics.clone(),
    )?;
    tracing::info!(topics = ?config.pipeline.topics, group = %config.kafka.group_id, "consuming");
    // Start-up is over: what only it ran need not stay resident.
    let released = sluice_alloc::release_startup_code();
    tracing::debug!(
        bytes = released,
        "start-up code unmapped (SLUICE_KEEP_STARTUP_CODE=1 keeps it)"
    );

    let mut pipeline = tokio::spawn(sluice_pipeline::run(shared, feeds, acks, cancel.clone()));
    tokio::select! {
        _ = shutdown => tracing::info!("shutdown requested"),
        // Only if the source went away (its poll thread ended): stop too.
        _ = &mut pipeline => tracing::error!("the Kafka source stopped feeding partitions; stopping"),
    }
    cancel.cancel();
    // The poll thread waits for the workers' in-flight batches and commits.
    tokio::task::spawn_blocking(move || source.join()).await?;
    if !pipeline.is_finished() {
        pipeline.await?;
    }
    if let Some(agent) = agent {
        // It leaves the group's member list on its way out.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), agent).await;
    }
    admin.abort();
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Starts reading the group's control log (creating its topics if needed).
async fn join_fleet(config: &Config, stop: CancellationToken) -> Result<Arc<Fleet>> {
    let inbox = Inbox::default();
    let log = KafkaControlLog::start(
        &config.kafka,
        &config.fleet.topic_prefix,
        inbox.clone(),
        stop,
    )
    .await?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let member = format!(
        "{host}-{}-{:04x}",
        std::process::id(),
        rand::random::<u16>()
    );
    tracing::info!(%member, log = %log.topics().deploys, "joining the group's deploy log");
    let settings = FleetSettings {
        member,
        host,
        heartbeat: config.fleet.heartbeat,
        answer_timeout: config.fleet.answer_timeout,
    };
    Ok(Arc::new(Fleet::new(Arc::new(log), inbox, settings)))
}

/// The record decoder the config asks for.
pub(crate) fn decoder(config: &Config) -> Result<Decoder> {
    let registry = if config.pipeline.format == "json" {
        None
    } else {
        let auth = config
            .registry
            .username
            .clone()
            .zip(config.registry.password.as_deref().map(str::to_string));
        Some(Arc::new(Registry::new(&config.registry.url, auth)?))
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
    Ok(decoder)
}
