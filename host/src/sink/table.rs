//! A live table's columns and keys, and the check of a row against them.

use crate::model::{Cell, Row};
use scylla::value::{CqlDate, CqlTimestamp, CqlValue};
use std::collections::HashMap;

/// What the sink knows of a table, read from `system_schema.columns`.
#[derive(Debug, Clone)]
pub struct TableSchema {
    pub name: String,
    /// Column name -> CQL type as Cassandra spells it (`text`, `list<text>`).
    pub columns: HashMap<String, String>,
    /// Partition key columns, in order.
    pub partition_key: Vec<String>,
    /// Clustering columns, in order.
    pub clustering: Vec<String>,
}

impl TableSchema {
    /// Converts a row to CQL values in the row's column order, or says why it
    /// does not fit the table (unknown column, wrong type, missing key).
    pub fn bind(&self, row: &Row) -> Result<Vec<Option<CqlValue>>, String> {
        for key in self.partition_key.iter().chain(&self.clustering) {
            match row.columns.iter().find(|(n, _)| n == key) {
                None | Some((_, Cell::Null)) => {
                    return Err(format!(
                        "row for table {} lacks its primary key column `{key}`",
                        self.name
                    ))
                }
                Some(_) => {}
            }
        }
        row.columns
            .iter()
            .map(|(name, cell)| {
                let ty = self.columns.get(name).ok_or_else(|| {
                    format!(
                        "table {} has no column `{name}` (its columns: {})",
                        self.name,
                        self.column_list()
                    )
                })?;
                to_cql(cell, ty).map_err(|e| format!("column `{name}` of table {}: {e}", self.name))
            })
            .collect()
    }

    /// The partition key values of a bound row, to group rows per partition.
    pub fn partition_of(&self, row: &Row) -> String {
        self.partition_key
            .iter()
            .map(|k| {
                format!(
                    "{:?}",
                    row.columns.iter().find(|(n, _)| n == k).map(|(_, c)| c)
                )
            })
            .collect::<Vec<_>>()
            .join("|")
    }

    fn column_list(&self) -> String {
        let mut names: Vec<&str> = self.columns.keys().map(String::as_str).collect();
        names.sort();
        names.join(", ")
    }
}

/// One cell as the CQL value of a column of type `ty`.
fn to_cql(cell: &Cell, ty: &str) -> Result<Option<CqlValue>, String> {
    let mismatch = || {
        Err(format!(
            "a {} value cannot go into a {ty} column",
            cell.cql_type()
        ))
    };
    let text_list = |l: &[String]| l.iter().cloned().map(CqlValue::Text).collect::<Vec<_>>();
    Ok(Some(match (cell, ty) {
        (Cell::Null, _) => return Ok(None),
        (Cell::Text(s), "text" | "varchar") => CqlValue::Text(s.clone()),
        (Cell::Text(s), "ascii") if s.is_ascii() => CqlValue::Ascii(s.clone()),
        (Cell::Int(i), "int") => CqlValue::Int(*i),
        (Cell::Int(i), "bigint") => CqlValue::BigInt(*i as i64),
        (Cell::Bigint(i), "bigint") => CqlValue::BigInt(*i),
        (Cell::Double(d), "double") => CqlValue::Double(*d),
        (Cell::Boolean(b), "boolean") => CqlValue::Boolean(*b),
        (Cell::Uuid(s), "uuid") => CqlValue::Uuid(
            uuid::Uuid::parse_str(s).map_err(|e| format!("{s:?} is not a UUID: {e}"))?,
        ),
        (Cell::Timestamp(ms), "timestamp") => CqlValue::Timestamp(CqlTimestamp(*ms)),
        // CQL dates count days from 2^31 = 1970-01-01.
        (Cell::Date(days), "date") => CqlValue::Date(CqlDate((*days as i64 + (1i64 << 31)) as u32)),
        (Cell::Blob(b), "blob") => CqlValue::Blob(b.clone()),
        (Cell::TextList(l), "list<text>" | "list<varchar>") => CqlValue::List(text_list(l)),
        (Cell::TextSet(l), "set<text>" | "set<varchar>") => CqlValue::Set(text_list(l)),
        (Cell::TextMap(m), "map<text, text>" | "map<varchar, varchar>") => CqlValue::Map(
            m.iter()
                .map(|(k, v)| (CqlValue::Text(k.clone()), CqlValue::Text(v.clone())))
                .collect(),
        ),
        _ => return mismatch(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> TableSchema {
        TableSchema {
            name: "ks.users".into(),
            columns: [
                ("id", "uuid"),
                ("name", "text"),
                ("born", "timestamp"),
                ("tags", "set<text>"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
            partition_key: vec!["id".into()],
            clustering: vec![],
        }
    }

    fn row(cols: Vec<(&str, Cell)>) -> Row {
        Row {
            table: None,
            columns: cols.into_iter().map(|(n, c)| (n.to_string(), c)).collect(),
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
        let values = users().bind(&r).unwrap();
        assert_eq!(values[2], Some(CqlValue::Timestamp(CqlTimestamp(5))));
        assert_eq!(values[4], None);
    }

    #[test]
    fn names_what_does_not_fit() {
        let t = users();
        let e = t
            .bind(&row(vec![
                ("id", Cell::Uuid(ID.into())),
                ("nme", Cell::Text("x".into())),
            ]))
            .unwrap_err();
        assert!(
            e.contains("no column `nme`") && e.contains("born, id, name, tags"),
            "{e}"
        );
        let e = t
            .bind(&row(vec![
                ("id", Cell::Uuid(ID.into())),
                ("born", Cell::Text("x".into())),
            ]))
            .unwrap_err();
        assert!(
            e.contains("column `born`") && e.contains("text value cannot go into a timestamp"),
            "{e}"
        );
        let e = t
            .bind(&row(vec![("name", Cell::Text("x".into()))]))
            .unwrap_err();
        assert!(e.contains("primary key column `id`"), "{e}");
        let e = t
            .bind(&row(vec![("id", Cell::Uuid("nope".into()))]))
            .unwrap_err();
        assert!(e.contains("not a UUID"), "{e}");
    }
}
