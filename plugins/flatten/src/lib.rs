//! The flatten transform: one randomuser.me user becomes one row of
//! `created_users`, as the seeds' `format_data` did in Spark.
//!
//! The row's `id` is the user's `login.uuid`, so replaying a record rewrites
//! the same row instead of adding one. Plugin config:
//! - `version-column`: if set, the named text column receives this plugin's
//!   version (lets operators see which version wrote a row).

use sluice_plugin::time::parse_rfc3339_millis;
use sluice_plugin::value::field_error;
use sluice_plugin::{
    InputError, InputRecord, Outcome, PluginInfo, Row, RowBuilder, Transform, Value,
};

/// The plugin's version as Cargo knows it; shown in logs and dead letters.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The flatten transform.
pub struct Flatten {
    version_column: Option<String>,
}

impl Transform for Flatten {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "flatten".to_string(),
            version: VERSION.to_string(),
            description: "randomuser.me user -> one created_users row".to_string(),
        }
    }

    fn new(config: &[(String, String)]) -> Result<Self, String> {
        let mut version_column = None;
        for (key, value) in config {
            match key.as_str() {
                "version-column" if !value.is_empty() => version_column = Some(value.clone()),
                "version-column" => return Err("plugin-config `version-column` is empty: name a text column or remove the setting".to_string()),
                other => return Err(format!("flatten has no setting `{other}`; it knows only `version-column`")),
            }
        }
        Ok(Flatten { version_column })
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        match self.flatten(Value::root(&record.value)) {
            Ok(row) => Outcome::Rows(vec![row]),
            Err(e) => Outcome::BadInput(e),
        }
    }
}

impl Flatten {
    /// The reshaping itself, as a plain function for native tests.
    pub fn flatten(&self, user: Value<'_>) -> Result<Row, InputError> {
        let number = user.require_text("location.street.number")?;
        let street = user.require_str("location.street.name")?;
        let city = user.require_str("location.city")?;
        let state = user.require_text("location.state")?;
        let country = user.require_str("location.country")?;
        // `concat`, not `format!`: in a Wasm guest the formatting machinery
        // costs more than the copies.
        let address = [
            &number, " ", street, ", ", city, ", ", &state, ", ", country,
        ]
        .concat();
        let mut row = RowBuilder::default_table()
            .uuid("id", uuid(&user, "login.uuid")?)
            .text("first_name", user.require_str("name.first")?)
            .text("last_name", user.require_str("name.last")?)
            .text("gender", user.require_str("gender")?)
            .text("address", address)
            .text("post_code", user.require_text("location.postcode")?)
            .text("email", user.require_str("email")?)
            .text("username", user.require_str("login.username")?)
            .timestamp("dob", timestamp(&user, "dob.date")?)
            .timestamp("registered_date", timestamp(&user, "registered.date")?)
            .text("phone", user.require_str("phone")?)
            .text("picture", user.require_str("picture.medium")?);
        if let Some(column) = &self.version_column {
            row = row.text(column, VERSION);
        }
        Ok(row.build())
    }
}

fn timestamp(user: &Value<'_>, path: &str) -> Result<i64, InputError> {
    let text = user.require_str(path)?;
    parse_rfc3339_millis(text)
        .ok_or_else(|| field_error(path, &format!("is not an RFC 3339 timestamp: {text:?}")))
}

fn uuid(user: &Value<'_>, path: &str) -> Result<String, InputError> {
    let text = user.require_str(path)?;
    // Bytes, not `char_indices`: no UTF-8 decoding for what must be ASCII.
    let ok = text.len() == 36
        && text.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    if ok {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(field_error(path, &format!("is not a UUID: {text:?}")))
    }
}

#[cfg(feature = "export")]
sluice_plugin::export_transform!(Flatten);

#[cfg(test)]
mod tests;
