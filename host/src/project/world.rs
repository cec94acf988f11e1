//! Which `sluice:transform` world a module or component targets, checked
//! against the versions this host supports, before the engine loads it.

use anyhow::{bail, Context, Result};
use std::path::Path;
use wit_parser::{PackageName, Resolve};

/// The WIT package plugins target.
pub const NAMESPACE: &str = "sluice";
pub const PACKAGE: &str = "transform";
/// The world plugins export.
pub const WORLD: &str = "transformer";
/// The versions of `sluice:transform` this host runs (wit/, and any kept
/// under wit/deps/).
pub const SUPPORTED: &[&str] = &sluice_engine::WORLD_VERSIONS;

fn is_ours(name: &PackageName) -> bool {
    name.namespace == NAMESPACE && name.name == PACKAGE
}

/// Refuses a version of the package this host does not run, naming the ones it does.
fn check_version(name: &PackageName, what: &str) -> Result<()> {
    let version = name.version.as_ref().map(|v| v.to_string());
    match version.as_deref() {
        Some(v) if SUPPORTED.contains(&v) => Ok(()),
        found => bail!(
            "{what} targets {NAMESPACE}:{PACKAGE}@{}, which this host does not support; it \
             supports {}. Build it with an SDK for one of those (sluice-plugin {}), or run a host \
             that supports {}",
            found.unwrap_or("(no version)"),
            SUPPORTED
                .iter()
                .map(|v| format!("{NAMESPACE}:{PACKAGE}@{v}"))
                .collect::<Vec<_>>()
                .join(", "),
            SUPPORTED
                .iter()
                .map(|v| major_minor(v))
                .collect::<Vec<_>>()
                .join(" or "),
            found.unwrap_or("it"),
        ),
    }
}

/// `0.1.0` -> `0.1`: the SDK release line of a world version.
fn major_minor(v: &str) -> String {
    v.rsplit_once('.').map_or(v, |(mm, _)| mm).to_string()
}

/// Checks the world a core module (built with wit-bindgen, before it is a
/// component) was bound to: `sluice:transform/transformer` at a supported
/// version.
pub fn check_module(module: &[u8], what: &str) -> Result<()> {
    let (found, bindgen) = wit_component::metadata::decode(module)
        .with_context(|| format!("{what}: reading its WIT metadata"))?;
    if found.is_none() {
        bail!(
            "{what} exports no WIT world (it has no component-type section): a plugin depends on \
             sluice-plugin and ends with `sluice_plugin::export_transform!(YourType);`"
        );
    }
    // wit-component merges what a module was bound to into one world of
    // its own, so what tells the world is the packages it refers to.
    check_packages(&bindgen.resolve, what)
}

/// Checks that a component uses `sluice:transform` at a supported version.
pub fn check_component(component: &[u8], what: &str) -> Result<()> {
    let decoded = wit_component::decode(component)
        .with_context(|| format!("{what} is not a WebAssembly component"))?;
    check_packages(decoded.resolve(), what)
}

/// Checks that `resolve` uses `sluice:transform`, at supported versions only.
fn check_packages(resolve: &Resolve, what: &str) -> Result<()> {
    let ours: Vec<&PackageName> = resolve
        .packages
        .iter()
        .map(|(_, p)| &p.name)
        .filter(|n| is_ours(n))
        .collect();
    if ours.is_empty() {
        bail!(
            "{what} exports the wrong world: it uses nothing of `{NAMESPACE}:{PACKAGE}`. A plugin \
             exports the `{WORLD}` world through the sluice-plugin SDK (in Rust: \
             `sluice_plugin::export_transform!`), not bindings of another world"
        );
    }
    for name in ours {
        check_version(name, what)?;
    }
    Ok(())
}

/// Checks the WIT package in `dir` (an SDK's `wit/`) before a build with it.
/// Checks a WIT directory holds a supported version of the package; gives that version.
pub fn check_wit_dir(dir: &Path, what: &str) -> Result<String> {
    let mut resolve = Resolve::new();
    let (package, _) = resolve
        .push_dir(dir)
        .with_context(|| format!("reading the WIT files of {what} in {}", dir.display()))?;
    let name = &resolve.packages[package].name;
    if !is_ours(name) {
        bail!(
            "{} holds the WIT package `{name}`, not `{NAMESPACE}:{PACKAGE}`: is this the sluice-plugin SDK?",
            dir.display()
        );
    }
    check_version(name, what)?;
    Ok(name
        .version
        .as_ref()
        .map(|v| v.to_string())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsupported_version_is_refused_naming_the_supported_ones() {
        let name = PackageName {
            namespace: "sluice".into(),
            name: "transform".into(),
            version: Some("0.4.0".parse().unwrap()),
        };
        let err = check_version(&name, "my-plugin").unwrap_err().to_string();
        assert!(err.contains("sluice:transform@0.4.0"), "{err}");
        assert!(
            err.contains(
                "supports sluice:transform@0.3.0, sluice:transform@0.2.0, sluice:transform@0.1.0"
            ),
            "{err}"
        );
        assert!(err.contains("sluice-plugin 0.3 or 0.2 or 0.1"), "{err}");
    }

    #[test]
    fn the_repositorys_wit_is_supported() {
        let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
        check_wit_dir(&wit, "wit/").unwrap();
    }
}
