//! Integration tests of the Wasm engine against real components: the flatten
//! plugin (`just build-plugins`) and the misbehaving test guests under
//! `test-guests/` (`just build-test-guests`).
//!
//! Run with `--nocapture` to see compile times, deadline accuracy and RSS.

use host::engine::{CallError, Engine, Limits, LoadError, Plugin, RecordResult};
use host::model::{Cell, Origin, Outcome, Record, Row};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The tests measure wall time and process RSS, so they take turns: a test
/// compiling or bombing beside another would skew its figures.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    // A failed test must not fail the others through a poisoned lock.
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ lives in the workspace")
        .to_path_buf()
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/users.jsonl")
}

fn plugin_dir() -> PathBuf {
    workspace().join("plugins/dist")
}

fn read_component(path: &Path, how: &str) -> Vec<u8> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; run `{how}` first", path.display()))
}

fn guest_bytes(name: &str) -> Vec<u8> {
    read_component(
        &sluice_test_programs::path(name),
        "cargo test (sluice-test-programs builds it)",
    )
}

fn flatten_bytes() -> Vec<u8> {
    read_component(
        std::path::Path::new(sluice_test_programs::FLATTEN),
        "cargo test (sluice-test-programs builds it)",
    )
}

/// Loads a component, printing how long compiling, linking and `init` took.
fn try_load(
    engine: &Engine,
    name: &str,
    bytes: &[u8],
    limits: Limits,
) -> Result<Plugin, LoadError> {
    let started = Instant::now();
    let result = Plugin::load(engine, name, bytes, Vec::new(), limits);
    eprintln!(
        "{name}: {} KiB, load (compile + link + init) {:?}",
        bytes.len() / 1024,
        started.elapsed()
    );
    result
}

fn load_guest(engine: &Engine, name: &str, limits: Limits) -> Plugin {
    try_load(engine, name, &guest_bytes(name), limits)
        .unwrap_or_else(|e| panic!("{name} did not load: {e}"))
}

/// The message a guest that must be refused is refused with.
fn refusal(name: &str) -> String {
    let engine = Engine::new().expect("engine");
    match try_load(&engine, name, &guest_bytes(name), Limits::default()) {
        Ok(_) => panic!("{name} was loaded; the host must refuse it"),
        Err(e @ (LoadError::World { .. } | LoadError::Import { .. })) => {
            eprintln!("{name} refused: {e}");
            e.to_string()
        }
        Err(other) => panic!("{name} refused, but not as a world mismatch: {other:?}"),
    }
}

fn record(offset: i64, json: &str) -> Record {
    Record {
        origin: Origin {
            topic: "engine-test".into(),
            offset,
            ..Origin::default()
        },
        value: host::json::tree_from_slice(json.as_bytes()).expect("test JSON"),
    }
}

/// The single row a test guest returns for an ordinary record.
fn the_row(result: &RecordResult) -> &Row {
    match result {
        Ok(Outcome::Rows(rows)) if rows.len() == 1 => &rows[0],
        other => panic!("expected one row, got {other:?}"),
    }
}

/// Asserts a guest's ordinary row: it carries the record's offset.
fn assert_offset_row(result: &RecordResult, offset: i64) {
    let row = the_row(result);
    assert_eq!(
        row.columns,
        vec![("offset".to_string(), Cell::Bigint(offset))]
    );
}

/// Resident set size of this process, from /proc/self/status.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS in kB");
    kib * 1024
}

/// What flatten must make of each user in `fixtures/users.jsonl`, in order.
struct User {
    id: &'static str,
    first: &'static str,
    last: &'static str,
    gender: &'static str,
    address: &'static str,
    post_code: &'static str,
    email: &'static str,
    username: &'static str,
    dob: i64,
    registered: i64,
    phone: &'static str,
    picture: &'static str,
}

