//! Output rows: their types, a builder, and their encoding into the packed
//! row layout that crosses the boundary (`sluice:transform@0.3.0`).

use sluice_packed::rows::{RowHead, RowWriter, DELETE, UPSERT};

/// A typed value of one Cassandra column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// CQL `null` (writing it deletes the column's value).
    Null,
    /// CQL `text` / `varchar`.
    Text(String),
    /// CQL `int`.
    Int(i32),
    /// CQL `bigint`.
    Bigint(i64),
    /// CQL `double`.
    Double(f64),
    /// CQL `boolean`.
    Boolean(bool),
    /// CQL `uuid`, in canonical hyphenated text form; the host parses it and
    /// dead-letters the record if it is not a UUID.
    Uuid(String),
    /// CQL `timestamp`, milliseconds since the epoch.
    Timestamp(i64),
    /// CQL `date`, days since 1970-01-01.
    Date(i32),
    /// CQL `blob`.
    Blob(Vec<u8>),
    /// CQL `list<text>`.
    TextList(Vec<String>),
    /// CQL `set<text>`; duplicates are removed by Cassandra.
    TextSet(Vec<String>),
    /// CQL `map<text, text>`.
    TextMap(Vec<(String, String)>),
}

/// One column of an output row.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The column name, as in the table.
    pub name: String,
    /// Its value; the type must match the column's CQL type.
    pub value: Cell,
}

/// What a row does to its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// Insert or update the row's columns (CQL `INSERT`).
    Upsert,
    /// Delete the row named by its primary key columns (CQL `DELETE`); the
    /// row carries the key columns only.
    Delete,
}

/// One row to write to Cassandra.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The target table, or none for the pipeline's default table.
    pub table: Option<String>,
    /// The columns to write; the table's primary key columns must be present.
    pub columns: Vec<Column>,
    /// Upsert or delete.
    pub kind: WriteKind,
    /// CQL `USING TTL`: seconds until Cassandra expires the written columns
    /// (1 to 630720000, i.e. 20 years); none keeps the table's default. Not
    /// allowed on a delete.
    pub ttl_seconds: Option<u32>,
    /// CQL `USING TIMESTAMP`: the write's time in microseconds since the
    /// epoch, so that a replayed or late record does not overwrite a newer
    /// one; none lets Cassandra use the time of the write.
    pub write_time_micros: Option<i64>,
}

impl Row {
    /// Appends the row to `w` in the packed row layout.
    pub(crate) fn write(&self, w: &mut RowWriter) {
        w.row(&RowHead {
            kind: match self.kind {
                WriteKind::Upsert => UPSERT,
                WriteKind::Delete => DELETE,
            },
            table: self.table.as_deref(),
            ttl_seconds: self.ttl_seconds,
            write_time_micros: self.write_time_micros,
            columns: self.columns.len() as u32,
        });
        for Column { name, value } in &self.columns {
            match value {
                Cell::Null => w.null(name),
                Cell::Text(s) => w.text(name, s),
                Cell::Int(i) => w.int(name, *i),
                Cell::Bigint(i) => w.bigint(name, *i),
                Cell::Double(d) => w.double(name, *d),
                Cell::Boolean(b) => w.boolean(name, *b),
                Cell::Uuid(s) => w.uuid(name, s),
                Cell::Timestamp(t) => w.timestamp(name, *t),
                Cell::Date(d) => w.date(name, *d),
                Cell::Blob(b) => w.blob(name, b),
                Cell::TextList(l) => w.text_list(name, l.iter().map(String::as_str)),
                Cell::TextSet(l) => w.text_set(name, l.iter().map(String::as_str)),
                Cell::TextMap(m) => {
                    w.text_map(name, m.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                }
            }
        }
    }
}

/// Builds one [`Row`], column by column.
///
/// ```
/// # use sluice_plugin::RowBuilder;
/// let row = RowBuilder::default_table().text("name", "Zoë").int("age", 31).build();
/// assert_eq!(row.columns.len(), 2);
/// ```
///
/// A delete names the row by its primary key columns:
///
/// ```
/// # use sluice_plugin::RowBuilder;
/// let gone = RowBuilder::table("users").uuid("id", "8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10").delete().build();
/// let expiring = RowBuilder::default_table().text("name", "Zoë").ttl_seconds(86_400).build();
/// # assert!(gone.ttl_seconds.is_none() && expiring.ttl_seconds == Some(86_400));
/// ```
pub struct RowBuilder {
    table: Option<String>,
    columns: Vec<Column>,
    kind: WriteKind,
    ttl_seconds: Option<u32>,
    write_time_micros: Option<i64>,
}

impl Default for RowBuilder {
    fn default() -> Self {
        RowBuilder {
            table: None,
            columns: Vec::new(),
            kind: WriteKind::Upsert,
            ttl_seconds: None,
            write_time_micros: None,
        }
    }
}

impl RowBuilder {
    /// A row for the pipeline's default table.
    pub fn default_table() -> Self {
        Self::default()
    }

