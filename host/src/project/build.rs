//! `host plugin build [DIR]`: the project's toolchain makes a module or a
//! component, this host checks it (world and version, then the engine's own
//! load: exports, imports, `metadata`, `init`) and writes `dist/NAME.wasm`.
//!
//! - Rust: `cargo build --target wasm32-unknown-unknown`, then
//!   wit-component in-process (no other tool).
//! - JavaScript: componentize-js from the project's node_modules (`npm
//!   install` first when needed), against the SDK's wit/.
//! - Python: componentize-py in `build/venv` (made, with the project's
//!   dependencies, when needed), against the SDK's wit/.

use super::{world, Lang, Project};
use crate::engine::{content_hash, Engine, Limits, Plugin};
use crate::model::PluginInfo;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Rust target plugins are built for: it imports nothing the world does not.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// componentize-py's version, as scripts/build-plugins.sh pins it.
pub const COMPONENTIZE_PY: &str = "0.25.1";

/// A component that was built, checked and written.
#[derive(Debug)]
pub struct Built {
    pub path: PathBuf,
    pub info: PluginInfo,
    pub size: usize,
    pub hash: String,
}

pub fn run(dir: &Option<PathBuf>, config: &[(String, String)]) -> Result<()> {
    let project = Project::open(&super::project_dir(dir))?;
    let built = build(&project, config)?;
    println!(
        "built {}: {} ({}), {} KiB, sha256 {}",
        project.show(&built.path),
        built.info,
        built.info.description,
        built.size.div_ceil(1024),
        built.hash
    );
    Ok(())
}

/// Builds `project` into `dist/NAME.wasm`; nothing is written unless it loads.
pub fn build(project: &Project, config: &[(String, String)]) -> Result<Built> {
    let component = match project.lang {
        Lang::Rust => rust(project)?,
        Lang::Js => js(project)?,
        Lang::Python => python(project)?,
    };
    let what = format!("the {} plugin {}", project.lang, project.name);
    world::check_component(&component, &what)?;
    let engine = Engine::new()?;
    let plugin = Plugin::load(
        &engine,
        &what,
        &component,
        config.to_vec(),
        Limits::default(),
    )
    .map_err(|e| match e {
        crate::engine::LoadError::Init { .. } => {
            anyhow::anyhow!("{e}; give the settings it needs with --plugin-config KEY=VALUE")
        }
        other => other.into(),
    })?;
    let path = project.component();
    super::write_atomically(&path, &component)?;
    Ok(Built {
        path,
        info: plugin.info().clone(),
        size: component.len(),
        hash: content_hash(&component),
    })
}

/// Runs `cmd`, its output going to the user; fails naming `what` it was.
fn status(cmd: &mut Command, what: &str) -> Result<()> {
    let program = cmd.get_program().to_string_lossy().to_string();
    let status = cmd
        .status()
        .with_context(|| format!("{what}: cannot run {program}"))?;
    if !status.success() {
        bail!("{what} failed ({status}; see above)");
    }
    Ok(())
}

/// Whether `program` can be run (it is on PATH).
fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

// --- Rust -----------------------------------------------------------------

/// What to do when the wasm32 target is missing.
pub fn missing_target_message(sysroot: &str) -> String {
    format!(
        "the Rust target {WASM_TARGET} is not installed (rustc's sysroot {sysroot} has no \
         lib/rustlib/{WASM_TARGET}). Install it with:\n  rustup target add {WASM_TARGET}\n\
         (offline on Debian, as root: apt-get install -y rustc-web cargo-web rust-web-src lld-19, \
         then build with scripts/build-plugins.sh's Debian recipe)"
    )
}

/// Checks that the rustc cargo will use has the wasm32 target's std.
fn check_wasm_target(dir: &Path) -> Result<()> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .output()
        .with_context(|| format!("cannot run {rustc}: is Rust installed (https://rustup.rs)?"))?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success()
        || !Path::new(&sysroot)
            .join("lib/rustlib")
            .join(WASM_TARGET)
            .is_dir()
    {
        bail!(missing_target_message(&sysroot));
    }
    Ok(())
}

/// The package of the project's manifest, from `cargo metadata`.
fn rust_package(project: &Project) -> Result<serde_json::Value> {
    let manifest = project.dir.join("Cargo.toml");
    let out = Command::new("cargo")
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(&manifest)
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo: is Rust installed (https://rustup.rs)?")?;
    if !out.status.success() {
        bail!("cargo cannot read {} (see above)", manifest.display());
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("reading cargo metadata")?;
    let manifest = manifest.canonicalize()?;
    let package = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(manifest.as_path()))
        .cloned()
        .with_context(|| format!("{} has no [package]", manifest.display()))?;
    let cdylib = package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        });
    if !cdylib {
        bail!(
            "{} is not a cdylib, so cargo makes no WebAssembly module of it: add to its Cargo.toml\n  \
             [lib]\n  crate-type = [\"cdylib\", \"rlib\"]",
            project.name
        );
    }
    Ok(package)
}

