//! The flatten transform in JavaScript (plugins/flatten-js) and Python
//! (plugins/flatten-py) against the Rust original (plugins/flatten): for the
//! same records they must return the same outcomes, column for column, and
//! the same bad-input errors. `just build-plugins` builds all three.
//!
//! The JS and Python components are 12-18 MB and take wasmtime seconds to
//! compile (more in a debug build without the compiled-code cache), so each is
//! loaded once per test binary and shared. Loading one also proves that it
//! imports nothing but WASI and `sluice:transform`: the host refuses others.
//!
//! Run with `--nocapture` to see load, first-call and per-record times.

use host::engine::{Engine, Limits, LoadError, Plugin, RecordResult};
use host::model::{Origin, Outcome, Record};
use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The three implementations of flatten.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Lang {
    Rust,
    Js,
    Python,
}

impl Lang {
    /// The component's file under plugins/dist.
    fn file(self) -> &'static str {
        match self {
            Lang::Rust => "flatten.wasm",
            Lang::Js => "flatten-js.wasm",
            Lang::Python => "flatten-py.wasm",
        }
    }

    /// The name its `metadata` gives.
    fn name(self) -> &'static str {
        match self {
            Lang::Rust => "flatten",
            Lang::Js => "flatten-js",
            Lang::Python => "flatten-py",
        }
    }
}

/// One shared engine: plugins loaded once serve every test.
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new().expect("engine"))
}

/// Generous limits: the first call of a big guest may be slow on a busy machine.
fn limits() -> Limits {
    Limits {
        call_timeout: Duration::from_secs(60),
        ..Limits::default()
    }
}

fn component_path(lang: Lang) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ lives in the workspace")
        .join("plugins/dist")
        .join(lang.file())
}

/// A plugin, loaded once; prints its size and how long loading took.
fn plugin(lang: Lang) -> &'static Plugin {
    static RUST: OnceLock<Plugin> = OnceLock::new();
    static JS: OnceLock<Plugin> = OnceLock::new();
    static PYTHON: OnceLock<Plugin> = OnceLock::new();
    let cell = match lang {
        Lang::Rust => &RUST,
        Lang::Js => &JS,
        Lang::Python => &PYTHON,
    };
    cell.get_or_init(|| {
        let path = component_path(lang);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read {}: {e}; run `just build-plugins` first",
                path.display()
            )
        });
        let started = Instant::now();
        let loaded = Plugin::load(engine(), lang.file(), &bytes, Vec::new(), limits());
        eprintln!(
            "{:?}: {} KiB, load (compile + link + init) {:?}",
            lang,
            bytes.len() / 1024,
            started.elapsed()
        );
        match loaded {
            Ok(plugin) => plugin,
            Err(e @ LoadError::Import { .. }) => {
                panic!(
                    "{} imports more than WASI and sluice:transform: {e}",
                    lang.file()
                )
            }
            Err(e) if e.to_string().contains("instance count too high") => panic!(
                "{} did not load: {e}. A componentize-py component creates about 13-16 core \
                 instances; the host's per-store instance limit (host/src/engine/host_state.rs) \
                 must allow them",
                lang.file()
            ),
            Err(e) => panic!("{} did not load: {e}", lang.file()),
        }
    })
}

fn record(offset: i64, value: &Json) -> Record {
    Record {
        origin: Origin {
            offset,
            ..Default::default()
        },
        value: host::json::tree_from_slice(value.to_string().as_bytes()).expect("test JSON"),
    }
}

fn fixture_users() -> Vec<Json> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/users.jsonl");
    let text = std::fs::read_to_string(&path).expect("tests/fixtures/users.jsonl");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("fixture line is JSON"))
        .collect()
}

fn run(lang: Lang, users: &[Json]) -> Vec<RecordResult> {
    let records = users
        .iter()
        .enumerate()
        .map(|(i, u)| record(i as i64, u))
        .collect();
    let results = plugin(lang).transform(records);
    assert_eq!(
        results.len(),
        users.len(),
        "{lang:?}: one result per record"
    );
    results
}

