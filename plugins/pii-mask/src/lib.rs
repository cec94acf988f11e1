//! The pii-mask transform: flatten's row, with the `email` and `phone`
//! columns replaced by HMAC-SHA256(key, value) in lower-case hex.
//!
//! A keyed hash, not a plain one: emails and phone numbers are few enough to
//! be guessed and hashed by anyone, so an unkeyed hash would hide nothing.
//! With the key, equal values still give equal tokens, so the columns can
//! be joined and counted on. Plugin config:
//! - `key` (required, at least 16 characters): the HMAC key. Keep it out of
//!   version control; it is never logged or shown in errors.

use flatten::Flatten;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sluice_plugin::{Cell, InputRecord, Outcome, PluginInfo, Row, Transform, Value};

/// Shorter keys are too easy to guess.
pub const MIN_KEY_CHARS: usize = 16;

/// The columns that are masked.
const MASKED: [&str; 2] = ["email", "phone"];

/// The pii-mask transform.
pub struct PiiMask {
    /// The MAC keyed once; each value is hashed on a clone of it.
    mac: Hmac<Sha256>,
    flatten: Flatten,
}

impl Transform for PiiMask {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "pii-mask".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "created_users rows with email and phone as keyed hashes".to_string(),
        }
    }

    fn new(config: &[(String, String)]) -> Result<Self, String> {
        let mut key = None;
        for (name, value) in config {
            match name.as_str() {
                "key" => key = Some(value.as_str()),
                other => {
                    return Err(format!(
                        "pii-mask has no setting `{other}`; it knows only `key`"
                    ))
                }
            }
        }
        let key = key.ok_or("pii-mask needs the setting `key`: a secret of at least 16 characters for the keyed hash")?;
        let chars = key.chars().count();
        if chars < MIN_KEY_CHARS {
            // The length, never the key: this message ends up in logs.
            return Err(format!(
                "pii-mask setting `key` has {chars} characters; it needs at least {MIN_KEY_CHARS}"
            ));
        }
        Ok(PiiMask {
            mac: Hmac::new_from_slice(key.as_bytes())
                .map_err(|e| format!("pii-mask setting `key`: {e}"))?,
            flatten: Flatten::new(&[])?,
        })
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        match self.flatten.flatten(Value::root(&record.value)) {
            Ok(row) => Outcome::Rows(vec![self.mask(row)]),
            Err(e) => Outcome::BadInput(e),
        }
    }
}

impl PiiMask {
    /// Replaces the text of the masked columns by its keyed hash.
    pub fn mask(&self, mut row: Row) -> Row {
        for column in &mut row.columns {
            if !MASKED.contains(&column.name.as_str()) {
                continue;
            }
            if let Cell::Text(value) = &mut column.value {
                *value = self.hash(value);
            }
        }
        row
    }

    /// HMAC-SHA256 of `value` in lower-case hex.
    pub fn hash(&self, value: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(value.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

sluice_plugin::export_transform!(PiiMask);

#[cfg(test)]
mod tests;
