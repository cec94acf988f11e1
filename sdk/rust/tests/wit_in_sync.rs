//! The WIT world has one source, the repository's `wit/` (0.3.0, with 0.2.0
//! and 0.1.0 kept under `wit/deps/`); the SDKs carry copies so that they can
//! be packaged (crate, npm package, Python wheel). This test keeps every copy
//! equal to its source: the Rust and JavaScript SDKs target 0.3.0, the
//! Python SDK 0.2.0 (which the host keeps running; 0.1.0 has no SDK copy
//! left).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `.wit` files of `dir`, by file name.
fn wit_files(dir: &Path) -> BTreeMap<String, String> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wit"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

#[test]
fn every_sdk_carries_the_repositorys_wit() {
    for (copy, source) in [
        ("sdk/rust/wit", "wit"),
        ("sdk/js/wit", "wit"),
        (
            "sdk/python/src/sluice_plugin/wit",
            "wit/deps/sluice-transform-0.2.0",
        ),
    ] {
        let expected = wit_files(&repo().join(source));
        assert!(!expected.is_empty(), "no .wit files in {source}/");
        let files = wit_files(&repo().join(copy));
        assert!(
            files == expected,
            "{copy}/ differs from {source}/: copy it again (`cp {source}/*.wit {copy}/`)"
        );
    }
}
