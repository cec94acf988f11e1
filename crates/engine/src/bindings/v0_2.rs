//! `sluice:transform@0.2.0` (`wit/`): a value crosses as one packed buffer
//! (crates/packed), and rows can carry a TTL, a write time, or be deletes.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "sluice:transform/transformer@0.2.0",
});

// Two versions of the package are in scope, so bindgen suffixes this one.
pub use sluice::transform0_2_0 as interfaces;
pub use sluice::transform0_2_0::types as wit;

packed_input!();

/// Moves a WIT outcome into the host's shape.
pub fn outcome(o: wit::Outcome) -> sluice_model::Outcome {
    match o {
        wit::Outcome::Rows(rows) => {
            sluice_model::Outcome::Rows(rows.into_iter().map(row).collect())
        }
        wit::Outcome::Filtered(reason) => sluice_model::Outcome::Filtered(reason),
        wit::Outcome::BadInput(e) => sluice_model::Outcome::BadInput {
            field: e.field,
            message: e.message,
        },
        wit::Outcome::Retry(reason) => sluice_model::Outcome::Retry(reason),
    }
}

fn row(r: wit::Row) -> sluice_model::Row {
    sluice_model::Row {
        table: r.table,
        columns: r
            .columns
            .into_iter()
            .map(|c| (c.name, cell(c.value)))
            .collect(),
        kind: match r.kind {
            wit::WriteKind::Upsert => sluice_model::WriteKind::Upsert,
            wit::WriteKind::Delete => sluice_model::WriteKind::Delete,
        },
        ttl_seconds: r.ttl_seconds,
        write_time_micros: r.write_time_micros,
    }
}

fn cell(c: wit::Cell) -> sluice_model::Cell {
    use sluice_model::Cell as C;
    match c {
        wit::Cell::Null => C::Null,
        wit::Cell::Text(s) => C::Text(s),
        wit::Cell::Int(i) => C::Int(i),
        wit::Cell::Bigint(i) => C::Bigint(i),
        wit::Cell::Double(d) => C::Double(d),
        wit::Cell::Boolean(b) => C::Boolean(b),
        wit::Cell::Uuid(u) => C::Uuid(u),
        wit::Cell::Timestamp(t) => C::Timestamp(t),
        wit::Cell::Date(d) => C::Date(d),
        wit::Cell::Blob(b) => C::Blob(b),
        wit::Cell::TextList(l) => C::TextList(l),
        wit::Cell::TextSet(l) => C::TextSet(l),
        wit::Cell::TextMap(m) => C::TextMap(m),
    }
}
