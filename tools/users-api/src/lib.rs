//! `host users-api`: a randomuser.me-compatible HTTP API serving generated
//! users, for offline use, demos and tests.
//!
//! `GET /api/?results=N&seed=S&page=P&nat=fr,gb&inc=..&exc=..&gender=..&noinfo`
//! answers `{"results": [...], "info": {"seed", "results", "page", "version"}}`
//! like https://randomuser.me/api does; the same seed and page give the same users.

mod data;
pub mod generator;

use anyhow::{Context, Result};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use generator::{Filter, Gender, User};
use serde::Serialize;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The most users one request may ask for, as on randomuser.me.
pub const MAX_RESULTS: u32 = 5000;

/// `host users-api`: serve randomuser.me-shaped users over HTTP.
#[derive(Debug, Clone, clap::Args)]
pub struct UsersApiArgs {
    /// The port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8089)]
    pub port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Answer the first N requests with 503 and `Retry-After: 1`, to exercise
    /// clients' retries in tests and demos.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fail_first: u64,
}

/// How the server misbehaves on purpose.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Requests answered with 503 before the first real answer.
    pub fail_first: u64,
}

struct AppState {
    options: Options,
    requests: AtomicU64,
}

/// The API's routes: `/api`, `/api/`, `/api/1.4/` and `/`.
pub fn router(options: Options) -> Router {
    let state = Arc::new(AppState {
        options,
        requests: AtomicU64::new(0),
    });
    Router::new()
        .route("/api", get(users))
        .route("/api/", get(users))
        .route("/api/{version}", get(users))
        .route("/api/{version}/", get(users))
        .route("/", get(users))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    serve_with(listener, Options::default(), shutdown).await
}

/// [`serve`], misbehaving as `options` say.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let addr = listener.local_addr().ok();
    axum::serve(listener, router(options))
        .with_graceful_shutdown(shutdown)
        .await
        .with_context(|| format!("users-api server on {addr:?}"))
}

/// `host users-api`: serves until Ctrl-C.
pub async fn run(args: UsersApiArgs) -> Result<()> {
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}:{}; is another server there? Pick another --port (0 for any free one)",
                args.host, args.port
            )
        })?;
    let addr = listener.local_addr()?;
    tracing::info!(
        "users-api serving randomuser.me-shaped users on http://{addr}/api (Ctrl-C stops)"
    );
    if args.fail_first > 0 {
        tracing::info!(
            "the first {} requests get 503 (--fail-first)",
            args.fail_first
        );
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    serve_with(
        listener,
        Options {
            fail_first: args.fail_first,
        },
        shutdown,
    )
    .await
}

#[derive(Serialize)]
struct Body {
    results: Vec<User>,
    #[serde(skip_serializing_if = "Option::is_none")]
    info: Option<Info>,
}

#[derive(Serialize)]
struct Info {
    seed: String,
    results: usize,
    page: u64,
    version: &'static str,
}

/// A parsed query.
struct Request {
    results: u32,
    seed: String,
    page: u64,
    filter: Filter,
    inc: Option<Vec<String>>,
    exc: Vec<String>,
    info: bool,
}

