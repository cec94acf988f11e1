//! The status page at `/` against a running host and the real services: its
//! rollback and deploy forms refuse a missing or wrong token and work with
//! the right one (plain HTTP), and headless Chromium renders the page with
//! the plugin, partitions and dead letters in it. The screenshot is kept as
//! target/test-artifacts/status-page.png.
//!
//! The browser part needs Debian's `chromium` at /usr/bin/chromium and is
//! skipped, loudly, without it; the tests install nothing.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

const TOKEN: &str = "page-token-7";
const CHROMIUM: &str = "/usr/bin/chromium";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is in the workspace")
        .to_path_buf()
}

fn guest(name: &str) -> Vec<u8> {
    std::fs::read(sluice_test_programs::path(name)).expect("built by sluice-test-programs")
}

fn artifacts() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo().join("target"), PathBuf::from);
    target.join("test-artifacts")
}

/// Produces one record and says where it landed.
async fn place(
    p: &rdkafka::producer::FutureProducer,
    topic: &str,
    key: &str,
    value: &[u8],
) -> (i32, i64) {
    p.send(
        rdkafka::producer::FutureRecord::to(topic)
            .key(key)
            .payload(value),
        Duration::from_secs(10),
    )
    .await
    .map(|d| (d.partition, d.offset))
    .unwrap_or_else(|(e, _)| panic!("producing to {topic}: {e}"))
}

