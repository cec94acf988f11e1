//! JSON to an Avro value, checked against a schema as it goes, with errors
//! that name the field ("location.postcode: expected long or string, found true").

use super::json::Json;
use apache_avro::schema::{Name, ResolvedSchema, Schema};
use std::collections::HashMap;
use std::fmt;

/// Why a JSON value does not fit the schema.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{path}: {problem}")]
pub struct FieldError {
    /// Where, like `location.street.number` or `tags[2]`.
    pub path: String,
    pub problem: String,
}

/// Converts JSON values to Avro values of one schema.
pub struct Converter<'s> {
    root: &'s Schema,
    names: HashMap<Name, &'s Schema>,
}

/// A field path, built on the stack and only turned into text for errors.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => f.write_str("(root)"),
            Path::Field(Path::Root, name) => f.write_str(name),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

impl<'s> Converter<'s> {
    /// A converter for `schema`; fails if it names types it does not define.
    pub fn new(schema: &'s Schema) -> Result<Self, apache_avro::Error> {
        let names = ResolvedSchema::try_from(schema)?
            .get_names()
            .iter()
            .map(|(name, schema)| (name.clone(), *schema))
            .collect();
        Ok(Converter {
            root: schema,
            names,
        })
    }

    /// Appends the Avro binary encoding of `json` to `out`, or says where
    /// it does not fit (`out` then holds a partial value). It writes the
    /// bytes directly, without an intermediate Avro value: no copy of any
    /// string, and no schema resolution per record as `to_avro_datum` does.
    pub fn encode(&self, json: &Json<'_>, out: &mut Vec<u8>) -> Result<(), FieldError> {
        self.write(json, self.root, Path::Root, out, false)
    }

