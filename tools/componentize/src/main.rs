//! `componentize IN OUT`: wraps a core wasm module (as built for
//! `wasm32-unknown-unknown` by wit-bindgen guests) into a component. A file
//! that already is a component (built for `wasm32-wasip2`) is copied as is.

use anyhow::{bail, Context, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        bail!("usage: componentize IN.wasm OUT.wasm");
    };
    let bytes = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    let component = if is_component(&bytes) {
        bytes
    } else {
        wit_component::ComponentEncoder::default()
            .module(&bytes)
            .with_context(|| {
                format!(
                    "{input} has no component type section: does it use wit-bindgen's generate!?"
                )
            })?
            .validate(true)
            .encode()
            .with_context(|| format!("encoding {input} as a component"))?
    };
    std::fs::write(output, &component).with_context(|| format!("writing {output}"))?;
    Ok(())
}

/// A component's header has layer 1 in the version field (bytes 6..8).
fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}
