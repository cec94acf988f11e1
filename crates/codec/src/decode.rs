//! Record values to value trees: Confluent-framed Avro (writer schema from
//! the registry, by id) or JSON. Both give the same tree for the same data,
//! so a plugin never knows which format the producer used.

use crate::avro::Plan;
use crate::registry::{Registry, SchemaError};
use apache_avro::types::Value as Avro;
use sluice_model::{Node, ValueTree};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Which formats to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Confluent wire format if the value starts with magic byte 0, else JSON.
    Auto,
    Avro,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "auto" => Format::Auto,
            "avro" => Format::Avro,
            "json" => Format::Json,
            other => anyhow::bail!("unknown format {other:?}: use auto, avro or json"),
        })
    }
}

/// Why a value could not be decoded. `Unavailable` is an outage (retry);
/// the others are the record's fault (dead-letter).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("record has no value")]
    Empty,
    #[error("not Confluent-framed Avro: {0}")]
    Frame(String),
    #[error("schema id {id}: {message}")]
    UnknownSchema { id: u32, message: String },
    #[error("Avro body does not match writer schema {id}: {message}")]
    Avro { id: u32, message: String },
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("schema registry unavailable: {0}")]
    Unavailable(String),
}

impl DecodeError {
    /// True when retrying later may succeed (the registry is down).
    pub fn is_transient(&self) -> bool {
        matches!(self, DecodeError::Unavailable(_))
    }
}

/// Decodes values; caches writer schemas through the registry client.
pub struct Decoder {
    format: Format,
    registry: Option<Arc<Registry>>,
    /// When set, every writer schema is resolved to this one (Avro schema
    /// resolution: defaults for added fields, promotions, dropped fields), so
    /// the plugin sees one shape across producer versions.
    reader: Option<apache_avro::Schema>,
    /// Writer schemas compiled for decoding, by registry id.
    plans: Mutex<HashMap<u32, Arc<Plan>>>,
}

impl Decoder {
    pub fn new(format: Format, registry: Option<Arc<Registry>>) -> Self {
        Decoder {
            format,
            registry,
            reader: None,
            plans: Mutex::default(),
        }
    }

    /// Resolves every Avro value to `reader` (see the field's comment).
    pub fn with_reader_schema(mut self, reader: apache_avro::Schema) -> Self {
        self.reader = Some(reader);
        self
    }

    pub async fn decode(&self, payload: Option<&[u8]>) -> Result<ValueTree, DecodeError> {
        let bytes = payload
            .filter(|b| !b.is_empty())
            .ok_or(DecodeError::Empty)?;
        let avro = match self.format {
            Format::Avro => true,
            Format::Json => false,
            Format::Auto => bytes[0] == 0,
        };
        if !avro {
            return crate::json::tree_from_slice(bytes)
                .map_err(|e| DecodeError::Json(e.to_string()));
        }
        let (id, mut body) =
            crate::wire::unframe(bytes).map_err(|e| DecodeError::Frame(e.to_string()))?;
        let registry = self
            .registry
            .as_ref()
            .ok_or_else(|| DecodeError::Unavailable("no registry configured".into()))?;
        let schema = registry.schema(id).await.map_err(|e| match e {
            SchemaError::Unavailable(m) => DecodeError::Unavailable(m),
            SchemaError::NotFound(message) | SchemaError::Unusable(message) => {
                DecodeError::UnknownSchema { id, message }
            }
        })?;
        let plan = self.plan(id, &schema)?;
        // The bounded decoder reads every record first, so that apache-avro
        // (which recurses without a limit) only ever sees bounded ones.
        let tree = plan
            .decode(body)
            .map_err(|message| DecodeError::Avro { id, message })?;
        let Some(reader) = &self.reader else {
            return Ok(tree);
        };
        let value =
            apache_avro::from_avro_datum(&schema, &mut body, Some(reader)).map_err(|e| {
                DecodeError::Avro {
                    id,
                    message: format!("resolving to the reader schema: {e}"),
                }
            })?;
        let mut tree = ValueTree::default();
        push_avro(&mut tree, value);
        Ok(tree)
    }

    /// The compiled plan of writer schema `id`, compiled on first use.
    fn plan(&self, id: u32, schema: &apache_avro::Schema) -> Result<Arc<Plan>, DecodeError> {
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(plan) = plans.get(&id) {
            return Ok(plan.clone());
        }
        let plan = Arc::new(
            Plan::compile(schema).map_err(|message| DecodeError::UnknownSchema { id, message })?,
        );
        plans.insert(id, plan.clone());
        Ok(plan)
    }
}

