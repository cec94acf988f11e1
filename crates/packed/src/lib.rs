//! The packed value layout of `sluice:transform@0.2.0` and later; [`rows`]
//! is the packed row layout of 0.3.0.
//!
//! A record value crosses into a plugin as one byte buffer: the host lowers
//! one `list<u8>` (one guest allocation, one copy) instead of a tree of
//! variants with one guest allocation per string, and the plugin reads nodes
//! and strings in place, without copying or parsing. The layout, all
//! integers little-endian (docs/packed-values.md has the same table):
//!
//! | section | size | contents |
//! |---|---|---|
//! | header | 24 | magic `SLV1`, then u32 counts: nodes N, list items R, object fields F, text bytes T, bytes bytes B |
//! | nodes | 16 N | per node: kind u8, 3 zero bytes, len u32, data u64 |
//! | list items | 4 R | u32 node indices |
//! | fields | 12 F | per field: name offset u32 and length u32 in the text section, value node u32 |
//! | text | T | every string and field name, UTF-8 |
//! | bytes | B | every `bytes` value |
//!
//! Node kinds: 0 null, 1 boolean (data 0 or 1), 2 integer (data is the i64),
//! 3 float (data is the f64's bits), 4 text (data = offset in text, len =
//! its bytes), 5 bytes (data = offset in bytes, len), 6 list (data = index
//! of its first item in list items, len = item count), 7 object (data =
//! index of its first field, len = field count). The root is node 0;
//! children come after their parent. The sections add up to the buffer's
//! length exactly.
//!
//! [`Packer`] writes a buffer; [`Packed`] reads one. The reader checks the
//! header and the text's UTF-8 once, then every access is bounds-checked:
//! a reference out of range reads as `null`, never as a panic.

#![no_std]
extern crate alloc;

pub mod rows;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The first four bytes of every packed value: the layout's name and version.
pub const MAGIC: [u8; 4] = *b"SLV1";
const HEADER: usize = 24;
const NODE: usize = 16;
const FIELD: usize = 12;

const NULL: u8 = 0;
const BOOLEAN: u8 = 1;
const INTEGER: u8 = 2;
const FLOAT: u8 = 3;
const TEXT: u8 = 4;
const BYTES: u8 = 5;
const LIST: u8 = 6;
const OBJECT: u8 = 7;

/// Why a buffer is not a packed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// It does not start with [`MAGIC`] (or is shorter than a header).
    NotPacked,
    /// The header's counts do not add up to the buffer's length.
    Length { expected: u64, found: usize },
    /// The text section is not UTF-8.
    Text,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotPacked => f.write_str("not a packed value: it does not start with SLV1"),
            Error::Length { expected, found } => write!(
                f,
                "packed value is {found} bytes but its header describes {expected}"
            ),
            Error::Text => f.write_str("packed value's text section is not UTF-8"),
        }
    }
}

/// One node of a packed value, borrowed from the buffer.
#[derive(Clone, Copy, Debug)]
pub enum Node<'a> {
    Null,
    Boolean(bool),
    Integer(i64),
    Float(f64),
    Text(&'a str),
    Bytes(&'a [u8]),
    List(List<'a>),
    Object(Object<'a>),
}

/// A read-only view of a packed value. Cheap to copy: it only holds slices.
#[derive(Clone, Copy)]
pub struct Packed<'a> {
    nodes: &'a [u8],
    items: &'a [u8],
    fields: &'a [u8],
    text: &'a str,
    bytes: &'a [u8],
}

impl fmt::Debug for Packed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Packed({} nodes)", self.len())
    }
}