// Millisecond values were worked out from the fixture's RFC 3339 dates
// independently of the SDK (two are before 1970, one has 999 ms).
const USERS: [User; 7] = [
    User {
        id: "8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10",
        first: "Zoë",
        last: "Lefèvre",
        gender: "female",
        address: "4821 Rue de l'Abbé-Grégoire, Besançon, Doubs, France",
        post_code: "25000",
        email: "zoe.lefevre@example.com",
        username: "bluecat511",
        dob: 743_161_458_674,
        registered: 1_422_936_306_007,
        phone: "03-12-34-56-78",
        picture: "https://randomuser.me/api/portraits/med/women/1.jpg",
    },
    User {
        id: "d3b07384-d113-4ec6-a8d0-0c5e1f1e9b2a",
        first: "Øyvind",
        last: "Haugen",
        gender: "male",
        address: "7103 Sørkedalsveien, Tromsø, Troms, Norway",
        post_code: "0871",
        email: "oyvind.haugen@example.com",
        username: "heavyswan402",
        dob: -57_206_524_900,
        registered: 1_259_154_000_000,
        phone: "63318207",
        picture: "https://randomuser.me/api/portraits/med/men/22.jpg",
    },
    User {
        id: "4b6e3e8f-1f5a-4c2e-9a57-2c1d9f0b7e63",
        first: "Çağan",
        last: "Akbulut",
        gender: "male",
        address: "9352 Bağdat Cd, Kırşehir, Kırşehir, Turkey",
        post_code: "41376",
        email: "cagan.akbulut@example.com",
        username: "orangefrog118",
        dob: 504_921_599_999,
        registered: 1_024_129_812_345,
        phone: "(138)-671-2203",
        picture: "https://randomuser.me/api/portraits/med/men/63.jpg",
    },
    User {
        id: "a9c4e2f1-6b3d-4e8a-b7c5-1d2e3f4a5b6c",
        first: "José",
        last: "Ortiz",
        gender: "male",
        address: "1625 Calle de Segovia, Móstoles, Comunidad de Madrid, Spain",
        post_code: "89736",
        email: "jose.ortiz@example.com",
        username: "silverduck873",
        dob: 63_072_000_000,
        registered: 1_568_020_149_090,
        phone: "912-345-678",
        picture: "https://randomuser.me/api/portraits/med/men/4.jpg",
    },
    User {
        id: "0e7f3c2b-5a1d-4f6e-8c9b-7a6d5e4f3c2b",
        first: "Emily",
        last: "Clark",
        gender: "female",
        address: "245 Church Road, Sheffield, South Yorkshire, United Kingdom",
        post_code: "S1 2HE",
        email: "emily.clark@example.com",
        username: "tinytiger264",
        dob: 989_822_527_512,
        registered: 1_638_380_733_801,
        phone: "017687 12345",
        picture: "https://randomuser.me/api/portraits/med/women/77.jpg",
    },
    User {
        id: "6c8d9e0f-1a2b-4c3d-9e4f-5a6b7c8d9e0f",
        first: "Amélie",
        last: "Tremblay",
        gender: "female",
        address: "3390 Rue Saint-Denis, Trois-Rivières, Québec, Canada",
        post_code: "H3Z 2Y7",
        email: "amelie.tremblay@example.com",
        username: "purplebird715",
        dob: -354_977_328_889,
        registered: 1_078_056_000_500,
        phone: "H75 N05-9393",
        picture: "https://randomuser.me/api/portraits/med/women/35.jpg",
    },
    User {
        id: "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9",
        first: "Daan",
        last: "van der Berg",
        gender: "male",
        address: "8810 Kerkstraat, Utrecht, Utrecht, Netherlands",
        post_code: "3511 LX",
        email: "daan.vanderberg@example.com",
        username: "lazybear990",
        dob: 646_755_316_017,
        registered: 1_341_370_921_000,
        phone: "(086) 6482315",
        picture: "https://randomuser.me/api/portraits/med/men/90.jpg",
    },
];

impl User {
    /// The row's columns, in the order flatten writes them.
    fn columns(&self) -> Vec<(String, Cell)> {
        let text = |name: &str, value: &str| (name.to_string(), Cell::Text(value.to_string()));
        vec![
            ("id".to_string(), Cell::Uuid(self.id.to_string())),
            text("first_name", self.first),
            text("last_name", self.last),
            text("gender", self.gender),
            text("address", self.address),
            text("post_code", self.post_code),
            text("email", self.email),
            text("username", self.username),
            ("dob".to_string(), Cell::Timestamp(self.dob)),
            (
                "registered_date".to_string(),
                Cell::Timestamp(self.registered),
            ),
            text("phone", self.phone),
            text("picture", self.picture),
        ]
    }
}

