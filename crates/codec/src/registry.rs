//! A client for the Confluent Schema Registry API: registers a subject's
//! schema and looks schemas up by id, each id fetched once.
//!
//! The base URL may carry a path (Apicurio serves the API under
//! `/apis/ccompat/v7`). Credentials, from the URL or given apart, go in a
//! basic-auth header and never into messages.

use anyhow::{anyhow, bail, Context, Result};
use apache_avro::Schema;
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// What to do when the registry is not where the URL says.
const FIX: &str =
    "is it running (`just up`)? Set --registry or SLUICE_REGISTRY_URL to the registry's \
                   Confluent API URL, e.g. http://127.0.0.1:8081/apis/ccompat/v7 for Apicurio";

/// The Confluent-compatible schema registry Avro values are decoded with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct RegistryConfig {
    /// Base URL; may carry a path (Apicurio: `.../apis/ccompat/v7`). Env: SLUICE_REGISTRY_URL.
    pub url: String,
    /// Basic-auth user. Env: SLUICE_REGISTRY_USERNAME.
    pub username: Option<String>,
    /// Basic-auth password. Env: SLUICE_REGISTRY_PASSWORD. Never logged.
    pub password: Option<sluice_model::Secret>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            url: "http://127.0.0.1:8081/apis/ccompat/v7".into(),
            username: None,
            password: None,
        }
    }
}

/// Why a schema could not be had by id. Callers branch on the kind: a
/// record naming an id the registry lacks, or a schema the host cannot use,
/// is that record's fault (dead letter); an unreachable registry is an
/// outage (hold and retry).
#[derive(Debug, Clone, thiserror::Error)]
pub enum SchemaError {
    /// The registry answered that it has no schema with this id.
    #[error("{0}")]
    NotFound(String),
    /// The registry has it, but it is not a self-contained Avro schema.
    #[error("{0}")]
    Unusable(String),
    /// The registry did not answer as a registry does (down, wrong URL, refused).
    #[error("{0}")]
    Unavailable(String),
}

/// A Confluent Schema Registry client.
pub struct Registry {
    http: reqwest::Client,
    /// The base URL without credentials, query or trailing slash.
    base: Url,
    auth: Option<(String, String)>,
    /// One cell per schema id, so concurrent lookups of an id share one fetch.
    cache: Mutex<HashMap<u32, Arc<OnceCell<Arc<Schema>>>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("url", &self.url())
            .field("auth", &self.auth.as_ref().map(|_| "<set>"))
            .finish()
    }
}