#[inline]
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl<'a> Packed<'a> {
    /// Checks the header and the text section, and gives a view of `buf`.
    pub fn new(buf: &'a [u8]) -> Result<Self, Error> {
        if buf.len() < HEADER || buf[..4] != MAGIC {
            return Err(Error::NotPacked);
        }
        let count = |i: usize| u32_at(buf, 4 + 4 * i).unwrap_or(0) as u64;
        let (n, r, f, t, b) = (count(0), count(1), count(2), count(3), count(4));
        let sizes = [n * NODE as u64, r * 4, f * FIELD as u64, t, b];
        let expected = HEADER as u64 + sizes.iter().sum::<u64>();
        if expected != buf.len() as u64 {
            return Err(Error::Length {
                expected,
                found: buf.len(),
            });
        }
        let mut at = HEADER;
        let mut section = |size: u64| {
            let s = &buf[at..at + size as usize];
            at += size as usize;
            s
        };
        let nodes = section(sizes[0]);
        let items = section(sizes[1]);
        let fields = section(sizes[2]);
        let text = core::str::from_utf8(section(sizes[3])).map_err(|_| Error::Text)?;
        let bytes = section(sizes[4]);
        Ok(Packed {
            nodes,
            items,
            fields,
            text,
            bytes,
        })
    }

    /// A view with no nodes: its root reads as `null`.
    pub const fn empty() -> Self {
        Packed {
            nodes: &[],
            items: &[],
            fields: &[],
            text: "",
            bytes: &[],
        }
    }

    /// The number of nodes.
    pub fn len(&self) -> u32 {
        (self.nodes.len() / NODE) as u32
    }

    /// True when there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `index`; `null` when out of range or malformed.
    pub fn node(&self, index: u32) -> Node<'a> {
        self.try_node(index).unwrap_or(Node::Null)
    }

    /// Node `index`'s kind, len and data, read with one bounds check.
    #[inline]
    fn raw(&self, index: u32) -> Option<(u8, u32, u64)> {
        let at = index as usize * NODE;
        let n: &[u8; NODE] = self.nodes.get(at..at.checked_add(NODE)?)?.try_into().ok()?;
        let len = u32::from_le_bytes([n[4], n[5], n[6], n[7]]);
        let data = u64::from_le_bytes([n[8], n[9], n[10], n[11], n[12], n[13], n[14], n[15]]);
        Some((n[0], len, data))
    }

    /// The node index of member `name` of node `index`, if that node is an
    /// object that has it. What [`Packed::node`] and [`Object::get`] do
    /// together, without building the [`Node`]: lookups are most of a
    /// transform's reading, and in a Wasm guest every `Node` built is a
    /// copy of this view through linear memory.
    #[inline]
    pub fn member(&self, index: u32, name: &[u8]) -> Option<u32> {
        match self.raw(index)? {
            (OBJECT, len, start) => self.find_field(u32::try_from(start).ok()?, len, name),
            _ => None,
        }
    }

    /// True when node `index` is `null` (or out of range, as [`Packed::node`] reads it).
    #[inline]
    pub fn is_null(&self, index: u32) -> bool {
        match self.raw(index) {
            Some((NULL, _, _)) | None => true,
            Some((BOOLEAN | INTEGER | FLOAT, _, _)) => false,
            Some((TEXT, _, _)) => self.text_of(index).is_none(),
            // Containers, bytes and unknown kinds: whatever `node` makes of them.
            Some(_) => matches!(self.node(index), Node::Null),
        }
    }

    /// The text of node `index`, if it is text (as [`Packed::node`] gives it).
    #[inline]
    pub fn text_of(&self, index: u32) -> Option<&'a str> {
        match self.raw(index)? {
            (TEXT, len, offset) => {
                let start = usize::try_from(offset).ok()?;
                self.text.get(start..start.checked_add(len as usize)?)
            }
            _ => None,
        }
    }

    /// The node index of the first of the `len` fields from `start` called `name`.
    fn find_field(&self, start: u32, len: u32, want: &[u8]) -> Option<u32> {
        // Compare the stored length first and touch the text only for a
        // field of the same length, as bytes (the text is UTF-8, checked
        // once, so equal bytes are an equal name).
        let from = start as usize * FIELD;
        let to = from.checked_add(len as usize * FIELD)?;
        let Some(fields) = self.fields.get(from..to) else {
            // A range past the section: the fields that are there, in order.
            let object = Object {
                packed: *self,
                start,
                len,
            };
            return object
                .iter()
                .find(|(n, _)| n.as_bytes() == want)
                .map(|(_, node)| node);
        };
        let text = self.text.as_bytes();
        for field in fields.chunks_exact(FIELD) {
            let field: &[u8; FIELD] = field.try_into().ok()?;
            let len = u32::from_le_bytes([field[4], field[5], field[6], field[7]]) as usize;
            if len != want.len() {
                continue;
            }
            let offset = u32::from_le_bytes([field[0], field[1], field[2], field[3]]) as usize;
            if text
                .get(offset..offset.checked_add(len)?)
                .is_some_and(|n| same(n, want))
            {
                return Some(u32::from_le_bytes([
                    field[8], field[9], field[10], field[11],
                ]));
            }
        }
        None
    }

    fn try_node(&self, index: u32) -> Option<Node<'a>> {
        let (kind, len, data) = self.raw(index)?;
        let range = |data: u64| {
            let start = usize::try_from(data).ok()?;
            Some(start..start.checked_add(len as usize)?)
        };
        Some(match kind {
            NULL => Node::Null,
            BOOLEAN => Node::Boolean(data != 0),
            INTEGER => Node::Integer(data as i64),
            FLOAT => Node::Float(f64::from_bits(data)),
            TEXT => Node::Text(self.text.get(range(data)?)?),
            BYTES => Node::Bytes(self.bytes.get(range(data)?)?),
            LIST => Node::List(List {
                packed: *self,
                start: u32::try_from(data).ok()?,
                len,
            }),
            OBJECT => Node::Object(Object {
                packed: *self,
                start: u32::try_from(data).ok()?,
                len,
            }),
            _ => return None,
        })
    }

    fn item(&self, index: u32) -> Option<u32> {
        u32_at(self.items, index as usize * 4)
    }

    fn field(&self, index: u32) -> Option<(&'a str, u32)> {
        let at = index as usize * FIELD;
        let offset = u32_at(self.fields, at)? as usize;
        let len = u32_at(self.fields, at + 4)? as usize;
        let node = u32_at(self.fields, at + 8)?;
        Some((self.text.get(offset..offset.checked_add(len)?)?, node))
    }
}

