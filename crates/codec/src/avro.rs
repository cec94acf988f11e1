//! Avro binary straight into a [`ValueTree`], bounded.
//!
//! apache-avro's own decoder recurses once per nesting level with no limit:
//! a 606-byte record of a recursive schema (`Node{next:[null,Node]}`) nested
//! 600 deep overflowed the thread's stack and aborted the host, on every
//! restart. This decoder walks an explicit plan compiled once per writer
//! schema, counts depth and nodes, and turns any record past the bounds into
//! an error (a dead letter), never a crash. It also skips apache-avro's
//! intermediate `Value`, which the tree would only copy again.

use apache_avro::schema::{Name, Namespace, ResolvedSchema, Schema};
use sluice_model::{Node, ValueTree};
use std::collections::HashMap;

/// The deepest nesting a decoded value may have (serde_json's limit too).
pub const MAX_DEPTH: usize = 128;
/// The most nodes (values, containers included) one record may decode to.
pub const MAX_NODES: usize = 262_144;

/// A writer schema compiled for decoding: one entry per distinct type, named
/// types once each (so recursive schemas are a cycle of indices, not a tree).
#[derive(Debug)]
pub struct Plan {
    types: Vec<Ty>,
}

#[derive(Debug, Clone)]
enum Ty {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Uuid,
    Array(usize),
    Map(usize),
    Union(Vec<usize>),
    Record(Vec<(String, usize)>),
    Enum(Vec<String>),
    Fixed(usize),
    /// Unscaled two's-complement integer in `inner` (bytes or fixed), shown as text.
    Decimal {
        inner: usize,
        scale: usize,
    },
    /// months, days, milliseconds as three little-endian u32.
    Duration,
    /// Placeholder while a named type's fields are compiled.
    Pending,
}

impl Plan {
    /// Compiles `schema`; errors name what this decoder does not support.
    pub fn compile(schema: &Schema) -> Result<Plan, String> {
        let resolved =
            ResolvedSchema::try_from(schema).map_err(|e| format!("resolving names: {e}"))?;
        let mut c = Compiler {
            names: resolved.get_names(),
            named: HashMap::new(),
            types: Vec::new(),
        };
        c.compile(schema, &None)?;
        Ok(Plan { types: c.types })
    }

    /// Decodes one datum (the whole of `body`) into a tree.
    pub fn decode(&self, body: &[u8]) -> Result<ValueTree, String> {
        let mut d = Decoding {
            plan: self,
            input: body,
            tree: ValueTree::default(),
        };
        d.value(0, 0)?;
        if !d.input.is_empty() {
            return Err(format!("{} bytes left after the record", d.input.len()));
        }
        Ok(d.tree)
    }
}

struct Compiler<'s> {
    names: &'s HashMap<Name, &'s Schema>,
    named: HashMap<Name, usize>,
    types: Vec<Ty>,
}

impl Compiler<'_> {
    fn push(&mut self, ty: Ty) -> usize {
        self.types.push(ty);
        self.types.len() - 1
    }

    fn compile(&mut self, schema: &Schema, ns: &Namespace) -> Result<usize, String> {
        Ok(match schema {
            Schema::Null => self.push(Ty::Null),
            Schema::Boolean => self.push(Ty::Boolean),
            Schema::Int | Schema::Date | Schema::TimeMillis => self.push(Ty::Int),
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => self.push(Ty::Long),
            Schema::Float => self.push(Ty::Float),
            Schema::Double => self.push(Ty::Double),
            Schema::Bytes | Schema::BigDecimal => self.push(Ty::Bytes),
            Schema::String => self.push(Ty::String),
            Schema::Uuid => self.push(Ty::Uuid),
            Schema::Duration => self.push(Ty::Duration),
            Schema::Array(a) => {
                let at = self.push(Ty::Pending);
                let items = self.compile(&a.items, ns)?;
                self.types[at] = Ty::Array(items);
                at
            }
            Schema::Map(m) => {
                let at = self.push(Ty::Pending);
                let values = self.compile(&m.types, ns)?;
                self.types[at] = Ty::Map(values);
                at
            }
            Schema::Union(u) => {
                let at = self.push(Ty::Pending);
                let branches = u
                    .variants()
                    .iter()
                    .map(|v| self.compile(v, ns))
                    .collect::<Result<_, _>>()?;
                self.types[at] = Ty::Union(branches);
                at
            }
            Schema::Decimal(d) => {
                let at = self.push(Ty::Pending);
                let inner = self.compile(&d.inner, ns)?;
                if !matches!(self.types[inner], Ty::Bytes | Ty::Fixed(_)) {
                    return Err("a decimal must be bytes or fixed".into());
                }
                self.types[at] = Ty::Decimal {
                    inner,
                    scale: d.scale,
                };
                at
            }
            Schema::Record(r) => {
                let name = r.name.fully_qualified_name(ns);
                if let Some(&at) = self.named.get(&name) {
                    return Ok(at);
                }
                let at = self.push(Ty::Pending);
                self.named.insert(name.clone(), at);
                let fields = r
                    .fields
                    .iter()
                    .map(|f| Ok((f.name.clone(), self.compile(&f.schema, &name.namespace)?)))
                    .collect::<Result<_, String>>()?;
                self.types[at] = Ty::Record(fields);
                at
            }
            Schema::Enum(e) => {
                let name = e.name.fully_qualified_name(ns);
                let at = self.push(Ty::Enum(e.symbols.clone()));
                self.named.insert(name, at);
                at
            }
            Schema::Fixed(f) => {
                let name = f.name.fully_qualified_name(ns);
                let at = self.push(Ty::Fixed(f.size));
                self.named.insert(name, at);
                at
            }
            Schema::Ref { name } => {
                let name = name.fully_qualified_name(ns);
                if let Some(&at) = self.named.get(&name) {
                    return Ok(at);
                }
                let schema = *self.names.get(&name).ok_or_else(|| {
                    format!("the schema refers to {name:?}, which it never defines")
                })?;
                self.compile(schema, &name.namespace)?
            }
        })
    }
}

