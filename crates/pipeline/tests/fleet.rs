//! The fleet protocol against an in-memory control log (the Kafka one is
//! tested with real hosts in host/tests/fleet.rs): two hosts seed and join
//! a group, a deploy through one is validated by both and activated on
//! both, a rejection anywhere activates nothing, damaged bytes are never
//! used, rollbacks go through the log like a stack, and a partition's
//! first write under a new version follows its barrier.

use futures::future::BoxFuture;
use sluice_codec::{Decoder, Format};
use sluice_engine::{Engine, Limits, Plugin};
use sluice_model::Row;
use sluice_model::{Origin, SourceMessage};
use sluice_pipeline::dead_letter::DeadLetter;
use sluice_pipeline::fleet::log::{BlobError, ControlLog, ControlRecord, Stream};
use sluice_pipeline::fleet::{self, Fleet, FleetSettings, Inbox, Refused};
use sluice_pipeline::{
    BindError, Breaker, BreakerConfig, CancellationToken, DeploySettings, Deployer, Metrics,
    PluginSlot, RecentRecords, RowSink, Stamp, SwapHistory,
};
use sluice_pipeline::{DeadLetterSink, PartitionFeed, PipelineConfig, Shared};
use std::collections::HashMap;
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Every append is handed at once, in order, to every host's inbox; a new
/// host's inbox first gets everything appended before (as a reader that
/// starts at the beginning of the topics would).
#[derive(Default)]
struct MemoryLog {
    inboxes: Mutex<Vec<Inbox>>,
    records: Mutex<Vec<ControlRecord>>,
    blobs: Mutex<HashMap<String, Vec<u8>>>,
    /// Blobs that come back with a byte flipped.
    damaged: Mutex<Vec<String>>,
    position: Mutex<u64>,
    /// How long a barrier takes to be written, and when each was, by key.
    barrier_delay: Mutex<Duration>,
    barriers_at: Mutex<Vec<(String, Instant)>>,
}

impl ControlLog for MemoryLog {
    fn append<'a>(
        &'a self,
        stream: Stream,
        key: &'a str,
        value: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<(), String>> {
        let position = {
            let mut p = self.position.lock().unwrap();
            *p += 1;
            *p
        };
        let record = ControlRecord {
            stream,
            key: key.to_string(),
            value: value.map(<[u8]>::to_vec),
            position: format!("memory@{position}"),
        };
        let delay = match stream {
            Stream::Barriers => *self.barrier_delay.lock().unwrap(),
            _ => Duration::ZERO,
        };
        Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            self.records.lock().unwrap().push(record.clone());
            for inbox in self.inboxes.lock().unwrap().iter() {
                inbox.deliver(record.clone());
            }
            if stream == Stream::Barriers {
                let at = (record.key.clone(), Instant::now());
                self.barriers_at.lock().unwrap().push(at);
            }
            Ok(())
        })
    }

    fn sync(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }

    fn put_blob<'a>(&'a self, hash: &'a str, bytes: &'a [u8]) -> BoxFuture<'a, Result<(), String>> {
        self.blobs
            .lock()
            .unwrap()
            .insert(hash.to_string(), bytes.to_vec());
        Box::pin(async { Ok(()) })
    }

    fn get_blob<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<Vec<u8>, BlobError>> {
        let mut found = self.blobs.lock().unwrap().get(hash).cloned();
        if self.damaged.lock().unwrap().iter().any(|h| h == hash) {
            if let Some(b) = found.as_mut() {
                b[0] ^= 0xff;
            }
        }
        Box::pin(async move {
            found.ok_or_else(|| BlobError::Missing {
                hash: hash.to_string(),
                detail: String::new(),
            })
        })
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

/// Takes every row into any table, noting when each batch of rows of a
/// version was written.
#[derive(Default)]
struct AnySink {
    writes: Mutex<Vec<(Instant, String)>>,
}

impl RowSink for AnySink {
    type Table = ();
    type Bound = (String, Row);

    async fn table(&self, _name: &str) -> Result<(), BindError> {
        Ok(())
    }

    fn bind(_table: &(), row: Row, stamp: &Stamp<'_>) -> Result<(String, Row), String> {
        Ok((stamp.version.to_string(), row))
    }

    async fn write(&self, rows: &[(String, Row)]) -> Result<(), String> {
        let mut writes = self.writes.lock().unwrap();
        writes.extend(rows.iter().map(|(v, _)| (Instant::now(), v.clone())));
        Ok(())
    }

    fn table_of(_bound: &(String, Row)) -> &str {
        "t"
    }
}

struct NoLetters;

impl DeadLetterSink for NoLetters {
    fn send<'a>(
        &'a self,
        letter: &'a DeadLetter<'a>,
        _plugin: &'a sluice_model::PluginInfo,
    ) -> BoxFuture<'a, Result<(), String>> {
        panic!("no record should be dead-lettered: {:?}", letter.reason)
    }
}

