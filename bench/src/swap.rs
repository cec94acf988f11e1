//! `sluice-bench swap`: the stall of a hot swap under load. The host (release
//! build) consumes a steady stream while flatten v1 and v2 are deployed in
//! turn over the admin endpoint; each partition's stall (last batch of the
//! old version acknowledged -> first batch of the new one acknowledged) is
//! read from `/api/status`. Every record produced must be written once.

use crate::load;
use crate::services::{self, Endpoints};
use crate::stats::Latency;
use crate::system::{self, Kind, Launch, Target};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct SwapArgs {
    /// Swaps (v1 -> v2 -> v1 ...).
    #[arg(long, default_value_t = 20)]
    pub swaps: usize,
    /// Users per second produced while swapping.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    #[arg(long, default_value_t = 2)]
    pub partitions: i32,
    /// Pause between one swap taking over every partition and the next deploy.
    #[arg(long, default_value_t = 1.0)]
    pub pause: f64,
    /// Version 2 (`just build-test-guests`).
    #[arg(long, default_value = "target/test-guests/flatten-v2.wasm")]
    pub v2: PathBuf,
    #[command(flatten)]
    pub launch: Launch,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SwapResult {
    pub swaps: usize,
    pub partitions: i32,
    pub rate: f64,
    /// Per partition and swap, milliseconds.
    pub stall: Latency,
    /// The deploy call (compile, validation on samples, swap), milliseconds.
    pub deploy: Latency,
    pub records: u64,
    pub rows: i64,
}

const TOKEN: &str = "sluice-bench";

pub async fn run(args: &SwapArgs, ep: &Endpoints) -> Result<SwapResult> {
    let v1 = std::fs::read(&args.launch.plugin)
        .with_context(|| format!("{} (just build-plugins)", args.launch.plugin.display()))?;
    let v2 = std::fs::read(&args.v2)
        .with_context(|| format!("{} (just build-test-guests)", args.v2.display()))?;
    let name = services::unique("bench_swap");
    let table = format!("{name}.created_users");
    services::create_topic(&ep.brokers, &name, args.partitions).await?;
    let session = services::session(&ep.cassandra).await?;
    services::create_schema(&session, &name).await?;
    let api = load::users_api().await?;
    let admin = format!("127.0.0.1:{}", system::free_port()?);
    let target = Target {
        topic: &name,
        keyspace: &name,
        group: &name,
        brokers: &ep.brokers,
        cassandra: &ep.cassandra,
        registry: &ep.registry,
        admin: Some((&admin, TOKEN)),
    };
    let mut running = system::spawn(Kind::Sluice, &args.launch, &target)?;
    let http = reqwest::Client::new();
    let status = |http: reqwest::Client, admin: String| async move {
        http.get(format!("http://{admin}/api/status"))
            .send()
            .await?
            .error_for_status()?
            .json::<serde_json::Value>()
            .await
    };
    let started = Instant::now();
    while status(http.clone(), admin.clone()).await.is_err() {
        running.check_alive()?;
        if started.elapsed() > Duration::from_secs(120) {
            bail!(
                "the host's admin endpoint did not answer within 120 s; see {}",
                running.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A steady stream until the swaps are done.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let producing = {
        let (ep, name) = (ep.clone(), name.clone());
        let rate = args.rate;
        tokio::spawn(async move {
            load::ingest(
                &api,
                &ep,
                &name,
                &format!("{name}-swap"),
                u64::MAX / 2,
                Some(rate),
                async {
                    let _ = stop_rx.await;
                },
            )
            .await
        })
    };
    while services::count(&session, &table).await? < (args.rate as i64).min(500) {
        running.check_alive()?;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let mut deploys = Vec::new();
    for i in 0..args.swaps {
        let bytes = if i % 2 == 0 { v2.clone() } else { v1.clone() };
        let t = Instant::now();
        let r = http
            .post(format!("http://{admin}/api/plugin/deploy"))
            .bearer_auth(TOKEN)
            .header(
                "x-plugin-source",
                if i % 2 == 0 { "bench v2" } else { "bench v1" },
            )
            .body(bytes)
            .send()
            .await?;
        let code = r.status();
        let body = r.text().await?;
        if !code.is_success() {
            bail!("deploy {} refused ({code}): {body}", i + 1);
        }
        deploys.push(t.elapsed().as_secs_f64() * 1e3);
        // Wait until the new version has taken over every partition.
        let want = (i + 1) * args.partitions as usize;
        let t = Instant::now();
        loop {
            let st = status(http.clone(), admin.clone()).await?;
            if st["stalls"].as_array().map(|a| a.len()).unwrap_or(0) >= want {
                break;
            }
            if t.elapsed() > Duration::from_secs(60) {
                bail!(
                    "swap {} did not reach every partition within 60 s: {st}",
                    i + 1
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!("swap {}/{} done", i + 1, args.swaps);
        tokio::time::sleep(Duration::from_secs_f64(args.pause)).await;
    }
    let st = status(http.clone(), admin.clone()).await?;
    let stalls: Vec<f64> = st["stalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["millis"].as_f64())
        .collect();

    let _ = stop_tx.send(());
    let summary = producing.await??;
    let records = summary.produced;
    let deadline = Instant::now() + Duration::from_secs(300);
    let rows = loop {
        let c = services::count(&session, &table).await?;
        if c >= records as i64 || Instant::now() > deadline {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    running.stop(Duration::from_secs(30));
    services::drop_keyspace(&session, &name).await;
    services::delete_topic(&ep.brokers, &name).await;
    if rows != records as i64 {
        bail!("{records} records produced during the swaps but {rows} rows written");
    }
    Ok(SwapResult {
        swaps: args.swaps,
        partitions: args.partitions,
        rate: args.rate,
        stall: Latency::of(stalls),
        deploy: Latency::of(deploys),
        records,
        rows,
    })
}
