//! `host plugin new | build | test`: a transform project in the user's own
//! directory, with no checkout of Sluice.
//!
//! - [`new`]: writes a project from the templates built into this binary
//!   (Rust, JavaScript or Python), whole or not at all.
//! - [`build`]: the project's language toolchain makes a module (Rust:
//!   cargo's wasm32 target) or a component (componentize-js,
//!   componentize-py); Rust modules become components in-process
//!   (wit-component). Every component is checked against the world this host
//!   supports ([`world`]) and loaded by the engine before it is written to
//!   `dist/NAME.wasm`.
//! - [`golden`]: `samples/input.jsonl` through the built component (the dry
//!   run), compared with `samples/expected.jsonl`.

pub mod build;
pub mod golden;
pub mod new;
mod templates;
pub mod world;

use crate::cli::PluginCommand;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The languages a project can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Js,
    Python,
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Lang::Rust => "Rust",
            Lang::Js => "JavaScript",
            Lang::Python => "Python",
        })
    }
}

/// Runs `host plugin new|build|test`; `None` for the other plugin commands.
pub fn dispatch(command: &PluginCommand) -> Option<Result<()>> {
    Some(match command {
        PluginCommand::New { name, lang, dir } => new::run(name, *lang, dir.as_deref()),
        PluginCommand::Build { dir, plugin_config } => {
            crate::cli::parse_pairs(plugin_config).and_then(|config| build::run(dir, &config))
        }
        PluginCommand::Test {
            dir,
            bless,
            plugin_config,
        } => crate::cli::parse_pairs(plugin_config)
            .and_then(|config| golden::run(dir, *bless, &config)),
        _ => return None,
    })
}

/// Where a project keeps its samples and its built component.
pub const SAMPLES_INPUT: &str = "samples/input.jsonl";
pub const SAMPLES_EXPECTED: &str = "samples/expected.jsonl";
pub const DIST: &str = "dist";

/// A plugin project: a folder with a manifest of one of the languages.
#[derive(Debug, Clone)]
pub struct Project {
    pub dir: PathBuf,
    pub lang: Lang,
    /// The package name from the manifest: the component's file name.
    pub name: String,
}

impl Project {
    /// Finds the project in `dir` by its manifest: `Cargo.toml` (Rust),
    /// `package.json` (JavaScript) or `pyproject.toml` (Python).
    pub fn open(dir: &Path) -> Result<Project> {
        if !dir.is_dir() {
            bail!(
                "{} is not a directory: give the plugin project's folder (made by `host plugin new NAME`)",
                dir.display()
            );
        }
        let (lang, manifest) = [
            (Lang::Rust, "Cargo.toml"),
            (Lang::Js, "package.json"),
            (Lang::Python, "pyproject.toml"),
        ]
        .into_iter()
        .find(|(_, m)| dir.join(m).is_file())
        .with_context(|| {
            format!(
                "{} holds no plugin project: no Cargo.toml, package.json or pyproject.toml (start one with `host plugin new NAME`)",
                dir.display()
            )
        })?;
        let path = dir.join(manifest);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let name = match lang {
            Lang::Rust => toml_name(&text, "package"),
            Lang::Python => toml_name(&text, "project"),
            Lang::Js => serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["name"].as_str().map(str::to_string)),
        }
        .with_context(|| format!("{} names no package: add its `name`", path.display()))?;
        Ok(Project {
            dir: dir.to_path_buf(),
            lang,
            name,
        })
    }

    /// `dist/NAME.wasm`, where `host plugin build` writes the component.
    pub fn component(&self) -> PathBuf {
        self.dir.join(DIST).join(format!("{}.wasm", self.name))
    }

    /// A path of the project as the user sees it (relative to the project).
    pub fn show(&self, path: &Path) -> String {
        path.strip_prefix(&self.dir)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// `[table].name` of a TOML manifest.
fn toml_name(text: &str, table: &str) -> Option<String> {
    let doc: toml::Table = text.parse().ok()?;
    doc.get(table)?.get("name")?.as_str().map(str::to_string)
}

/// The directory argument, `.` when none was given.
pub(crate) fn project_dir(dir: &Option<PathBuf>) -> PathBuf {
    dir.clone().unwrap_or_else(|| PathBuf::from("."))
}

/// Writes `bytes` to `path` aside then renames it into place, so that a
/// reader (a host watching the file) never sees half of it.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
