//! Hostile plugins, at three levels: the engine alone (no services), a real
//! pipeline (Kafka + Cassandra) fed hostile records, and the deploy path.
//!
//! The guests (`just build-test-guests`):
//! - `hostile` misbehaves per record by its `"mode"`: stack overflow, slow,
//!   huge error, log flood, huge output, out of memory;
//! - `metadata-panic` panics in `metadata()`;
//! - `forged-name` names itself with a forged Prometheus line;
//! - `init-hangs` never returns from `init`.
//!
//! Run with `--nocapture` to see the timings and RSS figures.

mod common;

use common::*;
use host::config::Config;
use host::engine::{CallError, Engine, Limits, LoadError, Plugin, RecordResult};
use host::model::{Cell, Origin, Outcome, Record};
use rdkafka::message::{Headers, Message};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What metadata-panic's panic says (test-guests/metadata-panic/src/lib.rs).
const PANIC_MESSAGE: &str = "metadata exploded on purpose (marker 7f3a9c)";
/// The name forged-name gives itself.
const FORGED_NAME: &str = "x\"} 1\nsluice_injected_metric{x=\"y";
/// The most bytes of text a dead letter carries (sluice_pipeline::dead_letter::MAX_TEXT).
const MAX_DLQ_TEXT: usize = 2048;
const TOKEN: &str = "hostile-token-17";

/// The tests measure wall time and this process's RSS, so they take turns:
/// a 60 MiB string or a memory bomb in a neighbouring test would skew them.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    // A failed test must not fail the others through a poisoned lock.
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn guest_path(name: &str) -> PathBuf {
    sluice_test_programs::path(name)
}

fn guest_bytes(name: &str) -> Vec<u8> {
    std::fs::read(guest_path(name)).unwrap()
}

/// Runs `f` on a thread of its own and waits at most `limit` for it, so a
/// hang fails the test instead of stalling the run.
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not finish within {limit:?}")
        }
        Err(e) => panic!("{what} panicked ({e})"),
    }
}

/// Runs an async test body on a runtime of its own, bounded by `limit`.
fn run_async<F: std::future::Future<Output = ()>>(limit: Duration, what: &str, body: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(limit, body)
                .await
                .unwrap_or_else(|_| panic!("{what} did not finish within {limit:?}"))
        })
}

fn load(name: &str, limits: Limits) -> Result<Plugin, LoadError> {
    let engine = Engine::new().expect("engine");
    Plugin::load(&engine, name, &guest_bytes(name), Vec::new(), limits)
}

fn record(offset: i64, json: &str) -> Record {
    Record {
        origin: Origin {
            topic: "hostile-test".into(),
            offset,
            ..Origin::default()
        },
        value: host::json::tree_from_slice(json.as_bytes()).expect("test JSON"),
    }
}

fn assert_offset_row(result: &RecordResult, offset: i64) {
    match result {
        Ok(Outcome::Rows(rows)) if rows.len() == 1 => assert_eq!(
            rows[0].columns,
            vec![("offset".to_string(), Cell::Bigint(offset))]
        ),
        other => panic!("expected one offset row for {offset}, got {}", brief(other)),
    }
}

/// A result in a line, without 60 MiB of payload.
fn brief(result: &RecordResult) -> String {
    let text = format!("{result:?}");
    if text.len() > 300 {
        format!("{}... ({} bytes)", &text[..300], text.len())
    } else {
        text
    }
}

/// A figure of this process's /proc status (the pipeline runs in this
/// process), in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    kib * 1024
}

/// Resident set size now.
fn rss_bytes() -> u64 {
    status_bytes("VmRSS:")
}

/// The peak resident set size since the last [`reset_peak_rss`].
fn peak_rss_bytes() -> u64 {
    status_bytes("VmHWM:")
}

/// Starts measuring the peak afresh (best effort: Linux >= 4.0).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

// ---- The engine alone ----

