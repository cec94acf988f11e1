//! `sluice:transform@0.3.0` (`wit/`): values cross in as packed buffers, as
//! in 0.2.0, and a call's rows cross out as one packed buffer
//! (crates/packed/src/rows.rs), read here into the host's rows.

use sluice_packed::rows::{CellRef, RowHead, RowReader, Strs, DELETE};

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "sluice:transform/transformer@0.3.0",
});

// Several versions of the package are in scope, so bindgen suffixes this one.
pub use sluice::transform0_3_0 as interfaces;
pub use sluice::transform0_3_0::types as wit;

packed_input!();

/// The host's outcomes of a call: each `rows(n)` takes the next `n` rows of
/// the call's buffer. A buffer that does not read, or whose rows do not add
/// up to the outcomes' counts, is the plugin breaking the contract; the
/// message says what and where.
pub fn outcomes(out: wit::BatchOutput) -> Result<Vec<sluice_model::Outcome>, String> {
    let mut reader = RowReader::new(&out.rows);
    let mut outcomes = Vec::with_capacity(out.outcomes.len());
    for (i, o) in out.outcomes.into_iter().enumerate() {
        outcomes.push(match o {
            wit::Outcome::Rows(n) => {
                // Each row takes at least 6 bytes: no more room than the buffer can fill.
                let mut rows = Vec::with_capacity((n as usize).min(reader.remaining() / 6));
                for _ in 0..n {
                    let head = reader
                        .row()
                        .map_err(|e| format!("its rows buffer is malformed: {e}"))?
                        .ok_or_else(|| {
                            format!(
                                "outcome {i} claims {n} rows, but the rows buffer ends after {} of them",
                                rows.len()
                            )
                        })?;
                    rows.push(
                        row(&mut reader, head)
                            .map_err(|e| format!("its rows buffer is malformed: {e}"))?,
                    );
                }
                sluice_model::Outcome::Rows(rows)
            }
            wit::Outcome::Filtered(reason) => sluice_model::Outcome::Filtered(reason),
            wit::Outcome::BadInput(e) => sluice_model::Outcome::BadInput {
                field: e.field,
                message: e.message,
            },
            wit::Outcome::Retry(reason) => sluice_model::Outcome::Retry(reason),
        });
    }
    match reader.remaining() {
        0 => Ok(outcomes),
        n => Err(format!(
            "its rows buffer has {n} bytes after the rows its outcomes claim"
        )),
    }
}

fn row(
    reader: &mut RowReader<'_>,
    head: RowHead<'_>,
) -> Result<sluice_model::Row, sluice_packed::rows::RowError> {
    let mut columns = Vec::with_capacity(head.columns as usize);
    for _ in 0..head.columns {
        let (name, value) = reader.cell()?;
        columns.push((name.to_owned(), cell(value)?));
    }
    Ok(sluice_model::Row {
        table: head.table.map(str::to_owned),
        columns,
        kind: if head.kind == DELETE {
            sluice_model::WriteKind::Delete
        } else {
            sluice_model::WriteKind::Upsert
        },
        ttl_seconds: head.ttl_seconds,
        write_time_micros: head.write_time_micros,
    })
}

fn cell(c: CellRef<'_>) -> Result<sluice_model::Cell, sluice_packed::rows::RowError> {
    use sluice_model::Cell as C;
    fn strings(s: Strs<'_>) -> Result<Vec<String>, sluice_packed::rows::RowError> {
        s.map(|s| s.map(str::to_owned)).collect()
    }
    Ok(match c {
        CellRef::Null => C::Null,
        CellRef::Text(s) => C::Text(s.to_owned()),
        CellRef::Int(i) => C::Int(i),
        CellRef::Bigint(i) => C::Bigint(i),
        CellRef::Double(d) => C::Double(d),
        CellRef::Boolean(b) => C::Boolean(b),
        CellRef::Uuid(s) => C::Uuid(s.to_owned()),
        CellRef::Timestamp(t) => C::Timestamp(t),
        CellRef::Date(d) => C::Date(d),
        CellRef::Blob(b) => C::Blob(b.to_vec()),
        CellRef::TextList(s) => C::TextList(strings(s)?),
        CellRef::TextSet(s) => C::TextSet(strings(s)?),
        CellRef::TextMap(s) => {
            let flat = strings(s)?;
            let mut pairs = Vec::with_capacity(flat.len() / 2);
            let mut it = flat.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            C::TextMap(pairs)
        }
    })
}