struct Host {
    deployer: Arc<Deployer<AnySink>>,
    fleet: Arc<Fleet>,
    _agent: tokio::task::JoinHandle<()>,
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(sluice_test_programs::path(name)).expect("built by sluice-test-programs")
}

/// A host of the group on `log`, started with `file` and `plugin_config`.
async fn host(
    log: &Arc<MemoryLog>,
    name: &str,
    file: &str,
    plugin_config: &[(&str, &str)],
    stop: &CancellationToken,
) -> Host {
    let inbox = Inbox::default();
    {
        let mut inboxes = log.inboxes.lock().unwrap();
        for r in log.records.lock().unwrap().iter() {
            inbox.deliver(r.clone());
        }
        inboxes.push(inbox.clone());
    }
    let settings = FleetSettings {
        member: format!("{name}-1"),
        host: name.to_string(),
        heartbeat: Duration::from_millis(100),
        answer_timeout: Duration::from_secs(10),
    };
    let fleet = Arc::new(Fleet::new(log.clone(), inbox, settings));
    let engine = Engine::new().unwrap();
    let deploy_settings = DeploySettings {
        plugin_config: plugin_config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        limits: Limits::default(),
        default_table: "created_users".into(),
        version_column: "plugin_version".into(),
        sample_file: None,
    };
    let file_bytes = bytes(file);
    let plugin = Plugin::load(
        &engine,
        file,
        &file_bytes,
        deploy_settings.plugin_config.clone(),
        Limits::default(),
    )
    .unwrap();
    let joined = fleet::join(
        &fleet,
        &engine,
        &AnySink::default(),
        &deploy_settings,
        plugin,
        &file_bytes,
        file,
    )
    .await
    .unwrap();
    let slot = Arc::new(PluginSlot::with_activation(
        joined.plugin,
        joined.source,
        joined.seq,
    ));
    let deployer = Arc::new(
        Deployer::new(
            engine,
            slot,
            Arc::new(AnySink::default()),
            deploy_settings,
            Arc::new(RecentRecords::default()),
            Arc::new(Metrics::new()),
            Arc::new(SwapHistory::default()),
            Arc::new(Breaker::new(BreakerConfig::default())),
        )
        .with_fleet(fleet.clone()),
    );
    let agent = tokio::spawn(fleet::agent(deployer.clone(), fleet.clone(), stop.clone()));
    Host {
        deployer,
        fleet,
        _agent: agent,
    }
}

impl Host {
    fn running(&self) -> (String, u64) {
        let (active, seq) = self.deployer.slot.current_activation();
        (active.plugin.info().version.clone(), seq)
    }