/// Appends an Avro value (and its children) to the tree; returns its index.
/// Unions become their branch's value, enums their symbol, as JSON has them.
fn push_avro(tree: &mut ValueTree, value: Avro) -> u32 {
    let node = match value {
        Avro::Null => Node::Null,
        Avro::Boolean(b) => Node::Boolean(b),
        Avro::Int(i) | Avro::Date(i) | Avro::TimeMillis(i) => Node::Integer(i as i64),
        Avro::Long(i)
        | Avro::TimeMicros(i)
        | Avro::TimestampMillis(i)
        | Avro::TimestampMicros(i)
        | Avro::TimestampNanos(i)
        | Avro::LocalTimestampMillis(i)
        | Avro::LocalTimestampMicros(i)
        | Avro::LocalTimestampNanos(i) => Node::Integer(i),
        Avro::Float(f) => Node::Float(f as f64),
        Avro::Double(f) => Node::Float(f),
        Avro::String(s) | Avro::Enum(_, s) => Node::Text(s),
        Avro::Uuid(u) => Node::Text(u.to_string()),
        Avro::Bytes(b) | Avro::Fixed(_, b) => Node::Bytes(b),
        Avro::Union(_, inner) => return push_avro(tree, *inner),
        Avro::Array(items) => {
            let index = tree.push(Node::Null);
            let children = items.into_iter().map(|v| push_avro(tree, v)).collect();
            tree.nodes[index as usize] = Node::List(children);
            return index;
        }
        Avro::Map(map) => {
            let index = tree.push(Node::Null);
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let fields = entries
                .into_iter()
                .map(|(k, v)| (k, push_avro(tree, v)))
                .collect();
            tree.nodes[index as usize] = Node::Object(fields);
            return index;
        }
        Avro::Record(fields) => {
            let index = tree.push(Node::Null);
            let fields = fields
                .into_iter()
                .map(|(k, v)| (k, push_avro(tree, v)))
                .collect();
            tree.nodes[index as usize] = Node::Object(fields);
            return index;
        }
        other => Node::Text(format!("{other:?}")),
    };
    tree.push(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn avro_and_json_give_the_same_tree() {
        let schema = apache_avro::Schema::parse_str(
            r#"{"type":"record","name":"U","fields":[
                {"name":"name","type":{"type":"record","name":"N","fields":[{"name":"first","type":"string"}]}},
                {"name":"postcode","type":["long","string"]},
                {"name":"id","type":["null","string"]},
                {"name":"tags","type":{"type":"array","items":"string"}}]}"#,
        )
        .unwrap();
        let json =
            r#"{"name":{"first":"Zoë"},"postcode":25000,"id":null,"tags":["a","b"]}"#.as_bytes();
        let value = Avro::Record(vec![
            (
                "name".into(),
                Avro::Record(vec![("first".into(), Avro::String("Zoë".into()))]),
            ),
            (
                "postcode".into(),
                Avro::Union(0, Box::new(Avro::Long(25000))),
            ),
            ("id".into(), Avro::Union(0, Box::new(Avro::Null))),
            (
                "tags".into(),
                Avro::Array(vec![Avro::String("a".into()), Avro::String("b".into())]),
            ),
        ]);
        let body = apache_avro::to_avro_datum(&schema, value).unwrap();
        let decoded = apache_avro::from_avro_datum(&schema, &mut body.as_slice(), None).unwrap();
        let mut tree = ValueTree::default();
        push_avro(&mut tree, decoded);
        let from_json = Decoder::new(Format::Json, None)
            .decode(Some(json))
            .await
            .unwrap();
        assert_eq!(tree.to_json(), from_json.to_json());
    }

    #[test]
    fn a_reader_schema_resolves_older_writers() {
        let v1 = apache_avro::Schema::parse_str(
            r#"{"type":"record","name":"U","fields":[{"name":"a","type":"int"}]}"#,
        )
        .unwrap();
        let v2 = apache_avro::Schema::parse_str(
            r#"{"type":"record","name":"U","fields":[{"name":"a","type":"long"},{"name":"nat","type":"string","default":"??"}]}"#,
        )
        .unwrap();
        let body = apache_avro::to_avro_datum(&v1, Avro::Record(vec![("a".into(), Avro::Int(7))]))
            .unwrap();
        let value = apache_avro::from_avro_datum(&v1, &mut body.as_slice(), Some(&v2)).unwrap();
        let mut tree = ValueTree::default();
        push_avro(&mut tree, value);
        assert_eq!(tree.to_json(), serde_json::json!({"a": 7, "nat": "??"}));
    }

    #[tokio::test]
    async fn garbage_is_a_record_error() {
        let d = Decoder::new(Format::Auto, None);
        assert!(matches!(
            d.decode(Some(b"\x07garbage")).await,
            Err(DecodeError::Json(_))
        ));
        assert!(matches!(
            d.decode(Some(b"\x00\x01")).await,
            Err(DecodeError::Frame(_))
        ));
        assert!(matches!(d.decode(None).await, Err(DecodeError::Empty)));
    }
}
