//! Outages of the real servers under steady load: Cassandra, Kafka and the
//! schema registry are each stopped for a minute (`SLUICE_OUTAGE_SECS`)
//! while a producer keeps writing ~300 records/s. Nothing may be lost or
//! dead-lettered, committed offsets must not move while records wait, the
//! outage must show in `/metrics` and `/api/status`, and the host must
//! recover by itself.
//!
//! They stop and start the shared services through `scripts/services.sh`
//! (`SLUICE_SERVICES=<name>`, honouring `SLUICE_STATE_DIR`), which would
//! break any other test running at the same time, so they are ignored by
//! default: `just test-outages` runs them alone, one at a time
//! (`--ignored --test-threads=1`), and `just test` runs that after
//! everything else. Whatever a test stops is started again when the test
//! ends, passed or failed (see [`Outage`]).

mod common;

use common::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Records per second the load produces.
const RATE: u64 = 300;
/// Partitions of each test topic.
const PARTITIONS: i32 = 3;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is in the workspace")
        .to_path_buf()
}

fn plugin_path() -> PathBuf {
    PathBuf::from(sluice_test_programs::FLATTEN)
}

/// How long each outage lasts (default 60 s).
fn outage_length() -> Duration {
    Duration::from_secs(
        std::env::var("SLUICE_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    )
}

// ------------------------------------------------------------------ services

fn services_command(action: &str, name: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(repo().join("scripts/services.sh"))
        .arg(action)
        .env("SLUICE_SERVICES", name);
    cmd
}

/// `scripts/services.sh ACTION` for one service; its output goes to ours.
async fn services(action: &str, name: &str) {
    let status = tokio::process::Command::from(services_command(action, name))
        .status()
        .await
        .expect("running scripts/services.sh");
    assert!(
        status.success(),
        "scripts/services.sh {action} {name} failed: {status}"
    );
}

/// A service stopped for a test. Dropping it starts the service again if
/// [`Outage::end`] did not, so a failing test leaves the services as it found them.
struct Outage {
    name: &'static str,
    stopped: bool,
    /// When the stop command returned: the server is gone.
    down_at: Instant,
}

impl Outage {
    /// Stops `name` (one of kafka, registry, cassandra) and returns once its process is gone.
    async fn begin(name: &'static str) -> Self {
        let out = tokio::process::Command::from(services_command("status", name))
            .output()
            .await
            .expect("running scripts/services.sh status");
        let status = String::from_utf8_lossy(&out.stdout);
        assert!(
            status.contains("running"),
            "{name} is not running as a service of scripts/services.sh ({}): these tests stop and \
             start it themselves; run them with `just test-outages`",
            status.trim()
        );
        // Armed before stopping, so even a stop that fails halfway is undone.
        let mut outage = Outage {
            name,
            stopped: true,
            down_at: Instant::now(),
        };
        let t = Instant::now();
        services("down", name).await;
        outage.down_at = Instant::now();
        eprintln!(
            "outage: {name} stopped in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        outage
    }

    /// Starts the service again; returns when it answers.
    async fn end(&mut self) -> Instant {
        let t = Instant::now();
        services("up", self.name).await;
        self.stopped = false;
        eprintln!(
            "outage: {} ready again after {:.1} s of start-up, {:.1} s after it was stopped",
            self.name,
            t.elapsed().as_secs_f64(),
            self.down_at.elapsed().as_secs_f64()
        );
        Instant::now()
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        if self.stopped {
            eprintln!(
                "outage: the test ended with {} stopped; starting it again",
                self.name
            );
            match services_command("up", self.name).status() {
                Ok(s) if s.success() => {}
                other => eprintln!(
                    "outage: could not start {} again ({other:?}): run `just up`",
                    self.name
                ),
            }
        }
    }
}

// ------------------------------------------------------------------ load

/// Encodes a user as a record: (key, value).
type Encode = Arc<dyn Fn(&[serde_json::Value]) -> Vec<(String, Vec<u8>)> + Send + Sync>;

fn json_records() -> Encode {
    Arc::new(|users| {
        users
            .iter()
            .map(|u| {
                (
                    u["login"]["uuid"].as_str().unwrap().to_string(),
                    u.to_string().into_bytes(),
                )
            })
            .collect()
    })
}

fn avro_records(schema_id: u32) -> Encode {
    let encoder = Arc::new(host::ingest::encode::Encoder::avro(schema_id));
    Arc::new(move |users| {
        encoder
            .encode_all(&host::ingest::fetch::Users::from_values(users))
            .unwrap_or_else(|(i, e)| panic!("user {i} does not fit schemas/user.avsc: {e:?}"))
            .into_iter()
            .map(|r| (r.key, r.value))
            .collect()
    })
}

/// What a producer wrote.
struct Produced {
    /// Keys Kafka acknowledged.
    delivered: HashSet<String>,
    /// Records Kafka did not take (sent again by [`Load::finish`]).
    failed: Vec<(String, Vec<u8>)>,
    seconds: f64,
}

/// Produces at [`RATE`] records/s from a task, without waiting for each
/// delivery, so an outage of Kafka only queues records in the producer.
struct Load {
    stop: Arc<AtomicBool>,
    queued: Arc<AtomicUsize>,
    producer: FutureProducer,
    topic: String,
    handle: tokio::task::JoinHandle<Produced>,
}

impl Load {
    fn start(topic: &str, encode: Encode) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicUsize::new(0));
        let producer = producer();
        let handle = tokio::spawn({
            let (stop, queued, producer, topic) = (
                stop.clone(),
                queued.clone(),
                producer.clone(),
                topic.to_string(),
            );
            async move {
                let started = Instant::now();
                let mut deliveries = tokio::task::JoinSet::new();
                // Ten ticks a second, RATE / 10 records each.
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut failed = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    tick.tick().await;
                    for (key, value) in encode(&users((RATE / 10) as usize)) {
                        let record = FutureRecord::to(&topic).key(&key).payload(&value);
                        // The error hands the record back; only whether it was taken matters.
                        match producer.send_result(record).map_err(|(e, _)| e) {
                            Ok(delivery) => {
                                queued.fetch_add(1, Ordering::Relaxed);
                                deliveries.spawn(async move {
                                    let ok = matches!(delivery.await, Ok(Ok(_)));
                                    (key, value, ok)
                                });
                            }
                            // The producer's queue is full: keep it for later.
                            Err(_) => failed.push((key, value)),
                        }
                    }
                }
                let seconds = started.elapsed().as_secs_f64();
                let mut delivered = HashSet::new();
                while let Some(r) = deliveries.join_next().await {
                    let (key, value, ok) = r.expect("delivery task");
                    if ok {
                        delivered.insert(key);
                    } else {
                        failed.push((key, value));
                    }
                }
                Produced {
                    delivered,
                    failed,
                    seconds,
                }
            }
        });
        Load {
            stop,
            queued,
            producer,
            topic: topic.to_string(),
            handle,
        }
    }

    fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Stops producing, waits for every delivery, sends again what Kafka did
    /// not take, and returns every key produced.
    async fn finish(self) -> HashSet<String> {
        self.stop.store(true, Ordering::SeqCst);
        let mut produced = tokio::time::timeout(Duration::from_secs(330), self.handle)
            .await
            .expect("every delivery resolves within message.timeout.ms")
            .expect("the load task does not panic");
        let resent = produced.failed.len();
        for (key, value) in std::mem::take(&mut produced.failed) {
            produce(&self.producer, &self.topic, &key, &value).await;
            produced.delivered.insert(key);
        }
        eprintln!(
            "load: {} records in {:.0} s ({:.0}/s), {resent} sent again after a failed delivery",
            produced.delivered.len(),
            produced.seconds,
            produced.delivered.len() as f64 / produced.seconds.max(1.0)
        );
        produced.delivered
    }
}