struct Decoding<'p, 'b> {
    plan: &'p Plan,
    input: &'b [u8],
    tree: ValueTree,
}

impl Decoding<'_, '_> {
    fn push(&mut self, node: Node) -> Result<u32, String> {
        if self.tree.nodes.len() >= MAX_NODES {
            return Err(format!(
                "the value has more than {MAX_NODES} fields and items; records this large are refused"
            ));
        }
        Ok(self.tree.push(node))
    }

    /// Decodes a value of type `ty` at nesting `depth`; returns its node index.
    fn value(&mut self, ty: usize, depth: usize) -> Result<u32, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "the value nests deeper than {MAX_DEPTH} levels; records this deep are refused"
            ));
        }
        let node = match &self.plan.types[ty] {
            Ty::Null => Node::Null,
            Ty::Boolean => match self.take(1)?[0] {
                0 => Node::Boolean(false),
                1 => Node::Boolean(true),
                b => return Err(format!("invalid boolean byte {b}")),
            },
            Ty::Int => {
                let v = self.long()?;
                Node::Integer(i32::try_from(v).map_err(|_| format!("int {v} out of range"))? as i64)
            }
            Ty::Long => Node::Integer(self.long()?),
            Ty::Float => Node::Float(f32::from_le_bytes(self.array()?) as f64),
            Ty::Double => Node::Float(f64::from_le_bytes(self.array()?)),
            Ty::Bytes => Node::Bytes(self.bytes()?.to_vec()),
            Ty::String => Node::Text(self.string()?),
            Ty::Uuid => {
                let raw = self.bytes()?;
                let uuid = if raw.len() == 16 {
                    uuid::Uuid::from_slice(raw).map_err(|e| e.to_string())?
                } else {
                    let text = std::str::from_utf8(raw).map_err(|e| format!("uuid: {e}"))?;
                    uuid::Uuid::parse_str(text).map_err(|e| format!("uuid {text:?}: {e}"))?
                };
                Node::Text(uuid.to_string())
            }
            Ty::Fixed(size) => Node::Bytes(self.take(*size)?.to_vec()),
            Ty::Enum(symbols) => {
                let i = self.long()?;
                let symbol = usize::try_from(i)
                    .ok()
                    .and_then(|i| symbols.get(i))
                    .ok_or_else(|| {
                        format!("enum index {i} out of range ({} symbols)", symbols.len())
                    })?;
                Node::Text(symbol.clone())
            }
            Ty::Duration => {
                let raw: [u8; 12] = self.array()?;
                let part = |i: usize| {
                    u32::from_le_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]) as i64
                };
                let at = self.push(Node::Null)?;
                let mut fields = Vec::with_capacity(3);
                for (name, i) in [("months", 0), ("days", 4), ("millis", 8)] {
                    fields.push((name.to_string(), self.push(Node::Integer(part(i)))?));
                }
                self.tree.nodes[at as usize] = Node::Object(fields);
                return Ok(at);
            }
            Ty::Decimal { inner, scale } => {
                let raw = match self.plan.types[*inner] {
                    Ty::Fixed(size) => self.take(size)?,
                    _ => self.bytes()?,
                };
                decimal(raw, *scale)
            }
            Ty::Union(branches) => {
                let i = self.long()?;
                let branch = usize::try_from(i)
                    .ok()
                    .and_then(|i| branches.get(i))
                    .ok_or_else(|| {
                        format!(
                            "union branch {i} out of range ({} branches)",
                            branches.len()
                        )
                    })?;
                // A union adds no level of its own: it is its branch's value.
                return self.value(*branch, depth);
            }
            Ty::Array(items) => {
                let items = *items;
                let at = self.push(Node::Null)?;
                let mut children = Vec::new();
                while let Some(n) = self.block()? {
                    for _ in 0..n {
                        children.push(self.value(items, depth + 1)?);
                    }
                }
                self.tree.nodes[at as usize] = Node::List(children);
                return Ok(at);
            }
            Ty::Map(values) => {
                let values = *values;
                let at = self.push(Node::Null)?;
                let mut entries = Vec::new();
                while let Some(n) = self.block()? {
                    for _ in 0..n {
                        let key = self.string()?;
                        entries.push((key, self.value(values, depth + 1)?));
                    }
                }
                // As JSON objects come out of a map: in key order.
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                self.tree.nodes[at as usize] = Node::Object(entries);
                return Ok(at);
            }
            Ty::Record(fields) => {
                let at = self.push(Node::Null)?;
                let mut children = Vec::with_capacity(fields.len());
                for (name, field) in fields {
                    children.push((name.clone(), self.value(*field, depth + 1)?));
                }
                self.tree.nodes[at as usize] = Node::Object(children);
                return Ok(at);
            }
            Ty::Pending => return Err("schema compiled incompletely".into()),
        };
        self.push(node)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if n > self.input.len() {
            return Err(format!(
                "truncated: {n} bytes needed, {} left",
                self.input.len()
            ));
        }
        let (head, rest) = self.input.split_at(n);
        self.input = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("took N bytes"))
    }

    /// A zig-zag varint of at most 10 bytes.
    fn long(&mut self) -> Result<i64, String> {
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            let byte = *self
                .input
                .first()
                .ok_or("truncated: a number is cut short")?;
            self.input = &self.input[1..];
            value |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        Err("a number is longer than 10 bytes".into())
    }

    fn bytes(&mut self) -> Result<&[u8], String> {
        let len = self.long()?;
        let len = usize::try_from(len).map_err(|_| format!("negative length {len}"))?;
        self.take(len)
    }

    fn string(&mut self) -> Result<String, String> {
        let raw = self.bytes()?;
        std::str::from_utf8(raw)
            .map(str::to_string)
            .map_err(|e| format!("a string is not valid UTF-8: {e}"))
    }

    /// The item count of the next block of an array or map; None at its end.
    /// A negative count is followed by the block's size in bytes.
    fn block(&mut self) -> Result<Option<u64>, String> {
        let n = self.long()?;
        if n == 0 {
            return Ok(None);
        }
        if n < 0 {
            self.long()?;
        }
        Ok(Some(n.unsigned_abs()))
    }
}

