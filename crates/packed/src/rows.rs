//! The packed row layout of `sluice:transform@0.3.0`: a call's output rows
//! as one byte buffer.
//!
//! In 0.2.0 a plugin returned its rows as WIT records: the host lifted
//! every column name and every text value as its own string (some 24 per
//! flatten row), each checked and copied one by one by the component
//! model, and the guest first lowered them into flat arrays and freed them
//! one by one after the call. In 0.3.0 the guest writes a batch's rows into
//! one buffer and the host lifts one `list<u8>`.
//!
//! Rows follow each other, in the order of the outcomes that own them.
//! All integers are little-endian; a `str` is a u32 byte length then that
//! many bytes of UTF-8 (docs/packed-values.md has the same table):
//!
//! | field | size | contents |
//! |---|---|---|
//! | kind | 1 | 0 upsert, 1 delete |
//! | flags | 1 | bit 0: a table follows, bit 1: a TTL, bit 2: a write time; other bits 0 |
//! | table | str | when flagged: the target table (else the pipeline's default) |
//! | ttl | 4 | when flagged: u32 seconds (`USING TTL`) |
//! | write time | 8 | when flagged: i64 microseconds (`USING TIMESTAMP`) |
//! | columns | 4 | u32 count C, then C times: name (str), cell tag (u8), cell payload |
//!
//! Cell tags and payloads, in the order of the WIT `cell` variant:
//! 0 null (none), 1 text (str), 2 int (i32), 3 bigint (i64), 4 double (f64
//! bits), 5 boolean (u8 0 or 1), 6 uuid (str, hyphenated), 7 timestamp (i64
//! ms), 8 date (i32 days), 9 blob (u32 length, bytes), 10 text list and
//! 11 text set (u32 count, then that many str), 12 text map (u32 count,
//! then that many key str and value str).
//!
//! [`RowWriter`] writes a buffer (the SDK's side); [`RowReader`] reads one
//! (the host's side), checking every length, tag and string: the buffer
//! comes from a sandboxed plugin, so a bad one is an error, never a panic.

use alloc::vec::Vec;
use core::fmt;

/// Row kinds.
pub const UPSERT: u8 = 0;
/// A delete by primary key.
pub const DELETE: u8 = 1;

const HAS_TABLE: u8 = 1;
const HAS_TTL: u8 = 2;
const HAS_WRITE_TIME: u8 = 4;

const NULL: u8 = 0;
const TEXT: u8 = 1;
const INT: u8 = 2;
const BIGINT: u8 = 3;
const DOUBLE: u8 = 4;
const BOOLEAN: u8 = 5;
const UUID: u8 = 6;
const TIMESTAMP: u8 = 7;
const DATE: u8 = 8;
const BLOB: u8 = 9;
const TEXT_LIST: u8 = 10;
const TEXT_SET: u8 = 11;
const TEXT_MAP: u8 = 12;

/// What a row says about itself before its columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowHead<'a> {
    /// [`UPSERT`] or [`DELETE`].
    pub kind: u8,
    /// The target table, when not the pipeline's default.
    pub table: Option<&'a str>,
    /// `USING TTL` seconds.
    pub ttl_seconds: Option<u32>,
    /// `USING TIMESTAMP` microseconds.
    pub write_time_micros: Option<i64>,
    /// How many columns follow.
    pub columns: u32,
}

/// Writes rows in the packed row layout.
#[derive(Debug, Default, Clone)]
pub struct RowWriter {
    buf: Vec<u8>,
}

impl RowWriter {
    /// A writer whose buffer starts with room for `bytes`.
    pub fn with_capacity(bytes: usize) -> Self {
        RowWriter {
            buf: Vec::with_capacity(bytes),
        }
    }

