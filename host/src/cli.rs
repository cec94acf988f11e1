//! The command line: `host run`, `host ingest`, `host users-api`, `host plugin`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "host", version, about = "Sluice: Kafka -> WebAssembly transform -> Cassandra")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline: consume Kafka, transform, write Cassandra. With
    /// `--input FILE`, a dry run: JSON lines through the plugin, rows to stdout.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The plugin: a path, or a bare file name looked up in --plugin-dir.
    #[arg(long, env = "SLUICE_PLUGIN")]
    pub plugin: Option<String>,
    /// Where bare plugin names are looked up.
    #[arg(long, env = "SLUICE_PLUGIN_DIR", default_value = "plugins/dist")]
    pub plugin_dir: PathBuf,
    /// Dry run: read JSON lines from FILE (`-` for stdin) instead of Kafka.
    #[arg(long)]
    pub input: Option<String>,
    /// Plugin configuration handed to `init`, as KEY=VALUE (repeatable).
    #[arg(long = "plugin-config", value_name = "KEY=VALUE")]
    pub plugin_config: Vec<String>,
    /// The table rows go to when the plugin names none.
    #[arg(long, default_value = "created_users")]
    pub table: String,
}

/// Resolves `--plugin`: a bare file name is looked up in the plugin directory,
/// anything with a path separator is used as is.
pub fn resolve_plugin(plugin: &str, dir: &std::path::Path) -> PathBuf {
    let p = PathBuf::from(plugin);
    if p.components().count() == 1 && !p.exists() {
        dir.join(p)
    } else {
        p
    }
}

/// Parses `KEY=VALUE` pairs.
pub fn parse_pairs(pairs: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => anyhow::bail!("--plugin-config {p:?} is not KEY=VALUE"),
        })
        .collect()
}
