//! A live table's columns and keys, and the check of a row against them.

use scylla::value::{CqlDate, CqlTimestamp, CqlValue};
use sluice_model::{Cell, Row, WriteKind};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// A CQL column type, as far as rows are checked against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CqlType {
    Text,
    Ascii,
    Int,
    Bigint,
    Double,
    Boolean,
    Uuid,
    Timestamp,
    Date,
    Blob,
    List(Box<CqlType>),
    Set(Box<CqlType>),
    Map(Box<CqlType>, Box<CqlType>),
    /// A type no plugin cell maps to (counter, tuple, UDT, ...), as Cassandra spells it.
    Other(String),
}

impl CqlType {
    /// Parses a type as `system_schema.columns` spells it (`text`, `list<text>`, `map<text, text>`).
    pub fn parse(text: &str) -> CqlType {
        let text = text.trim();
        let inner = |prefix: &str| {
            text.strip_prefix(prefix)
                .and_then(|r| r.strip_suffix('>'))
                .map(str::trim)
        };
        if let Some(i) = inner("list<") {
            return CqlType::List(Box::new(CqlType::parse(i)));
        }
        if let Some(i) = inner("set<") {
            return CqlType::Set(Box::new(CqlType::parse(i)));
        }
        if let Some((k, v)) = inner("map<").and_then(|i| i.split_once(',')) {
            return CqlType::Map(Box::new(CqlType::parse(k)), Box::new(CqlType::parse(v)));
        }
        match text {
            "text" | "varchar" => CqlType::Text,
            "ascii" => CqlType::Ascii,
            "int" => CqlType::Int,
            "bigint" => CqlType::Bigint,
            "double" => CqlType::Double,
            "boolean" => CqlType::Boolean,
            "uuid" => CqlType::Uuid,
            "timestamp" => CqlType::Timestamp,
            "date" => CqlType::Date,
            "blob" => CqlType::Blob,
            other => CqlType::Other(other.to_string()),
        }
    }
}

impl fmt::Display for CqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CqlType::Text => f.write_str("text"),
            CqlType::Ascii => f.write_str("ascii"),
            CqlType::Int => f.write_str("int"),
            CqlType::Bigint => f.write_str("bigint"),
            CqlType::Double => f.write_str("double"),
            CqlType::Boolean => f.write_str("boolean"),
            CqlType::Uuid => f.write_str("uuid"),
            CqlType::Timestamp => f.write_str("timestamp"),
            CqlType::Date => f.write_str("date"),
            CqlType::Blob => f.write_str("blob"),
            CqlType::List(t) => write!(f, "list<{t}>"),
            CqlType::Set(t) => write!(f, "set<{t}>"),
            CqlType::Map(k, v) => write!(f, "map<{k}, {v}>"),
            CqlType::Other(t) => f.write_str(t),
        }
    }
}

/// Why a row does not fit its table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Misfit {
    #[error("row for table {table} lacks its primary key column `{column}`")]
    MissingKey { table: String, column: String },
    #[error("table {table} has no column `{column}` (its columns: {columns})")]
    NoColumn {
        table: String,
        column: String,
        columns: String,
    },
    #[error("column `{column}` of table {table}: {problem}")]
    Value {
        table: String,
        column: String,
        problem: String,
    },
    #[error("a delete from table {table} names its row by the primary key ({key}) only; it also has `{column}`: drop it, or make the row an upsert")]
    DeleteColumn {
        table: String,
        key: String,
        column: String,
    },
    #[error("row for table {table}: {problem}")]
    Options { table: String, problem: String },
}

/// Cassandra's largest TTL: 20 years, in seconds.
pub const MAX_TTL_SECONDS: u32 = 630_720_000;

/// What the sink knows of a table, read from `system_schema.columns`.
#[derive(Debug, Clone)]
pub struct TableSchema {
    /// `keyspace.table`.
    pub name: String,
    pub columns: HashMap<String, CqlType>,
    /// Partition key columns, in order.
    pub partition_key: Vec<String>,
    /// Clustering columns, in order.
    pub clustering: Vec<String>,
}

/// The statement a bound row needs: what it does, with which `USING` parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    pub kind: WriteKind,
    pub ttl: bool,
    pub timestamp: bool,
}

/// A row checked against its table and converted to CQL values, ready to write.
#[derive(Debug, Clone)]
pub struct BoundRow {
    pub table: Arc<TableSchema>,
    /// Column names: the inserted ones, or for a delete the key columns.
    pub columns: Vec<String>,
    /// The statement's bind values, in its order: an upsert's columns then
    /// its TTL and timestamp; a delete's timestamp then its key columns.
    pub values: Vec<Option<CqlValue>>,
    pub shape: Shape,
    /// The partition key's values, to group rows of one partition.
    pub partition: String,
    /// The clustering key's values (empty without clustering columns): with
    /// `partition`, the row's identity, to keep writes of one row in order.
    pub clustering: String,
}

