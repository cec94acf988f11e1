//! Runs docs/writing-transforms.md: every ```sh block, in order, as a reader
//! would, so the guide's commands keep working.
//!
//! Blocks are marked in their info string: `sh step=NAME` runs the block with
//! bash in the repository root and expects exit status 0 (`exit=N` for
//! another), `background` leaves it running (a host, the users API) until the
//! end. `cwd=outside` runs it in a scratch folder outside the repository
//! instead, `cwd=project` in the project the guide makes there. Each step may have checks here (`after`). A ```text block marked
//! `output=STEP` must appear in that step's output, and ```rust / ```toml
//! blocks marked `file=PATH` must be excerpts of that file (a `// ...` or
//! `# ...` line skips lines), so the guide cannot drift from the code.
//!
//! The walkthrough creates a real plugin in plugins/ under a unique name, and
//! a guard removes it (and its build output) even when a step fails. Commands
//! run as written except for what keeps runs apart: the plugin name, the
//! topic, the keyspace and the ports (see `Walkthrough::substitute`). `host`
//! is this build's binary, put first on PATH. The live steps need the
//! services (`just up`).

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const GUIDE: &str = "docs/writing-transforms.md";

/// The steps of the guide, in order. A new step needs no code here unless
/// it needs a check, but the list must be updated: it is the table of
/// contents this test was written against.
const STEPS: [&str; 19] = [
    "project-new",
    "project-unit-test",
    "project-build",
    "project-test",
    "project-test-diff",
    "project-bless",
    "new",
    "unit-test",
    "build",
    "dry-run",
    "dry-run-bad",
    "users-api",
    "ingest",
    "start",
    "metrics",
    "change",
    "status",
    "rollback-deploy",
    "project-deploy",
];

/// The plugin name the guide uses; runs use a unique one instead.
const DOC_NAME: &str = "my-transform";

/// Users the guide ingests (`host ingest --count`).
const INGESTED: i64 = 100;

/// Generous: cargo may wait for the build lock behind other builds.
const BUILD_TIMEOUT: Duration = Duration::from_secs(20 * 60);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// One fenced block of the guide.
#[derive(Debug, Clone)]
struct Block {
    lang: String,
    attrs: HashMap<String, String>,
    body: String,
    line: usize,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (n, line) in markdown.lines().enumerate() {
        match (&mut open, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) => {
                let mut words = info.split_whitespace();
                let lang = words.next().unwrap_or("").to_string();
                let attrs = words
                    .map(|w| match w.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (w.to_string(), String::new()),
                    })
                    .collect();
                open = Some(Block {
                    lang,
                    attrs,
                    body: String::new(),
                    line: n + 1,
                });
            }
            (Some(_), Some("")) => out.push(open.take().unwrap()),
            (Some(block), _) => {
                block.body.push_str(line);
                block.body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "{GUIDE}: a code block is not closed");
    out
}

fn guide() -> Vec<Block> {
    let text = std::fs::read_to_string(workspace().join(GUIDE)).expect("the guide exists");
    let blocks = blocks(&text);
    for b in &blocks {
        assert!(
            !["bash", "shell", "console", "zsh"].contains(&b.lang.as_str()),
            "{GUIDE}:{}: write commands in ```sh blocks, which this test runs",
            b.line
        );
        if b.lang == "sh" {
            assert!(b.attrs.contains_key("step"), "{GUIDE}:{}: mark the block `sh step=NAME`: every command in the guide is run by host/tests/guide.rs", b.line);
        }
    }
    blocks
}

#[test]
fn guide_steps_are_the_ones_this_test_knows() {
    let steps: Vec<String> = guide()
        .iter()
        .filter(|b| b.lang == "sh")
        .map(|b| b.attrs["step"].clone())
        .collect();
    assert_eq!(
        steps, STEPS,
        "the guide's steps changed: update STEPS and the checks in host/tests/guide.rs"
    );
}

/// Fills the template's placeholders the way `just new-plugin my-transform` does.
fn as_generated(text: &str) -> String {
    text.replace("{{name}}", DOC_NAME)
        .replace("{{Name}}", "MyTransform")
}

