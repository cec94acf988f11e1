//! `sluice-bench`: the figures behind `just bench` (see docs/benchmarks.md).
//!
//! - `stage`: CPU per record, stage by stage; flatten native vs Wasm by batch size.
//! - `e2e --system sluice|spark`: against the real services: throughput,
//!   latency at full and half load, CPU and RSS of the system's processes.
//! - `ceiling`: the same rows through the smallest possible writer.
//! - `swap`: hot-swap stalls under load.
//! - `report`: the markdown, from the JSON the others wrote.
//!
//! `bench/run.sh` runs them all in order; each can be run alone.

mod ceiling;
mod e2e;
mod load;
mod procfs;
mod report;
mod services;
mod stage;
mod stats;
mod swap;
mod system;
mod users;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "sluice-bench",
    about = "Sluice side by side with its native baseline, the ceiling and the seeds' Spark job"
)]
struct Cli {
    #[command(flatten)]
    endpoints: services::Endpoints,
    /// Also write the result as JSON here (what `report` reads).
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// CPU per record by stage; flatten native vs Wasm by batch size (no services needed).
    Stage(stage::StageArgs),
    /// One system end to end against the real services.
    E2e(e2e::E2eArgs),
    /// The same rows through the smallest possible writer.
    Ceiling(ceiling::CeilingArgs),
    /// Hot-swap stalls under load.
    Swap(swap::SwapArgs),
    /// The markdown report from the JSON results.
    Report(report::ReportArgs),
}

fn save<T: serde::Serialize + std::fmt::Debug>(path: &Option<PathBuf>, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    match path {
        Some(p) => {
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?;
            eprintln!("written: {}", p.display());
        }
        None => println!("{text}"),
    }
    Ok(())
}

/// The host's allocator, so the stage figures are the host's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,scylla=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let ep = &cli.endpoints;
    match &cli.command {
        Command::Stage(args) => save(&cli.json, &stage::run(args)?),
        Command::Report(args) => {
            print!("{}", report::render(args)?);
            Ok(())
        }
        command => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                match command {
                    Command::E2e(args) => save(&cli.json, &e2e::run(args, ep).await?),
                    Command::Ceiling(args) => save(&cli.json, &ceiling::run(args, ep).await?),
                    Command::Swap(args) => save(&cli.json, &swap::run(args, ep).await?),
                    Command::Stage(_) | Command::Report(_) => unreachable!("handled above"),
                }
            })
        }
    }
}
