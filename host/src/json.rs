//! JSON text to a [`ValueTree`] in one pass, without an intermediate
//! `serde_json::Value`.

use crate::model::{Node, ValueTree};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
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
    fn visit_unit<E>(self) -> Result<u32, E> {
        Ok(self.0.push(Node::Null))
    }
    fn visit_none<E>(self) -> Result<u32, E> {
        Ok(self.0.push(Node::Null))
    }
    fn visit_bool<E>(self, v: bool) -> Result<u32, E> {
        Ok(self.0.push(Node::Boolean(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<u32, E> {
        Ok(self.0.push(Node::Integer(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<u32, E> {
        Ok(self.0.push(match i64::try_from(v) {
            Ok(i) => Node::Integer(i),
            Err(_) => Node::Float(v as f64),
        }))
    }
    fn visit_f64<E>(self, v: f64) -> Result<u32, E> {
        Ok(self.0.push(Node::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<u32, E> {
        Ok(self.0.push(Node::Text(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<u32, E> {
        Ok(self.0.push(Node::Text(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u32, A::Error> {
        // Reserve the parent's slot first: children come after their parent.
        let index = self.0.push(Node::Null);
        let mut items = Vec::new();
        while let Some(child) = seq.next_element_seed(NodeSeed(self.0))? {
            items.push(child);
        }
        self.0.nodes[index as usize] = Node::List(items);
        Ok(index)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u32, A::Error> {
        let index = self.0.push(Node::Null);
        let mut fields = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let child = map.next_value_seed(NodeSeed(self.0))?;
            fields.push((name, child));
        }
        self.0.nodes[index as usize] = Node::Object(fields);
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
    fn refuses_trailing_garbage() {
        assert!(tree_from_slice(b"{} x").is_err());
        assert!(tree_from_slice(b"{\"a\":").is_err());
    }
}
