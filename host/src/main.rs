//! The `host` binary: parses the command line and hands over to the library.

use anyhow::{Context, Result};
use clap::Parser;
use host::cli::{self, Cli, Command};
use host::engine::{Engine, Limits, Plugin};
use std::io::BufRead;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run(args) => {
            let Some(input) = args.input.as_deref() else {
                anyhow::bail!("the Kafka pipeline is not built yet; use --input FILE for a dry run");
            };
            let plugin_name = args.plugin.as_deref().context("--plugin is required (a path, or a file name in --plugin-dir)")?;
            let path = cli::resolve_plugin(plugin_name, &args.plugin_dir);
            let engine = Engine::new()?;
            let plugin = Plugin::load_file(&engine, &path, cli::parse_pairs(&args.plugin_config)?, Limits::default())?;
            let reader: Box<dyn BufRead> = if input == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(std::io::BufReader::new(
                    std::fs::File::open(input).with_context(|| format!("opening --input {input}"))?,
                ))
            };
            let summary = host::dryrun::run(&plugin, &args.table, reader, std::io::stdout().lock(), std::io::stderr().lock())?;
            eprintln!(
                "{}: {} records, {} rows, {} filtered, {} failed",
                plugin.info(),
                summary.records,
                summary.rows,
                summary.filtered,
                summary.failed
            );
            Ok(if summary.failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
    }
}
