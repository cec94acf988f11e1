//! A plugin written outside this repository, as a user does it: for each
//! language, `host plugin new` in a temporary folder, the SDK pointed at this
//! repository's copy the way each project's README documents it, then
//! `host plugin build`, `host plugin test` (a pass, then a deliberate change
//! that fails with a diff, then `--bless`), and `host plugin deploy` of a new
//! version to a running host. Bad input (names, folders, golden files, world
//! versions, a crate that is no cdylib, a missing wasm32 target) is refused
//! with a message naming the fix, and leaves nothing behind.
//!
//! The deploys need the services (`just up`); the JavaScript and Python
//! projects need Node.js and npm, and python3 with venv (their first build
//! fetches componentize-js and componentize-py from npm and PyPI, or their
//! caches).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const TOKEN: &str = "out-of-tree-token";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `host ARGS` in `dir`, with a user's environment: nothing from cargo's
/// test environment (but where cargo keeps its caches).
fn host(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_host"));
    cmd.args(args).current_dir(dir);
    for (key, _) in std::env::vars() {
        if (key.starts_with("CARGO_") && key != "CARGO_HOME") || key.starts_with("SLUICE_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd.output().expect("the host binary runs");
    eprintln!(
        "--- host {} (in {}): {}\n{}{}",
        args.join(" "),
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `host ARGS`, expecting exit status `code`; returns its output.
fn expect(dir: &Path, args: &[&str], code: i32) -> String {
    let out = host(dir, args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "host {args:?}:\n{}",
        text(&out)
    );
    text(&out)
}

fn edit(path: &Path, from: &str, to: &str) {
    let before = std::fs::read_to_string(path).unwrap();
    assert!(before.contains(from), "{}: no {from:?}", path.display());
    std::fs::write(path, before.replace(from, to)).unwrap();
}

/// What a language's project needs to be tested here.
struct Lang {
    flag: &'static str,
    /// Points the project's SDK at this repository's copy, as its README says.
    point_at_repo_sdk: fn(&Path),
    /// The transform's source, where the test makes its changes.
    source: &'static str,
    /// The email column as the template writes it, and changed to upper case.
    email: (&'static str, &'static str),
    /// Where the plugin's version is (file, as written).
    versions: &'static [(&'static str, &'static str)],
}

fn rust_sdk(dir: &Path) {
    let manifest = dir.join("Cargo.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str(&format!(
        "\n[patch.crates-io]\nsluice-plugin = {{ path = {:?} }}\n",
        repo().join("sdk/rust").display().to_string()
    ));
    std::fs::write(manifest, text).unwrap();
}

fn js_sdk(dir: &Path) {
    let sdk = repo().join("sdk/js");
    let status = Command::new("npm")
        .args([
            "install",
            "--install-links",
            "--no-audit",
            "--no-fund",
            "--prefer-offline",
        ])
        .arg(&sdk)
        .current_dir(dir)
        .status()
        .expect("npm is installed (JavaScript plugins need Node.js and npm)");
    assert!(
        status.success(),
        "npm install --install-links {}",
        sdk.display()
    );
}

fn python_sdk(dir: &Path) {
    edit(
        &dir.join("pyproject.toml"),
        "\"sluice-plugin==0.2.0\"",
        &format!(
            "\"sluice-plugin @ file://{}\"",
            repo().join("sdk/python").display()
        ),
    );
}

const RUST: Lang = Lang {
    flag: "rust",
    point_at_repo_sdk: rust_sdk,
    source: "src/lib.rs",
    email: (
        r#".text("email", user.require_str("email")?)"#,
        r#".text("email", user.require_str("email")?.to_uppercase())"#,
    ),
    versions: &[("Cargo.toml", "version = \"0.1.0\"")],
};

const JS: Lang = Lang {
    flag: "js",
    point_at_repo_sdk: js_sdk,
    source: "transform.js",
    email: (
        ".text('email', user.requireStr('email'))",
        ".text('email', user.requireStr('email').toUpperCase())",
    ),
    versions: &[
        ("transform.js", "const VERSION = '0.1.0';"),
        ("package.json", "\"version\": \"0.1.0\""),
    ],
};

const PYTHON: Lang = Lang {
    flag: "python",
    point_at_repo_sdk: python_sdk,
    source: "app.py",
    email: (
        r#"Cell_Text(user.require_str("email"))"#,
        r#"Cell_Text(user.require_str("email").upper())"#,
    ),
    versions: &[
        ("app.py", "VERSION = \"0.1.0\""),
        ("pyproject.toml", "version = \"0.1.0\""),
    ],
};

/// new, build, test (pass, fail with a diff, bless), then a new version
/// deployed to a running host. Returns the project's temporary folder.
fn whole_cycle(lang: &Lang) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    assert!(!tmp.path().starts_with(repo()), "outside the repository");
    let name = format!("oot-{}", lang.flag);
    let out = expect(
        tmp.path(),
        &["plugin", "new", &name, "--lang", lang.flag],
        0,
    );
    assert!(out.contains("host plugin build"), "{out}");
    let dir = tmp.path().join(&name);
    for file in [
        ".gitignore",
        "README.md",
        "samples/input.jsonl",
        "samples/expected.jsonl",
    ] {
        assert!(dir.join(file).is_file(), "{file} is missing");
    }
    (lang.point_at_repo_sdk)(&dir);

    let out = expect(&dir, &["plugin", "build"], 0);
    let built = format!("built dist/{name}.wasm: {name}@0.1.0");
    assert!(
        out.contains(&built) && out.contains("KiB, sha256 "),
        "{out}"
    );
    let out = expect(&dir, &["plugin", "test"], 0);
    assert!(
        out.contains("3 records, 3 rows, 0 filtered, 0 failed; the rows match"),
        "{out}"
    );

    // A deliberate change: the test fails, with a diff naming the column.
    edit(&dir.join(lang.source), lang.email.0, lang.email.1);
    expect(&dir, &["plugin", "build"], 0);
    let out = expect(&dir, &["plugin", "test"], 1);
    assert!(
        out.contains(r#"column email: "zoe.lefevre@example.com" -> "ZOE.LEFEVRE@EXAMPLE.COM""#),
        "{out}"
    );
    assert!(out.contains("--bless"), "{out}");
    expect(&dir, &["plugin", "test", "--bless"], 0);
    expect(&dir, &["plugin", "test"], 0);

    // Deploy: a host runs 0.1.0 of the plugin; 0.2.0 replaces it.
    let running = tmp.path().join("running.wasm");
    std::fs::copy(dir.join(format!("dist/{name}.wasm")), &running).unwrap();
    for (file, version) in lang.versions {
        edit(&dir.join(file), version, &version.replace("0.1.0", "0.2.0"));
    }
    let out = expect(&dir, &["plugin", "build"], 0);
    assert!(out.contains(&format!("{name}@0.2.0")), "{out}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let topic = common::unique("oot");
        let keyspace = common::unique("oot");
        common::create_topic(&topic, 1).await;
        let mut config = common::test_config(&topic, &keyspace);
        config.admin.token = Some(TOKEN.into());
        let pipeline = common::Pipeline::start(config, running, false).await;
        let admin = format!("http://{}", pipeline.admin);
        let component = format!("dist/{name}.wasm");
        let dir2 = dir.clone();
        let out = tokio::task::spawn_blocking(move || {
            expect(
                &dir2,
                &[
                    "plugin", "deploy", &component, "--token", TOKEN, "--admin", &admin,
                ],
                0,
            )
        })
        .await
        .unwrap();
        assert!(out.contains("0.2.0"), "{out}");
        let started = Instant::now();
        loop {
            let status = pipeline.json("/api/status").await;
            if status["active"]["name"] == name.as_str() && status["active"]["version"] == "0.2.0" {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{name}@0.2.0 is not active: {status}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        pipeline.stop().await;
    });
    tmp
}

#[test]
fn a_rust_project_builds_tests_and_deploys_from_its_own_folder() {
    let tmp = whole_cycle(&RUST);
    let dir = tmp.path().join("oot-rust");
    let component = std::fs::read(dir.join("dist/oot-rust.wasm")).unwrap();

    // Not a cdylib: refused, naming the fix; the last good build stays.
    edit(
        &dir.join("Cargo.toml"),
        "crate-type = [\"cdylib\", \"rlib\"]",
        "crate-type = [\"rlib\"]",
    );
    let out = expect(&dir, &["plugin", "build"], 2);
    assert!(
        out.contains("is not a cdylib") && out.contains("crate-type = [\"cdylib\", \"rlib\"]"),
        "{out}"
    );
    edit(
        &dir.join("Cargo.toml"),
        "crate-type = [\"rlib\"]",
        "crate-type = [\"cdylib\", \"rlib\"]",
    );

    // No wasm32 target in the toolchain: the install command.
    let fake = tmp.path().join("rustc-without-wasm");
    std::fs::write(&fake, "#!/bin/sh\necho /nonexistent/sysroot\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_host"))
        .args(["plugin", "build"])
        .env("RUSTC", &fake)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let message = text(&out);
    assert!(
        message.contains("rustup target add wasm32-unknown-unknown"),
        "{message}"
    );

    // A module bound to another world: wit-bindgen bindings of a world of
    // its own instead of the SDK's export.
    std::fs::create_dir_all(dir.join("wit")).unwrap();
    std::fs::write(
        dir.join("wit/other.wit"),
        "package other:thing@1.0.0;\nworld other { export run: func() -> u32; }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/lib.rs"),
        "wit_bindgen::generate!({ world: \"other\", path: \"wit\" });\n\
         struct Other;\nimpl Guest for Other { fn run() -> u32 { 7 } }\nexport!(Other);\n",
    )
    .unwrap();
    edit(
        &dir.join("Cargo.toml"),
        "[dev-dependencies]",
        "wit-bindgen = { version = \"0.46\", default-features = false, features = [\"macros\", \"realloc\"] }\n\n[dev-dependencies]",
    );
    let out = expect(&dir, &["plugin", "build"], 2);
    assert!(out.contains("exports the wrong world"), "{out}");
    assert_eq!(
        std::fs::read(dir.join("dist/oot-rust.wasm")).unwrap(),
        component,
        "a refused build leaves the last component as it was"
    );
}

#[test]
fn a_javascript_project_builds_tests_and_deploys_from_its_own_folder() {
    let tmp = whole_cycle(&JS);
    let dir = tmp.path().join("oot-js");
    // An SDK for a world version this host does not run: refused before building.
    let wit = dir.join("node_modules/sluice-plugin/wit/transform.wit");
    edit(
        &wit,
        "package sluice:transform@0.3.0;",
        "package sluice:transform@0.9.0;",
    );
    let out = expect(&dir, &["plugin", "build"], 2);
    assert!(
        out.contains("targets sluice:transform@0.9.0")
            && out.contains("it supports sluice:transform@0.3.0, sluice:transform@0.2.0, sluice:transform@0.1.0"),
        "{out}"
    );
}

#[test]
fn a_python_project_builds_tests_and_deploys_from_its_own_folder() {
    whole_cycle(&PYTHON);
}

#[test]
fn bad_names_folders_and_golden_files_are_refused_naming_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, message) in [
        ("My-Plugin", "is not a valid plugin name"),
        ("two--dashes", "is not a valid plugin name"),
        ("fn", "is reserved"),
        ("value", "would name the transform type `Value`"),
    ] {
        let out = expect(tmp.path(), &["plugin", "new", name], 2);
        assert!(out.contains(message), "{name}: {out}");
    }
    std::fs::create_dir(tmp.path().join("taken")).unwrap();
    std::fs::write(tmp.path().join("taken/notes.txt"), "mine").unwrap();
    let out = expect(tmp.path(), &["plugin", "new", "taken", "--lang", "js"], 2);
    assert!(
        out.contains("exists and is not empty") && out.contains("--dir"),
        "{out}"
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["taken"], "nothing else is left behind");

    // An empty folder is fine; a golden file that does not parse is refused.
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    expect(
        tmp.path(),
        &["plugin", "new", "golden-check", "--dir", "empty"],
        0,
    );
    let dir = tmp.path().join("empty");
    std::fs::create_dir(dir.join("dist")).unwrap();
    // The golden file is read first: the component is never loaded.
    std::fs::write(dir.join("dist/golden-check.wasm"), b"not loaded").unwrap();
    std::fs::write(
        dir.join("samples/expected.jsonl"),
        "{\"table\": \"created_users\"}\nnot json\n",
    )
    .unwrap();
    let out = expect(&dir, &["plugin", "test"], 2);
    assert!(
        out.contains("samples/expected.jsonl line 2 is not JSON") && out.contains("--bless"),
        "{out}"
    );
}