fn fixture_lines() -> Vec<String> {
    let text = std::fs::read_to_string(fixture()).expect("tests/fixtures/users.jsonl");
    text.lines().map(str::to_string).collect()
}

#[test]
fn flatten_fills_every_column_of_every_fixture_user() {
    let _turn = serial();
    let engine = Engine::new().expect("engine");
    let plugin =
        try_load(&engine, "flatten", &flatten_bytes(), Limits::default()).expect("flatten loads");
    assert_eq!(plugin.info().name, "flatten");

    let lines = fixture_lines();
    assert_eq!(lines.len(), USERS.len());
    let records = lines
        .iter()
        .enumerate()
        .map(|(i, l)| record(i as i64, l))
        .collect();
    let results = plugin.transform(records);
    assert_eq!(results.len(), USERS.len());
    for ((user, result), line) in USERS.iter().zip(&results).zip(&lines) {
        let row = the_row(result);
        assert_eq!(
            row.table, None,
            "flatten writes the pipeline's default table"
        );
        assert_eq!(row.columns, user.columns(), "user {}", user.first);
        // The id is the login's UUID, which makes replays idempotent.
        let input: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(input["login"]["uuid"].as_str(), Some(user.id));
    }
}

#[test]
fn dry_run_binary_prints_one_json_row_per_user() {
    flatten_bytes(); // fails with the fix if it is not built
    let output = Command::new(env!("CARGO_BIN_EXE_host"))
        .args(["run", "--plugin", "flatten.wasm", "--plugin-dir"])
        .arg(plugin_dir())
        .arg("--input")
        .arg(fixture())
        .output()
        .expect("running the host binary");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");

    let stdout = String::from_utf8(output.stdout).expect("UTF-8 stdout");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), USERS.len(), "stdout: {stdout}");
    for ((line, user), input) in lines.iter().zip(&USERS).zip(fixture_lines()) {
        let row: serde_json::Value = serde_json::from_str(line).expect("each stdout line is JSON");
        let input: serde_json::Value = serde_json::from_str(&input).unwrap();
        let expected = serde_json::json!({
            "table": "created_users",
            "columns": {
                "id": user.id,
                "first_name": user.first,
                "last_name": user.last,
                "gender": user.gender,
                "address": user.address,
                "post_code": user.post_code,
                "email": user.email,
                "username": user.username,
                // The fixture's dates are already in the host's RFC 3339 form (UTC, ms).
                "dob": input["dob"]["date"],
                "registered_date": input["registered"]["date"],
                "phone": user.phone,
                "picture": user.picture,
            }
        });
        assert_eq!(row, expected);
    }
    assert!(
        stderr.contains("7 records, 7 rows, 0 filtered, 0 failed"),
        "stderr: {stderr}"
    );
}

#[test]
fn dry_run_binary_names_the_bad_field_and_line() {
    flatten_bytes(); // fails with the fix if it is not built
    let mut lines: Vec<serde_json::Value> = fixture_lines()
        .iter()
        .take(4)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[1]["dob"]["date"] = "yesterday".into();
    lines[3]["login"].as_object_mut().unwrap().remove("uuid");
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for l in &lines {
        use std::io::Write;
        writeln!(file, "{l}").unwrap();
    }

    let output = Command::new(env!("CARGO_BIN_EXE_host"))
        .args(["run", "--plugin", "flatten.wasm", "--plugin-dir"])
        .arg(plugin_dir())
        .arg("--input")
        .arg(file.path())
        .output()
        .expect("running the host binary");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).lines().count(),
        2,
        "the good records still give rows"
    );
    let line_of = |n: &str| {
        stderr
            .lines()
            .find(|l| l.starts_with(&format!("line {n}:")))
            .unwrap_or_else(|| panic!("stderr names no line {n}: {stderr}"))
    };
    assert!(
        line_of("2").contains("`dob.date`") && line_of("2").contains("yesterday"),
        "{stderr}"
    );
    assert!(line_of("4").contains("`login.uuid`"), "{stderr}");
    assert!(
        stderr.contains("4 records, 2 rows, 0 filtered, 2 failed"),
        "{stderr}"
    );
}

