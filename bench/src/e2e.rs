//! `sluice-bench e2e --system sluice|spark`: one system against the real
//! local services, measured the same way whichever it is.
//!
//! 1. N Avro users are preloaded into a fresh topic (`host ingest` against
//!    an in-process `host users-api`); the system starts at offset 0 and
//!    drains them into a fresh keyspace: throughput.
//! 2. While it runs, users are produced at the drain rate ("full load"),
//!    then at half of it: latency from each record's Kafka timestamp to its
//!    row's Cassandra write time.
//! 3. Throughout, the system's process tree is sampled from /proc: CPU, RSS.

use crate::load::{self, UsersApi};
use crate::procfs::{Sampler, Usage};
use crate::services::{self, Endpoints, Stamp};
use crate::stats::Latency;
use crate::system::{self, Kind, Launch, Running, Target};
use anyhow::{bail, Context, Result};
use host::metrics::histogram_sum_count;
use scylla::client::session::Session;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, clap::Args)]
pub struct E2eArgs {
    #[arg(long, value_enum)]
    pub system: Kind,
    /// Users preloaded and drained.
    #[arg(long, default_value_t = 50_000)]
    pub count: u64,
    /// Partitions of the topic.
    #[arg(long, default_value_t = 2)]
    pub partitions: i32,
    /// Length of each live phase (full load, half load), seconds.
    #[arg(long, default_value_t = 30.0)]
    pub live_seconds: f64,
    /// The full-load rate (users/s); default: the rate the drain reached.
    #[arg(long)]
    pub full_rate: Option<f64>,
    /// Also a live phase ("peer") at this rate: run the peer first and pass its
    /// half-load rate, for latencies at the same offered load.
    #[arg(long)]
    pub also_rate: Option<f64>,
    /// Sluice only: also a live phase ("shadow") at half load with this
    /// component running in the shadow of the active version on 10% of the
    /// records, to compare with the half-load phase.
    #[arg(long)]
    pub shadow: Option<std::path::PathBuf>,
    /// Also write every live record's latency to this CSV file (phase,
    /// partition, offset, Kafka timestamp in ms, write time in us, latency
    /// in ms), to see when the slow ones happened.
    #[arg(long)]
    pub latencies: Option<std::path::PathBuf>,
    /// Give up waiting for rows after this many seconds per phase.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    #[command(flatten)]
    pub launch: Launch,
}

/// One live phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    pub offered_rate: f64,
    pub records: u64,
    /// Rows per second between the phase's first and last write.
    pub achieved_rate: f64,
    /// Cores the load generator (users API + ingest, in the bench process) used while producing.
    pub loadgen_cores: f64,
    /// Cores of the whole machine busy during the phase (every process:
    /// the system, the load generator, Kafka, Cassandra, the registry).
    #[serde(default)]
    pub machine_cores: f64,
    pub latency: Latency,
    pub usage: Usage,
    pub cpu_us_per_record: f64,
}

/// The host's own metrics over the drain (Sluice only): where a batch's time goes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostMetrics {
    pub batches: f64,
    /// Mean time of one batch: decode, transform, write, acknowledge.
    pub batch_ms: f64,
    /// Mean time of one plugin call within it.
    pub plugin_call_ms: f64,
    /// Share of the drain the partition workers spent inside batches (1.0: never idle).
    pub worker_busy: f64,
}

