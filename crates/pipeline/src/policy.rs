//! The outcome policy, written once: what becomes of a record after the
//! plugin ran on it. The live pipeline, the validation of a candidate and the
//! dry run all read a plugin's results through [`dispose`].

use crate::dead_letter::Reason;
use sluice_engine::{CallError, RecordResult};
use sluice_model::{Outcome, Row};

/// What becomes of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// Rows to write, each with its table set (the default table where the
    /// plugin named none).
    Rows(Vec<Row>),
    /// Dropped on purpose, with the plugin's reason.
    Filtered(String),
    /// To the dead-letter topic, with the reason and the error text.
    Dead(Reason, String),
    /// The plugin asks to be called again with it later.
    Retry(String),
}

/// Reads one plugin result under the policy.
pub fn dispose(result: RecordResult, default_table: &str) -> Disposition {
    match result {
        Ok(Outcome::Rows(mut rows)) => {
            for row in &mut rows {
                if row.table.is_none() {
                    row.table = Some(default_table.to_string());
                }
            }
            Disposition::Rows(rows)
        }
        Ok(Outcome::Filtered(reason)) => Disposition::Filtered(reason),
        Ok(Outcome::BadInput { field, message }) => Disposition::Dead(
            Reason::PluginError,
            match field {
                Some(f) => format!("bad input in `{f}`: {message}"),
                None => format!("bad input: {message}"),
            },
        ),
        Ok(Outcome::Retry(reason)) => Disposition::Retry(reason),
        Err(e @ CallError::Limit(_)) => Disposition::Dead(Reason::PluginLimit, e.to_string()),
        Err(e @ (CallError::Trap(_) | CallError::Contract(_))) => {
            Disposition::Dead(Reason::PluginTrap, e.to_string())
        }
    }
}

/// A record still asking to retry after `retries` retries.
pub fn retries_exhausted(retries: u32, reason: &str) -> Disposition {
    Disposition::Dead(
        Reason::PluginRetry,
        format!("still asking to retry after {retries} retries: {reason}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_model::Cell;

    #[test]
    fn every_outcome_has_one_disposition() {
        let row = Row {
            table: None,
            columns: vec![("a".into(), Cell::Int(1))],
            ..Row::default()
        };
        let Disposition::Rows(rows) = dispose(Ok(Outcome::Rows(vec![row])), "t") else {
            panic!()
        };
        assert_eq!(rows[0].table.as_deref(), Some("t"), "default table applied");
        assert_eq!(
            dispose(
                Ok(Outcome::BadInput {
                    field: Some("email".into()),
                    message: "missing".into()
                }),
                "t"
            ),
            Disposition::Dead(Reason::PluginError, "bad input in `email`: missing".into())
        );
        assert!(matches!(
            dispose(Err(CallError::Limit("x".into())), "t"),
            Disposition::Dead(Reason::PluginLimit, _)
        ));
        assert!(matches!(
            dispose(Err(CallError::Trap("x".into())), "t"),
            Disposition::Dead(Reason::PluginTrap, _)
        ));
        assert_eq!(
            dispose(Ok(Outcome::Retry("later".into())), "t"),
            Disposition::Retry("later".into())
        );
    }
}
