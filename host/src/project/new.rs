//! `host plugin new NAME [--lang rust|js|python] [--dir PATH]`: a project of
//! its own (manifest, `.gitignore`, README, the transform, its unit tests,
//! samples and their golden output), written aside and moved into place whole.

use super::{templates, Lang};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Rust keywords and names Cargo reserves for itself, its build folders or std.
const RESERVED: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "try",
    "gen",
    "test",
    "std",
    "core",
    "alloc",
    "proc_macro",
    "proc-macro",
    "build",
    "deps",
    "examples",
    "incremental",
    "dist",
    "sluice-plugin",
    "sluice_plugin",
    "node_modules",
    "favicon.ico",
];

/// Type names the Rust template already uses: a transform type of the same
/// name would shadow them and the fresh crate would not build.
const TAKEN_TYPES: &[&str] = &[
    "Value",
    "Row",
    "RowBuilder",
    "Transform",
    "Outcome",
    "PluginInfo",
    "InputRecord",
    "InputError",
    "Cell",
    "Option",
    "Result",
    "String",
    "Vec",
    "Box",
    "Some",
    "None",
    "Ok",
    "Err",
];

/// Checks `name` is a valid crate, npm and Python package name, and gives
/// its CamelCase form. Lower case: the name is also the component's file
/// name and the plugin's name in logs and metrics. Single separators only,
/// so that the CamelCase type name is clean.
pub fn check_name(name: &str) -> Result<String> {
    let valid = name.split(['-', '_']).enumerate().all(|(i, part)| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && (i > 0 || part.as_bytes()[0].is_ascii_lowercase())
    });
    if !valid {
        bail!(
            "{name:?} is not a valid plugin name: use lower-case letters and digits, separated by \
             single - or _, starting with a letter (for example: geo-enrich)"
        );
    }
    if name.len() > 64 {
        bail!("{name:?} is too long: 64 characters at most");
    }
    if RESERVED.contains(&name) {
        bail!(
            "{name:?} is reserved (a Rust keyword, or a name Cargo, npm or Sluice uses): pick another name"
        );
    }
    let type_name: String = name
        .split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect();
    if TAKEN_TYPES.contains(&type_name.as_str()) {
        bail!(
            "{name:?} would name the transform type `{type_name}`, which the template already uses: \
             pick another name"
        );
    }
    Ok(type_name)
}

/// Writes the project; refuses a bad name or an existing non-empty folder.
pub fn run(name: &str, lang: Lang, dir: Option<&Path>) -> Result<()> {
    let type_name = check_name(name)?;
    let dir = dir.map_or_else(|| PathBuf::from(name), Path::to_path_buf);
    if let Ok(mut entries) = std::fs::read_dir(&dir) {
        if entries.next().is_some() {
            bail!(
                "{} exists and is not empty: pick another folder with --dir PATH, or remove it first",
                dir.display()
            );
        }
    } else if dir.exists() {
        bail!(
            "{} exists and is not a folder: pick another one with --dir PATH",
            dir.display()
        );
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    // Written in a scratch folder beside the target and renamed into place,
    // so that a failure leaves nothing half-made.
    let scratch = tempfile::Builder::new()
        .prefix(&format!(".{name}.new-"))
        .tempdir_in(&parent)
        .with_context(|| format!("writing in {}", parent.display()))?;
    for (path, text) in templates::files(lang) {
        let file = scratch.path().join(path);
        std::fs::create_dir_all(file.parent().expect("a file in the project"))?;
        std::fs::write(&file, templates::fill(text, name, &type_name))
            .with_context(|| format!("writing {}", file.display()))?;
    }
    if dir.exists() {
        std::fs::remove_dir(&dir).with_context(|| format!("replacing {}", dir.display()))?;
    }
    let made = scratch.keep();
    std::fs::rename(&made, &dir).with_context(|| {
        let _ = std::fs::remove_dir_all(&made);
        format!("moving the project to {}", dir.display())
    })?;
    let unit_tests = match lang {
        Lang::Rust => "cargo test",
        Lang::Js => "npm install && node --test",
        Lang::Python => "build/venv/bin/python -m unittest   # after a build",
    };
    eprintln!(
        "plugin new: created {} ({lang} transform {name}). Next, in that folder:\n  \
         {unit_tests}\n  host plugin build        # -> dist/{name}.wasm\n  \
         host plugin test         # samples/input.jsonl, compared with samples/expected.jsonl\n  \
         host plugin deploy dist/{name}.wasm --token TOKEN\nSee its README.md.",
        dir.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_like_crate_names() {
        assert_eq!(check_name("geo-enrich").unwrap(), "GeoEnrich");
        assert_eq!(check_name("mask_v2").unwrap(), "MaskV2");
        for (bad, why) in [
            ("My-Plugin", "is not a valid plugin name"),
            ("two--dashes", "is not a valid plugin name"),
            ("-lead", "is not a valid plugin name"),
            ("9lives", "is not a valid plugin name"),
            ("", "is not a valid plugin name"),
            ("fn", "is reserved"),
            ("value", "would name the transform type `Value`"),
        ] {
            let err = check_name(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(check_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn a_project_is_written_whole_and_never_over_a_non_empty_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("geo-enrich");
        run("geo-enrich", Lang::Rust, Some(&dir)).unwrap();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"geo-enrich\""), "{manifest}");
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("pub struct GeoEnrich;") && !lib.contains("{{"));
        for file in [".gitignore", "README.md", "samples/input.jsonl"] {
            assert!(dir.join(file).is_file(), "{file}");
        }
        let err = run("geo-enrich", Lang::Js, Some(&dir))
            .unwrap_err()
            .to_string();
        assert!(err.contains("exists and is not empty"), "{err}");
        // Nothing else was left in the parent folder.
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }
}