    /// A row for the named table.
    pub fn table(name: &str) -> Self {
        RowBuilder {
            table: Some(name.to_string()),
            ..Self::default()
        }
    }

    /// Adds a column with any cell value.
    pub fn cell(mut self, name: &str, value: Cell) -> Self {
        self.columns.push(Column {
            name: name.to_string(),
            value,
        });
        self
    }

    /// Adds a `text` column.
    pub fn text(self, name: &str, value: impl Into<String>) -> Self {
        self.cell(name, Cell::Text(value.into()))
    }

    /// Adds an `int` column.
    pub fn int(self, name: &str, value: i32) -> Self {
        self.cell(name, Cell::Int(value))
    }

    /// Adds a `bigint` column.
    pub fn bigint(self, name: &str, value: i64) -> Self {
        self.cell(name, Cell::Bigint(value))
    }

    /// Adds a `double` column.
    pub fn double(self, name: &str, value: f64) -> Self {
        self.cell(name, Cell::Double(value))
    }

    /// Adds a `boolean` column.
    pub fn boolean(self, name: &str, value: bool) -> Self {
        self.cell(name, Cell::Boolean(value))
    }

    /// Adds a `uuid` column from its hyphenated text form.
    pub fn uuid(self, name: &str, value: impl Into<String>) -> Self {
        self.cell(name, Cell::Uuid(value.into()))
    }

    /// Adds a `timestamp` column, in milliseconds since the epoch.
    pub fn timestamp(self, name: &str, millis: i64) -> Self {
        self.cell(name, Cell::Timestamp(millis))
    }

    /// Adds a `null` for a column.
    pub fn null(self, name: &str) -> Self {
        self.cell(name, Cell::Null)
    }

    /// Makes the row a delete (CQL `DELETE ... WHERE` its key): give it the
    /// primary key columns only.
    pub fn delete(mut self) -> Self {
        self.kind = WriteKind::Delete;
        self
    }

    /// CQL `USING TTL`: Cassandra expires the written columns after `seconds`.
    pub fn ttl_seconds(mut self, seconds: u32) -> Self {
        self.ttl_seconds = Some(seconds);
        self
    }

    /// CQL `USING TIMESTAMP`: the write's time, in microseconds since the
    /// epoch (e.g. the event's time), so a late or replayed record does not
    /// overwrite a newer write of the same row.
    pub fn write_time_micros(mut self, micros: i64) -> Self {
        self.write_time_micros = Some(micros);
        self
    }

    /// The finished row.
    pub fn build(self) -> Row {
        Row {
            table: self.table,
            columns: self.columns,
            kind: self.kind,
            ttl_seconds: self.ttl_seconds,
            write_time_micros: self.write_time_micros,
        }
    }
}
