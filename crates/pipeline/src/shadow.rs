//! Shadow runs: a candidate version runs beside the active one on a sample
//! of live records, off the write path (it writes nothing), and each of its
//! outcomes is compared with the active version's: same rows, different
//! rows (which columns), candidate failed, candidate filtered.
//!
//! The pipeline hands sampled records and the active version's outcome to
//! a bounded queue; one task runs the candidate on them. When the queue is
//! full, records are skipped (and counted) rather than slowing the pipeline,
//! so the live pipeline pays the sampling copies and at most the candidate's
//! cost on the sampled share.

use crate::control::ActivePlugin;
use crate::policy::{self, Disposition};
use serde::Serialize;
use sluice_model::{Cell, Record, Row};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Diff samples kept.
pub const SAMPLES: usize = 50;
/// Batches of sampled records waiting for the candidate.
const QUEUE: usize = 64;
/// Records per candidate call, and how long the task waits to gather them.
const CALL: usize = 256;
const GATHER: Duration = Duration::from_millis(200);
/// A cell's text in a sample is cut to this many bytes.
const CELL_TEXT: usize = 200;

/// What the active version did with a sampled record.
#[derive(Debug, Clone)]
pub enum LiveOutcome {
    Rows(Vec<Row>),
    Filtered(String),
    Failed(String),
}

/// One column that differs between the two versions' rows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ColumnDiff {
    /// `row 0 / last_name`; `rows` when the row counts differ.
    pub column: String,
    pub active: Option<String>,
    pub candidate: Option<String>,
}

/// A record on which the candidate did not do what the active version did.
#[derive(Debug, Clone, Serialize)]
pub struct DiffSample {
    /// `topic/partition@offset`.
    pub record: String,
    /// `different`, `candidate-failed`, `candidate-filtered`, `active-failed`.
    pub kind: &'static str,
    pub columns: Vec<ColumnDiff>,
    /// The candidate's (or the active version's) error or filter reason.
    pub detail: Option<String>,
}

/// Counts since the shadow started.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct ShadowCounts {
    pub compared: u64,
    pub same: u64,
    pub different: u64,
    pub candidate_failed: u64,
    pub candidate_filtered: u64,
    /// The active version failed or filtered it and the candidate wrote rows.
    pub active_failed: u64,
    /// Sampled while the candidate was behind: not compared.
    pub skipped: u64,
}

/// The shadow as `/api/status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowStatus {
    pub name: String,
    pub version: String,
    pub hash: String,
    pub source: String,
    pub sample: f64,
    pub started_at_ms: u64,
    pub counts: ShadowCounts,
    /// Newest first, at most [`SAMPLES`].
    pub samples: Vec<DiffSample>,
}

struct Job {
    records: Vec<(Record, LiveOutcome)>,
}