    /// `quiet`: a union trying its branches; a misfit only needs to be
    /// known, not described, so its error costs no allocation.
    fn write(
        &self,
        json: &Json<'_>,
        schema: &Schema,
        path: Path<'_>,
        out: &mut Vec<u8>,
        quiet: bool,
    ) -> Result<(), FieldError> {
        let mismatch = || match quiet {
            true => FieldError::quiet(),
            false => FieldError {
                path: path.to_string(),
                problem: format!("expected {}, found {}", expected(schema), found(json)),
            },
        };
        match (schema, json) {
            (Schema::Null, Json::Null) => {}
            (Schema::Boolean, Json::Bool(b)) => out.push(*b as u8),
            (Schema::Int, Json::Number(n)) => long(
                out,
                n.as_i64()
                    .filter(|i| i32::try_from(*i).is_ok())
                    .ok_or_else(mismatch)?,
            ),
            (Schema::Long, Json::Number(n)) => long(out, n.as_i64().ok_or_else(mismatch)?),
            (Schema::Float, Json::Number(n)) => {
                out.extend_from_slice(&(n.as_f64().ok_or_else(mismatch)? as f32).to_le_bytes())
            }
            (Schema::Double, Json::Number(n)) => {
                out.extend_from_slice(&n.as_f64().ok_or_else(mismatch)?.to_le_bytes())
            }
            (Schema::String | Schema::Bytes, Json::String(s)) => bytes(out, s.as_bytes()),
            (Schema::Enum(e), Json::String(s)) => {
                let index = e
                    .symbols
                    .iter()
                    .position(|sym| sym.as_str() == s.as_ref())
                    .ok_or_else(mismatch)?;
                long(out, index as i64)
            }
            // Arrays and maps: one block of all items, then the empty block.
            (Schema::Array(a), Json::Array(items)) => {
                if !items.is_empty() {
                    long(out, items.len() as i64);
                    for (i, item) in items.iter().enumerate() {
                        self.write(item, &a.items, Path::Index(&path, i), out, quiet)?;
                    }
                }
                out.push(0);
            }
            (Schema::Map(m), Json::Object(entries)) => {
                if !entries.is_empty() {
                    long(out, entries.len() as i64);
                    for (k, v) in entries {
                        bytes(out, k.as_bytes());
                        self.write(v, &m.types, Path::Field(&path, k.as_ref()), out, quiet)?;
                    }
                }
                out.push(0);
            }
            (Schema::Record(r), Json::Object(_)) => {
                for field in &r.fields {
                    let at = Path::Field(&path, &field.name);
                    match (json.get(&field.name), &field.default) {
                        (Some(v), _) => self.write(v, &field.schema, at, out, quiet)?,
                        (None, Some(default)) => {
                            let default = Json::from_value(default);
                            self.write(&default, &field.schema, at, out, quiet)?
                        }
                        (None, None) if quiet => return Err(FieldError::quiet()),
                        (None, None) => {
                            return Err(FieldError {
                                path: at.to_string(),
                                problem: format!(
                                    "is missing (expected {})",
                                    expected(&field.schema)
                                ),
                            })
                        }
                    }
                }
            }
            (Schema::Union(u), _) => {
                // The first branch that takes the value, as Avro's JSON encoders pick.
                let mark = out.len();
                let taken = u.variants().iter().enumerate().any(|(i, variant)| {
                    long(out, i as i64);
                    let ok = self.write(json, variant, path, out, true).is_ok();
                    if !ok {
                        out.truncate(mark);
                    }
                    ok
                });
                if !taken {
                    return Err(mismatch());
                }
            }
            (Schema::Ref { name }, _) => {
                let target = self.names.get(name).ok_or_else(|| FieldError {
                    path: path.to_string(),
                    problem: format!(
                        "the schema refers to an undefined type {}",
                        name.fullname(None)
                    ),
                })?;
                self.write(json, target, path, out, quiet)?
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }
}

impl FieldError {
    /// A misfit inside a union's branch, never shown.
    fn quiet() -> Self {
        FieldError {
            path: String::new(),
            problem: String::new(),
        }
    }
}

/// An Avro `int` or `long`: zig-zag, then a base-128 varint.
fn long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push(z as u8 | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Avro `bytes` or `string`: the length, then the bytes.
fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    long(out, b.len() as i64);
    out.extend_from_slice(b);
}

/// The schema's type as a reader would say it.
fn expected(schema: &Schema) -> String {
    match schema {
        Schema::Null => "null".into(),
        Schema::Boolean => "a boolean".into(),
        Schema::Int => "an int".into(),
        Schema::Long => "a long".into(),
        Schema::Float | Schema::Double => "a number".into(),
        Schema::String | Schema::Bytes => "a string".into(),
        Schema::Enum(e) => format!("one of {}", e.symbols.join(", ")),
        Schema::Array(_) => "an array".into(),
        Schema::Map(_) | Schema::Record(_) => "an object".into(),
        Schema::Union(u) => u
            .variants()
            .iter()
            .map(expected)
            .collect::<Vec<_>>()
            .join(" or "),
        Schema::Ref { name } => format!("a {}", name.name),
        other => format!("{other:?} (not supported from JSON)"),
    }
}

/// A short description of a JSON value for messages.
fn found(json: &Json<'_>) -> String {
    match json {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => format!("the number {n}"),
        Json::String(s) if s.chars().count() > 40 => {
            format!("the string {:?}...", s.chars().take(40).collect::<String>())
        }
        Json::String(s) => format!("the string {s:?}"),
        Json::Array(a) => format!("an array of {}", a.len()),
        Json::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::types::Value;
    use serde_json::{json, Value as JsonValue};

    const SCHEMA: &str = r#"{"type": "record", "name": "R", "fields": [
        {"name": "postcode", "type": ["long", "string"]},
        {"name": "id", "type": {"type": "record", "name": "Id", "fields": [
            {"name": "value", "type": ["null", "string"]}]}},
        {"name": "again", "type": "Id"},
        {"name": "age", "type": "int"},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "note", "type": "string", "default": "none"}
    ]}"#;

    /// Encodes, and decodes again with apache-avro's own reader.
    fn convert(json: JsonValue) -> Result<Value, FieldError> {
        let schema = Schema::parse_str(SCHEMA).unwrap();
        let mut out = Vec::new();
        Converter::new(&schema)
            .unwrap()
            .encode(&Json::from_value(&json), &mut out)?;
        let mut body = &out[..];
        let value = apache_avro::from_avro_datum(&schema, &mut body, None).unwrap();
        assert!(body.is_empty(), "{} bytes left over", body.len());
        Ok(value)
    }

