//! The admin endpoint: Prometheus metrics, status (JSON, and the HTML page at
//! `/`), and plugin deploys and rollbacks (these need the admin token).
//!
//! Every route that changes state (`POST /api/plugin/deploy`,
//! `POST /api/plugin/rollback`, `POST /api/plugin/shadow|promote|discard`
//! and the page's forms `POST /ui/deploy`,
//! `POST /ui/rollback`) checks the token before it reads the body, and a
//! deploy whose `Content-Length` is over the limit is refused before a byte
//! of it is read. `GET /api/auth` is the cheap check a client makes first:
//! 204 with the right token (and the size limit in [`LIMIT_HEADER`]), else
//! the same 401/403 a deploy would get. Without a token the endpoint only
//! listens on a loopback address.

use crate::config::AdminConfig;
use sluice_pipeline::ActivePlugin;
use sluice_pipeline::DeployRequest;
use sluice_pipeline::Metrics;
use std::collections::BTreeMap;

/// The deployer the endpoint drives (rows go to Cassandra).
type Deployer = sluice_pipeline::Deployer<sluice_cassandra::Sink>;
use crate::status_page::{self, Notice, PluginView, StatusView};
use anyhow::{bail, Context, Result};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use futures::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The largest plugin upload accepted. Components built from JavaScript or
/// Python embed their interpreter and run to tens of MB, far past axum's 2 MB
/// default; only callers with the token get to send that much (see `deploy`).
pub const MAX_PLUGIN_BYTES: usize = 128 << 20;

/// What the page's deploy form may add to the file: the token field and the
/// multipart boundaries and headers.
const FORM_OVERHEAD: usize = 64 << 10;

/// The header of `GET /api/auth`'s answer that carries [`MAX_PLUGIN_BYTES`],
/// so a client can refuse a file that is too big before sending it.
pub const LIMIT_HEADER: &str = "x-sluice-max-plugin-bytes";

/// The path of the token check (see the module documentation).
pub const AUTH_PATH: &str = "/api/auth";

#[derive(Clone)]
struct AdminState {
    metrics: Arc<Metrics>,
    deployer: Arc<Deployer>,
    token: Option<Arc<str>>,
}

/// Binds the admin listener and serves it in the background.
pub async fn serve(
    config: &AdminConfig,
    metrics: Arc<Metrics>,
    deployer: Arc<Deployer>,
) -> Result<(tokio::task::JoinHandle<()>, SocketAddr)> {
    if config.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
        bail!(
            "admin.token (SLUICE_ADMIN_TOKEN) is set but empty: anyone could send an empty token; \
             set a long random token, or remove the setting to turn deploys over HTTP off"
        );
    }
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("binding the admin endpoint to {} (in use? set admin.listen or SLUICE_ADMIN_LISTEN)", config.listen))?;
    let addr = listener.local_addr()?;
    crate::config::check_exposure(addr, config.token.is_some())?;
    if config.token.is_none() {
        tracing::info!("no admin token set (admin.token / SLUICE_ADMIN_TOKEN): deploys and rollbacks over HTTP are refused; file-change reload still works");
    }
    tracing::info!(address = %addr, "admin endpoint listening (metrics at /metrics)");
    let state = AdminState {
        metrics,
        deployer,
        token: config.token.as_deref().map(Arc::from),
    };
    let app = Router::new()
        .route("/", get(page))
        .route("/ui/rollback", post(page_rollback))
        .route(
            "/ui/deploy",
            post(page_deploy).layer(DefaultBodyLimit::max(MAX_PLUGIN_BYTES + FORM_OVERHEAD)),
        )
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/api/status", get(status))
        .route(AUTH_PATH, get(auth_check))
        .route("/api/plugin/deploy", post(deploy))
        .route("/api/plugin/rollback", post(rollback))
        .route("/api/plugin/shadow", post(shadow))
        .route("/api/plugin/promote", post(promote))
        .route("/api/plugin/discard", post(discard))
        .layer(axum::middleware::map_response(no_sniffing))
        .with_state(state);
    let handle = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "admin endpoint stopped; metrics are no longer served");
        }
    });
    Ok((handle, addr))
}

/// Every answer is what its `Content-Type` says: plain-text errors (which
/// quote plugin-supplied text) are never sniffed into HTML.
async fn no_sniffing(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    response
}

async fn metrics_text(State(s): State<AdminState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
}