/// Byte equality of two names without a loop for names of up to 8 bytes
/// (most field names): in a Wasm guest every turn of a loop also checks the
/// call's deadline, and `==` on slices is a byte loop there.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let four = |s: &[u8], i: usize| u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
    let eight = |s: &[u8], i: usize| {
        u64::from_le_bytes([
            s[i],
            s[i + 1],
            s[i + 2],
            s[i + 3],
            s[i + 4],
            s[i + 5],
            s[i + 6],
            s[i + 7],
        ])
    };
    match n {
        0 => true,
        // Bytes 0, n/2 and n-1 are every byte of a name this short.
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        // The first four and the last four (overlapping) are all of it.
        4..=8 => four(a, 0) == four(b, 0) && four(a, n - 4) == four(b, n - 4),
        _ => {
            let mut i = 0;
            while i + 8 < n {
                if eight(a, i) != eight(b, i) {
                    return false;
                }
                i += 8;
            }
            eight(a, n - 8) == eight(b, n - 8)
        }
    }
}

/// The items of a list node: node indices, in order.
#[derive(Clone, Copy)]
pub struct List<'a> {
    packed: Packed<'a>,
    start: u32,
    len: u32,
}

impl fmt::Debug for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "List({} items)", self.len)
    }
}

impl<'a> List<'a> {
    /// The number of items.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True for an empty list.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The node index of item `i`.
    pub fn get(&self, i: u32) -> Option<u32> {
        if i >= self.len {
            return None;
        }
        self.packed.item(self.start.checked_add(i)?)
    }

    /// The node indices of the items.
    pub fn iter(&self) -> impl Iterator<Item = u32> + 'a {
        let list = *self;
        (0..self.len).map_while(move |i| list.get(i))
    }
}

/// The fields of an object node: names and node indices, in order.
#[derive(Clone, Copy)]
pub struct Object<'a> {
    packed: Packed<'a>,
    start: u32,
    len: u32,
}

impl fmt::Debug for Object<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Object({} fields)", self.len)
    }
}

impl<'a> Object<'a> {
    /// The number of fields.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True for an object without fields.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The fields, in order: name and node index.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, u32)> + 'a {
        let object = *self;
        (0..self.len).map_while(move |i| object.packed.field(object.start.checked_add(i)?))
    }

    /// The node index of the first field called `name`.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.packed
            .find_field(self.start, self.len, name.as_bytes())
    }
}

/// Writes a packed value, node by node in index order: each call appends
/// the next node and returns its index. A container names its children by
/// index, so a writer reserves the indices of children it has yet to write
/// (as a tree in pre-order does: a node's children follow it).
#[derive(Default)]
pub struct Packer {
    nodes: Vec<u8>,
    items: Vec<u8>,
    fields: Vec<u8>,
    text: String,
    bytes: Vec<u8>,
}

