//! The admin endpoint: Prometheus metrics now; status page and deploys build on it.

use crate::config::AdminConfig;
use crate::metrics::Metrics;
use anyhow::{Context, Result};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// Binds the admin listener and serves it in the background.
pub async fn serve(config: &AdminConfig, metrics: Arc<Metrics>) -> Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("binding the admin endpoint to {} (in use? set admin.listen or SLUICE_ADMIN_LISTEN)", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, "admin endpoint listening (metrics at /metrics)");
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
                        metrics.render(),
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }));
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "admin endpoint stopped; metrics are no longer served");
        }
    }))
}