// ------------------------------------------------------------------ observing the host

/// The admin endpoint of a host under test.
#[derive(Clone)]
struct Admin {
    addr: SocketAddr,
    http: reqwest::Client,
}

impl Admin {
    fn new(addr: SocketAddr) -> Self {
        Admin {
            addr,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Result<String> {
        self.http
            .get(format!("http://{}{path}", self.addr))
            .send()
            .await?
            .text()
            .await
    }

    async fn metrics(&self) -> String {
        self.get("/metrics")
            .await
            .expect("the admin endpoint answers /metrics")
    }

    async fn status(&self) -> serde_json::Value {
        let text = self
            .get("/api/status")
            .await
            .expect("the admin endpoint answers /api/status");
        serde_json::from_str(&text).unwrap()
    }

    /// `sluice_dependency_up{dependency=NAME}`, if exported yet.
    async fn dependency_up(&self, name: &str) -> Option<i64> {
        gauge(&self.metrics().await, name)
    }

    async fn rows_written(&self) -> u64 {
        counter_total(&self.metrics().await, "sluice_rows_written_total")
    }

    /// Polls until `sluice_dependency_up{dependency=NAME}` is `value`; returns how long it took.
    async fn wait_dependency(&self, name: &str, value: i64, timeout: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let metrics = self.metrics().await;
            if gauge(&metrics, name) == Some(value) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < timeout,
                "sluice_dependency_up{{dependency=\"{name}\"}} is not {value} after {timeout:?}:\n{}",
                metrics
                    .lines()
                    .filter(|l| l.contains("dependency"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// After `name` answers again (at `ready`): polls until the host has
    /// written a row more than `rows_before` and reports `name` up; returns how
    /// long after `ready` each happened.
    async fn recovery(
        &self,
        name: &str,
        rows_before: u64,
        ready: Instant,
        timeout: Duration,
    ) -> (Duration, Duration) {
        let (mut first_row, mut up) = (None, None);
        loop {
            let metrics = self.metrics().await;
            if first_row.is_none()
                && counter_total(&metrics, "sluice_rows_written_total") > rows_before
            {
                first_row = Some(ready.elapsed());
            }
            if up.is_none() && gauge(&metrics, name) == Some(1) {
                up = Some(ready.elapsed());
            }
            if let (Some(r), Some(u)) = (first_row, up) {
                return (r, u);
            }
            assert!(
                ready.elapsed() < timeout,
                "{timeout:?} after {name} answered again: first new row after {first_row:?}, \
                 reported up after {up:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Checks that `/api/status` shows `name` down, having failed.
    async fn assert_shown_down(&self, name: &str) {
        let status = self.status().await;
        let d = &status["live"]["dependencies"][name];
        assert_eq!(d["up"], false, "/api/status: {d}");
        assert!(d["failures"].as_u64().unwrap_or(0) >= 1, "{d}");
        assert!(d["last_error"].is_string(), "{d}");
        eprintln!(
            "/api/status: {name} down, {} failed attempts, last error: {}",
            d["failures"], d["last_error"]
        );
        let page = self.get("/?refresh=0").await.unwrap();
        assert!(
            page.contains("is unreachable since") && page.contains("records are held"),
            "the status page has no outage banner"
        );
    }

    /// Checks that nothing was dead-lettered, by the host's own account.
    async fn assert_no_dead_letters(&self) {
        let status = self.status().await;
        let by_reason = &status["live"]["dead_letters_by_reason"];
        assert!(
            by_reason.as_object().is_none_or(|m| m.is_empty()),
            "records were dead-lettered during an outage: {by_reason}"
        );
    }
}

/// The value of `sluice_dependency_up{dependency="NAME"}` in a Prometheus text.
fn gauge(metrics: &str, name: &str) -> Option<i64> {
    let prefix = format!("sluice_dependency_up{{dependency=\"{name}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

/// The sum of a counter over its labels.
fn counter_total(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Reads committed offsets and partition ends without joining the group.
struct Offsets {
    consumer: BaseConsumer,
    topic: String,
}

impl Offsets {
    fn new(group: &str, topic: &str) -> Self {
        let consumer = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("offsets consumer");
        Offsets {
            consumer,
            topic: topic.into(),
        }
    }

    /// The group's committed offset per partition (-1: none yet).
    fn committed(&self) -> Vec<i64> {
        let mut tpl = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            tpl.add_partition(&self.topic, p);
        }
        let tpl = self
            .consumer
            .committed_offsets(tpl, Duration::from_secs(10))
            .expect("reading the group's committed offsets");
        (0..PARTITIONS)
            .map(
                |p| match tpl.find_partition(&self.topic, p).map(|e| e.offset()) {
                    Some(Offset::Offset(o)) => o,
                    _ => -1,
                },
            )
            .collect()
    }

    /// Each partition's end (high watermark) of `topic`.
    fn ends(&self, topic: &str) -> Vec<i64> {
        let metadata = self
            .consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("topic metadata");
        let partitions = metadata.topics()[0].partitions().len() as i32;
        (0..partitions)
            .map(|p| {
                self.consumer
                    .fetch_watermarks(topic, p, Duration::from_secs(10))
                    .expect("watermarks")
                    .1
            })
            .collect()
    }

    /// Waits until the group has committed every record of the topic.
    fn wait_all_committed(&self, timeout: Duration) {
        let start = Instant::now();
        let ends = self.ends(&self.topic.clone());
        loop {
            let committed = self.committed();
            if committed == ends {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "committed {committed:?}, partition ends {ends:?} after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Checks the dead-letter topic is empty.
    fn assert_dead_letter_topic_empty(&self) {
        let dlq = format!("{}.dlq", self.topic);
        let ends = self.ends(&dlq);
        assert!(
            ends.iter().all(|&e| e == 0),
            "{dlq} has records: partition ends {ends:?}"
        );
    }
}

/// Every id in `table`.
async fn ids(s: &scylla::client::session::Session, table: &str) -> HashSet<String> {
    use futures::TryStreamExt;
    s.query_iter(format!("SELECT id FROM {table}"), ())
        .await
        .unwrap()
        .rows_stream::<(uuid::Uuid,)>()
        .unwrap()
        .map_ok(|(id,)| id.to_string())
        .try_collect()
        .await
        .unwrap()
}

/// Waits for a row per produced key, then checks they are the same keys.
async fn assert_every_key_has_a_row(table: &str, keys: &HashSet<String>) {
    // A fresh session: the test's own may still be reconnecting after an outage.
    let s = session().await;
    wait_for_rows(&s, table, keys.len() as i64, Duration::from_secs(180)).await;
    let rows = ids(&s, table).await;
    let missing = keys.difference(&rows).count();
    assert_eq!(missing, 0, "{missing} produced records have no row");
    eprintln!(
        "rows: all {} produced records are rows of {table}",
        keys.len()
    );
}

/// CPU seconds (user + system) a process has used, from /proc/PID/stat.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    let rest = &stat[stat.rfind(')').expect("comm ends with )") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    ticks as f64 / hz
}

/// While `outage` has lasted less than `length`: sleeps up to 5 s and returns
/// true (check things, then call again); then returns false.
async fn pause(outage: &Outage, length: Duration) -> bool {
    let left = length.saturating_sub(outage.down_at.elapsed());
    if left.is_zero() {
        return false;
    }
    tokio::time::sleep(left.min(Duration::from_secs(5))).await;
    true
}

/// Waits until `table` has at least `n` rows.
async fn wait_for_some_rows(table: &str, n: i64) {
    let s = session().await;
    let start = Instant::now();
    while count(&s, table).await < n {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "fewer than {n} rows in {table} after 90 s"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

// ------------------------------------------------------------------ the tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops and starts the shared services: run alone, see justfile test-outages"]
async fn cassandra_down_for_a_minute_under_load_loses_nothing() {
    let started = Instant::now();
    let (topic, ks) = (unique("out_cass"), unique("ks"));
    create_topic(&topic, PARTITIONS).await;
    let config = test_config(&topic, &ks);
    let offsets = Offsets::new(&config.kafka.group_id, &topic);
    let table = format!("{ks}.created_users");
    let running = Pipeline::start(config, plugin_path(), false).await;
    let admin = Admin::new(running.admin);
    let load = Load::start(&topic, json_records());
    wait_for_some_rows(&table, 300).await;

    let mut outage = Outage::begin("cassandra").await;
    let noticed = admin
        .wait_dependency("cassandra", 0, Duration::from_secs(30))
        .await;
    eprintln!(
        "cassandra: reported down {:.1} s after its process exited",
        noticed.as_secs_f64()
    );
    admin.assert_shown_down("cassandra").await;
    // Batches acknowledged before the stop are committed within the
    // auto-commit interval (1 s); after that nothing may move.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let baseline = tokio::task::block_in_place(|| offsets.committed());
    let queued_at_baseline = load.queued();
    let mut samples = 0;
    while pause(&outage, outage_length()).await {
        samples += 1;
        let now = tokio::task::block_in_place(|| offsets.committed());
        assert_eq!(
            now, baseline,
            "committed offsets moved while Cassandra was down"
        );
        assert_eq!(admin.dependency_up("cassandra").await, Some(0));
        admin.assert_no_dead_letters().await;
    }
    assert!(
        load.queued() > queued_at_baseline + 1000,
        "the load kept producing during the outage"
    );
    eprintln!(
        "cassandra: committed offsets {baseline:?} unchanged over {samples} samples; {} records \
         produced meanwhile",
        load.queued() - queued_at_baseline
    );

    let rows_before = admin.rows_written().await;
    let ready = outage.end().await;
    let (first_row, up_again) = admin
        .recovery("cassandra", rows_before, ready, Duration::from_secs(30))
        .await;
    eprintln!(
        "RECOVERY cassandra: first new row {:.1} s after Cassandra answered again; reported up \
         after {:.1} s",
        first_row.as_secs_f64(),
        up_again.as_secs_f64()
    );
    assert_eq!(admin.dependency_up("cassandra").await, Some(1));
    assert_eq!(
        admin.status().await["live"]["dependencies"]["cassandra"]["up"],
        true
    );

    // A little more load after the recovery, then everything must be in.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let keys = load.finish().await;
    assert_every_key_has_a_row(&table, &keys).await;
    admin.assert_no_dead_letters().await;
    tokio::task::block_in_place(|| {
        offsets.wait_all_committed(Duration::from_secs(30));
        offsets.assert_dead_letter_topic_empty();
    });
    running.stop().await;
    eprintln!(
        "cassandra outage test took {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

/// `host run` as a child process, killed if the test fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops and starts the shared services: run alone, see justfile test-outages"]
async fn kafka_down_for_a_minute_neither_kills_nor_spins_the_host() {
    let started = Instant::now();
    let (topic, ks, group) = (unique("out_kafka"), unique("ks"), unique("g"));
    create_topic(&topic, PARTITIONS).await;
    let table = format!("{ks}.created_users");
    // A child process, so that its CPU time is the host's alone.
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let artifacts = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| repo().join("target"), PathBuf::from)
        .join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let log_path = artifacts.join("outage-kafka-host.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_host"))
            .args(["run", "--plugin"])
            .arg(plugin_path())
            .args(["--topic", &topic, "--group", &group, "--keyspace", &ks])
            .args(["--admin-listen", &addr.to_string()])
            .args(["--brokers", &brokers(), "--cassandra", &cassandra_hosts()])
            .args(["--registry", &registry_url()])
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting host"),
    );
    let pid = child.0.id();
    eprintln!("kafka: host pid {pid}, log {}", log_path.display());
    let admin = Admin::new(addr);
    let t = Instant::now();
    while admin.get("/healthz").await.is_err() {
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "host exited at start-up; see {}",
            log_path.display()
        );
        assert!(t.elapsed() < Duration::from_secs(60), "host not listening");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let load = Load::start(&topic, json_records());
    wait_for_some_rows(&table, 300).await;

    let mut outage = Outage::begin("kafka").await;
    let noticed = admin
        .wait_dependency("kafka", 0, Duration::from_secs(30))
        .await;
    eprintln!(
        "kafka: reported down {:.1} s after its process exited",
        noticed.as_secs_f64()
    );
    admin.assert_shown_down("kafka").await;
    // Let the records consumed before the outage drain into Cassandra, then measure.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let window = Duration::from_secs(20);
    let (cpu0, t0) = (cpu_seconds(pid), Instant::now());
    tokio::time::sleep(window).await;
    let cpu = (cpu_seconds(pid) - cpu0) / t0.elapsed().as_secs_f64();
    eprintln!(
        "CPU kafka: the host used {:.1} % of one core over {:.0} s of the outage",
        cpu * 100.0,
        window.as_secs_f64()
    );
    assert!(
        cpu < 0.10,
        "the host busy-loops while Kafka is down: {:.1} % of a core",
        cpu * 100.0
    );
    loop {
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "the host exited while Kafka was down"
        );
        assert_eq!(admin.dependency_up("kafka").await, Some(0));
        admin.assert_no_dead_letters().await;
        if !pause(&outage, outage_length()).await {
            break;
        }
    }
    let during = load.queued();

    let rows_before = admin.rows_written().await;
    let ready = outage.end().await;
    // Most of the wait is the consumer group's, not the host's: the host's
    // session timed out during the outage (kafka.session-timeout), and the
    // restarted coordinator waits as long for that old member before it gives
    // the partitions to the rejoined one. Then the control log's own clients
    // reconnect (librdkafka's backoff reaches 10 s during a long outage) before
    // a takeover can read its barriers: typically ~11 s in all, once over 30 s
    // on a slow, shared machine (2026-12-03), hence 60.
    let (first_row, up_again) = admin
        .recovery("kafka", rows_before, ready, Duration::from_secs(60))
        .await;
    eprintln!(
        "RECOVERY kafka: first new row {:.1} s after Kafka answered again; reported up after \
         {:.1} s",
        first_row.as_secs_f64(),
        up_again.as_secs_f64()
    );
    assert!(
        up_again < Duration::from_secs(20),
        "Kafka reported up {up_again:?} after it answered (librdkafka reconnects within \
         reconnect.backoff.max.ms, 10 s; statistics come every 5 s)"
    );

    tokio::time::sleep(Duration::from_secs(5)).await;
    let keys = load.finish().await;
    assert!(
        keys.len() > during,
        "records were produced after the outage"
    );
    assert_every_key_has_a_row(&table, &keys).await;
    admin.assert_no_dead_letters().await;
    let offsets = Offsets::new(&group, &topic);
    tokio::task::block_in_place(|| {
        offsets.wait_all_committed(Duration::from_secs(60));
        offsets.assert_dead_letter_topic_empty();
    });
    assert!(child.0.try_wait().unwrap().is_none(), "the host is running");
    // A clean stop still works after the outage.
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(90), "host did not stop");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(status.success(), "host exits 0 on SIGTERM, got {status}");
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    eprintln!(
        "kafka: host log {} lines ({} warnings)",
        log.lines().count(),
        log.lines().filter(|l| l.contains("WARN")).count()
    );
    eprintln!(
        "kafka outage test took {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops and starts the shared services: run alone, see justfile test-outages"]
async fn registry_down_holds_avro_records_until_it_is_back() {
    let started = Instant::now();
    let (topic, ks) = (unique("out_reg"), unique("ks"));
    create_topic(&topic, PARTITIONS).await;
    // Registered while the registry is up, so the records are valid; the
    // host starts only once it is down, so it has none of it cached.
    let registry = host::registry::Registry::new(&registry_url(), None).unwrap();
    let schema_id = registry
        .register(&format!("{topic}-value"), host::ingest::encode::USER_SCHEMA)
        .await
        .expect("registering the user schema");
    let config = test_config(&topic, &ks);
    let offsets = Offsets::new(&config.kafka.group_id, &topic);
    let table = format!("{ks}.created_users");

    let mut outage = Outage::begin("registry").await;
    let running = Pipeline::start(config, plugin_path(), false).await;
    let admin = Admin::new(running.admin);
    let load = Load::start(&topic, avro_records(schema_id));
    let noticed = admin
        .wait_dependency("registry", 0, Duration::from_secs(30))
        .await;
    eprintln!(
        "registry: reported down {:.1} s after the first records were produced",
        noticed.as_secs_f64()
    );
    admin.assert_shown_down("registry").await;
    let s = session().await;
    let mut samples = 0;
    loop {
        samples += 1;
        assert_eq!(count(&s, &table).await, 0, "a row without its schema?");
        let committed = tokio::task::block_in_place(|| offsets.committed());
        assert!(
            committed.iter().all(|&o| o <= 0),
            "offsets committed while the registry was down: {committed:?}"
        );
        assert_eq!(admin.dependency_up("registry").await, Some(0));
        admin.assert_no_dead_letters().await;
        if !pause(&outage, outage_length()).await {
            break;
        }
    }
    let during = load.queued();
    eprintln!(
        "registry: {during} Avro records held during the outage; no row, no commit, no dead \
         letter over {samples} samples"
    );

    let ready = outage.end().await;
    let (first_row, up_again) = admin
        .recovery("registry", 0, ready, Duration::from_secs(30))
        .await;
    eprintln!(
        "RECOVERY registry: first row {:.1} s after the registry answered again; reported up \
         after {:.1} s",
        first_row.as_secs_f64(),
        up_again.as_secs_f64()
    );

    tokio::time::sleep(Duration::from_secs(5)).await;
    let keys = load.finish().await;
    assert_every_key_has_a_row(&table, &keys).await;
    admin.assert_no_dead_letters().await;
    tokio::task::block_in_place(|| {
        offsets.wait_all_committed(Duration::from_secs(30));
        offsets.assert_dead_letter_topic_empty();
    });
    running.stop().await;
    eprintln!(
        "registry outage test took {:.0} s",
        started.elapsed().as_secs_f64()
    );
}
