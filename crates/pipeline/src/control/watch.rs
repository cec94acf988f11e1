//! Hot reload on file change: watches the plugin file and deploys it when a
//! new version lands there (`just build-plugins` renames it into place).

use super::deploy::Deployer;
use crate::ports::RowSink;
use notify::{RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Quiet time after the last change before the file is read.
const SETTLE: Duration = Duration::from_millis(300);

/// Starts watching `path`; the watcher lives as long as the returned handle.
pub fn watch<S: RowSink>(
    path: &Path,
    deployer: Arc<Deployer<S>>,
) -> anyhow::Result<notify::RecommendedWatcher> {
    let path: PathBuf = std::fs::canonicalize(path)?;
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let file = path.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if event.paths.iter().any(|p| p == &file)
                && (event.kind.is_create() || event.kind.is_modify())
            {
                let _ = tx.send(());
            }
        }
    })?;
    // Watch the folder: a rename into place replaces the file's inode.
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    tracing::info!(plugin = %path.display(), "watching the plugin file for new versions");
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Let a burst of events (write, rename) settle into one deploy.
            while let Ok(Some(())) = tokio::time::timeout(SETTLE, rx.recv()).await {}
            let bytes = match tokio::fs::read(&path).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(plugin = %path.display(), error = %e, "plugin file changed but cannot be read");
                    continue;
                }
            };
            if bytes.is_empty() {
                // Often the first moment of a copy in progress; the write that
                // follows triggers again. Said, so a truncated file is not a mystery.
                tracing::warn!(plugin = %path.display(), "plugin file changed to an empty file: ignored, the active version stays (write the new component whole, or rename it into place)");
                continue;
            }
            let current = deployer.slot.current();
            if sluice_engine::content_hash(&bytes) == current.plugin.hash() {
                continue;
            }
            // A rejection is logged with its reason by the deployer.
            if let Ok(d) = deployer.deploy(path.display().to_string(), bytes).await {
                tracing::info!(version = %d.version, "hot reload from file change done");
            }
        }
    });
    Ok(watcher)
}