/// A decimal's unscaled big-endian two's-complement bytes as text, e.g. "-12.50".
fn decimal(raw: &[u8], scale: usize) -> Node {
    if raw.is_empty() || raw.len() > 16 {
        return Node::Bytes(raw.to_vec());
    }
    let mut value: i128 = if raw[0] & 0x80 != 0 { -1 } else { 0 };
    for &b in raw {
        value = (value << 8) | b as i128;
    }
    let digits = value.unsigned_abs().to_string();
    let sign = if value < 0 { "-" } else { "" };
    if scale == 0 {
        return Node::Text(format!("{sign}{digits}"));
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    Node::Text(format!("{sign}{int}.{frac}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::types::Value as Avro;

    fn schema(text: &str) -> Schema {
        Schema::parse_str(text).unwrap()
    }

    /// A `Node{next:[null,Node]}` datum nested `depth` levels.
    fn nested(depth: usize) -> Vec<u8> {
        // Each level: union branch 1 (zig-zag 2); the innermost: branch 0 (null).
        let mut body = vec![2u8; depth];
        body.push(0);
        body
    }

    const NODE: &str =
        r#"{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}"#;

    #[test]
    fn a_recursive_record_nested_too_deep_is_an_error_not_a_crash() {
        let plan = Plan::compile(&schema(NODE)).unwrap();
        let tree = plan.decode(&nested(100)).unwrap();
        assert_eq!(tree.nodes.len(), 101 + 1, "100 records and the null");
        for depth in [600, 100_000] {
            let e = plan.decode(&nested(depth)).unwrap_err();
            assert!(e.contains("deeper than 128"), "{e}");
        }
    }

    #[test]
    fn a_huge_block_count_of_empty_items_is_refused_not_allocated() {
        let plan = Plan::compile(&schema(r#"{"type":"array","items":"null"}"#)).unwrap();
        // One block of 2^60 nulls, in 9 bytes.
        let mut body = Vec::new();
        let mut v: u64 = (1u64 << 60) << 1;
        while v >= 0x80 {
            body.push((v as u8) | 0x80);
            v >>= 7;
        }
        body.push(v as u8);
        body.push(0);
        let e = plan.decode(&body).unwrap_err();
        assert!(e.contains("more than 262144"), "{e}");
    }

    #[test]
    fn truncated_and_trailing_bytes_are_errors() {
        let plan = Plan::compile(&schema(
            r#"{"type":"record","name":"R","fields":[{"name":"s","type":"string"}]}"#,
        ))
        .unwrap();
        assert!(plan.decode(&[10, b'a']).unwrap_err().contains("truncated"));
        assert!(plan
            .decode(&[2, b'a', 7])
            .unwrap_err()
            .contains("left after"));
        assert!(plan.decode(&[4, 0xff, 0xfe]).unwrap_err().contains("UTF-8"));
        assert!(plan.decode(&[3, b'a']).unwrap_err().contains("negative"));
    }

    #[test]
    fn gives_the_tree_apache_avro_and_json_give() {
        let s = schema(
            r#"{"type":"record","name":"U","namespace":"x","fields":[
                {"name":"name","type":{"type":"record","name":"N","fields":[{"name":"first","type":"string"}]}},
                {"name":"other","type":"N"},
                {"name":"postcode","type":["long","string"]},
                {"name":"id","type":["null","string"]},
                {"name":"ok","type":"boolean"},
                {"name":"f","type":"float"},
                {"name":"d","type":"double"},
                {"name":"e","type":{"type":"enum","name":"E","symbols":["a","b"]}},
                {"name":"fx","type":{"type":"fixed","name":"F","size":2}},
                {"name":"m","type":{"type":"map","values":"int"}},
                {"name":"tags","type":{"type":"array","items":"string"}}]}"#,
        );
        let value = Avro::Record(vec![
            (
                "name".into(),
                Avro::Record(vec![("first".into(), Avro::String("Zoë".into()))]),
            ),
            (
                "other".into(),
                Avro::Record(vec![("first".into(), Avro::String("A".into()))]),
            ),
            (
                "postcode".into(),
                Avro::Union(1, Box::new(Avro::String("AB1".into()))),
            ),
            ("id".into(), Avro::Union(0, Box::new(Avro::Null))),
            ("ok".into(), Avro::Boolean(true)),
            ("f".into(), Avro::Float(1.5)),
            ("d".into(), Avro::Double(-2.25)),
            ("e".into(), Avro::Enum(1, "b".into())),
            ("fx".into(), Avro::Fixed(2, vec![1, 2])),
            (
                "m".into(),
                Avro::Map(
                    [
                        ("z".to_string(), Avro::Int(1)),
                        ("a".to_string(), Avro::Int(-7)),
                    ]
                    .into(),
                ),
            ),
            (
                "tags".into(),
                Avro::Array(vec![Avro::String("a".into()), Avro::String("b".into())]),
            ),
        ]);
        let body = apache_avro::to_avro_datum(&s, value).unwrap();
        let tree = Plan::compile(&s).unwrap().decode(&body).unwrap();
        assert_eq!(
            tree.to_json(),
            serde_json::json!({
                "name": {"first": "Zoë"}, "other": {"first": "A"}, "postcode": "AB1", "id": null,
                "ok": true, "f": 1.5, "d": -2.25, "e": "b", "fx": [1, 2], "m": {"a": -7, "z": 1},
                "tags": ["a", "b"]
            })
        );
    }

    #[test]
    fn decimals_read_as_text() {
        assert_eq!(decimal(&[0x04, 0xe2], 2), Node::Text("12.50".into()));
        assert_eq!(decimal(&[0xff, 0x85], 3), Node::Text("-0.123".into()));
        assert_eq!(decimal(&[0x07], 0), Node::Text("7".into()));
    }
}
