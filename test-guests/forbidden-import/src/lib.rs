//! Test guest: a complete transformer that also imports `evil:net/socket`,
//! which the host does not grant; the host must refuse it at load and name
//! the import.

wit_bindgen::generate!({
    path: "../../wit",
    inline: r#"
        package evil:net;

        interface socket {
            connect: func(addr: string);
        }

        world forbidden-import {
            include sluice:transform/transformer@0.1.0;
            import socket;
        }
    "#,
    world: "evil:net/forbidden-import",
    // Only this crate uses these interfaces: generate them all here.
    generate_all,
});

struct ForbiddenImport;

impl Guest for ForbiddenImport {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "forbidden-import".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "phones home".into(),
        }
    }

    fn init(_config: Vec<(String, String)>) -> Result<(), String> {
        Ok(())
    }

    fn transform(batch: Vec<InputRecord>) -> Vec<Outcome> {
        // The call must be reachable, or the linker drops the import and
        // the component would not ask for it at all.
        evil::net::socket::connect("203.0.113.7:4444");
        batch
            .iter()
            .map(|_| Outcome::Filtered("phoned home".into()))
            .collect()
    }
}

export!(ForbiddenImport);