#[test]
fn a_panic_in_metadata_is_refused_with_its_message_and_no_backtrace() {
    let _turn = serial();
    let result = within(Duration::from_secs(60), "loading metadata-panic", || {
        load("metadata-panic", Limits::default()).map(|_| ())
    });
    let e = result.expect_err("a plugin whose metadata() panics must be refused");
    let message = e.to_string();
    eprintln!("metadata-panic refused: {message}");
    assert!(matches!(e, LoadError::Trap { .. }), "{e:?}");
    assert!(message.contains("metadata()"), "{message}");
    assert!(message.contains(PANIC_MESSAGE), "{message}");
    assert!(
        !message.contains("wasm backtrace"),
        "a backtrace is no message for an operator: {message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");
}

#[test]
fn a_plugin_name_that_forges_a_metric_line_is_refused_naming_the_rule() {
    let _turn = serial();
    let result = within(Duration::from_secs(60), "loading forged-name", || {
        load("forged-name", Limits::default()).map(|_| ())
    });
    let e = result.expect_err("a plugin name with quotes and a newline must be refused");
    let message = e.to_string();
    eprintln!("forged-name refused: {message}");
    assert!(matches!(e, LoadError::World { .. }), "{e:?}");
    assert!(
        message.contains("1 to 64 characters of A-Z a-z 0-9"),
        "the refusal names the rule: {message}"
    );
    assert!(
        !message.contains('\n'),
        "the forged line must not come through raw: {message}"
    );
}

#[test]
fn an_init_that_never_returns_is_refused_within_the_call_timeout() {
    let _turn = serial();
    let timeout = Duration::from_millis(400);
    let limits = Limits {
        call_timeout: timeout,
        ..Limits::default()
    };
    // Compile first, so the timing below is the load's calls, not cranelift.
    let engine = Engine::new().expect("engine");
    let bytes = guest_bytes("init-hangs");
    drop(Plugin::load(
        &engine,
        "init-hangs",
        &bytes,
        Vec::new(),
        limits.clone(),
    ));
    let started = Instant::now();
    let result = within(timeout * 10, "loading init-hangs", move || {
        Plugin::load(&engine, "init-hangs", &bytes, Vec::new(), limits).map(|_| ())
    });
    let elapsed = started.elapsed();
    let e = result.expect_err("an init that never returns must be refused");
    eprintln!("init-hangs refused after {elapsed:?} (call timeout {timeout:?}): {e}");
    assert!(
        matches!(&e, LoadError::Trap { message, .. } if message.contains("init()") && message.contains("deadline")),
        "{e:?}"
    );
    assert!(
        elapsed < timeout * 3,
        "the load took {elapsed:?}, over 3 x the call timeout {timeout:?}"
    );
}

#[test]
fn slow_records_are_each_charged_the_deadline_once() {
    let _turn = serial();
    let timeout = Duration::from_millis(300);
    let limits = Limits {
        call_timeout: timeout,
        ..Limits::default()
    };
    let plugin = within(Duration::from_secs(60), "loading hostile", move || {
        load("hostile", limits).expect("hostile loads")
    });
    let slow = [2, 5, 8];
    let batch: Vec<Record> = (0..10)
        .map(|i| {
            record(
                i,
                if slow.contains(&i) {
                    // An hour of work: only the deadline ends it.
                    r#"{"mode": "slow", "ms": 3600000}"#
                } else {
                    r#"{"mode": "none"}"#
                },
            )
        })
        .collect();
    let started = Instant::now();
    let results = within(timeout * 20, "a batch with 3 slow records", move || {
        plugin.transform(batch)
    });
    let elapsed = started.elapsed();
    eprintln!(
        "hostile: batch of 10 with 3 slow records took {elapsed:?} (call timeout {timeout:?})"
    );
    assert_eq!(results.len(), 10);
    for (i, result) in results.iter().enumerate() {
        if slow.contains(&(i as i64)) {
            assert!(
                matches!(result, Err(CallError::Trap(m)) if m.contains("deadline")),
                "record {i}: {}",
                brief(result)
            );
        } else {
            assert_offset_row(result, i as i64);
        }
    }
    // Each slow record runs into its own deadline once (epochs tick every
    // 10 ms, so a little under), and nobody else pays for it.
    assert!(
        elapsed >= (timeout - Duration::from_millis(20)) * 3,
        "3 slow records were stopped before their deadlines: {elapsed:?}"
    );
    assert!(
        elapsed < timeout * 4,
        "took {elapsed:?}: a slow record was charged the deadline more than once"
    );
}

