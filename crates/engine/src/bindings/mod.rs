//! Bindings generated from the WIT worlds this host runs, and the conversions
//! between them and the host's own [`sluice_model`] types: `v0_3` is `wit/`,
//! `v0_2` and `v0_1` the previous versions kept under `wit/deps/`.

/// Packs a value tree into the layout of `packed-value` (0.2.0 and 0.3.0):
/// one pass over the nodes, in index order, which is the layout's node order.
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

/// The input side of the worlds that take packed values (0.2.0 and 0.3.0:
/// the same records, in two generated modules), and their plugin info.
/// Expands inside a version's module, whose `wit` names its types.
macro_rules! packed_input {
    () => {
        /// Moves a host record's origin into the WIT shape and packs its
        /// value; the tree comes back so that a record the plugin asks to
        /// retry need not be decoded again.
        pub fn input_record(
            r: sluice_model::Record,
        ) -> (wit::InputRecord, sluice_model::ValueTree) {
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
                value: super::packed_value(&r.value),
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

        /// Moves a WIT plugin-info into the host's shape.
        pub fn plugin_info(i: wit::PluginInfo) -> sluice_model::PluginInfo {
            sluice_model::PluginInfo {
                name: i.name,
                version: i.version,
                description: i.description,
            }
        }
    };
}

pub mod v0_1;
pub mod v0_2;
pub mod v0_3;
