//! Builds the test guests (test-guests/*) and the Rust plugins (plugins/*)
//! into components with scripts/build-plugins.sh, as `just build-test-guests`
//! and `just build-plugins` do, and writes a constant per component, so a
//! test names `sluice_test_programs::LOOP_FOREVER` and never has to ask for a
//! recipe to be run first (Spin's and wasmtime's test-programs habit).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..").canonicalize().unwrap();
    // Sources only: plugins/dist (an output) lives beside the plugin crates,
    // so of the two folders only test-guests/ is watched whole (a new guest).
    println!(
        "cargo:rerun-if-changed={}",
        root.join("test-guests").display()
    );
    for watched in ["sdk/rust/src", "wit", "scripts/build-plugins.sh"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    for src in ["test-guests", "plugins"] {
        for dir in crates(&root.join(src)) {
            println!("cargo:rerun-if-changed={}", dir.join("src").display());
            println!(
                "cargo:rerun-if-changed={}",
                dir.join("Cargo.toml").display()
            );
        }
    }
    println!("cargo:rerun-if-env-changed=SLUICE_SKIP_TEST_PROGRAMS_BUILD");
    let mut consts = String::new();
    for (src, out) in [
        ("test-guests", "target/test-guests"),
        ("plugins", "plugins/dist"),
    ] {
        if std::env::var_os("SLUICE_SKIP_TEST_PROGRAMS_BUILD").is_none() {
            build(&root, src, out);
        }
        for dir in crates(&root.join(src)) {
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            let wasm = root.join(out).join(format!("{name}.wasm"));
            if !wasm.exists() {
                panic!(
                    "{} was not built; see the output of scripts/build-plugins.sh above",
                    wasm.display()
                );
            }
            consts.push_str(&format!(
                "/// `{src}/{name}` as a component.\npub const {}: &str = {:?};\n",
                name.to_uppercase().replace('-', "_"),
                wasm.display().to_string()
            ));
        }
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("components.rs");
    std::fs::write(out, consts).unwrap();
}

/// The Rust crates under `dir` (JS and Python plugins are `just build-plugins`'s).
fn crates(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|d| d.join("Cargo.toml").exists())
        .collect();
    found.sort();
    found
}

/// Runs the plugin build on `src` into `out`; Rust crates only.
fn build(root: &Path, src: &str, out: &str) {
    let status = Command::new("bash")
        .arg(root.join("scripts/build-plugins.sh"))
        .args([src, out])
        .current_dir(root)
        .env("SLUICE_SKIP_LANGS", "js,py")
        // The outer cargo holds target/: the nested builds use their own dirs.
        .env(
            "SLUICE_TOOLS_TARGET_DIR",
            root.join("target/test-programs-tools"),
        )
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("running bash scripts/build-plugins.sh");
    if !status.success() {
        panic!("scripts/build-plugins.sh {src} {out} failed ({status}): the wasm32 toolchain may be missing; `bash scripts/setup.sh` installs it");
    }
}
