//! The pipeline core against in-memory fakes of its ports (no Kafka, no
//! Cassandra): acknowledgements in offset order and only after the rows are
//! written, outages retried without dead letters, the breaker holding a
//! batch, and a swap taking effect at a batch boundary. The plugins are real
//! components (flatten and the test guests).

use sluice_codec::{Decoder, Format};
use sluice_engine::{Engine, Limits, Plugin};
use sluice_model::{Origin, Row, SourceMessage};
use sluice_pipeline::dead_letter::DeadLetter;
use sluice_pipeline::{
    Ack, ActivePlugin, BindError, Breaker, BreakerConfig, CancellationToken, DeadLetterSink,
    DeploySettings, Deployer, Metrics, PartitionFeed, PipelineConfig, PluginSlot, RecentRecords,
    RowSink, Shared, Stamp, SwapHistory,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// A component built by sluice-test-programs, by crate name.
fn component(name: &str) -> PathBuf {
    sluice_test_programs::path(name)
}

/// A sink that keeps rows in memory, and can be told to be down.
#[derive(Default)]
struct FakeSink {
    rows: Mutex<Vec<(String, Row)>>,
    /// Writes that fail before the sink answers again.
    down_for: AtomicU32,
    failed_writes: AtomicU32,
}

impl RowSink for FakeSink {
    type Table = String;
    type Bound = (String, Row);

    async fn table(&self, name: &str) -> Result<String, BindError> {
        match name {
            "created_users" | "records" => Ok(name.to_string()),
            other => Err(BindError::Misfit(format!("no table {other}"))),
        }
    }

    fn bind(table: &String, mut row: Row, stamp: &Stamp<'_>) -> Result<(String, Row), String> {
        row.columns.push((
            stamp.column.to_string(),
            sluice_model::Cell::Text(stamp.version.to_string()),
        ));
        Ok((table.clone(), row))
    }

    async fn write(&self, rows: &[(String, Row)]) -> Result<(), String> {
        if self
            .down_for
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            self.failed_writes.fetch_add(1, Ordering::SeqCst);
            return Err("connection refused".into());
        }
        self.rows.lock().unwrap().extend(rows.iter().cloned());
        Ok(())
    }

    fn table_of(bound: &(String, Row)) -> &str {
        &bound.0
    }
}

#[derive(Default)]
struct FakeLetters(Mutex<Vec<(i64, String)>>);

impl DeadLetterSink for FakeLetters {
    fn send<'a>(
        &'a self,
        letter: &'a DeadLetter<'a>,
        _plugin: &'a sluice_model::PluginInfo,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        self.0.lock().unwrap().push((
            letter.message.origin.offset,
            letter.reason.as_str().to_string(),
        ));
        Box::pin(async { Ok(()) })
    }
}

struct Harness {
    shared: Arc<Shared<FakeSink>>,
    sink: Arc<FakeSink>,
    letters: Arc<FakeLetters>,
    engine: Engine,
}

fn harness(plugin: &str, breaker: BreakerConfig, batch_size: usize) -> Harness {
    harness_with(plugin, breaker, batch_size, Duration::from_millis(5))
}

fn harness_with(
    plugin: &str,
    breaker: BreakerConfig,
    batch_size: usize,
    batch_linger: Duration,
) -> Harness {
    let engine = Engine::new().unwrap();
    let plugin = Plugin::load_file(&engine, &component(plugin), vec![], Limits::default()).unwrap();
    let slot = Arc::new(PluginSlot::new(plugin, "test".into()));
    let sink = Arc::new(FakeSink::default());
    let letters = Arc::new(FakeLetters::default());
    let metrics = Arc::new(Metrics::new());
    let history = Arc::new(SwapHistory::default());
    let recent = Arc::new(RecentRecords::default());
    let breaker = Arc::new(Breaker::new(breaker));
    let config = PipelineConfig {
        batch_size,
        batch_linger,
        ..PipelineConfig::default()
    };
    let deployer = Arc::new(Deployer::new(
        engine.clone(),
        slot.clone(),
        sink.clone(),
        DeploySettings {
            plugin_config: vec![],
            limits: Limits::default(),
            default_table: config.default_table.clone(),
            version_column: config.version_column.clone(),
            sample_file: None,
        },
        recent.clone(),
        metrics.clone(),
        history.clone(),
        breaker.clone(),
    ));
    let shared = Arc::new(Shared {
        slot,
        decoder: Decoder::new(Format::Json, None),
        sink: sink.clone(),
        recent,
        breaker,
        deployer,
        history,
        dead_letters: letters.clone(),
        metrics,
        config: Arc::new(config),
    });
    Harness {
        shared,
        sink,
        letters,
        engine,
    }
}

