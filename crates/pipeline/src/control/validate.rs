//! The one validation of a plugin version, used alike by start-up, deploys
//! and `dlq replay`-style tools: run it on recent records plus samples and
//! bind its rows against the live tables, so a version that cannot write is
//! refused before it handles a single live record.

use super::deploy::DeploySettings;
use crate::dead_letter::Reason;
use crate::policy::{self, Disposition};
use crate::ports::{RowSink, Stamp};
use anyhow::{bail, Context, Result};
use sluice_engine::Plugin;
use sluice_model::{Origin, Record};

/// Tries `plugin` on `recent` records plus the samples and binds every row it
/// makes against its table. A trap or a misfit row refuses it, with the
/// reason; bad input, filtered and retry outcomes are the records' business.
/// Returns the number of records tried.
pub async fn validate<S: RowSink>(
    plugin: &Plugin,
    sink: &S,
    settings: &DeploySettings,
    recent: Vec<Record>,
) -> Result<usize> {
    let mut samples = recent;
    samples.extend(sample_records(settings)?);
    let n = samples.len();
    let results = tokio::task::block_in_place(|| plugin.transform(samples));
    let stamp = Stamp {
        column: &settings.version_column,
        version: &plugin.info().version,
    };
    let mut rows_checked = 0;
    for (i, result) in results.into_iter().enumerate() {
        let rows = match policy::dispose(result, &settings.default_table) {
            Disposition::Rows(rows) => rows,
            Disposition::Dead(Reason::PluginTrap | Reason::PluginLimit, error) => {
                bail!(
                    "plugin {} fails on sample record {i}: {error}",
                    plugin.info()
                )
            }
            _ => continue,
        };
        for row in rows {
            // `dispose` set every row's table.
            let table = sink.table(row.table.as_deref().unwrap_or_default()).await?;
            S::bind(&table, row, &stamp).map_err(|e| {
                anyhow::anyhow!("plugin {} writes rows that do not fit: {e}", plugin.info())
            })?;
            rows_checked += 1;
        }
    }
    if rows_checked == 0 && n > 0 {
        tracing::warn!(plugin = %plugin.info(), samples = n, "the plugin produced no rows from the samples; its output could not be checked against the tables");
    }
    tracing::info!(plugin = %plugin.info(), samples = n, rows_checked, "plugin output fits the live tables");
    Ok(n)
}

/// The records a plugin is tried on: `pipeline.sample-file`, or generated users.
fn sample_records(settings: &DeploySettings) -> Result<Vec<Record>> {
    let values: Vec<serde_json::Value> = match &settings.sample_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading pipeline.sample-file {}", path.display()))?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .with_context(|| {
                format!("pipeline.sample-file {} must be JSON lines", path.display())
            })?,
        None => include_str!("sample-users.jsonl")
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .expect("the built-in samples are JSON lines"),
    };
    Ok(values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            origin: Origin {
                topic: "sample".into(),
                offset: i as i64,
                ..Origin::default()
            },
            value: sluice_codec::json::tree_from_value(v),
        })
        .collect())
}