/// The active plugin, earlier versions, first offsets per version, stalls.
async fn status(State(s): State<AdminState>) -> impl IntoResponse {
    let active = s.deployer.slot.current();
    let info = active.plugin.info();
    Json(serde_json::json!({
        "active": {
            "name": info.name,
            "version": info.version,
            "hash": active.plugin.hash(),
            // The sluice:transform version it was built for (0.3.0, 0.2.0, 0.1.0).
            "world": active.plugin.world_version(),
            "source": active.source,
        },
        "versions": s.deployer.history.versions(),
        "stalls": s.deployer.history.stalls(),
        "live": s.metrics.live.snapshot(),
        "ready": s.metrics.live.waiting().is_empty(),
        "waiting": s.metrics.live.waiting(),
        "fleet": s.deployer.fleet.as_ref().map(|f| f.status()),
        "shadow": s.deployer.shadow().map(|r| r.status()),
        // The group's shadow run that this host could not load, and why.
        "shadow_error": s.deployer.shadow_error(),
    }))
}

/// Readiness, for load balancers and Kubernetes: ready once the host is a
/// member of its consumer group and runs the group's version; 503 with the
/// reasons until then.
async fn ready(State(s): State<AdminState>) -> Response {
    let waiting = s.metrics.live.waiting();
    let code = if waiting.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(serde_json::json!({"ready": waiting.is_empty(), "waiting": waiting})),
    )
        .into_response()
}

/// `?config=KEY%3DVALUE` (repeatable) and `?cql=...` of a deploy request.
fn deploy_params(query: Option<&str>) -> Result<(BTreeMap<String, String>, Vec<String>), String> {
    let mut config = BTreeMap::new();
    let mut cql = Vec::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*k {
            "config" => {
                let (key, value) = v.split_once('=').ok_or_else(|| {
                    format!("config={v:?} is not KEY=VALUE (e.g. config=mask%3Demail)")
                })?;
                config.insert(key.trim().to_string(), value.to_string());
            }
            "cql" => cql.extend(
                // `--` comments to the end of a line, as in a .cql file.
                v.lines()
                    .map(|l| l.split("--").next().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join("\n")
                    .split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            ),
            other => {
                return Err(format!(
                    "unknown deploy parameter {other:?} (known: config, cql)"
                ))
            }
        }
    }
    Ok((config, cql))
}

/// Why a token was not accepted.
#[derive(Debug, PartialEq)]
enum Refused {
    /// The host has no token: nothing that changes state is allowed over HTTP.
    Disabled,
    Wrong,
}

/// Compares `given` with the configured token in constant time: both are
/// hashed first, so neither the content nor the length of the token leaks
/// through the comparison's timing.
fn check_token(configured: Option<&str>, given: &str) -> Result<(), Refused> {
    // An empty token would let in a request without one (`serve` refuses it too).
    let Some(token) = configured.filter(|t| !t.is_empty()) else {
        return Err(Refused::Disabled);
    };
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(token.as_bytes()),
    );
    if a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
    {
        Ok(())
    } else {
        Err(Refused::Wrong)
    }
}

/// Checks `Authorization: Bearer <token>`; the refusal, if any, as plain text.
fn unauthorized(s: &AdminState, headers: &HeaderMap) -> Option<Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let (code, text) = match check_token(s.token.as_deref(), given).err()? {
        Refused::Disabled => (
            StatusCode::FORBIDDEN,
            "deploys over HTTP are disabled: set admin.token (or SLUICE_ADMIN_TOKEN) on the host\n",
        ),
        Refused::Wrong => (
            StatusCode::UNAUTHORIZED,
            "missing or wrong admin token (Authorization: Bearer ...)\n",
        ),
    };
    Some((code, text).into_response())
}

