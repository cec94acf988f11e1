//! Load for the end-to-end scenarios: `host users-api` served in-process and
//! `host ingest` (Avro + registry) run in-process against it, so the records
//! are produced exactly as the product produces them, by a process other
//! than the one measured.

use crate::services::Endpoints;
use anyhow::Result;
use host::ingest::{Format, IngestArgs, Summary};
use std::future::Future;
use std::time::Duration;

/// A users API on a free port, served until dropped.
pub struct UsersApi {
    pub url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn users_api() -> Result<UsersApi> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/api", listener.local_addr()?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(host::users_api::serve(listener, async {
        let _ = rx.await;
    }));
    Ok(UsersApi { url, _stop: tx })
}

/// `host ingest --api API --count N --format avro [--rate R] --seed SEED --topic T`.
pub async fn ingest(
    api: &UsersApi,
    endpoints: &Endpoints,
    topic: &str,
    seed: &str,
    count: u64,
    rate: Option<f64>,
    stop: impl Future<Output = ()>,
) -> Result<Summary> {
    let args = IngestArgs {
        api: api.url.clone(),
        count: Some(count),
        duration: None,
        rate,
        batch: 500,
        parallel: 2,
        seed: Some(seed.to_string()),
        format: Format::Avro,
        brokers: endpoints.brokers.clone(),
        topic: topic.to_string(),
        registry: endpoints.registry.clone(),
        registry_auth: None,
        retries: 8,
        timeout: Duration::from_secs(30),
    };
    let summary = host::ingest::run_until(args, stop).await?;
    if summary.failed > 0 {
        anyhow::bail!("ingest into {topic}: {summary}");
    }
    Ok(summary)
}