#[test]
fn a_component_without_transform_is_refused_naming_it() {
    let _turn = serial();
    let message = refusal("missing-export");
    assert!(message.contains("does not export"), "{message}");
    assert!(
        message.contains("`transform: func(batch: list<input-record>) -> batch-output`"),
        "{message}"
    );
    // What it does export is listed, so the author sees the near miss.
    assert!(message.contains("metadata, init"), "{message}");
}

#[test]
fn a_transform_with_the_wrong_signature_is_refused() {
    let _turn = serial();
    let message = refusal("wrong-signature");
    assert!(message.contains("transform"), "{message}");
    assert!(message.contains("transformer"), "{message}");
}

#[test]
fn an_import_the_host_does_not_grant_is_refused_naming_it() {
    let _turn = serial();
    let message = refusal("forbidden-import");
    assert!(message.contains("evil:net/socket"), "{message}");
    assert!(message.contains("may import only"), "{message}");
}

#[test]
fn wasi_grants_no_environment_arguments_or_directories() {
    let _turn = serial();
    // This process has environment variables and arguments; none may leak.
    assert!(std::env::vars().next().is_some());
    let engine = Engine::new().expect("engine");
    let plugin = load_guest(&engine, "wasi-probe", Limits::default());
    let results = plugin.transform(vec![record(0, "{}")]);
    assert_eq!(results.len(), 1);
    assert_eq!(
        the_row(&results[0]).columns,
        vec![
            ("env_vars".to_string(), Cell::Int(0)),
            ("args".to_string(), Cell::Int(0)),
            ("preopens".to_string(), Cell::Int(0)),
        ]
    );
}

