//! Helpers for native unit tests of plugin logic: build the same input
//! records the host would hand over, from JSON.

use crate::bindings::sluice::transform::types::Field;
use crate::{InputRecord, Node, ValueTree};

/// Converts a JSON value to a value tree the way the host does for JSON input.
pub fn tree_from_json(json: &serde_json::Value) -> ValueTree {
    let mut nodes = Vec::new();
    push(&mut nodes, json);
    ValueTree { nodes }
}

fn push(nodes: &mut Vec<Node>, json: &serde_json::Value) -> u32 {
    use serde_json::Value as J;
    let index = nodes.len() as u32;
    nodes.push(Node::Null);
    let node = match json {
        J::Null => Node::Null,
        J::Bool(b) => Node::Boolean(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Node::Integer(i),
            None => Node::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Node::Text(s.clone()),
        J::Array(items) => Node::List(items.iter().map(|i| push(nodes, i)).collect()),
        J::Object(map) => Node::Object(
            map.iter()
                .map(|(k, v)| Field {
                    name: k.clone(),
                    node: push(nodes, v),
                })
                .collect(),
        ),
    };
    nodes[index as usize] = node;
    index
}

/// An input record as if consumed from `topic` partition 0 at `offset`.
pub fn record(json: &serde_json::Value) -> InputRecord {
    InputRecord {
        topic: "users_created".to_string(),
        partition: 0,
        offset: 0,
        timestamp: Some(0),
        key: None,
        headers: Vec::new(),
        value: tree_from_json(json),
    }
}