    /// Starts a row; exactly `head.columns` cells must follow.
    pub fn row(&mut self, head: &RowHead<'_>) {
        let flags = if head.table.is_some() { HAS_TABLE } else { 0 }
            | if head.ttl_seconds.is_some() {
                HAS_TTL
            } else {
                0
            }
            | if head.write_time_micros.is_some() {
                HAS_WRITE_TIME
            } else {
                0
            };
        self.buf.extend_from_slice(&[head.kind, flags]);
        if let Some(t) = head.table {
            self.str(t);
        }
        if let Some(t) = head.ttl_seconds {
            self.buf.extend_from_slice(&t.to_le_bytes());
        }
        if let Some(t) = head.write_time_micros {
            self.buf.extend_from_slice(&t.to_le_bytes());
        }
        self.buf.extend_from_slice(&head.columns.to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(&(b.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(b);
    }

    fn head(&mut self, name: &str, tag: u8) {
        self.str(name);
        self.buf.push(tag);
    }

    /// A CQL `null`.
    pub fn null(&mut self, name: &str) {
        self.head(name, NULL);
    }

    /// A `text` cell.
    pub fn text(&mut self, name: &str, value: &str) {
        self.head(name, TEXT);
        self.str(value);
    }

    /// An `int` cell.
    pub fn int(&mut self, name: &str, value: i32) {
        self.head(name, INT);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// A `bigint` cell.
    pub fn bigint(&mut self, name: &str, value: i64) {
        self.head(name, BIGINT);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// A `double` cell.
    pub fn double(&mut self, name: &str, value: f64) {
        self.head(name, DOUBLE);
        self.buf.extend_from_slice(&value.to_bits().to_le_bytes());
    }

    /// A `boolean` cell.
    pub fn boolean(&mut self, name: &str, value: bool) {
        self.head(name, BOOLEAN);
        self.buf.push(value as u8);
    }

    /// A `uuid` cell, hyphenated text.
    pub fn uuid(&mut self, name: &str, value: &str) {
        self.head(name, UUID);
        self.str(value);
    }

    /// A `timestamp` cell, ms since the epoch.
    pub fn timestamp(&mut self, name: &str, millis: i64) {
        self.head(name, TIMESTAMP);
        self.buf.extend_from_slice(&millis.to_le_bytes());
    }

    /// A `date` cell, days since the epoch.
    pub fn date(&mut self, name: &str, days: i32) {
        self.head(name, DATE);
        self.buf.extend_from_slice(&days.to_le_bytes());
    }

    /// A `blob` cell.
    pub fn blob(&mut self, name: &str, value: &[u8]) {
        self.head(name, BLOB);
        self.bytes(value);
    }

    /// A `list<text>` cell.
    pub fn text_list<'s>(&mut self, name: &str, items: impl ExactSizeIterator<Item = &'s str>) {
        self.strs(name, TEXT_LIST, items);
    }

    /// A `set<text>` cell.
    pub fn text_set<'s>(&mut self, name: &str, items: impl ExactSizeIterator<Item = &'s str>) {
        self.strs(name, TEXT_SET, items);
    }

    fn strs<'s>(&mut self, name: &str, tag: u8, items: impl ExactSizeIterator<Item = &'s str>) {
        self.head(name, tag);
        self.buf
            .extend_from_slice(&(items.len() as u32).to_le_bytes());
        for s in items {
            self.str(s);
        }
    }

    /// A `map<text, text>` cell.
    pub fn text_map<'s>(
        &mut self,
        name: &str,
        pairs: impl ExactSizeIterator<Item = (&'s str, &'s str)>,
    ) {
        self.head(name, TEXT_MAP);
        self.buf
            .extend_from_slice(&(pairs.len() as u32).to_le_bytes());
        for (k, v) in pairs {
            self.str(k);
            self.str(v);
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True before the first row.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The buffer.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// A cell as read, borrowing the buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum CellRef<'a> {
    /// CQL `null`.
    Null,
    /// `text`.
    Text(&'a str),
    /// `int`.
    Int(i32),
    /// `bigint`.
    Bigint(i64),
    /// `double`.
    Double(f64),
    /// `boolean`.
    Boolean(bool),
    /// `uuid`, hyphenated text (not checked here).
    Uuid(&'a str),
    /// `timestamp`, ms.
    Timestamp(i64),
    /// `date`, days.
    Date(i32),
    /// `blob`.
    Blob(&'a [u8]),
    /// `list<text>`.
    TextList(Strs<'a>),
    /// `set<text>`.
    TextSet(Strs<'a>),
    /// `map<text, text>`: the keys and values, alternating.
    TextMap(Strs<'a>),
}

/// Strings of a list, set or map cell, checked as read.
#[derive(Debug, Clone, PartialEq)]
pub struct Strs<'a> {
    reader: RowReader<'a>,
    left: u32,
}

impl<'a> Strs<'a> {
    /// How many strings are left (a map counts its keys and values).
    pub fn len(&self) -> u32 {
        self.left
    }

    /// True when none are left.
    pub fn is_empty(&self) -> bool {
        self.left == 0
    }
}

impl<'a> Iterator for Strs<'a> {
    type Item = Result<&'a str, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(self.reader.str("a collection item"))
    }
}

/// Why a buffer is not in the packed row layout: what was being read, and
/// at which byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The byte offset where reading failed.
    pub at: usize,
    /// What was wrong there.
    pub what: &'static str,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

/// Reads rows in the packed row layout, in order: [`RowReader::row`], then
/// [`RowReader::cell`] as many times as the row has columns.
#[derive(Debug, Clone, PartialEq)]
pub struct RowReader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> RowReader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        RowReader { buf, at: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.at
    }

    fn fail<T>(&self, what: &'static str) -> Result<T, RowError> {
        Err(RowError { at: self.at, what })
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], RowError> {
        match self.buf.get(self.at..self.at.saturating_add(n)) {
            Some(b) => {
                self.at += n;
                Ok(b)
            }
            None => self.fail(what),
        }
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], RowError> {
        let b = self.take(N, what)?;
        // `take` gave exactly N bytes.
        Ok(b.try_into().unwrap_or([0; N]))
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, RowError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, RowError> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, RowError> {
        self.array(what).map(i32::from_le_bytes)
    }

    fn i64(&mut self, what: &'static str) -> Result<i64, RowError> {
        self.array(what).map(i64::from_le_bytes)
    }

    fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], RowError> {
        let n = self.u32(what)? as usize;
        self.take(n, what)
    }

    fn str(&mut self, what: &'static str) -> Result<&'a str, RowError> {
        let start = self.at;
        let b = self.bytes(what)?;
        core::str::from_utf8(b).map_err(|_| RowError {
            at: start,
            what: "a string that is not UTF-8",
        })
    }

    /// A count of items that each take at least `min` bytes, checked
    /// against what is left, so that a forged count cannot make the reader
    /// (or a `Vec::with_capacity` of it) claim more than the buffer holds.
    fn count(&mut self, min: usize, what: &'static str) -> Result<u32, RowError> {
        let n = self.u32(what)?;
        if (n as usize).saturating_mul(min) > self.remaining() {
            return Err(RowError {
                at: self.at - 4,
                what,
            });
        }
        Ok(n)
    }

    /// The next row's head; `Ok(None)` at the end of the buffer.
    pub fn row(&mut self) -> Result<Option<RowHead<'a>>, RowError> {
        if self.remaining() == 0 {
            return Ok(None);
        }
        let kind = self.u8("a row kind")?;
        if kind > DELETE {
            return Err(RowError {
                at: self.at - 1,
                what: "a row kind that is neither upsert (0) nor delete (1)",
            });
        }
        let flags = self.u8("a row's flags")?;
        if flags & !(HAS_TABLE | HAS_TTL | HAS_WRITE_TIME) != 0 {
            return Err(RowError {
                at: self.at - 1,
                what: "row flags with unknown bits",
            });
        }
        let table = if flags & HAS_TABLE != 0 {
            Some(self.str("a table name")?)
        } else {
            None
        };
        let ttl_seconds = if flags & HAS_TTL != 0 {
            Some(self.u32("a TTL")?)
        } else {
            None
        };
        let write_time_micros = if flags & HAS_WRITE_TIME != 0 {
            Some(self.i64("a write time")?)
        } else {
            None
        };
        // A column takes at least 5 bytes: a name's length and a tag.
        let columns = self.count(5, "a column count larger than the rest of the buffer")?;
        Ok(Some(RowHead {
            kind,
            table,
            ttl_seconds,
            write_time_micros,
            columns,
        }))
    }

    /// The next column: its name and cell.
    pub fn cell(&mut self) -> Result<(&'a str, CellRef<'a>), RowError> {
        let name = self.str("a column name")?;
        let tag = self.u8("a cell tag")?;
        let cell = match tag {
            NULL => CellRef::Null,
            TEXT => CellRef::Text(self.str("a text cell")?),
            INT => CellRef::Int(self.i32("an int cell")?),
            BIGINT => CellRef::Bigint(self.i64("a bigint cell")?),
            DOUBLE => CellRef::Double(f64::from_bits(self.i64("a double cell")? as u64)),
            BOOLEAN => match self.u8("a boolean cell")? {
                0 => CellRef::Boolean(false),
                1 => CellRef::Boolean(true),
                _ => return self.fail("a boolean cell that is neither 0 nor 1"),
            },
            UUID => CellRef::Uuid(self.str("a uuid cell")?),
            TIMESTAMP => CellRef::Timestamp(self.i64("a timestamp cell")?),
            DATE => CellRef::Date(self.i32("a date cell")?),
            BLOB => CellRef::Blob(self.bytes("a blob cell")?),
            TEXT_LIST | TEXT_SET | TEXT_MAP => {
                let what = "a collection count larger than the rest of the buffer";
                let n = self.count(4, what)?;
                let n = if tag == TEXT_MAP {
                    match n.checked_mul(2) {
                        Some(n) if n as usize * 4 <= self.remaining() => n,
                        _ => return self.fail(what),
                    }
                } else {
                    n
                };
                let strs = Strs {
                    reader: self.clone(),
                    left: n,
                };
                // Skip the strings; `Strs` reads (and checks) them.
                for _ in 0..n {
                    self.bytes("a collection item")?;
                }
                match tag {
                    TEXT_LIST => CellRef::TextList(strs),
                    TEXT_SET => CellRef::TextSet(strs),
                    _ => CellRef::TextMap(strs),
                }
            }
            _ => {
                return Err(RowError {
                    at: self.at - 1,
                    what: "an unknown cell tag (0 to 12 are defined)",
                })
            }
        };
        Ok((name, cell))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn head(columns: u32) -> RowHead<'static> {
        RowHead {
            kind: UPSERT,
            table: None,
            ttl_seconds: None,
            write_time_micros: None,
            columns,
        }
    }

    fn every_cell() -> Vec<u8> {
        let mut w = RowWriter::default();
        w.row(&head(13));
        w.null("n");
        w.text("t", "Zoë");
        w.int("i", -7);
        w.bigint("b", i64::MIN);
        w.double("d", 1.5);
        w.boolean("yes", true);
        w.uuid("u", "8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10");
        w.timestamp("ts", 1_700_000_000_000);
        w.date("day", -3);
        w.blob("bl", &[0, 255]);
        w.text_list("l", ["a", ""].into_iter());
        w.text_set("s", [].into_iter());
        w.text_map("m", [("k", "v")].into_iter());
        w.row(&RowHead {
            kind: DELETE,
            table: Some("other"),
            ttl_seconds: Some(60),
            write_time_micros: Some(-1),
            columns: 1,
        });
        w.text("id", "x");
        w.finish()
    }

    #[test]
    fn what_is_written_reads_back() {
        let buf = every_cell();
        let mut r = RowReader::new(&buf);
        assert_eq!(r.row().unwrap(), Some(head(13)));
        let mut cells = Vec::new();
        for _ in 0..13 {
            cells.push(r.cell().unwrap());
        }
        fn strs<'a>(c: &CellRef<'a>) -> Vec<&'a str> {
            match c {
                CellRef::TextList(s) | CellRef::TextSet(s) | CellRef::TextMap(s) => {
                    s.clone().collect::<Result<Vec<_>, _>>().unwrap()
                }
                _ => panic!("{c:?}"),
            }
        }
        assert_eq!(cells[0], ("n", CellRef::Null));
        assert_eq!(cells[1], ("t", CellRef::Text("Zoë")));
        assert_eq!(cells[2], ("i", CellRef::Int(-7)));
        assert_eq!(cells[3], ("b", CellRef::Bigint(i64::MIN)));
        assert_eq!(cells[4], ("d", CellRef::Double(1.5)));
        assert_eq!(cells[5], ("yes", CellRef::Boolean(true)));
        assert_eq!(
            cells[6],
            ("u", CellRef::Uuid("8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10"))
        );
        assert_eq!(cells[7], ("ts", CellRef::Timestamp(1_700_000_000_000)));
        assert_eq!(cells[8], ("day", CellRef::Date(-3)));
        assert_eq!(cells[9], ("bl", CellRef::Blob(&[0, 255])));
        assert_eq!(strs(&cells[10].1), vec!["a", ""]);
        assert!(matches!(cells[10].1, CellRef::TextList(_)));
        assert_eq!(strs(&cells[11].1), Vec::<&str>::new());
        assert!(matches!(cells[11].1, CellRef::TextSet(_)));
        assert_eq!(strs(&cells[12].1), vec!["k", "v"]);
        assert!(matches!(cells[12].1, CellRef::TextMap(_)));
        let second = r.row().unwrap().unwrap();
        assert_eq!(
            second,
            RowHead {
                kind: DELETE,
                table: Some("other"),
                ttl_seconds: Some(60),
                write_time_micros: Some(-1),
                columns: 1
            }
        );
        assert_eq!(r.cell().unwrap(), ("id", CellRef::Text("x")));
        assert_eq!(r.row().unwrap(), None);
    }

    /// Reads everything, as the host does, and returns the first error.
    fn read_all(buf: &[u8]) -> Result<usize, RowError> {
        let mut r = RowReader::new(buf);
        let mut rows = 0;
        while let Some(h) = r.row()? {
            for _ in 0..h.columns {
                if let (_, CellRef::TextList(s) | CellRef::TextSet(s) | CellRef::TextMap(s)) =
                    r.cell()?
                {
                    for item in s {
                        item?;
                    }
                }
            }
            rows += 1;
        }
        Ok(rows)
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_an_error_or_a_read_never_a_panic() {
        let buf = every_cell();
        assert_eq!(read_all(&buf), Ok(2));
        for cut in 0..buf.len() {
            // A cut between rows is a shorter, valid buffer; anywhere else an error.
            let _ = read_all(&buf[..cut]);
        }
        for i in 0..buf.len() {
            for v in [0u8, 1, 0x7f, 0xff] {
                let mut b = buf.clone();
                b[i] = v;
                let _ = read_all(&b);
            }
        }
        assert!(read_all(&buf[..buf.len() - 1]).is_err());
    }

    #[test]
    fn forged_counts_and_bad_bytes_name_what_is_wrong() {
        let mut w = RowWriter::default();
        w.row(&head(1));
        let mut b = w.finish();
        b[2..6].copy_from_slice(&u32::MAX.to_le_bytes());
        let e = read_all(&b).unwrap_err();
        assert!(e.what.contains("column count"), "{e}");

        let mut w = RowWriter::default();
        w.row(&head(1));
        w.text("t", "ok");
        let mut b = w.finish();
        let last = b.len() - 1;
        b[last] = 0xff;
        assert_eq!(read_all(&b).unwrap_err().what, "a string that is not UTF-8");

        assert!(read_all(&[7, 0, 0, 0, 0, 0])
            .unwrap_err()
            .what
            .contains("row kind"));
        assert!(read_all(&[0, 8, 0, 0, 0, 0])
            .unwrap_err()
            .what
            .contains("flags"));
        let mut w = RowWriter::default();
        w.row(&head(1));
        w.null("n");
        let mut b = w.finish();
        let last = b.len() - 1;
        b[last] = 13;
        assert!(read_all(&b).unwrap_err().what.contains("cell tag"));
    }
}