/// Asserts that `lang` gives exactly what the Rust plugin gives for `users`,
/// naming the first column that differs.
fn assert_same_as_rust(lang: Lang, users: &[Json]) {
    let expected = run(Lang::Rust, users);
    let actual = run(lang, users);
    for (i, (want, got)) in expected.iter().zip(&actual).enumerate() {
        let user = &users[i];
        match (want, got) {
            (Ok(Outcome::Rows(want_rows)), Ok(Outcome::Rows(got_rows))) => {
                assert_eq!(
                    got_rows.len(),
                    want_rows.len(),
                    "{lang:?}, record {i}: {user}"
                );
                for (w, g) in want_rows.iter().zip(got_rows) {
                    assert_eq!(g.table, w.table, "{lang:?}, record {i}: table");
                    let names = |r: &host::model::Row| {
                        r.columns.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()
                    };
                    assert_eq!(
                        names(g),
                        names(w),
                        "{lang:?}, record {i}: column names and order"
                    );
                    for ((name, want_cell), (_, got_cell)) in w.columns.iter().zip(&g.columns) {
                        assert_eq!(
                            got_cell, want_cell,
                            "{lang:?}, record {i}, column `{name}`: {user}"
                        );
                    }
                }
            }
            _ => assert_eq!(got, want, "{lang:?}, record {i}: {user}"),
        }
    }
}

#[test]
fn javascript_rows_match_rust_for_every_fixture_user() {
    let users = fixture_users();
    assert_eq!(users.len(), 7);
    // The Rust rows are checked value by value in tests/engine.rs.
    for result in run(Lang::Rust, &users) {
        assert!(
            matches!(&result, Ok(Outcome::Rows(rows)) if rows.len() == 1 && rows[0].columns.len() == 12),
            "{result:?}"
        );
    }
    assert_same_as_rust(Lang::Js, &users);
}

#[test]
fn python_rows_match_rust_for_every_fixture_user() {
    let users = fixture_users();
    assert_same_as_rust(Lang::Python, &users);
}

/// The first fixture user, changed by `change`.
fn changed_user(change: impl FnOnce(&mut Json)) -> Json {
    let mut user = fixture_users().remove(0);
    change(&mut user);
    user
}

/// Edge cases: bad fields (each named), and odd but valid values that all
/// three must render alike (numbers as text, offsets, upper-case UUIDs).
fn edge_cases() -> Vec<Json> {
    let set = |pointer: &'static str, value: Json| {
        changed_user(move |u| {
            *u.pointer_mut(pointer)
                .expect("pointer into the fixture user") = value
        })
    };
    vec![
        changed_user(|u| {
            u.as_object_mut().unwrap().remove("email");
        }),
        changed_user(|u| {
            u.as_object_mut().unwrap().remove("location");
        }),
        set("/login/uuid", Json::Null),
        set("/login/uuid", json!("not-a-uuid")),
        set("/login/uuid", json!("8F0B1C5E-3A43-4D9B-9C5E-0E2B6B1F7A10")),
        set("/name/first", json!(42)),
        set("/name/last", json!(["a", "list"])),
        set("/dob/date", json!("yesterday")),
        set("/dob/date", json!("say \"when\"\n\ttab\u{1b}")),
        set("/dob/date", json!("1993-07-20T09:44:18.674+05:30")),
        set("/dob/date", json!("1993-07-20 09:44:18.1234567-01:15")),
        set("/dob/date", json!("1993-07-20T09:44:18")),
        set("/registered/date", json!("0000-01-01T00:00:00Z")),
        set("/location/postcode", json!({"a": 1})),
        set("/location/postcode", json!(1.5)),
        set("/location/postcode", json!(1e21)),
        set("/location/postcode", json!(0.000001)),
        set("/location/postcode", json!(-7)),
        set("/location/postcode", json!(true)),
        set("/location/street/number", json!("12B")),
        set("/location/state", json!(3.0)),
        set("/picture/medium", Json::Null),
        json!({"not": "a user"}),
        json!([1, 2, 3]),
        json!("just text"),
    ]
}

#[test]
fn a_missing_email_is_bad_input_naming_email_in_every_language() {
    let user = changed_user(|u| {
        u.as_object_mut().unwrap().remove("email");
    });
    for lang in [Lang::Rust, Lang::Js, Lang::Python] {
        let result = run(lang, std::slice::from_ref(&user)).remove(0);
        match result {
            Ok(Outcome::BadInput { field, message }) => {
                assert_eq!(field.as_deref(), Some("email"), "{lang:?}");
                assert_eq!(message, "field `email` is missing", "{lang:?}");
            }
            other => panic!("{lang:?}: expected bad input naming `email`, got {other:?}"),
        }
    }
}

