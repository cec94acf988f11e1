//! Fleet deploys against the real services (issue #16): several `host run`
//! processes of one consumer group share the group's deploy log in Kafka
//! (`_sluice.<group>.deploys|barriers|members|plugins`). A deploy sent to
//! any host reaches every host or none; each partition changes version at
//! exactly one offset, recorded as a barrier; a record transformed again
//! after a crash gets the version that owned its offset; a restarted host
//! runs the group's version, not its `--plugin` file.
//!
//! Every host is a child process with a config file of its own in the
//! test's temporary folder and its log beside it (`<name>.log`: its tail is
//! printed when a test fails; `SLUICE_KEEP_FLEET_LOGS=1` keeps them all in
//! target/test-artifacts/fleet). The tests take turns ([`SERIAL`]): each
//! runs two or three hosts under load, and the machine they run on is small.
//! `the_deploy_log_survives_a_kafka_restart` stops Kafka, so it is ignored
//! by default and run by `just test-outages`, alone.

mod common;

use common::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const TOKEN: &str = "fleet-test-token-5d21";
const V1: &str = "0.1.0";
const V2: &str = "2.0.0";
/// How long the shadow test waits for a state to reach a host.
const WAIT: Duration = Duration::from_secs(30);

/// One test at a time: every test runs several hosts under load.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is in the workspace")
        .to_path_buf()
}

/// flatten 0.1.0, the version every group starts with. Hosts are started
/// with a copy of it of their group's own ([`Group::v1`]): `host run`
/// watches its `--plugin` file, and a rebuild of plugins/dist during a test
/// must not deploy anything.
fn v1_built() -> PathBuf {
    PathBuf::from(sluice_test_programs::FLATTEN)
}

/// flatten "2.0.0" (test-guests/flatten-v2): last names upper-cased.
fn v2() -> PathBuf {
    sluice_test_programs::path("flatten-v2")
}

/// flatten-strict 3.0.0 (test-guests/init-fails-if): its init fails on a
/// host whose plugin-config sets `version-column`.
fn strict() -> PathBuf {
    let p = sluice_test_programs::path("init-fails-if");
    assert!(
        p.exists(),
        "{} is not built: run `just build-test-guests`",
        p.display()
    );
    p
}

// ------------------------------------------------------------------ a group of hosts

/// One consumer group under test: its topic, keyspace, and the folder
/// holding its hosts' config files and logs. Dropped during a panic, it
/// prints the tail of every host's log.
struct Group {
    dir: tempfile::TempDir,
    topic: String,
    keyspace: String,
    group: String,
    partitions: i32,
    logs: Mutex<Vec<PathBuf>>,
}

impl Group {
    async fn new(prefix: &str, partitions: i32) -> Self {
        let (topic, keyspace, group) = (unique(prefix), unique("ks"), unique("g"));
        create_topic(&topic, partitions).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(v1_built(), dir.path().join("flatten.wasm")).unwrap();
        Group {
            dir,
            topic,
            keyspace,
            group,
            partitions,
            logs: Mutex::new(Vec::new()),
        }
    }

    /// This group's copy of flatten 0.1.0.
    fn v1(&self) -> PathBuf {
        self.dir.path().join("flatten.wasm")
    }

    fn table(&self) -> String {
        format!("{}.created_users", self.keyspace)
    }

    /// `_sluice.<group>.<stream>`.
    fn control_topic(&self, stream: &str) -> String {
        format!("_sluice.{}.{stream}", self.group)
    }

    /// Writes `<name>.toml` and starts `host run` with it and `plugin`.
    /// `extra` is added to the file's `[pipeline.plugin-config]` table.
    fn spawn(&self, name: &str, plugin: &Path, plugin_config: &[(&str, &str)]) -> Host {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let settings: String = plugin_config
            .iter()
            .map(|(k, v)| format!("{k:?} = {v:?}\n"))
            .collect();
        let config = format!(
            r#"[kafka]
brokers = {brokers:?}
group-id = {group:?}
session-timeout = "6s"

[registry]
url = {registry:?}

[cassandra]
hosts = {cassandra:?}
keyspace = {keyspace:?}
consistency = "one"

[pipeline]
topics = [{topic:?}]
format = "json"
batch-size = 50

[pipeline.plugin-config]
{settings}
[admin]
listen = "{addr}"
token = {TOKEN:?}

[fleet]
heartbeat = "1s"
answer-timeout = "15s"
"#,
            brokers = brokers(),
            group = self.group,
            registry = registry_url(),
            cassandra = cassandra_hosts(),
            keyspace = self.keyspace,
            topic = self.topic,
        );
        let config_path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&config_path, config).unwrap();
        let log = self.dir.path().join(format!("{name}.log"));
        self.logs.lock().unwrap().push(log.clone());
        let mut host = Host {
            name: name.to_string(),
            config: config_path,
            log,
            addr,
            child: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        };
        host.start(plugin);
        host
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // SLUICE_KEEP_FLEET_LOGS=1 keeps every host's log in target/test-artifacts/fleet.
        if std::env::var_os("SLUICE_KEEP_FLEET_LOGS").is_some() {
            let keep = repo().join("target/test-artifacts/fleet");
            let _ = std::fs::create_dir_all(&keep);
            for log in self.logs.lock().unwrap().iter() {
                let name = format!(
                    "{}-{}",
                    self.topic,
                    log.file_name().unwrap().to_string_lossy()
                );
                let _ = std::fs::copy(log, keep.join(name));
            }
        }
        if !std::thread::panicking() {
            return;
        }
        for log in self.logs.lock().unwrap().iter() {
            eprintln!("===== tail of {} =====\n{}", log.display(), tail(log, 60));
        }
    }
}

