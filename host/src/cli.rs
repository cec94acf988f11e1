//! The command line: `host run`, `host ingest`, `host users-api`, `host plugin`,
//! `host dlq replay`, `host reprocess`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "host",
    version,
    about = "Sluice: Kafka -> WebAssembly transform -> Cassandra"
)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline: consume Kafka, transform, write Cassandra. With
    /// `--input FILE`, a dry run: JSON lines through the plugin, rows to stdout.
    Run(RunArgs),
    /// Fetch users from a randomuser.me-compatible API and produce them to
    /// Kafka, keyed by `login.uuid`, as Avro (schema in the registry) or JSON.
    Ingest(crate::ingest::IngestArgs),
    /// Serve randomuser.me-shaped users over HTTP (offline use, demos, tests);
    /// the same seed gives the same users.
    UsersApi(crate::users_api::UsersApiArgs),
    /// Manage the plugin of a running host: deploy a new version, roll back, show status.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Work with the dead-letter topic: replay its letters with a fixed plugin.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Run a range of the source topic again with a given plugin version, in
    /// a consumer group of its own (the live group's offsets never move).
    Reprocess(crate::history::ReprocessArgs),
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Replay `<topic>.dlq` with a given plugin version: each letter's record
    /// restored (key, value, headers, source offset), its rows written, what
    /// fails again dead-lettered again; resumable, bounded by the topic's end at start.
    Replay(crate::history::ReplayArgs),
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Send a new plugin version to a running host. It is validated (world,
    /// init, a sample run, the live tables) and swapped in without a restart.
    Deploy {
        /// The component file.
        file: PathBuf,
        /// A plugin setting that goes with this version (`KEY=VALUE`, repeatable);
        /// it overrides the host's `pipeline.plugin-config` key of that name.
        #[arg(long = "plugin-config", value_name = "KEY=VALUE")]
        plugin_config: Vec<String>,
        /// Additive CQL applied once before activation (`CREATE TABLE IF NOT
        /// EXISTS`, `ALTER TABLE ... ADD`), statements separated by `;`.
        #[arg(long, value_name = "FILE")]
        cql: Option<PathBuf>,
        /// Print the answer as JSON, for scripts.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Make the previous version current again (it is still compiled: instant).
    Rollback {
        /// Print the answer as JSON, for scripts.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show the group's active version, every host of the group (version,
    /// partitions, lag, last seen), earlier versions and swap stalls.
    Status {
        /// Print the host's whole status as JSON, for scripts.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Run a candidate version beside the active one on a sample of live
    /// records, writing nothing; `plugin status` shows how its outcomes differ.
    Shadow {
        /// The component file.
        file: PathBuf,
        /// The share of records the candidate sees, in (0, 1].
        #[arg(long, default_value_t = 0.1)]
        sample: f64,
        /// Print the answer as JSON, for scripts.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Deploy the shadow's candidate through the normal deploy path.
    Promote {
        /// Print the answer as JSON, for scripts.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Stop the shadow run.
    Discard {
        /// Print the answer as JSON, for scripts.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Start a plugin project of its own in a new folder: manifest, README,
    /// the transform and its unit tests, samples and their golden output.
    New {
        /// The plugin's name: a crate and package name in lower case (`geo-enrich`).
        name: String,
        /// The language of the transform.
        #[arg(long, value_enum, default_value_t = crate::project::Lang::Rust)]
        lang: crate::project::Lang,
        /// The project's folder (new, or empty) [default: ./NAME].
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
    },
    /// Build the project in DIR into a component, dist/NAME.wasm, checked
    /// against the world this host supports.
    Build {
        /// The project's folder [default: .].
        dir: Option<PathBuf>,
        /// A setting `init` needs to accept the plugin (`KEY=VALUE`, repeatable).
        #[arg(long = "plugin-config", value_name = "KEY=VALUE")]
        plugin_config: Vec<String>,
    },
    /// Run the project's samples/input.jsonl through its built component and
    /// compare the rows with samples/expected.jsonl (exit status 1 on a difference).
    Test {
        /// The project's folder [default: .].
        dir: Option<PathBuf>,
        /// Rewrite samples/expected.jsonl from the current output.
        #[arg(long)]
        bless: bool,
        /// Plugin configuration handed to `init` (`KEY=VALUE`, repeatable).
        #[arg(long = "plugin-config", value_name = "KEY=VALUE")]
        plugin_config: Vec<String>,
    },
}

/// Where the running host's admin endpoint is.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The admin endpoint of the running host.
    #[arg(
        long,
        env = "SLUICE_ADMIN_URL",
        default_value = "http://127.0.0.1:9180"
    )]
    pub admin: String,
    /// The admin token (as set on the host with admin.token / SLUICE_ADMIN_TOKEN).
    #[arg(long, env = "SLUICE_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The plugin: a path, or a bare file name looked up in --plugin-dir.
    #[arg(long)]
    pub plugin: Option<String>,
    /// Where bare plugin names are looked up [default: plugins/dist].
    #[arg(long)]
    pub plugin_dir: Option<PathBuf>,
    /// Dry run: read JSON lines from FILE (`-` for stdin) instead of Kafka.
    #[arg(long)]
    pub input: Option<String>,
    /// Plugin configuration handed to `init`, as KEY=VALUE (repeatable).
    #[arg(long = "plugin-config", value_name = "KEY=VALUE")]
    pub plugin_config: Vec<String>,
    /// The table rows go to when the plugin names none [default: created_users].
    #[arg(long)]
    pub table: Option<String>,
    /// Configuration file (TOML); env SLUICE_CONFIG. See sluice.toml.
    #[arg(long, env = "SLUICE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Kafka bootstrap servers (overrides kafka.brokers).
    #[arg(long)]
    pub brokers: Option<String>,
    /// Topic to consume; repeatable (overrides pipeline.topics).
    #[arg(long = "topic")]
    pub topics: Vec<String>,
    /// Consumer group (overrides kafka.group-id).
    #[arg(long)]
    pub group: Option<String>,
    /// Schema registry base URL, path allowed (overrides registry.url).
    #[arg(long)]
    pub registry: Option<String>,
    /// Cassandra contact points (overrides cassandra.hosts).
    #[arg(long)]
    pub cassandra: Option<String>,
    /// Cassandra keyspace (overrides cassandra.keyspace).
    #[arg(long)]
    pub keyspace: Option<String>,
    /// Value format: auto, avro or json (overrides pipeline.format).
    #[arg(long)]
    pub format: Option<String>,
    /// Admin endpoint address (overrides admin.listen).
    #[arg(long)]
    pub admin_listen: Option<String>,
    /// Do not watch the plugin file for new versions.
    #[arg(long)]
    pub no_watch: bool,
}

impl RunArgs {
    /// Applies the flags that were given on top of `config` (file, then env).
    pub fn apply(&self, config: &mut crate::config::Config) -> anyhow::Result<()> {
        if let Some(v) = &self.plugin {
            config.pipeline.plugin = Some(v.clone());
        }
        if let Some(v) = &self.plugin_dir {
            config.pipeline.plugin_dir = v.clone();
        }
        for (k, v) in parse_pairs(&self.plugin_config)? {
            config.pipeline.plugin_config.insert(k, v);
        }
        if let Some(v) = &self.table {
            config.pipeline.default_table = v.clone();
        }
        if let Some(v) = &self.brokers {
            config.kafka.brokers = v.clone();
        }
        if !self.topics.is_empty() {
            config.pipeline.topics = self.topics.clone();
        }
        if let Some(v) = &self.group {
            config.kafka.group_id = v.clone();
        }
        if let Some(v) = &self.registry {
            config.registry.url = v.clone();
        }
        if let Some(v) = &self.cassandra {
            config.cassandra.hosts = v.clone();
        }
        if let Some(v) = &self.keyspace {
            config.cassandra.keyspace = v.clone();
        }
        if let Some(v) = &self.format {
            config.pipeline.format = v.clone();
        }
        if let Some(v) = &self.admin_listen {
            config.admin.listen = v.clone();
        }
        Ok(())
    }
}

/// Logging flags shared by the long-running commands.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log format: text or json. Levels come from RUST_LOG (default: info).
    #[arg(long, env = "SLUICE_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: String,
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
