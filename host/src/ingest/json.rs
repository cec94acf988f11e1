//! A user's JSON as the encoder reads it: borrowed from the API's answer
//! (a string is copied only when it has escapes), objects as lists of
//! fields. `serde_json::Value` built a BTreeMap and a copy of every string
//! per user only for the encoder to walk it once.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;
use std::borrow::Cow;
use std::fmt;

/// A JSON value borrowing its strings from the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    /// Fields in the order given.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// The field `key` of an object; the last one, should it repeat (as serde_json keeps).
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(fields) => fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// An owned copy of a `serde_json::Value` (a schema's field defaults).
    pub fn from_value(value: &serde_json::Value) -> Json<'static> {
        use serde_json::Value as V;
        match value {
            V::Null => Json::Null,
            V::Bool(b) => Json::Bool(*b),
            V::Number(n) => Json::Number(n.clone()),
            V::String(s) => Json::String(Cow::Owned(s.clone())),
            V::Array(items) => Json::Array(items.iter().map(Json::from_value).collect()),
            V::Object(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(k, v)| (Cow::Owned(k.clone()), Json::from_value(v)))
                    .collect(),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Json::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Json::Number(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Self::Value, E> {
        // JSON has no NaN or infinity; serde_json never hands one over.
        Ok(Number::from_f64(n).map_or(Json::Null, Json::Number))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(s.to_string())))
    }
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some((key, value)) = map.next_entry::<Key<'de>, Json<'de>>()? {
            fields.push((key.0, value));
        }
        Ok(Json::Object(fields))
    }
}

/// An object's key, borrowed unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Json::deserialize(deserializer)? {
            Json::String(s) => Ok(Key(s)),
            _ => Err(serde::de::Error::custom("an object key is not a string")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_borrowed_unless_escaped_and_values_match_serde_json() {
        let text = r#"{"a": "plain", "b": "esc\"aped", "n": [1, -2, 1.5, 18446744073709551615], "z": null, "t": true, "a": "last"}"#;
        let json: Json = serde_json::from_str(text).unwrap();
        let Json::Object(fields) = &json else {
            panic!("{json:?}")
        };
        assert!(matches!(&fields[0].1, Json::String(Cow::Borrowed("plain"))));
        assert!(matches!(&fields[1].1, Json::String(Cow::Owned(s)) if s == "esc\"aped"));
        assert_eq!(json.get("a").and_then(Json::as_str), Some("last"));
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(json.get("n"), Some(&Json::from_value(&value["n"])));
        assert_eq!(json.get("z"), Some(&Json::Null));
        assert_eq!(json.get("t"), Some(&Json::Bool(true)));
    }
}
