//! The admin endpoint: Prometheus metrics, status (JSON, and the HTML page at
//! `/`), and plugin deploys and rollbacks (these need the admin token).

use crate::config::AdminConfig;
use crate::metrics::Metrics;
use crate::pipeline::{ActivePlugin, Deployer};
use crate::status_page::{self, Notice, PluginView, StatusView};
use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The largest plugin upload accepted. Components built from JavaScript or
/// Python embed their interpreter and run to tens of MB, far past axum's 2 MB
/// default; only callers with the token get to send that much (see `deploy`).
const MAX_PLUGIN_BYTES: usize = 128 << 20;

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
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("binding the admin endpoint to {} (in use? set admin.listen or SLUICE_ADMIN_LISTEN)", config.listen))?;
    let addr = listener.local_addr()?;
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
            post(page_deploy).layer(DefaultBodyLimit::max(MAX_PLUGIN_BYTES)),
        )
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/status", get(status))
        .route("/api/plugin/deploy", post(deploy))
        .route("/api/plugin/rollback", post(rollback))
        .with_state(state);
    let handle = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "admin endpoint stopped; metrics are no longer served");
        }
    });
    Ok((handle, addr))
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
            "source": active.source,
        },
        "versions": s.deployer.history.versions(),
        "stalls": s.deployer.history.stalls(),
        "live": s.metrics.live.snapshot(),
    }))
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
    let Some(token) = configured else {
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

async fn deploy(State(s): State<AdminState>, headers: HeaderMap, body: Body) -> Response {
    if let Some(r) = unauthorized(&s, &headers) {
        return r;
    }
    // Read only once the caller is known to hold the token.
    let body = match axum::body::to_bytes(body, MAX_PLUGIN_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "reading the plugin: {e} (at most {} MiB)\n",
                    MAX_PLUGIN_BYTES >> 20
                ),
            )
                .into_response()
        }
    };
    let source = headers
        .get("x-plugin-source")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("admin upload")
        .to_string();
    match s.deployer.deploy(source, body.to_vec()).await {
        Ok(d) => (
            StatusCode::OK,
            Json(serde_json::to_value(d).unwrap_or_default()),
        )
            .into_response(),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("deploy rejected: {e:#}\n"),
        )
            .into_response(),
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

/// The deploy form: multipart with `token` and `plugin` (the file), the
/// token first, so that a wrong one is refused before the file is read.
async fn page_deploy(State(s): State<AdminState>, mut form: Multipart) -> Response {
    let mut authorized = false;
    let mut upload: Option<(String, axum::body::Bytes)> = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                return form_result(&s, e.status(), format!("Upload failed: {}", e.body_text()))
            }
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
                    Ok(bytes) => upload = Some((name, bytes)),
                    Err(e) => {
                        return form_result(
                            &s,
                            e.status(),
                            format!("Upload failed: {}", e.body_text()),
                        )
                    }
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
    let Some((name, bytes)) = upload.filter(|(_, b)| !b.is_empty()) else {
        return form_result(
            &s,
            StatusCode::BAD_REQUEST,
            "Choose a plugin file (.wasm) to deploy.".into(),
        );
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
    fn tokens_are_checked() {
        assert_eq!(check_token(None, "anything"), Err(Refused::Disabled));
        assert_eq!(check_token(None, ""), Err(Refused::Disabled));
        assert_eq!(check_token(Some("s3cret"), "s3cret"), Ok(()));
        assert_eq!(check_token(Some("s3cret"), "s3cres"), Err(Refused::Wrong));
        assert_eq!(check_token(Some("s3cret"), "s3cret "), Err(Refused::Wrong));
        assert_eq!(check_token(Some("s3cret"), ""), Err(Refused::Wrong));
    }
}
