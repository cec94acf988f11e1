//! `host dlq replay` and `host reprocess` against the real Kafka and
//! Cassandra: letters of a buggy version replayed with its fix (each once,
//! even across a SIGTERM), records the fix still rejects dead-lettered again
//! with their attempt, a range reprocessed without moving the live group,
//! and the bad cases (foreign letters, a plugin that fails validation, an
//! empty time range).

mod common;

use clap::Parser;
use common::*;
use host::cli::{Cli, Command, DlqCommand};
use host::history::Summary;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

const V1: &str = sluice_test_programs::PICKY_V1;
const V2: &str = sluice_test_programs::PICKY_V2;

/// A test's topic, keyspace, live group and config file.
struct Setup {
    topic: String,
    keyspace: String,
    group: String,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Setup {
    /// A one-partition topic and a config file naming it, the `records`
    /// table, a unique live group (and its fleet log), and a breaker that never trips
    /// (the tests dead-letter on purpose).
    async fn new(prefix: &str) -> Self {
        let (topic, keyspace, group) = (unique(prefix), unique("ks"), unique("g"));
        create_topic(&topic, 1).await;
        let dir = tempfile::tempdir().unwrap();
        let schema = dir.path().join("schema.cql");
        records_config(&topic, &keyspace, &schema);
        let file = dir.path().join("sluice.toml");
        std::fs::write(
            &file,
            format!(
                "[kafka]\nbrokers = {b:?}\ngroup-id = {group:?}\n\
                 [registry]\nurl = {r:?}\n\
                 [cassandra]\nhosts = {c:?}\nkeyspace = {keyspace:?}\nconsistency = \"one\"\nschema-file = {s:?}\n\
                 [pipeline]\ntopics = [{topic:?}]\ndefault-table = \"records\"\nformat = \"json\"\n\
                 [admin]\nlisten = \"127.0.0.1:0\"\n\
                 [breaker]\nfailure-ratio = 1.0\n\
                 [fleet]\nheartbeat = \"1s\"\nanswer-timeout = \"10s\"\n",
                b = brokers(),
                r = registry_url(),
                c = cassandra_hosts(),
                s = schema.display().to_string(),
            ),
        )
        .unwrap();
        Setup {
            topic,
            keyspace,
            group,
            file,
            _dir: dir,
        }
    }

    fn config(&self) -> host::config::Config {
        host::config::Config::load(Some(&self.file)).unwrap()
    }

    fn dlq(&self) -> String {
        format!("{}.dlq", self.topic)
    }

    /// Produces records `{"kind": kind, "n": i}` keyed `k<i>`, with a
    /// `trace` header; offsets are their indexes.
    async fn produce(&self, kinds: &[&str]) {
        let p = producer();
        for (i, kind) in kinds.iter().enumerate() {
            let value = serde_json::json!({"kind": kind, "n": i}).to_string();
            let key = format!("k{i}");
            let trace = format!("trace-{i}");
            p.send(
                FutureRecord::to(&self.topic)
                    .key(&key)
                    .payload(&value)
                    .headers(OwnedHeaders::new().insert(Header {
                        key: "trace",
                        value: Some(&trace),
                    })),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        }
    }

    /// Runs the live pipeline with `plugin` until `rows` rows and `letters`
    /// dead letters are there, then stops it.
    async fn run_live(&self, plugin: &str, rows: i64, letters: usize) {
        let running = Pipeline::start(self.config(), PathBuf::from(plugin), false).await;
        let s = session().await;
        wait_for_rows(&s, &self.table(), rows, Duration::from_secs(120)).await;
        let got = letters_of(&self.dlq(), letters).await;
        assert_eq!(got.len(), letters);
        running.stop().await;
    }

    fn table(&self) -> String {
        format!("{}.records", self.keyspace)
    }

    /// `host <args...> --config FILE`, parsed as the binary does.
    fn cli(&self, args: &[&str]) -> Command {
        let mut all = vec!["host".to_string()];
        all.extend(args.iter().map(|a| a.to_string()));
        all.extend(["--config".into(), self.file.display().to_string()]);
        Cli::try_parse_from(all).unwrap().command
    }

    /// `host dlq replay --plugin P ARGS...`, in-process.
    async fn replay(&self, plugin: &str, args: &[&str]) -> anyhow::Result<Summary> {
        let mut all = vec!["dlq", "replay", "--plugin", plugin];
        all.extend(args);
        let Command::Dlq(DlqCommand::Replay(a)) = self.cli(&all) else {
            unreachable!()
        };
        host::history::replay::run(a, std::future::pending()).await
    }

    /// `host reprocess --plugin P ARGS...`, in-process.
    async fn reprocess(&self, plugin: &str, args: &[&str]) -> anyhow::Result<Summary> {
        let mut all = vec!["reprocess", "--plugin", plugin];
        all.extend(args);
        let Command::Reprocess(a) = self.cli(&all) else {
            unreachable!()
        };
        host::history::reprocess::run(a, std::future::pending()).await
    }

    /// offset -> plugin_version of every row.
    async fn rows(&self) -> BTreeMap<i64, String> {
        let s = session().await;
        let r = s
            .query_unpaged(
                format!("SELECT offset, plugin_version FROM {}", self.table()),
                (),
            )
            .await
            .unwrap()
            .into_rows_result()
            .unwrap();
        r.rows::<(i64, String)>()
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

/// A dead letter's headers, by name, with its key.
type Letter = (Option<String>, BTreeMap<String, String>);

/// Reads `topic` from its start until `n` records are there (and a moment
/// more, to see any extra), in a group of its own.
async fn letters_of(topic: &str, n: usize) -> Vec<Letter> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", unique("read"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let wait = if out.len() >= n {
            Duration::from_secs(2)
        } else {
            deadline.saturating_duration_since(tokio::time::Instant::now())
        };
        match tokio::time::timeout(wait, consumer.recv()).await {
            Ok(Ok(m)) => {
                let headers = m
                    .headers()
                    .map(|hs| {
                        hs.iter()
                            .map(|h| {
                                (
                                    h.key.to_string(),
                                    String::from_utf8_lossy(h.value.unwrap_or_default()).into(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let key = m.key().map(|k| String::from_utf8_lossy(k).into());
                out.push((key, headers));
            }
            Ok(Err(e)) => panic!("reading {topic}: {e}"),
            Err(_) => return out,
        }
    }
}

/// The committed offset of `group` on partition 0 of `topic`.
fn committed(group: &str, topic: &str) -> Option<i64> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let c = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    match c.find_partition(topic, 0).unwrap().offset() {
        Offset::Offset(o) => Some(o),
        _ => None,
    }
}

/// 95 good records, 50 that v1 rejects and v2 reads, 5 that both reject.
fn mixed() -> (Vec<&'static str>, BTreeSet<i64>, BTreeSet<i64>) {
    let mut kinds = Vec::new();
    let (mut fixed, mut hopeless) = (BTreeSet::new(), BTreeSet::new());
    for i in 0..150i64 {
        let kind = match i % 3 {
            1 if fixed.len() < 50 => {
                fixed.insert(i);
                "v1-bad"
            }
            2 if hopeless.len() < 5 && i % 30 == 2 => {
                hopeless.insert(i);
                "hopeless"
            }
            _ => "ok",
        };
        kinds.push(kind);
    }
    (kinds, fixed, hopeless)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fix_replays_every_letter_once_and_what_it_still_rejects_comes_back_as_attempt_2() {
    let t = Setup::new("replay").await;
    let (kinds, fixed, hopeless) = mixed();
    assert_eq!((fixed.len(), hopeless.len()), (50, 5));
    t.produce(&kinds).await;
    t.run_live(V1, 95, 55).await;

    let first = t.replay(V2, &[]).await.unwrap();
    assert_eq!(first.read, 55, "{first:?}");
    assert_eq!(first.processed, 55, "{first:?}");
    assert_eq!((first.written, first.rows), (50, 50), "{first:?}");
    assert_eq!(
        first.dead_lettered,
        BTreeMap::from([("plugin-error".to_string(), 5)])
    );
    assert!(!first.interrupted);

    let rows = t.rows().await;
    assert_eq!(rows.len(), 145);
    let v2: BTreeSet<i64> = rows
        .iter()
        .filter(|(_, v)| *v == "2.0.0")
        .map(|(o, _)| *o)
        .collect();
    assert_eq!(
        v2, fixed,
        "the rows of the replayed letters, at their source offsets, stamped 2.0.0"
    );
    assert!(rows.iter().all(|(o, v)| fixed.contains(o) || v == "1.0.0"));

    let letters = letters_of(&t.dlq(), 60).await;
    assert_eq!(letters.len(), 60, "55 first letters and 5 second ones");
    let again: Vec<&Letter> = letters
        .iter()
        .filter(|(_, h)| h.contains_key("sluice.attempt"))
        .collect();
    assert_eq!(again.len(), 5);
    let mut offsets = BTreeSet::new();
    for (key, h) in &again {
        assert_eq!(h["sluice.attempt"], "2");
        assert_eq!(h["sluice.reason"], "plugin-error");
        assert_eq!(h["sluice.plugin.version"], "2.0.0");
        assert_eq!(h["sluice.source.topic"], t.topic);
        let offset: i64 = h["sluice.source.offset"].parse().unwrap();
        assert_eq!(
            key.as_deref(),
            Some(format!("k{offset}").as_str()),
            "the original key"
        );
        assert_eq!(
            h["trace"],
            format!("trace-{offset}"),
            "the original headers"
        );
        offsets.insert(offset);
    }
    assert_eq!(offsets, hopeless);

    let second = t.replay(V2, &[]).await.unwrap();
    assert_eq!(second.processed, 0, "{second:?}");
    assert_eq!(
        second.skipped,
        BTreeMap::from([("rejected-by-this-version".to_string(), 5)]),
        "only the letters 2.0.0 itself wrote were left, and they are not run again"
    );
    assert_eq!(
        letters_of(&t.dlq(), 60).await.len(),
        60,
        "nothing dead-lettered twice"
    );

    // The group's hosts show the last replay (left in the group's control log).
    let running = Pipeline::start(t.config(), PathBuf::from(V1), false).await;
    let status = running.json("/api/status").await;
    let last = &status["fleet"]["history"]["replay"];
    assert_eq!(last["skipped"]["rejected-by-this-version"], 5, "{status}");
    assert_eq!(last["plugin"], "picky 2.0.0", "{last}");
    assert!(running
        .text("/")
        .await
        .contains("Last <code>host dlq replay</code>"));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_stopped_by_sigterm_and_started_again_replays_every_letter_exactly_once() {
    let t = Setup::new("resume").await;
    t.produce(&vec!["v1-bad"; 300]).await;
    let running = Pipeline::start(t.config(), PathBuf::from(V1), false).await;
    assert_eq!(letters_of(&t.dlq(), 300).await.len(), 300);
    running.stop().await;

    let host = env!("CARGO_BIN_EXE_host");
    let mut child = tokio::process::Command::new(host)
        .args([
            "dlq",
            "replay",
            "--plugin",
            V2,
            "--batch-size",
            "10",
            "--json",
        ])
        .arg("--config")
        .arg(&t.file)
        .env("RUST_LOG", "info,host::history=debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    let mut batches = 0;
    while let Some(line) = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
        .await
        .expect("the replay says what it does")
        .unwrap()
    {
        if line.contains("batch done") {
            batches += 1;
            if batches == 3 {
                let pid = child.id().unwrap().to_string();
                let ok = std::process::Command::new("kill")
                    .args(["-TERM", &pid])
                    .status()
                    .unwrap();
                assert!(ok.success());
                break;
            }
        }
    }
    let drain = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("SIGTERM stops the replay")
        .unwrap();
    drain.abort();
    assert!(out.status.success(), "{:?}", out.status);
    let first: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(first["interrupted"], true, "{first}");
    let n1 = first["processed"].as_u64().unwrap();
    assert!((30..300).contains(&n1), "stopped part way: {first}");

    let second = t.replay(V2, &[]).await.unwrap();
    assert!(!second.interrupted);
    assert_eq!(n1 + second.processed, 300, "{first} then {second:?}");
    assert_eq!(second.written, second.processed);
    let rows = t.rows().await;
    assert_eq!(rows.len(), 300);
    assert!(rows.values().all(|v| v == "2.0.0"));
    assert_eq!(
        letters_of(&t.dlq(), 300).await.len(),
        300,
        "no letter came back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reprocess_rewrites_exactly_its_range_and_leaves_the_live_group_where_it_was() {
    let t = Setup::new("reprocess").await;
    t.produce(&vec!["ok"; 100]).await;
    t.run_live(V1, 100, 0).await;
    let live_before = committed(&t.group, &t.topic);
    assert_eq!(live_before, Some(100));

    let s = t
        .reprocess(V2, &["--from-offset", "20", "--to-offset", "50"])
        .await
        .unwrap();
    assert_eq!((s.read, s.processed, s.written), (30, 30, 30), "{s:?}");
    assert_eq!(s.group, format!("{}.reprocess.20-50", t.group));
    let rows = t.rows().await;
    assert_eq!(rows.len(), 100);
    for (o, v) in &rows {
        let want = if (20..50).contains(o) {
            "2.0.0"
        } else {
            "1.0.0"
        };
        assert_eq!(v, want, "offset {o}");
    }
    assert_eq!(
        committed(&t.group, &t.topic),
        live_before,
        "the live group did not move"
    );
    assert_eq!(committed(&s.group, &t.topic), Some(50));

    let again = t
        .reprocess(V2, &["--from-offset", "20", "--to-offset", "50"])
        .await
        .unwrap();
    assert_eq!(
        again.read, 0,
        "finished ranges are not run twice: {again:?}"
    );
    let e = t
        .reprocess(V2, &["--from-offset", "0", "--group", &t.group])
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("live consumer group"), "{e:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_letters_are_skipped_and_counted_a_plugin_that_fails_validation_refuses_and_an_empty_time_range_says_so(
) {
    let t = Setup::new("badreplay").await;
    t.produce(&["v1-bad", "v1-bad"]).await;
    t.run_live(V1, 0, 2).await;
    let p = producer();
    for i in 0..3 {
        produce(&p, &t.dlq(), &format!("x{i}"), b"{\"kind\": \"ok\"}").await;
    }

    let s = t.replay(V2, &[]).await.unwrap();
    assert_eq!(s.read, 5);
    assert_eq!(s.written, 2);
    assert_eq!(s.skipped, BTreeMap::from([("foreign".to_string(), 3)]));

    let dry = std::process::Command::new(env!("CARGO_BIN_EXE_host"))
        .args([
            "dlq",
            "replay",
            "--plugin",
            V2,
            "--from-beginning",
            "--dry-run",
        ])
        .arg("--config")
        .arg(&t.file)
        .output()
        .unwrap();
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let printed: Vec<serde_json::Value> = String::from_utf8_lossy(&dry.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(printed.len(), 2, "a dry run prints the rows: {printed:?}");
    assert_eq!(printed[0]["columns"]["plugin_version"], "2.0.0");
    assert!(String::from_utf8_lossy(&dry.stderr).contains("dry run: nothing written"));

    let e = t
        .replay(sluice_test_programs::BAD_ROWS, &["--from-beginning"])
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("fails validation"), "{e:#}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_host"))
        .args(["dlq", "replay", "--plugin", V2, "--from-beginning"])
        .args([
            "--since",
            "2001-01-01T00:00:00Z",
            "--until",
            "2001-01-02T00:00:00Z",
        ])
        .arg("--config")
        .arg(&t.file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("no letters to replay"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("read"),
        "the summary follows"
    );
}