#[derive(Deserialize)]
struct Registered {
    id: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaById {
    schema: String,
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<serde_json::Value>,
}

/// The body of a registry error: `{"error_code": 40403, "message": "..."}`.
#[derive(Deserialize)]
struct ErrorBody {
    message: Option<String>,
}

impl Registry {
    /// A client for the registry at `base_url`. Credentials in the URL
    /// (`http://user:pass@host/...`) are used when `basic_auth` is `None`.
    pub fn new(base_url: &str, basic_auth: Option<(String, String)>) -> Result<Self> {
        let mut base = Url::parse(base_url).map_err(|e| {
            anyhow!(
                "schema registry URL {:?} is not a URL ({e}); set --registry or SLUICE_REGISTRY_URL, \
                 e.g. http://127.0.0.1:8081/apis/ccompat/v7",
                redact(base_url)
            )
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            bail!(
                "schema registry URL {} is not http(s); set --registry or SLUICE_REGISTRY_URL, \
                 e.g. http://127.0.0.1:8081/apis/ccompat/v7",
                redact(base_url)
            );
        }
        let from_url = (!base.username().is_empty()).then(|| {
            (
                percent_decode(base.username()),
                percent_decode(base.password().unwrap_or("")),
            )
        });
        let auth = basic_auth.or(from_url);
        // Cannot fail for http(s) URLs, which have a host.
        let _ = base.set_username("");
        let _ = base.set_password(None);
        base.set_query(None);
        base.set_fragment(None);
        if let Ok(mut segments) = base.path_segments_mut() {
            segments.pop_if_empty();
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("sluice-host/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the schema registry's HTTP client")?;
        Ok(Registry {
            http,
            base,
            auth,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The registry's base URL, without credentials: safe to show.
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    /// Registers an Avro schema under `subject` (or finds it already there)
    /// and returns its id.
    pub async fn register(&self, subject: &str, schema_json: &str) -> Result<u32> {
        let url = self.endpoint(&["subjects", subject, "versions"]);
        let body = serde_json::json!({ "schema": schema_json }).to_string();
        let (status, text) = self.call(Method::POST, &url, Some(body)).await?;
        match status {
            s if s.is_success() => {
                let reply: Registered = serde_json::from_str(&text).with_context(|| {
                    format!("POST {url} answered {status} with {}, not {{\"id\": N}}", snippet(&text))
                })?;
                Ok(reply.id)
            }
            StatusCode::CONFLICT => bail!(
                "the schema registry at {} refused the schema for subject {subject:?}: it is incompatible \
                 with the versions already registered ({}); use another topic, or relax the subject's \
                 compatibility (PUT {}/config/{subject})",
                self.url(),
                message(&text),
                self.url()
            ),
            StatusCode::UNPROCESSABLE_ENTITY => bail!(
                "the schema registry at {} rejected the schema for subject {subject:?} as invalid: {}",
                self.url(),
                message(&text)
            ),
            _ => Err(self.unexpected("POST", &url, status, &text)),
        }
    }

    /// The schema with this id, fetched once and then cached.
    pub async fn schema(&self, id: u32) -> Result<Arc<Schema>, SchemaError> {
        let cell = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.entry(id).or_default().clone()
        };
        cell.get_or_try_init(|| self.fetch_schema(id))
            .await
            .cloned()
    }

    async fn fetch_schema(&self, id: u32) -> Result<Arc<Schema>, SchemaError> {
        let url = self.endpoint(&["schemas", "ids", &id.to_string()]);
        let unavailable = |e: anyhow::Error| SchemaError::Unavailable(format!("{e:#}"));
        let (status, text) = self
            .call(Method::GET, &url, None)
            .await
            .map_err(unavailable)?;
        if status == StatusCode::NOT_FOUND && text.contains("error_code") {
            return Err(SchemaError::NotFound(format!(
                "schema id {id} is not in the registry at {}; was the record written with another \
                 registry? Point --registry or SLUICE_REGISTRY_URL at the one the producer used",
                self.url()
            )));
        }
        if !status.is_success() {
            return Err(unavailable(self.unexpected("GET", &url, status, &text)));
        }
        let unusable = SchemaError::Unusable;
        let reply: SchemaById = serde_json::from_str(&text).map_err(|e| {
            unavailable(anyhow!(
                "GET {url} answered {status} with {}, not {{\"schema\": \"...\"}}: {e}",
                snippet(&text)
            ))
        })?;
        if let Some(kind) = reply
            .schema_type
            .as_deref()
            .filter(|k| !k.eq_ignore_ascii_case("AVRO"))
        {
            return Err(unusable(format!(
                "schema id {id} in the registry at {} is a {kind} schema; the host reads Avro only",
                self.url()
            )));
        }
        if !reply.references.is_empty() {
            return Err(unusable(format!(
                "schema id {id} in the registry at {} uses schema references, which the host does not \
                 resolve yet; register the schema self-contained",
                self.url()
            )));
        }
        let schema = Schema::parse_str(&reply.schema).map_err(|e| {
            unusable(format!(
                "schema id {id} in the registry at {} is not valid Avro: {e}",
                self.url()
            ))
        })?;
        Ok(Arc::new(schema))
    }

    /// `{base}/seg/seg/...`, each segment percent-encoded.
    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// One request; the status and body text, or an error naming the URL.
    async fn call(
        &self,
        method: Method,
        url: &Url,
        body: Option<String>,
    ) -> Result<(StatusCode, String)> {
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .header(reqwest::header::ACCEPT, CONTENT_TYPE);
        if let Some((user, password)) = &self.auth {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| anyhow!("{method} {url}: {}", error_chain(&e)))
            .with_context(|| {
                format!("cannot reach the schema registry at {}; {FIX}", self.url())
            })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("reading the answer of {method} {url}"))?;
        Ok((status, text))
    }

    fn unexpected(&self, method: &str, url: &Url, status: StatusCode, text: &str) -> anyhow::Error {
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => anyhow!(
                "the schema registry at {} refused access ({status}) to {method} {url}; check the \
                 credentials (user:password in the URL)",
                self.url()
            ),
            StatusCode::NOT_FOUND => anyhow!(
                "{method} {url} answered 404 ({}): no Confluent-compatible registry API at {}; {FIX}",
                message(text),
                self.url()
            ),
            _ => anyhow!("{method} {url} answered {status}: {}", message(text)),
        }
    }
}

/// The registry's error message, or the start of the body.
fn message(text: &str) -> String {
    match serde_json::from_str::<ErrorBody>(text) {
        Ok(ErrorBody { message: Some(m) }) => m,
        _ => snippet(text),
    }
}

fn snippet(text: &str) -> String {
    let cut: String = text.chars().take(200).collect();
    if cut.len() < text.len() {
        format!("{cut:?}...")
    } else {
        format!("{cut:?}")
    }
}

/// The error and its causes on one line (reqwest hides the cause, e.g.
/// "connection refused", in its source chain).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// The URL with any `user:password@` removed, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}<credentials>@{}", &url[..scheme_end + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};
    use std::sync::atomic::{AtomicUsize, Ordering};

    const SCHEMA: &str = r#"{"type":"record","name":"P","fields":[{"name":"a","type":"string"}]}"#;

    #[derive(Default)]
    struct Seen {
        lookups: AtomicUsize,
        auth: Mutex<Vec<String>>,
        content_types: Mutex<Vec<String>>,
    }

    /// A fake registry serving the Confluent API under `/apis/ccompat/v7`:
    /// subject `taken` conflicts, id 1 exists, others are 404.
    async fn fake() -> (String, Arc<Seen>) {
        let seen = Arc::new(Seen::default());
        let app = axum::Router::new()
            .route(
                "/apis/ccompat/v7/subjects/{subject}/versions",
                post(
                    |State(seen): State<Arc<Seen>>,
                     Path(subject): Path<String>,
                     headers: HeaderMap,
                     body: String| async move {
                        let header = |name: &str| {
                            headers
                                .get(name)
                                .map(|v| v.to_str().unwrap().to_string())
                                .unwrap_or_default()
                        };
                        seen.auth.lock().unwrap().push(header("authorization"));
                        seen.content_types
                            .lock()
                            .unwrap()
                            .push(header("content-type"));
                        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
                        assert_eq!(body["schema"], SCHEMA);
                        if subject == "taken" {
                            (
                                StatusCode::CONFLICT,
                                r#"{"error_code":409,"message":"incompatible: field a"}"#
                                    .to_string(),
                            )
                        } else {
                            (StatusCode::OK, format!(r#"{{"id":{}}}"#, subject.len()))
                        }
                    },
                ),
            )
            .route(
                "/apis/ccompat/v7/schemas/ids/{id}",
                get(
                    |State(seen): State<Arc<Seen>>, Path(id): Path<u32>| async move {
                        seen.lookups.fetch_add(1, Ordering::SeqCst);
                        match id {
                            1 => (
                                StatusCode::OK,
                                serde_json::json!({ "schema": SCHEMA }).to_string(),
                            ),
                            2 => (
                                StatusCode::OK,
                                r#"{"schema":"syntax = \"proto3\";","schemaType":"PROTOBUF"}"#
                                    .to_string(),
                            ),
                            _ => (
                                StatusCode::NOT_FOUND,
                                r#"{"message":"Schema not found.","error_code":40403}"#.to_string(),
                            ),
                        }
                    },
                ),
            )
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}/apis/ccompat/v7"), seen)
    }

    #[test]
    fn base_url_keeps_its_path_and_joins_without_double_slashes() {
        for base in [
            "http://h:8081/apis/ccompat/v7",
            "http://h:8081/apis/ccompat/v7/",
        ] {
            let r = Registry::new(base, None).unwrap();
            assert_eq!(
                r.endpoint(&["schemas", "ids", "3"]).as_str(),
                "http://h:8081/apis/ccompat/v7/schemas/ids/3"
            );
        }
        let r = Registry::new("http://h:8081", None).unwrap();
        assert_eq!(
            r.endpoint(&["subjects", "a/b c", "versions"]).as_str(),
            "http://h:8081/subjects/a%2Fb%20c/versions"
        );
    }

    #[test]
    fn credentials_leave_the_url() {
        let r = Registry::new("https://me:s%3Acret@reg.example/api", None).unwrap();
        assert_eq!(r.url(), "https://reg.example/api");
        assert_eq!(r.auth, Some(("me".to_string(), "s:cret".to_string())));
        assert!(!format!("{r:?}").contains("cret"));
        let err = Registry::new("ftp://me:secret@reg.example", None)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret") && err.contains("not http"), "{err}");
    }

    #[tokio::test]
    async fn registers_with_the_registry_content_type_and_basic_auth() {
        let (url, seen) = fake().await;
        let r = Registry::new(&url, Some(("u".into(), "p".into()))).unwrap();
        assert_eq!(
            r.register("users-value", SCHEMA).await.unwrap(),
            "users-value".len() as u32
        );
        assert_eq!(seen.content_types.lock().unwrap()[0], CONTENT_TYPE);
        assert_eq!(seen.auth.lock().unwrap()[0], "Basic dTpw"); // base64("u:p")
    }

    #[tokio::test]
    async fn a_conflict_names_the_subject_and_the_fix() {
        let (url, _) = fake().await;
        let err = Registry::new(&url, None)
            .unwrap()
            .register("taken", SCHEMA)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"taken\"")
                && err.contains("incompatible: field a")
                && err.contains("another topic"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn schemas_are_fetched_once_per_id() {
        let (url, seen) = fake().await;
        let r = Registry::new(&url, None).unwrap();
        let (a, b) = tokio::join!(r.schema(1), r.schema(1));
        assert!(Arc::ptr_eq(&a.unwrap(), &b.unwrap()));
        r.schema(1).await.unwrap();
        assert_eq!(seen.lookups.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_unknown_id_says_so_and_is_not_cached() {
        let (url, seen) = fake().await;
        let r = Registry::new(&url, None).unwrap();
        let err = r.schema(9).await.unwrap_err();
        assert!(matches!(err, SchemaError::NotFound(_)), "{err:?}");
        let err = err.to_string();
        assert!(
            err.contains(&format!("schema id 9 is not in the registry at {url}")),
            "{err}"
        );
        r.schema(9).await.unwrap_err();
        assert_eq!(seen.lookups.load(Ordering::SeqCst), 2);
        let err = r.schema(2).await.unwrap_err();
        assert!(matches!(err, SchemaError::Unusable(_)), "{err:?}");
        assert!(err.to_string().contains("PROTOBUF"), "{err}");
    }

    #[tokio::test]
    async fn a_wrong_prefix_points_at_the_ccompat_path() {
        let (url, _) = fake().await;
        let root = url.trim_end_matches("/apis/ccompat/v7");
        let err = Registry::new(root, None)
            .unwrap()
            .schema(1)
            .await
            .unwrap_err();
        // A wrong URL is the operator's to fix: records are held, not dead-lettered.
        assert!(matches!(err, SchemaError::Unavailable(_)), "{err:?}");
        let err = err.to_string();
        assert!(
            err.contains("404") && err.contains("/apis/ccompat/v7"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_registry_names_the_url_but_not_the_password() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let r = Registry::new(&format!("http://me:hunter2@127.0.0.1:{port}/x"), None).unwrap();
        let err = format!("{:#}", r.register("s", SCHEMA).await.unwrap_err());
        assert!(
            err.contains(&format!("http://127.0.0.1:{port}/x")) && err.contains("just up"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
}