impl BoundRow {
    /// The CQL of this row's statement (one per table, columns and shape).
    pub fn cql(&self) -> String {
        let quoted =
            |names: &[String]| names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>();
        match self.shape.kind {
            WriteKind::Upsert => {
                let using = match (self.shape.ttl, self.shape.timestamp) {
                    (false, false) => String::new(),
                    (true, false) => " USING TTL ?".into(),
                    (false, true) => " USING TIMESTAMP ?".into(),
                    (true, true) => " USING TTL ? AND TIMESTAMP ?".into(),
                };
                format!(
                    "INSERT INTO {} ({}) VALUES ({}){using}",
                    self.table.name,
                    quoted(&self.columns).join(", "),
                    vec!["?"; self.columns.len()].join(", ")
                )
            }
            WriteKind::Delete => format!(
                "DELETE FROM {}{} WHERE {}",
                self.table.name,
                if self.shape.timestamp {
                    " USING TIMESTAMP ?"
                } else {
                    ""
                },
                quoted(&self.columns)
                    .iter()
                    .map(|c| format!("{c} = ?"))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            ),
        }
    }
}

impl TableSchema {
    /// Checks `row` against the table and converts it, moving its values;
    /// `stamp` (column, value) is added when the table has that text column
    /// and the row lacks it.
    pub fn bind(
        self: &Arc<Self>,
        row: Row,
        stamp: Option<(&str, &str)>,
    ) -> Result<BoundRow, Misfit> {
        let mut cells = row.columns;
        let delete = row.kind == WriteKind::Delete;
        let options = |problem: String| Misfit::Options {
            table: self.name.clone(),
            problem,
        };
        if let Some(ttl) = row.ttl_seconds {
            if delete {
                return Err(options(format!(
                    "a delete cannot have a TTL (ttl-seconds {ttl}); remove it"
                )));
            }
            if ttl > MAX_TTL_SECONDS {
                return Err(options(format!(
                    "ttl-seconds {ttl} is over Cassandra's limit of {MAX_TTL_SECONDS} (20 years)"
                )));
            }
        }
        // The stamp says which version wrote a row; a delete leaves no row.
        if let (Some((column, value)), false) = (stamp, delete) {
            if self.columns.get(column) == Some(&CqlType::Text)
                && !cells.iter().any(|(n, _)| n == column)
            {
                cells.push((column.to_string(), Cell::Text(value.to_string())));
            }
        }
        for key in self.partition_key.iter().chain(&self.clustering) {
            match cells.iter().find(|(n, _)| n == key) {
                None | Some((_, Cell::Null)) => {
                    return Err(Misfit::MissingKey {
                        table: self.name.clone(),
                        column: key.clone(),
                    })
                }
                Some(_) => {}
            }
        }
        if delete {
            if let Some((name, _)) = cells.iter().find(|(n, _)| !self.is_key(n)) {
                return Err(Misfit::DeleteColumn {
                    table: self.name.clone(),
                    key: self
                        .partition_key
                        .iter()
                        .chain(&self.clustering)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    column: name.clone(),
                });
            }
        }
        let partition = self.key_values(&self.partition_key, &cells);
        let clustering = self.key_values(&self.clustering, &cells);
        let mut columns = Vec::with_capacity(cells.len());
        let mut values = Vec::with_capacity(cells.len() + 2);
        let timestamp = row.write_time_micros.map(|t| Some(CqlValue::BigInt(t)));
        if delete {
            values.extend(timestamp.clone());
        }
        for (name, cell) in cells {
            let ty = self.columns.get(&name).ok_or_else(|| Misfit::NoColumn {
                table: self.name.clone(),
                column: name.clone(),
                columns: self.column_list(),
            })?;
            let value = to_cql(cell, ty).map_err(|problem| Misfit::Value {
                table: self.name.clone(),
                column: name.clone(),
                problem,
            })?;
            columns.push(name);
            values.push(value);
        }
        if !delete {
            // CQL's TTL is an int; MAX_TTL_SECONDS fits.
            values.extend(row.ttl_seconds.map(|t| Some(CqlValue::Int(t as i32))));
            values.extend(timestamp);
        }
        Ok(BoundRow {
            table: self.clone(),
            columns,
            values,
            shape: Shape {
                kind: row.kind,
                ttl: row.ttl_seconds.is_some(),
                timestamp: row.write_time_micros.is_some(),
            },
            partition,
            clustering,
        })
    }

