//! The components tests run: every crate of test-guests/ and plugins/, built
//! by this crate's build script, as path constants (`LOOP_FOREVER`,
//! `FLATTEN`, ...), and [`path`] to look one up by its crate name.

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// The built component of crate `name` (a test guest or a Rust plugin).
pub fn path(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(FLATTEN)
        .parent()
        .expect("plugins/dist");
    let guests = std::path::Path::new(LOOP_FOREVER)
        .parent()
        .expect("target/test-guests");
    let file = format!("{name}.wasm");
    let candidate = guests.join(&file);
    if candidate.exists() {
        candidate
    } else {
        dir.join(file)
    }
}