    fn ok() -> JsonValue {
        json!({"postcode": 75012, "id": {"value": null}, "again": {"value": "x"}, "age": 30, "tags": ["a"]})
    }

    #[test]
    fn converts_unions_refs_and_defaults() {
        let v = convert(ok()).unwrap();
        let Value::Record(fields) = v else { panic!() };
        assert_eq!(fields[0].1, Value::Union(0, Box::new(Value::Long(75012))));
        assert_eq!(
            fields[1].1,
            Value::Record(vec![(
                "value".into(),
                Value::Union(0, Box::new(Value::Null))
            )])
        );
        assert_eq!(
            fields[2].1,
            Value::Record(vec![(
                "value".into(),
                Value::Union(1, Box::new(Value::String("x".into())))
            )])
        );
        assert_eq!(fields[5].1, Value::String("none".into()));
        let mut text = ok();
        text["postcode"] = json!("SW1A 1AA");
        let Value::Record(fields) = convert(text).unwrap() else {
            panic!()
        };
        assert_eq!(
            fields[0].1,
            Value::Union(1, Box::new(Value::String("SW1A 1AA".into())))
        );
    }

    #[test]
    fn errors_name_the_field() {
        let mut j = ok();
        j["id"].as_object_mut().unwrap().remove("value");
        assert_eq!(
            convert(j).unwrap_err().to_string(),
            "id.value: is missing (expected null or a string)"
        );
        let mut j = ok();
        j["postcode"] = json!(true);
        assert_eq!(
            convert(j).unwrap_err().to_string(),
            "postcode: expected a long or a string, found true"
        );
        let mut j = ok();
        j["tags"] = json!(["a", 3]);
        assert_eq!(
            convert(j).unwrap_err().to_string(),
            "tags[1]: expected a string, found the number 3"
        );
        let mut j = ok();
        j["age"] = json!(5_000_000_000i64);
        assert_eq!(
            convert(j).unwrap_err().to_string(),
            "age: expected an int, found the number 5000000000"
        );
        assert_eq!(
            convert(json!([1])).unwrap_err().to_string(),
            "(root): expected an object, found an array of 1"
        );
    }

    #[test]
    fn bytes_are_what_apache_avro_writes() {
        let schema = Schema::parse_str(SCHEMA).unwrap();
        let mut j = ok();
        j["tags"] = json!([]);
        j["age"] = json!(-70_000);
        for j in [ok(), j] {
            let value = convert(j.clone()).unwrap();
            let theirs = apache_avro::to_avro_datum(&schema, value).unwrap();
            let mut ours = Vec::new();
            Converter::new(&schema)
                .unwrap()
                .encode(&Json::from_value(&j), &mut ours)
                .unwrap();
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn maps_enums_and_numbers_round_trip() {
        let schema = Schema::parse_str(
            r#"{"type": "record", "name": "M", "fields": [
                {"name": "m", "type": {"type": "map", "values": "long"}},
                {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["a", "b"]}},
                {"name": "d", "type": "double"},
                {"name": "f", "type": "float"},
                {"name": "b", "type": "boolean"},
                {"name": "big", "type": "long"}
            ]}"#,
        )
        .unwrap();
        let j = json!({"m": {"x": 1, "y": -2}, "e": "b", "d": 1.5, "f": 0.25, "b": true, "big": i64::MIN});
        let mut out = Vec::new();
        Converter::new(&schema)
            .unwrap()
            .encode(&Json::from_value(&j), &mut out)
            .unwrap();
        let back = apache_avro::from_avro_datum(&schema, &mut &out[..], None).unwrap();
        assert_eq!(serde_json::Value::try_from(back).unwrap(), j);
        let mut bad = j.clone();
        bad["e"] = json!("c");
        let err = Converter::new(&schema)
            .unwrap()
            .encode(&Json::from_value(&bad), &mut Vec::new());
        assert_eq!(
            err.unwrap_err().to_string(),
            "e: expected one of a, b, found the string \"c\""
        );
    }
}
