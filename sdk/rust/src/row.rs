//! A builder for output rows.

use crate::{Cell, Column, Row};

/// Builds one [`Row`], column by column.
///
/// ```
/// # use sluice_plugin::RowBuilder;
/// let row = RowBuilder::default_table().text("name", "Zoë").int("age", 31).build();
/// assert_eq!(row.columns.len(), 2);
/// ```
#[derive(Default)]
pub struct RowBuilder {
    table: Option<String>,
    columns: Vec<Column>,
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
            columns: Vec::new(),
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

    /// The finished row.
    pub fn build(self) -> Row {
        Row {
            table: self.table,
            columns: self.columns,
        }
    }
}
