//! `host ingest`: fetches users from a randomuser.me-compatible API and
//! produces each to Kafka, keyed by `login.uuid`, as Avro (Confluent wire
//! format, schema in the registry) or JSON.
//!
//! A fetch task pulls pages (`results=B&seed=S&page=P`) and checks every user
//! against `schemas/user.avsc` before handing the page on; the produce loop
//! sends them. A page is handed on once, after its one successful answer, so
//! retries never produce a user twice.

pub mod avro;
pub mod encode;
pub mod fetch;
pub mod json;
pub mod produce;
pub mod progress;

use crate::registry::Registry;
use anyhow::{anyhow, bail, Context, Result};
pub use encode::Format;
use encode::{Encoder, Record, USER_SCHEMA};
use fetch::Fetcher;
use futures::StreamExt;
use produce::Sink;
use progress::{Counters, Progress};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// `host ingest`: users from the API into Kafka.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("amount").required(true).args(["count", "duration"])))]
pub struct IngestArgs {
    /// The randomuser.me-compatible API (`host users-api` serves one locally).
    #[arg(
        long,
        env = "SLUICE_USERS_API",
        default_value = "https://randomuser.me/api"
    )]
    pub api: String,
    /// Produce this many users, then stop.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Run for this long (e.g. 90s, 10m): no API request starts after it (with
    /// --rate: rate x duration users); what was fetched is still produced.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// At most this many users per second (default: as fast as they come).
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Users per API request (`results=B`), 1 to 5000.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub batch: u32,
    /// API requests in flight at once.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
    /// The API seed: the same seed fetches the same users. Default: a random one (logged).
    #[arg(long)]
    pub seed: Option<String>,
    /// The record value format.
    #[arg(long, value_enum, default_value_t = Format::Avro)]
    pub format: Format,
    /// Kafka bootstrap servers.
    #[arg(long, env = "SLUICE_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub brokers: String,
    /// The topic users go to.
    #[arg(long, default_value = "users_created")]
    pub topic: String,
    /// The Schema Registry's Confluent API URL (may carry a path; user:password@ allowed).
    #[arg(
        long,
        env = "SLUICE_REGISTRY_URL",
        default_value = "http://127.0.0.1:8081/apis/ccompat/v7"
    )]
    pub registry: String,
    /// Registry credentials as USER:PASSWORD, if not in the URL.
    #[arg(
        long,
        env = "SLUICE_REGISTRY_AUTH",
        hide_env_values = true,
        value_name = "USER:PASSWORD"
    )]
    pub registry_auth: Option<String>,
    /// Retries per API request (errors, timeouts, 429, 5xx) before giving up.
    #[arg(long, default_value_t = 8)]
    pub retries: u32,
    /// Timeout of one API request.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// What an ingest did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Users received in valid answers.
    pub fetched: u64,
    /// Users Kafka acknowledged.
    pub produced: u64,
    /// Users Kafka did not take.
    pub failed: u64,
    pub elapsed: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        write!(
            f,
            "fetched {}, produced {}, failed {} in {secs:.1} s ({:.0} users/s)",
            self.fetched,
            self.produced,
            self.failed,
            self.produced as f64 / secs.max(1e-9)
        )
    }
}

/// `host ingest`; Ctrl-C stops fetching and produces what was fetched.
pub async fn run(args: IngestArgs) -> Result<Summary> {
    run_until(args, async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::warn!("Ctrl-C: no more fetching; producing what was fetched");
    })
    .await
}