#[test]
fn the_deadline_stops_an_endless_loop_and_spares_the_batch() {
    let _turn = serial();
    let timeout = Duration::from_millis(200);
    let engine = Engine::new().expect("engine");
    let limits = Limits {
        call_timeout: timeout,
        ..Limits::default()
    };
    let plugin = load_guest(&engine, "loop-forever", limits);

    // One looping record alone: how close to the deadline the trap lands.
    let started = Instant::now();
    let results = plugin.transform(vec![record(0, r#"{"loop": true}"#)]);
    let single = started.elapsed();
    eprintln!("loop-forever: one looping call stopped after {single:?} (deadline {timeout:?})");
    assert!(
        matches!(&results[0], Err(CallError::Trap(m)) if m.contains("deadline")),
        "{results:?}"
    );
    // Epochs tick every 10 ms, so the trap cannot come much before the deadline.
    assert!(
        single >= timeout - Duration::from_millis(20),
        "trapped early: {single:?}"
    );
    assert!(single < timeout * 5, "trapped late: {single:?}");

    // In a batch: the looping record is charged the deadline once (each
    // record has its own call), and the other records still get their rows.
    let batch: Vec<Record> = (0..8)
        .map(|i| {
            record(
                i,
                if i == 5 {
                    r#"{"loop": true}"#
                } else {
                    r#"{"loop": false}"#
                },
            )
        })
        .collect();
    let started = Instant::now();
    let results = plugin.transform(batch);
    let elapsed = started.elapsed();
    eprintln!("loop-forever: batch of 8 with one looping record took {elapsed:?}");
    assert!(
        elapsed < timeout * 2,
        "took {elapsed:?}: the deadline was charged more than once"
    );
    assert_eq!(results.len(), 8);
    for (i, result) in results.iter().enumerate() {
        if i == 5 {
            assert!(
                matches!(result, Err(CallError::Trap(m)) if m.contains("deadline")),
                "{result:?}"
            );
        } else {
            assert_offset_row(result, i as i64);
        }
    }
}

#[test]
fn the_memory_cap_traps_a_bomb_and_the_host_stays_small() {
    let _turn = serial();
    let engine = Engine::new().expect("engine");
    let limits = Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let plugin = load_guest(&engine, "memory-bomb", limits);

    let started = Instant::now();
    let results = plugin.transform(vec![
        record(0, "{}"),
        record(1, r#"{"bomb": true}"#),
        record(2, r#"{"bomb": false}"#),
    ]);
    eprintln!(
        "memory-bomb: batch of 3 with one bomb took {:?}",
        started.elapsed()
    );
    assert_offset_row(&results[0], 0);
    assert!(
        matches!(&results[1], Err(CallError::Trap(_))),
        "{:?}",
        results[1]
    );
    assert_offset_row(&results[2], 2);

    // Every call gets a fresh instance; its memory must go back when it ends.
    let before = rss_bytes();
    let started = Instant::now();
    for i in 0..20 {
        let results = plugin.transform(vec![record(i, r#"{"bomb": true}"#)]);
        assert!(
            matches!(&results[0], Err(CallError::Trap(_))),
            "{results:?}"
        );
    }
    let after = rss_bytes();
    eprintln!(
        "memory-bomb: 20 bomb calls in {:?}; VmRSS {} MiB -> {} MiB",
        started.elapsed(),
        before >> 20,
        after >> 20
    );
    assert!(
        after.saturating_sub(before) < 200 << 20,
        "RSS grew by {} MiB over 20 bombs",
        (after - before) >> 20
    );
}

#[test]
fn bisection_pins_a_panic_on_its_record_and_keeps_order() {
    let _turn = serial();
    let engine = Engine::new().expect("engine");
    let plugin = load_guest(&engine, "panic-on", Limits::default());
    let batch: Vec<Record> = (0..100)
        .map(|i| {
            record(
                i,
                if i == 37 {
                    r#"{"poison": true}"#
                } else {
                    r#"{"n": 1}"#
                },
            )
        })
        .collect();
    let started = Instant::now();
    let results = plugin.transform(batch);
    eprintln!(
        "panic-on: batch of 100 with one panic took {:?}",
        started.elapsed()
    );
    assert_eq!(results.len(), 100);
    let failed: Vec<usize> = (0..100).filter(|&i| results[i].is_err()).collect();
    assert_eq!(failed, vec![37]);
    // The SDK's panic hook carries the panic's own message into the reason.
    assert!(
        matches!(&results[37], Err(CallError::Trap(m))
            if m.contains("the plugin panicked at") && m.contains("poisoned record at offset 37")),
        "{:?}",
        results[37]
    );
    for (i, result) in results.iter().enumerate().filter(|(i, _)| *i != 37) {
        assert_offset_row(result, i as i64);
    }
}

#[test]
fn too_many_rows_for_one_record_break_the_output_limit() {
    let _turn = serial();
    let engine = Engine::new().expect("engine");
    let limits = Limits {
        max_rows_per_record: 1_000,
        ..Limits::default()
    };
    let plugin = load_guest(&engine, "output-flood", limits);
    let started = Instant::now();
    let results = plugin.transform(vec![
        record(0, "{}"),
        record(1, r#"{"flood": true}"#),
        record(2, "{}"),
    ]);
    eprintln!(
        "output-flood: batch of 3 with a flood took {:?}",
        started.elapsed()
    );
    assert_offset_row(&results[0], 0);
    assert!(
        matches!(&results[1], Err(CallError::Limit(m)) if m.contains("100000 rows") && m.contains("max-rows-per-record")),
        "{:?}",
        results[1]
    );
    assert_offset_row(&results[2], 2);
}

#[test]
fn a_memory_cap_trap_says_the_plugin_ran_out_of_memory() {
    let _turn = serial();
    let engine = Engine::new().expect("engine");
    let limits = Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let plugin = load_guest(&engine, "memory-bomb", limits);
    let results = plugin.transform(vec![record(0, r#"{"bomb": true}"#)]);
    let Err(CallError::Trap(message)) = &results[0] else {
        panic!("the bomb must trap: {:?}", results[0]);
    };
    eprintln!("memory-bomb: trap message: {message:?}");
    // An operator must see that the memory cap, not a bug, stopped the call.
    assert!(message.contains("memory"), "{message}");
    assert!(message.contains("limits.memory-bytes"), "{message}");
}

/// The `bigint` and `boolean` columns of alloc-probe's row.
fn probe(plugin: &Plugin, json: &str) -> (i64, i64, i64, i64, bool) {
    let results = plugin.transform(vec![record(0, json)]);
    let row = the_row(&results[0]);
    let int = |name: &str| match row.columns.iter().find(|(n, _)| n == name) {
        Some((_, Cell::Bigint(v))) => *v,
        other => panic!("{name}: {other:?}"),
    };
    let kept_ok = matches!(
        row.columns.iter().find(|(n, _)| n == "kept_ok"),
        Some((_, Cell::Boolean(true)))
    );
    (
        int("first"),
        int("second"),
        int("third"),
        int("state"),
        kept_ok,
    )
}

#[test]
fn a_rust_plugin_allocates_from_an_arena_that_starts_again_after_each_call() {
    let _turn = serial();
    let engine = Engine::new().expect("engine");
    let plugin = load_guest(&engine, "alloc-probe", Limits::default());
    let (first, second, third, state, kept_ok) = probe(&plugin, r#"{"n": 1}"#);
    assert_eq!(
        (second - first, third - second),
        (24, 24),
        "three 24-byte blocks in a row are 24 bytes apart: a bump arena (dlmalloc puts a header between them)"
    );
    assert!(kept_ok);
    // The same instance again: the host freed the first call's results, so
    // the arena started again and hands out the same bytes.
    for _ in 0..20 {
        let again = probe(&plugin, r#"{"n": 2}"#);
        assert_eq!(again.0, first, "the arena starts again after each call");
        assert_eq!(again.3, state, "the same instance");
    }
    assert!(
        !(first..first + 512 * 1024).contains(&state),
        "the plugin's state ({state:#x}) is outside the arena (from {first:#x})"
    );

    // A block kept across calls pins the arena: later calls get other bytes,
    // and the kept ones are never handed out again.
    let pinned = probe(&plugin, r#"{"keep": true}"#);
    assert!(pinned.4);
    let mut last = pinned.0;
    for i in 0..50 {
        let next = probe(&plugin, &format!(r#"{{"n": {i}}}"#));
        assert!(next.4, "call {i}: a kept block was overwritten");
        assert!(
            next.0 > last,
            "call {i}: with a block kept, the arena moves on ({:#x} after {last:#x}) instead of starting again",
            next.0
        );
        last = next.0;
    }
}

#[test]
fn packed_rows_written_by_hand_are_read_and_forged_ones_are_pinned_on_their_record() {
    let _turn = serial();
    let engine = Engine::new().expect("engine");
    let plugin = load_guest(&engine, "forged-rows", Limits::default());
    assert_eq!(plugin.world_version(), "0.3.0");
    let keyed = |offset: i64, key: &str| {
        let mut r = record(offset, "{}");
        r.origin.key = Some(key.as_bytes().to_vec());
        r
    };
    let forged = [
        ("short", "ends after 1 of them"),
        ("extra", "3 bytes after the rows"),
        ("garbage", "row kind"),
        ("huge-count", "claims 4294967295 rows"),
        ("bad-utf8", "not UTF-8"),
        ("huge-columns", "column count"),
    ];
    // Good records around every forged one, all in one batch.
    let mut batch = vec![keyed(0, "good")];
    for (i, (key, _)) in forged.iter().enumerate() {
        batch.push(keyed(1 + 2 * i as i64, key));
        batch.push(keyed(2 + 2 * i as i64, "good"));
    }
    let results = plugin.transform(batch.clone());
    assert_eq!(results.len(), batch.len());
    for (i, (result, record)) in results.iter().zip(&batch).enumerate() {
        let key = String::from_utf8(record.origin.key.clone().unwrap()).unwrap();
        if key == "good" {
            let row = the_row(result);
            assert_eq!(
                row.columns,
                vec![
                    ("id".to_string(), Cell::Text("good".into())),
                    ("n".to_string(), Cell::Int(i as i32)),
                ],
                "record {i}"
            );
        } else {
            let expected = forged.iter().find(|(k, _)| *k == key).unwrap().1;
            match result {
                Err(CallError::Contract(message)) => {
                    assert!(message.contains(expected), "{key}: {message}")
                }
                other => panic!("{key}: expected a contract error, got {other:?}"),
            }
        }
    }
}
