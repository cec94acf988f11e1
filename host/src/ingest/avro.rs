//! JSON to an Avro value, checked against a schema as it goes, with errors
//! that name the field ("location.postcode: expected long or string, found true").

use apache_avro::schema::{Name, ResolvedSchema, Schema};
use apache_avro::types::Value;
use serde_json::Value as Json;
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

    /// The Avro value of `json`, or the first place it does not fit.
    pub fn convert(&self, json: &Json) -> Result<Value, FieldError> {
        self.value(json, self.root, Path::Root)
    }

    fn value(&self, json: &Json, schema: &Schema, path: Path<'_>) -> Result<Value, FieldError> {
        let mismatch = || FieldError {
            path: path.to_string(),
            problem: format!("expected {}, found {}", expected(schema), found(json)),
        };
        Ok(match (schema, json) {
            (Schema::Null, Json::Null) => Value::Null,
            (Schema::Boolean, Json::Bool(b)) => Value::Boolean(*b),
            (Schema::Int, Json::Number(n)) => Value::Int(
                n.as_i64()
                    .and_then(|i| i32::try_from(i).ok())
                    .ok_or_else(mismatch)?,
            ),
            (Schema::Long, Json::Number(n)) => Value::Long(n.as_i64().ok_or_else(mismatch)?),
            (Schema::Float, Json::Number(n)) => {
                Value::Float(n.as_f64().ok_or_else(mismatch)? as f32)
            }
            (Schema::Double, Json::Number(n)) => Value::Double(n.as_f64().ok_or_else(mismatch)?),
            (Schema::String, Json::String(s)) => Value::String(s.clone()),
            (Schema::Bytes, Json::String(s)) => Value::Bytes(s.clone().into_bytes()),
            (Schema::Enum(e), Json::String(s)) => {
                let index = e
                    .symbols
                    .iter()
                    .position(|sym| sym == s)
                    .ok_or_else(mismatch)?;
                Value::Enum(index as u32, s.clone())
            }
            (Schema::Array(a), Json::Array(items)) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.value(item, &a.items, Path::Index(&path, i)))
                    .collect::<Result<_, _>>()?,
            ),
            (Schema::Map(m), Json::Object(entries)) => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.value(v, &m.types, Path::Field(&path, k))?)))
                    .collect::<Result<_, FieldError>>()?,
            ),
            (Schema::Record(r), Json::Object(entries)) => {
                let mut fields = Vec::with_capacity(r.fields.len());
                for field in &r.fields {
                    let at = Path::Field(&path, &field.name);
                    let value = match (entries.get(&field.name), &field.default) {
                        (Some(v), _) => self.value(v, &field.schema, at)?,
                        (None, Some(default)) => self.value(default, &field.schema, at)?,
                        (None, None) => {
                            return Err(FieldError {
                                path: at.to_string(),
                                problem: format!(
                                    "is missing (expected {})",
                                    expected(&field.schema)
                                ),
                            })
                        }
                    };
                    fields.push((field.name.clone(), value));
                }
                Value::Record(fields)
            }
            (Schema::Union(u), _) => {
                // The first branch that takes the value, as Avro's JSON encoders pick.
                let branch =
                    u.variants().iter().enumerate().find_map(|(i, variant)| {
                        self.value(json, variant, path).ok().map(|v| (i, v))
                    });
                match branch {
                    Some((i, v)) => Value::Union(i as u32, Box::new(v)),
                    None => return Err(mismatch()),
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
                self.value(json, target, path)?
            }
            _ => return Err(mismatch()),
        })
    }
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
fn found(json: &Json) -> String {
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
    use serde_json::json;

    const SCHEMA: &str = r#"{"type": "record", "name": "R", "fields": [
        {"name": "postcode", "type": ["long", "string"]},
        {"name": "id", "type": {"type": "record", "name": "Id", "fields": [
            {"name": "value", "type": ["null", "string"]}]}},
        {"name": "again", "type": "Id"},
        {"name": "age", "type": "int"},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "note", "type": "string", "default": "none"}
    ]}"#;

    fn convert(json: Json) -> Result<Value, FieldError> {
        let schema = Schema::parse_str(SCHEMA).unwrap();
        Converter::new(&schema).unwrap().convert(&json)
    }

    fn ok() -> Json {
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
    fn values_encode_with_apache_avro() {
        let schema = Schema::parse_str(SCHEMA).unwrap();
        let value = Converter::new(&schema).unwrap().convert(&ok()).unwrap();
        let bytes = apache_avro::to_avro_datum(&schema, value.clone()).unwrap();
        let back = apache_avro::from_avro_datum(&schema, &mut &bytes[..], None).unwrap();
        assert_eq!(back, value);
    }
}