/// [`run`], stopping early when `stop` completes.
pub async fn run_until(args: IngestArgs, stop: impl Future<Output = ()>) -> Result<Summary> {
    let seed = args
        .seed
        .clone()
        .unwrap_or_else(|| format!("{:016x}", rand::random::<u64>()));
    let fetcher = Fetcher::new(&args.api, seed.clone(), args.timeout, args.retries)?;
    let counters = Arc::new(Counters::default());
    let mut sink = Sink::connect(&args.brokers, &args.topic, counters.clone()).await?;
    let encoder = match args.format {
        Format::Avro => {
            let auth = args.registry_auth.as_deref().map(split_auth).transpose()?;
            let registry = Registry::new(&args.registry, auth)?;
            let subject = format!("{}-value", args.topic);
            let id = registry
                .register(&subject, USER_SCHEMA)
                .await
                .with_context(|| {
                    format!("registering schemas/user.avsc under subject {subject}")
                })?;
            tracing::info!(
                "schema registered: subject {subject}, id {id}, registry {}",
                registry.url()
            );
            Encoder::avro(id)
        }
        Format::Json => Encoder::json(),
    };
    tracing::info!(
        "ingest: {} from {} (seed {seed}) into {} at {}, {:?}",
        match (args.count, args.duration) {
            (Some(n), _) => format!("{n} users"),
            (_, Some(d)) => format!("users for {}", humantime::format_duration(d)),
            _ => "users".into(),
        },
        args.api,
        args.topic,
        args.brokers,
        args.format
    );

    let start = Instant::now();
    let progress = Progress::start(counters.clone(), args.count);
    let plan = Plan {
        count: args.count,
        duration: args.duration,
        batch: args.batch,
        parallel: usize::from(args.parallel),
        rate: args.rate,
        start,
    };
    let (pages, mut received) = mpsc::channel::<Vec<Record>>(2);
    let fetching = tokio::spawn(fetch_loop(
        fetcher,
        Arc::new(encoder),
        plan,
        counters.clone(),
        pages,
    ));

    let mut sent = 0u64;
    let mut stop = std::pin::pin!(stop);
    let mut stopping = false;
    loop {
        let page = tokio::select! {
            page = received.recv() => page,
            _ = &mut stop, if !stopping => {
                stopping = true;
                received.close(); // the fetch task ends at its next page
                continue;
            }
        };
        let Some(records) = page else { break };
        for record in records {
            // Once stopping, what was fetched goes out at full speed.
            if let Some(rate) = plan.rate.filter(|_| !stopping) {
                tokio::select! {
                    _ = pace(start, rate, sent) => {}
                    _ = &mut stop => {
                        stopping = true;
                        received.close();
                    }
                }
            }
            sink.send(record).await;
            sent += 1;
        }
    }
    if stopping {
        fetching.abort(); // it may be waiting for the rate or for the API
    }
    sink.flush().await;
    progress.finish().await;

    let (fetched, produced, failed) = counters.get();
    let summary = Summary {
        fetched,
        produced,
        failed,
        elapsed: start.elapsed(),
    };
    if let Some(error) = sink.first_error() {
        tracing::warn!("{failed} users were not produced; the first error: {error}");
    }
    match fetching.await {
        Ok(Ok(())) => Ok(summary),
        Err(e) if e.is_cancelled() => Ok(summary),
        Ok(Err(e)) => Err(e.context(format!("ingest stopped ({summary})"))),
        Err(e) => {
            Err(anyhow!("the fetch task failed: {e}")
                .context(format!("ingest stopped ({summary})")))
        }
    }
}

/// What to fetch, and how fast.
#[derive(Debug, Clone, Copy)]
struct Plan {
    count: Option<u64>,
    duration: Option<Duration>,
    batch: u32,
    parallel: usize,
    rate: Option<f64>,
    start: Instant,
}

