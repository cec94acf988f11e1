//! `sluice-bench swap`: the stall of a hot swap under load. The host (release
//! build) consumes a steady stream while flatten v1 and v2 are deployed in
//! turn over the admin endpoint; each partition's stall (last batch of the
//! old version acknowledged -> first batch of the new one acknowledged) is
//! read from `/api/status`. Every record produced must be written once.
//!
//! What a swap costs the records: each record's latency (Kafka timestamp ->
//! Cassandra write time), split by when it was produced: "around a swap"
//! (from the deploy call until a second after the new version took over
//! every partition) or "steady" (the rest of the run after the warm-up).
//! The p99 difference is what a swap adds.

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
    /// Pause between one swap taking over every partition and the next
    /// deploy: the steady records between swaps come from its last part.
    #[arg(long, default_value_t = 3.0)]
    pub pause: f64,
    /// Version 2 (`just build-test-guests`).
    #[arg(long, default_value = "target/test-guests/flatten-v2.wasm")]
    pub v2: PathBuf,
    /// Also write each record's production time and latency, and each
    /// swap's window, to this file (JSON), to see where a swap's cost falls.
    #[arg(long)]
    pub timeline: Option<PathBuf>,
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
    /// Latency of the records produced around a swap, milliseconds.
    #[serde(default)]
    pub around: Latency,
    /// Latency of the other records (after the warm-up), milliseconds.
    #[serde(default)]
    pub steady: Latency,
}

/// How long after a swap took over every partition its records still count as "around" it.
const AFTER_SWAP_MS: f64 = 1000.0;

/// Splits latencies by their record's production time: inside one of the
/// `windows` (wall-clock ms, inclusive) or after `from_ms` and outside all.
fn split(stamped: &[(f64, f64)], windows: &[(f64, f64)], from_ms: f64) -> (Latency, Latency) {
    let (mut around, mut steady) = (Vec::new(), Vec::new());
    for &(produced, latency) in stamped {
        if windows.iter().any(|&(a, b)| produced >= a && produced <= b) {
            around.push(latency);
        } else if produced >= from_ms {
            steady.push(latency);
        }
    }
    (Latency::of(around), Latency::of(steady))
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

    let warm_ms = crate::e2e::now_ms();
    let mut deploys = Vec::new();
    let mut windows = Vec::new();
    for i in 0..args.swaps {
        let start_ms = crate::e2e::now_ms();
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
        windows.push((start_ms, crate::e2e::now_ms() + AFTER_SWAP_MS));
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
    let ends = services::end_offsets(&ep.brokers, &name, args.partitions)?;
    let stamps = services::stamps(&ep.brokers, &name, &vec![0; ends.len()], &ends)?;
    let times = services::write_times(&session, &table).await?;
    let stamped: Vec<(f64, f64)> = stamps
        .iter()
        .filter_map(|s| {
            let id = uuid::Uuid::parse_str(&s.key).ok()?;
            let wt = *times.get(&id)?;
            Some((
                s.timestamp_ms as f64,
                wt as f64 / 1e3 - s.timestamp_ms as f64,
            ))
        })
        .collect();
    let (around, steady) = split(&stamped, &windows, warm_ms);
    if let Some(path) = &args.timeline {
        let timeline = serde_json::json!({
            "warm_ms": warm_ms,
            "windows": windows,
            "deploys_ms": deploys,
            "records": stamped,
        });
        std::fs::write(path, serde_json::to_vec(&timeline)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
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
        around,
        steady,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_split_by_production_time() {
        // (produced at, latency): one inside the window, two steady, one in the warm-up.
        let stamped = [(5.0, 90.0), (20.0, 10.0), (30.0, 12.0), (1.0, 500.0)];
        let (around, steady) = split(&stamped, &[(4.0, 6.0)], 2.0);
        assert_eq!((around.count, around.p99_ms), (1, 90.0));
        assert_eq!((steady.count, steady.p99_ms), (2, 12.0));
    }
}
