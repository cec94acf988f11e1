//! Test guest: exports `metadata`, `init` and a `transform` that takes and
//! returns a string instead of records and outcomes; the host must refuse it
//! at load, since calling it would be meaningless.

wit_bindgen::generate!({
    path: "../../wit",
    inline: r#"
        package sluice-test:wrong-signature;

        world wrong-signature {
            use sluice:transform/types@0.1.0.{plugin-info};
            export metadata: func() -> plugin-info;
            export init: func(config: list<tuple<string, string>>) -> result<_, string>;
            export transform: func(batch: string) -> string;
        }
    "#,
    world: "sluice-test:wrong-signature/wrong-signature",
    // Only this crate uses these interfaces: generate them all here.
    generate_all,
});

struct WrongSignature;

impl Guest for WrongSignature {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "wrong-signature".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "transform takes a string".into(),
        }
    }

    fn init(_config: Vec<(String, String)>) -> Result<(), String> {
        Ok(())
    }

    fn transform(batch: String) -> String {
        batch
    }
}

export!(WrongSignature);
