//! `sluice:transform@0.3.0` (`wit/`): values cross in as packed buffers, as
//! in 0.2.0, and a call's rows cross out as one packed buffer
//! (crates/packed/src/rows.rs), read here into the host's rows.

use sluice_packed::rows::{CellRef, RowError, RowHead, RowReader, Strs, DELETE};

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
    let malformed = |e: RowError| format!("its rows buffer is malformed: {e}");
    let mut reader = RowReader::new(&out.rows);
    let mut outcomes = Vec::with_capacity(out.outcomes.len());
    for (i, o) in out.outcomes.into_iter().enumerate() {
        outcomes.push(match o {
            wit::Outcome::Rows(n) => {
                // Each row takes at least 6 bytes: no more room than the buffer can fill.
                let mut rows = Vec::with_capacity((n as usize).min(reader.remaining() / 6));
                for _ in 0..n {
                    let head = reader.row().map_err(malformed)?.ok_or_else(|| {
                        format!(
                            "outcome {i} claims {n} rows, but the rows buffer ends after {} of them",
                            rows.len()
                        )
                    })?;
                    rows.push(row(&mut reader, head).map_err(malformed)?);
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

fn row(reader: &mut RowReader<'_>, head: RowHead<'_>) -> Result<sluice_model::Row, RowError> {
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

fn cell(c: CellRef<'_>) -> Result<sluice_model::Cell, RowError> {
    use sluice_model::Cell as C;
    fn strings(s: Strs<'_>) -> Result<Vec<String>, RowError> {
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
        CellRef::TextMap(mut s) => {
            // Keys and values alternate; the reader counted them in pairs.
            let mut pairs = Vec::with_capacity(s.len() as usize / 2);
            while let (Some(k), Some(v)) = (s.next(), s.next()) {
                pairs.push((k?.to_owned(), v?.to_owned()));
            }
            C::TextMap(pairs)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_model::{Cell as C, Outcome as O, WriteKind};
    use sluice_packed::rows::{RowWriter, UPSERT};

    fn head(columns: u32) -> RowHead<'static> {
        RowHead {
            kind: UPSERT,
            table: None,
            ttl_seconds: None,
            write_time_micros: None,
            columns,
        }
    }

    #[test]
    fn every_cell_kind_becomes_the_hosts_cell_and_rows_go_to_their_outcomes() {
        let mut w = RowWriter::default();
        w.row(&head(13));
        w.null("n");
        w.text("t", "Zoë");
        w.int("i", -7);
        w.bigint("b", 1 << 40);
        w.double("d", 0.5);
        w.boolean("y", true);
        w.uuid("u", "8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10");
        w.timestamp("ts", 1_700_000_000_000);
        w.date("day", 19_000);
        w.blob("bl", &[0, 255]);
        w.text_list("l", ["a", "b"].into_iter());
        w.text_set("s", ["c"].into_iter());
        w.text_map("m", [("k1", "v1"), ("k2", "v2")].into_iter());
        w.row(&RowHead {
            kind: DELETE,
            table: Some("other"),
            ttl_seconds: None,
            write_time_micros: Some(5),
            columns: 1,
        });
        w.text("id", "x");
        let out = outcomes(wit::BatchOutput {
            outcomes: vec![
                wit::Outcome::Rows(0),
                wit::Outcome::Rows(2),
                wit::Outcome::Filtered("f".into()),
            ],
            rows: w.finish(),
        })
        .unwrap();
        assert_eq!(out.len(), 3);
        assert!(matches!(&out[0], O::Rows(r) if r.is_empty()));
        assert!(matches!(&out[2], O::Filtered(f) if f == "f"));
        let O::Rows(rows) = &out[1] else {
            panic!("{:?}", out[1])
        };
        let cells: Vec<&C> = rows[0].columns.iter().map(|(_, c)| c).collect();
        assert_eq!(
            cells,
            [
                &C::Null,
                &C::Text("Zoë".into()),
                &C::Int(-7),
                &C::Bigint(1 << 40),
                &C::Double(0.5),
                &C::Boolean(true),
                &C::Uuid("8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10".into()),
                &C::Timestamp(1_700_000_000_000),
                &C::Date(19_000),
                &C::Blob(vec![0, 255]),
                &C::TextList(vec!["a".into(), "b".into()]),
                &C::TextSet(vec!["c".into()]),
                &C::TextMap(vec![("k1".into(), "v1".into()), ("k2".into(), "v2".into())]),
            ]
        );
        assert_eq!(rows[0].kind, WriteKind::Upsert);
        assert_eq!(rows[1].kind, WriteKind::Delete);
        assert_eq!(rows[1].table.as_deref(), Some("other"));
        assert_eq!(rows[1].write_time_micros, Some(5));
    }

    #[test]
    fn rows_that_do_not_add_up_to_the_outcomes_are_refused() {
        let mut w = RowWriter::default();
        w.row(&head(1));
        w.int("i", 1);
        let rows = w.finish();
        let call = |n: Vec<u32>, rows: &[u8]| {
            outcomes(wit::BatchOutput {
                outcomes: n.into_iter().map(wit::Outcome::Rows).collect(),
                rows: rows.to_vec(),
            })
        };
        assert!(call(vec![1], &rows).is_ok());
        let short = call(vec![1, 1], &rows).unwrap_err();
        assert!(short.contains("outcome 1 claims 1 rows"), "{short}");
        let extra = call(vec![0], &rows).unwrap_err();
        assert!(extra.contains("bytes after the rows"), "{extra}");
        let cut = call(vec![1], &rows[..rows.len() - 1]).unwrap_err();
        assert!(cut.contains("malformed"), "{cut}");
    }
}
