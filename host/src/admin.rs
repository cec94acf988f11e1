//! The admin endpoint: Prometheus metrics, status, and plugin deploys and
//! rollbacks (these need the admin token).

use crate::config::AdminConfig;
use crate::metrics::Metrics;
use crate::pipeline::Deployer;
use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::net::SocketAddr;
use std::sync::Arc;

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
        [(axum::http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
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

/// Checks `Authorization: Bearer <token>` in constant time.
fn authorize(s: &AdminState, headers: &HeaderMap) -> Result<(), Response> {
    let Some(token) = &s.token else {
        return Err((StatusCode::FORBIDDEN, "deploys over HTTP are disabled: set admin.token (or SLUICE_ADMIN_TOKEN) on the host\n").into_response());
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let same = given.len() == token.len() && given.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if same {
        Ok(())
    } else {
        Err((StatusCode::UNAUTHORIZED, "missing or wrong admin token (Authorization: Bearer ...)\n").into_response())
    }
}

async fn deploy(State(s): State<AdminState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    let source = headers
        .get("x-plugin-source")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("admin upload")
        .to_string();
    match s.deployer.deploy(source, body.to_vec()).await {
        Ok(d) => (StatusCode::OK, Json(serde_json::to_value(d).unwrap_or_default())).into_response(),
        Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, format!("deploy rejected: {e:#}\n")).into_response(),
    }
}

async fn rollback(State(s): State<AdminState>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    match s.deployer.rollback().await {
        Ok(info) => (StatusCode::OK, Json(serde_json::json!({"name": info.name, "version": info.version}))).into_response(),
        Err(e) => (StatusCode::CONFLICT, format!("rollback refused: {e:#}\n")).into_response(),
    }
}
