//! Typed, path-based access to a decoded record value.
//!
//! The host hands values over as a flat list of nodes (see the WIT
//! `value-tree`); [`Value`] is a cheap cursor into it. Lookups by dotted path
//! (`location.street.number`) return `Err(InputError)` naming the path, so a
//! transform can use `?` and still produce a bad-input outcome that says which
//! field is wrong.

use crate::{InputError, Node, ValueTree};

/// A cursor at one node of a [`ValueTree`].
#[derive(Clone, Copy)]
pub struct Value<'a> {
    nodes: &'a [Node],
    index: u32,
}

impl<'a> Value<'a> {
    /// The root of a tree. An empty tree reads as `null`.
    pub fn root(tree: &'a ValueTree) -> Self {
        Value {
            nodes: &tree.nodes,
            index: 0,
        }
    }

    /// The node under the cursor.
    pub fn node(&self) -> &'a Node {
        self.nodes.get(self.index as usize).unwrap_or(&Node::Null)
    }

    fn at(&self, index: u32) -> Value<'a> {
        Value {
            nodes: self.nodes,
            index,
        }
    }

    /// The member `name` of an object, if this is an object that has it.
    pub fn get(&self, name: &str) -> Option<Value<'a>> {
        match self.node() {
            Node::Object(fields) => fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| self.at(f.node)),
            _ => None,
        }
    }

    /// Follows a dotted path of object members (`login.uuid`).
    pub fn lookup(&self, path: &str) -> Option<Value<'a>> {
        path.split('.').try_fold(*self, |v, name| v.get(name))
    }

    /// The items of a list, or none if this is not a list.
    pub fn items(&self) -> Option<impl Iterator<Item = Value<'a>> + 'a> {
        let nodes = self.nodes;
        match self.node() {
            Node::List(items) => Some(items.iter().map(move |&i| Value { nodes, index: i })),
            _ => None,
        }
    }

    /// The fields of an object, in order, or none if this is not an object.
    pub fn fields(&self) -> Option<impl Iterator<Item = (&'a str, Value<'a>)> + 'a> {
        let nodes = self.nodes;
        match self.node() {
            Node::Object(fields) => Some(fields.iter().map(move |f| {
                (
                    f.name.as_str(),
                    Value {
                        nodes,
                        index: f.node,
                    },
                )
            })),
            _ => None,
        }
    }

    /// True for `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.node(), Node::Null)
    }

    /// The string, if this is text.
    pub fn as_str(&self) -> Option<&'a str> {
        match self.node() {
            Node::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self.node() {
            Node::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as a float, if this is an integer or a float.
    pub fn as_f64(&self) -> Option<f64> {
        match self.node() {
            Node::Integer(i) => Some(*i as f64),
            Node::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self.node() {
            Node::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// A scalar rendered as text: strings as they are, numbers and booleans in
    /// their usual notation. Useful for fields whose type varies by producer,
    /// like randomuser's postcode (a number in some countries, text in others).
    pub fn to_text(&self) -> Option<String> {
        match self.node() {
            Node::Text(s) => Some(s.clone()),
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
        match self.lookup(path) {
            Some(v) if !v.is_null() => Ok(v),
            Some(_) => Err(field_error(path, "is null")),
            None => Err(field_error(path, "is missing")),
        }
    }

    /// The text at `path`, or an error naming the field.
    pub fn require_str(&self, path: &str) -> Result<&'a str, InputError> {
        let v = self.require(path)?;
        v.as_str()
            .ok_or_else(|| field_error(path, &format!("must be text, found {}", v.kind())))
    }

    /// The scalar at `path` rendered as text (see [`Value::to_text`]).
    pub fn require_text(&self, path: &str) -> Result<String, InputError> {
        let v = self.require(path)?;
        v.to_text().ok_or_else(|| {
            field_error(
                path,
                &format!("must be text or a number, found {}", v.kind()),
            )
        })
    }
}

/// An input error blaming `path`: "`path` is missing".
pub fn field_error(path: &str, what: &str) -> InputError {
    InputError {
        field: Some(path.to_string()),
        message: format!("field `{path}` {what}"),
    }
}