/// A candidate running in the shadow of the active version.
pub struct ShadowRun {
    pub candidate: Arc<ActivePlugin>,
    /// The component, for `promote`.
    pub bytes: Vec<u8>,
    pub sample: f64,
    started: SystemTime,
    queue: mpsc::Sender<Job>,
    state: Arc<Mutex<(ShadowCounts, Vec<DiffSample>)>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ShadowRun {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ShadowRun {
    /// Starts the candidate's task. `sample` is the share of records (0-1].
    pub fn start(
        candidate: Arc<ActivePlugin>,
        bytes: Vec<u8>,
        sample: f64,
        default_table: String,
    ) -> Arc<Self> {
        let (queue, mut jobs) = mpsc::channel::<Job>(QUEUE);
        let state: Arc<Mutex<(ShadowCounts, Vec<DiffSample>)>> = Arc::default();
        let task = {
            let (candidate, state) = (candidate.clone(), state.clone());
            tokio::spawn(async move {
                while let Some(job) = jobs.recv().await {
                    // Sampled records come a few per batch: gather them into
                    // larger calls (one instance each), off the write path.
                    let mut records = job.records;
                    let until = tokio::time::Instant::now() + GATHER;
                    while records.len() < CALL {
                        match tokio::time::timeout_at(until, jobs.recv()).await {
                            Ok(Some(more)) => records.extend(more.records),
                            _ => break,
                        }
                    }
                    let plugin = candidate.clone();
                    let (inputs, live): (Vec<Record>, Vec<(String, LiveOutcome)>) = records
                        .into_iter()
                        .map(|(r, l)| {
                            let at = format!(
                                "{}/{}@{}",
                                r.origin.topic, r.origin.partition, r.origin.offset
                            );
                            (r, (at, l))
                        })
                        .unzip();
                    let Ok(results) =
                        tokio::task::spawn_blocking(move || plugin.plugin.transform(inputs)).await
                    else {
                        continue;
                    };
                    let mut state = state.lock().expect("shadow state");
                    for (result, (at, live)) in results.into_iter().zip(live) {
                        let theirs = policy::dispose(result, &default_table);
                        if let Some(sample) = compare(&mut state.0, at, &live, &theirs) {
                            if state.1.len() == SAMPLES {
                                state.1.remove(0);
                            }
                            state.1.push(sample);
                        }
                    }
                }
            })
        };
        Arc::new(ShadowRun {
            candidate,
            bytes,
            sample,
            started: SystemTime::now(),
            queue,
            state,
            task,
        })
    }

    /// Whether the record at `partition`/`offset` is in the sample: a fixed
    /// choice per record, so a record redelivered is sampled again alike.
    pub fn sampled(&self, partition: i32, offset: i64) -> bool {
        let mut x = (offset as u64) ^ ((partition as u64) << 48) ^ 0x9e37_79b9_7f4a_7c15;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        (x % 1_000_000) < (self.sample * 1_000_000.0) as u64
    }

    /// Hands sampled records and the active version's outcomes over; never waits.
    pub fn offer(&self, records: Vec<(Record, LiveOutcome)>) {
        if records.is_empty() {
            return;
        }
        let n = records.len() as u64;
        if self.queue.try_send(Job { records }).is_err() {
            self.state.lock().expect("shadow state").0.skipped += n;
        }
    }

    /// The counts alone (sent with every heartbeat: no copy of the samples).
    pub fn counts(&self) -> ShadowCounts {
        self.state.lock().expect("shadow state").0.clone()
    }

    pub fn status(&self) -> ShadowStatus {
        let state = self.state.lock().expect("shadow state");
        let info = self.candidate.plugin.info();
        ShadowStatus {
            name: info.name.clone(),
            version: info.version.clone(),
            hash: self.candidate.plugin.hash().to_string(),
            source: self.candidate.source.clone(),
            sample: self.sample,
            started_at_ms: self
                .started
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_millis() as u64,
            counts: state.0.clone(),
            samples: state.1.iter().rev().cloned().collect(),
        }
    }
}

fn cell_text(cell: &Cell) -> String {
    let text = match cell {
        Cell::Text(s) => format!("{s:?}"),
        other => format!("{other:?}"),
    };
    sluice_model::text::cut(text, CELL_TEXT)
}

/// Counts one comparison; a sample when the outcomes differ.
fn compare(
    counts: &mut ShadowCounts,
    record: String,
    live: &LiveOutcome,
    theirs: &Disposition,
) -> Option<DiffSample> {
    counts.compared += 1;
    let sample = |kind, columns, detail: Option<&str>| DiffSample {
        record: record.clone(),
        kind,
        columns,
        detail: detail.map(|d| sluice_model::text::cut(d.to_string(), 500)),
    };
    match (live, theirs) {
        (LiveOutcome::Rows(ours), Disposition::Rows(rows)) => {
            let columns = row_diff(ours, rows);
            if columns.is_empty() {
                counts.same += 1;
                None
            } else {
                counts.different += 1;
                Some(sample("different", columns, None))
            }
        }
        (LiveOutcome::Filtered(_), Disposition::Filtered(_))
        | (LiveOutcome::Failed(_), Disposition::Dead(..)) => {
            counts.same += 1;
            None
        }
        (_, Disposition::Dead(_, error)) => {
            counts.candidate_failed += 1;
            Some(sample("candidate-failed", Vec::new(), Some(error)))
        }
        (_, Disposition::Retry(reason)) => {
            counts.candidate_failed += 1;
            Some(sample(
                "candidate-failed",
                Vec::new(),
                Some(&format!("asked to retry: {reason}")),
            ))
        }
        (_, Disposition::Filtered(reason)) => {
            counts.candidate_filtered += 1;
            Some(sample("candidate-filtered", Vec::new(), Some(reason)))
        }
        (LiveOutcome::Filtered(why) | LiveOutcome::Failed(why), Disposition::Rows(_)) => {
            counts.active_failed += 1;
            Some(sample("active-failed", Vec::new(), Some(why)))
        }
    }
}

/// The columns that differ, row by row (tables included).
fn row_diff(ours: &[Row], theirs: &[Row]) -> Vec<ColumnDiff> {
    let mut diffs = Vec::new();
    if ours.len() != theirs.len() {
        diffs.push(ColumnDiff {
            column: "rows".into(),
            active: Some(ours.len().to_string()),
            candidate: Some(theirs.len().to_string()),
        });
    }
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        if a.table != b.table {
            diffs.push(ColumnDiff {
                column: format!("row {i} / (table)"),
                active: a.table.clone(),
                candidate: b.table.clone(),
            });
        }
        for (what, l, r) in [
            ("(kind)", format!("{:?}", a.kind), format!("{:?}", b.kind)),
            (
                "(ttl)",
                format!("{:?}", a.ttl_seconds),
                format!("{:?}", b.ttl_seconds),
            ),
            (
                "(write time)",
                format!("{:?}", a.write_time_micros),
                format!("{:?}", b.write_time_micros),
            ),
        ] {
            if l != r {
                diffs.push(ColumnDiff {
                    column: format!("row {i} / {what}"),
                    active: Some(l),
                    candidate: Some(r),
                });
            }
        }
        let left: BTreeMap<&str, &Cell> = a.columns.iter().map(|(n, c)| (n.as_str(), c)).collect();
        let right: BTreeMap<&str, &Cell> = b.columns.iter().map(|(n, c)| (n.as_str(), c)).collect();
        let names: std::collections::BTreeSet<&str> =
            left.keys().chain(right.keys()).copied().collect();
        for name in names {
            let (l, r) = (left.get(name), right.get(name));
            if l != r {
                diffs.push(ColumnDiff {
                    column: format!("row {i} / {name}"),
                    active: l.map(|c| cell_text(c)),
                    candidate: r.map(|c| cell_text(c)),
                });
            }
        }
    }
    diffs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(last: &str) -> Row {
        Row {
            table: Some("t".into()),
            columns: vec![
                ("id".into(), Cell::Int(1)),
                ("last_name".into(), Cell::Text(last.into())),
            ],
            ..Row::default()
        }
    }

    #[test]
    fn differing_columns_are_named_with_both_values() {
        let mut counts = ShadowCounts::default();
        let live = LiveOutcome::Rows(vec![row("Smith")]);
        assert!(compare(
            &mut counts,
            "t/0@1".into(),
            &live,
            &Disposition::Rows(vec![row("Smith")])
        )
        .is_none());
        let s = compare(
            &mut counts,
            "t/0@2".into(),
            &live,
            &Disposition::Rows(vec![row("SMITH")]),
        )
        .unwrap();
        assert_eq!(s.kind, "different");
        assert_eq!(
            s.columns,
            vec![ColumnDiff {
                column: "row 0 / last_name".into(),
                active: Some("\"Smith\"".into()),
                candidate: Some("\"SMITH\"".into()),
            }]
        );
        let f = compare(
            &mut counts,
            "t/0@3".into(),
            &live,
            &Disposition::Dead(crate::Reason::PluginTrap, "boom".into()),
        )
        .unwrap();
        assert_eq!(
            (f.kind, f.detail.as_deref()),
            ("candidate-failed", Some("boom"))
        );
        assert_eq!(
            (
                counts.compared,
                counts.same,
                counts.different,
                counts.candidate_failed
            ),
            (3, 1, 1, 1)
        );
    }
}