/// The last `n` lines of a file.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A `host run` child process; killed (SIGKILL) when dropped.
struct Host {
    name: String,
    config: PathBuf,
    log: PathBuf,
    addr: SocketAddr,
    child: Option<std::process::Child>,
    http: reqwest::Client,
}

impl Host {
    /// Starts the process (again) with the same config; its log is appended to.
    fn start(&mut self, plugin: &Path) {
        assert!(self.child.is_none(), "{} runs already", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_host"))
            .arg("run")
            .arg("--config")
            .arg(&self.config)
            .arg("--plugin")
            .arg(plugin)
            .current_dir(repo())
            .env("RUST_LOG", "info")
            .env_remove("SLUICE_ADMIN_TOKEN")
            .env_remove("SLUICE_ADMIN_LISTEN")
            .env_remove("SLUICE_FLEET")
            .env_remove("SLUICE_KAFKA_GROUP")
            .env_remove("SLUICE_CASSANDRA_KEYSPACE")
            .env_remove("SLUICE_TOPICS")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting `host run`");
        self.child = Some(child);
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Panics with the log's tail if the process has exited.
    fn assert_running(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "host {} exited ({status}); its log:\n{}",
                    self.name,
                    tail(&self.log, 60)
                );
            }
        }
    }

    /// Waits for `GET /readyz` to answer 200.
    async fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            self.assert_running();
            if let Ok(r) = self.http.get(format!("{}/readyz", self.url())).send().await {
                if r.status() == 200 {
                    eprintln!(
                        "host {} (pid {}) ready after {:.1} s",
                        self.name,
                        self.pid(),
                        started.elapsed().as_secs_f64()
                    );
                    return;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "host {} not ready within 120 s; its log:\n{}",
                self.name,
                tail(&self.log, 60)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn status(&self) -> Value {
        self.http
            .get(format!("{}/api/status", self.url()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("host {}: /api/status: {e}", self.name))
            .json()
            .await
            .unwrap()
    }

    /// This host's member id in the group (`fleet.me`).
    async fn member(&self) -> String {
        self.status().await["fleet"]["me"]
            .as_str()
            .unwrap_or_else(|| panic!("host {} has no fleet.me", self.name))
            .to_string()
    }

    /// Waits until `active.version` is `version`; panics after `timeout`.
    async fn wait_version(&self, version: &str, timeout: Duration) -> Value {
        self.wait_status(&format!("version {version}"), timeout, |st| {
            st["active"]["version"] == version
        })
        .await
    }

    /// Waits until `/api/status` satisfies `ok`; panics after `timeout`.
    async fn wait_status(
        &self,
        what: &str,
        timeout: Duration,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let st = self.status().await;
            if ok(&st) {
                return st;
            }
            assert!(
                started.elapsed() < timeout,
                "host {}: no {what} after {timeout:?}: runs {}, shadow {}, fleet {}",
                self.name,
                st["active"]["version"],
                st["shadow"],
                st["fleet"]
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Deploys `plugin` through this host's admin endpoint; (status, body).
    async fn deploy(&self, plugin: &Path) -> (u16, String) {
        self.post_plugin("deploy", std::fs::read(plugin).unwrap())
            .await
    }

    /// `POST /api/plugin/<what>` with the token, answers as JSON; (status, body).
    async fn post_plugin(&self, what: &str, body: Vec<u8>) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}/api/plugin/{what}", self.url()))
            .bearer_auth(TOKEN)
            .header("accept", "application/json")
            .timeout(Duration::from_secs(90))
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("host {}: /api/plugin/{what}: {e}", self.name));
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// SIGKILL, as a crash.
    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and waits for a clean exit.
    async fn terminate(&mut self) {
        let mut child = self.child.take().expect("running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let started = Instant::now();
        let exit = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > Duration::from_secs(90) {
                let _ = child.kill();
                panic!(
                    "host {} did not stop within 90 s of SIGTERM; its log:\n{}",
                    self.name,
                    tail(&self.log, 60)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(
            exit.success(),
            "host {} exited with {exit} on SIGTERM; its log:\n{}",
            self.name,
            tail(&self.log, 60)
        );
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Starts hosts together and waits until each is ready.
async fn ready_all(hosts: &mut [&mut Host]) {
    for h in hosts.iter_mut() {
        h.wait_ready().await;
    }
}

// ------------------------------------------------------------------ the `host` CLI

/// Runs `host ARGS` to its end; (success, stdout + stderr).
async fn cli(args: &[&str]) -> (bool, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_host"));
    cmd.args(args)
        .env_remove("SLUICE_ADMIN_TOKEN")
        .env_remove("SLUICE_ADMIN_URL")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("`host {}` did not finish within 120 s", args.join(" ")))
        .expect("the host binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("`host {}` -> {}:\n{text}", args.join(" "), out.status);
    (out.status.success(), text)
}

// ------------------------------------------------------------------ load

/// Produces users at a steady rate from a task, remembering where each landed.
struct Load {
    handle: tokio::task::JoinHandle<HashMap<uuid::Uuid, (i32, i64)>>,
}

impl Load {
    /// About `rate` users/s (in ticks of 100 ms) until `total` are produced.
    fn start(topic: &str, rate: usize, total: usize) -> Self {
        let handle = tokio::spawn({
            let topic = topic.to_string();
            async move {
                let p = producer();
                let mut placed = HashMap::new();
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let per_tick = (rate / 10).max(1);
                while placed.len() < total {
                    tick.tick().await;
                    let batch = users(per_tick.min(total - placed.len()));
                    let sends = batch.iter().map(|u| {
                        let id = u["login"]["uuid"].as_str().unwrap().to_string();
                        let value = u.to_string();
                        let p = &p;
                        let topic = &topic;
                        async move {
                            let d = p
                                .send(
                                    FutureRecord::to(topic).key(&id).payload(&value),
                                    Duration::from_secs(30),
                                )
                                .await
                                .unwrap_or_else(|(e, _)| panic!("producing: {e}"));
                            (uuid::Uuid::parse_str(&id).unwrap(), (d.partition, d.offset))
                        }
                    });
                    placed.extend(futures::future::join_all(sends).await);
                }
                placed
            }
        });
        Load { handle }
    }

    /// Waits for the load to end by itself.
    async fn join(self) -> HashMap<uuid::Uuid, (i32, i64)> {
        let placed = self.handle.await.expect("the load task does not panic");
        eprintln!("load: {} users produced", placed.len());
        placed
    }
}

/// Waits until `table` holds at least `n` rows.
async fn wait_for_some_rows(table: &str, n: i64) {
    let s = session().await;
    let started = Instant::now();
    while count(&s, table).await < n {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{table} has fewer than {n} rows after 90 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every row of `table`: id -> plugin_version.
async fn versions(table: &str) -> HashMap<uuid::Uuid, String> {
    let s = session().await;
    let rows = s
        .query_unpaged(format!("SELECT id, plugin_version FROM {table}"), ())
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    rows.rows::<(uuid::Uuid, Option<String>)>()
        .unwrap()
        .map(|r| {
            let (id, v) = r.unwrap();
            (id, v.unwrap_or_else(|| "<null>".into()))
        })
        .collect()
}

/// Waits until every produced user has its row, then returns each row's
/// version by (partition, offset), in offset order per partition.
async fn rows_by_offset(
    group: &Group,
    placed: &HashMap<uuid::Uuid, (i32, i64)>,
) -> BTreeMap<i32, Vec<(i64, String)>> {
    let s = session().await;
    wait_for_rows(
        &s,
        &group.table(),
        placed.len() as i64,
        Duration::from_secs(150),
    )
    .await;
    let versions = versions(&group.table()).await;
    let mut by_partition: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
    for (id, (partition, offset)) in placed {
        let v = versions
            .get(id)
            .unwrap_or_else(|| panic!("no row for user {id} at {partition}@{offset}"));
        by_partition
            .entry(*partition)
            .or_default()
            .push((*offset, v.clone()));
    }
    for rows in by_partition.values_mut() {
        rows.sort();
    }
    by_partition
}

/// Asserts that each partition goes v1...v1 v2...v2, changing at exactly one
/// offset; returns that offset per partition.
fn assert_one_switch(
    rows: &BTreeMap<i32, Vec<(i64, String)>>,
    partitions: i32,
) -> BTreeMap<i32, i64> {
    assert_eq!(
        rows.len(),
        partitions as usize,
        "every partition received records"
    );
    let mut switches = BTreeMap::new();
    for (partition, rows) in rows {
        let changes: Vec<(i64, &str, &str)> = rows
            .windows(2)
            .filter(|w| w[0].1 != w[1].1)
            .map(|w| (w[1].0, w[0].1.as_str(), w[1].1.as_str()))
            .collect();
        assert_eq!(
            rows.first().map(|r| r.1.as_str()),
            Some(V1),
            "partition {partition} starts with v1"
        );
        assert_eq!(
            rows.last().map(|r| r.1.as_str()),
            Some(V2),
            "partition {partition} ends with v2"
        );
        assert_eq!(
            changes.len(),
            1,
            "partition {partition} changes version at exactly one offset: {changes:?}"
        );
        switches.insert(*partition, changes[0].0);
    }
    eprintln!("v2 took over at offsets (partition -> offset): {switches:?}");
    switches
}

// ------------------------------------------------------------------ the control topics

/// Every record of a one-partition topic, from its start to its end now:
/// (offset, key, value).
async fn read_topic(topic: &str) -> Vec<(i64, String, Option<Vec<u8>>)> {
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .set("group.id", unique("fleet-reader"))
            .set("enable.auto.commit", "false")
            .set("fetch.message.max.bytes", "2000000")
            .create()
            .unwrap();
        let (_, end) = consumer
            .fetch_watermarks(&topic, 0, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("the end of {topic}: {e}"));
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Beginning)
            .unwrap();
        consumer.assign(&tpl).unwrap();
        let mut records = Vec::new();
        let mut next = 0;
        let started = Instant::now();
        while next < end {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{topic} not read to its end ({end}) in 30 s"
            );
            let Some(m) = consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            let m = m.unwrap();
            next = m.offset() + 1;
            records.push((
                m.offset(),
                m.key()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .unwrap_or_default(),
                m.payload().map(<[u8]>::to_vec),
            ));
        }
        records
    })
    .await
    .unwrap()
}

/// The group's activations (seq -> version), the first record of each number winning.
async fn activations(group: &Group) -> BTreeMap<u64, String> {
    let mut found = BTreeMap::new();
    for (_, key, value) in read_topic(&group.control_topic("deploys")).await {
        if !key.starts_with("activation/") {
            continue;
        }
        let Some(a) = value.and_then(|v| serde_json::from_slice::<Value>(&v).ok()) else {
            continue;
        };
        let (Some(seq), Some(version)) = (a["seq"].as_u64(), a["version"].as_str()) else {
            continue;
        };
        if found.keys().next_back().is_none_or(|max| seq > *max) {
            found.insert(seq, version.to_string());
        }
    }
    found
}

/// The barriers of this group's topic: partition -> [(offset, seq)], by offset.
async fn barriers(group: &Group) -> BTreeMap<i32, Vec<(i64, u64)>> {
    let mut found: BTreeMap<i32, Vec<(i64, u64)>> = BTreeMap::new();
    for (at, key, value) in read_topic(&group.control_topic("barriers")).await {
        let Some(value) = value else { continue };
        let b: Value = serde_json::from_slice(&value)
            .unwrap_or_else(|e| panic!("barrier {key} at {at} is not JSON: {e}"));
        if b["topic"] != group.topic.as_str() {
            continue;
        }
        let (partition, offset, seq) = (
            b["partition"].as_i64().unwrap() as i32,
            b["offset"].as_i64().unwrap(),
            b["seq"].as_u64().unwrap(),
        );
        assert!(
            b["hash"].as_str().is_some_and(|h| h.len() == 64),
            "barrier {key} carries the activation's hash: {b}"
        );
        let list = found.entry(partition).or_default();
        if !list.contains(&(offset, seq)) {
            list.push((offset, seq));
        }
    }
    for list in found.values_mut() {
        list.sort();
    }
    found
}

/// Asserts every row was written by the version whose barrier has the
/// greatest offset at or before the row's offset.
fn assert_rows_follow_barriers(
    rows: &BTreeMap<i32, Vec<(i64, String)>>,
    barriers: &BTreeMap<i32, Vec<(i64, u64)>>,
    activations: &BTreeMap<u64, String>,
) {
    for (partition, rows) in rows {
        let list = barriers
            .get(partition)
            .unwrap_or_else(|| panic!("partition {partition} has no barrier: {barriers:?}"));
        for (offset, version) in rows {
            let (from, seq) = list
                .iter()
                .rev()
                .find(|(o, _)| o <= offset)
                .unwrap_or_else(|| {
                    panic!(
                        "offset {offset} of partition {partition} precedes every barrier {list:?}"
                    )
                });
            let owner = activations.get(seq).unwrap_or_else(|| {
                panic!("barrier for activation {seq} with no activation: {activations:?}")
            });
            assert_eq!(
                version, owner,
                "row at {partition}@{offset} written by {version}, but activation {seq} ({owner}) owns it from offset {from} (barriers {list:?})"
            );
        }
    }
}

// ------------------------------------------------------------------ the tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_through_one_host_switches_every_host_at_one_offset_per_partition() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let g = Group::new("fleet_one", 6).await;
    let mut a = g.spawn("a", &g.v1(), &[]);
    let mut b = g.spawn("b", &g.v1(), &[]);
    let mut c = g.spawn("c", &g.v1(), &[]);
    ready_all(&mut [&mut a, &mut b, &mut c]).await;
    let members = [a.member().await, b.member().await, c.member().await];

    // ~300 users/s for ~15 s.
    let load = Load::start(&g.topic, 300, 4500);
    wait_for_some_rows(&g.table(), 900).await;

    let v2_path = v2().display().to_string();
    let (ok, out) = cli(&[
        "plugin",
        "deploy",
        &v2_path,
        "--admin",
        &a.url(),
        "--token",
        TOKEN,
    ])
    .await;
    assert!(ok, "the deploy failed: {out}");
    for m in &members {
        assert!(
            out.contains(m.as_str()),
            "the deploy's output does not name {m}: {out}"
        );
    }
    // The answer as JSON (today's output): every member accepted.
    if let Ok(d) = serde_json::from_str::<Value>(out.trim()) {
        assert_eq!(d["version"], V2, "{d}");
        assert_eq!(d["activation"], 2, "{d}");
        let answers = d["answers"].as_array().expect("answers");
        assert_eq!(answers.len(), 3, "{d}");
        for m in &members {
            assert!(
                answers
                    .iter()
                    .any(|x| x["member"] == m.as_str() && x["accepted"] == true),
                "{m} did not accept: {d}"
            );
        }
    } else {
        // A table: one line per member, saying it accepted.
        for m in &members {
            assert!(
                out.lines()
                    .any(|l| l.contains(m.as_str()) && l.contains("accepted")),
                "the deploy's output does not show {m} as accepted: {out}"
            );
        }
    }
    for h in [&a, &b, &c] {
        let st = h.wait_version(V2, Duration::from_secs(20)).await;
        assert_eq!(
            st["fleet"]["active"]["seq"], 2,
            "host {}: {}",
            h.name, st["fleet"]
        );
        assert_eq!(st["fleet"]["active"]["version"], V2, "host {}", h.name);
    }

    let placed = load.join().await;
    let rows = rows_by_offset(&g, &placed).await;
    assert_one_switch(&rows, g.partitions);
    assert_rows_follow_barriers(&rows, &barriers(&g).await, &activations(&g).await);

    // The operator's view.
    let (ok, out) = cli(&["plugin", "status", "--admin", &b.url(), "--token", TOKEN]).await;
    assert!(ok, "{out}");
    for m in &members {
        assert!(
            out.contains(m.as_str()),
            "`host plugin status` does not list {m}: {out}"
        );
    }
    let (ok, out) = cli(&[
        "plugin",
        "status",
        "--json",
        "--admin",
        &b.url(),
        "--token",
        TOKEN,
    ])
    .await;
    assert!(ok, "{out}");
    let st: Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("`host plugin status --json` is not JSON ({e}): {out}"));
    assert_eq!(
        st["fleet"]["members"].as_array().map(Vec::len),
        Some(3),
        "{}",
        st["fleet"]
    );
    eprintln!("test took {:.0} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_one_host_rejects_activates_nowhere() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let g = Group::new("fleet_reject", 3).await;
    let mut a = g.spawn("a", &g.v1(), &[]);
    let mut b = g.spawn("b", &g.v1(), &[]);
    // flatten 0.1.0 takes this setting; flatten-strict 3.0.0 refuses it.
    let mut c = g.spawn("c", &g.v1(), &[("version-column", "plugin_version")]);
    ready_all(&mut [&mut a, &mut b, &mut c]).await;
    let refuser = c.member().await;

    let load = Load::start(&g.topic, 200, 2400);
    wait_for_some_rows(&g.table(), 300).await;

    let path = strict().display().to_string();
    let (ok, out) = cli(&[
        "plugin",
        "deploy",
        &path,
        "--admin",
        &a.url(),
        "--token",
        TOKEN,
    ])
    .await;
    assert!(!ok, "a deploy one host refused succeeded: {out}");
    assert!(
        out.contains(&refuser),
        "the refusal does not name host c ({refuser}): {out}"
    );
    assert!(
        out.contains("version-column"),
        "the refusal does not give host c's reason: {out}"
    );
    for h in [&a, &b, &c] {
        let st = h.status().await;
        assert_eq!(
            st["active"]["version"], V1,
            "host {}: {}",
            h.name, st["fleet"]
        );
        assert_eq!(
            st["fleet"]["active"]["seq"], 1,
            "host {}: {}",
            h.name, st["fleet"]
        );
    }
    // Every host reads the coordinator's decision: not activated.
    let waited = Instant::now();
    let deploy = loop {
        let st = b.status().await;
        let deploy = st["fleet"]["recent_deploys"][0].clone();
        if deploy["decision"].is_object() {
            break deploy;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "no decision read: {deploy}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(deploy["decision"]["activated"], Value::Null, "{deploy}");
    assert!(
        deploy["answers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["member"] == refuser.as_str() && x["accepted"] == false),
        "{deploy}"
    );

    // v1 goes on writing everywhere.
    let placed = load.join().await;
    let rows = rows_by_offset(&g, &placed).await;
    for (partition, rows) in &rows {
        for (offset, v) in rows {
            assert_eq!(v, V1, "row at {partition}@{offset}");
        }
    }
    for h in [&a, &b, &c] {
        assert_eq!(h.status().await["active"]["version"], V1, "host {}", h.name);
    }
    eprintln!("test took {:.0} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_deploy_reprocesses_with_the_owning_version() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let g = Group::new("fleet_crash", 6).await;
    let mut a = g.spawn("a", &g.v1(), &[]);
    let mut b = g.spawn("b", &g.v1(), &[]);
    let mut c = g.spawn("c", &g.v1(), &[]);
    ready_all(&mut [&mut a, &mut b, &mut c]).await;

    let load = Load::start(&g.topic, 300, 6000);
    wait_for_some_rows(&g.table(), 900).await;
    let (code, body) = a.deploy(&v2()).await;
    assert_eq!(code, 200, "{body}");
    // Crash c as soon as it wrote its first v2 barrier: its tail since its
    // last commit (v1 records before the barrier, v2 ones after) is not
    // committed, and goes to a and b.
    let c_member = c.member().await;
    let crash_wait = Instant::now();
    let first = loop {
        let mine = read_topic(&g.control_topic("barriers"))
            .await
            .into_iter()
            .filter_map(|(_, _, v)| serde_json::from_slice::<Value>(&v?).ok())
            .find(|b| b["member"] == c_member.as_str() && b["seq"] == 2);
        if let Some(b) = mine {
            break b;
        }
        assert!(
            crash_wait.elapsed() < Duration::from_secs(30),
            "c wrote no v2 barrier within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let held = c.status().await["live"]["partitions"].clone();
    c.kill9();
    eprintln!("host c killed (SIGKILL) after its v2 barrier {first}; it held {held}");

    // Later records go to the survivors once the group gives up on c.
    let placed = load.join().await;
    let rows = rows_by_offset(&g, &placed).await;
    let barriers = barriers(&g).await;
    let activations = activations(&g).await;
    eprintln!("activations {activations:?}, barriers {barriers:?}");
    assert_eq!(activations.get(&2).map(String::as_str), Some(V2));
    assert_rows_follow_barriers(&rows, &barriers, &activations);
    for (partition, rows) in &rows {
        assert_eq!(
            rows.last().map(|r| r.1.as_str()),
            Some(V2),
            "partition {partition}"
        );
    }
    for h in [&a, &b] {
        assert_eq!(h.status().await["active"]["version"], V2, "host {}", h.name);
    }
    eprintln!("test took {:.0} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_hosts_come_back_on_the_deployed_version() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let g = Group::new("fleet_restart", 2).await;
    let mut a = g.spawn("a", &g.v1(), &[]);
    let mut b = g.spawn("b", &g.v1(), &[]);
    ready_all(&mut [&mut a, &mut b]).await;
    let (code, body) = b.deploy(&v2()).await;
    assert_eq!(code, 200, "{body}");
    for h in [&a, &b] {
        h.wait_version(V2, Duration::from_secs(20)).await;
    }

    a.terminate().await;
    b.terminate().await;
    for h in [&a, &b] {
        assert!(
            !h.log_text().contains("differs from the group"),
            "host {} said so before its restart",
            h.name
        );
    }
    a.start(&g.v1());
    b.start(&g.v1());
    ready_all(&mut [&mut a, &mut b]).await;
    for h in [&a, &b] {
        let st = h.status().await;
        assert_eq!(
            st["active"]["version"], V2,
            "host {}: {}",
            h.name, st["fleet"]
        );
        assert_eq!(st["fleet"]["active"]["seq"], 2, "host {}", h.name);
        let log = h.log_text();
        assert!(
            log.contains("differs from the group's active version"),
            "host {} did not say its --plugin file differs from the group's version:\n{}",
            h.name,
            tail(&h.log, 40)
        );
    }

    // And it runs it: new records get v2.
    let placed = Load::start(&g.topic, 200, 100).join().await;
    let s = session().await;
    wait_for_rows(&s, &g.table(), placed.len() as i64, Duration::from_secs(60)).await;
    for (id, v) in versions(&g.table()).await {
        assert_eq!(v, V2, "row {id}");
    }
    eprintln!("test took {:.0} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_started_on_one_host_runs_on_every_host_and_survives_a_restart() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let g = Group::new("fleet_shadow", 2).await;
    let mut a = g.spawn("a", &g.v1(), &[]);
    let mut b = g.spawn("b", &g.v1(), &[]);
    ready_all(&mut [&mut a, &mut b]).await;

    let (code, body) = a
        .post_plugin("shadow?sample=0.5", std::fs::read(v2()).unwrap())
        .await;
    assert_eq!(code, 200, "{body}");
    let running_v2 = |st: &Value| st["shadow"]["version"] == V2;
    b.wait_status("shadow run of the group", WAIT, running_v2)
        .await;

    // Both hosts compare the records of their own partitions; each one's
    // counts reach the other through the heartbeats.
    let placed = Load::start(&g.topic, 200, 200).join().await;
    let s = session().await;
    wait_for_rows(&s, &g.table(), placed.len() as i64, Duration::from_secs(60)).await;
    let compared = |st: &Value| st["shadow"]["counts"]["compared"].as_u64().unwrap_or(0);
    for h in [&a, &b] {
        h.wait_status("compared records", WAIT, |st| compared(st) > 0)
            .await;
    }
    let both = a
        .wait_status("shadow counts of both members", WAIT, |st| {
            let members = st["fleet"]["members"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            members.len() == 2
                && members
                    .iter()
                    .all(|m| m["shadow"]["compared"].as_u64().unwrap_or(0) > 0)
        })
        .await;
    assert_eq!(both["fleet"]["shadow"]["version"], V2, "{}", both["fleet"]);

    // A restarted host runs it again, read from the group's log.
    b.terminate().await;
    b.start(&g.v1());
    ready_all(&mut [&mut b]).await;
    b.wait_status("shadow run after the restart", WAIT, running_v2)
        .await;

    // Discarded through the other host: gone on both, and v2 wrote nothing.
    let (code, body) = b.post_plugin("discard", Vec::new()).await;
    assert_eq!(code, 200, "{body}");
    for h in [&a, &b] {
        h.wait_status("end of the shadow run", WAIT, |st| {
            st["shadow"].is_null() && st["fleet"]["shadow"].is_null()
        })
        .await;
    }
    for (id, v) in versions(&g.table()).await {
        assert_eq!(v, V1, "row {id} was written by the shadow's candidate");
    }
    eprintln!("test took {:.0} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_joining_mid_deploy_still_gives_one_barrier_per_partition() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let g = Group::new("fleet_join", 6).await;
    let mut a = g.spawn("a", &g.v1(), &[]);
    let mut b = g.spawn("b", &g.v1(), &[]);
    ready_all(&mut [&mut a, &mut b]).await;

    let load = Load::start(&g.topic, 300, 5400);
    wait_for_some_rows(&g.table(), 900).await;
    // A third host starts; the deploy goes out as soon as the group hears
    // of it (its first heartbeat), while its consumer is still joining the
    // consumer group: it must answer, and its partitions move mid-deploy.
    let mut c = g.spawn("c", &g.v1(), &[]);
    let waited = Instant::now();
    loop {
        c.assert_running();
        let members = a.status().await["fleet"]["members"]
            .as_array()
            .map_or(0, |m| m.iter().filter(|m| m["live"] == true).count());
        if members == 3 {
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "c never joined the deploy log"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let joining = c.status().await["live"]["partitions"].clone();
    let (code, body) = a.deploy(&v2()).await;
    eprintln!("deploy answered {code} (c held {joining} when it was sent): {body}");
    assert_eq!(code, 200, "the deploy failed: {body}");
    let answers: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        answers["answers"].as_array().map(Vec::len),
        Some(3),
        "the joining host answered too: {body}"
    );
    c.wait_ready().await;
    for h in [&a, &b, &c] {
        h.wait_version(V2, Duration::from_secs(30)).await;
    }

    let placed = load.join().await;
    let rows = rows_by_offset(&g, &placed).await;
    assert_one_switch(&rows, g.partitions);
    let barriers = barriers(&g).await;
    eprintln!("barriers {barriers:?}");
    for partition in 0..g.partitions {
        let twos: Vec<i64> = barriers
            .get(&partition)
            .map(|l| l.iter().filter(|(_, s)| *s == 2).map(|(o, _)| *o).collect())
            .unwrap_or_default();
        assert_eq!(
            twos.len(),
            1,
            "partition {partition} has {} barriers of activation 2: {twos:?}",
            twos.len()
        );
    }
    assert_rows_follow_barriers(&rows, &barriers, &activations(&g).await);
    eprintln!("test took {:.0} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_control_records_are_skipped_and_reported() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let g = Group::new("fleet_bad", 2).await;
    let mut a = g.spawn("a", &g.v1(), &[]);
    a.wait_ready().await;
    let me = a.member().await;
    let p = producer();

    // An activation that is not JSON.
    let garbage_key = "activation/00000000000000000099";
    produce(
        &p,
        &g.control_topic("deploys"),
        garbage_key,
        b"{not json at all",
    )
    .await;

    // A proposal whose one chunk in the plugin store does not match its digest.
    let bytes = std::fs::read(v2()).unwrap();
    let hash = sluice_engine::content_hash(&bytes);
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: "sluice.chunks",
            value: Some("1"),
        })
        .insert(Header {
            key: "sluice.chunk.sha256",
            value: Some(&"0".repeat(64)),
        });
    p.send(
        FutureRecord::to(&g.control_topic("plugins"))
            .key(&format!("{hash}/0"))
            .payload(&bytes)
            .headers(headers),
        Duration::from_secs(10),
    )
    .await
    .unwrap_or_else(|(e, _)| panic!("producing the chunk: {e}"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let id = format!("{now}-{}", &hash[..12]);
    let proposal = json!({
        "id": id,
        "hash": hash,
        "name": "flatten",
        "version": V2,
        "size": bytes.len(),
        "plugin_config": {},
        "cql": [],
        "source": "fleet test: a damaged chunk",
        "coordinator": "fleet-test",
        "at_ms": now,
    });
    produce(
        &p,
        &g.control_topic("deploys"),
        &format!("proposal/{id}"),
        proposal.to_string().as_bytes(),
    )
    .await;

    // The host reports the unreadable record and answers no to the proposal.
    let answer_key = format!("answer/{id}/{me}");
    let waited = Instant::now();
    let (st, answer) = loop {
        let st = a.status().await;
        let answer = read_topic(&g.control_topic("deploys"))
            .await
            .into_iter()
            .rev()
            .find(|(_, k, _)| *k == answer_key)
            .and_then(|(_, _, v)| v)
            .map(|v| serde_json::from_slice::<Value>(&v).unwrap());
        let reported = st["fleet"]["problems"].as_array().is_some_and(|ps| {
            ps.iter()
                .any(|p| p.as_str().is_some_and(|p| p.contains(garbage_key)))
        });
        // The status is read before the topic: it may not show an answer
        // just found there yet.
        let shown = st["fleet"]["recent_deploys"].as_array().is_some_and(|ds| {
            ds.iter().any(|d| {
                d["proposal"]["id"] == id.as_str()
                    && d["answers"].as_array().is_some_and(|a| !a.is_empty())
            })
        });
        if let (true, true, Some(answer)) = (reported, shown, &answer) {
            break (st, answer.clone());
        }
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "within 30 s: problems {}, answer {answer_key} {}, recent deploys {}",
            st["fleet"]["problems"],
            if answer.is_some() {
                "found"
            } else {
                "not found"
            },
            st["fleet"]["recent_deploys"]
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    eprintln!("problems {}\nanswer {answer}", st["fleet"]["problems"]);
    assert_eq!(answer["accepted"], false, "{answer}");
    let reason = answer["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("damaged") && reason.contains("chunk 0"),
        "the answer does not say the chunk is damaged: {answer}"
    );
    let seen = st["fleet"]["recent_deploys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["proposal"]["id"] == id.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    assert!(
        seen["answers"].as_array().is_some_and(|a| a
            .iter()
            .any(|x| x["member"] == me.as_str() && x["accepted"] == false)),
        "fleet.recent_deploys does not show the refusal: {}",
        st["fleet"]["recent_deploys"]
    );

    // The host goes on with its version.
    assert_eq!(st["active"]["version"], V1);
    assert_eq!(st["fleet"]["active"]["seq"], 1, "{}", st["fleet"]);
    a.assert_running();
    let placed = Load::start(&g.topic, 200, 100).join().await;
    let s = session().await;
    wait_for_rows(&s, &g.table(), placed.len() as i64, Duration::from_secs(60)).await;
    for (id, v) in versions(&g.table()).await {
        assert_eq!(v, V1, "row {id}");
    }
    let r = a
        .http
        .get(format!("{}/readyz", a.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    eprintln!("test took {:.0} s", started.elapsed().as_secs_f64());
}

// ------------------------------------------------------------------ Kafka restart

fn services_command(action: &str, name: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(repo().join("scripts/services.sh"))
        .arg(action)
        .env("SLUICE_SERVICES", name);
    cmd
}

/// Kafka stopped for a test; started again when dropped if the test did not.
struct KafkaDown {
    stopped: bool,
}

impl KafkaDown {
    async fn begin() -> Self {
        let out = services_command("status", "kafka").output().unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("running"),
            "kafka is not running as a service of scripts/services.sh: run this test with `just test-outages`"
        );
        let down = KafkaDown { stopped: true };
        let status = tokio::process::Command::from(services_command("down", "kafka"))
            .status()
            .await
            .unwrap();
        assert!(status.success(), "scripts/services.sh down kafka: {status}");
        down
    }

    async fn end(&mut self) {
        let status = tokio::process::Command::from(services_command("up", "kafka"))
            .status()
            .await
            .unwrap();
        assert!(status.success(), "scripts/services.sh up kafka: {status}");
        self.stopped = false;
    }
}

impl Drop for KafkaDown {
    fn drop(&mut self) {
        if self.stopped {
            eprintln!("the test ended with Kafka stopped; starting it again");
            let _ = services_command("up", "kafka").status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops and starts Kafka: run alone, see justfile test-outages"]
async fn the_deploy_log_survives_a_kafka_restart() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let g = Group::new("fleet_kafka", 2).await;
    let mut a = g.spawn("a", &g.v1(), &[]);
    a.wait_ready().await;
    let (code, body) = a.deploy(&v2()).await;
    assert_eq!(code, 200, "{body}");
    a.wait_version(V2, Duration::from_secs(20)).await;
    a.terminate().await;

    let mut kafka = KafkaDown::begin().await;
    kafka.end().await;

    a.start(&g.v1());
    a.wait_ready().await;
    let st = a.status().await;
    assert_eq!(st["active"]["version"], V2, "{}", st["fleet"]);
    assert_eq!(st["fleet"]["active"]["seq"], 2, "{}", st["fleet"]);
    let placed = Load::start(&g.topic, 200, 100).join().await;
    let s = session().await;
    wait_for_rows(&s, &g.table(), placed.len() as i64, Duration::from_secs(90)).await;
    for (id, v) in versions(&g.table()).await {
        assert_eq!(v, V2, "row {id}");
    }
    eprintln!("test took {:.0} s", started.elapsed().as_secs_f64());
}