/// `GET /api/auth`: 204 with the right token, and the size limit in
/// [`LIMIT_HEADER`]; otherwise the refusal a deploy or rollback would get.
async fn auth_check(State(s): State<AdminState>, headers: HeaderMap) -> Response {
    if let Some(r) = unauthorized(&s, &headers) {
        return r;
    }
    (
        StatusCode::NO_CONTENT,
        [
            (
                header::HeaderName::from_static(LIMIT_HEADER),
                MAX_PLUGIN_BYTES.to_string(),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response()
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

/// The length the request declares, if it declares one.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Why an upload of `declared` bytes (or more, when unknown) is refused.
fn too_large_text(declared: Option<u64>, limit: usize) -> String {
    let max = format!("{} MiB ({limit} bytes)", limit >> 20);
    match declared {
        Some(n) => format!(
            "the upload is {} ({n} bytes), over the host's limit of {max}; it was not read",
            mib(n)
        ),
        None => {
            format!("the upload is over the host's limit of {max}; it was cut off there")
        }
    }
}

async fn deploy(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(r) = unauthorized(&s, &headers) {
        return r;
    }
    let (plugin_config, cql) = match deploy_params(uri.query()) {
        Ok(p) => p,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let wants_json = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let bytes = match read_plugin(&headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let source = headers
        .get("x-plugin-source")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("admin upload")
        .to_string();
    let request = DeployRequest {
        source,
        bytes,
        plugin_config,
        cql,
        ..DeployRequest::default()
    };
    match s.deployer.deploy_request(request).await {
        Ok(d) => (
            StatusCode::OK,
            Json(serde_json::to_value(d).unwrap_or_default()),
        )
            .into_response(),
        Err(e) if wants_json => {
            let answers = e
                .downcast_ref::<sluice_pipeline::Refused>()
                .map(|r| r.answers.clone())
                .unwrap_or_default();
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(serde_json::json!({"error": format!("{e:#}"), "answers": answers})),
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("deploy rejected: {e:#}\n"),
        )
            .into_response(),
    }
}

/// A plugin upload as the request body: refused on its declared length
/// alone, read only up to the limit (a chunked body declares no length).
/// Called only once the caller is known to hold the token.
async fn read_plugin(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, Response> {
    // Refused on its declared length alone: nothing of it is read.
    if let Some(n) = content_length(headers).filter(|&n| n > MAX_PLUGIN_BYTES as u64) {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{}\n", too_large_text(Some(n), MAX_PLUGIN_BYTES)),
        )
            .into_response());
    }
    // Read only once the caller is known to hold the token, and never more
    // than the limit (a chunked body declares no length).
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                return Err((
                    StatusCode::BAD_REQUEST,
                    format!(
                        "reading the plugin failed after {} bytes: {e}\n",
                        bytes.len()
                    ),
                )
                    .into_response())
            }
        };
        if bytes.len() + chunk.len() > MAX_PLUGIN_BYTES {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{}\n", too_large_text(None, MAX_PLUGIN_BYTES)),
            )
                .into_response());
        }
        bytes.extend_from_slice(&chunk);
    }
    if bytes.is_empty() {
        return Err((
            StatusCode::BAD_REQUEST,
            "the upload is empty: send the component file (.wasm) as the request body\n",
        )
            .into_response());
    }
    Ok(bytes)
}

/// `POST /api/plugin/shadow?sample=0.1`: run the uploaded version beside the
/// active one on a sample of live records; it writes nothing.
async fn shadow(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(r) = unauthorized(&s, &headers) {
        return r;
    }
    let mut sample = 0.1;
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        match (&*k, v.parse::<f64>()) {
            ("sample", Ok(x)) => sample = x,
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("unknown or bad shadow parameter {k}={v:?} (known: sample=0.1)\n"),
                )
                    .into_response()
            }
        }
    }
    let bytes = match read_plugin(&headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let source = headers
        .get("x-plugin-source")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("admin upload")
        .to_string();
    match s.deployer.start_shadow(source, bytes, sample).await {
        Ok(status) => (
            StatusCode::OK,
            Json(serde_json::to_value(status).unwrap_or_default()),
        )
            .into_response(),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("shadow refused: {e:#}\n"),
        )
            .into_response(),
    }
}

/// `POST /api/plugin/promote`: deploy the shadow's candidate.
async fn promote(State(s): State<AdminState>, headers: HeaderMap) -> Response {
    if let Some(r) = unauthorized(&s, &headers) {
        return r;
    }
    match s.deployer.promote_shadow().await {
        Ok(d) => (
            StatusCode::OK,
            Json(serde_json::to_value(d).unwrap_or_default()),
        )
            .into_response(),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("promote refused: {e:#}\n"),
        )
            .into_response(),
    }
}

/// `POST /api/plugin/discard`: stop the shadow run.
async fn discard(State(s): State<AdminState>, headers: HeaderMap) -> Response {
    if let Some(r) = unauthorized(&s, &headers) {
        return r;
    }
    match s.deployer.discard_shadow().await {
        Ok(status) => (
            StatusCode::OK,
            Json(serde_json::to_value(status).unwrap_or_default()),
        )
            .into_response(),
        Err(e) => (StatusCode::CONFLICT, format!("discard refused: {e:#}\n")).into_response(),
    }
}

async fn rollback(State(s): State<AdminState>, headers: HeaderMap) -> Response {
    if let Some(r) = unauthorized(&s, &headers) {
        return r;
    }
    match s.deployer.rollback().await {
        Ok(info) => (
            StatusCode::OK,
            Json(serde_json::json!({"name": info.name, "version": info.version})),
        )
            .into_response(),
        Err(e) => (StatusCode::CONFLICT, format!("rollback refused: {e:#}\n")).into_response(),
    }
}

