//! `host plugin deploy|rollback|status`: talks to a running host's admin endpoint.
//!
//! Deploy and rollback first ask the host whether the token is good
//! (`GET /api/auth`, see [`crate::admin`]): a refusal is printed as the host
//! words it, instead of surfacing as a broken pipe halfway through a large
//! upload the host stopped reading. The same answer carries the host's size
//! limit, so a file that is too big is refused here, before it is sent.

use crate::admin::{AUTH_PATH, LIMIT_HEADER};
use crate::cli::{AdminArgs, PluginCommand};
use anyhow::{bail, Context, Result};
use reqwest::{Client, RequestBuilder, Response, StatusCode, Url};
use std::time::Duration;

/// How long a connection attempt and the token check may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(command: PluginCommand) -> Result<()> {
    // new, build, test: plugin projects, no running host involved.
    if let Some(result) = crate::project::dispatch(&command) {
        return result;
    }
    let client = Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .context("building the HTTP client")?;
    let (request, admin) = match &command {
        PluginCommand::Deploy {
            file,
            admin,
            plugin_config,
            cql,
            ..
        } => {
            let (base, bytes) = upload(&client, admin, file).await?;
            let mut url = Url::parse(&endpoint(&base, "/api/plugin/deploy"))?;
            for setting in plugin_config {
                if !setting.contains('=') {
                    bail!("--plugin-config {setting:?} is not KEY=VALUE (e.g. --plugin-config mask=email)");
                }
                url.query_pairs_mut().append_pair("config", setting);
            }
            if let Some(path) = cql {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading --cql {}", path.display()))?;
                url.query_pairs_mut().append_pair("cql", &text);
            }
            let req = client
                .post(url)
                .header(reqwest::header::ACCEPT, "application/json")
                .header("x-plugin-source", header_text(&file.display().to_string()))
                .body(bytes);
            (req, admin)
        }
        PluginCommand::Shadow {
            file,
            sample,
            admin,
            ..
        } => {
            let (base, bytes) = upload(&client, admin, file).await?;
            let mut url = Url::parse(&endpoint(&base, "/api/plugin/shadow"))?;
            url.query_pairs_mut()
                .append_pair("sample", &sample.to_string());
            let req = client
                .post(url)
                .header("x-plugin-source", header_text(&file.display().to_string()))
                .body(bytes);
            (req, admin)
        }
        PluginCommand::Rollback { admin, .. }
        | PluginCommand::Promote { admin, .. }
        | PluginCommand::Discard { admin, .. } => {
            let base = base_url(admin)?;
            check_token(&client, &base, admin).await?;
            let path = match &command {
                PluginCommand::Promote { .. } => "/api/plugin/promote",
                PluginCommand::Discard { .. } => "/api/plugin/discard",
                _ => "/api/plugin/rollback",
            };
            (client.post(endpoint(&base, path)), admin)
        }
        PluginCommand::Status { admin, .. } => (
            client.get(endpoint(&base_url(admin)?, "/api/status")),
            admin,
        ),
        PluginCommand::New { .. } | PluginCommand::Build { .. } | PluginCommand::Test { .. } => {
            unreachable!("crate::project::dispatch runs these")
        }
    };
    let json = matches!(
        command,
        PluginCommand::Deploy { json: true, .. }
            | PluginCommand::Rollback { json: true, .. }
            | PluginCommand::Status { json: true, .. }
            | PluginCommand::Shadow { json: true, .. }
            | PluginCommand::Promote { json: true, .. }
            | PluginCommand::Discard { json: true, .. }
    );
    let response = send(with_token(request, admin), admin).await?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let value = serde_json::from_str::<serde_json::Value>(&text).ok();
    if json {
        match &value {
            Some(v) => println!("{}", serde_json::to_string_pretty(v)?),
            None => println!("{}", text.trim()),
        }
        if !status.is_success() {
            bail!("the host at {} answered {status}", admin.admin);
        }
        return Ok(());
    }
    match (&command, status, &value) {
        (PluginCommand::Deploy { .. }, StatusCode::UNPROCESSABLE_ENTITY, Some(v)) => {
            print!("{}", crate::fleet_view::refused(v));
            bail!("the deploy was rejected (see above)")
        }
        (_, s, _) if !s.is_success() => bail!(
            "the host at {} answered {status}: {}",
            admin.admin,
            text.trim()
        ),
        (PluginCommand::Deploy { .. } | PluginCommand::Promote { .. }, _, Some(v)) => {
            print!("{}", crate::fleet_view::deployed(v))
        }
        (PluginCommand::Shadow { .. }, _, Some(v)) => println!(
            "Shadow run started: {} {} sees {:.0}% of the records and writes nothing; \
             `host plugin status` shows how it differs, `host plugin promote` deploys it.",
            v["name"].as_str().unwrap_or("?"),
            v["version"].as_str().unwrap_or("?"),
            v["sample"].as_f64().unwrap_or(0.0) * 100.0
        ),
        (PluginCommand::Discard { .. }, _, Some(v)) => {
            print!("Shadow run stopped.\n{}", crate::fleet_view::shadow(v))
        }
        (PluginCommand::Status { .. }, _, Some(v)) => print!("{}", crate::fleet_view::status(v)),
        (PluginCommand::Rollback { .. }, _, Some(v)) => println!(
            "Rolled back: {} {} is active.",
            v["name"].as_str().unwrap_or("?"),
            v["version"].as_str().unwrap_or("?")
        ),
        _ => println!("{}", text.trim()),
    }
    Ok(())
}

