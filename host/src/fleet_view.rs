//! What `host plugin deploy|rollback|status` print for people: sentences
//! and aligned tables built from the admin endpoint's JSON (`--json` prints
//! that JSON as it came).

use serde_json::Value;
use std::fmt::Write;

/// Columns padded to their widest cell, two spaces apart.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                let _ = write!(out, "{cell:<w$}  ", w = widths[i]);
            }
        }
        out.trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

fn answers_table(answers: &[Value]) -> String {
    let rows: Vec<Vec<String>> = answers
        .iter()
        .map(|a| {
            let accepted = a.get("accepted").and_then(Value::as_bool).unwrap_or(false);
            vec![
                text(a, "host").to_string(),
                text(a, "member").to_string(),
                if accepted { "accepted" } else { "rejected" }.to_string(),
                text(a, "reason").lines().next().unwrap_or("").to_string(),
            ]
        })
        .collect();
    table(&["HOST", "MEMBER", "ANSWER", "REASON"], &rows)
}

/// A deploy the host (and its group) took.
pub fn deployed(v: &Value) -> String {
    let mut out = format!(
        "Deployed {} {} ({})",
        text(v, "name"),
        text(v, "version"),
        short(text(v, "hash"))
    );
    match v.get("activation").and_then(Value::as_u64) {
        Some(seq) => {
            let _ = writeln!(out, " as the group's activation {seq}.");
        }
        None => out.push_str(".\n"),
    }
    if let Some(answers) = v.get("answers").and_then(Value::as_array) {
        out.push('\n');
        out.push_str(&answers_table(answers));
    }
    out
}

/// A deploy the group refused: why, and every host's answer.
pub fn refused(v: &Value) -> String {
    let mut out = format!(
        "Deploy rejected; the running version goes on everywhere.\n{}\n",
        text(v, "error")
    );
    if let Some(answers) = v.get("answers").and_then(Value::as_array) {
        if !answers.is_empty() {
            out.push('\n');
            out.push_str(&answers_table(answers));
        }
    }
    out
}

fn ago(ms: u64) -> String {
    match ms {
        0..=999 => "now".to_string(),
        1_000..=119_999 => format!("{} s ago", ms / 1000),
        _ => format!("{} min ago", ms / 60_000),
    }
}