/// `n` users as JSON messages of partition 0, offsets `from..from + n`.
fn users(from: i64, n: usize) -> Vec<SourceMessage> {
    let samples: Vec<serde_json::Value> = include_str!("../src/control/sample-users.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (0..n)
        .map(|i| {
            let offset = from + i as i64;
            let mut u = samples[i % samples.len()].clone();
            u["login"]["uuid"] = serde_json::json!(format!("00000000-0000-4000-8000-{offset:012}"));
            SourceMessage {
                origin: Origin {
                    topic: "t".into(),
                    partition: 0,
                    offset,
                    ..Origin::default()
                },
                payload: Some(u.to_string().into_bytes()),
            }
        })
        .collect()
}

/// A running worker: its acks, its partition's token, the feed's sender.
struct Running {
    acks: std_mpsc::Receiver<Ack>,
    cancel: CancellationToken,
    worker: tokio::task::JoinHandle<()>,
    feed: tokio::sync::mpsc::Sender<SourceMessage>,
}

/// Starts a worker on a feed holding `messages`.
fn start_worker(h: &Harness, messages: Vec<SourceMessage>) -> Running {
    let (tx, rx) = tokio::sync::mpsc::channel(1000);
    for m in messages {
        tx.try_send(m).unwrap();
    }
    let (done, _done_rx) = std_mpsc::sync_channel(1);
    let cancel = CancellationToken::new();
    let feed = PartitionFeed {
        topic: "t".into(),
        partition: 0,
        messages: rx,
        cancel: cancel.clone(),
        done,
        end_offset: None,
    };
    let (acks, acks_rx) = std_mpsc::channel();
    let worker = tokio::spawn(sluice_pipeline::worker::run(feed, h.shared.clone(), acks));
    Running {
        acks: acks_rx,
        cancel,
        worker,
        feed: tx,
    }
}

/// Collects acks until `next_offset` reaches `end` (or 60 s pass).
fn acks_until(rx: &std_mpsc::Receiver<Ack>, end: i64) -> Vec<i64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while seen.last() != Some(&end) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(ack) => seen.push(ack.next_offset),
            Err(_) => panic!("acks stopped at {seen:?}, expected up to {end}"),
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_arriving_with_nothing_in_flight_does_not_wait_for_the_linger() {
    // A linger far longer than the wait below: only a batch that goes at
    // once can be acknowledged in time.
    let h = harness_with(
        "flatten",
        BreakerConfig::default(),
        500,
        Duration::from_secs(600),
    );
    let Running {
        acks,
        cancel,
        worker,
        feed,
    } = start_worker(&h, users(0, 1));
    let acks = tokio::task::spawn_blocking(move || {
        let first = acks
            .recv_timeout(Duration::from_secs(20))
            .expect("a lone record acknowledged without lingering");
        assert_eq!(first.next_offset, 1);
        acks
    })
    .await
    .unwrap();
    // Idle again: the next records go at once too.
    for m in users(1, 3) {
        feed.send(m).await.unwrap();
    }
    let seen = tokio::task::spawn_blocking(move || acks_until(&acks, 4))
        .await
        .unwrap();
    assert_eq!(seen.last(), Some(&4));
    assert_eq!(h.sink.rows.lock().unwrap().len(), 4);
    cancel.cancel();
    worker.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_come_in_offset_order_and_only_after_the_rows_are_written() {
    let h = harness("flatten", BreakerConfig::default(), 50);
    // Down for the first 5 writes: no ack may come before the rows are in.
    h.sink.down_for.store(5, Ordering::SeqCst);
    let Running {
        acks,
        cancel,
        worker,
        feed: _feed,
    } = start_worker(&h, users(0, 400));
    let first = tokio::task::spawn_blocking(move || {
        let first = acks.recv_timeout(Duration::from_secs(60)).unwrap();
        (first, acks)
    })
    .await
    .unwrap();
    let (first, acks) = first;
    assert_eq!(
        h.sink.failed_writes.load(Ordering::SeqCst),
        5,
        "retried through the outage"
    );
    assert!(
        h.sink.rows.lock().unwrap().len() as i64 >= first.next_offset,
        "acked {} with fewer rows written",
        first.next_offset
    );
    let rest = tokio::task::spawn_blocking(move || acks_until(&acks, 400))
        .await
        .unwrap();
    let mut all = vec![first.next_offset];
    all.extend(rest);
    assert!(
        all.windows(2).all(|w| w[0] < w[1]),
        "in offset order: {all:?}"
    );
    let rows = h.sink.rows.lock().unwrap().len();
    assert_eq!(rows, 400, "every record once");
    assert!(
        h.letters.0.lock().unwrap().is_empty(),
        "an outage is no reason to dead-letter"
    );
    let metrics = h.shared.metrics.render();
    assert!(
        metrics.contains(r#"sluice_dependency_up{dependency="cassandra"} 1"#),
        "{metrics}"
    );
    cancel.cancel();
    worker.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_breaker_holds_the_batch_until_a_new_version_is_active() {
    let breaker = BreakerConfig {
        min_records: 1,
        ..BreakerConfig::default()
    };
    let h = harness("trap-always", breaker, 20);
    let Running {
        acks,
        cancel,
        worker,
        feed: _feed,
    } = start_worker(&h, users(0, 20));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(h.shared.breaker.is_open());
    assert!(acks.try_recv().is_err(), "a held batch is not acknowledged");
    assert!(h.letters.0.lock().unwrap().is_empty(), "nor dead-lettered");
    assert!(h.sink.rows.lock().unwrap().is_empty());
    // A fix goes live: the held batch is processed by it.
    let fixed = std::fs::read(component("flatten")).unwrap();
    h.shared.deployer.deploy("fix".into(), fixed).await.unwrap();
    let seen = tokio::task::spawn_blocking(move || acks_until(&acks, 20))
        .await
        .unwrap();
    assert_eq!(seen, vec![20]);
    assert_eq!(h.sink.rows.lock().unwrap().len(), 20);
    assert!(h.letters.0.lock().unwrap().is_empty());
    cancel.cancel();
    worker.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_takes_effect_at_a_batch_boundary() {
    let h = harness("flatten", BreakerConfig::default(), 10);
    let v2 = Plugin::load_file(
        &h.engine,
        &component("flatten-v2"),
        vec![],
        Limits::default(),
    )
    .unwrap();
    let run = start_worker(&h, users(0, 10));
    let acks = tokio::task::spawn_blocking(move || {
        acks_until(&run.acks, 10);
        run.acks
    })
    .await
    .unwrap();
    // Swapped while the worker waits for its next batch, mid-stream.
    h.shared.slot.swap(Arc::new(ActivePlugin {
        plugin: v2,
        source: "v2".into(),
        since: SystemTime::now(),
    }));
    for m in users(10, 30) {
        run.feed.send(m).await.unwrap();
    }
    tokio::task::spawn_blocking(move || acks_until(&acks, 40))
        .await
        .unwrap();
    let rows = h.sink.rows.lock().unwrap().clone();
    let version = |r: &Row| {
        r.columns
            .iter()
            .find(|(n, _)| n == "plugin_version")
            .map(|(_, c)| format!("{c:?}"))
            .unwrap()
    };
    let (v1_rows, v2_rows) = rows.split_at(10);
    assert!(v1_rows.iter().all(|(_, r)| version(r).contains("0.1.0")));
    assert!(v2_rows.iter().all(|(_, r)| version(r).contains("2.0.0")));
    assert_eq!(v2_rows.len(), 30);
    run.cancel.cancel();
    run.worker.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_and_rejected_records_are_dead_lettered_and_the_rest_land() {
    let h = harness("flatten", BreakerConfig::default(), 100);
    let mut messages = users(0, 10);
    messages[3].payload = Some(b"not json".to_vec());
    messages[7].payload = Some(br#"{"no": "user"}"#.to_vec());
    let Running {
        acks,
        cancel,
        worker,
        feed: _feed,
    } = start_worker(&h, messages);
    tokio::task::spawn_blocking(move || acks_until(&acks, 10))
        .await
        .unwrap();
    assert_eq!(h.sink.rows.lock().unwrap().len(), 8);
    let letters = h.letters.0.lock().unwrap().clone();
    assert_eq!(
        letters,
        vec![(3, "decode".to_string()), (7, "plugin-error".to_string())]
    );
    cancel.cancel();
    worker.await.unwrap();
}