/// The checks before a plugin file is sent (not empty, the token good, under
/// the host's limit), then its bytes and the host's base URL.
async fn upload(
    client: &Client,
    admin: &AdminArgs,
    file: &std::path::Path,
) -> Result<(Url, Vec<u8>)> {
    let base = base_url(admin)?;
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    if size == 0 {
        bail!(
            "{} is empty: nothing to deploy (expected a plugin component, .wasm)",
            file.display()
        );
    }
    let limit = check_token(client, &base, admin).await?;
    if let Some(limit) = limit.filter(|&limit| size > limit) {
        bail!(
            "{} is {} ({size} bytes), over the limit of {} ({limit} bytes) of the host at \
             {}; nothing was sent",
            file.display(),
            mib(size),
            mib(limit),
            admin.admin
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    Ok((base, bytes))
}

/// Asks the host whether the token is good. A refusal is the error, with the
/// host's status and text; otherwise the host's upload limit, if it says.
async fn check_token(client: &Client, base: &Url, admin: &AdminArgs) -> Result<Option<u64>> {
    let request = client.get(endpoint(base, AUTH_PATH)).timeout(CHECK_TIMEOUT);
    let response = send(with_token(request, admin), admin).await?;
    let status = response.status();
    // A host older than the check: go on, it still checks the token itself.
    if status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED {
        return Ok(None);
    }
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        let hint = match (&admin.token, status) {
            (None, StatusCode::UNAUTHORIZED) => {
                " (no token given: pass --token or set SLUICE_ADMIN_TOKEN)"
            }
            _ => "",
        };
        bail!(
            "the host at {} refused: {status}: {}{hint}",
            admin.admin,
            text.trim()
        );
    }
    Ok(response
        .headers()
        .get(LIMIT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok()))
}

fn with_token(request: RequestBuilder, admin: &AdminArgs) -> RequestBuilder {
    match &admin.token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// Sends `request`; only a failure to connect says the host may not run.
async fn send(request: RequestBuilder, admin: &AdminArgs) -> Result<Response> {
    request.send().await.map_err(|e| {
        let what = if e.is_connect() {
            format!(
                "cannot connect to the host's admin endpoint at {} (is `host run` running there? \
                 set --admin or SLUICE_ADMIN_URL)",
                admin.admin
            )
        } else if e.is_timeout() {
            format!(
                "the host's admin endpoint at {} did not answer in time",
                admin.admin
            )
        } else {
            format!(
                "the exchange with the host's admin endpoint at {} failed",
                admin.admin
            )
        };
        anyhow::Error::new(e).context(what)
    })
}

/// `--admin`, checked: an http(s) URL with a host.
fn base_url(admin: &AdminArgs) -> Result<Url> {
    let url = Url::parse(&admin.admin).ok().filter(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    });
    match url {
        Some(url) => Ok(url),
        None => bail!(
            "--admin {:?} is not an http(s) URL; give the host's admin endpoint, e.g. \
             http://127.0.0.1:9180",
            admin.admin
        ),
    }
}

fn endpoint(base: &Url, path: &str) -> String {
    format!("{}{path}", base.as_str().trim_end_matches('/'))
}

/// `text` as a header value can hold it: printable ASCII, anything else as `?`.
fn header_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}