#[test]
fn each_hostile_mode_is_pinned_on_its_record_with_its_own_error() {
    let _turn = serial();
    // Room for the log flood: a million log calls take about 1.3 s in a debug build.
    let timeout = Duration::from_secs(5);
    let limits = Limits {
        call_timeout: timeout,
        memory_bytes: 128 << 20,
        ..Limits::default()
    };
    let plugin = std::sync::Arc::new(within(
        Duration::from_secs(60),
        "loading hostile",
        move || load("hostile", limits).expect("hostile loads"),
    ));
    let modes = [
        "stack-overflow",
        "slow",
        "huge-error",
        "log-flood",
        "huge-output",
        "oom",
    ];
    for mode in modes {
        let batch = vec![
            record(0, "{}"),
            record(1, &format!(r#"{{"mode": "{mode}"}}"#)),
            record(2, "{}"),
        ];
        let started = Instant::now();
        let plugin = plugin.clone();
        let results = within(Duration::from_secs(60), mode, move || {
            plugin.transform(batch)
        });
        eprintln!(
            "hostile: {mode}: {:?}: {}",
            started.elapsed(),
            brief(&results[1])
        );
        assert_eq!(results.len(), 3, "{mode}");
        assert_offset_row(&results[0], 0);
        assert_offset_row(&results[2], 2);
        let r = &results[1];
        let ok = match mode {
            "stack-overflow" => {
                matches!(r, Err(CallError::Trap(m)) if m.contains("stack overflow"))
            }
            "slow" => matches!(r, Err(CallError::Trap(m)) if m.contains("deadline")),
            // Cut as soon as it is lifted (engine MAX_PLUGIN_TEXT), saying how much.
            "huge-error" => {
                matches!(r, Ok(Outcome::BadInput { message, .. })
                    if message.len() <= host::engine::MAX_PLUGIN_TEXT && message.ends_with("more bytes cut)"))
            }
            "log-flood" => {
                assert_offset_row(r, 1);
                true
            }
            "huge-output" => {
                matches!(r, Err(CallError::Limit(m)) if m.contains("max-bytes-per-record"))
            }
            "oom" => matches!(r, Err(CallError::Trap(m)) if m.contains("memory")),
            _ => unreachable!(),
        };
        assert!(ok, "{mode}: {}", brief(r));
    }
}

/// Found failing when written: the engine returned every record's outcome
/// whole (`Plugin::transform`), and the pipeline cut texts only in
/// `DeadLetter::new`, after the whole batch was back, so a batch held
/// records x message size. The engine now cuts each text as it is lifted.
#[test]
fn a_batch_of_huge_errors_does_not_make_the_host_hold_them_all() {
    let _turn = serial();
    let plugin = within(Duration::from_secs(60), "loading hostile", || {
        load("hostile", Limits::default()).expect("hostile loads")
    });
    // Each call may return an error message as big as the plugin's memory
    // cap allows, and it is lifted into the host whole. What the host keeps
    // of it must not add up over a batch (batches hold up to
    // pipeline.batch-size = 500 records): a dead letter carries 2 KiB of it.
    let n = 8;
    let batch: Vec<Record> = (0..n)
        .map(|i| record(i, r#"{"mode": "huge-error"}"#))
        .collect();
    let before = rss_bytes();
    reset_peak_rss();
    let (results, held, peak) = within(Duration::from_secs(60), "8 huge errors", move || {
        let results = plugin.transform(batch);
        (results, rss_bytes(), peak_rss_bytes())
    });
    let kept: usize = results
        .iter()
        .map(|r| match r {
            Ok(Outcome::BadInput { message, .. }) => message.len(),
            other => panic!("expected bad input, got {}", brief(other)),
        })
        .sum();
    drop(results);
    eprintln!(
        "hostile: {n} huge errors in a batch: VmRSS {} MiB before, {} MiB holding the results \
         ({} MiB of messages), peak {} MiB, {} MiB after",
        before >> 20,
        held >> 20,
        kept >> 20,
        peak >> 20,
        rss_bytes() >> 20
    );
    // One call's worth is fair: the instance's memory (about 64 MiB here)
    // and the one message being lifted (60 MiB), not one per record.
    assert!(
        held < before + (64 << 20),
        "the results of {n} records hold {} MiB ({} MiB of error messages): \
         the host keeps every record's whole message until the batch ends",
        (held.saturating_sub(before)) >> 20,
        kept >> 20
    );
    assert!(
        peak < before + (256 << 20),
        "the host peaked {} MiB over its {} MiB for {n} records",
        (peak.saturating_sub(before)) >> 20,
        before >> 20
    );
}

// ---- A real pipeline ----

/// A keyspace whose default table takes the test guests' rows.
fn pipeline_config(topic: &str, ks: &str, schema: &std::path::Path) -> Config {
    let mut c = records_config(topic, ks, schema);
    // The defaults, stated: a million log calls take about 1.3 s in a debug
    // build, well inside 5 s, and the 60 MiB outputs fit 128 MiB of memory
    // (under a smaller cap they would be memory traps, not what is tested).
    c.limits.call_timeout = Duration::from_secs(5);
    c.limits.memory_bytes = 128 << 20;
    c.limits.max_bytes_per_record = 4 << 20;
    c
}

/// One dead letter: its key and its Sluice headers.
#[derive(Debug)]
struct Letter {
    key: String,
    headers: BTreeMap<String, String>,
}

/// The first `n` dead letters of `topic`, then a short wait to see there
/// are no more.
async fn dead_letters(topic: &str, n: usize) -> Vec<Letter> {
    let consumer = dlq_consumer(topic);
    let mut out = Vec::new();
    loop {
        let wait = if out.len() < n {
            Duration::from_secs(60)
        } else {
            Duration::from_secs(3)
        };
        let m = match tokio::time::timeout(wait, consumer.recv()).await {
            Ok(m) => m.unwrap(),
            Err(_) if out.len() >= n => return out,
            Err(_) => panic!("only {} dead letters within 60 s: {out:?}", out.len()),
        };
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_string(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Letter {
            key: String::from_utf8_lossy(m.key().unwrap_or_default()).to_string(),
            headers,
        });
    }
}

/// The sum of a counter's series in the metrics text, by its label set.
fn counter(metrics: &str, name: &str) -> BTreeMap<String, f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series[name.len()..].to_string(), value.parse().ok()?))
        })
        .collect()
}