#[test]
fn guide_excerpts_match_the_files() {
    for b in guide().iter().filter(|b| b.attrs.contains_key("file")) {
        let path = &b.attrs["file"];
        let text = std::fs::read_to_string(workspace().join(path))
            .unwrap_or_else(|e| panic!("{GUIDE}:{}: {path}: {e}", b.line));
        let text = if path.starts_with("templates/") {
            as_generated(&text)
        } else {
            text
        };
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        // Each run of lines between `...` markers is contiguous in the file,
        // and the runs come in file order.
        let mut from = 0;
        let body: Vec<&str> = b.body.lines().map(str::trim_end).collect();
        for run in body.split(|l| matches!(l.trim(), "// ..." | "# ..." | "...")) {
            if run.is_empty() {
                continue;
            }
            let at = (from..=lines.len().saturating_sub(run.len()))
                .find(|&i| lines[i..i + run.len()] == *run)
                .unwrap_or_else(|| {
                    panic!("{GUIDE}:{}: this excerpt is not in {path} (after line {from}); update the guide:\n{}", b.line, run.join("\n"))
                });
            from = at + run.len();
        }
    }
}

#[test]
fn new_plugin_refuses_bad_and_taken_names() {
    for (name, message) in [
        ("flatten", "plugins/flatten already exists"),
        ("My-Plugin", "is not a valid plugin name"),
        ("two--dashes", "is not a valid plugin name"),
        ("fn", "is reserved"),
        ("serde-json", "a package named \"serde_json\" is already"),
        ("value", "would name the transform type `Value`"),
    ] {
        let out = Command::new("just")
            .args(["new-plugin", name])
            .current_dir(workspace())
            .output()
            .expect("`just` is installed (`just setup`)");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} was accepted");
        assert!(stderr.contains(message), "{name}: {stderr}");
        assert!(
            !workspace().join("plugins").join(name).exists() || name == "flatten",
            "{name} left a folder behind"
        );
    }
}

/// What a step printed.
struct Ran {
    stdout: String,
    stderr: String,
}

/// The walkthrough's state; dropping it stops what it started and removes
/// what it created, whether the test passed or not.
struct Walkthrough {
    name: String,
    topic: String,
    keyspace: String,
    admin: String,
    users_api: String,
    scratch: tempfile::TempDir,
    background: Vec<(String, Child)>,
    runtime: tokio::runtime::Runtime,
}

