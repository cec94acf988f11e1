//! `sluice-bench ceiling`: the same rows written by the smallest possible
//! writer: the host's own Cassandra session (`Sink::connect`, same driver and
//! settings), one prepared upsert, a fixed number of writes in flight, the
//! rows flattened and bound beforehand. No Kafka, no decoding, no Wasm: what
//! the database and the driver allow on this machine, the ceiling for Sluice.

use crate::procfs::{read_one, Usage};
use crate::services::{self, Endpoints};
use crate::stats::median;
use crate::users::{self, NativeFlatten};
use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
use host::config::CassandraConfig;
use host::model::Outcome;
use host::sink::Sink;
use serde::{Deserialize, Serialize};
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct CeilingArgs {
    /// Rows written per repetition.
    #[arg(long, default_value_t = 50_000)]
    pub count: usize,
    /// Writes in flight: the host's `cassandra.concurrency` (256) times its
    /// partition workers (one per topic partition).
    #[arg(long, default_value_t = 512)]
    pub concurrency: usize,
    /// Repetitions; the figure is their median.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Write consistency, as the host's default.
    #[arg(long, default_value = "local_quorum")]
    pub consistency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CeilingResult {
    pub count: usize,
    pub concurrency: usize,
    pub rates: Vec<f64>,
    pub rate: f64,
    /// The writer's own CPU (the bench process) during the writes.
    pub writer_usage: Usage,
}

pub async fn run(args: &CeilingArgs, ep: &Endpoints) -> Result<CeilingResult> {
    let keyspace = services::unique("bench_ceiling");
    let config = CassandraConfig {
        hosts: ep.cassandra.clone(),
        keyspace: keyspace.clone(),
        consistency: args.consistency.clone(),
        ..CassandraConfig::default()
    };
    let sink = Sink::connect(&config).await?;
    let table = sink.table("created_users").await?;

    // The rows, as the pipeline would hand them to the sink, bound beforehand.
    let native = NativeFlatten::new();
    let users = users::users(&keyspace, args.count);
    let records = users
        .iter()
        .enumerate()
        .map(|(i, u)| users::record(host::json::tree_from_value(u), i as i64))
        .collect();
    let rows: Vec<_> = native
        .transform(records)
        .into_iter()
        .map(|o| match o {
            Outcome::Rows(mut r) => users::with_version(r.remove(0), flatten::VERSION),
            other => panic!("flatten failed on a generated user: {other:?}"),
        })
        .collect();
    let names: Vec<String> = rows[0]
        .columns
        .iter()
        .map(|(n, _)| format!("\"{n}\""))
        .collect();
    let values: Vec<_> = rows
        .iter()
        .map(|r| {
            table
                .bind(r.clone(), None)
                .map(|b| b.values)
                .map_err(|e| anyhow::anyhow!(e))
        })
        .collect::<Result<_>>()?;
    let cql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        table.name,
        names.join(", "),
        vec!["?"; names.len()].join(", ")
    );
    let session = sink.session();
    let mut prepared = session
        .prepare(cql.as_str())
        .await
        .with_context(|| format!("preparing {cql}"))?;
    prepared.set_consistency(host::sink::parse_consistency(&args.consistency)?);
    prepared.set_is_idempotent(true);

    let me = std::process::id();
    let mut rates = Vec::new();
    let mut usage = Usage::default();
    for rep in 0..args.repeat {
        let (start, cpu0) = (Instant::now(), read_one(me).cpu_s);
        futures::stream::iter(values.iter())
            .map(|v| session.execute_unpaged(&prepared, v))
            .buffer_unordered(args.concurrency)
            .try_for_each(|_| async { Ok(()) })
            .await
            .context("writing the ceiling's rows")?;
        let secs = start.elapsed().as_secs_f64();
        let cpu_s = read_one(me).cpu_s - cpu0;
        rates.push(args.count as f64 / secs);
        usage = Usage {
            cores: cpu_s / secs,
            cpu_s,
            wall_s: secs,
            ..Usage::default()
        };
        eprintln!(
            "ceiling: repetition {} of {}: {:.0} rows/s",
            rep + 1,
            args.repeat,
            rates[rep]
        );
    }
    services::drop_keyspace(session, &keyspace).await;
    Ok(CeilingResult {
        count: args.count,
        concurrency: args.concurrency,
        rate: median(&rates),
        rates,
        writer_usage: usage,
    })
}
