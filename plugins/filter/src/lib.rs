//! The filter transform: keeps randomuser.me users of the configured
//! nationalities (their `nat` field) and writes them as flatten does; every
//! other user is filtered out, counted but not dead-lettered.
//!
//! Plugin config:
//! - `nationalities` (required): comma-separated nationality codes, e.g.
//!   `FR,DE`; case does not matter.

use flatten::Flatten;
use sluice_plugin::{InputRecord, Outcome, PluginInfo, Transform, Value};

/// The filter transform.
pub struct Filter {
    /// Upper-case codes, in config order (the order shows in filter reasons).
    nationalities: Vec<String>,
    flatten: Flatten,
}

impl Transform for Filter {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "filter".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "keeps users of the configured nationalities, as created_users rows"
                .to_string(),
        }
    }

    fn new(config: &[(String, String)]) -> Result<Self, String> {
        let mut nationalities = None;
        for (key, value) in config {
            match key.as_str() {
                "nationalities" => nationalities = Some(parse_nationalities(value)?),
                other => {
                    return Err(format!(
                        "filter has no setting `{other}`; it knows only `nationalities`"
                    ))
                }
            }
        }
        let nationalities = nationalities.ok_or(
            "filter needs the setting `nationalities`: the nationality codes to keep, e.g. nationalities = \"FR,DE\"",
        )?;
        Ok(Filter {
            nationalities,
            flatten: Flatten::new(&[])?,
        })
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        let user = Value::root(&record.value);
        // Decide on `nat` alone, so a user we drop anyway is never
        // dead-lettered for a problem in a field we would not have written.
        let nat = match user.require_str("nat") {
            Ok(nat) => nat,
            Err(e) => return Outcome::BadInput(e),
        };
        if !self.keeps(nat) {
            return Outcome::Filtered(format!(
                "nationality {nat} is not one of {}",
                self.nationalities.join(", ")
            ));
        }
        match self.flatten.flatten(user) {
            Ok(row) => Outcome::Rows(vec![row]),
            Err(e) => Outcome::BadInput(e),
        }
    }
}

impl Filter {
    /// Whether users of nationality `nat` are kept.
    pub fn keeps(&self, nat: &str) -> bool {
        self.nationalities
            .iter()
            .any(|n| n.eq_ignore_ascii_case(nat))
    }
}

/// `"FR, de"` -> `["FR", "DE"]`; an empty list or a code that is not two
/// letters (randomuser's `nat` is ISO 3166 alpha-2) is refused.
fn parse_nationalities(value: &str) -> Result<Vec<String>, String> {
    let codes: Vec<String> = value
        .split(',')
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
        .collect();
    if codes.is_empty() {
        return Err("filter setting `nationalities` is empty: list the nationality codes to keep, e.g. \"FR,DE\"".to_string());
    }
    if let Some(bad) = codes
        .iter()
        .find(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return Err(format!(
            "filter setting `nationalities`: {bad:?} is not a two-letter nationality code like FR or DE"
        ));
    }
    Ok(codes)
}

sluice_plugin::export_transform!(Filter);

#[cfg(test)]
mod tests;
