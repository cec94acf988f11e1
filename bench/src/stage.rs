//! `sluice-bench stage`: the host's CPU per record, stage by stage, and the
//! flatten logic natively vs through the Wasm engine, on the same records.
//!
//! Both transform paths run the same chain, JSON bytes -> value tree ->
//! flatten -> rows (host `model` types): the native one moves the tree into
//! the SDK's types and the rows back, as the engine moves them into and out
//! of the component. Rounds interleave every measurement (and native and
//! Wasm alternate repetition by repetition within one), so the machine's
//! noise hits both sides of a ratio alike; each figure is the median over
//! rounds of the calling thread's CPU time (not wall time: the machine is shared).

use crate::procfs::thread_cpu_ns;
use crate::stats::median;
use crate::users::{self, NativeFlatten};
use anyhow::{Context, Result};
use host::decode::{Decoder, Format};
use host::engine::{Engine, Limits, Plugin};
use host::model::{Outcome, Row};
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct StageArgs {
    /// Distinct users measured (cycled through).
    #[arg(long, default_value_t = 2048)]
    pub records: usize,
    /// Interleaved rounds; figures are medians over them.
    #[arg(long, default_value_t = 7)]
    pub rounds: usize,
    /// Plugin call batch sizes, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,128,512")]
    pub batches: Vec<usize>,
    /// Minimum CPU seconds per timed measurement (repeats the records until reached).
    #[arg(long, default_value_t = 0.3)]
    pub min_seconds: f64,
    /// The flatten component.
    #[arg(long, default_value = "plugins/dist/flatten.wasm")]
    pub plugin: PathBuf,
    /// The same transform in other languages, measured at the largest batch
    /// beside the Rust one (missing files are skipped with a note).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "plugins/dist/flatten-js.wasm,plugins/dist/flatten-py.wasm"
    )]
    pub polyglot: Vec<PathBuf>,
    /// Instead of measuring, run one side's chain (`native` or `wasm`) at
    /// the largest batch for `--profile-seconds`, for `perf record`: a
    /// profile of one side alone, whose leaf symbols need no call graph
    /// (perf cannot unwind through the guest's JIT code).
    #[arg(long, value_parser = ["native", "wasm"])]
    pub profile: Option<String>,
    /// How long `--profile` runs, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub profile_seconds: f64,
}

/// One other-language build of flatten, at the largest batch size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolyglotFigures {
    /// The component's file name.
    pub plugin: String,
    /// The WIT world version it was built for.
    pub world: String,
    /// JSON bytes -> rows, per record.
    pub chain_us: f64,
    /// The transform alone (chain minus the JSON parse).
    pub transform_us: f64,
    /// Median over rounds of its transform / the Rust component's transform.
    pub ratio_to_rust: f64,
}

/// Per-record CPU microseconds of one batch size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchFigures {
    pub batch: usize,
    /// JSON bytes -> rows, native flatten.
    pub native_chain_us: f64,
    /// JSON bytes -> rows, flatten.wasm through the engine.
    pub wasm_chain_us: f64,
    /// Median over rounds of wasm_chain / native_chain.
    pub chain_ratio: f64,
    /// The transform alone (chain minus the JSON parse), native.
    pub native_transform_us: f64,
    /// The transform alone (chain minus the JSON parse), Wasm.
    pub wasm_transform_us: f64,
    /// Median over rounds of the transform-only ratio.
    pub transform_ratio: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageResult {
    pub records: usize,
    pub rounds: usize,
    /// Mean size of one user, bytes.
    pub json_bytes: f64,
    pub avro_bytes: f64,
    pub decode_json_us: f64,
    pub decode_avro_us: f64,
    pub bind_us: f64,
    pub batches: Vec<BatchFigures>,
    /// The Rust component's WIT world version.
    #[serde(default)]
    pub world: String,
    #[serde(default)]
    pub polyglot: Vec<PolyglotFigures>,
}

/// Runs `f` `reps` times and returns CPU microseconds per record.
fn per_record_us(reps: usize, records: usize, mut f: impl FnMut()) -> f64 {
    let start = thread_cpu_ns();
    for _ in 0..reps {
        f();
    }
    (thread_cpu_ns() - start) as f64 / 1e3 / (reps * records) as f64
}

