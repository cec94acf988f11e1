//! Test guest: writes the `rows` buffer of sluice:transform@0.3.0 by hand,
//! from the layout as docs/packed-values.md gives it, without the SDK. A
//! record's key says what to write:
//! - `good` (or no key): one row, `id` text and `n` int, well formed;
//! - `short`: claims two rows, writes one;
//! - `extra`: one row, then bytes no outcome claims;
//! - `garbage`: one "row" of bytes that are not one (an unknown row kind);
//! - `huge-count`: claims 4 billion rows, writes none;
//! - `bad-utf8`: a text cell that is not UTF-8;
//! - `huge-columns`: a row claiming 4 billion columns.
//!
//! The host must read the good rows, and pin each forged buffer on its own
//! record as a contract error, never panic or allocate what a count claims.

wit_bindgen::generate!({
    path: "../../wit",
    world: "sluice:transform/transformer@0.3.0",
    generate_all,
});

// The world-level `use` already brings BatchOutput, InputRecord, PluginInfo.
use sluice::transform0_3_0::types::Outcome;

struct ForgedRows;

fn str(buf: &mut Vec<u8>, s: &[u8]) {
    buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
    buf.extend_from_slice(s);
}

/// One upsert to the default table: `id` (text) and `n` (int).
fn good_row(buf: &mut Vec<u8>, id: &[u8], n: i32) {
    buf.extend_from_slice(&[0, 0]); // upsert, no flags
    buf.extend_from_slice(&2u32.to_le_bytes());
    str(buf, b"id");
    buf.push(1); // text
    str(buf, id);
    str(buf, b"n");
    buf.push(2); // int
    buf.extend_from_slice(&n.to_le_bytes());
}

impl Guest for ForgedRows {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "forged-rows".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "packed rows written by hand, well or forged".into(),
        }
    }

    fn init(_config: Vec<(String, String)>) -> Result<(), String> {
        Ok(())
    }

    fn transform(batch: Vec<InputRecord>) -> BatchOutput {
        let mut rows = Vec::new();
        let mut outcomes = Vec::new();
        for r in &batch {
            let n = r.offset as i32;
            let outcome = match r.key.as_deref().unwrap_or(b"good") {
                b"short" => {
                    good_row(&mut rows, b"a", n);
                    Outcome::Rows(2)
                }
                b"extra" => {
                    good_row(&mut rows, b"a", n);
                    rows.extend_from_slice(&[0, 0, 0]);
                    Outcome::Rows(1)
                }
                b"garbage" => {
                    rows.extend_from_slice(&[9, 9, 9, 9, 9, 9]);
                    Outcome::Rows(1)
                }
                b"huge-count" => Outcome::Rows(u32::MAX),
                b"bad-utf8" => {
                    good_row(&mut rows, &[0xff, 0xfe], n);
                    Outcome::Rows(1)
                }
                b"huge-columns" => {
                    rows.extend_from_slice(&[0, 0]);
                    rows.extend_from_slice(&u32::MAX.to_le_bytes());
                    Outcome::Rows(1)
                }
                _ => {
                    good_row(&mut rows, b"good", n);
                    Outcome::Rows(1)
                }
            };
            outcomes.push(outcome);
        }
        BatchOutput { outcomes, rows }
    }
}

export!(ForgedRows);