    fn is_key(&self, column: &str) -> bool {
        self.partition_key
            .iter()
            .chain(&self.clustering)
            .any(|k| k == column)
    }

    /// The values of a row's key columns `keys` (partition or clustering),
    /// as one string to group and compare rows by.
    fn key_values(&self, keys: &[String], cells: &[(String, Cell)]) -> String {
        keys.iter()
            .map(|k| format!("{:?}", cells.iter().find(|(n, _)| n == k).map(|(_, c)| c)))
            .collect::<Vec<_>>()
            .join("|")
    }

    fn column_list(&self) -> String {
        let mut names: Vec<&str> = self.columns.keys().map(String::as_str).collect();
        names.sort();
        names.join(", ")
    }
}

/// One cell as the CQL value of a column of type `ty`, its contents moved.
fn to_cql(cell: Cell, ty: &CqlType) -> Result<Option<CqlValue>, String> {
    use CqlType as T;
    let texts = |l: Vec<String>| l.into_iter().map(CqlValue::Text).collect::<Vec<_>>();
    let is_text = |t: &CqlType| *t == T::Text;
    Ok(Some(match (cell, ty) {
        (Cell::Null, _) => return Ok(None),
        (Cell::Text(s), T::Text) => CqlValue::Text(s),
        (Cell::Text(s), T::Ascii) if s.is_ascii() => CqlValue::Ascii(s),
        (Cell::Int(i), T::Int) => CqlValue::Int(i),
        (Cell::Int(i), T::Bigint) => CqlValue::BigInt(i as i64),
        (Cell::Bigint(i), T::Bigint) => CqlValue::BigInt(i),
        (Cell::Double(d), T::Double) => CqlValue::Double(d),
        (Cell::Boolean(b), T::Boolean) => CqlValue::Boolean(b),
        (Cell::Uuid(s), T::Uuid) => CqlValue::Uuid(
            uuid::Uuid::parse_str(&s).map_err(|e| format!("{s:?} is not a UUID: {e}"))?,
        ),
        (Cell::Timestamp(ms), T::Timestamp) => CqlValue::Timestamp(CqlTimestamp(ms)),
        // CQL dates count days from 2^31 = 1970-01-01.
        (Cell::Date(days), T::Date) => CqlValue::Date(CqlDate((days as i64 + (1i64 << 31)) as u32)),
        (Cell::Blob(b), T::Blob) => CqlValue::Blob(b),
        (Cell::TextList(l), T::List(t)) if is_text(t) => CqlValue::List(texts(l)),
        (Cell::TextSet(l), T::Set(t)) if is_text(t) => CqlValue::Set(texts(l)),
        (Cell::TextMap(m), T::Map(k, v)) if is_text(k) && is_text(v) => CqlValue::Map(
            m.into_iter()
                .map(|(k, v)| (CqlValue::Text(k), CqlValue::Text(v)))
                .collect(),
        ),
        (cell, ty) => {
            return Err(format!(
                "a {} value cannot go into a {ty} column",
                cell.cql_type()
            ))
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Arc<TableSchema> {
        Arc::new(TableSchema {
            name: "ks.users".into(),
            columns: [
                ("id", "uuid"),
                ("name", "text"),
                ("born", "timestamp"),
                ("tags", "set<text>"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_string(), CqlType::parse(b)))
            .collect(),
            partition_key: vec!["id".into()],
            clustering: vec![],
        })
    }

    fn row(cols: Vec<(&str, Cell)>) -> Row {
        Row {
            table: None,
            columns: cols.into_iter().map(|(n, c)| (n.to_string(), c)).collect(),
            ..Row::default()
        }
    }

    const ID: &str = "8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10";

    #[test]
    fn binds_matching_rows() {
        let r = row(vec![
            ("id", Cell::Uuid(ID.into())),
            ("name", Cell::Text("Zoë".into())),
            ("born", Cell::Timestamp(5)),
            ("tags", Cell::TextSet(vec!["a".into()])),
            ("name", Cell::Null),
        ]);
        let bound = users().bind(r, None).unwrap();
        assert_eq!(bound.values[2], Some(CqlValue::Timestamp(CqlTimestamp(5))));
        assert_eq!(bound.values[4], None);
    }

    #[test]
    fn names_what_does_not_fit() {
        let t = users();
        let e = t
            .bind(
                row(vec![
                    ("id", Cell::Uuid(ID.into())),
                    ("nme", Cell::Text("x".into())),
                ]),
                None,
            )
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no column `nme`") && e.contains("born, id, name, tags"),
            "{e}"
        );
        let e = t
            .bind(
                row(vec![
                    ("id", Cell::Uuid(ID.into())),
                    ("born", Cell::Text("x".into())),
                ]),
                None,
            )
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("column `born`") && e.contains("text value cannot go into a timestamp"),
            "{e}"
        );
        let e = t
            .bind(row(vec![("name", Cell::Text("x".into()))]), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("primary key column `id`"), "{e}");
        let e = t
            .bind(row(vec![("id", Cell::Uuid("nope".into()))]), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a UUID"), "{e}");
    }

    #[test]
    fn ttl_and_write_time_become_using_and_bind_after_the_columns() {
        let mut r = row(vec![
            ("id", Cell::Uuid(ID.into())),
            ("name", Cell::Text("Zoë".into())),
        ]);
        r.ttl_seconds = Some(3600);
        r.write_time_micros = Some(1_700_000_000_000_000);
        let b = users().bind(r, None).unwrap();
        assert_eq!(
            b.cql(),
            "INSERT INTO ks.users (\"id\", \"name\") VALUES (?, ?) USING TTL ? AND TIMESTAMP ?"
        );
        assert_eq!(b.values.len(), 4);
        assert_eq!(b.values[2], Some(CqlValue::Int(3600)));
        assert_eq!(b.values[3], Some(CqlValue::BigInt(1_700_000_000_000_000)));
        let mut r = row(vec![("id", Cell::Uuid(ID.into()))]);
        r.ttl_seconds = Some(MAX_TTL_SECONDS + 1);
        let e = users().bind(r, None).unwrap_err().to_string();
        assert!(e.contains("over Cassandra's limit"), "{e}");
    }

    #[test]
    fn a_delete_names_its_row_by_the_key_and_nothing_else() {
        let mut t = (*users()).clone();
        t.columns.insert("plugin_version".into(), CqlType::Text);
        let t = Arc::new(t);
        let mut r = row(vec![("id", Cell::Uuid(ID.into()))]);
        r.kind = WriteKind::Delete;
        r.write_time_micros = Some(7);
        let b = t
            .bind(r.clone(), Some(("plugin_version", "2.0.0")))
            .unwrap();
        assert_eq!(b.columns, ["id"], "no version stamp on a delete");
        assert_eq!(
            b.cql(),
            "DELETE FROM ks.users USING TIMESTAMP ? WHERE \"id\" = ?"
        );
        assert_eq!(
            b.values[0],
            Some(CqlValue::BigInt(7)),
            "USING comes before WHERE"
        );
        r.columns.push(("name".into(), Cell::Text("x".into())));
        let e = t.bind(r.clone(), None).unwrap_err().to_string();
        assert!(
            e.contains("primary key (id) only") && e.contains("`name`"),
            "{e}"
        );
        r.columns.pop();
        r.ttl_seconds = Some(5);
        let e = t.bind(r, None).unwrap_err().to_string();
        assert!(e.contains("cannot have a TTL"), "{e}");
        let mut r = row(vec![("name", Cell::Text("x".into()))]);
        r.kind = WriteKind::Delete;
        let e = t.bind(r, None).unwrap_err().to_string();
        assert!(e.contains("primary key column `id`"), "{e}");
    }

    #[test]
    fn types_parse_as_cassandra_spells_them() {
        assert_eq!(CqlType::parse("varchar"), CqlType::Text);
        assert_eq!(
            CqlType::parse("map<text, text>"),
            CqlType::Map(Box::new(CqlType::Text), Box::new(CqlType::Text))
        );
        assert_eq!(
            CqlType::parse("frozen<tuple<int>>").to_string(),
            "frozen<tuple<int>>"
        );
        assert_eq!(CqlType::parse("set<text>").to_string(), "set<text>");
    }

    #[test]
    fn the_version_stamp_goes_into_a_text_column_only_when_missing() {
        let mut t = (*users()).clone();
        t.columns.insert("plugin_version".into(), CqlType::Text);
        let t = Arc::new(t);
        let r = row(vec![("id", Cell::Uuid(ID.into()))]);
        let b = t
            .bind(r.clone(), Some(("plugin_version", "2.0.0")))
            .unwrap();
        assert_eq!(b.columns, ["id", "plugin_version"]);
        assert_eq!(b.values[1], Some(CqlValue::Text("2.0.0".into())));
        let b = users().bind(r, Some(("plugin_version", "2.0.0"))).unwrap();
        assert_eq!(b.columns, ["id"], "no such column: no stamp");
    }
}