/// The hostile records, by key, with the value that triggers them.
const HOSTILE: [(&str, &str); 6] = [
    ("stack-overflow", r#"{"mode": "stack-overflow"}"#),
    // No `ms`: slow for ever, so only the deadline ends it.
    ("slow", r#"{"mode": "slow"}"#),
    ("huge-error", r#"{"mode": "huge-error"}"#),
    ("log-flood", r#"{"mode": "log-flood"}"#),
    ("huge-output", r#"{"mode": "huge-output"}"#),
    ("oom", r#"{"mode": "oom"}"#),
];

#[test]
fn hostile_records_are_dead_lettered_with_their_reasons_while_the_rest_land_and_memory_returns() {
    let _turn = serial();
    run_async(
        Duration::from_secs(300),
        "the hostile pipeline test",
        async {
            let (topic, ks) = (unique("hostile"), unique("ks"));
            create_topic(&topic, 1).await;
            let dir = tempfile::tempdir().unwrap();
            let cfg = pipeline_config(&topic, &ks, &dir.path().join("schema.cql"));
            let running = Pipeline::start(cfg, guest_path("hostile"), false).await;
            let s = session().await;
            let table = format!("{ks}.records");
            let p = producer();

            // Warm up with normal records, so the baseline holds everything a
            // running host holds (compiled plugin, clients, buffers, an instance).
            for i in 0..10 {
                produce(&p, &topic, &format!("warm{i}"), br#"{"mode": "none"}"#).await;
            }
            wait_for_rows(&s, &table, 10, Duration::from_secs(120)).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            let before = rss_bytes();
            reset_peak_rss();

            // 60 records, 6 of them hostile, spread out so no batch is mostly bad
            // (the breaker would hold it rather than dead-letter).
            let started = Instant::now();
            let mut hostile_at = HOSTILE.iter();
            for i in 0..60 {
                let (key, value) = match (i % 9 == 4).then(|| hostile_at.next()).flatten() {
                    Some((key, value)) => (key.to_string(), value.to_string()),
                    None => (format!("k{i}"), format!(r#"{{"i": {i}}}"#)),
                };
                produce(&p, &topic, &key, value.as_bytes()).await;
            }
            assert!(
                hostile_at.next().is_none(),
                "every hostile record was produced"
            );
            // 10 warm-up rows, 54 normal ones, and the log flood's row.
            wait_for_rows(&s, &table, 65, Duration::from_secs(120)).await;
            let deadline = Instant::now() + Duration::from_secs(60);
            let dead = loop {
                let metrics = running.text("/metrics").await;
                let dead = counter(&metrics, "sluice_dead_letters_total");
                if dead.values().sum::<f64>() >= 5.0 || Instant::now() > deadline {
                    break dead;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
            eprintln!(
                "hostile: 60 records with 6 hostile handled in {:?}; dead letters {dead:?}",
                started.elapsed()
            );
            assert_eq!(
                dead.values().sum::<f64>(),
                5.0,
                "5 hostile records dead-lettered, the log flood not: {dead:?}"
            );

            // Every hostile payload (60 MiB strings, a 128 MiB guest memory) was
            // held only for its call. The baseline already holds what a running
            // host keeps, so what stays after is noise: allocator arenas keeping
            // small freed chunks, client buffers, the dead-letter topic's first
            // use. 40 MiB covers that and is below the smallest hostile payload
            // (60 MiB), so keeping any one of them fails.
            tokio::time::sleep(Duration::from_secs(5)).await;
            let after = rss_bytes();
            let peak = peak_rss_bytes();
            eprintln!(
                "hostile: VmRSS before {} MiB, after {} MiB ({:+} KiB); \
                 peak while the hostile records ran {} MiB",
                before >> 20,
                after >> 20,
                (after as i64 - before as i64) / 1024,
                peak >> 20
            );
            assert!(
                after < before + (40 << 20),
                "RSS grew from {} MiB to {} MiB: the host keeps what hostile records made it hold",
                before >> 20,
                after >> 20
            );

            // The dead letters: the right reason for each, bounded texts.
            let letters = dead_letters(&topic, 5).await;
            let by_key: BTreeMap<&str, &Letter> =
                letters.iter().map(|l| (l.key.as_str(), l)).collect();
            assert_eq!(letters.len(), 5, "{letters:?}");
            for (key, reason, says) in [
                ("stack-overflow", "plugin-trap", "stack overflow"),
                ("slow", "plugin-trap", "deadline"),
                ("oom", "plugin-trap", "memory"),
                ("huge-error", "plugin-error", "eeeeeeee"),
                ("huge-output", "plugin-limit", "max-bytes-per-record"),
            ] {
                let letter = by_key
                    .get(key)
                    .unwrap_or_else(|| panic!("no dead letter for {key}: {letters:?}"));
                let error = &letter.headers["sluice.error"];
                eprintln!(
                    "hostile: dead letter {key}: {} / {} bytes: {}",
                    letter.headers["sluice.reason"],
                    error.len(),
                    error.chars().take(120).collect::<String>()
                );
                assert_eq!(letter.headers["sluice.reason"], reason, "{key}: {letter:?}");
                assert!(error.contains(says), "{key}: {error}");
                for (name, value) in &letter.headers {
                    assert!(
                        value.len() <= MAX_DLQ_TEXT,
                        "{key}: header {name} is {} bytes",
                        value.len()
                    );
                }
            }
            assert!(!by_key.contains_key("log-flood"), "{letters:?}");

            // Nothing hostile reached the page or the metrics whole.
            let status = running.text("/api/status").await;
            let metrics = running.text("/metrics").await;
            eprintln!(
                "hostile: /api/status {} bytes, /metrics {} bytes",
                status.len(),
                metrics.len()
            );
            assert!(
                status.len() < 256 << 10,
                "/api/status is {} bytes",
                status.len()
            );
            assert!(
                metrics.len() < 256 << 10,
                "/metrics is {} bytes",
                metrics.len()
            );

            // The host is alive and goes on.
            for i in 0..5 {
                produce(&p, &topic, &format!("late{i}"), br#"{"mode": "none"}"#).await;
            }
            wait_for_rows(&s, &table, 70, Duration::from_secs(60)).await;
            running.stop().await;
        },
    );
}

// ---- The deploy path ----

async fn deploy(client: &reqwest::Client, addr: &str, name: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let r = client
        .post(format!("http://{addr}/api/plugin/deploy"))
        .bearer_auth(TOKEN)
        .header("x-plugin-source", format!("{name}.wasm"))
        .body(guest_bytes(name))
        .send()
        .await
        .expect("admin endpoint answers");
    let code = r.status().as_u16();
    let body = r.text().await.unwrap();
    (code, body, started.elapsed())
}

#[test]
fn deploys_of_a_hanging_init_a_panicking_metadata_or_a_forged_name_are_rejected_and_the_active_version_stays(
) {
    let _turn = serial();
    run_async(Duration::from_secs(240), "the deploy test", async {
        let (topic, ks) = (unique("hostile_deploy"), unique("ks"));
        create_topic(&topic, 1).await;
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = pipeline_config(&topic, &ks, &dir.path().join("schema.cql"));
        let timeout = Duration::from_millis(500);
        cfg.limits.call_timeout = timeout;
        cfg.admin.token = Some(TOKEN.into());
        let running = Pipeline::start(cfg, guest_path("hostile"), false).await;
        let addr = running.admin.to_string();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let active = running.json("/api/status").await["active"].clone();
        assert_eq!(active["name"], "hostile", "{active}");

        // init never returns: refused once the call deadline passes.
        let (code, body, elapsed) = deploy(&client, &addr, "init-hangs").await;
        eprintln!("deploy init-hangs: {code} after {elapsed:?} (call timeout {timeout:?}): {body}");
        assert_eq!(code, 422, "{body}");
        assert!(
            body.contains("init()") && body.contains("deadline"),
            "{body}"
        );
        assert!(
            elapsed < timeout * 3 + Duration::from_secs(2),
            "the deploy of init-hangs took {elapsed:?}"
        );
        assert_eq!(
            running.json("/api/status").await["active"],
            active,
            "init-hangs must not go live"
        );

        // metadata() panics: refused with the panic's message.
        let (code, body, elapsed) = deploy(&client, &addr, "metadata-panic").await;
        eprintln!("deploy metadata-panic: {code} after {elapsed:?}: {body}");
        assert_eq!(code, 422, "{body}");
        assert!(body.contains(PANIC_MESSAGE), "{body}");
        assert!(!body.contains("wasm backtrace"), "{body}");
        assert_eq!(
            running.json("/api/status").await["active"],
            active,
            "metadata-panic must not go live"
        );

        // A name forging a metric line: refused, and no such line appears.
        let (code, body, elapsed) = deploy(&client, &addr, "forged-name").await;
        eprintln!("deploy forged-name: {code} after {elapsed:?}: {body}");
        assert_eq!(code, 422, "{body}");
        assert!(body.contains("1 to 64 characters"), "{body}");
        assert!(!body.contains(FORGED_NAME), "{body}");
        assert_eq!(running.json("/api/status").await["active"], active);
        let metrics = running.text("/metrics").await;
        assert!(!metrics.contains("sluice_injected_metric"), "{metrics}");
        assert!(
            metrics.contains("sluice_plugin_rejected_deploys_total 3"),
            "{metrics}"
        );

        // The active version still works.
        let p = producer();
        for i in 0..3 {
            produce(&p, &topic, &format!("k{i}"), br#"{"mode": "none"}"#).await;
        }
        let s = session().await;
        wait_for_rows(&s, &format!("{ks}.records"), 3, Duration::from_secs(60)).await;
        running.stop().await;
    });
}
