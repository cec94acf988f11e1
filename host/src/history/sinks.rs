//! `--dry-run`: rows go to stdout as `host run --input` prints them (one
//! JSON object a row, stamped with the plugin's version), and what would be
//! dead-lettered again is said on stderr. Neither Cassandra nor the
//! dead-letter topic is touched, and nothing is committed.

use futures::future::BoxFuture;
use sluice_model::{Cell, PluginInfo, Row};
use sluice_pipeline::{BindError, DeadLetter, DeadLetterSink, RowSink, Stamp};
use std::io::Write;

/// Rows to stdout.
pub struct PrintRows;

impl RowSink for PrintRows {
    type Table = ();
    /// The row's table and its JSON line.
    type Bound = (String, serde_json::Value);

    async fn table(&self, _name: &str) -> Result<(), BindError> {
        Ok(())
    }

    fn bind(_table: &(), mut row: Row, stamp: &Stamp<'_>) -> Result<Self::Bound, String> {
        let upsert = row.kind == crate::model::WriteKind::Upsert;
        if upsert && !row.columns.iter().any(|(n, _)| n == stamp.column) {
            row.columns.push((
                stamp.column.to_string(),
                Cell::Text(stamp.version.to_string()),
            ));
        }
        // The pipeline names every row's table before it is bound.
        let table = row.table.clone().unwrap_or_default();
        Ok((table.clone(), crate::dryrun::row_json(&row, &table)))
    }

    async fn write(&self, rows: &[Self::Bound]) -> Result<(), String> {
        let mut out = std::io::stdout().lock();
        for (_, row) in rows {
            writeln!(out, "{row}").map_err(|e| format!("writing to stdout: {e}"))?;
        }
        Ok(())
    }

    fn table_of(bound: &Self::Bound) -> &str {
        &bound.0
    }
}

/// Dead letters to stderr.
pub struct PrintLetters;

impl DeadLetterSink for PrintLetters {
    fn send<'a>(
        &'a self,
        letter: &'a DeadLetter<'a>,
        _plugin: &'a PluginInfo,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            eprintln!(
                "would dead-letter {} again ({}): {}",
                letter.source(),
                letter.reason.as_str(),
                letter.error
            );
            Ok(())
        })
    }
}
