//! Helpers for native unit tests of plugin logic: build the same input
//! records the host would hand over, from JSON.

use crate::InputRecord;
use sluice_packed::Packer;

/// Packs a JSON value the way the host packs a JSON input's value.
pub fn packed_from_json(json: &serde_json::Value) -> Vec<u8> {
    // The packer appends nodes in index order and a container names its
    // children's indices, so number the tree in pre-order first.
    let mut order = Vec::new();
    number(json, &mut order);
    let mut next = 1u32;
    let mut packer = Packer::with_capacity(order.len(), 0);
    for node in &order {
        use serde_json::Value as J;
        match node {
            J::Null => packer.null(),
            J::Bool(b) => packer.boolean(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => packer.integer(i),
                None => packer.float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => packer.text(s),
            J::Array(items) => {
                let first = next;
                next += items.len() as u32;
                packer.list(first..next)
            }
            J::Object(map) => {
                let first = next;
                next += map.len() as u32;
                packer.object(map.keys().map(String::as_str).zip(first..next))
            }
        };
    }
    packer.finish()
}

/// Breadth-first order: a container's children get consecutive indices.
fn number<'a>(root: &'a serde_json::Value, order: &mut Vec<&'a serde_json::Value>) {
    order.push(root);
    let mut at = 0;
    while at < order.len() {
        match order[at] {
            serde_json::Value::Array(items) => order.extend(items.iter()),
            serde_json::Value::Object(map) => order.extend(map.values()),
            _ => {}
        }
        at += 1;
    }
}

/// An input record as if consumed from `users_created` partition 0 at offset 0.
pub fn record(json: &serde_json::Value) -> InputRecord {
    InputRecord {
        topic: "users_created".to_string(),
        partition: 0,
        offset: 0,
        timestamp: Some(0),
        key: None,
        headers: Vec::new(),
        value: packed_from_json(json),
    }
}
