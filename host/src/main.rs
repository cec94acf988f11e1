//! The `host` binary: parses the command line and hands over to the library.

use anyhow::{Context, Result};
use clap::Parser;
use host::cli::{self, Cli, Command, RunArgs};
use host::config::Config;
use host::engine::{Engine, Plugin};
use std::io::BufRead;
use std::process::ExitCode;

/// mimalloc, its arenas committed on demand; glibc's malloc (for the C
/// libraries) with a fixed mmap threshold (crates/alloc says why).
#[global_allocator]
static ALLOCATOR: sluice_alloc::MiMalloc = sluice_alloc::MiMalloc;

fn main() -> ExitCode {
    // Before librdkafka allocates its first fetch buffer.
    let fixed_threshold = sluice_alloc::fixed_mmap_threshold();
    let cli = Cli::parse();
    init_logging(&cli.log.log_format);
    tracing::debug!(
        on_demand = sluice_alloc::commits_on_demand(),
        "allocator arenas (MIMALLOC_ARENA_EAGER_COMMIT overrides)"
    );
    tracing::debug!(
        fixed = fixed_threshold,
        "glibc malloc mmap threshold 128 KiB (MALLOC_MMAP_THRESHOLD_ overrides)"
    );
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into files, pipes or log shippers.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run(args) => {
            let mut config = Config::load(args.config.as_deref())?;
            args.apply(&mut config)?;
            let plugin_name = config.pipeline.plugin.clone().context(
                "no plugin: pass --plugin NAME.wasm (or set pipeline.plugin / SLUICE_PLUGIN)",
            )?;
            let path = cli::resolve_plugin(&plugin_name, &config.pipeline.plugin_dir);
            match args.input.as_deref() {
                Some(input) => dry_run(&args, &config, &path, input),
                None => {
                    let runtime = tokio::runtime::Runtime::new()?;
                    runtime.block_on(host::pipeline::run(
                        config,
                        host::pipeline::RunOptions {
                            watch: !args.no_watch,
                            ..host::pipeline::RunOptions::new(path)
                        },
                        shutdown_signal(),
                    ))?;
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        Command::Ingest(args) => {
            let runtime = tokio::runtime::Runtime::new()?;
            let summary = runtime.block_on(host::ingest::run_until(args, shutdown_signal()))?;
            eprintln!("ingest: {summary}");
            Ok(if summary.failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Plugin(command) => {
            tokio::runtime::Runtime::new()?.block_on(host::plugin_cli::run(command))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Dlq(cli::DlqCommand::Replay(args)) => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(host::history::replay::run(args, shutdown_signal()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reprocess(args) => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(host::history::reprocess::run(args, shutdown_signal()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::UsersApi(args) => {
            tokio::runtime::Runtime::new()?.block_on(host::users_api::run(args))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn dry_run(
    _args: &RunArgs,
    config: &Config,
    path: &std::path::Path,
    input: &str,
) -> Result<ExitCode> {
    let engine = Engine::new()?;
    let plugin_config = config.pipeline.plugin_config.clone().into_iter().collect();
    let plugin = Plugin::load_file(&engine, path, plugin_config, config.limits.clone())?;
    let reader: Box<dyn BufRead> = if input == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(input).with_context(|| format!("opening --input {input}"))?,
        ))
    };
    let summary = host::dryrun::run(
        &plugin,
        &config.pipeline.default_table,
        reader,
        std::io::stdout().lock(),
        std::io::stderr().lock(),
    )?;
    eprintln!(
        "{}: {} records, {} rows, {} filtered, {} failed",
        plugin.info(),
        summary.records,
        summary.rows,
        summary.filtered,
        summary.failed
    );
    Ok(if summary.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
