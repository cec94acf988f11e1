//! `host plugin deploy|rollback|status`: talks to a running host's admin endpoint.

use crate::cli::{AdminArgs, PluginCommand};
use anyhow::{bail, Context, Result};

pub async fn run(command: PluginCommand) -> Result<()> {
    let client = reqwest::Client::new();
    let (request, admin) = match &command {
        PluginCommand::Deploy { file, admin } => {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let req = client
                .post(url(admin, "/api/plugin/deploy"))
                .header("x-plugin-source", file.display().to_string())
                .body(bytes);
            (req, admin)
        }
        PluginCommand::Rollback { admin } => {
            (client.post(url(admin, "/api/plugin/rollback")), admin)
        }
        PluginCommand::Status { admin } => (client.get(url(admin, "/api/status")), admin),
    };
    let request = match &admin.token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let response = request.send().await.with_context(|| {
        format!(
            "reaching the host's admin endpoint at {} (is `host run` running?)",
            admin.admin
        )
    })?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{} ({status}): {}", admin.admin, text.trim());
    }
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v)?),
        Err(_) => println!("{}", text.trim()),
    }
    Ok(())
}

fn url(admin: &AdminArgs, path: &str) -> String {
    format!("{}{path}", admin.admin.trim_end_matches('/'))
}
