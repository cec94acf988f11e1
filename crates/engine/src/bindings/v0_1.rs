//! `sluice:transform@0.1.0` (kept under `wit/deps/`): values cross as a
//! tree of variants. Plugins built for it keep loading and running.

wasmtime::component::bindgen!({
    path: "../../wit/deps/sluice-transform-0.1.0",
    world: "transformer",
});

pub use sluice::transform as interfaces;
pub use sluice::transform::types as wit;

/// Moves a host record into the WIT shape (no copies of strings or bytes).
pub fn input_record(r: sluice_model::Record) -> wit::InputRecord {
    let o = r.origin;
    wit::InputRecord {
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
        value: wit::ValueTree {
            nodes: r.value.nodes.into_iter().map(node).collect(),
        },
    }
}

fn node(n: sluice_model::Node) -> wit::Node {
    use sluice_model::Node as N;
    match n {
        N::Null => wit::Node::Null,
        N::Boolean(b) => wit::Node::Boolean(b),
        N::Integer(i) => wit::Node::Integer(i),
        N::Float(f) => wit::Node::Float(f),
        N::Text(s) => wit::Node::Text(s),
        N::Bytes(b) => wit::Node::Bytes(b),
        N::List(items) => wit::Node::List(items),
        N::Object(fields) => wit::Node::Object(
            fields
                .into_iter()
                .map(|(name, node)| wit::Field { name, node })
                .collect(),
        ),
    }
}

/// Moves a WIT record back into the host's shape (for a record the plugin
/// asks to retry, so that it need not be decoded again).
pub fn record_from_wit(r: wit::InputRecord) -> sluice_model::Record {
    use sluice_model::Node as N;
    let node = |n: wit::Node| match n {
        wit::Node::Null => N::Null,
        wit::Node::Boolean(b) => N::Boolean(b),
        wit::Node::Integer(i) => N::Integer(i),
        wit::Node::Float(f) => N::Float(f),
        wit::Node::Text(s) => N::Text(s),
        wit::Node::Bytes(b) => N::Bytes(b),
        wit::Node::List(items) => N::List(items),
        wit::Node::Object(fields) => {
            N::Object(fields.into_iter().map(|f| (f.name, f.node)).collect())
        }
    };
    sluice_model::Record {
        origin: sluice_model::Origin {
            topic: r.topic,
            partition: r.partition,
            offset: r.offset,
            timestamp: r.timestamp,
            key: r.key,
            headers: r.headers.into_iter().map(|h| (h.key, h.value)).collect(),
        },
        value: sluice_model::ValueTree {
            nodes: r.value.nodes.into_iter().map(node).collect(),
        },
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
        ..sluice_model::Row::default()
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
