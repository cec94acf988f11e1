//! JSON text to a [`ValueTree`] in one pass, without an intermediate
//! `serde_json::Value`. Bounded like Avro: serde_json refuses nesting past
//! 128 levels, and a document past [`MAX_NODES`] values is refused here.

use crate::avro::MAX_NODES;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use sluice_model::{Node, ValueTree};
use std::fmt;

/// Parses one JSON document into a value tree.
pub fn tree_from_slice(bytes: &[u8]) -> Result<ValueTree, serde_json::Error> {
    let mut tree = ValueTree::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    NodeSeed(&mut tree).deserialize(&mut de)?;
    de.end()?;
    Ok(tree)
}

/// Converts an already parsed JSON value into a value tree.
pub fn tree_from_value(value: &serde_json::Value) -> ValueTree {
    let mut tree = ValueTree::default();
    NodeSeed(&mut tree)
        .deserialize(value)
        .expect("a serde_json::Value always deserializes");
    tree
}

/// Deserializes one node (and its children) into the tree; yields its index.
struct NodeSeed<'t>(&'t mut ValueTree);

impl NodeSeed<'_> {
    fn push<E: serde::de::Error>(self, node: Node) -> Result<u32, E> {
        if self.0.nodes.len() >= MAX_NODES {
            return Err(E::custom(format!(
                "the value has more than {MAX_NODES} fields and items; records this large are refused"
            )));
        }
        Ok(self.0.push(node))
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = u32;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u32, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = u32;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<u32, E> {
        self.push(Node::Null)
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<u32, E> {
        self.push(Node::Null)
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<u32, E> {
        self.push(Node::Boolean(v))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u32, E> {
        self.push(Node::Integer(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u32, E> {
        self.push(match i64::try_from(v) {
            Ok(i) => Node::Integer(i),
            Err(_) => Node::Float(v as f64),
        })
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u32, E> {
        self.push(Node::Float(v))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<u32, E> {
        self.push(Node::Text(v.to_string()))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<u32, E> {
        self.push(Node::Text(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u32, A::Error> {
        // Reserve the parent's slot first: children come after their parent.
        let tree = self.0;
        let index = NodeSeed(tree).push(Node::Null)?;
        let mut items = Vec::new();
        while let Some(child) = seq.next_element_seed(NodeSeed(tree))? {
            items.push(child);
        }
        tree.nodes[index as usize] = Node::List(items);
        Ok(index)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u32, A::Error> {
        let tree = self.0;
        let index = NodeSeed(tree).push(Node::Null)?;
        let mut fields = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let child = map.next_value_seed(NodeSeed(tree))?;
            fields.push((name, child));
        }
        tree.nodes[index as usize] = Node::Object(fields);
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_through_the_tree() {
        let doc = json!({"a": [1, -2.5, "é", null, true], "b": {"c": {}}, "d": []});
        let tree = tree_from_slice(doc.to_string().as_bytes()).unwrap();
        assert_eq!(tree.to_json(), doc);
        assert_eq!(tree_from_value(&doc), tree);
        assert!(matches!(tree.nodes[0], Node::Object(_)));
    }

    #[test]
    fn refuses_deep_and_huge_documents() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(tree_from_slice(deep.as_bytes()).is_err());
        let huge = format!("[{}0]", "0,".repeat(MAX_NODES));
        let e = tree_from_slice(huge.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("more than"), "{e}");
    }

    #[test]
    fn refuses_trailing_garbage() {
        assert!(tree_from_slice(b"{} x").is_err());
        assert!(tree_from_slice(b"{\"a\":").is_err());
    }
}