// ---- The status page and its forms ----

#[derive(Deserialize)]
struct PageQuery {
    /// `?refresh=0` turns the self-refresh off (to fill in a form without script).
    refresh: Option<String>,
}

/// The form fields of the rollback button; a missing token is a wrong one.
#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    token: String,
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

fn plugin_view(p: &ActivePlugin) -> PluginView {
    let info = p.plugin.info();
    PluginView {
        name: info.name.clone(),
        version: info.version.clone(),
        hash: p.plugin.hash().to_string(),
        source: p.source.clone(),
        since_ms: millis(p.since),
    }
}

/// Renders the page with the host's current state, and `notice` on top.
fn page_response(
    s: &AdminState,
    code: StatusCode,
    auto_refresh: bool,
    notice: Option<Notice>,
) -> Response {
    let d = &s.deployer;
    let view = StatusView {
        now_ms: millis(SystemTime::now()),
        active: plugin_view(&d.slot.current()),
        previous: d.slot.history().iter().map(|p| plugin_view(p)).collect(),
        versions: d.history.versions(),
        stalls: d.history.stalls(),
        live: s.metrics.live.snapshot(),
        breaker_open: d.breaker.is_open(),
        deploys_enabled: s.token.is_some(),
        auto_refresh,
        notice,
        fleet: d.fleet.as_ref().map(|f| f.status()),
        shadow: d.shadow().map(|r| r.status()),
        shadow_error: d.shadow_error(),
    };
    (
        code,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                status_page::content_security_policy(),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        status_page::render(&view),
    )
        .into_response()
}

/// A form's result: the page again, with what happened on top.
fn form_result(s: &AdminState, code: StatusCode, text: String) -> Response {
    page_response(
        s,
        code,
        true,
        Some(Notice {
            ok: code.is_success(),
            text,
        }),
    )
}

/// The token check of the forms; the refusal, if any, as the page.
fn form_unauthorized(s: &AdminState, given: &str) -> Option<Response> {
    let (code, text) = match check_token(s.token.as_deref(), given).err()? {
        Refused::Disabled => (
            StatusCode::FORBIDDEN,
            "Refused: deploys and rollbacks over HTTP are disabled; set admin.token (or SLUICE_ADMIN_TOKEN) on the host.",
        ),
        Refused::Wrong => (StatusCode::UNAUTHORIZED, "Refused: missing or wrong admin token."),
    };
    Some(form_result(s, code, text.into()))
}

async fn page(State(s): State<AdminState>, Query(q): Query<PageQuery>) -> Response {
    page_response(&s, StatusCode::OK, q.refresh.as_deref() != Some("0"), None)
}

async fn page_rollback(State(s): State<AdminState>, Form(form): Form<TokenForm>) -> Response {
    if let Some(r) = form_unauthorized(&s, &form.token) {
        return r;
    }
    match s.deployer.rollback().await {
        Ok(info) => form_result(&s, StatusCode::OK, format!("Rolled back to {info}.")),
        Err(e) => form_result(&s, StatusCode::CONFLICT, format!("Rollback refused: {e:#}")),
    }
}

/// Reads a short text field; `None` if it is longer than `max` bytes (a token
/// is short; nothing big is buffered for someone without one) or unreadable.
async fn small_text(mut field: axum::extract::multipart::Field<'_>, max: usize) -> Option<String> {
    let mut text = Vec::new();
    while let Some(chunk) = field.chunk().await.ok()? {
        if text.len() + chunk.len() > max {
            return None;
        }
        text.extend_from_slice(&chunk);
    }
    String::from_utf8(text).ok()
}

/// A form upload that could not be read: over the limit, or cut off.
fn upload_failed(s: &AdminState, e: axum::extract::multipart::MultipartError) -> Response {
    let text = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        format!("Refused: {}.", too_large_text(None, MAX_PLUGIN_BYTES))
    } else {
        format!("Upload failed: {}", e.body_text())
    };
    form_result(s, e.status(), text)
}