fn rust(project: &Project) -> Result<Vec<u8>> {
    check_wasm_target(&project.dir)?;
    let package = rust_package(project)?;
    let target_dir = project.dir.join("target");
    let mut cmd = Command::new("cargo");
    cmd.args(["build", "--release", "--lib", "--target", WASM_TARGET])
        .args([
            "--message-format",
            "json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(project.dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .stdout(Stdio::piped());
    eprintln!(
        "plugin build: cargo build --release --target {WASM_TARGET} ({})",
        project.name
    );
    let out = cmd
        .spawn()
        .context("cannot run cargo")?
        .wait_with_output()?;
    if !out.status.success() {
        bail!("cargo build of {} failed (see above)", project.name);
    }
    // The module is the cdylib artifact of the project's own package.
    let id = package["id"].as_str().unwrap_or_default();
    let module = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["package_id"] == id)
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .with_context(|| format!("cargo built no .wasm module for {}", project.name))?;
    let bytes = std::fs::read(&module).with_context(|| format!("reading {}", module.display()))?;
    componentize(&bytes, &format!("the module of {}", project.name))
}

/// Wraps a core module carrying wit-bindgen's component type into a
/// component, after checking which world it was bound to.
pub fn componentize(module: &[u8], what: &str) -> Result<Vec<u8>> {
    world::check_module(module, what)?;
    wit_component::ComponentEncoder::default()
        .module(module)
        .with_context(|| format!("{what}: reading its component type"))?
        .validate(true)
        .encode()
        .with_context(|| format!("encoding {what} as a component"))
}

// --- JavaScript -----------------------------------------------------------

/// Builds the module with componentize-js (through its API: its CLI wrapper
/// `jco componentize` fails on some machines). WASI features the host does
/// not grant are disabled, so the component imports only the world's.
const COMPONENTIZE_JS: &str = r#"
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';
const [source, wit, out] = process.argv.slice(1);
const { component } = await componentize({
  sourcePath: source,
  witPath: wit,
  worldName: 'transformer',
  disableFeatures: ['http', 'fetch-event', 'stdio', 'random', 'clocks'],
});
await writeFile(out, component);
"#;

fn js(project: &Project) -> Result<Vec<u8>> {
    if !have("node") || !have("npm") {
        bail!("JavaScript plugins need Node.js (20 or later) and npm: install them (Debian, as root: apt-get install -y nodejs npm), then build again");
    }
    let dir = &project.dir;
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("package.json"))?)
            .context("package.json is not JSON")?;
    let stamp = dir.join("node_modules/.package-lock.json");
    let stale = |f: &str| {
        let (Ok(a), Ok(b)) = (dir.join(f).metadata(), stamp.metadata()) else {
            return dir.join(f).exists();
        };
        a.modified().ok() > b.modified().ok()
    };
    if !stamp.exists() || stale("package.json") || stale("package-lock.json") {
        eprintln!("plugin build: npm install (the SDK and componentize-js, into node_modules)");
        status(
            Command::new("npm")
                .args([
                    "install",
                    "--install-links",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                ])
                .current_dir(dir),
            "npm install",
        )?;
    }
    let sdk_wit = dir.join("node_modules/sluice-plugin/wit");
    if !sdk_wit.is_dir() {
        bail!("{} is missing: add the SDK with `npm install sluice-plugin` (or, from a checkout of Sluice, `npm install --install-links /path/to/sluice/sdk/js`)", sdk_wit.display());
    }
    let world = world::check_wit_dir(&sdk_wit, &format!("the SDK of {}", project.name))?;
    let source = manifest["main"].as_str().unwrap_or("transform.js");
    if !dir.join(source).is_file() {
        bail!(
            "{source} (package.json's `main`) is missing in {}",
            dir.display()
        );
    }
    let scratch = tempfile::tempdir()?;
    let out = scratch.path().join("component.wasm");
    // From 0.3.0 the world's `transform` returns one buffer of rows; the
    // plugin's own still returns one outcome per record (what its tests
    // read), and the SDK's entry module converts. componentize-js reads
    // modules from under the project, so the entry is written there.
    let entry = Entry::new(dir, source, &world)?;
    eprintln!("plugin build: componentize-js {source} ({})", project.name);
    status(
        Command::new("node")
            .args(["--input-type=module", "-e", COMPONENTIZE_JS])
            .arg(entry.source())
            .arg(&sdk_wit)
            .arg(&out)
            .current_dir(dir),
        "componentize-js",
    )?;
    drop(entry);
    Ok(std::fs::read(&out)?)
}