/// Fetches pages 1, 2, ... (up to `parallel` at once) and hands each on
/// once, in order, checked and encoded.
async fn fetch_loop(
    fetcher: Fetcher,
    encoder: Arc<Encoder>,
    plan: Plan,
    counters: Arc<Counters>,
    pages: mpsc::Sender<Vec<Record>>,
) -> Result<()> {
    let fetcher = Arc::new(fetcher);
    let batch = u64::from(plan.batch);
    // With a rate, a duration is also a count: the users due within it.
    let count = plan
        .count
        .or_else(|| Some((plan.rate? * plan.duration?.as_secs_f64()).ceil() as u64));
    // (page, index of its first user, users wanted), pulled when a slot frees up.
    let requests = (1u64..).map_while(move |page| {
        let first = (page - 1) * batch;
        let want = match (count, plan.duration) {
            (_, Some(duration)) if plan.start.elapsed() >= duration => 0,
            (Some(count), _) => count.saturating_sub(first).min(batch),
            _ => batch,
        };
        (want > 0).then_some((page, first, want as u32))
    });
    let mut answers = futures::stream::iter(requests)
        .map(|(page, first, want)| {
            let (fetcher, encoder) = (fetcher.clone(), encoder.clone());
            // A task per page keeps fetches going while the produce loop is busy.
            AbortOnDrop(tokio::spawn(async move {
                if let Some(rate) = plan.rate {
                    pace(plan.start, rate, first).await; // at most a page ahead of the rate
                }
                fetch_page(&fetcher, encoder, page, want).await
            }))
        })
        .buffered(plan.parallel);
    while let Some(records) = answers.next().await {
        let records = records?;
        counters
            .fetched
            .fetch_add(records.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if pages.send(records).await.is_err() {
            break; // the produce loop stopped
        }
    }
    Ok(())
}

/// One page, fetched and checked: all its users, or an error and none.
async fn fetch_page(
    fetcher: &Fetcher,
    encoder: Arc<Encoder>,
    page: u64,
    want: u32,
) -> Result<Vec<Record>> {
    let fetch::Page { url, users } = fetcher.fetch(page, want).await?;
    if users.len() != want as usize {
        bail!(
            "GET {url} answered {} user(s), not the {want} asked for; a randomuser.me-compatible API returns \
             exactly `results` users",
            users.len()
        );
    }
    tokio::task::spawn_blocking(move || encoder.encode_all(&users))
        .await?
        .map_err(|(i, e)| {
            anyhow!(
                "user {} of the answer of GET {url} does not fit schemas/user.avsc: {e}; nothing from this \
                 answer was produced",
                i + 1
            )
        })
}

/// A spawned task that is cancelled when dropped (when ingest stops early).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Future for AbortOnDrop<Result<T>> {
    type Output = Result<T>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|joined| joined.unwrap_or_else(|e| Err(anyhow!("fetching a page failed: {e}"))))
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Waits until the `done`-th user is due at `rate` users per second.
async fn pace(start: Instant, rate: f64, done: u64) {
    let due = start + Duration::from_secs_f64(done as f64 / rate);
    if due > Instant::now() {
        tokio::time::sleep_until(due.into()).await;
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{s:?} is not a positive number of users per second"
        )),
    }
}

fn split_auth(s: &str) -> Result<(String, String)> {
    s.split_once(':')
        .map(|(u, p)| (u.to_string(), p.to_string()))
        .ok_or_else(|| anyhow!("--registry-auth / SLUICE_REGISTRY_AUTH must be USER:PASSWORD"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: IngestArgs,
    }

    fn parse(args: &[&str]) -> Result<IngestArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("ingest").chain(args.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn flags_and_defaults() {
        let a = parse(&["--count", "50"]).unwrap();
        assert_eq!(
            (a.count, a.batch, a.format, a.topic.as_str()),
            (Some(50), 500, Format::Avro, "users_created")
        );
        let a = parse(&["--duration", "10m", "--rate", "2.5", "--format", "json"]).unwrap();
        assert_eq!(
            (a.duration, a.rate, a.format),
            (Some(Duration::from_secs(600)), Some(2.5), Format::Json)
        );
        assert!(parse(&[]).is_err(), "--count or --duration is required");
        assert!(parse(&["--count", "1", "--duration", "1s"]).is_err());
        assert!(parse(&["--count", "1", "--batch", "5001"]).is_err());
        assert!(parse(&["--count", "1", "--rate", "0"]).is_err());
    }

    #[tokio::test]
    async fn pace_spaces_users() {
        let start = Instant::now();
        pace(start, 100.0, 5).await;
        assert!(start.elapsed() >= Duration::from_millis(50));
        pace(start, 100.0, 1).await; // already due: no wait
        assert!(start.elapsed() < Duration::from_millis(200));
    }

    #[test]
    fn summary_reads_well() {
        let s = Summary {
            fetched: 10,
            produced: 9,
            failed: 1,
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(
            s.to_string(),
            "fetched 10, produced 9, failed 1 in 2.0 s (4 users/s)"
        );
    }
}