impl Packer {
    /// An empty packer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty packer with room for `nodes` nodes and `text` bytes of text.
    pub fn with_capacity(nodes: usize, text: usize) -> Self {
        Packer {
            nodes: Vec::with_capacity(nodes * NODE),
            items: Vec::new(),
            fields: Vec::with_capacity(nodes * FIELD),
            text: String::with_capacity(text),
            bytes: Vec::new(),
        }
    }

    fn push(&mut self, kind: u8, len: u32, data: u64) -> u32 {
        let index = (self.nodes.len() / NODE) as u32;
        self.nodes.extend_from_slice(&[kind, 0, 0, 0]);
        self.nodes.extend_from_slice(&len.to_le_bytes());
        self.nodes.extend_from_slice(&data.to_le_bytes());
        index
    }

    fn put_text(&mut self, s: &str) -> (u32, u64) {
        let offset = self.text.len() as u64;
        self.text.push_str(s);
        (s.len() as u32, offset)
    }

    pub fn null(&mut self) -> u32 {
        self.push(NULL, 0, 0)
    }

    pub fn boolean(&mut self, b: bool) -> u32 {
        self.push(BOOLEAN, 0, b as u64)
    }

    pub fn integer(&mut self, i: i64) -> u32 {
        self.push(INTEGER, 0, i as u64)
    }

    pub fn float(&mut self, f: f64) -> u32 {
        self.push(FLOAT, 0, f.to_bits())
    }

    pub fn text(&mut self, s: &str) -> u32 {
        let (len, offset) = self.put_text(s);
        self.push(TEXT, len, offset)
    }

    pub fn bytes(&mut self, b: &[u8]) -> u32 {
        let offset = self.bytes.len() as u64;
        self.bytes.extend_from_slice(b);
        self.push(BYTES, b.len() as u32, offset)
    }

    /// A list of the nodes `items`.
    pub fn list(&mut self, items: impl IntoIterator<Item = u32>) -> u32 {
        let start = (self.items.len() / 4) as u64;
        for i in items {
            self.items.extend_from_slice(&i.to_le_bytes());
        }
        let len = (self.items.len() / 4) as u64 - start;
        self.push(LIST, len as u32, start)
    }