async fn users(
    State(state): State<Arc<AppState>>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let n = state.requests.fetch_add(1, Ordering::Relaxed);
    if n < state.options.fail_first {
        tracing::info!(
            "request {} answered 503 (--fail-first {})",
            n + 1,
            state.options.fail_first
        );
        let mut response = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "failing on purpose (--fail-first); retry in 1 s",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    let request = match parse(&params) {
        Ok(r) => r,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    // Thousands of users take milliseconds of CPU: keep them off the I/O threads.
    match tokio::task::spawn_blocking(move || render(&request)).await {
        Ok(body) => (
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("generating users failed: {e}"),
        ),
    }
}

fn parse(params: &[(String, String)]) -> Result<Request, String> {
    // The last occurrence of a parameter wins.
    let get = |key: &str| {
        params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let list = |key: &str| {
        get(key).map(|v| {
            v.split(',')
                .map(|f| f.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
    };
    let results = match get("results") {
        None | Some("") => 1,
        Some(v) => v
            .parse::<u32>()
            .map_err(|_| format!("results={v:?} is not a number; ask for 1 to {MAX_RESULTS}"))?
            .clamp(1, MAX_RESULTS),
    };
    let page = match get("page") {
        None | Some("") => 1,
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| format!("page={v:?} is not a number"))?
            .max(1),
    };
    if let Some(format) = get("format").filter(|f| !f.eq_ignore_ascii_case("json") && !f.is_empty())
    {
        return Err(format!(
            "format={format:?} is not served here; only JSON is"
        ));
    }
    let seed = match get("seed") {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => format!("{:016x}", rand::random::<u64>()),
    };
    let mut filter = Filter::default();
    if let Some(nats) = get("nat") {
        filter = filter.with_nats(nats);
    }
    filter.gender = match get("gender") {
        Some(g) if g.eq_ignore_ascii_case("male") => Some(Gender::Male),
        Some(g) if g.eq_ignore_ascii_case("female") => Some(Gender::Female),
        _ => None,
    };
    Ok(Request {
        results,
        seed,
        page,
        filter,
        inc: list("inc"),
        exc: list("exc").unwrap_or_default(),
        info: get("noinfo").is_none(),
    })
}

fn render(request: &Request) -> Vec<u8> {
    let keep = |field: &str| {
        request
            .inc
            .as_ref()
            .is_none_or(|inc| inc.iter().any(|f| f == field))
            && !request.exc.iter().any(|f| f == field)
    };
    let results: Vec<User> = (0..u64::from(request.results))
        .map(|i| {
            let mut user = generator::user(&request.seed, request.page, i, &request.filter);
            user.retain(keep);
            user
        })
        .collect();
    let info = request.info.then(|| Info {
        seed: request.seed.clone(),
        results: results.len(),
        page: request.page,
        version: "1.4",
    });
    serde_json::to_vec(&Body { results, info }).expect("users serialize")
}

/// randomuser.me's error shape: `{"error": "..."}`.
fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Starts a server on a free port; its base URL.
    async fn start(options: Options) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve_with(listener, options, std::future::pending()));
        format!("http://{addr}")
    }

    async fn get(url: &str) -> (StatusCode, String) {
        let response = reqwest::get(url).await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.text().await.unwrap())
    }

    async fn get_json(url: &str) -> Value {
        let (status, body) = get(url).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    #[tokio::test]
    async fn answers_like_randomuser_me_and_deterministically() {
        let base = start(Options::default()).await;
        let (status, body) = get(&format!("{base}/api/?results=3&seed=abc&page=2")).await;
        assert_eq!(status, StatusCode::OK);
        let again = get(&format!("{base}/api?seed=abc&page=2&results=3"))
            .await
            .1;
        assert_eq!(body, again);
        // Fields in randomuser.me's order.
        let at = |k: &str| body.find(&format!("\"{k}\":")).unwrap();
        assert!(
            at("gender") < at("name") && at("name") < at("location") && at("picture") < at("nat"),
            "{body}"
        );
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            json["info"],
            serde_json::json!({"seed": "abc", "results": 3, "page": 2, "version": "1.4"})
        );
        assert_eq!(json["results"].as_array().unwrap().len(), 3);
        let other_page = get_json(&format!("{base}/api/?results=3&seed=abc&page=3")).await;
        assert_ne!(json["results"], other_page["results"]);
    }

    #[tokio::test]
    async fn a_request_without_seed_gets_a_fresh_one() {
        let base = start(Options::default()).await;
        let a = get_json(&format!("{base}/api/")).await;
        let b = get_json(&format!("{base}/api/")).await;
        assert_eq!(a["info"]["results"], 1);
        assert_ne!(a["info"]["seed"], b["info"]["seed"]);
        assert_eq!(a["info"]["seed"].as_str().unwrap().len(), 16);
    }

    #[tokio::test]
    async fn inc_exc_nat_and_noinfo() {
        let base = start(Options::default()).await;
        let inc = get_json(&format!(
            "{base}/api/?results=5&inc=login,nat,name&exc=name&nat=NL,gb&noinfo"
        ))
        .await;
        assert!(inc.get("info").is_none());
        for user in inc["results"].as_array().unwrap() {
            let keys: Vec<&str> = user
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys.len(), 2, "{user}");
            assert!(
                user["login"]["uuid"].is_string()
                    && ["NL", "GB"].contains(&user["nat"].as_str().unwrap())
            );
        }
        let exc = get_json(&format!("{base}/api/?results=2&exc=picture,id")).await;
        let user = exc["results"][0].as_object().unwrap();
        assert_eq!(user.len(), generator::FIELDS.len() - 2);
        assert!(!user.contains_key("picture") && !user.contains_key("id"));
    }

    #[tokio::test]
    async fn results_are_capped_and_bad_numbers_are_rejected() {
        let base = start(Options::default()).await;
        let many = get_json(&format!("{base}/api/?results=9000&inc=nat")).await;
        assert_eq!(
            many["results"].as_array().unwrap().len(),
            MAX_RESULTS as usize
        );
        let (status, body) = get(&format!("{base}/api/?results=lots")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("results=\\\"lots\\\""), "{body}");
    }

    #[tokio::test]
    async fn fail_first_answers_503_with_retry_after() {
        let base = start(Options { fail_first: 2 }).await;
        for _ in 0..2 {
            let response = reqwest::get(format!("{base}/api/")).await.unwrap();
            assert_eq!(response.status().as_u16(), 503);
            assert_eq!(response.headers()["retry-after"], "1");
        }
        get_json(&format!("{base}/api/")).await;
    }
}
