//! `host plugin test [DIR] [--bless]`: the project's samples through its
//! built component (the dry run), compared row by row with the golden file.
//! A difference prints a diff and exits with status 1; `--bless` rewrites the
//! golden file from the current output instead.

use super::{Project, SAMPLES_EXPECTED, SAMPLES_INPUT};
use crate::engine::{Engine, Limits, Plugin};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// The default table of a dry run, as `host run --input` has it.
const DEFAULT_TABLE: &str = "created_users";

pub fn run(dir: &Option<PathBuf>, bless: bool, config: &[(String, String)]) -> Result<()> {
    let project = Project::open(&super::project_dir(dir))?;
    let component = project.component();
    if !component.is_file() {
        bail!(
            "{} is not built yet: run `host plugin build` first",
            project.show(&component)
        );
    }
    let input_path = project.dir.join(SAMPLES_INPUT);
    let input = std::fs::File::open(&input_path).with_context(|| {
        format!("opening {SAMPLES_INPUT}: a project keeps its sample records there, one JSON object per line")
    })?;
    let expected_path = project.dir.join(SAMPLES_EXPECTED);
    // Read before the run, so a golden file that does not parse is refused
    // whatever the output (unless it is being rewritten).
    let expected = if bless {
        None
    } else {
        let text = std::fs::read_to_string(&expected_path).with_context(|| {
            format!("reading {SAMPLES_EXPECTED}: create it from the current output with `host plugin test --bless`")
        })?;
        Some(parse_rows(&text)?)
    };
    let engine = Engine::new()?;
    let plugin = Plugin::load_file(&engine, &component, config.to_vec(), Limits::default())?;
    let mut out = Vec::new();
    let mut err = Vec::new();
    let summary = crate::dryrun::run(
        &plugin,
        DEFAULT_TABLE,
        std::io::BufReader::new(input),
        &mut out,
        &mut err,
    )?;
    eprint!("{}", String::from_utf8_lossy(&err));
    let actual =
        parse_rows(&String::from_utf8_lossy(&out)).context("reading the dry run's rows")?;
    let counts = format!(
        "{}: {} records, {} rows, {} filtered, {} failed",
        plugin.info(),
        summary.records,
        summary.rows,
        summary.filtered,
        summary.failed
    );
    let Some(expected) = expected else {
        let mut text = String::new();
        for row in &actual {
            text.push_str(&serde_json::to_string(row)?);
            text.push('\n');
        }
        super::write_atomically(&expected_path, text.as_bytes())?;
        println!(
            "{counts}; wrote {SAMPLES_EXPECTED} ({} rows): review its diff",
            actual.len()
        );
        return Ok(());
    };
    if expected == actual {
        println!("{counts}; the rows match {SAMPLES_EXPECTED}");
        return Ok(());
    }
    println!("{counts}; the rows differ from {SAMPLES_EXPECTED} (- expected, + actual):");
    print!("{}", diff(&expected, &actual));
    println!("If the change is intended, rewrite the golden file with `host plugin test --bless` and review its diff.");
    // Status 1, as the dry run gives for failed records: a difference, not an error.
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::process::exit(1);
}

/// JSON lines, one row each; blank lines are skipped.
fn parse_rows(text: &str) -> Result<Vec<serde_json::Value>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l).with_context(|| {
                format!(
                    "{SAMPLES_EXPECTED} line {} is not JSON: fix that line, or rewrite the file from \
                     the current output with `host plugin test --bless`",
                    n + 1
                )
            })
        })
        .collect()
}

/// A line diff of two row lists (longest common subsequence), each row as
/// one JSON line; a changed row also lists the columns that changed.
pub fn diff(expected: &[serde_json::Value], actual: &[serde_json::Value]) -> String {
    let (n, m) = (expected.len(), actual.len());
    // lcs[i][j]: the common length of expected[i..] and actual[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if expected[i] == actual[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && expected[i] == actual[j] {
            i += 1;
            j += 1;
        } else if i < n && j < m && lcs[i + 1][j + 1] == lcs[i][j] {
            // A row replaced by another: say which columns changed.
            out.push_str(&format!(
                "row {}:\n- {}\n+ {}\n",
                j + 1,
                expected[i],
                actual[j]
            ));
            out.push_str(&columns_changed(&expected[i], &actual[j]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("row {} (new):\n+ {}\n", j + 1, actual[j]));
            j += 1;
        } else {
            out.push_str(&format!("row {} (gone):\n- {}\n", i + 1, expected[i]));
            i += 1;
        }
    }
    out
}

/// `  column email: "a" -> "b"` for each column whose value changed.
fn columns_changed(expected: &serde_json::Value, actual: &serde_json::Value) -> String {
    let mut out = String::new();
    if expected["table"] != actual["table"] {
        out.push_str(&format!(
            "  table: {} -> {}\n",
            expected["table"], actual["table"]
        ));
    }
    let empty = serde_json::Map::new();
    let before = expected["columns"].as_object().unwrap_or(&empty);
    let after = actual["columns"].as_object().unwrap_or(&empty);
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        match (before.get(name), after.get(name)) {
            (Some(a), Some(b)) if a != b => out.push_str(&format!("  column {name}: {a} -> {b}\n")),
            (Some(a), None) => out.push_str(&format!("  column {name}: {a} -> (absent)\n")),
            (None, Some(b)) => out.push_str(&format!("  column {name}: (absent) -> {b}\n")),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(email: &str) -> serde_json::Value {
        json!({"table": "created_users", "columns": {"id": "1", "email": email}})
    }

    #[test]
    fn a_changed_row_names_its_changed_columns() {
        let d = diff(&[row("a@x"), row("b@x")], &[row("a@x"), row("B@x")]);
        assert!(d.contains("row 2:"), "{d}");
        assert!(d.contains("column email: \"b@x\" -> \"B@x\""), "{d}");
        assert!(!d.contains("a@x"), "equal rows are not shown: {d}");
    }

    #[test]
    fn new_and_gone_rows_are_shown() {
        let d = diff(&[row("a@x")], &[row("a@x"), row("c@x")]);
        assert!(d.contains("row 2 (new):\n+ "), "{d}");
        let d = diff(&[row("a@x"), row("c@x")], &[row("c@x")]);
        assert!(d.contains("row 1 (gone):\n- "), "{d}");
    }

    #[test]
    fn a_golden_file_that_does_not_parse_names_the_line_and_the_fix() {
        let err = parse_rows("{\"table\": \"t\"}\n\n{oops\n").unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains("line 3 is not JSON"), "{err}");
        assert!(err.contains("--bless"), "{err}");
    }
}
