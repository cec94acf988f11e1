//! A builder for output rows.

use crate::{Cell, Column, Row, WriteKind};

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
