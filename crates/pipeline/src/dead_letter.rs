//! A record that cannot be written, and why: what the dead-letter sink
//! receives. Every text Sluice adds is bounded, so a letter always fits.

use sluice_model::SourceMessage;

/// The most bytes of text (an error, a plugin's message) a dead letter carries.
pub const MAX_TEXT: usize = 2048;

/// Why a record was dead-lettered; the `sluice.reason` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The value could not be decoded (not Avro/JSON, unknown schema id).
    Decode,
    /// The plugin returned bad-input for it.
    PluginError,
    /// The plugin trapped on it (panic, deadline, memory cap).
    PluginTrap,
    /// The plugin's output broke a limit (too many rows or bytes).
    PluginLimit,
    /// The plugin kept asking to retry it.
    PluginRetry,
    /// A row did not fit its table (unknown column, wrong type, missing key).
    SchemaMismatch,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Decode => "decode",
            Reason::PluginError => "plugin-error",
            Reason::PluginTrap => "plugin-trap",
            Reason::PluginLimit => "plugin-limit",
            Reason::PluginRetry => "plugin-retry",
            Reason::SchemaMismatch => "schema-mismatch",
        }
    }

    /// Whether it counts against the plugin in the breaker.
    pub fn is_plugin_failure(self) -> bool {
        matches!(
            self,
            Reason::PluginError | Reason::PluginTrap | Reason::PluginLimit
        )
    }
}

/// A record bound for the dead-letter topic.
#[derive(Debug)]
pub struct DeadLetter<'a> {
    pub message: &'a SourceMessage,
    pub reason: Reason,
    /// At most [`MAX_TEXT`] bytes (see [`DeadLetter::new`]).
    pub error: String,
}

impl<'a> DeadLetter<'a> {
    /// A dead letter whose error text is cut to [`MAX_TEXT`] bytes, so a
    /// plugin's 60 MB message neither breaks the topic's limit nor stays in
    /// the host's memory.
    pub fn new(message: &'a SourceMessage, reason: Reason, error: impl Into<String>) -> Self {
        DeadLetter {
            message,
            reason,
            error: bounded(error.into()),
        }
    }

    /// `topic/partition@offset` of the record.
    pub fn source(&self) -> String {
        let o = &self.message.origin;
        format!("{}/{}@{}", o.topic, o.partition, o.offset)
    }
}

/// `text` cut to [`MAX_TEXT`] bytes, saying how much was cut.
pub fn bounded(text: String) -> String {
    sluice_model::text::cut(text, MAX_TEXT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_at_a_character_boundary_and_say_so() {
        let short = "bad input in `email`".to_string();
        assert_eq!(bounded(short.clone()), short);
        let long = "é".repeat(30 << 20);
        let cut = bounded(long);
        assert!(cut.len() <= MAX_TEXT, "{}", cut.len());
        assert!(
            cut.ends_with("more bytes cut)"),
            "{}",
            &cut[cut.len() - 40..]
        );
        assert!(cut.capacity() <= MAX_TEXT, "the rest is freed");
    }
}
