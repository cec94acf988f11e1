//! The fan-out transform: one randomuser.me user becomes two rows, its
//! flatten row in the default table (`created_users`) and a row of
//! `users_by_country`, a table for reading users by country. Both tables are
//! in schemas/fan-out.cql; point `cassandra.schema-file` at it. No config.

use flatten::Flatten;
use sluice_plugin::{
    InputError, InputRecord, Outcome, PluginInfo, Row, RowBuilder, Transform, Value,
};

/// The second table, keyed by `((country), id)`.
pub const BY_COUNTRY: &str = "users_by_country";

/// The columns `users_by_country` shares with the flatten row.
const SHARED: [&str; 4] = ["id", "first_name", "last_name", "email"];

/// The fan-out transform.
pub struct FanOut {
    flatten: Flatten,
}

impl Transform for FanOut {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "fan-out".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "user -> created_users row + users_by_country row".to_string(),
        }
    }

    fn new(config: &[(String, String)]) -> Result<Self, String> {
        match config.first() {
            Some((key, _)) => Err(format!("fan-out has no setting `{key}`; it takes none")),
            None => Ok(FanOut {
                flatten: Flatten::new(&[])?,
            }),
        }
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        match self.rows(Value::root(&record.value)) {
            Ok(rows) => Outcome::Rows(rows),
            // One bad field fails the record whole: the host writes all of
            // its rows or none, so the two tables never disagree.
            Err(e) => Outcome::BadInput(e),
        }
    }
}

impl FanOut {
    /// Both rows of one user: `[created_users, users_by_country]`.
    pub fn rows(&self, user: Value<'_>) -> Result<Vec<Row>, InputError> {
        let flat = self.flatten.flatten(user)?;
        let mut by_country =
            RowBuilder::table(BY_COUNTRY).text("country", user.require_str("location.country")?);
        // Copy the shared cells from the flatten row: they are already
        // checked (the id is a valid, lower-cased UUID).
        let shared = flat
            .columns
            .iter()
            .filter(|c| SHARED.contains(&c.name.as_str()));
        for column in shared {
            by_country = by_country.cell(&column.name, column.value.clone());
        }
        Ok(vec![flat, by_country.build()])
    }
}

sluice_plugin::export_transform!(FanOut);

#[cfg(test)]
mod tests;
