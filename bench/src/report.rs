//! `sluice-bench report`: the markdown tables, from the JSON each
//! subcommand wrote. Speed is shown as ratios to a baseline measured in the
//! same run on the same machine; docs/benchmarks.md says what each figure means.

use crate::ceiling::CeilingResult;
use crate::e2e::{E2eResult, Phase};
use crate::stage::StageResult;
use crate::swap::SwapResult;
use anyhow::Result;
use serde::de::DeserializeOwned;
use std::fmt::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Where the subcommands wrote their JSON (stage.json, ceiling.json, e2e-sluice.json, e2e-spark.json, swap.json).
    #[arg(long, default_value = "bench/work/results")]
    pub results: PathBuf,
    /// The date in the title.
    #[arg(long)]
    pub date: String,
    /// A line about how the run was made (mode, N, ...).
    #[arg(long, default_value = "")]
    pub note: String,
}

fn load<T: DeserializeOwned>(dir: &Path, name: &str) -> Option<T> {
    let text = std::fs::read_to_string(dir.join(name)).ok()?;
    match serde_json::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            eprintln!("report: {name} is unreadable ({e}); left out");
            None
        }
    }
}

fn f0(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.0}")
    } else {
        "–".into()
    }
}
fn f1(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else {
        "–".into()
    }
}
fn f2(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}")
    } else {
        "–".into()
    }
}
fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b != 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "–".into()
    }
}

fn phase<'a>(r: &'a E2eResult, name: &str) -> Option<&'a Phase> {
    r.phases.iter().find(|p| p.name == name)
}

/// Versions that matter to the figures, from Cargo.lock.
fn locked(names: &[&str]) -> String {
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut out = Vec::new();
    let mut current: Option<&str> = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = \"") {
            current = n.strip_suffix('"');
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = \""), current) {
            if names.contains(&n) {
                out.push(format!("{n} {}", v.trim_end_matches('"')));
            }
            current = None;
        }
    }
    out.join(", ")
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!("{cores} cores ({cpu}), load average now {}", load.join(" "))
}

