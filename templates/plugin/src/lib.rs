//! The {{name}} transform. As generated, it turns a randomuser.me user into
//! a row of the pipeline's default table (`created_users`) with a few of its
//! columns; change `{{Name}}::row` to make it yours.

use sluice_plugin::{
    InputError, InputRecord, Outcome, PluginInfo, Row, RowBuilder, Transform, Value,
};

/// The transform. Its fields hold what `new` made of the plugin config.
pub struct {{Name}};

impl Transform for {{Name}} {
    fn metadata() -> PluginInfo {
        PluginInfo {
            // Name and version from Cargo.toml, so that logs, metrics and
            // dead letters always show the ones that were built.
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "randomuser.me user -> id, name and email in created_users".to_string(),
        }
    }

    fn new(config: &[(String, String)]) -> Result<Self, String> {
        // Refuse settings this plugin does not know: a typo in
        // [pipeline.plugin-config] then fails the deploy instead of doing nothing.
        match config.first() {
            Some((key, _)) => Err(format!("no setting `{key}`: this plugin takes none")),
            None => Ok({{Name}}),
        }
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        match self.row(Value::root(&record.value)) {
            Ok(row) => Outcome::Rows(vec![row]),
            // A missing or mistyped field never transforms: dead-letter it.
            Err(e) => Outcome::BadInput(e),
        }
    }
}

impl {{Name}} {
    /// The logic, as a plain function of the value so unit tests call it directly.
    pub fn row(&self, user: Value<'_>) -> Result<Row, InputError> {
        Ok(RowBuilder::default_table()
            .uuid("id", user.require_str("login.uuid")?)
            .text("first_name", user.require_str("name.first")?)
            .text("last_name", user.require_str("name.last")?)
            .text("email", user.require_str("email")?)
            .build())
    }
}

sluice_plugin::export_transform!({{Name}});

#[cfg(test)]
mod tests;
