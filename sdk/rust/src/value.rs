//! Typed, path-based access to a decoded record value.
//!
//! The host hands a value over packed in one buffer (the WIT `packed-value`,
//! crates/packed); [`Value`] is a cheap cursor into it that reads nodes and
//! strings in place, without copying. Lookups by dotted path
//! (`location.street.number`) return `Err(InputError)` naming the path, so a
//! transform can use `?` and still produce a bad-input outcome that says which
//! field is wrong.

use crate::InputError;
use sluice_packed::{Node, Packed};

/// A cursor at one node of a packed value.
#[derive(Clone, Copy)]
pub struct Value<'a> {
    packed: Packed<'a>,
    index: u32,
}

impl<'a> Value<'a> {
    /// The root of a packed value (an input record's `value`). A buffer that
    /// is not a packed value (or is empty) reads as `null`.
    pub fn root(value: &'a [u8]) -> Self {
        Value {
            packed: Packed::new(value).unwrap_or(Packed::empty()),
            index: 0,
        }
    }

    /// The node under the cursor.
    pub fn node(&self) -> Node<'a> {
        self.packed.node(self.index)
    }

    fn at(&self, index: u32) -> Value<'a> {
        Value {
            packed: self.packed,
            index,
        }
    }

    /// The member `name` of an object, if this is an object that has it.
    pub fn get(&self, name: &str) -> Option<Value<'a>> {
        self.packed
            .member(self.index, name.as_bytes())
            .map(|i| self.at(i))
    }

    /// Follows a dotted path of object members (`login.uuid`).
    pub fn lookup(&self, path: &str) -> Option<Value<'a>> {
        // Bytes, not `split('.')` or `str` slices: its memchr costs more
        // than the search on names this short, and each slice checks a char
        // boundary, in a Wasm guest most of all.
        let (mut index, mut rest) = (self.index, path.as_bytes());
        while let Some(dot) = first_dot(rest) {
            index = self.packed.member(index, &rest[..dot])?;
            rest = &rest[dot + 1..];
        }
        self.packed.member(index, rest).map(|i| self.at(i))
    }

    /// The items of a list, or none if this is not a list.
    pub fn items(&self) -> Option<impl Iterator<Item = Value<'a>> + 'a> {
        let this = *self;
        match self.node() {
            Node::List(items) => Some(items.iter().map(move |i| this.at(i))),
            _ => None,
        }
    }

    /// The fields of an object, in order, or none if this is not an object.
    pub fn fields(&self) -> Option<impl Iterator<Item = (&'a str, Value<'a>)> + 'a> {
        let this = *self;
        match self.node() {
            Node::Object(fields) => Some(fields.iter().map(move |(name, i)| (name, this.at(i)))),
            _ => None,
        }
    }

    /// True for `null`.
    pub fn is_null(&self) -> bool {
        self.packed.is_null(self.index)
    }

    /// The bytes, if this is an Avro `bytes` or `fixed` value.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self.node() {
            Node::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The string, if this is text.
    pub fn as_str(&self) -> Option<&'a str> {
        self.packed.text_of(self.index)
    }

    /// The integer, if this is an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self.node() {
            Node::Integer(i) => Some(i),
            _ => None,
        }
    }

    /// The number as a float, if this is an integer or a float.
    pub fn as_f64(&self) -> Option<f64> {
        match self.node() {
            Node::Integer(i) => Some(i as f64),
            Node::Float(f) => Some(f),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self.node() {
            Node::Boolean(b) => Some(b),
            _ => None,
        }
    }

    /// A scalar rendered as text: strings as they are, numbers and booleans in
    /// their usual notation. Useful for fields whose type varies by producer,
    /// like randomuser's postcode (a number in some countries, text in others).
    pub fn to_text(&self) -> Option<String> {
        match self.node() {
            Node::Text(s) => Some(s.to_string()),
            Node::Integer(i) => Some(i.to_string()),
            Node::Float(f) => Some(f.to_string()),
            Node::Boolean(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A short name of the node's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self.node() {
            Node::Null => "null",
            Node::Boolean(_) => "boolean",
            Node::Integer(_) => "integer",
            Node::Float(_) => "float",
            Node::Text(_) => "text",
            Node::Bytes(_) => "bytes",
            Node::List(_) => "list",
            Node::Object(_) => "object",
        }
    }

    /// The value at `path`, or an error naming the missing field.
    pub fn require(&self, path: &str) -> Result<Value<'a>, InputError> {
        let v = self.found(path)?;
        if v.is_null() {
            Err(field_error(path, "is null"))
        } else {
            Ok(v)
        }
    }

    /// The text at `path`, or an error naming the field.
    pub fn require_str(&self, path: &str) -> Result<&'a str, InputError> {
        // Text, the common case, is read once; only a miss asks why.
        let v = self.found(path)?;
        v.as_str().ok_or_else(|| not(path, v, "text"))
    }

    /// The scalar at `path` rendered as text (see [`Value::to_text`]).
    pub fn require_text(&self, path: &str) -> Result<String, InputError> {
        let v = self.found(path)?;
        v.to_text().ok_or_else(|| not(path, v, "text or a number"))
    }

    /// The value at `path`, null or not, or an error saying it is missing.
    fn found(&self, path: &str) -> Result<Value<'a>, InputError> {
        self.lookup(path)
            .ok_or_else(|| field_error(path, "is missing"))
    }
}

