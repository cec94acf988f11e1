//! `host run --plugin P --input FILE`: runs JSON lines through a plugin and
//! prints the rows, for plugin authors. No Kafka, no Cassandra.

use crate::engine::Plugin;
use crate::model::{Cell, Origin, Record, Row};
use anyhow::{Context, Result};
use sluice_pipeline::policy::{self, Disposition};
use std::io::{BufRead, Write};

/// Records per plugin call in a dry run.
const BATCH: usize = 256;

/// What a dry run saw.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub records: usize,
    pub rows: usize,
    pub filtered: usize,
    pub failed: usize,
}

/// Reads JSON lines from `input` (each one a record, or an API response with a
/// `results` array), transforms them, writes one JSON object per row to `out`
/// and one line per failed record to `err`.
pub fn run(
    plugin: &Plugin,
    default_table: &str,
    input: impl BufRead,
    mut out: impl Write,
    mut err: impl Write,
) -> Result<Summary> {
    let mut summary = Summary::default();
    let mut batch: Vec<(usize, serde_json::Value)> = Vec::new();
    for (n, line) in input.lines().enumerate() {
        let line = line.context("reading input")?;
        let line_no = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                summary.failed += 1;
                writeln!(
                    err,
                    "line {line_no}: not JSON ({e}); the input must be JSON lines"
                )?;
                continue;
            }
        };
        match value.get("results").and_then(|r| r.as_array()) {
            Some(results) => batch.extend(results.iter().map(|r| (line_no, r.clone()))),
            None => batch.push((line_no, value)),
        }
        if batch.len() >= BATCH {
            flush(
                plugin,
                default_table,
                &mut batch,
                &mut summary,
                &mut out,
                &mut err,
            )?;
        }
    }
    flush(
        plugin,
        default_table,
        &mut batch,
        &mut summary,
        &mut out,
        &mut err,
    )?;
    Ok(summary)
}

fn flush(
    plugin: &Plugin,
    default_table: &str,
    batch: &mut Vec<(usize, serde_json::Value)>,
    summary: &mut Summary,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<()> {
    let first_offset = summary.records as i64;
    let records = batch
        .iter()
        .enumerate()
        .map(|(i, (_, v))| Record {
            origin: Origin {
                topic: "dry-run".into(),
                offset: first_offset + i as i64,
                ..Origin::default()
            },
            value: crate::json::tree_from_value(v),
        })
        .collect();
    let results = plugin.transform(records);
    for ((line_no, value), result) in batch.drain(..).zip(results) {
        summary.records += 1;
        // The same outcome policy as the live pipeline's.
        let failure = match policy::dispose(result, default_table) {
            Disposition::Rows(rows) => {
                for row in rows {
                    summary.rows += 1;
                    writeln!(out, "{}", row_json(&row, default_table))?;
                }
                continue;
            }
            Disposition::Filtered(reason) => {
                summary.filtered += 1;
                writeln!(err, "line {line_no}: filtered: {reason}")?;
                continue;
            }
            Disposition::Dead(_, error) => error,
            Disposition::Retry(reason) => format!("plugin asked to retry: {reason}"),
        };
        summary.failed += 1;
        writeln!(err, "line {line_no}: {failure}\n  record: {value}")?;
    }
    Ok(())
}

/// A row as `{"table": ..., "columns": {...}}`, with CQL values in JSON form
/// (plus `delete`, `ttl_seconds`, `write_time_micros` when the row has them).
pub fn row_json(row: &Row, default_table: &str) -> serde_json::Value {
    let columns: serde_json::Map<String, serde_json::Value> = row
        .columns
        .iter()
        .map(|(n, c)| (n.clone(), cell_json(c)))
        .collect();
    let mut json = serde_json::json!({
        "table": row.table.as_deref().unwrap_or(default_table),
        "columns": columns,
    });
    // Only what differs from a plain upsert, so 0.1.0 plugins' output reads as before.
    if row.kind == crate::model::WriteKind::Delete {
        json["delete"] = true.into();
    }
    if let Some(ttl) = row.ttl_seconds {
        json["ttl_seconds"] = ttl.into();
    }
    if let Some(t) = row.write_time_micros {
        json["write_time_micros"] = t.into();
    }
    json
}

/// A cell in JSON: timestamps as RFC 3339, dates as `YYYY-MM-DD`, blobs as hex.
pub fn cell_json(cell: &Cell) -> serde_json::Value {
    use serde_json::Value as J;
    match cell {
        Cell::Null => J::Null,
        Cell::Text(s) | Cell::Uuid(s) => J::String(s.clone()),
        Cell::Int(i) => J::from(*i),
        Cell::Bigint(i) => J::from(*i),
        Cell::Double(d) => J::from(*d),
        Cell::Boolean(b) => J::Bool(*b),
        Cell::Timestamp(ms) => match chrono::DateTime::from_timestamp_millis(*ms) {
            Some(t) => J::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            None => J::from(*ms),
        },
        Cell::Date(days) => {
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
            match epoch.checked_add_signed(chrono::Duration::days(*days as i64)) {
                Some(d) => J::String(d.to_string()),
                None => J::from(*days),
            }
        }
        Cell::Blob(b) => J::String(format!(
            "0x{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        )),
        Cell::TextList(l) | Cell::TextSet(l) => J::from(l.clone()),
        Cell::TextMap(m) => J::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), J::String(v.clone())))
                .collect(),
        ),
    }
}