/// The module componentize-js builds: the plugin's own for SDKs before
/// 0.3.0, else a file the SDK writes around it, removed when dropped.
struct Entry {
    written: Option<std::path::PathBuf>,
    source: String,
}

const ENTRY_FILE: &str = ".sluice-entry.js";

/// Asks the SDK for the entry module around `source` (`entryModule` in sdk/js/rows.js).
const ENTRY_JS: &str = r#"
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [out, source] = process.argv.slice(1);
const sdk = await import(pathToFileURL('node_modules/sluice-plugin/rows.js'));
writeFileSync(out, sdk.entryModule('./' + source, './node_modules/sluice-plugin/index.js'));
"#;

impl Entry {
    fn new(dir: &Path, source: &str, world: &str) -> Result<Self> {
        // SDKs of 0.2.0 and 0.1.0: the module's `transform` is the world's.
        if world != "0.3.0" {
            return Ok(Entry {
                written: None,
                source: source.to_string(),
            });
        }
        status(
            Command::new("node")
                .args(["--input-type=module", "-e", ENTRY_JS, ENTRY_FILE])
                .arg(source.trim_start_matches("./"))
                .current_dir(dir),
            "writing the entry module with the SDK",
        )?;
        Ok(Entry {
            written: Some(dir.join(ENTRY_FILE)),
            source: ENTRY_FILE.to_string(),
        })
    }

    fn source(&self) -> &str {
        &self.source
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(path) = &self.written {
            let _ = std::fs::remove_file(path);
        }
    }
}

// --- Python ---------------------------------------------------------------

fn python(project: &Project) -> Result<Vec<u8>> {
    let dir = &project.dir;
    if !have("python3") {
        bail!("Python plugins need python3 (3.11 or later, with venv): install it (Debian, as root: apt-get install -y python3 python3-venv), then build again");
    }
    let pyproject: toml::Table = std::fs::read_to_string(dir.join("pyproject.toml"))?
        .parse()
        .context("pyproject.toml is not TOML")?;
    let deps: Vec<String> = pyproject
        .get("project")
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str().map(str::to_string))
        .collect();
    // build/venv: componentize-py and the project's dependencies, remade
    // when the dependencies change (the stamp holds what was installed).
    let venv = dir.join("build/venv");
    let stamp = venv.join(".sluice-installed");
    let wanted = format!("componentize-py=={COMPONENTIZE_PY}\n{}", deps.join("\n"));
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        eprintln!(
            "plugin build: making build/venv (componentize-py {COMPONENTIZE_PY} and {})",
            deps.join(", ")
        );
        let _ = std::fs::remove_dir_all(&venv);
        status(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        )?;
        status(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .args(wanted.lines())
                .current_dir(dir),
            "pip install (it needs PyPI the first time)",
        )?;
        std::fs::write(&stamp, &wanted)?;
    }
    let out = Command::new(venv.join("bin/python"))
        .args(["-c", "import sluice_plugin; print(sluice_plugin.WIT_DIR)"])
        .output()?;
    if !out.status.success() {
        bail!("the SDK is not installed in build/venv: add \"sluice-plugin==0.2.0\" to [project].dependencies in pyproject.toml (or, from a checkout of Sluice, \"sluice-plugin @ file:///path/to/sluice/sdk/python\")");
    }
    let sdk_wit = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    world::check_wit_dir(&sdk_wit, &format!("the SDK of {}", project.name))?;
    if !dir.join("app.py").is_file() {
        bail!(
            "app.py is missing in {}: componentize-py builds the module `app`",
            dir.display()
        );
    }
    let scratch = tempfile::tempdir()?;
    let component = scratch.path().join("component.wasm");
    eprintln!(
        "plugin build: componentize-py {COMPONENTIZE_PY} app.py ({})",
        project.name
    );
    status(
        Command::new(venv.join("bin/componentize-py"))
            .env("VIRTUAL_ENV", &venv)
            .arg("-q")
            .arg("-d")
            .arg(&sdk_wit)
            .args(["-w", "transformer", "componentize", "-p", "."])
            .arg("app")
            .arg("-o")
            .arg(&component)
            .current_dir(dir),
        "componentize-py",
    )?;
    Ok(std::fs::read(&component)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_target_says_how_to_install_it() {
        let message = missing_target_message("/opt/rust");
        assert!(
            message.contains("rustup target add wasm32-unknown-unknown"),
            "{message}"
        );
    }

    #[test]
    fn a_module_without_a_world_is_refused() {
        // The smallest core module: no component-type section.
        let module = b"\0asm\x01\0\0\0";
        let err = componentize(module, "m").unwrap_err().to_string();
        assert!(err.contains("exports no WIT world"), "{err}");
    }
}
