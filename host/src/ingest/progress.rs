//! Shows how an ingest goes: a progress bar when stderr is a terminal, else
//! a log line every few seconds.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Between log lines when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// The running totals, shared by the fetch and produce sides.
#[derive(Debug, Default)]
pub struct Counters {
    pub fetched: AtomicU64,
    pub produced: AtomicU64,
    pub failed: AtomicU64,
}

impl Counters {
    /// (fetched, produced, failed)
    pub fn get(&self) -> (u64, u64, u64) {
        (
            self.fetched.load(Ordering::Relaxed),
            self.produced.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

/// A running progress display; [`Progress::finish`] ends it.
pub struct Progress {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Progress {
    /// Starts showing `counters`; `total` is the target count, if any.
    pub fn start(counters: Arc<Counters>, total: Option<u64>) -> Self {
        let (stop, stopped) = oneshot::channel();
        let task = if std::io::stderr().is_terminal() {
            tokio::spawn(bar(counters, total, stopped))
        } else {
            tokio::spawn(log_lines(counters, total, stopped))
        };
        Progress { stop, task }
    }

    /// Stops the display.
    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn bar(counters: Arc<Counters>, total: Option<u64>, mut stopped: oneshot::Receiver<()>) {
    let bar = match total {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{wide_bar}] {pos}/{len} produced, {msg}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {pos} produced, {msg}")
                .expect("the template is valid"),
        ),
    };
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        let done = tokio::select! {
            _ = tick.tick() => false,
            _ = &mut stopped => true,
        };
        let (fetched, produced, failed) = counters.get();
        let rate = produced as f64 / start.elapsed().as_secs_f64();
        bar.set_position(produced);
        bar.set_message(format!(
            "{rate:.0} users/s ({fetched} fetched, {failed} failed)"
        ));
        if done {
            // The summary line that follows says the same.
            bar.finish_and_clear();
            return;
        }
    }
}

async fn log_lines(
    counters: Arc<Counters>,
    total: Option<u64>,
    mut stopped: oneshot::Receiver<()>,
) {
    let start = Instant::now();
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + LOG_EVERY, LOG_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stopped => return,
        }
        let (fetched, produced, failed) = counters.get();
        let rate = produced as f64 / start.elapsed().as_secs_f64();
        let of = total.map(|n| format!(" of {n}")).unwrap_or_default();
        tracing::info!("ingest: {produced}{of} produced, {fetched} fetched, {failed} failed, {rate:.0} users/s");
    }
}
