//! A dead letter read back: the record it carries, restored as it was in its
//! source topic (key, value, headers, topic/partition@offset), and what the
//! `sluice.*` headers [`crate::dead_letters`] wrote say about its failure.
//! `host dlq replay` hands the restored record to the pipeline again, so
//! its rows and any new dead letter carry the source coordinates.

use sluice_model::{Origin, SourceMessage};

/// The header that counts how often a record was dead-lettered. A first
/// letter has none (attempt 1); a record restored from a letter carries the
/// letter's attempt, so the producer writes the next one if it fails again.
pub const ATTEMPT: &str = "sluice.attempt";

/// A dead letter that can be replayed.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The record as it was in the source topic, plus [`ATTEMPT`].
    pub message: SourceMessage,
    /// `sluice.reason`.
    pub reason: String,
    /// `sluice.plugin` and `sluice.plugin.version`: the version that failed on it.
    pub plugin: String,
    pub version: String,
    /// How often it was dead-lettered so far (1 for a first letter).
    pub attempt: u32,
}

/// Why a record of a dead-letter topic cannot be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotALetter {
    /// It lacks a header Sluice writes: something else produced it.
    #[error("no {0} header (not written by Sluice)")]
    Missing(&'static str),
    /// A header Sluice writes holds something else.
    #[error("header {0} is not valid ({1:?})")]
    Invalid(&'static str, String),
    /// The letter carries coordinates and a hash instead of the payload.
    #[error("its payload was too large to keep (sluice.payload.omitted)")]
    PayloadOmitted,
}

impl NotALetter {
    /// A short, low-cardinality name for counting.
    pub fn kind(&self) -> &'static str {
        match self {
            NotALetter::Missing(_) => "foreign",
            NotALetter::Invalid(..) => "invalid-headers",
            NotALetter::PayloadOmitted => "payload-omitted",
        }
    }
}

/// Restores the record a dead letter carries.
pub fn restore(letter: &SourceMessage) -> Result<Restored, NotALetter> {
    let headers = &letter.origin.headers;
    let text = |name: &'static str| -> Result<String, NotALetter> {
        let value = headers
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .ok_or(NotALetter::Missing(name))?
            .1
            .as_deref()
            .unwrap_or_default();
        String::from_utf8(value.to_vec())
            .map_err(|_| NotALetter::Invalid(name, String::from_utf8_lossy(value).into()))
    };
    let number = |name: &'static str| -> Result<i64, NotALetter> {
        let t = text(name)?;
        t.trim().parse().map_err(|_| NotALetter::Invalid(name, t))
    };
    let reason = text("sluice.reason")?;
    let topic = text("sluice.source.topic")?;
    let partition = number("sluice.source.partition")?;
    let offset = number("sluice.source.offset")?;
    let plugin = text("sluice.plugin")?;
    let version = text("sluice.plugin.version")?;
    if headers.iter().any(|(k, _)| k == "sluice.payload.omitted") {
        return Err(NotALetter::PayloadOmitted);
    }
    let attempt = match text(ATTEMPT) {
        Ok(t) => t
            .trim()
            .parse::<u32>()
            .map_err(|_| NotALetter::Invalid(ATTEMPT, t))?,
        Err(_) => 1,
    };
    let partition = i32::try_from(partition)
        .map_err(|_| NotALetter::Invalid("sluice.source.partition", partition.to_string()))?;
    // The source's own headers came first, Sluice's after them.
    let mut original: Vec<(String, Option<Vec<u8>>)> = headers
        .iter()
        .filter(|(k, _)| !k.starts_with("sluice."))
        .cloned()
        .collect();
    original.push((ATTEMPT.to_string(), Some(attempt.to_string().into_bytes())));
    Ok(Restored {
        message: SourceMessage {
            origin: Origin {
                topic,
                partition,
                offset,
                // The source's timestamp is not kept: the letter's is the
                // closest (the record's end-to-end latency then counts from it).
                timestamp: letter.origin.timestamp,
                key: letter.origin.key.clone(),
                headers: original,
            },
            payload: letter.payload.clone(),
        },
        reason,
        plugin,
        version,
        attempt,
    })
}

/// The attempt a new letter of `message` is: one more than the attempt the
/// message carries (a restored letter), or none (1) for a first failure.
pub(crate) fn next_attempt(message: &SourceMessage) -> Option<u32> {
    let (_, value) = message
        .origin
        .headers
        .iter()
        .rev()
        .find(|(k, _)| k == ATTEMPT)?;
    let carried = std::str::from_utf8(value.as_deref()?)
        .ok()?
        .trim()
        .parse::<u32>()
        .ok()?;
    Some(carried.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(headers: &[(&str, &str)]) -> SourceMessage {
        SourceMessage {
            origin: Origin {
                topic: "t.dlq".into(),
                partition: 0,
                offset: 7,
                timestamp: Some(5),
                key: Some(b"k".to_vec()),
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), Some(v.as_bytes().to_vec())))
                    .collect(),
            },
            payload: Some(b"{}".to_vec()),
        }
    }

    const SLUICE: [(&str, &str); 7] = [
        ("sluice.reason", "plugin-error"),
        ("sluice.error", "bad"),
        ("sluice.plugin", "picky"),
        ("sluice.plugin.version", "1.0.0"),
        ("sluice.source.topic", "t"),
        ("sluice.source.partition", "2"),
        ("sluice.source.offset", "41"),
    ];

    #[test]
    fn a_letter_gives_back_its_source_record_and_attempt() {
        let mut h = vec![("trace", "abc")];
        h.extend(SLUICE);
        let r = restore(&letter(&h)).unwrap();
        let o = &r.message.origin;
        assert_eq!((o.topic.as_str(), o.partition, o.offset), ("t", 2, 41));
        assert_eq!(o.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(r.attempt, 1);
        assert_eq!(
            (r.reason.as_str(), r.plugin.as_str(), r.version.as_str()),
            ("plugin-error", "picky", "1.0.0")
        );
        let names: Vec<&str> = o.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["trace", ATTEMPT]);
        assert_eq!(next_attempt(&r.message), Some(2));

        h.push((ATTEMPT, "2"));
        let again = restore(&letter(&h)).unwrap();
        assert_eq!(again.attempt, 2);
        assert_eq!(next_attempt(&again.message), Some(3));
    }

    #[test]
    fn records_sluice_did_not_write_are_refused_with_the_reason() {
        let e = restore(&letter(&[("trace", "abc")])).unwrap_err();
        assert_eq!(e, NotALetter::Missing("sluice.reason"));
        assert_eq!(e.kind(), "foreign");
        let mut h = SLUICE.to_vec();
        h[6] = ("sluice.source.offset", "forty-one");
        assert_eq!(restore(&letter(&h)).unwrap_err().kind(), "invalid-headers");
        let mut h = SLUICE.to_vec();
        h.push(("sluice.payload.omitted", "too large"));
        assert_eq!(
            restore(&letter(&h)).unwrap_err(),
            NotALetter::PayloadOmitted
        );
    }

    #[test]
    fn a_live_record_starts_no_attempt_count() {
        assert_eq!(next_attempt(&letter(&[("trace", "abc")])), None);
    }
}