/// The error for a value at `path` that is not what was asked: null, or of
/// another kind.
fn not(path: &str, v: Value<'_>, wanted: &str) -> InputError {
    if v.is_null() {
        field_error(path, "is null")
    } else {
        field_error(path, &format!("must be {wanted}, found {}", v.kind()))
    }
}

/// The index of the first `.` in `b`, eight bytes per step: in a Wasm guest
/// every turn of a loop also checks whether the call's deadline has passed,
/// and a byte loop over a path was a third of a lookup's time.
fn first_dot(b: &[u8]) -> Option<usize> {
    const DOTS: u64 = u64::from_ne_bytes([b'.'; 8]);
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut words = b.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let w = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]) ^ DOTS;
        // A byte of `w` is zero where `b` has a dot; the lowest such byte
        // sets the lowest flagged bit (the classic has-zero-byte test).
        let zero = w.wrapping_sub(ONES) & !w & HIGH;
        if zero != 0 {
            return Some(at + zero.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&c| c == b'.')
        .map(|i| at + i)
}

/// An input error blaming `path`: "`path` is missing".
pub fn field_error(path: &str, what: &str) -> InputError {
    InputError {
        field: Some(path.to_string()),
        message: format!("field `{path}` {what}"),
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::Value;
    use crate::testing::packed_from_json;

    #[test]
    fn the_first_dot_is_found_in_every_position_and_beside_any_byte() {
        for len in 0..24 {
            for dot in 0..len {
                for filler in [b'a', b'.' ^ 0x80, 0x2d, 0x2f, 0xff, 0] {
                    let mut b = vec![filler; len];
                    b[dot] = b'.';
                    if dot + 1 < len {
                        b[dot + 1] = b'.';
                    }
                    assert_eq!(super::first_dot(&b), Some(dot), "{b:?}");
                }
            }
            assert_eq!(super::first_dot(&vec![b'x'; len]), None);
        }
    }

    #[test]
    fn a_dotted_path_follows_object_members() {
        let buf = packed_from_json(&serde_json::json!({
            "location": {"street": {"number": 7, "name": "Rue"}, "city": "Lyon"},
            "loc": 1,
            "": {"x": 2}
        }));
        let v = Value::root(&buf);
        assert_eq!(
            v.lookup("location.street.number").and_then(|v| v.as_i64()),
            Some(7)
        );
        assert_eq!(
            v.lookup("location.city").and_then(|v| v.as_str()),
            Some("Lyon")
        );
        assert_eq!(v.lookup("loc").and_then(|v| v.as_i64()), Some(1));
        // An empty segment names a member called "" (as `split('.')` did).
        assert_eq!(v.lookup(".x").and_then(|v| v.as_i64()), Some(2));
        for missing in [
            "location.street.number.x",
            "location.",
            "location..city",
            "locatio",
            "x",
        ] {
            assert!(v.lookup(missing).is_none(), "{missing}");
        }
        assert!(v
            .lookup("location.street")
            .is_some_and(|s| s.get("name").is_some()));
    }
}
