//! The admin endpoint's defences, against a running host and the real
//! services: the token is checked before any body is read, on every route
//! that changes state; uploads over the size limit are refused before they
//! are read whole; bad files are refused with a clear message; the CLI checks
//! the token and the size first and says what the host answered; the
//! endpoint will not serve beyond loopback without a token; plugin- and
//! uploader-supplied strings are escaped; and no password or token shows in
//! the logs (text and JSON, at trace level), /metrics, /api/status or the page.
//!
//! Raw TCP is used where it matters what the server does *before* the body
//! arrives: the request head is sent, the body never is, and the answer must
//! come anyway.

mod common;

use common::*;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A client that opens a connection per request: the host answers a refused
/// upload before reading its body and then closes the connection, and a
/// pooled client may race that close with its next request on it.
fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

const TOKEN: &str = "admin-security-token-3f9c";
const LIMIT: u64 = 128 << 20;
const WRONG_TOKEN_TEXT: &str = "missing or wrong admin token";

fn flatten() -> PathBuf {
    PathBuf::from(sluice_test_programs::FLATTEN)
}

fn guest_path(name: &str) -> PathBuf {
    sluice_test_programs::path(name)
}

fn guest(name: &str) -> Vec<u8> {
    std::fs::read(guest_path(name)).unwrap()
}

/// A pipeline on flatten.wasm with `token` (if any), on a fresh topic and keyspace.
async fn start(token: Option<&str>) -> Pipeline {
    let (topic, ks) = (unique("adm"), unique("ks"));
    create_topic(&topic, 1).await;
    let mut config = test_config(&topic, &ks);
    config.admin.token = token.map(Into::into);
    tokio::time::timeout(
        Duration::from_secs(120),
        Pipeline::start(config, flatten(), false),
    )
    .await
    .expect("the pipeline starts within 120 s")
}

async fn status(p: &Pipeline) -> serde_json::Value {
    p.json("/api/status").await
}

/// The active plugin's version and how many activations there were.
async fn state(p: &Pipeline) -> (String, usize) {
    let s = status(p).await;
    (
        s["active"]["version"].as_str().unwrap().to_string(),
        s["versions"].as_array().unwrap().len(),
    )
}

/// An HTTP answer read off a raw socket.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads one response: the head, then `Content-Length` bytes (or up to EOF).
/// A reset after the answer arrived is not an error.
async fn read_answer(r: &mut (impl AsyncReadExt + Unpin)) -> Answer {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => panic!(
                "the connection ended before an answer: {:?}",
                String::from_utf8_lossy(&buf)
            ),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {head}"));
    let mut answer = Answer {
        status,
        head,
        body: String::new(),
    };
    let length: Option<usize> = answer.header("content-length").and_then(|v| v.parse().ok());
    while length.is_none_or(|n| buf.len() < head_end + n) {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    answer.body = String::from_utf8_lossy(&buf[head_end..]).to_string();
    answer
}

/// Sends only the head of a request (plus `body`, usually nothing) and
/// reads the answer: it must come within 15 s, without the rest of the body.
async fn head_only(addr: SocketAddr, head: &str, body: &[u8]) -> Answer {
    tokio::time::timeout(Duration::from_secs(15), async {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(body).await.unwrap();
        read_answer(&mut s).await
    })
    .await
    .unwrap_or_else(|_| panic!("no answer within 15 s to a request whose body never came:\n{head}"))
}

fn auth_header(token: Option<&str>) -> String {
    token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default()
}

/// The head of a POST that announces `length` bytes it will never send.
fn post_head(path: &str, token: Option<&str>, length: u64, content_type: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\n{}Content-Type: {content_type}\r\n\
         Content-Length: {length}\r\n\r\n",
        auth_header(token)
    )
}

const BOUNDARY: &str = "----sluice-admin-security-7c2e";

fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// A deploy form as the page sends it: the token, then the file.
fn form_body(token: &str, file_name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n{token}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"plugin\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/wasm\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn form_deploy(
    client: &reqwest::Client,
    addr: SocketAddr,
    token: &str,
    file_name: &str,
    bytes: &[u8],
) -> (u16, String) {
    let r = client
        .post(format!("http://{addr}/ui/deploy"))
        .header("content-type", multipart_type())
        .body(form_body(token, file_name, bytes))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn api_deploy(
    client: &reqwest::Client,
    addr: SocketAddr,
    token: Option<&str>,
    source: Option<&str>,
    bytes: Vec<u8>,
) -> (u16, String) {
    let mut req = client
        .post(format!("http://{addr}/api/plugin/deploy"))
        .body(bytes);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(s) = source {
        req = req.header("x-plugin-source", s);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Runs the `host` binary with `args`, without the caller's admin settings.
async fn host_cli(args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_host"));
    cmd.args(args)
        .env_remove("SLUICE_ADMIN_TOKEN")
        .env_remove("SLUICE_ADMIN_URL")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("`host {}` did not finish within 120 s", args.join(" ")))
        .expect("the host binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

// ---- The deploy path ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_token_is_refused_on_every_state_changing_route_before_the_body_is_read()
{
    let running = start(Some(TOKEN)).await;
    let addr = running.admin;
    let before = state(&running).await;

    for token in [
        None,
        Some("wrong"),
        Some(""),
        Some("admin-security-token-3f9"),
    ] {
        // 100 MB announced, nothing sent: the refusal comes anyway.
        let a = head_only(
            addr,
            &post_head(
                "/api/plugin/deploy",
                token,
                100 << 20,
                "application/octet-stream",
            ),
            b"",
        )
        .await;
        assert_eq!(a.status, 401, "deploy with token {token:?}: {a:?}");
        assert!(a.body.contains(WRONG_TOKEN_TEXT), "{a:?}");
        let a = head_only(
            addr,
            &post_head("/api/plugin/rollback", token, 1 << 20, "text/plain"),
            b"",
        )
        .await;
        assert_eq!(a.status, 401, "rollback with token {token:?}: {a:?}");
        assert!(a.body.contains(WRONG_TOKEN_TEXT), "{a:?}");
        // The preflight answers as a deploy would.
        let a = head_only(
            addr,
            &format!(
                "GET /api/auth HTTP/1.1\r\nHost: test\r\n{}\r\n",
                auth_header(token)
            ),
            b"",
        )
        .await;
        assert_eq!(a.status, 401, "preflight with token {token:?}: {a:?}");
        assert!(a.body.contains(WRONG_TOKEN_TEXT), "{a:?}");
        assert_eq!(a.header("x-sluice-max-plugin-bytes"), None, "{a:?}");
    }

    // The page's forms: the token is a field, read before the file.
    let client = fresh_client();
    for token in ["", "wrong"] {
        let (code, body) = form_deploy(
            &client,
            addr,
            token,
            "flatten-v2.wasm",
            &guest("flatten-v2"),
        )
        .await;
        assert_eq!(code, 401, "form deploy with token {token:?}: {body}");
        assert!(body.contains("missing or wrong admin token"), "{body}");
        let r = client
            .post(format!("http://{addr}/ui/rollback"))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "form rollback with {token:?}");
    }
    // A real plugin with a wrong token: refused for the token, not the file.
    let (code, body) = api_deploy(&client, addr, Some("wrong"), None, guest("flatten-v2")).await;
    assert_eq!(code, 401, "{body}");
    // No state-changing route answers a GET.
    for path in [
        "/api/plugin/deploy",
        "/api/plugin/rollback",
        "/ui/deploy",
        "/ui/rollback",
    ] {
        let r = client
            .get(format!("http://{addr}{path}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 405, "GET {path}");
    }
    assert_eq!(state(&running).await, before, "nothing changed");

    // The right token passes the preflight, which reports the limit.
    let r = client
        .get(format!("http://{addr}/api/auth"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(
        r.headers()["x-sluice-max-plugin-bytes"].to_str().unwrap(),
        LIMIT.to_string()
    );
    // Reading needs no token.
    for path in ["/", "/metrics", "/api/status", "/healthz"] {
        let r = client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "GET {path}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_configured_token_every_state_changing_route_answers_403() {
    let running = start(None).await;
    let addr = running.admin;
    let before = state(&running).await;
    for (path, content_type) in [
        ("/api/plugin/deploy", "application/octet-stream".to_string()),
        ("/api/plugin/rollback", "text/plain".to_string()),
    ] {
        for token in [None, Some(TOKEN), Some("")] {
            let a = head_only(addr, &post_head(path, token, 50 << 20, &content_type), b"").await;
            assert_eq!(a.status, 403, "{path} with {token:?}: {a:?}");
            assert!(
                a.body.contains("disabled") && a.body.contains("admin.token"),
                "{a:?}"
            );
        }
    }
    let a = head_only(
        addr,
        &format!(
            "GET /api/auth HTTP/1.1\r\nHost: test\r\n{}\r\n",
            auth_header(Some(TOKEN))
        ),
        b"",
    )
    .await;
    assert_eq!(a.status, 403, "{a:?}");
    let client = fresh_client();
    let (code, body) =
        form_deploy(&client, addr, "", "flatten-v2.wasm", &guest("flatten-v2")).await;
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("disabled"), "{body}");
    let r = client
        .post(format!("http://{addr}/ui/rollback"))
        .form(&[("token", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let page = running.text("/").await;
    assert!(
        page.contains("disabled: the host has no admin token"),
        "{page}"
    );
    assert_eq!(state(&running).await, before, "nothing changed");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_components_random_bytes_and_empty_files_are_refused_with_a_clear_message() {
    let running = start(Some(TOKEN)).await;
    let addr = running.admin;
    let client = fresh_client();
    let before = state(&running).await;
    let mut random = vec![0u8; 256 << 10];
    rand::Rng::fill(&mut rand::rng(), &mut random[..]);
    // A valid core module (the magic and version alone), not a component.
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    let text_file = b"#!/bin/sh\necho not a plugin\n".to_vec();

    let (code, body) = api_deploy(&client, addr, Some(TOKEN), None, Vec::new()).await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("the upload is empty"), "{body}");
    for (what, bytes) in [
        ("random bytes", random.clone()),
        ("a core module", core_module.clone()),
        ("a text file", text_file.clone()),
    ] {
        let (code, body) = api_deploy(&client, addr, Some(TOKEN), None, bytes).await;
        assert_eq!(code, 422, "{what}: {body}");
        assert!(body.starts_with("deploy rejected: "), "{what}: {body}");
        assert!(
            body.len() > "deploy rejected: ".len() + 10,
            "{what}: {body}"
        );
    }
    let (code, body) = form_deploy(&client, addr, TOKEN, "empty.wasm", b"").await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("empty.wasm is empty"), "{body}");
    for (what, bytes) in [("random bytes", &random), ("a core module", &core_module)] {
        let (code, body) = form_deploy(&client, addr, TOKEN, "bad.wasm", bytes).await;
        assert_eq!(code, 422, "{what}: {body}");
        assert!(
            body.contains("Deploy rejected; the running version goes on."),
            "{what}: {body}"
        );
    }
    assert_eq!(state(&running).await, before, "nothing was deployed");
    let metrics = running.text("/metrics").await;
    assert!(
        metrics.contains("sluice_plugin_rejected_deploys_total 5"),
        "five rejected by validation: {metrics}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_the_size_limit_is_refused_before_it_is_read_whole() {
    let running = start(Some(TOKEN)).await;
    let addr = running.admin;
    let before = state(&running).await;

    // 200 MB announced with the right token: 413 at once, on the length alone.
    let started = Instant::now();
    let a = head_only(
        addr,
        &post_head(
            "/api/plugin/deploy",
            Some(TOKEN),
            200 << 20,
            "application/octet-stream",
        ),
        b"",
    )
    .await;
    assert_eq!(a.status, 413, "{a:?}");
    assert!(
        a.body.contains("200.0 MiB") && a.body.contains("128 MiB") && a.body.contains("limit"),
        "{a:?}"
    );
    // The page's form, likewise (its token is in the body, never sent here).
    let a = head_only(
        addr,
        &post_head("/ui/deploy", None, 200 << 20, &multipart_type()),
        b"",
    )
    .await;
    assert_eq!(a.status, 413, "{a:?}");
    assert!(
        a.body.contains("Refused: the upload is 200.0 MiB") && a.body.contains("128 MiB"),
        "{a:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // A chunked body declares no length: it is cut off at the limit.
    let answer = tokio::time::timeout(Duration::from_secs(120), async {
        let s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut r, mut w) = s.into_split();
        let head = format!(
            "POST /api/plugin/deploy HTTP/1.1\r\nHost: test\r\n{}\
             Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
            auth_header(Some(TOKEN))
        );
        let writer = tokio::spawn(async move {
            w.write_all(head.as_bytes()).await?;
            let chunk = vec![0x5au8; 1 << 20];
            let mut sent: u64 = 0;
            // Up to 40 MiB past the limit, unless the server hangs up first.
            while sent < LIMIT + (40 << 20) {
                w.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                w.write_all(&chunk).await?;
                w.write_all(b"\r\n").await?;
                sent += chunk.len() as u64;
            }
            w.write_all(b"0\r\n\r\n").await?;
            Ok::<u64, std::io::Error>(sent)
        });
        let answer = read_answer(&mut r).await;
        writer.abort();
        answer
    })
    .await
    .expect("a chunked upload over the limit is answered within 120 s");
    assert_eq!(answer.status, 413, "{answer:?}");
    assert!(
        answer.body.contains("over the host's limit of 128 MiB"),
        "{answer:?}"
    );
    assert_eq!(state(&running).await, before, "nothing was deployed");
    running.stop().await;
}

// ---- The CLI ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_the_hosts_refusal_of_a_wrong_token_instead_of_a_broken_pipe() {
    let running = start(Some(TOKEN)).await;
    let url = format!("http://{}", running.admin);
    let dir = tempfile::tempdir().unwrap();
    // Big enough that the host would stop reading long before the end.
    let big = dir.path().join("big.wasm");
    std::fs::write(&big, vec![0x5au8; 60 << 20]).unwrap();
    let big = big.to_str().unwrap();
    let before = state(&running).await;

    let out = host_cli(&["plugin", "deploy", big, "--admin", &url, "--token", "wrong"]).await;
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("401") && err.contains(WRONG_TOKEN_TEXT) && err.contains(&url),
        "{err}"
    );
    assert!(
        !err.to_lowercase().contains("broken pipe") && !err.contains("running"),
        "a refusal is not a transport failure: {err}"
    );
    let out = host_cli(&["plugin", "deploy", big, "--admin", &url]).await;
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("401") && err.contains("no token given"),
        "{err}"
    );
    let out = host_cli(&["plugin", "rollback", "--admin", &url, "--token", "wrong"]).await;
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("401") && err.contains(WRONG_TOKEN_TEXT),
        "{err}"
    );
    assert_eq!(state(&running).await, before, "nothing changed");

    // With the right token: deploy, roll back; status needs none.
    let v2 = guest_path("flatten-v2");
    let out = host_cli(&[
        "plugin",
        "deploy",
        v2.to_str().unwrap(),
        "--admin",
        &url,
        "--token",
        TOKEN,
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Deployed flatten 2.0.0"),
        "{out:?}"
    );
    let out = host_cli(&["plugin", "status", "--admin", &url, "--json"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["active"]["version"], "2.0.0");
    // For people: a sentence and the group's hosts as a table.
    let out = host_cli(&["plugin", "status", "--admin", &url]).await;
    let table = text(&out.stdout);
    assert!(table.starts_with("Active: flatten 2.0.0"), "{table}");
    assert!(table.contains("Hosts of the group (1):"), "{table}");
    let out = host_cli(&["plugin", "rollback", "--admin", &url, "--token", TOKEN]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Rolled back: flatten 0.1.0 is active."),
        "{out:?}"
    );
    // A second rollback has nothing to go back to: the host's words.
    let out = host_cli(&["plugin", "rollback", "--admin", &url, "--token", TOKEN]).await;
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("409") && err.contains("rollback refused"),
        "{err}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_refuses_a_file_over_the_hosts_limit_or_an_empty_one_before_sending_it() {
    let running = start(Some(TOKEN)).await;
    let url = format!("http://{}", running.admin);
    let dir = tempfile::tempdir().unwrap();
    // 200 MB, sparse: the CLI must not need to read it to refuse it.
    let huge = dir.path().join("huge.wasm");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(200 << 20)
        .unwrap();
    let empty = dir.path().join("empty.wasm");
    std::fs::write(&empty, b"").unwrap();

    let started = Instant::now();
    let out = host_cli(&[
        "plugin",
        "deploy",
        huge.to_str().unwrap(),
        "--admin",
        &url,
        "--token",
        TOKEN,
    ])
    .await;
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("200.0 MiB")
            && err.contains("over the limit of 128.0 MiB")
            && err.contains("nothing was sent"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "refused without uploading"
    );
    let out = host_cli(&[
        "plugin",
        "deploy",
        empty.to_str().unwrap(),
        "--admin",
        &url,
        "--token",
        TOKEN,
    ])
    .await;
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("is empty: nothing to deploy"), "{err}");
    // Neither reached validation.
    let metrics = running.text("/metrics").await;
    assert!(
        metrics.contains("sluice_plugin_rejected_deploys_total 0"),
        "{metrics}"
    );
    assert_eq!(state(&running).await.1, 1);
    running.stop().await;
}

#[tokio::test]
async fn the_cli_names_the_url_when_no_host_answers_and_only_then() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.wasm");
    std::fs::write(&file, b"\0asm\x01\0\0\0").unwrap();
    for args in [
        vec!["plugin", "status", "--admin", &url],
        vec!["plugin", "rollback", "--admin", &url, "--token", "t"],
        vec![
            "plugin",
            "deploy",
            file.to_str().unwrap(),
            "--admin",
            &url,
            "--token",
            "t",
        ],
    ] {
        let out = host_cli(&args).await;
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {err}");
        assert!(
            err.contains(&format!(
                "cannot connect to the host's admin endpoint at {url}"
            )) && err.contains("is `host run` running there?"),
            "{args:?}: {err}"
        );
    }
    let out = host_cli(&["plugin", "status", "--admin", "127.0.0.1:9180"]).await;
    let err = text(&out.stderr);
    assert!(
        err.contains("is not an http(s) URL") && !err.contains("running"),
        "{err}"
    );
}

// ---- The admin endpoint ----

#[test]
fn base64_is_right_so_the_secret_checks_mean_something() {
    assert_eq!(
        base64("Aladdin:open sesame"),
        "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    );
    assert_eq!(base64("ab"), "YWI=");
}

#[test]
fn the_admin_endpoint_listens_on_loopback_by_default() {
    let listen = host::config::AdminConfig::default().listen;
    let addr: SocketAddr = listen.parse().expect("the default is an address");
    assert!(addr.ip().is_loopback(), "{listen}");
    assert_eq!(host::config::AdminConfig::default().token, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_refuses_to_serve_beyond_loopback_without_a_token_or_with_an_empty_one() {
    let (topic, ks) = (unique("exposed"), unique("ks"));
    create_topic(&topic, 1).await;
    let run = |listen: &str, token: Option<&str>| {
        let mut config = test_config(&topic, &ks);
        config.admin.listen = listen.into();
        config.admin.token = token.map(Into::into);
        let options = host::pipeline::RunOptions {
            watch: false,
            ..host::pipeline::RunOptions::new(flatten())
        };
        async move {
            tokio::time::timeout(
                Duration::from_secs(120),
                host::pipeline::run(config, options, std::future::pending()),
            )
            .await
            .expect("refused within 120 s")
            .expect_err("the host must not start")
        }
    };
    let e = format!("{:#}", run("0.0.0.0:0", None).await);
    for needle in [
        "0.0.0.0",
        "loopback",
        "admin.token",
        "SLUICE_ADMIN_TOKEN",
        "admin.listen",
        "SLUICE_ADMIN_LISTEN",
    ] {
        assert!(e.contains(needle), "{needle} missing in: {e}");
    }
    let e = format!("{:#}", run("127.0.0.1:0", Some("")).await);
    assert!(
        e.contains("admin.token") && e.contains("empty"),
        "an empty token is refused: {e}"
    );
}

// ---- Escaping ----

/// 12 bytes, as long as "loop-forever", whose place it takes in the guest.
const HOSTILE_NAME: &str = "<script>\"} 1";
/// 5 bytes, as long as "0.1.0".
const HOSTILE_VERSION: &str = "\"} 1\n";
const HOSTILE_SOURCE: &str = "</td><script>alert(1)</script>\"} 1";
const HOSTILE_FILE: &str = "<script>alert(2)</script>.wasm";

/// loop-forever with its name and version bytes replaced in place.
fn hostile_guest() -> Vec<u8> {
    let mut bytes = guest("loop-forever");
    let original = b"loop-forever0.1.0";
    let at = bytes
        .windows(original.len())
        .position(|w| w == original)
        .expect("loop-forever's name and version sit side by side in its data");
    assert_eq!(HOSTILE_NAME.len() + HOSTILE_VERSION.len(), original.len());
    bytes[at..at + 12].copy_from_slice(HOSTILE_NAME.as_bytes());
    bytes[at + 12..at + 17].copy_from_slice(HOSTILE_VERSION.as_bytes());
    bytes
}

/// The page's only `<script` is its own; plugin text shows escaped.
fn assert_escaped(html: &str, what: &str) {
    assert_eq!(html.matches("<script").count(), 1, "{what}: {html}");
    assert!(!html.contains("<script>alert"), "{what}: {html}");
    assert!(!html.contains("\"} 1"), "{what}: {html}");
    assert!(html.contains("&lt;script&gt;"), "{what}: {html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_and_uploader_strings_are_escaped_in_the_page_and_json_encoded_in_the_api() {
    let (topic, ks) = (unique("esc"), unique("ks"));
    create_topic(&topic, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = records_config(&topic, &ks, &dir.path().join("schema.cql"));
    config.admin.token = Some(TOKEN.into());
    let running = Pipeline::start(config, guest_path("loop-forever"), false).await;
    let addr = running.admin;
    let client = fresh_client();

    // A plugin whose name and version are markup and metric syntax. The host
    // may refuse such a name; either way the name must come back escaped.
    let (code, body) = form_deploy(&client, addr, TOKEN, "hostile.wasm", &hostile_guest()).await;
    assert!(code == 200 || code == 422, "{code}: {body}");
    assert_escaped(&body, "the deploy form's answer");
    let (code, body) = api_deploy(
        &client,
        addr,
        Some(TOKEN),
        Some(HOSTILE_SOURCE),
        hostile_guest(),
    )
    .await;
    let hostile_active = match code {
        200 => {
            let d: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(d["name"], HOSTILE_NAME, "{body}");
            assert_eq!(d["version"], HOSTILE_VERSION, "{body}");
            true
        }
        422 => {
            assert!(
                body.contains("<script>"),
                "the name reached the host: {body}"
            );
            false
        }
        other => panic!("{other}: {body}"),
    };
    // Valid plugins, from hostile sources and file names.
    let (code, body) = api_deploy(
        &client,
        addr,
        Some(TOKEN),
        Some(HOSTILE_SOURCE),
        guest("output-flood"),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = form_deploy(&client, addr, TOKEN, HOSTILE_FILE, &guest("panic-on")).await;
    assert_eq!(code, 200, "{body}");
    assert_escaped(&body, "the deploy form's answer");
    assert!(
        body.contains("&lt;script&gt;alert(2)&lt;/script&gt;.wasm"),
        "{body}"
    );

    let page = running.text("/").await;
    assert_escaped(&page, "the page");
    assert!(
        page.contains("&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt;&quot;} 1"),
        "the hostile source, escaped: {page}"
    );
    let still = running.text("/?refresh=0").await;
    assert!(!still.contains("<script"), "{still}");

    // The API: valid JSON that gives back exactly the strings, nothing raw.
    let raw = running.text("/api/status").await;
    assert!(!raw.contains('\n'), "{raw}");
    assert!(raw.contains(r#"alert(1)</script>\"} 1""#), "{raw}");
    let st: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let versions = st["versions"].as_array().unwrap();
    assert!(
        versions.iter().any(|v| v["source"] == HOSTILE_SOURCE),
        "{st}"
    );
    assert!(
        versions
            .iter()
            .any(|v| v["source"] == format!("status page upload: {HOSTILE_FILE}")),
        "{st}"
    );
    assert_eq!(
        versions.iter().any(|v| v["name"] == HOSTILE_NAME),
        hostile_active,
        "{st}"
    );

    // Metrics: a label value may hold the name, but never break the line.
    let metrics = running.text("/metrics").await;
    assert!(!metrics.contains("name=\"<script>\"} 1\""), "{metrics}");
    for line in metrics.lines() {
        assert!(
            line.is_empty() || line.starts_with('#') || line.starts_with("sluice_"),
            "a line /metrics should not have: {line:?}\n{metrics}"
        );
    }
    running.stop().await;
}

// ---- Secrets ----

/// Distinctive values; none may show anywhere.
struct Secrets {
    kafka: &'static str,
    registry: &'static str,
    cassandra: &'static str,
    token: &'static str,
}

const SECRETS: Secrets = Secrets {
    kafka: "kafka-sasl-secret-81f4d2",
    registry: "registry-secret-5c07ae",
    cassandra: "cassandra-secret-e93b11",
    token: "admin-token-secret-2d6a90",
};

impl Secrets {
    /// Each secret as it could show: raw, or base64 inside a Basic header.
    fn forms(&self) -> Vec<(String, String)> {
        let mut forms = Vec::new();
        for (what, s) in [
            ("kafka sasl.password", self.kafka),
            ("registry password", self.registry),
            ("cassandra password", self.cassandra),
            ("admin token", self.token),
        ] {
            forms.push((what.to_string(), s.to_string()));
            for user in ["registry-user", "cassandra", "kafka-user"] {
                forms.push((
                    format!("{what} (base64 of {user}:..., as in a Basic header)"),
                    base64(&format!("{user}:{s}")),
                ));
            }
        }
        forms
    }

    fn assert_absent(&self, haystack: &str, place: &str) {
        for (what, form) in self.forms() {
            assert!(
                !haystack.contains(&form),
                "the {what} leaks in {place}: {}",
                context(haystack, &form)
            );
        }
    }
}

fn context(haystack: &str, needle: &str) -> String {
    let i = haystack.find(needle).unwrap_or(0);
    let start = haystack[..i]
        .char_indices()
        .rev()
        .nth(300)
        .map_or(0, |(j, _)| j);
    let end = (i + needle.len() + 300).min(haystack.len());
    haystack
        .get(start..end)
        .unwrap_or("(not on a character boundary)")
        .to_string()
}

/// Standard base64, padded.
fn base64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.as_bytes().chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Removes ANSI colour sequences (the text log colours field names).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The address in the "admin endpoint listening" line, once it is logged.
fn admin_address(log: &str) -> Option<SocketAddr> {
    let line = log
        .lines()
        .find(|l| l.contains("admin endpoint listening"))?;
    let i = line.find("127.0.0.1:")?;
    let end = line[i + 10..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(line.len(), |j| i + 10 + j);
    line[i..end].parse().ok()
}

/// The avro record schema for one record the plugin rejects.
const TINY_SCHEMA: &str = r#"{"type":"record","name":"Tiny","namespace":"sluice.test","fields":[{"name":"a","type":"string"}]}"#;

/// One `host run` with secrets set, logging at trace level in `format`:
/// records through Kafka, the registry (with its credentials) and Cassandra,
/// then deploys, a rollback and wrong tokens over HTTP; everything it logs and
/// serves is checked for the secrets.
async fn secrets_stay_secret(format: &str) {
    let (topic, ks, group) = (unique("secret"), unique("ks"), unique("g"));
    create_topic(&topic, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let text_format = format == "text";
    // librdkafka's own debug output (its config dump included) goes to the
    // log too; security.protocol stays plaintext, so the SASL settings are
    // set (and logged, if ever) without being used.
    let mut file = format!(
        "[kafka]\nbrokers = \"{}\"\ngroup-id = \"{group}\"\n\
         [kafka.options]\n\"security.protocol\" = \"plaintext\"\n\"sasl.username\" = \"kafka-user\"\n\
         \"sasl.password\" = \"{}\"\n\"debug\" = \"conf,security,generic,broker\"\n\
         [pipeline]\ntopics = [\"{topic}\"]\n\
         [cassandra]\nhosts = \"{}\"\nkeyspace = \"{ks}\"\nconsistency = \"one\"\n",
        brokers(),
        SECRETS.kafka,
        cassandra_hosts(),
    );
    let mut env: Vec<(&str, String)> = Vec::new();
    if text_format {
        // Secrets in the file.
        file.push_str(&format!(
            "username = \"cassandra\"\npassword = \"{}\"\n\
             [registry]\nurl = \"{}\"\nusername = \"registry-user\"\npassword = \"{}\"\n\
             [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{}\"\n",
            SECRETS.cassandra,
            registry_url(),
            SECRETS.registry,
            SECRETS.token
        ));
    } else {
        // Secrets in the environment, the registry's in its URL.
        file.push_str("[admin]\nlisten = \"127.0.0.1:0\"\n");
        let url =
            registry_url().replacen("://", &format!("://registry-user:{}@", SECRETS.registry), 1);
        env.push(("SLUICE_REGISTRY_URL", url));
        env.push(("SLUICE_CASSANDRA_USERNAME", "cassandra".into()));
        env.push(("SLUICE_CASSANDRA_PASSWORD", SECRETS.cassandra.into()));
        env.push(("SLUICE_ADMIN_TOKEN", SECRETS.token.into()));
    }
    let config = dir.path().join("sluice.toml");
    std::fs::write(&config, &file).unwrap();
    let log_path = dir.path().join("host.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_host"));
    cmd.args(["--log-format", format, "run", "--no-watch", "--config"])
        .arg(&config)
        .arg("--plugin")
        .arg(flatten())
        .env(
            "RUST_LOG",
            // Everything at trace except the Wasm compiler's own dumps of
            // generated code (gigabytes, and it never sees a secret).
            "trace,cranelift_codegen=info,cranelift_frontend=info,\
             wasmtime_internal_cranelift=info,regalloc2=info",
        )
        .env_remove("SLUICE_ADMIN_TOKEN")
        .env_remove("SLUICE_REGISTRY_PASSWORD")
        .env_remove("SLUICE_CASSANDRA_PASSWORD")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("starting host run");
    let read_log = || strip_ansi(&String::from_utf8_lossy(&std::fs::read(&log_path).unwrap()));

    let started = Instant::now();
    let admin = loop {
        if let Some(a) = admin_address(&read_log()) {
            break a;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let log = read_log();
            panic!(
                "host run ({format}) exited with {status}:\n{}",
                &log[log.len().saturating_sub(4000)..]
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "host run ({format}) did not start within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Records: JSON users, an Avro record (schema fetched with the
    // registry's credentials) the plugin rejects, one of an unknown schema.
    let n = 20;
    let p = producer();
    produce_users(&p, &topic, &users(n)).await;
    let registry = host::registry::Registry::new(&registry_url(), None).unwrap();
    let id = registry
        .register(&format!("{topic}-value"), TINY_SCHEMA)
        .await
        .expect("registering a schema");
    let schema = apache_avro::Schema::parse_str(TINY_SCHEMA).unwrap();
    let mut record = apache_avro::types::Record::new(&schema).unwrap();
    record.put("a", "x");
    let body = apache_avro::to_avro_datum(&schema, record).unwrap();
    produce(&p, &topic, "avro", &host::wire::frame(id, &body)).await;
    produce(
        &p,
        &topic,
        "unknown",
        &host::wire::frame(2_000_000_000, &body),
    )
    .await;
    let s = session().await;
    wait_for_rows(
        &s,
        &format!("{ks}.created_users"),
        n as i64,
        Duration::from_secs(120),
    )
    .await;
    let client = fresh_client();
    let get = |path: &str| {
        let client = client.clone();
        let url = format!("http://{admin}{path}");
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let started = Instant::now();
    loop {
        let metrics = get("/metrics").await;
        let dead: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("sluice_dead_letters_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if dead >= 2.0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the two Avro records were not dead-lettered within 60 s: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The token in use: right and wrong, API, forms and the CLI.
    let r = client
        .get(format!("http://{admin}/api/auth"))
        .bearer_auth(SECRETS.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (code, body) = api_deploy(
        &client,
        admin,
        Some(SECRETS.token),
        None,
        guest("flatten-v2"),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    SECRETS.assert_absent(&body, "the deploy answer");
    let (code, body) = api_deploy(
        &client,
        admin,
        Some(&format!("{}x", SECRETS.token)),
        None,
        guest("flatten-v2"),
    )
    .await;
    assert_eq!(code, 401, "{body}");
    let (code, body) = form_deploy(&client, admin, SECRETS.token, "bad.wasm", b"garbage").await;
    assert_eq!(code, 422, "{body}");
    SECRETS.assert_absent(&body, "the deploy form's answer");
    let url = format!("http://{admin}");
    let out = host_cli(&[
        "plugin",
        "rollback",
        "--admin",
        &url,
        "--token",
        SECRETS.token,
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    SECRETS.assert_absent(&text(&out.stdout), "the CLI's output");
    let out = host_cli(&[
        "plugin",
        "status",
        "--admin",
        &url,
        "--token",
        SECRETS.token,
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    SECRETS.assert_absent(&text(&out.stdout), "the CLI's output");

    for path in ["/metrics", "/api/status", "/", "/?refresh=0"] {
        let served = get(path).await;
        assert!(served.len() > 100, "{path}: {served}");
        SECRETS.assert_absent(&served, &format!("{path} ({format} run)"));
    }
    let page = get("/").await;
    assert!(page.contains("flatten"), "{page}");

    // A clean stop, then the whole log.
    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(90), child.wait())
        .await
        .expect("host run stops within 90 s of SIGTERM")
        .unwrap();
    let log = read_log();
    assert!(
        status.success(),
        "{status}: {}",
        &log[log.len().saturating_sub(4000)..]
    );
    // The log is the one asked for: trace level, in this format, with the
    // clients that held the secrets talking.
    let trace = if text_format {
        " TRACE "
    } else {
        "\"level\":\"TRACE\""
    };
    assert!(log.contains(trace), "no trace lines in the {format} log");
    // Written to a file, the log carries no colour codes (grep, log shippers).
    assert!(
        !log.contains('\x1b'),
        "ANSI escape codes in a {format} log written to a file"
    );
    if !text_format {
        let first = log.lines().find(|l| l.contains("admin endpoint")).unwrap();
        serde_json::from_str::<serde_json::Value>(first).expect("JSON lines");
    }
    for needle in [
        "librdkafka: CONF",
        "sasl.password",
        "scylla",
        "stopped cleanly",
    ] {
        assert!(
            log.contains(needle),
            "{needle} missing from the {format} log"
        );
    }
    SECRETS.assert_absent(&log, &format!("the {format} log"));
    eprintln!(
        "{format} log: {} lines, no secret in them",
        log.lines().count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_shows_in_text_logs_metrics_status_or_the_page() {
    secrets_stay_secret("text").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_shows_in_json_logs_metrics_status_or_the_page() {
    secrets_stay_secret("json").await;
}
