//! Test guest: a component that exports `metadata` and `init` with the
//! contract's types but no `transform`; the host must refuse it at load and
//! name the missing export.

wit_bindgen::generate!({
    path: "../../wit",
    inline: r#"
        package sluice-test:missing-export;

        world missing-export {
            use sluice:transform/types@0.1.0.{plugin-info};
            export metadata: func() -> plugin-info;
            export init: func(config: list<tuple<string, string>>) -> result<_, string>;
        }
    "#,
    world: "sluice-test:missing-export/missing-export",
    // Only this crate uses these interfaces: generate them all here.
    generate_all,
});

struct MissingExport;

impl Guest for MissingExport {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "missing-export".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "has no transform".into(),
        }
    }

    fn init(_config: Vec<(String, String)>) -> Result<(), String> {
        Ok(())
    }
}

export!(MissingExport);