impl Walkthrough {
    fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Walkthrough {
            name: format!("guide-demo-{}", &id[..8]),
            topic: common::unique("guide"),
            keyspace: common::unique("guide"),
            admin: format!("127.0.0.1:{}", common::free_port()),
            users_api: format!("127.0.0.1:{}", common::free_port()),
            scratch: tempfile::tempdir().unwrap(),
            background: Vec::new(),
            runtime: tokio::runtime::Runtime::new().unwrap(),
        }
    }

    /// What keeps runs apart from each other and from a developer's own
    /// host (default ports, topic and keyspace).
    fn substitute(&self, command: &str) -> String {
        let api_port = self.users_api.rsplit(':').next().unwrap();
        command
            .replace("/path/to/sluice", &workspace().display().to_string())
            .replace(DOC_NAME, &self.name)
            .replace("127.0.0.1:9180", &self.admin)
            .replace("127.0.0.1:8089", &self.users_api)
            .replace("--port 8089", &format!("--port {api_port}"))
            .replace("users_created", &self.topic)
    }

    /// Output as the reader sees it: with the guide's names.
    fn as_in_guide(&self, output: &str) -> String {
        output
            .replace(&self.name, DOC_NAME)
            .replace(&self.admin, "127.0.0.1:9180")
            .replace(&self.users_api, "127.0.0.1:8089")
            .replace(&self.topic, "users_created")
            .replace(&self.keyspace, "sluice")
    }

    /// The folder outside the repository where the guide's own project goes.
    fn outside(&self) -> PathBuf {
        self.scratch.path().join("outside")
    }

    /// Where a block runs: its `cwd` (`outside`, `project`) or the repository.
    fn cwd(&self, block: &Block) -> PathBuf {
        match block.attrs.get("cwd").map(String::as_str) {
            None => workspace(),
            Some("outside") => self.outside(),
            Some("project") => self.outside().join(&self.name),
            Some(other) => panic!("{GUIDE}:{}: unknown cwd={other}", block.line),
        }
    }

    fn command(&self, script: &str, log: &str, cwd: &Path) -> Command {
        let host_dir = Path::new(env!("CARGO_BIN_EXE_host")).parent().unwrap();
        let path = format!(
            "{}:{}",
            host_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("bash");
        std::fs::create_dir_all(cwd).unwrap();
        cmd.args(["-euo", "pipefail", "-c", script])
            .current_dir(cwd);
        // A reader's shell: no settings from the caller (but where the
        // services are) or from cargo's test environment, then what keeps
        // this run apart.
        const SERVICES: [&str; 3] = [
            "SLUICE_KAFKA_BROKERS",
            "SLUICE_CASSANDRA_HOSTS",
            "SLUICE_REGISTRY_URL",
        ];
        for (key, _) in std::env::vars() {
            let setting = key.starts_with("SLUICE_") && !SERVICES.contains(&key.as_str());
            if setting || (key.starts_with("CARGO_") && key != "CARGO_HOME") || key == "RUST_LOG" {
                cmd.env_remove(key);
            }
        }
        cmd.env("PATH", path)
            .env("SLUICE_TOPICS", &self.topic)
            .env("SLUICE_KAFKA_GROUP", common::unique("guide"))
            .env("SLUICE_CASSANDRA_KEYSPACE", &self.keyspace)
            .env("SLUICE_ADMIN_LISTEN", &self.admin)
            .env("SLUICE_ADMIN_URL", format!("http://{}", self.admin));
        let out = std::fs::File::create(self.scratch.path().join(format!("{log}.out"))).unwrap();
        let err = std::fs::File::create(self.scratch.path().join(format!("{log}.err"))).unwrap();
        // Files, not pipes: a background process keeps its output open.
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        // Its own process group, so that everything it starts can be stopped.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd
    }

    fn output(&self, log: &str) -> Ran {
        let read = |ext: &str| {
            std::fs::read_to_string(self.scratch.path().join(format!("{log}.{ext}")))
                .unwrap_or_default()
        };
        Ran {
            stdout: read("out"),
            stderr: read("err"),
        }
    }

    /// Runs one block; panics with its output unless it exits with `exit`.
    fn run(&mut self, step: &str, script: &str, exit: i32, cwd: &Path) -> Ran {
        let started = Instant::now();
        let mut child = self.command(script, step, cwd).spawn().expect("bash runs");
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > BUILD_TIMEOUT {
                stop(&mut child);
                panic!("step {step} still runs after {BUILD_TIMEOUT:?}:\n{script}");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let ran = self.output(step);
        eprintln!(
            "--- step {step} ({:.1} s): {}\n{}{}",
            started.elapsed().as_secs_f64(),
            script.trim(),
            ran.stdout,
            ran.stderr
        );
        assert_eq!(
            status.code(),
            Some(exit),
            "step {step} exited with {status}:\n{script}\n--- stdout\n{}\n--- stderr\n{}",
            ran.stdout,
            ran.stderr
        );
        ran
    }

    fn start(&mut self, step: &str, script: &str, cwd: &Path) {
        eprintln!("--- step {step} (background): {}", script.trim());
        let child = self.command(script, step, cwd).spawn().expect("bash runs");
        self.background.push((step.to_string(), child));
    }

    /// Panics with the log of a background step that has exited.
    fn still_running(&mut self, step: &str) {
        let (_, child) = self.background.iter_mut().find(|(s, _)| s == step).unwrap();
        if let Some(status) = child.try_wait().unwrap() {
            let ran = self.output(step);
            panic!(
                "step {step} exited with {status}:\n{}{}",
                ran.stdout, ran.stderr
            );
        }
    }

    fn status(&self) -> Option<serde_json::Value> {
        let url = format!("http://{}/api/status", self.admin);
        self.runtime.block_on(async {
            let r = reqwest::get(url).await.ok()?;
            r.json().await.ok()
        })
    }

    /// Waits until the host's active plugin is `version`.
    fn wait_for_version(&mut self, version: &str, timeout: Duration) {
        let started = Instant::now();
        loop {
            self.still_running("start");
            let status = self.status();
            if status.as_ref().is_some_and(|s| {
                s["active"]["version"] == version && s["active"]["name"] == self.name
            }) {
                return;
            }
            if started.elapsed() > timeout {
                let log = self.output("start");
                panic!("the host's active plugin is not {} {version} after {timeout:?}: {status:?}\n--- host log\n{}", self.name, log.stderr);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The checks after a step: what the guide says it does, it did.
    fn after(&mut self, step: &str, ran: &Ran) {
        let plugin = workspace().join("plugins").join(&self.name);
        let project = self.outside().join(&self.name);
        match step {
            "project-new" => {
                assert!(
                    !project.starts_with(workspace()),
                    "the project is outside the repository"
                );
                for file in [
                    "Cargo.toml",
                    ".gitignore",
                    "README.md",
                    "src/lib.rs",
                    "src/tests.rs",
                    "samples/input.jsonl",
                    "samples/expected.jsonl",
                ] {
                    assert!(
                        project.join(file).is_file(),
                        "the new project has no {file}"
                    );
                }
            }
            "project-unit-test" => assert!(
                ran.stdout.contains("test result: ok. 3 passed"),
                "the project's unit tests did not pass: {}",
                ran.stdout
            ),
            "project-build" => assert!(project.join(format!("dist/{}.wasm", self.name)).is_file()),
            "project-bless" => {
                let golden =
                    std::fs::read_to_string(project.join("samples/expected.jsonl")).unwrap();
                assert!(
                    golden.contains("zoe.lefevre@") && !golden.contains("zoe.lefebvre@"),
                    "{golden}"
                );
            }
            "project-deploy" => self.wait_for_version("0.1.0", Duration::from_secs(60)),
            "new" => {
                let manifest = std::fs::read_to_string(plugin.join("Cargo.toml")).unwrap();
                assert!(
                    manifest.contains(r#"crate-type = ["cdylib", "rlib"]"#),
                    "{manifest}"
                );
                for file in ["Cargo.toml", "src/lib.rs", "src/tests.rs"] {
                    let text = std::fs::read_to_string(plugin.join(file)).unwrap();
                    assert!(!text.contains("{{"), "{file} keeps a template placeholder");
                    assert!(
                        text.contains(&self.name) || file == "src/tests.rs",
                        "{file} does not name the plugin"
                    );
                }
            }
            "unit-test" => {
                // The unit tests' summary comes first (then the doc-tests').
                let summary = ran.stdout.lines().find(|l| l.starts_with("test result:"));
                let passed = summary
                    .and_then(|l| l.strip_prefix("test result: ok. "))
                    .and_then(|l| l.split(' ').next())
                    .and_then(|n| n.parse::<u32>().ok());
                assert!(
                    passed > Some(0),
                    "the template's tests did not pass: {}",
                    ran.stdout
                );
            }
            "build" => assert!(workspace()
                .join(format!("plugins/dist/{}.wasm", self.name))
                .exists()),
            "dry-run" => {
                let rows: Vec<serde_json::Value> = ran
                    .stdout
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                let fixture =
                    std::fs::read_to_string(workspace().join("host/tests/fixtures/users.jsonl"))
                        .unwrap();
                let users = fixture.lines().filter(|l| !l.trim().is_empty()).count();
                assert_eq!(rows.len(), users, "one row per user of the fixture");
                for row in &rows {
                    assert_eq!(row["table"], "created_users");
                    let columns: Vec<&String> =
                        row["columns"].as_object().unwrap().keys().collect();
                    assert_eq!(columns, ["email", "first_name", "id", "last_name"]);
                }
                let summary = format!("{users} records, {users} rows, 0 filtered, 0 failed");
                assert!(ran.stderr.contains(&summary), "{}", ran.stderr);
            }
            "dry-run-bad" => assert!(
                ran.stderr.contains("bad input in `name.last`"),
                "{}",
                ran.stderr
            ),
            "start" => {
                self.wait_for_version("0.1.0", Duration::from_secs(180));
                // The guide's next step reads the metrics; let the rows land first.
                let table = format!("{}.created_users", self.keyspace);
                self.runtime.block_on(async {
                    let session = common::session().await;
                    common::wait_for_rows(&session, &table, INGESTED, Duration::from_secs(180))
                        .await;
                });
            }
            "users-api" => {
                let started = Instant::now();
                while std::net::TcpStream::connect(&self.users_api).is_err() {
                    self.still_running("users-api");
                    assert!(
                        started.elapsed() < Duration::from_secs(60),
                        "the users API does not listen on {}",
                        self.users_api
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            "metrics" => {
                let line = format!(
                    "sluice_rows_written_total{{table=\"{}.created_users\"}} {INGESTED}",
                    self.keyspace
                );
                assert!(
                    ran.stdout.contains(&line),
                    "no `{line}` in:\n{}",
                    ran.stdout
                );
            }
            "change" => {
                // Fail fast if the edit did not apply: the file would not change.
                let manifest = std::fs::read_to_string(plugin.join("Cargo.toml")).unwrap();
                assert!(
                    manifest.contains("version = \"0.2.0\""),
                    "the version was not bumped:\n{manifest}"
                );
                self.wait_for_version("0.2.0", Duration::from_secs(180));
            }
            "status" => {
                // For people: a sentence naming the active version, then the group's hosts.
                let first = ran.stdout.lines().next().unwrap_or_default();
                assert!(
                    first.starts_with("Active: ") && first.contains(" 0.2.0 "),
                    "status names the active version: {}",
                    ran.stdout
                );
                assert!(
                    ran.stdout.contains("Hosts of the group (1):"),
                    "{}",
                    ran.stdout
                );
            }
            "rollback-deploy" => {
                assert!(
                    ran.stdout.contains("0.1.0 is active.") && ran.stdout.contains("Deployed "),
                    "rollback went back to 0.1.0, then the deploy: {}",
                    ran.stdout
                );
                self.wait_for_version("0.2.0", Duration::from_secs(10));
                let versions = self.status().unwrap()["versions"].as_array().unwrap().len();
                assert!(versions >= 2, "the host keeps both versions");
            }
            _ => {}
        }
    }
}

impl Drop for Walkthrough {
    fn drop(&mut self) {
        for (_, child) in &mut self.background {
            stop(child);
        }
        let root = workspace();
        let _ = std::fs::remove_dir_all(root.join("plugins").join(&self.name));
        let _ = std::fs::remove_file(root.join(format!("plugins/dist/{}.wasm", self.name)));
        remove_build_output(&self.name, Duration::ZERO);
        // Drop the plugin from Cargo.lock again (the next cargo build would;
        // `update --workspace` touches nothing else).
        let _ = Command::new("cargo")
            .args(["update", "--workspace", "--offline", "--quiet"])
            .current_dir(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// SIGTERM to the process group (a host then stops cleanly), SIGKILL if it
/// has not stopped after 30 s. Only a child not yet reaped is signalled: its
/// id, which is also its group's, cannot have been reused.
fn stop(child: &mut Child) {
    let group = format!("-{}", child.id());
    let signal = |name: &str| {
        let _ = Command::new("kill")
            .args([name, "--", &group])
            .stderr(Stdio::null())
            .status();
    };
    if child.try_wait().ok().flatten().is_some() {
        return;
    }
    signal("-TERM");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    signal("-KILL");
    let _ = child.wait();
}

/// Removes the build output of plugin crates named `prefix...` older than
/// `age`: this run's at the end, and what killed runs left behind.
fn remove_build_output(prefix: &str, age: Duration) {
    let root = workspace();
    let lib = prefix.replace('-', "_");
    let dirs = [
        "plugins",
        "plugins/dist",
        "target/debug/deps",
        "target/debug/.fingerprint",
        "target/debug/incremental",
        "target/debug",
        "target/wasm/wasm32-unknown-unknown/release/deps",
        "target/wasm/wasm32-unknown-unknown/release/.fingerprint",
        "target/wasm/wasm32-unknown-unknown/release",
    ];
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().to_string();
            let file = file.strip_prefix("lib").unwrap_or(&file);
            if !(file.starts_with(prefix) || file.starts_with(&lib)) {
                continue;
            }
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| SystemTime::now().duration_since(t).unwrap_or_default() >= age);
            if old.unwrap_or(false) {
                let path = entry.path();
                let _ = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
            }
        }
    }
}

#[test]
fn the_guide_runs_from_nothing_to_a_live_hot_reloaded_plugin() {
    // A run killed before its guard ran (CI timeout) leaves its plugin behind.
    remove_build_output("guide-demo-", Duration::from_secs(2 * 3600));
    let blocks = guide();
    let mut walk = Walkthrough::new();
    eprintln!(
        "guide: plugin {}, topic {}, keyspace {}, admin {}",
        walk.name, walk.topic, walk.keyspace, walk.admin
    );
    let started = Instant::now();
    let mut outputs: HashMap<String, String> = HashMap::new();
    for b in blocks.iter().filter(|b| b.lang == "sh") {
        let step = &b.attrs["step"];
        let script = walk.substitute(&b.body);
        if b.attrs.contains_key("background") {
            walk.start(step, &script, &walk.cwd(b));
            walk.after(
                step,
                &Ran {
                    stdout: String::new(),
                    stderr: String::new(),
                },
            );
            continue;
        }
        let exit = b
            .attrs
            .get("exit")
            .map(|e| e.parse().expect("exit=N"))
            .unwrap_or(0);
        let cwd = walk.cwd(b);
        let ran = walk.run(step, &script, exit, &cwd);
        walk.after(step, &ran);
        outputs.insert(
            step.clone(),
            walk.as_in_guide(&format!("{}{}", ran.stdout, ran.stderr)),
        );
    }
    // Sample output in the guide must be what the steps print.
    for b in blocks.iter().filter(|b| b.attrs.contains_key("output")) {
        let step = &b.attrs["output"];
        let output = outputs
            .get(step)
            .unwrap_or_else(|| panic!("{GUIDE}:{}: no step {step} ran", b.line));
        for line in b.body.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                output.contains(line.trim()),
                "{GUIDE}:{}: `{}` is not in the output of step {step}:\n{output}",
                b.line,
                line.trim()
            );
        }
    }
    eprintln!(
        "guide: all {} steps in {:.0} s",
        STEPS.len(),
        started.elapsed().as_secs_f64()
    );
}
