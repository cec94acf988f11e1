//! Golden tests of the example plugins: dry runs of the real `host` binary
//! (`host run --plugin P.wasm --input FILE`) on the fixtures under
//! `tests/fixtures/golden/<plugin>/`, compared with what was accepted before:
//! `expected.jsonl` (stdout: one row per line) and `expected.stderr` (stderr,
//! then the exit status). The plugins come from plugins/dist (`just
//! build-plugins`). After an intended change, accept the new output with
//! `SLUICE_BLESS=1 cargo test -p host --test golden` and review the diff.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Plugin settings, given as `--plugin-config KEY=VALUE`.
type Settings = &'static [(&'static str, &'static str)];

/// One golden case: a plugin, the config its dry run gets, and the fixture folder.
struct Case {
    plugin: &'static str,
    config: Settings,
}

const CASES: [Case; 4] = [
    Case {
        plugin: "flatten",
        config: &[],
    },
    Case {
        plugin: "filter",
        config: &[("nationalities", "FR,DE")],
    },
    Case {
        plugin: "pii-mask",
        config: &[("key", "golden-test-key-0123456789")],
    },
    Case {
        plugin: "fan-out",
        config: &[],
    },
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixtures(plugin: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden")
        .join(plugin)
}

/// The plugin's component, refusing one older than its sources: a golden
/// test of a stale build would pass or fail for the wrong reasons.
fn component(plugin: &str) -> PathBuf {
    let wasm = workspace()
        .join("plugins/dist")
        .join(format!("{plugin}.wasm"));
    let built = std::fs::metadata(&wasm)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}; run `just build-plugins`", wasm.display()));
    // Every example plugin builds on flatten and the SDK.
    for dir in [
        format!("plugins/{plugin}/src"),
        "plugins/flatten/src".into(),
        "sdk/rust/src".into(),
    ] {
        for entry in std::fs::read_dir(workspace().join(&dir)).unwrap() {
            let path = entry.unwrap().path();
            let changed = std::fs::metadata(&path).unwrap().modified().unwrap();
            assert!(
                changed <= built,
                "{} is newer than {}: run `just build-plugins`",
                path.display(),
                wasm.display()
            );
        }
    }
    wasm
}

/// Runs `host run` as a plugin author would, with nothing from the caller's
/// environment that could change the output (config file, log lines).
fn dry_run(plugin: &str, config: &[(&str, &str)], input: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_host"));
    cmd.current_dir(workspace())
        .args(["run", "--plugin-dir", "plugins/dist", "--plugin"])
        .arg(format!("{plugin}.wasm"))
        .arg("--input")
        .arg(input);
    for (key, value) in config {
        cmd.arg("--plugin-config").arg(format!("{key}={value}"));
    }
    for (key, _) in std::env::vars() {
        if key.starts_with("SLUICE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "off")
        .output()
        .expect("the host binary runs")
}

/// Compares `actual` with the file, or rewrites the file when blessing.
/// Returns a description of the difference, if any.
fn check(path: &Path, actual: &str) -> Option<String> {
    if std::env::var_os("SLUICE_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(path, actual).unwrap();
        eprintln!("blessed {}", path.display());
        return None;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected == actual {
        return None;
    }
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let at = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    Some(format!(
        "{} differs from the output at line {}:\n  expected: {}\n  actual:   {}\n--- whole output ---\n{actual}",
        path.display(),
        at + 1,
        e.get(at).unwrap_or(&"<end of file>"),
        a.get(at).unwrap_or(&"<end of output>"),
    ))
}

#[test]
fn example_plugins_match_their_golden_output() {
    let mut failures = Vec::new();
    for case in &CASES {
        let dir = fixtures(case.plugin);
        component(case.plugin);
        let out = dry_run(case.plugin, case.config, &dir.join("input.jsonl"));
        let stdout = String::from_utf8(out.stdout).expect("rows are UTF-8");
        let stderr = String::from_utf8(out.stderr).expect("messages are UTF-8");
        let stderr = format!("{stderr}exit status: {}\n", out.status.code().unwrap_or(-1));
        // Every row line is a JSON object naming its table.
        for line in stdout.lines() {
            let row: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: {e}: {line}", case.plugin));
            assert!(
                row["table"].is_string() && row["columns"].is_object(),
                "{}: {line}",
                case.plugin
            );
        }
        failures.extend(check(&dir.join("expected.jsonl"), &stdout));
        failures.extend(check(&dir.join("expected.stderr"), &stderr));
    }
    assert!(
        failures.is_empty(),
        "{}\n\nIf the change is intended: SLUICE_BLESS=1 cargo test -p host --test golden, then review the diff.",
        failures.join("\n\n")
    );
}

#[test]
fn config_errors_reach_the_operator_naming_the_setting() {
    let input = fixtures("flatten").join("input.jsonl");
    let cases: [(&str, Settings, &str); 4] = [
        ("filter", &[], "`nationalities`"),
        (
            "filter",
            &[("nationalities", "")],
            "`nationalities` is empty",
        ),
        ("pii-mask", &[], "`key`"),
        (
            "pii-mask",
            &[("key", "short-secret-15")],
            "`key` has 15 characters",
        ),
    ];
    for (plugin, config, expected) in cases {
        let out = dry_run(plugin, config, &input);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{plugin} {config:?}: {stderr}");
        assert!(
            stderr.contains("refused its configuration") && stderr.contains(expected),
            "{plugin} {config:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{plugin} {config:?} wrote rows");
    }
    // pii-mask's key is a secret: its errors never show it.
    let out = dry_run("pii-mask", &[("key", "short-secret")], &input);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("short-secret"));
}