#[test]
fn javascript_matches_rust_on_edge_cases() {
    assert_same_as_rust(Lang::Js, &edge_cases());
}

#[test]
fn python_matches_rust_on_edge_cases() {
    assert_same_as_rust(Lang::Python, &edge_cases());
}

#[test]
fn each_plugin_describes_itself() {
    for lang in [Lang::Js, Lang::Python] {
        let info = plugin(lang).info();
        assert_eq!(info.name, lang.name());
        assert_eq!(
            info.version,
            plugin(Lang::Rust).info().version,
            "{lang:?} keeps in step with flatten"
        );
        assert!(info.description.contains("created_users"), "{info:?}");
    }
}

/// Times calls on a loaded plugin: a one-record call (a fresh instance and
/// `init` each time) and a 70-record call; the difference gives the cost of
/// one record. Prints the figures; asserts only that they are sane.
#[test]
fn call_times() {
    let users = fixture_users();
    let many: Vec<Json> = users.iter().cycle().take(70).cloned().collect();
    for lang in [Lang::Rust, Lang::Js, Lang::Python] {
        let plugin = plugin(lang);
        let call = |batch: &[Json]| {
            let records: Vec<Record> = batch
                .iter()
                .enumerate()
                .map(|(i, u)| record(i as i64, u))
                .collect();
            let started = Instant::now();
            let results = plugin.transform(records);
            let elapsed = started.elapsed();
            assert!(
                results.iter().all(|r| matches!(r, Ok(Outcome::Rows(_)))),
                "{lang:?}: {results:?}"
            );
            elapsed
        };
        let first = call(&users[..1]);
        let best_of = |batch: &[Json]| (0..5).map(|_| call(batch)).min().unwrap();
        let one = best_of(&users[..1]);
        let seventy = best_of(&many);
        let per_record = seventy.saturating_sub(one) / 69;
        eprintln!("{lang:?}: first call {first:?}; a 1-record call {one:?}; a 70-record call {seventy:?}; ~{per_record:?} per record");
        assert!(
            seventy < Duration::from_secs(30),
            "{lang:?}: 70 records took {seventy:?}"
        );
    }
}

/// `init` errors reach the host as refusals naming the setting, and the
/// `version-column` setting adds the plugin's version, as in Rust. Each case
/// loads the component again (quick once its compiled code is cached).
#[test]
fn config_is_checked_as_in_rust() {
    let users = fixture_users();
    for lang in [Lang::Rust, Lang::Js, Lang::Python] {
        let path = component_path(lang);
        let bytes = std::fs::read(&path).expect("component (loaded by the other tests too)");
        let load = |config: &[(&str, &str)]| {
            let config = config
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Plugin::load(engine(), lang.file(), &bytes, config, limits())
        };
        for (config, says) in [
            (&[("colour", "red")], "`colour`"),
            (&[("version-column", "")], "`version-column` is empty"),
        ] {
            match load(config) {
                Err(LoadError::Init { message, .. }) => {
                    assert!(message.contains(says), "{lang:?}: {message}")
                }
                Err(other) => panic!("{lang:?}: refused {config:?}, but not by init: {other}"),
                Ok(_) => panic!("{lang:?}: accepted {config:?}"),
            }
        }
        let plugin =
            load(&[("version-column", "written_by")]).unwrap_or_else(|e| panic!("{lang:?}: {e}"));
        let records = vec![record(0, &users[0])];
        match &plugin.transform(records)[0] {
            Ok(Outcome::Rows(rows)) => {
                let last = rows[0].columns.last().expect("columns");
                assert_eq!(last.0, "written_by", "{lang:?}");
                assert_eq!(
                    last.1,
                    host::model::Cell::Text(plugin.info().version.clone()),
                    "{lang:?}"
                );
                assert_eq!(rows[0].columns.len(), 13, "{lang:?}");
            }
            other => panic!("{lang:?}: {other:?}"),
        }
    }
}