/// `/api/status` for people: the active version, the group's hosts, earlier versions.
pub fn status(v: &Value) -> String {
    let mut out = String::new();
    let active = &v["active"];
    let _ = writeln!(
        out,
        "Active: {} {} ({}) from {}",
        text(active, "name"),
        text(active, "version"),
        short(text(active, "hash")),
        text(active, "source")
    );
    if v.get("ready").and_then(Value::as_bool) == Some(false) {
        if let Some(waiting) = v.get("waiting").and_then(Value::as_object) {
            for (what, why) in waiting {
                let _ = writeln!(out, "Not ready ({what}): {}", why.as_str().unwrap_or(""));
            }
        }
    }
    match v.get("fleet").filter(|f| !f.is_null()) {
        None => out.push_str("Fleet: off (this host alone; deploys live in its memory).\n"),
        Some(fleet) => {
            if let Some(a) = fleet.get("active").filter(|a| !a.is_null()) {
                let _ = writeln!(
                    out,
                    "Group: activation {} = {} {} ({}), by {}",
                    a["seq"],
                    text(a, "name"),
                    text(a, "version"),
                    short(text(a, "hash")),
                    text(a, "by")
                );
            }
            let members = fleet
                .get("members")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let rows: Vec<Vec<String>> = members
                .iter()
                .map(|m| {
                    let partitions: Vec<&str> = m["partitions"]
                        .as_array()
                        .map(|ps| ps.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let live = m["live"].as_bool().unwrap_or(false);
                    vec![
                        text(m, "host").to_string(),
                        text(m, "member").to_string(),
                        format!("{} {}", text(m, "name"), text(m, "version")),
                        m["seq"].to_string(),
                        if partitions.is_empty() {
                            "-".to_string()
                        } else {
                            partitions.join(",")
                        },
                        m["lag"].to_string(),
                        ago(m["last_seen_ms"].as_u64().unwrap_or(0)),
                        match (live, m["ready"].as_bool().unwrap_or(false)) {
                            (false, _) => "gone",
                            (true, true) => "ready",
                            (true, false) => "not ready",
                        }
                        .to_string(),
                    ]
                })
                .collect();
            let _ = writeln!(out, "\nHosts of the group ({}):", rows.len());
            out.push_str(&table(
                &[
                    "HOST",
                    "MEMBER",
                    "VERSION",
                    "ACTIVATION",
                    "PARTITIONS",
                    "LAG",
                    "LAST SEEN",
                    "STATE",
                ],
                &rows,
            ));
            if let Some(sh) = fleet.get("shadow").filter(|s| !s.is_null()) {
                out.push_str(&group_shadow(sh, &members));
            }
            if let Some(lagging) = fleet.get("lagging").and_then(Value::as_str) {
                let _ = writeln!(out, "\nThis host could not take {lagging}");
            }
            if let Some(problems) = fleet.get("problems").and_then(Value::as_array) {
                for p in problems.iter().filter_map(Value::as_str) {
                    let _ = writeln!(out, "Problem: {p}");
                }
            }
        }
    }
    if let Some(sh) = v.get("shadow").filter(|s| !s.is_null()) {
        out.push('\n');
        out.push_str(&shadow(sh));
    }
    if let Some(versions) = v.get("versions").and_then(Value::as_array) {
        let rows: Vec<Vec<String>> = versions
            .iter()
            .rev()
            .take(10)
            .map(|e| {
                vec![
                    e["activation"].to_string(),
                    format!("{} {}", text(e, "name"), text(e, "version")),
                    short(text(e, "hash")).to_string(),
                    text(e, "source").to_string(),
                ]
            })
            .collect();
        let _ = writeln!(out, "\nVersions on this host, newest first:");
        out.push_str(&table(&["ACTIVATION", "VERSION", "HASH", "SOURCE"], &rows));
    }
    out
}

/// The group's shadow run and each live member's counts of it.
fn group_shadow(spec: &Value, members: &[Value]) -> String {
    let mut out = format!(
        "\nShadow run of the group: {} {} ({}) on {:.0}% of the records, started by {}\n",
        text(spec, "name"),
        text(spec, "version"),
        short(text(spec, "hash")),
        spec["sample"].as_f64().unwrap_or(0.0) * 100.0,
        text(spec, "by"),
    );
    let rows: Vec<Vec<String>> = members
        .iter()
        .filter(|m| m["live"].as_bool().unwrap_or(false))
        .map(|m| {
            let c = &m["shadow"];
            let n = |k: &str| c[k].as_u64().unwrap_or(0).to_string();
            if c.is_null() {
                // A member that cannot load the candidate says why in its heartbeat.
                let state = match m.get("shadow_error").and_then(Value::as_str) {
                    Some(e) => format!("cannot load it: {e}"),
                    None => "not running".to_string(),
                };
                let mut row = vec![text(m, "host").to_string(), state];
                row.extend(std::iter::repeat_n(String::new(), 4));
                row
            } else {
                vec![
                    text(m, "host").to_string(),
                    n("compared"),
                    n("same"),
                    n("different"),
                    n("candidate_failed"),
                    n("skipped"),
                ]
            }
        })
        .collect();
    out.push_str(&table(
        &[
            "HOST",
            "COMPARED",
            "SAME",
            "DIFFERENT",
            "CANDIDATE FAILED",
            "SKIPPED",
        ],
        &rows,
    ));
    out
}

/// A shadow run's counts and its newest differences.
pub fn shadow(v: &Value) -> String {
    let c = &v["counts"];
    let n = |k: &str| c[k].as_u64().unwrap_or(0);
    let mut out = format!(
        "Shadow: {} {} ({}) on {:.0}% of the records: {} compared, {} same, {} different, {} candidate failed, {} candidate filtered, {} active failed, {} skipped\n",
        text(v, "name"),
        text(v, "version"),
        short(text(v, "hash")),
        v["sample"].as_f64().unwrap_or(0.0) * 100.0,
        n("compared"),
        n("same"),
        n("different"),
        n("candidate_failed"),
        n("candidate_filtered"),
        n("active_failed"),
        n("skipped"),
    );
    let mut rows = Vec::new();
    for s in v["samples"].as_array().into_iter().flatten().take(10) {
        let columns = s["columns"].as_array().cloned().unwrap_or_default();
        if columns.is_empty() {
            rows.push(vec![
                text(s, "record").to_string(),
                text(s, "kind").to_string(),
                String::new(),
                String::new(),
                text(s, "detail").lines().next().unwrap_or("").to_string(),
            ]);
        }
        for col in columns {
            rows.push(vec![
                text(s, "record").to_string(),
                text(s, "kind").to_string(),
                text(&col, "column").to_string(),
                text(&col, "active").to_string(),
                text(&col, "candidate").to_string(),
            ]);
        }
    }
    if !rows.is_empty() {
        out.push_str(&table(
            &["RECORD", "KIND", "COLUMN", "ACTIVE", "CANDIDATE"],
            &rows,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_line_up() {
        let t = table(
            &["A", "BB"],
            &[
                vec!["xxx".into(), "1".into()],
                vec!["y".into(), "22".into()],
            ],
        );
        assert_eq!(t, "A    BB\nxxx  1\ny    22\n");
    }

    #[test]
    fn a_refusal_names_the_host_and_its_reason() {
        let v = serde_json::json!({
            "error": "host b (b-2-ff) rejected it: init failed",
            "answers": [
                {"host": "a", "member": "a-1-00", "accepted": true},
                {"host": "b", "member": "b-2-ff", "accepted": false, "reason": "init failed\nmore"},
            ]
        });
        let out = refused(&v);
        assert!(out.contains("b-2-ff  rejected  init failed"), "{out}");
        assert!(out.contains("a-1-00  accepted"), "{out}");
        assert!(!out.contains("more"), "{out}");
    }

    #[test]
    fn the_groups_shadow_run_shows_each_live_members_counts() {
        let spec = serde_json::json!({"name": "flatten", "version": "2.0.0",
            "hash": "c".repeat(64), "sample": 0.1, "by": "a-1"});
        let members = vec![
            serde_json::json!({"host": "alpha", "live": true,
                "shadow": {"compared": 12, "same": 2, "different": 10, "candidate_failed": 0, "skipped": 1}}),
            serde_json::json!({"host": "beta", "live": true}),
            serde_json::json!({"host": "gamma", "live": true,
                "shadow_error": "init: flatten has no setting `x`"}),
            serde_json::json!({"host": "gone", "live": false,
                "shadow": {"compared": 99}}),
        ];
        let out = group_shadow(&spec, &members);
        assert!(
            out.contains("flatten 2.0.0 (cccccccccccc) on 10% of the records, started by a-1"),
            "{out}"
        );
        let alpha = out.lines().find(|l| l.starts_with("alpha")).unwrap_or("");
        assert_eq!(
            alpha.split_whitespace().collect::<Vec<_>>(),
            ["alpha", "12", "2", "10", "0", "1"],
            "{out}"
        );
        assert!(out.contains("beta   not running"), "{out}");
        assert!(
            out.contains("gamma  cannot load it: init: flatten has no setting `x`"),
            "{out}"
        );
        assert!(!out.contains("gone"), "{out}");
    }
}
