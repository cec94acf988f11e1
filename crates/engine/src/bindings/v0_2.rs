//! `sluice:transform@0.2.0` (`wit/`): a value crosses as one packed buffer
//! (crates/packed), and rows can carry a TTL, a write time, or be deletes.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "sluice:transform/transformer@0.2.0",
});

// Two versions of the package are in scope, so bindgen suffixes this one.
pub use sluice::transform0_2_0 as interfaces;
pub use sluice::transform0_2_0::types as wit;

/// Packs a value tree into the layout of `packed-value`: one pass over the
/// nodes, in index order, which is the layout's node order.
pub fn packed_value(tree: &sluice_model::ValueTree) -> Vec<u8> {
    use sluice_model::Node as N;
    let text: usize = tree
        .nodes
        .iter()
        .map(|n| match n {
            N::Text(s) => s.len(),
            N::Object(fields) => fields.iter().map(|(name, _)| name.len()).sum(),
            _ => 0,
        })
        .sum();
    let mut p = sluice_packed::Packer::with_capacity(tree.nodes.len(), text);
    for n in &tree.nodes {
        match n {
            N::Null => p.null(),
            N::Boolean(b) => p.boolean(*b),
            N::Integer(i) => p.integer(*i),
            N::Float(f) => p.float(*f),
            N::Text(s) => p.text(s),
            N::Bytes(b) => p.bytes(b),
            N::List(items) => p.list(items.iter().copied()),
            N::Object(fields) => p.object(fields.iter().map(|(name, i)| (name.as_str(), *i))),
        };
    }
    p.finish()
}

/// Moves a host record's origin into the WIT shape and packs its value;
/// the tree comes back so that a record the plugin asks to retry need not
/// be decoded again.
pub fn input_record(r: sluice_model::Record) -> (wit::InputRecord, sluice_model::ValueTree) {
    let o = r.origin;
    let record = wit::InputRecord {
        topic: o.topic,
        partition: o.partition,
        offset: o.offset,
        timestamp: o.timestamp,
        key: o.key,
        headers: o
            .headers
            .into_iter()
            .map(|(key, value)| wit::Header { key, value })
            .collect(),
        value: packed_value(&r.value),
    };
    (record, r.value)
}

/// The host record again, from the WIT record's origin and the kept tree.
pub fn record_from_wit(
    r: wit::InputRecord,
    value: sluice_model::ValueTree,
) -> sluice_model::Record {
    sluice_model::Record {
        origin: sluice_model::Origin {
            topic: r.topic,
            partition: r.partition,
            offset: r.offset,
            timestamp: r.timestamp,
            key: r.key,
            headers: r.headers.into_iter().map(|h| (h.key, h.value)).collect(),
        },
        value,
    }
}

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

/// Moves a WIT plugin-info into the host's shape.
pub fn plugin_info(i: wit::PluginInfo) -> sluice_model::PluginInfo {
    sluice_model::PluginInfo {
        name: i.name,
        version: i.version,
        description: i.description,
    }
}