async fn status(client: &reqwest::Client, addr: &str) -> serde_json::Value {
    client
        .get(format!("http://{addr}/api/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn active_version(client: &reqwest::Client, addr: &str) -> String {
    status(client, addr).await["active"]["version"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Posts the rollback form as a browser would (urlencoded), with `token` if given.
async fn form_rollback(client: &reqwest::Client, addr: &str, token: Option<&str>) -> (u16, String) {
    let fields: Vec<(&str, &str)> = token.map(|t| vec![("token", t)]).unwrap_or_default();
    let r = client
        .post(format!("http://{addr}/ui/rollback"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Posts the deploy form as a browser would: multipart, the token first
/// (unless `file_first`, which the page never sends).
async fn form_deploy(
    client: &reqwest::Client,
    addr: &str,
    token: &str,
    file: &str,
    bytes: &[u8],
    file_first: bool,
) -> (u16, String) {
    let boundary = "----sluice-test-boundary-5b1e";
    let token_part = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n{token}\r\n"
    )
    .into_bytes();
    let mut file_part = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"plugin\"; filename=\"{file}\"\r\n\
         Content-Type: application/wasm\r\n\r\n"
    )
    .into_bytes();
    file_part.extend_from_slice(bytes);
    file_part.extend_from_slice(b"\r\n");
    let mut body = if file_first {
        [file_part, token_part]
    } else {
        [token_part, file_part]
    }
    .concat();
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let r = client
        .post(format!("http://{addr}/ui/deploy"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Runs headless Chromium on `url` with `args`; kills it if it hangs.
async fn chromium(profile: &Path, args: &[&str], url: &str) -> Output {
    let mut cmd = tokio::process::Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // Containers often have a tiny /dev/shm.
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(args)
    .arg(url)
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("chromium finishes within 120 s")
        .expect("chromium starts");
    assert!(
        out.status.success(),
        "chromium {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_shows_the_pipeline_and_its_forms_need_the_token() {
    let (topic, ks) = (unique("page"), unique("ks"));
    create_topic(&topic, 2).await;
    let mut config = test_config(&topic, &ks);
    config.admin.token = Some(TOKEN.into());
    let running = Pipeline::start(config, repo().join("plugins/dist/flatten.wasm"), false).await;
    let addr = running.admin.to_string();
    let client = reqwest::Client::new();

    // Good records, one that does not decode and one the plugin rejects.
    let p = producer();
    produce_users(&p, &topic, &users(20)).await;
    let (garbage_partition, garbage_offset) =
        place(&p, &topic, "garbage", b"\x07\xff not json").await;
    let mut no_email = users(1).remove(0);
    no_email.as_object_mut().unwrap().remove("email");
    place(&p, &topic, "no-email", no_email.to_string().as_bytes()).await;
    let s = session().await;
    let table = format!("{ks}.created_users");
    wait_for_rows(&s, &table, 20, Duration::from_secs(120)).await;

    // v2 through the API, and records for it, so there is a swap to show.
    let r = client
        .post(format!("http://{addr}/api/plugin/deploy"))
        .bearer_auth(TOKEN)
        .body(guest("flatten-v2"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    produce_users(&p, &topic, &users(20)).await;
    wait_for_rows(&s, &table, 40, Duration::from_secs(120)).await;
    assert_eq!(active_version(&client, &addr).await, "2.0.0");

    // The rollback button: refused without and with a wrong token, as a page.
    for token in [None, Some("wrong"), Some("")] {
        let (code, body) = form_rollback(&client, &addr, token).await;
        assert_eq!(code, 401, "token {token:?}: {body}");
        assert!(body.contains("missing or wrong admin token"), "{body}");
        assert_eq!(
            active_version(&client, &addr).await,
            "2.0.0",
            "token {token:?} must not roll back"
        );
    }
    let (code, body) = form_rollback(&client, &addr, Some(TOKEN)).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("Rolled back to flatten@0.1.0."), "{body}");
    assert_eq!(active_version(&client, &addr).await, "0.1.0");
    let (code, body) = form_rollback(&client, &addr, Some(TOKEN)).await;
    assert_eq!(code, 409, "nothing left to roll back to: {body}");

    // The deploy form: refused with a wrong token, works with the right one.
    let v2 = guest("flatten-v2");
    let (code, body) = form_deploy(&client, &addr, "wrong", "flatten-v2.wasm", &v2, false).await;
    assert_eq!(code, 401, "{body}");
    let (code, body) = form_deploy(&client, &addr, TOKEN, "flatten-v2.wasm", &v2, true).await;
    assert_eq!(code, 401, "a file before the token is not read: {body}");
    assert_eq!(active_version(&client, &addr).await, "0.1.0");
    let (code, body) = form_deploy(
        &client,
        &addr,
        TOKEN,
        "not-a-plugin.wasm",
        b"\0asm nonsense",
        false,
    )
    .await;
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("Deploy rejected"), "{body}");
    let (code, body) = form_deploy(&client, &addr, TOKEN, "flatten-v2.wasm", &v2, false).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("Deployed flatten@2.0.0"), "{body}");
    assert_eq!(active_version(&client, &addr).await, "2.0.0");
    let shown = status(&client, &addr).await;
    assert_eq!(
        shown["active"]["source"],
        "status page upload: flatten-v2.wasm"
    );
    assert_eq!(shown["active"]["world"], "0.3.0", "{shown}");
    produce_users(&p, &topic, &users(20)).await;
    wait_for_rows(&s, &table, 60, Duration::from_secs(120)).await;

    // Both partitions committed (and, within a stats interval, their lag known).
    let start = Instant::now();
    loop {
        let st = status(&client, &addr).await;
        let parts = st["live"]["partitions"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let done = parts.len() == 2
            && parts
                .values()
                .all(|p| !p["committed"].is_null() && !p["lag"].is_null());
        if done || start.elapsed() > Duration::from_secs(30) {
            assert_eq!(parts.len(), 2, "{st}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Served as HTML, with a policy that allows nothing but its own inline parts.
    let r = client.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.starts_with("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"5; url=/\">"));
    let still = running.text("/?refresh=0").await;
    assert!(!still.contains("http-equiv=\"refresh\""));

    // Every metric the Grafana dashboard queries is one the host exports.
    let metrics = running.text("/metrics").await;
    let dashboard =
        std::fs::read_to_string(repo().join("monitoring/grafana/dashboards/sluice.json")).unwrap();
    let queried: std::collections::BTreeSet<&str> = dashboard
        .match_indices("sluice_")
        .map(|(i, _)| {
            let len = dashboard[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap();
            &dashboard[i..i + len]
        })
        .collect();
    assert!(queried.len() >= 10, "{queried:?}");
    for name in queried {
        let exported = metrics.lines().any(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        });
        assert!(
            exported,
            "the dashboard queries {name}, which /metrics does not have:\n{metrics}"
        );
    }

    if !Path::new(CHROMIUM).exists() {
        eprintln!(
            "SKIPPED the browser part: {CHROMIUM} is missing (Debian: apt-get install -y chromium)"
        );
    } else {
        let profile = tempfile::tempdir().unwrap();
        let url = format!("http://{addr}/");
        let dom = String::from_utf8(chromium(profile.path(), &["--dump-dom"], &url).await.stdout)
            .unwrap();
        assert!(
            dom.contains("<div class=\"big\">flatten <span class=\"ver\">2.0.0</span></div>"),
            "{dom}"
        );
        assert!(dom.contains("Roll back to flatten@0.1.0"), "{dom}");
        for partition in 0..2 {
            assert!(
                dom.contains(&format!("<tr><td><code>{topic}/{partition}</code></td>")),
                "partition {partition}: {dom}"
            );
        }
        assert!(
            dom.contains("<span class=\"pill bad\">decode</span>"),
            "{dom}"
        );
        assert!(
            dom.contains("<span class=\"pill bad\">plugin-error</span>"),
            "{dom}"
        );
        assert!(
            dom.contains(&format!(
                "<code>{topic}/{garbage_partition}@{garbage_offset}</code>"
            )),
            "the garbage sample: {dom}"
        );
        assert!(dom.contains("status page upload: flatten-v2.wasm"), "{dom}");

        let dir = artifacts();
        std::fs::create_dir_all(&dir).unwrap();
        let png = dir.join("status-page.png");
        let _ = std::fs::remove_file(&png);
        let shot = format!("--screenshot={}", png.display());
        chromium(
            profile.path(),
            &[&shot, "--window-size=1280,1000", "--hide-scrollbars"],
            &url,
        )
        .await;
        let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
        assert!(
            bytes.starts_with(b"\x89PNG"),
            "{} is not a PNG",
            png.display()
        );
        eprintln!("screenshot: {}", png.display());
    }

    running.stop().await;
}