    async fn wait_for(&self, seq: u64) {
        let started = Instant::now();
        while self.running().1 < seq {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{} still runs activation {} (status: {:?})",
                self.fleet.settings.host,
                self.running().1,
                self.fleet.status().lagging
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Both hosts have heard each other's heartbeat.
async fn both_live(a: &Host) {
    let started = Instant::now();
    while a.fleet.state().live_members(Duration::from_secs(5)).len() < 2 {
        assert!(started.elapsed() < Duration::from_secs(10), "no heartbeats");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_through_one_host_is_validated_and_activated_by_both() {
    let (log, stop) = (Arc::new(MemoryLog::default()), CancellationToken::new());
    let a = host(&log, "a", "flatten", &[], &stop).await;
    // B starts with another file: it runs the group's version, seeded by A.
    let b = host(&log, "b", "flatten-v2", &[], &stop).await;
    assert_eq!(a.running(), ("0.1.0".to_string(), 1));
    assert_eq!(b.running(), ("0.1.0".to_string(), 1));
    both_live(&a).await;

    let deployed = a
        .deployer
        .deploy("test".into(), bytes("flatten-v2"))
        .await
        .unwrap();
    assert_eq!(deployed.activation, Some(2));
    let mut hosts: Vec<(String, bool)> = deployed
        .answers
        .iter()
        .map(|x| (x.host.clone(), x.accepted))
        .collect();
    hosts.sort();
    assert_eq!(hosts, vec![("a".into(), true), ("b".into(), true)]);
    b.wait_for(2).await;
    assert_eq!(a.running(), ("2.0.0".to_string(), 2));
    assert_eq!(b.running(), ("2.0.0".to_string(), 2));

    // A rollback goes through the log too, and only one step back.
    a.deployer.rollback().await.unwrap();
    b.wait_for(3).await;
    assert_eq!(b.running(), ("0.1.0".to_string(), 3));
    let e = a.deployer.rollback().await.unwrap_err().to_string();
    assert!(e.contains("no earlier version"), "{e}");
    stop.cancel();
}

/// The group's activations after `after`: (seq, version).
fn activations_after(h: &Host, after: u64) -> Vec<(u64, String)> {
    let state = h.fleet.state();
    (after + 1..=state.active_seq())
        .filter_map(|seq| state.activation(seq))
        .map(|a| (a.seq, a.version.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_breaker_rolling_back_one_bad_version_goes_one_step_back() {
    let (log, stop) = (Arc::new(MemoryLog::default()), CancellationToken::new());
    let a = host(&log, "a", "flatten", &[], &stop).await;
    let b = host(&log, "b", "flatten", &[], &stop).await;
    both_live(&a).await;
    let bad = sluice_engine::content_hash(&bytes("flatten-v2"));

    // One after the other: the second finds the bad version already gone.
    a.deployer
        .deploy("test".into(), bytes("flatten-v2"))
        .await
        .unwrap();
    b.wait_for(2).await;
    let first = a.deployer.rollback_from(&bad).await.unwrap();
    assert_eq!(first.map(|i| i.version), Some("0.1.0".to_string()));
    b.wait_for(3).await;
    assert!(b.deployer.rollback_from(&bad).await.unwrap().is_none());
    assert_eq!(a.running(), ("0.1.0".to_string(), 3));

    // At once: one rollback lands, the other does nothing (the plain
    // `rollback` each breaker used to call went two versions back here).
    a.deployer
        .deploy("again".into(), bytes("flatten-v2"))
        .await
        .unwrap();
    b.wait_for(4).await;
    let (ra, rb) = tokio::join!(
        a.deployer.rollback_from(&bad),
        b.deployer.rollback_from(&bad)
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(
        ra.is_some() != rb.is_some(),
        "exactly one rollback: {ra:?} {rb:?}"
    );
    b.wait_for(5).await;
    a.wait_for(5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(activations_after(&a, 4), vec![(5, "0.1.0".to_string())]);
    assert_eq!(b.running(), ("0.1.0".to_string(), 5));
    stop.cancel();
}

/// Waits until `h` runs a shadow of `hash` (Some) or none (None).
async fn wait_shadow(h: &Host, hash: Option<&str>) {
    let started = Instant::now();
    loop {
        let running = h.deployer.shadow().map(|r| r.status().hash);
        if running.as_deref() == hash {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{} runs shadow {running:?}, not {hash:?}",
            h.fleet.settings.host
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Hosts a (no settings) and b (`version-column` set, which flatten takes
/// and init-fails-if refuses), both live in one group.
async fn a_and_b_with_version_column() -> (Host, Host, CancellationToken) {
    let (log, stop) = (Arc::new(MemoryLog::default()), CancellationToken::new());
    let a = host(&log, "a", "flatten", &[], &stop).await;
    let b = host(
        &log,
        "b",
        "flatten",
        &[("version-column", "plugin_version")],
        &stop,
    )
    .await;
    both_live(&a).await;
    (a, b, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_cannot_load_the_groups_shadow_candidate_says_why_in_its_heartbeat() {
    let (a, b, stop) = a_and_b_with_version_column().await;
    let candidate = sluice_engine::content_hash(&bytes("init-fails-if"));
    a.deployer
        .start_shadow("test".into(), bytes("init-fails-if"), 0.5)
        .await
        .unwrap();
    wait_shadow(&a, Some(&candidate)).await;

    // b runs none, and says why: to itself, and to the group in its heartbeat.
    let started = Instant::now();
    let seen_by_a = loop {
        let b_beat = a
            .fleet
            .status()
            .members
            .into_iter()
            .find(|m| m.member.host == "b")
            .and_then(|m| m.member.shadow_error);
        if let Some(e) = b_beat {
            break e;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no shadow error in b's heartbeat"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(seen_by_a.contains("no longer knows setting"), "{seen_by_a}");
    assert!(b.deployer.shadow().is_none());
    assert_eq!(
        b.deployer.shadow_error().as_deref(),
        Some(seen_by_a.as_str())
    );
    assert!(a.deployer.shadow_error().is_none());

    // Discarded: the error goes with the run.
    a.deployer.discard_shadow().await.unwrap();
    let started = Instant::now();
    while b.deployer.shadow_error().is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "b still reports the ended run"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_run_started_on_one_host_runs_on_every_host_until_discarded_or_promoted() {
    let (log, stop) = (Arc::new(MemoryLog::default()), CancellationToken::new());
    let a = host(&log, "a", "flatten", &[], &stop).await;
    let b = host(&log, "b", "flatten", &[], &stop).await;
    both_live(&a).await;
    let v2 = sluice_engine::content_hash(&bytes("flatten-v2"));

    let status = a
        .deployer
        .start_shadow("test".into(), bytes("flatten-v2"), 0.5)
        .await
        .unwrap();
    assert_eq!(status.hash, v2);
    wait_shadow(&b, Some(&v2)).await;
    assert_eq!(b.deployer.shadow().unwrap().sample, 0.5);
    // A host that joins later reads it from the log and runs it too.
    let c = host(&log, "c", "flatten", &[], &stop).await;
    wait_shadow(&c, Some(&v2)).await;

    // Discarded on any host: gone on every host; nothing was activated.
    b.deployer.discard_shadow().await.unwrap();
    wait_shadow(&a, None).await;
    wait_shadow(&c, None).await;
    assert!(a.fleet.state().shadow().is_none());
    assert_eq!(a.running(), ("0.1.0".to_string(), 1));
    let e = c.deployer.discard_shadow().await.unwrap_err().to_string();
    assert!(e.contains("no shadow run"), "{e}");

    // Started and discarded at once, again and again: the host's own agent
    // never brings a discarded run back (nor drops a started one).
    for _ in 0..20 {
        a.deployer
            .start_shadow("flip".into(), bytes("flatten-v2"), 0.2)
            .await
            .unwrap();
        assert!(a.deployer.shadow().is_some());
        a.deployer.discard_shadow().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        a.deployer.shadow().is_none(),
        "a discarded shadow came back"
    );
    wait_shadow(&b, None).await;

    // Promoted: the candidate is the group's version, and no shadow is left.
    c.deployer
        .start_shadow("again".into(), bytes("flatten-v2"), 0.1)
        .await
        .unwrap();
    wait_shadow(&a, Some(&v2)).await;
    let deployed = a.deployer.promote_shadow().await.unwrap();
    assert_eq!(deployed.activation, Some(2));
    for h in [&a, &b, &c] {
        h.wait_for(2).await;
        wait_shadow(h, None).await;
        assert_eq!(h.running(), ("2.0.0".to_string(), 2));
    }
    assert!(a.fleet.state().shadow().is_none());
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hosts_rejection_activates_the_version_nowhere() {
    let (a, b, stop) = a_and_b_with_version_column().await;

    let e = a
        .deployer
        .deploy("test".into(), bytes("init-fails-if"))
        .await
        .unwrap_err();
    let refused = e.downcast_ref::<Refused>().expect("a refusal with answers");
    assert!(
        refused.reason.contains("host b") && refused.reason.contains("no longer knows setting"),
        "{}",
        refused.reason
    );
    // The first rejection ends the deploy; it is among the answers shown.
    assert!(
        refused.answers.iter().any(|x| x.host == "b" && !x.accepted),
        "{:?}",
        refused.answers
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.running(), ("0.1.0".to_string(), 1));
    assert_eq!(b.running(), ("0.1.0".to_string(), 1));

    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_bytes_are_never_activated() {
    let (log, stop) = (Arc::new(MemoryLog::default()), CancellationToken::new());
    let a = host(&log, "a", "flatten", &[], &stop).await;
    let b = host(&log, "b", "flatten", &[], &stop).await;
    both_live(&a).await;
    let v2 = bytes("flatten-v2");
    log.damaged
        .lock()
        .unwrap()
        .push(sluice_engine::content_hash(&v2));

    let e = a.deployer.deploy("test".into(), v2).await.unwrap_err();
    let refused = e.downcast_ref::<Refused>().expect("a refusal with answers");
    assert!(
        refused.reason.contains("host b") && refused.reason.contains("not used"),
        "{}",
        refused.reason
    );
    assert_eq!(b.running().1, 1);
    assert_eq!(a.running().1, 1);
    stop.cancel();
}

/// `n` sample users as JSON messages of t/0, offsets `from..from + n`.
fn users(from: i64, n: usize) -> Vec<SourceMessage> {
    let samples: Vec<&str> = include_str!("../src/control/sample-users.jsonl")
        .lines()
        .collect();
    (0..n)
        .map(|i| SourceMessage {
            origin: Origin {
                topic: "t".into(),
                partition: 0,
                offset: from + i as i64,
                ..Origin::default()
            },
            payload: Some(samples[i % samples.len()].as_bytes().to_vec()),
        })
        .collect()
}

/// Waits (60 s at most) for the ack that ends at `end`.
fn ack_until(acks: &std_mpsc::Receiver<sluice_pipeline::Ack>, end: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match acks.recv_timeout(left) {
            Ok(a) if a.next_offset == end => return,
            Ok(_) => {}
            Err(_) => panic!("no ack up to {end}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitions_first_write_under_a_new_version_follows_its_barrier() {
    let (log, stop) = (Arc::new(MemoryLog::default()), CancellationToken::new());
    // Barriers are slow: the batch that opens an activation is transformed
    // meanwhile, and must still not be written before its barrier is.
    *log.barrier_delay.lock().unwrap() = Duration::from_millis(300);
    let a = host(&log, "a", "flatten", &[], &stop).await;
    let d = &a.deployer;
    let shared = Arc::new(Shared {
        slot: d.slot.clone(),
        decoder: Decoder::new(Format::Json, None),
        sink: d.sink.clone(),
        recent: d.recent.clone(),
        breaker: d.breaker.clone(),
        deployer: d.clone(),
        history: d.history.clone(),
        dead_letters: Arc::new(NoLetters),
        metrics: d.metrics.clone(),
        config: Arc::new(PipelineConfig::default()),
    });
    let (tx, rx) = tokio::sync::mpsc::channel(100);
    let (done, _done_rx) = std_mpsc::sync_channel(1);
    let feed = PartitionFeed {
        topic: "t".into(),
        partition: 0,
        messages: rx,
        cancel: stop.child_token(),
        done,
        end_offset: None,
    };
    let (acks_tx, acks) = std_mpsc::channel();
    let worker = tokio::spawn(sluice_pipeline::worker::run(feed, shared, acks_tx));
    for m in users(0, 5) {
        tx.send(m).await.unwrap();
    }
    tokio::task::block_in_place(|| ack_until(&acks, 5));
    d.deploy("test".into(), bytes("flatten-v2")).await.unwrap();
    for m in users(5, 5) {
        tx.send(m).await.unwrap();
    }
    tokio::task::block_in_place(|| ack_until(&acks, 10));

    let barrier_at = |key: &str| {
        let at = log.barriers_at.lock().unwrap();
        at.iter().find(|(k, _)| k == key).map(|(_, t)| *t)
    };
    let writes = d.sink.writes.lock().unwrap().clone();
    let first_write = |version: &str| writes.iter().find(|(_, v)| v == version).map(|(t, _)| *t);
    for (key, version) in [("t/0/1", "0.1.0"), ("t/0/2", "2.0.0")] {
        let write = first_write(version).unwrap_or_else(|| panic!("no row of {version}"));
        // Acked, so written: a barrier still missing was not waited for.
        let barrier = barrier_at(key)
            .unwrap_or_else(|| panic!("{version} was written before its barrier {key} was"));
        assert!(
            write >= barrier,
            "{version} wrote {:?} before its barrier {key}",
            barrier - write
        );
    }
    assert_eq!(writes.len(), 10, "one row per user, each written once");
    stop.cancel();
    worker.await.unwrap();
}
