//! How a replay or reprocess goes: a progress bar with the counts by outcome
//! (and the range's percentage) when stderr is a terminal, else a log line
//! every few seconds.

use super::run::Summary;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Between log lines when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// The running counts, updated after each batch.
#[derive(Debug, Default)]
pub struct Counters {
    read: AtomicU64,
    written: AtomicU64,
    filtered: AtomicU64,
    dead: AtomicU64,
    skipped: AtomicU64,
}

impl Counters {
    pub fn set(&self, s: &Summary) {
        self.read.store(s.read, Ordering::Relaxed);
        self.written.store(s.written, Ordering::Relaxed);
        self.filtered.store(s.filtered, Ordering::Relaxed);
        self.dead.store(s.dead_lettered_total(), Ordering::Relaxed);
        self.skipped.store(s.skipped_total(), Ordering::Relaxed);
    }

    fn line(&self) -> (u64, String) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        (
            get(&self.read),
            format!(
                "{} written, {} dead-lettered, {} filtered, {} skipped",
                get(&self.written),
                get(&self.dead),
                get(&self.filtered),
                get(&self.skipped)
            ),
        )
    }
}

/// A running display; [`Progress::finish`] ends it.
pub struct Progress {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Progress {
    /// Shows `counters` against `total` records (the range), named `what`.
    pub fn start(counters: Arc<Counters>, total: u64, what: &'static str) -> Self {
        let (stop, stopped) = oneshot::channel();
        let task = if std::io::stderr().is_terminal() {
            tokio::spawn(bar(counters, total, what, stopped))
        } else {
            tokio::spawn(log_lines(counters, total, what, stopped))
        };
        Progress { stop, task }
    }

    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn bar(
    counters: Arc<Counters>,
    total: u64,
    what: &'static str,
    mut stopped: oneshot::Receiver<()>,
) {
    let template = format!(
        "{{spinner}} {what} {{elapsed_precise}} [{{wide_bar}}] {{percent}}% {{pos}}/{{len}}: {{msg}}"
    );
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template(&template)
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        let done = tokio::select! {
            _ = tick.tick() => false,
            _ = &mut stopped => true,
        };
        let (read, msg) = counters.line();
        bar.set_position(read);
        bar.set_message(msg);
        if done {
            // The summary that follows says the same.
            bar.finish_and_clear();
            return;
        }
    }
}

async fn log_lines(
    counters: Arc<Counters>,
    total: u64,
    what: &'static str,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + LOG_EVERY, LOG_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stopped => return,
        }
        let (read, msg) = counters.line();
        let percent = (read * 100).checked_div(total).unwrap_or(100);
        tracing::info!("{what}: {read} of {total} records ({percent}%): {msg}");
    }
}