async fn host_metrics(admin: &str, partitions: i32, drain_secs: f64) -> Result<HostMetrics> {
    let text = reqwest::get(format!("http://{admin}/metrics"))
        .await?
        .error_for_status()?
        .text()
        .await?;
    let (batch_sum, batches) = histogram_sum_count(&text, "batch_seconds");
    let (call_sum, calls) = histogram_sum_count(&text, "plugin_call_seconds");
    Ok(HostMetrics {
        batches,
        batch_ms: batch_sum * 1e3 / batches,
        plugin_call_ms: call_sum * 1e3 / calls,
        worker_busy: batch_sum / (partitions as f64 * drain_secs),
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct E2eResult {
    pub system: Kind,
    pub count: u64,
    pub partitions: i32,
    pub preload_rate: f64,
    /// Process start to the first row written.
    pub startup_s: f64,
    /// Rows per second between the first and the last write of the backlog.
    pub drain_rate: f64,
    /// N over process start -> all N rows counted (start-up included).
    pub drain_wall_rate: f64,
    /// The process tree during the drain (first to last write).
    pub drain_usage: Usage,
    pub drain_cpu_us_per_record: f64,
    pub phases: Vec<Phase>,
    /// Sluice only: the host's metrics over the drain.
    #[serde(default)]
    pub host_metrics: Option<HostMetrics>,
    /// Peak RSS of the process tree over the whole run.
    pub rss_peak_mb: f64,
    /// RSS after the run, idle.
    pub rss_idle_mb: f64,
    /// Sluice with `--shadow`: the shadow run's counts after its phase.
    #[serde(default)]
    pub shadow_counts: Option<serde_json::Value>,
}

pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or(0.0)
}

/// Maps wall-clock milliseconds to `Instant`s, anchored at one moment.
struct Clock {
    instant: Instant,
    wall_ms: f64,
}

impl Clock {
    fn now() -> Self {
        Clock {
            instant: Instant::now(),
            wall_ms: now_ms(),
        }
    }
    fn at(&self, wall_ms: f64) -> Instant {
        let d = wall_ms - self.wall_ms;
        if d >= 0.0 {
            self.instant + Duration::from_secs_f64(d / 1e3)
        } else {
            self.instant
                .checked_sub(Duration::from_secs_f64(-d / 1e3))
                .unwrap_or(self.instant)
        }
    }
}

/// The keys of the last record of each partition between the offsets.
fn last_keys(ep: &Endpoints, topic: &str, from: &[i64], to: &[i64]) -> Result<Vec<uuid::Uuid>> {
    let lo: Vec<i64> = to
        .iter()
        .zip(from)
        .map(|(&t, &f)| if t > f { t - 1 } else { t })
        .collect();
    Ok(services::stamps(&ep.brokers, topic, &lo, to)?
        .iter()
        .filter_map(|s| uuid::Uuid::parse_str(&s.key).ok())
        .collect())
}

/// Waits for `n` rows, failing early if the system died. Polls the rows of
/// the last records produced (point reads) and counts only once they are
/// there: a `count(*)` every second would load Cassandra during the measurement.
async fn wait_rows(
    s: &Session,
    table: &str,
    n: i64,
    probe: &[uuid::Uuid],
    running: &mut Running,
    timeout: Duration,
) -> Result<Instant> {
    let start = Instant::now();
    loop {
        running.check_alive()?;
        if services::present(s, table, probe).await? == probe.len()
            && services::count(s, table).await? >= n
        {
            return Ok(Instant::now());
        }
        if start.elapsed() > timeout {
            let c = services::count(s, table).await?;
            bail!(
                "{table} has {c} of {n} rows after {timeout:?}; see {}",
                running.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn run(args: &E2eArgs, ep: &Endpoints) -> Result<E2eResult> {
    let kind = args.system;
    let name = services::unique(match kind {
        Kind::Sluice => "bench_sluice",
        Kind::Spark => "bench_spark",
    });
    let (topic, keyspace) = (name.clone(), name.clone());
    let table = format!("{keyspace}.created_users");
    services::create_topic(&ep.brokers, &topic, args.partitions).await?;
    let session = services::session(&ep.cassandra).await?;
    services::create_schema(&session, &keyspace).await?;
    let api: UsersApi = load::users_api().await?;
    let timeout = Duration::from_secs(args.timeout);
    let admin = format!("127.0.0.1:{}", system::free_port()?);

    eprintln!("e2e {kind:?}: preloading {} users into {topic}", args.count);
    let summary = load::ingest(
        &api,
        ep,
        &topic,
        &format!("{name}-drain"),
        args.count,
        None,
        std::future::pending(),
    )
    .await?;
    let preload_rate = summary.produced as f64 / summary.elapsed.as_secs_f64();
    let ends = services::end_offsets(&ep.brokers, &topic, args.partitions)?;
    let probe = last_keys(ep, &topic, &vec![0; ends.len()], &ends)?;

    let target = Target {
        topic: &topic,
        keyspace: &keyspace,
        group: &name,
        brokers: &ep.brokers,
        cassandra: &ep.cassandra,
        registry: &ep.registry,
        admin: Some((&admin, "sluice-bench")),
    };
    let clock = Clock::now();
    let mut running = system::spawn(kind, &args.launch, &target)?;
    let sampler = Sampler::start(running.pid, Duration::from_millis(250));
    // The load generator (this process: users API + ingest), for reading the figures.
    let me = std::process::id();
    let loadgen = Sampler::start_one(me, Duration::from_millis(250));
    eprintln!(
        "e2e {kind:?}: started (pid {}, log {}); draining",
        running.pid,
        running.log.display()
    );
    let all_seen = wait_rows(
        &session,
        &table,
        args.count as i64,
        &probe,
        &mut running,
        timeout,
    )
    .await?;
    sampler.mark();
    let times = services::write_times(&session, &table).await?;
    let (first_us, last_us) = (
        times.values().min().copied().unwrap_or(0),
        times.values().max().copied().unwrap_or(0),
    );
    let drain_secs = ((last_us - first_us) as f64 / 1e6).max(1e-3);
    let drain_rate = args.count as f64 / drain_secs;
    let drain_usage = sampler.usage(
        clock.at(first_us as f64 / 1e3),
        clock.at(last_us as f64 / 1e3),
    );
    eprintln!(
        "e2e {kind:?}: drained {} rows at {drain_rate:.0}/s",
        args.count
    );
    let host_metrics = match kind {
        Kind::Sluice => Some(host_metrics(&admin, args.partitions, drain_secs).await?),
        Kind::Spark => None,
    };

    let full = args.full_rate.unwrap_or(drain_rate);
    let mut phases = Vec::new();
    let mut stamps: Vec<(String, Vec<Stamp>)> = Vec::new();
    let mut total = args.count;
    // The phase at the peer's rate comes first, right after the drain, when
    // the table holds about as many rows as when the peer ran its own
    // phases; after the full and half phases (900k rows here) Cassandra's
    // flushes and compactions of them compete for the same cores.
    let mut plan = Vec::new();
    if let Some(rate) = args.also_rate {
        plan.push(("peer", rate));
    }
    plan.extend([("full", full), ("half", full / 2.0)]);
    let shadow_bytes = match (&args.shadow, kind) {
        (Some(path), Kind::Sluice) => {
            plan.push(("shadow", full / 2.0));
            Some(
                std::fs::read(path)
                    .with_context(|| format!("reading --shadow {}", path.display()))?,
            )
        }
        _ => None,
    };
    let mut shadow_counts = None;
    for (phase, rate) in plan {
        let records = (rate * args.live_seconds).round().max(1.0) as u64;
        eprintln!("e2e {kind:?}: {phase} load, {records} users at {rate:.0}/s");
        if phase == "shadow" {
            let r = reqwest::Client::new()
                .post(format!("http://{admin}/api/plugin/shadow?sample=0.1"))
                .bearer_auth("sluice-bench")
                .body(shadow_bytes.clone().unwrap_or_default())
                .send()
                .await?;
            if !r.status().is_success() {
                bail!(
                    "starting the shadow run: {}",
                    r.text().await.unwrap_or_default()
                );
            }
        }
        let from = services::end_offsets(&ep.brokers, &topic, args.partitions)?;
        let t0 = sampler.mark();
        let machine0 = crate::procfs::machine_ticks();
        loadgen.mark();
        load::ingest(
            &api,
            ep,
            &topic,
            &format!("{name}-{phase}"),
            records,
            Some(rate),
            std::future::pending(),
        )
        .await?;
        let produced = loadgen.mark();
        total += records;
        let to = services::end_offsets(&ep.brokers, &topic, args.partitions)?;
        let probe = last_keys(ep, &topic, &from, &to)?;
        wait_rows(
            &session,
            &table,
            total as i64,
            &probe,
            &mut running,
            timeout,
        )
        .await?;
        let t1 = sampler.mark();
        let machine_cores = crate::procfs::machine_cores(machine0, crate::procfs::machine_ticks());
        if phase == "shadow" {
            let status: serde_json::Value = reqwest::get(format!("http://{admin}/api/status"))
                .await?
                .json()
                .await?;
            shadow_counts = Some(status["shadow"]["counts"].clone());
        }
        stamps.push((
            phase.to_string(),
            services::stamps(&ep.brokers, &topic, &from, &to)?,
        ));
        let usage = sampler.usage(t0, t1);
        phases.push(Phase {
            name: phase.to_string(),
            offered_rate: rate,
            records,
            achieved_rate: 0.0,
            loadgen_cores: loadgen.usage(t0, produced).cores,
            machine_cores,
            latency: Latency::default(),
            cpu_us_per_record: usage.cpu_s * 1e6 / records as f64,
            usage,
        });
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = crate::procfs::read_tree(running.pid);
    let rss_peak_mb = sampler.usage(clock.instant, Instant::now()).rss_peak_mb;
    drop(sampler);
    drop(loadgen);
    running.stop(Duration::from_secs(30));

    let times = services::write_times(&session, &table).await?;
    let mut csv = String::from("phase,partition,offset,timestamp_ms,write_time_us,latency_ms\n");
    for (phase, (_, phase_stamps)) in phases.iter_mut().zip(&stamps) {
        let mut latencies = Vec::with_capacity(phase_stamps.len());
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for s in phase_stamps {
            let Ok(id) = uuid::Uuid::parse_str(&s.key) else {
                continue;
            };
            if let Some(&wt) = times.get(&id) {
                let latency = wt as f64 / 1e3 - s.timestamp_ms as f64;
                latencies.push(latency);
                if args.latencies.is_some() {
                    use std::fmt::Write;
                    let _ = writeln!(
                        csv,
                        "{},{},{},{},{wt},{latency:.3}",
                        phase.name, s.partition, s.offset, s.timestamp_ms
                    );
                }
                lo = lo.min(wt);
                hi = hi.max(wt);
            }
        }
        if latencies.len() as u64 != phase.records {
            bail!(
                "phase {}: {} of {} records found back as rows",
                phase.name,
                latencies.len(),
                phase.records
            );
        }
        phase.achieved_rate = phase.records as f64 / ((hi - lo) as f64 / 1e6).max(1e-3);
        phase.latency = Latency::of(latencies);
    }
    if let Some(path) = &args.latencies {
        std::fs::write(path, csv)
            .with_context(|| format!("writing --latencies {}", path.display()))?;
    }
    services::drop_keyspace(&session, &keyspace).await;
    services::delete_topic(&ep.brokers, &topic).await;
    let _ = all_seen;
    Ok(E2eResult {
        system: kind,
        count: args.count,
        partitions: args.partitions,
        preload_rate,
        startup_s: (first_us as f64 / 1e3 - clock.wall_ms) / 1e3,
        drain_rate,
        drain_wall_rate: args.count as f64 / all_seen.duration_since(clock.instant).as_secs_f64(),
        drain_cpu_us_per_record: drain_usage.cpu_s * 1e6 / args.count as f64,
        drain_usage,
        phases,
        host_metrics,
        rss_peak_mb,
        rss_idle_mb: idle.rss_kb as f64 / 1024.0,
        shadow_counts,
    })
}