    /// An object of `fields`: names and value nodes, in order.
    pub fn object<'s>(&mut self, fields: impl IntoIterator<Item = (&'s str, u32)>) -> u32 {
        let start = (self.fields.len() / FIELD) as u64;
        for (name, node) in fields {
            let (len, offset) = self.put_text(name);
            self.fields
                .extend_from_slice(&(offset as u32).to_le_bytes());
            self.fields.extend_from_slice(&len.to_le_bytes());
            self.fields.extend_from_slice(&node.to_le_bytes());
        }
        let len = (self.fields.len() / FIELD) as u64 - start;
        self.push(OBJECT, len as u32, start)
    }

    /// The buffer: header and sections.
    pub fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            HEADER
                + self.nodes.len()
                + self.items.len()
                + self.fields.len()
                + self.text.len()
                + self.bytes.len(),
        );
        out.extend_from_slice(&MAGIC);
        for n in [
            self.nodes.len() / NODE,
            self.items.len() / 4,
            self.fields.len() / FIELD,
            self.text.len(),
            self.bytes.len(),
        ] {
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        out.extend_from_slice(&self.nodes);
        out.extend_from_slice(&self.items);
        out.extend_from_slice(&self.fields);
        out.extend_from_slice(self.text.as_bytes());
        out.extend_from_slice(&self.bytes);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_agrees_with_slice_equality_at_every_length_and_position() {
        for n in 0..40usize {
            let a: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
            assert!(same(&a, &a.clone()), "{n}");
            for i in 0..n {
                for flip in [1u8, 0x80, 0xff] {
                    let mut b = a.clone();
                    b[i] ^= flip;
                    assert!(!same(&a, &b), "length {n}, byte {i}");
                }
            }
            assert!(!same(&a, &a[..n.saturating_sub(1)]) || n == 0);
        }
    }

    /// {"name": "Zoë", "n": 7, "tags": ["a", true, null], "raw": b"\x01", "x": 1.5}
    fn sample() -> Vec<u8> {
        let mut p = Packer::new();
        // Root first, its children reserved at indices 1..=5, the list's at 6..=8.
        let root = p.object([("name", 1), ("n", 2), ("tags", 3), ("raw", 4), ("x", 5)]);
        assert_eq!(root, 0);
        p.text("Zoë");
        p.integer(7);
        p.list([6, 7, 8]);
        p.bytes(&[1]);
        p.float(1.5);
        p.text("a");
        p.boolean(true);
        p.null();
        p.finish()
    }

    #[test]
    fn reads_back_what_was_written() {
        let buf = sample();
        let v = Packed::new(&buf).unwrap();
        assert_eq!(v.len(), 9);
        let Node::Object(root) = v.node(0) else {
            panic!("root is not an object")
        };
        let names: Vec<&str> = root.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["name", "n", "tags", "raw", "x"]);
        assert!(matches!(
            v.node(root.get("name").unwrap()),
            Node::Text("Zoë")
        ));
        assert!(matches!(v.node(root.get("n").unwrap()), Node::Integer(7)));
        assert!(matches!(v.node(root.get("x").unwrap()), Node::Float(f) if f == 1.5));
        assert!(matches!(v.node(root.get("raw").unwrap()), Node::Bytes([1])));
        let Node::List(tags) = v.node(root.get("tags").unwrap()) else {
            panic!("tags is not a list")
        };
        let kinds: Vec<_> = tags.iter().map(|i| v.node(i)).collect();
        assert!(matches!(
            kinds[..],
            [Node::Text("a"), Node::Boolean(true), Node::Null]
        ));
        assert_eq!(root.get("missing"), None);
        assert_eq!(tags.get(3), None);
    }

    #[test]
    fn the_fast_paths_agree_with_node() {
        let buf = sample();
        let v = Packed::new(&buf).unwrap();
        for index in 0..v.len() + 2 {
            assert_eq!(
                v.is_null(index),
                matches!(v.node(index), Node::Null),
                "is_null of node {index}"
            );
            let text = match v.node(index) {
                Node::Text(s) => Some(s),
                _ => None,
            };
            assert_eq!(v.text_of(index), text, "text_of node {index}");
            for name in ["name", "n", "tags", "raw", "x", "nam", "", "missing"] {
                let want = match v.node(index) {
                    Node::Object(o) => o.get(name),
                    _ => None,
                };
                assert_eq!(v.member(index, name.as_bytes()), want, "{name} of {index}");
            }
        }
        // Names longer than a word compare in words, then the rest.
        let mut p = Packer::new();
        p.object([
            ("registered_at", 1),
            ("registered_on", 2),
            ("registered", 3),
        ]);
        for i in 0..3 {
            p.integer(i);
        }
        let buf = p.finish();
        let v = Packed::new(&buf).unwrap();
        assert_eq!(v.member(0, b"registered_on"), Some(2));
        assert_eq!(v.member(0, b"registered_at"), Some(1));
        assert_eq!(v.member(0, b"registered"), Some(3));
        assert_eq!(v.member(0, b"registered_ox"), None);
    }

    #[test]
    fn member_finds_the_first_field_of_a_name_at_every_position() {
        // Objects of 0 to 13 fields (names compare in words past 8 bytes),
        // names of 1 to 13 bytes, some repeated: the first of a name wins.
        let names = [
            "a",
            "id",
            "dob",
            "name",
            "email",
            "gender",
            "picture",
            "location",
            "registered",
            "id",
            "x_y_z_w_v_u_t",
            "name",
            "nat",
        ];
        for n in 0..=names.len() {
            let mut p = Packer::new();
            p.object(names[..n].iter().copied().zip(1u32..));
            for i in 0..n {
                p.integer(i as i64);
            }
            let buf = p.finish();
            let v = Packed::new(&buf).unwrap();
            let Node::Object(o) = v.node(0) else { panic!() };
            for want in names
                .iter()
                .chain(&["", "nam", "names", "registereds", "zz"])
            {
                let first = o.iter().find(|(name, _)| name == want).map(|(_, i)| i);
                assert_eq!(
                    v.member(0, want.as_bytes()),
                    first,
                    "{want} among {n} fields"
                );
            }
        }
    }

    #[test]
    fn the_fast_paths_read_a_corrupt_node_as_node_does() {
        let mut buf = sample();
        // Node 1 (the text "Zoë") points past the text section.
        let at = HEADER + NODE + 8;
        buf[at..at + 8].copy_from_slice(&1000u64.to_le_bytes());
        let v = Packed::new(&buf).unwrap();
        assert!(matches!(v.node(1), Node::Null));
        assert!(v.is_null(1));
        assert_eq!(v.text_of(1), None);
        // The root's fields point past the field section.
        let mut buf = sample();
        buf[HEADER + 8..HEADER + 16].copy_from_slice(&3u64.to_le_bytes());
        let v = Packed::new(&buf).unwrap();
        let Node::Object(root) = v.node(0) else {
            panic!("root is not an object")
        };
        for name in ["name", "n", "tags", "raw", "x"] {
            assert_eq!(v.member(0, name.as_bytes()), root.get(name), "{name}");
        }
    }

    #[test]
    fn a_lookup_finds_the_first_field_of_exactly_that_name() {
        let mut p = Packer::new();
        // Same lengths, a prefix, a multi-byte name and a repeated one.
        p.object([("ab", 1), ("ba", 2), ("a", 3), ("é", 4), ("ab", 5)]);
        for i in 0..5 {
            p.integer(i);
        }
        let buf = p.finish();
        let v = Packed::new(&buf).unwrap();
        let Node::Object(root) = v.node(0) else {
            panic!("root is not an object")
        };
        assert_eq!(root.get("ab"), Some(1));
        assert_eq!(root.get("ba"), Some(2));
        assert_eq!(root.get("a"), Some(3));
        assert_eq!(root.get("é"), Some(4));
        assert_eq!(root.get("abc"), None);
        assert_eq!(root.get("b"), None);
        assert_eq!(root.get(""), None);
        // Every name found by lookup is the one iteration gives first.
        for (name, node) in root.iter() {
            assert_eq!(
                root.get(name),
                root.iter().find(|(n, _)| *n == name).map(|(_, i)| i)
            );
            let _ = node;
        }
    }

    #[test]
    fn integers_and_floats_keep_every_bit() {
        let mut p = Packer::new();
        p.list([1, 2, 3]);
        p.integer(i64::MIN);
        p.float(-0.0);
        p.float(f64::NAN);
        let buf = p.finish();
        let v = Packed::new(&buf).unwrap();
        assert!(matches!(v.node(1), Node::Integer(i64::MIN)));
        assert!(matches!(v.node(2), Node::Float(f) if f.to_bits() == (-0.0f64).to_bits()));
        assert!(matches!(v.node(3), Node::Float(f) if f.is_nan()));
    }

    #[test]
    fn refuses_what_is_not_a_packed_value() {
        assert_eq!(Packed::new(b"{}").unwrap_err(), Error::NotPacked);
        let mut buf = sample();
        buf.push(0);
        assert!(matches!(
            Packed::new(&buf).unwrap_err(),
            Error::Length { .. }
        ));
        let mut buf = sample();
        let zoe = buf.windows(4).position(|w| w == "Zoë".as_bytes()).unwrap();
        buf[zoe + 1] = 0xff;
        assert_eq!(Packed::new(&buf).unwrap_err(), Error::Text);
    }

    #[test]
    fn a_reference_out_of_range_reads_as_null_never_a_panic() {
        let mut p = Packer::new();
        p.list([7, 1]);
        p.object([("a", 99)]);
        let buf = p.finish();
        let v = Packed::new(&buf).unwrap();
        let Node::List(l) = v.node(0) else { panic!() };
        assert!(l
            .iter()
            .map(|i| v.node(i))
            .all(|n| !matches!(n, Node::Text(_))));
        assert!(matches!(v.node(7), Node::Null));
        assert!(matches!(v.node(u32::MAX), Node::Null));
        // Corrupt every byte of the node table in turn: reading never panics.
        let header = HEADER;
        for i in header..header + 2 * NODE {
            for b in [0u8, 0xff, 6, 7] {
                let mut bad = buf.clone();
                bad[i] = b;
                if let Ok(v) = Packed::new(&bad) {
                    for n in 0..3 {
                        match v.node(n) {
                            Node::List(l) => l.iter().for_each(|i| {
                                let _ = v.node(i);
                            }),
                            Node::Object(o) => o.iter().for_each(|(_, i)| {
                                let _ = v.node(i);
                            }),
                            _ => {}
                        }
                    }
                }
            }
        }
        let empty = Packed::empty();
        assert!(matches!(empty.node(0), Node::Null));
    }
}
