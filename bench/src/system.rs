//! The systems under test, each a process of its own: the host (release
//! build, `host run`) or the seeds' job as PySpark (`bench/spark/flatten_job.py`).
//! Each is spawned in its own process group, so stopping it stops the
//! children too (Spark's driver JVM).

use anyhow::{Context, Result};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Sluice,
    Spark,
}

/// How to start either system.
#[derive(Debug, Clone, clap::Args)]
pub struct Launch {
    /// The host binary (a release build).
    #[arg(long, default_value = "target/release/host")]
    pub host_bin: PathBuf,
    /// The flatten component the host runs.
    #[arg(long, default_value = "plugins/dist/flatten.wasm")]
    pub plugin: PathBuf,
    /// A sluice.toml for the host (flags set topic, group, keyspace, endpoints on top of it).
    #[arg(long)]
    pub host_config: Option<PathBuf>,
    /// The Python with pyspark 3.5.7 installed.
    #[arg(long, default_value = "bench/work/venv/bin/python")]
    pub spark_python: PathBuf,
    /// The Spark job.
    #[arg(long, default_value = "bench/spark/flatten_job.py")]
    pub spark_job: PathBuf,
    /// The connector jars (spark-sql-kafka, spark-avro, spark-cassandra-connector and theirs).
    #[arg(long, default_value = "bench/work/spark-jars")]
    pub spark_jars: PathBuf,
    /// Logs and Spark checkpoints go here.
    #[arg(long, default_value = "bench/work")]
    pub work: PathBuf,
}

/// What one run of a system consumes and writes.
pub struct Target<'a> {
    pub topic: &'a str,
    pub keyspace: &'a str,
    pub group: &'a str,
    pub brokers: &'a str,
    pub cassandra: &'a str,
    pub registry: &'a str,
    /// Admin endpoint (host only) and its token.
    pub admin: Option<(&'a str, &'a str)>,
}

/// A running system.
pub struct Running {
    pub child: Child,
    pub pid: u32,
    pub log: PathBuf,
}

fn abs(p: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(p).with_context(|| format!("{} is missing", p.display()))
}

pub fn spawn(kind: Kind, launch: &Launch, t: &Target<'_>) -> Result<Running> {
    let logs = launch.work.join("logs");
    std::fs::create_dir_all(&logs)?;
    let log = logs.join(format!(
        "{}-{}.log",
        t.topic,
        match kind {
            Kind::Sluice => "sluice",
            Kind::Spark => "spark",
        }
    ));
    let out = std::fs::File::create(&log)?;
    let mut cmd = match kind {
        Kind::Sluice => {
            let mut c = Command::new(
                abs(&launch.host_bin).context("build it: cargo build --release -p host")?,
            );
            c.arg("run")
                .arg("--plugin")
                .arg(abs(&launch.plugin).context("build it: just build-plugins")?)
                .args([
                    "--topic",
                    t.topic,
                    "--group",
                    t.group,
                    "--keyspace",
                    t.keyspace,
                    "--format",
                    "avro",
                ])
                .args([
                    "--brokers",
                    t.brokers,
                    "--cassandra",
                    t.cassandra,
                    "--registry",
                    t.registry,
                    "--no-watch",
                ]);
            match t.admin {
                Some((listen, token)) => {
                    c.args(["--admin-listen", listen])
                        .env("SLUICE_ADMIN_TOKEN", token);
                }
                None => {
                    c.args(["--admin-listen", "127.0.0.1:0"]);
                }
            }
            if let Some(config) = &launch.host_config {
                c.arg("--config").arg(abs(config)?);
            }
            // SLUICE_BENCH_RUST_LOG (e.g. sluice_pipeline=debug) logs each
            // batch's stage times to the host's log, for latency work.
            c.env(
                "RUST_LOG",
                std::env::var("SLUICE_BENCH_RUST_LOG").unwrap_or_else(|_| "info".into()),
            );
            c
        }
        Kind::Spark => {
            let checkpoint = launch.work.join("spark-checkpoints").join(t.topic);
            let _ = std::fs::remove_dir_all(&checkpoint);
            let mut c = Command::new(&launch.spark_python);
            c.arg(abs(&launch.spark_job)?)
                .env("BENCH_BROKERS", t.brokers)
                .env("BENCH_TOPIC", t.topic)
                .env("BENCH_KEYSPACE", t.keyspace)
                .env("BENCH_CASSANDRA", t.cassandra)
                .env(
                    "BENCH_CHECKPOINT",
                    abs(&launch.work)?.join("spark-checkpoints").join(t.topic),
                )
                .env("BENCH_SCHEMA", abs(Path::new("schemas/user.avsc"))?)
                .env(
                    "BENCH_JARS_DIR",
                    abs(&launch.spark_jars).context(
                        "fetch them: bench/run.sh does (mvn dependency:copy-dependencies)",
                    )?,
                )
                // Every Spark listener on loopback (spark.driver.bindAddress is not enough).
                .env("SPARK_LOCAL_IP", "127.0.0.1");
            if std::env::var_os("JAVA_HOME").is_none() {
                c.env("JAVA_HOME", "/usr/lib/jvm/java-17-openjdk-amd64");
            }
            c
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .process_group(0);
    let child = cmd.spawn().with_context(|| format!("starting {kind:?}"))?;
    let pid = child.id();
    Ok(Running { child, pid, log })
}

/// A system still running when its `Running` goes away (an error in the
/// bench, say) is killed with its process group, never left behind.
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let group = format!("-{}", self.pid);
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = self.child.wait();
        }
    }
}

impl Running {
    /// SIGTERM to the whole group, then SIGKILL after `grace`.
    pub fn stop(mut self, grace: Duration) {
        let group = format!("-{}", self.pid);
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }

    /// Fails if the process has exited (with the tail of its log).
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = text
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            anyhow::bail!(
                "the system under test exited ({status}); {}:\n{}",
                self.log.display(),
                tail.join("\n")
            );
        }
        Ok(())
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