/// `per_record_us` of two functions at once, their repetitions alternated
/// (`reps` each), so a change of the machine's speed within a round hits
/// both sides of their ratio alike.
fn paired_per_record_us(
    reps: usize,
    records: usize,
    mut f: impl FnMut(),
    mut g: impl FnMut(),
) -> (f64, f64) {
    let (mut in_f, mut in_g) = (0u64, 0u64);
    for _ in 0..reps {
        let t = thread_cpu_ns();
        f();
        let u = thread_cpu_ns();
        g();
        in_f += u - t;
        in_g += thread_cpu_ns() - u;
    }
    let per = |ns: u64| ns as f64 / 1e3 / (reps * records) as f64;
    (per(in_f), per(in_g))
}

/// How many repetitions of `f` take at least `min_seconds`.
fn calibrate(min_seconds: f64, mut f: impl FnMut()) -> usize {
    let t = Instant::now();
    f();
    let one = t.elapsed().as_secs_f64().max(1e-6);
    ((min_seconds / one).ceil() as usize).max(1)
}

pub fn run(args: &StageArgs) -> Result<StageResult> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let users = users::users("bench-stage", args.records);
    let (json, avro) = users::encoded(&users, 1);
    let registry_url = runtime.block_on(users::stub_registry())?;
    let registry = Arc::new(host::registry::Registry::new(&registry_url, None)?);
    let decoder = Decoder::new(Format::Avro, Some(registry));

    let engine = Engine::new()?;
    let plugin = Plugin::load_file(&engine, &args.plugin, Vec::new(), Limits::default())
        .with_context(|| {
            format!(
                "loading {} (run `just build-plugins`)",
                args.plugin.display()
            )
        })?;
    let native = NativeFlatten::new();
    let others: Vec<(String, Plugin)> = args
        .polyglot
        .iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_string_lossy().to_string();
            match Plugin::load_file(&engine, path, Vec::new(), Limits::default()) {
                Ok(p) => Some((name, p)),
                Err(e) => {
                    eprintln!("stage: skipping {}: {e}", path.display());
                    None
                }
            }
        })
        .collect();
    let table = users::created_users("bench");
    let version = plugin.info().version.clone();

    let parse = |bytes: &[u8], i: usize| {
        users::record(
            host::json::tree_from_slice(bytes).expect("valid JSON"),
            i as i64,
        )
    };
    // Rows to bind: the plugin's own output, with the version column the pipeline adds.
    let rows: Vec<Row> = plugin
        .transform(json.iter().enumerate().map(|(i, b)| parse(b, i)).collect())
        .into_iter()
        .flat_map(|r| match r {
            Ok(Outcome::Rows(rows)) => rows,
            other => panic!("flatten.wasm failed on a generated user: {other:?}"),
        })
        .map(|r| users::with_version(r, &version))
        .collect();
    assert_eq!(rows.len(), json.len(), "one row per user");
    for row in &rows {
        table
            .bind(row.clone(), None)
            .map_err(|e| anyhow::anyhow!("generated rows do not fit created_users: {e}"))?;
    }
    // The native and Wasm rows must be the same, or the comparison is moot.
    let native_rows = native.transform(json.iter().enumerate().map(|(i, b)| parse(b, i)).collect());
    let wasm_rows = plugin.transform(json.iter().enumerate().map(|(i, b)| parse(b, i)).collect());
    for (n, w) in native_rows.iter().zip(&wasm_rows) {
        assert_eq!(Some(n), w.as_ref().ok(), "native and Wasm flatten disagree");
    }

    let n = json.len();
    let decode_json = || {
        for b in &json {
            black_box(host::json::tree_from_slice(b).expect("valid JSON"));
        }
    };
    let decode_avro = || {
        runtime.block_on(async {
            for b in &avro {
                black_box(decoder.decode(Some(b)).await.expect("valid Avro"));
            }
        })
    };
    let bind = || {
        for row in &rows {
            black_box(table.bind(row.clone(), None).expect("fits"));
        }
    };
    let chain_native = |batch: usize| {
        for (c, chunk) in json.chunks(batch).enumerate() {
            let records = chunk
                .iter()
                .enumerate()
                .map(|(i, b)| parse(b, c * batch + i))
                .collect();
            black_box(native.transform(records));
        }
    };
    let chain_wasm = |batch: usize| {
        for (c, chunk) in json.chunks(batch).enumerate() {
            let records = chunk
                .iter()
                .enumerate()
                .map(|(i, b)| parse(b, c * batch + i))
                .collect();
            black_box(plugin.transform(records));
        }
    };

    let largest = args.batches.iter().copied().max().unwrap_or(512);
    let chain_other = |plugin: &Plugin| {
        for (c, chunk) in json.chunks(largest).enumerate() {
            let records = chunk
                .iter()
                .enumerate()
                .map(|(i, b)| parse(b, c * largest + i))
                .collect();
            black_box(plugin.transform(records));
        }
    };

    if let Some(side) = &args.profile {
        let until = Instant::now() + std::time::Duration::from_secs_f64(args.profile_seconds);
        let mut passes = 0usize;
        while Instant::now() < until {
            match side.as_str() {
                "native" => chain_native(largest),
                _ => chain_wasm(largest),
            }
            passes += 1;
        }
        eprintln!("stage --profile {side}: {passes} passes of {n} records at batch {largest}; nothing measured");
        std::process::exit(0);
    }

    let m = args.min_seconds;
    let reps_json = calibrate(m, decode_json);
    let reps_avro = calibrate(m, decode_avro);
    let reps_bind = calibrate(m, bind);
    let reps: Vec<(usize, usize, usize)> = args
        .batches
        .iter()
        .map(|&b| {
            (
                b,
                calibrate(m, || chain_native(b)),
                calibrate(m, || chain_wasm(b)),
            )
        })
        .collect();

    // Slow guests: one pass per round is enough time.
    let reps_other: Vec<usize> = others
        .iter()
        .map(|(_, p)| calibrate(m.min(0.1), || chain_other(p)))
        .collect();
    let mut per_other: Vec<Vec<f64>> = vec![Vec::new(); others.len()];
    let mut rust_largest = Vec::new();
    let (mut dj, mut da, mut db) = (Vec::new(), Vec::new(), Vec::new());
    let mut per_batch: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); reps.len()];
    for round in 0..args.rounds {
        eprintln!("stage: round {}/{}", round + 1, args.rounds);
        dj.push(per_record_us(reps_json, n, decode_json));
        da.push(per_record_us(reps_avro, n, decode_avro));
        db.push(per_record_us(reps_bind, n, bind));
        for (i, &(b, rn, rw)) in reps.iter().enumerate() {
            // The faster side's repetitions: both run at least min-seconds.
            let (native_us, wasm_us) =
                paired_per_record_us(rn.max(rw), n, || chain_native(b), || chain_wasm(b));
            per_batch[i].0.push(native_us);
            per_batch[i].1.push(wasm_us);
            if b == largest {
                rust_largest.push(*per_batch[i].1.last().expect("just pushed"));
            }
        }
        for (i, (_, p)) in others.iter().enumerate() {
            per_other[i].push(per_record_us(reps_other[i], n, || chain_other(p)));
        }
    }
    let polyglot = others
        .iter()
        .zip(&per_other)
        .map(|((name, p), chains)| {
            let transform: Vec<f64> = chains.iter().zip(&dj).map(|(c, p)| c - p).collect();
            let ratios: Vec<f64> = transform
                .iter()
                .zip(rust_largest.iter().zip(&dj))
                .map(|(t, (r, p))| t / (r - p))
                .collect();
            PolyglotFigures {
                plugin: name.clone(),
                world: p.world_version().to_string(),
                chain_us: median(chains),
                transform_us: median(&transform),
                ratio_to_rust: median(&ratios),
            }
        })
        .collect();
    let batches = reps
        .iter()
        .zip(&per_batch)
        .map(|(&(batch, _, _), (nat, wasm))| {
            let ratio = |sub: &[f64]| {
                median(
                    &nat.iter()
                        .zip(wasm)
                        .zip(sub)
                        .map(|((n, w), p)| (w - p) / (n - p))
                        .collect::<Vec<_>>(),
                )
            };
            BatchFigures {
                batch,
                native_chain_us: median(nat),
                wasm_chain_us: median(wasm),
                chain_ratio: ratio(&vec![0.0; nat.len()]),
                native_transform_us: median(
                    &nat.iter().zip(&dj).map(|(n, p)| n - p).collect::<Vec<_>>(),
                ),
                wasm_transform_us: median(
                    &wasm.iter().zip(&dj).map(|(w, p)| w - p).collect::<Vec<_>>(),
                ),
                transform_ratio: ratio(&dj),
            }
        })
        .collect();
    Ok(StageResult {
        records: n,
        rounds: args.rounds,
        json_bytes: json.iter().map(Vec::len).sum::<usize>() as f64 / n as f64,
        avro_bytes: avro.iter().map(Vec::len).sum::<usize>() as f64 / n as f64,
        decode_json_us: median(&dj),
        decode_avro_us: median(&da),
        bind_us: median(&db),
        batches,
        world: plugin.world_version().to_string(),
        polyglot,
    })
}