/// The deploy form: multipart with `token` and `plugin` (the file), the
/// token first, so that a wrong one is refused before the file is read.
async fn page_deploy(
    State(s): State<AdminState>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    // Refused on its declared length alone: nothing of it is read.
    if let Some(n) =
        content_length(&headers).filter(|&n| n > (MAX_PLUGIN_BYTES + FORM_OVERHEAD) as u64)
    {
        return form_result(
            &s,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Refused: {}.", too_large_text(Some(n), MAX_PLUGIN_BYTES)),
        );
    }
    let mut authorized = false;
    let mut upload: Option<(String, axum::body::Bytes)> = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return upload_failed(&s, e),
        };
        match field.name() {
            Some("token") => {
                let given = small_text(field, 4096).await.unwrap_or_default();
                if let Some(r) = form_unauthorized(&s, &given) {
                    return r;
                }
                authorized = true;
            }
            // Nothing large is read before the token checks out; the page's
            // form sends the token first.
            Some("plugin") if !authorized => {
                return form_unauthorized(&s, "").unwrap_or_else(|| {
                    form_result(
                        &s,
                        StatusCode::BAD_REQUEST,
                        "The token must come before the file.".into(),
                    )
                })
            }
            Some("plugin") => {
                let name: String = field
                    .file_name()
                    .unwrap_or("unnamed")
                    .chars()
                    .take(200)
                    .collect();
                match field.bytes().await {
                    Ok(bytes) if bytes.len() > MAX_PLUGIN_BYTES => {
                        return form_result(
                            &s,
                            StatusCode::PAYLOAD_TOO_LARGE,
                            format!(
                                "Refused: {name} is {} ({} bytes), over the limit of {} MiB.",
                                mib(bytes.len() as u64),
                                bytes.len(),
                                MAX_PLUGIN_BYTES >> 20
                            ),
                        )
                    }
                    Ok(bytes) => upload = Some((name, bytes)),
                    Err(e) => return upload_failed(&s, e),
                }
            }
            _ => {}
        }
    }
    if !authorized {
        if let Some(r) = form_unauthorized(&s, "") {
            return r;
        }
    }
    let (name, bytes) = match upload {
        Some((name, bytes)) if !bytes.is_empty() => (name, bytes),
        // A browser sends an empty part without a name when no file was chosen.
        Some((name, _)) if !name.is_empty() && name != "unnamed" => {
            return form_result(
                &s,
                StatusCode::BAD_REQUEST,
                format!("Refused: {name} is empty; choose a plugin component file (.wasm)."),
            )
        }
        _ => {
            return form_result(
                &s,
                StatusCode::BAD_REQUEST,
                "Choose a plugin file (.wasm) to deploy.".into(),
            )
        }
    };
    match s
        .deployer
        .deploy(format!("status page upload: {name}"), bytes.to_vec())
        .await
    {
        Ok(d) => form_result(
            &s,
            StatusCode::OK,
            format!(
                "Deployed {}@{} ({}), tried on {} sample records.",
                d.name,
                d.version,
                &d.hash[..d.hash.len().min(12)],
                d.samples
            ),
        ),
        Err(e) => form_result(
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Deploy rejected; the running version goes on.\n{e:#}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_may_go_without_a_token() {
        let at = |a: &str| a.parse::<SocketAddr>().unwrap();
        assert!(crate::config::check_exposure(at("127.0.0.1:9180"), false).is_ok());
        assert!(crate::config::check_exposure(at("[::1]:9180"), false).is_ok());
        assert!(crate::config::check_exposure(at("[::ffff:127.0.0.1]:9180"), false).is_ok());
        for open in ["0.0.0.0:9180", "[::]:9180", "10.1.2.3:9180"] {
            let e = crate::config::check_exposure(at(open), false)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("admin.token") && e.contains("admin.listen") && e.contains(open),
                "{e}"
            );
            assert!(crate::config::check_exposure(at(open), true).is_ok());
        }
    }

    #[test]
    fn an_empty_token_lets_nobody_in() {
        assert_eq!(check_token(Some(""), ""), Err(Refused::Disabled));
    }

    #[test]
    fn too_large_texts_name_the_limit() {
        let t = too_large_text(Some(200 << 20), MAX_PLUGIN_BYTES);
        assert!(t.contains("200.0 MiB") && t.contains("128 MiB"), "{t}");
        assert!(too_large_text(None, MAX_PLUGIN_BYTES).contains("128 MiB"));
    }

    #[test]
    fn tokens_are_checked() {
        assert_eq!(check_token(None, "anything"), Err(Refused::Disabled));
        assert_eq!(check_token(None, ""), Err(Refused::Disabled));
        assert_eq!(check_token(Some("s3cret"), "s3cret"), Ok(()));
        assert_eq!(check_token(Some("s3cret"), "s3cres"), Err(Refused::Wrong));
        assert_eq!(check_token(Some("s3cret"), "s3cret "), Err(Refused::Wrong));
        assert_eq!(check_token(Some("s3cret"), ""), Err(Refused::Wrong));
    }
}