pub fn render(args: &ReportArgs) -> Result<String> {
    let dir = &args.results;
    let stage: Option<StageResult> = load(dir, "stage.json");
    let ceiling: Option<CeilingResult> = load(dir, "ceiling.json");
    let sluice: Option<E2eResult> = load(dir, "e2e-sluice.json");
    let spark: Option<E2eResult> = load(dir, "e2e-spark.json");
    let swap: Option<SwapResult> = load(dir, "swap.json");
    let mut md = String::new();
    let w = &mut md;
    writeln!(w, "# Sluice benchmark, {}\n", args.date)?;
    if !args.note.is_empty() {
        writeln!(w, "{}\n", args.note)?;
    }
    writeln!(
        w,
        "Machine: {}. Shared with other work: compare ratios, not absolute figures.",
        machine()
    )?;
    writeln!(
        w,
        "Versions: {}. How to reproduce and what each figure means: docs/benchmarks.md.\n",
        locked(&["tokio", "scylla", "rdkafka", "wasmtime", "apache-avro"])
    )?;

    // Headline.
    writeln!(w, "## Sluice vs the Spark job vs the ceiling\n")?;
    let nan = f64::NAN;
    let get =
        |r: &Option<E2eResult>, f: &dyn Fn(&E2eResult) -> f64| r.as_ref().map(f).unwrap_or(nan);
    let lat = |r: &Option<E2eResult>, p: &str, pick: fn(&crate::stats::Latency) -> f64| {
        r.as_ref()
            .and_then(|r| phase(r, p))
            .map(|p| pick(&p.latency))
            .unwrap_or(nan)
    };
    let ceil = ceiling.as_ref().map(|c| c.rate).unwrap_or(nan);
    writeln!(w, "| figure | Sluice | Spark peer | Sluice ÷ Spark |")?;
    writeln!(w, "|---|---:|---:|---:|")?;
    let rows: Vec<(&str, f64, f64, bool)> = vec![
        (
            "throughput, backlog drain (rows/s)",
            get(&sluice, &|r| r.drain_rate),
            get(&spark, &|r| r.drain_rate),
            true,
        ),
        (
            "start to first row (s)",
            get(&sluice, &|r| r.startup_s),
            get(&spark, &|r| r.startup_s),
            false,
        ),
        (
            "N rows incl. start-up (rows/s)",
            get(&sluice, &|r| r.drain_wall_rate),
            get(&spark, &|r| r.drain_wall_rate),
            true,
        ),
        (
            "latency p50, full load (ms)",
            lat(&sluice, "full", |l| l.p50_ms),
            lat(&spark, "full", |l| l.p50_ms),
            false,
        ),
        (
            "latency p99, full load (ms)",
            lat(&sluice, "full", |l| l.p99_ms),
            lat(&spark, "full", |l| l.p99_ms),
            false,
        ),
        (
            "latency p50, half load (ms)",
            lat(&sluice, "half", |l| l.p50_ms),
            lat(&spark, "half", |l| l.p50_ms),
            false,
        ),
        (
            "latency p99, half load (ms)",
            lat(&sluice, "half", |l| l.p99_ms),
            lat(&spark, "half", |l| l.p99_ms),
            false,
        ),
        (
            "latency p50 at the peer's half load (ms)",
            lat(&sluice, "peer", |l| l.p50_ms),
            lat(&spark, "half", |l| l.p50_ms),
            false,
        ),
        (
            "latency p99 at the peer's half load (ms)",
            lat(&sluice, "peer", |l| l.p99_ms),
            lat(&spark, "half", |l| l.p99_ms),
            false,
        ),
        (
            "RSS peak (MB)",
            get(&sluice, &|r| r.rss_peak_mb),
            get(&spark, &|r| r.rss_peak_mb),
            false,
        ),
        (
            "CPU per record, drain (µs)",
            get(&sluice, &|r| r.drain_cpu_us_per_record),
            get(&spark, &|r| r.drain_cpu_us_per_record),
            false,
        ),
        (
            "cores busy, drain",
            get(&sluice, &|r| r.drain_usage.cores),
            get(&spark, &|r| r.drain_usage.cores),
            false,
        ),
        (
            "throughput as % of the ceiling",
            get(&sluice, &|r| 100.0 * r.drain_rate / ceil),
            get(&spark, &|r| 100.0 * r.drain_rate / ceil),
            true,
        ),
    ];
    for (name, a, b, _) in &rows {
        let fmt = if name.contains("cores") || name.contains("(s)") {
            f2
        } else {
            f0
        };
        writeln!(
            w,
            "| {name} | {} | {} | {} |",
            fmt(*a),
            fmt(*b),
            ratio(*a, *b)
        )?;
    }
    writeln!(
        w,
        "| ceiling: same rows, same driver and concurrency, no Kafka/Wasm (rows/s) | {} | | |\n",
        f0(ceil)
    )?;
    writeln!(
        w,
        "Full and half load are each system's own: its drain rate and half of it, so the latencies at full load are \
         not at equal rates (a system that cannot keep up while the load generator shares its cores builds a backlog, \
         and its latency is then mostly queueing; see the achieved rates below). The \"peer's half load\" rows are at \
         the same offered rate for both. Below 1× is better for latency, RSS and CPU; above 1× for throughput.\n"
    )?;

    // Stage.
    if let Some(s) = &stage {
        writeln!(
            w,
            "## Stage: CPU per record in the host, and flatten native vs Wasm\n"
        )?;
        writeln!(
            w,
            "{} distinct users (JSON {:.0} B, Avro {:.0} B each), medians of {} interleaved rounds, CPU time of one thread.\n",
            s.records, s.json_bytes, s.avro_bytes, s.rounds
        )?;
        writeln!(w, "| stage | µs per record |")?;
        writeln!(w, "|---|---:|")?;
        writeln!(
            w,
            "| decode JSON (bytes -> value tree) | {} |",
            f2(s.decode_json_us)
        )?;
        writeln!(
            w,
            "| decode Avro (Confluent frame, cached writer schema -> value tree) | {} |",
            f2(s.decode_avro_us)
        )?;
        if let Some(b) = s.batches.iter().max_by_key(|b| b.batch) {
            writeln!(
                w,
                "| transform, flatten.wasm, batch {} | {} |",
                b.batch,
                f2(b.wasm_transform_us)
            )?;
            writeln!(
                w,
                "| transform, flatten native | {} |",
                f2(b.native_transform_us)
            )?;
            writeln!(
                w,
                "| row encoding (`TableSchema::bind` -> CQL values) | {} |",
                f2(s.bind_us)
            )?;
            writeln!(
                w,
                "| **host total, Avro in, batch {}: decode + transform + bind** | **{}** |",
                b.batch,
                f2(s.decode_avro_us + b.wasm_transform_us + s.bind_us)
            )?;
        }
        writeln!(w)?;
        writeln!(w, "Same records, JSON bytes -> value tree -> flatten -> rows, by plugin call batch size:\n")?;
        writeln!(w, "| batch | native chain (µs/rec) | Wasm chain (µs/rec) | Wasm ÷ native, chain | transform only: native | Wasm | Wasm ÷ native |")?;
        writeln!(w, "|---:|---:|---:|---:|---:|---:|---:|")?;
        for b in &s.batches {
            writeln!(
                w,
                "| {} | {} | {} | {:.2}× | {} | {} | {:.2}× |",
                b.batch,
                f2(b.native_chain_us),
                f2(b.wasm_chain_us),
                b.chain_ratio,
                f2(b.native_transform_us),
                f2(b.wasm_transform_us),
                b.transform_ratio
            )?;
        }
        writeln!(w)?;
        if !s.world.is_empty() {
            writeln!(w, "flatten.wasm targets sluice:transform@{}; the native chain packs the value as the engine does.\n", s.world)?;
        }
        if !s.polyglot.is_empty() {
            let largest = s.batches.iter().map(|b| b.batch).max().unwrap_or(0);
            writeln!(
                w,
                "The same transform in other languages, batch {largest}:\n"
            )?;
            writeln!(
                w,
                "| component | world | chain (µs/rec) | transform (µs/rec) | ÷ Rust (transform) |"
            )?;
            writeln!(w, "|---|---|---:|---:|---:|")?;
            for p in &s.polyglot {
                writeln!(
                    w,
                    "| {} | {} | {} | {} | {:.1}× |",
                    p.plugin,
                    p.world,
                    f2(p.chain_us),
                    f2(p.transform_us),
                    p.ratio_to_rust
                )?;
            }
            writeln!(w)?;
        }
    }

    // End to end details.
    for (label, r) in [
        ("Sluice (host, release build)", &sluice),
        ("Spark peer (PySpark 3.5.7, local[2])", &spark),
    ] {
        let Some(r) = r else { continue };
        writeln!(w, "## End to end: {label}\n")?;
        writeln!(
            w,
            "{} Avro users preloaded at {} users/s into a {}-partition topic; start to first row {} s; drain {} rows/s \
             (first to last write), {} rows/s including start-up; {} µs CPU per record, {} cores, RSS mean {} MB during the drain; \
             RSS peak {} MB, idle after the run {} MB.\n",
            r.count,
            f0(r.preload_rate),
            r.partitions,
            f1(r.startup_s),
            f0(r.drain_rate),
            f0(r.drain_wall_rate),
            f0(r.drain_cpu_us_per_record),
            f2(r.drain_usage.cores),
            f0(r.drain_usage.rss_mean_mb),
            f0(r.rss_peak_mb),
            f0(r.rss_idle_mb)
        )?;
        if let Some(m) = &r.host_metrics {
            writeln!(
                w,
                "Host metrics over the drain: {} batches, {} ms per batch on average (plugin call {} ms of it); \
                 the partition workers were inside a batch {:.0}% of the drain.\n",
                f0(m.batches),
                f1(m.batch_ms),
                f1(m.plugin_call_ms),
                100.0 * m.worker_busy
            )?;
        }
        if let (Some(half), Some(shadow)) = (
            r.phases.iter().find(|p| p.name == "half"),
            r.phases.iter().find(|p| p.name == "shadow"),
        ) {
            let counts = r.shadow_counts.clone().unwrap_or_default();
            writeln!(
                w,
                "Shadow run (flatten v2 beside v1 on 10% of the records, phase \"shadow\" at the half-load rate): \
                 CPU {} µs per record against {} without ({:+.0}%), p99 {} ms against {}; achieved {} rows/s against {}. \
                 The shadow compared {} records ({} different, {} skipped while behind).\n",
                f0(shadow.cpu_us_per_record),
                f0(half.cpu_us_per_record),
                100.0 * (shadow.cpu_us_per_record / half.cpu_us_per_record - 1.0),
                f0(shadow.latency.p99_ms),
                f0(half.latency.p99_ms),
                f0(shadow.achieved_rate),
                f0(half.achieved_rate),
                counts["compared"],
                counts["different"],
                counts["skipped"]
            )?;
        }
        writeln!(w, "| live phase | offered (rec/s) | achieved (rows/s) | records | latency p50 (ms) | p99 (ms) | max (ms) | cores | CPU µs/rec | RSS peak (MB) | load generator cores | machine cores busy |")?;
        writeln!(
            w,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        )?;
        for p in &r.phases {
            writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                p.name,
                f0(p.offered_rate),
                f0(p.achieved_rate),
                p.records,
                f0(p.latency.p50_ms),
                f0(p.latency.p99_ms),
                f0(p.latency.max_ms),
                f2(p.usage.cores),
                f0(p.cpu_us_per_record),
                f0(p.usage.rss_peak_mb),
                f2(p.loadgen_cores),
                f2(p.machine_cores)
            )?;
        }
        writeln!(w)?;
    }

    if let Some(c) = &ceiling {
        writeln!(w, "## Ceiling\n")?;
        writeln!(
            w,
            "{} rows, {} writes in flight, prepared upsert through the host's own session: {} rows/s (median of {}: {}); \
             the writer itself used {} cores.\n",
            c.count,
            c.concurrency,
            f0(c.rate),
            c.rates.len(),
            c.rates.iter().map(|r| f0(*r)).collect::<Vec<_>>().join(", "),
            f2(c.writer_usage.cores)
        )?;
    }

    if let Some(s) = &swap {
        writeln!(w, "## Hot swap under load\n")?;
        writeln!(
            w,
            "{} swaps flatten v1 <-> v2 over the admin endpoint at {} users/s on {} partitions; {} records produced, {} rows written (none lost, none twice).\n",
            s.swaps,
            f0(s.rate),
            s.partitions,
            s.records,
            s.rows
        )?;
        writeln!(w, "| | count | p50 (ms) | p99 (ms) | max (ms) |")?;
        writeln!(w, "|---|---:|---:|---:|---:|")?;
        writeln!(
            w,
            "| stall per partition and swap | {} | {} | {} | {} |",
            s.stall.count,
            f1(s.stall.p50_ms),
            f1(s.stall.p99_ms),
            f1(s.stall.max_ms)
        )?;
        writeln!(
            w,
            "| deploy call (compile, validate, swap) | {} | {} | {} | {} |",
            s.deploy.count,
            f1(s.deploy.p50_ms),
            f1(s.deploy.p99_ms),
            f1(s.deploy.max_ms)
        )?;
        for (what, l) in [
            ("latency of records produced around a swap", &s.around),
            ("latency of the other records (steady state)", &s.steady),
        ] {
            writeln!(
                w,
                "| {what} | {} | {} | {} | {} |",
                l.count,
                f1(l.p50_ms),
                f1(l.p99_ms),
                f1(l.max_ms)
            )?;
        }
        writeln!(
            w,
            "\nA swap adds {} ms to the p99 latency of the records produced from its deploy call until a second after it took over every partition, against the steady records of the same run.\n",
            f1(s.around.p99_ms - s.steady.p99_ms)
        )?;
    }
    Ok(md)
}
