//! Fetches pages of users from a randomuser.me-compatible API: retries
//! errors, timeouts, 429 and 5xx with backoff (honouring `Retry-After`), and
//! rejects answers that are not a list of users, naming the URL and what came back.

use anyhow::{anyhow, bail, Context, Result};
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::time::Duration;

/// The longest wait between attempts, from backoff or from `Retry-After`.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// The first backoff; it doubles per attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// One page of users, with the URL it came from.
#[derive(Debug)]
pub struct Page {
    pub url: Url,
    pub users: Users,
}

/// The users of one answer: its body, and where in it each user's JSON is
/// (checked JSON; parsed again only by the encoder, borrowing from the body).
#[derive(Debug)]
pub struct Users {
    body: Vec<u8>,
    spans: Vec<std::ops::Range<usize>>,
}

impl Users {
    pub fn len(&self) -> usize {
        self.spans.len()
    }
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
    /// Users given as values (tests and benchmarks that make their own).
    pub fn from_values(users: &[serde_json::Value]) -> Users {
        let (mut body, mut spans) = (Vec::new(), Vec::with_capacity(users.len()));
        for user in users {
            let start = body.len();
            serde_json::to_writer(&mut body, user).expect("JSON values serialize");
            spans.push(start..body.len());
        }
        Users { body, spans }
    }

    /// Each user's JSON text, as the API sent it.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.spans.iter().map(|r| &self.body[r.clone()])
    }
}

/// The answer's top level: only what is looked at.
#[derive(Deserialize)]
struct Top<'a> {
    #[serde(borrow)]
    error: Option<&'a RawValue>,
    #[serde(borrow)]
    results: Option<&'a RawValue>,
}

/// Fetches pages for one seed.
pub struct Fetcher {
    http: reqwest::Client,
    api: Url,
    seed: String,
    retries: u32,
}

/// How one attempt went wrong.
#[derive(Debug, PartialEq)]
pub enum Failure {
    /// Worth another try: a network error, a timeout, 429, 5xx, a truncated body.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Trying again would get the same: HTML, a 404, JSON without users.
    Fatal(String),
}

impl Fetcher {
    /// A fetcher for the API at `api` (its own query parameters are kept).
    pub fn new(api: &str, seed: String, timeout: Duration, retries: u32) -> Result<Self> {
        let api = Url::parse(api)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                anyhow!("--api {api:?} is not an http(s) URL; try https://randomuser.me/api")
            })?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("sluice-host/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the API's HTTP client")?;
        Ok(Fetcher {
            http,
            api,
            seed,
            retries,
        })
    }

    /// The URL of `page` (1-based) with `results` users.
    pub fn url(&self, page: u64, results: u32) -> Url {
        let mut url = self.api.clone();
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !matches!(k.as_ref(), "results" | "seed" | "page"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("results", &results.to_string())
            .append_pair("seed", &self.seed)
            .append_pair("page", &page.to_string());
        url
    }

    /// Fetches a page, retrying what may pass.
    pub async fn fetch(&self, page: u64, results: u32) -> Result<Page> {
        let url = self.url(page, results);
        let mut attempt = 0;
        loop {
            match self.attempt(&url).await {
                Ok(users) => return Ok(Page { url, users }),
                Err(Failure::Fatal(what)) => bail!("GET {url} {what}"),
                Err(Failure::Retry { reason, .. }) if attempt >= self.retries => bail!(
                    "GET {url} failed {} times, last: {reason}; is the API up? (--retries sets how often to retry)",
                    attempt + 1
                ),
                Err(Failure::Retry { reason, after }) => {
                    attempt += 1;
                    let wait = after.unwrap_or_else(|| backoff(attempt)).min(MAX_WAIT);
                    tracing::warn!("GET {url}: {reason}; retry {attempt} of {} in {wait:.1?}", self.retries);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn attempt(&self, url: &Url) -> Result<Users, Failure> {
        let response = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| Failure::Retry {
                reason: describe(&e),
                after: None,
            })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| Failure::Retry {
            reason: format!("reading the body: {}", describe(&e)),
            after: None,
        })?;
        parse(status, &headers, &body)
    }
}

/// Judges one answer: the users, or why not.
pub fn parse(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Result<Users, Failure> {
    if !status.is_success() {
        let reason = format!("answered {status}: {}", snippet(body));
        return Err(match status {
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => Failure::Retry {
                reason,
                after: retry_after(headers),
            },
            StatusCode::REQUEST_TIMEOUT => Failure::Retry {
                reason,
                after: None,
            },
            s if s.is_server_error() => Failure::Retry {
                reason,
                after: None,
            },
            _ => Failure::Fatal(format!("{reason}; check --api")),
        });
    }
    // Checked whole here, so a truncated answer is retried, but not built
    // into values: the encoder reads each user in place.
    let json: &RawValue = match serde_json::from_slice(body) {
        Ok(json) => json,
        // A body cut short is likely the network's doing: try again.
        Err(e) if e.is_eof() => {
            return Err(Failure::Retry {
                reason: format!(
                    "the JSON ends early, after {} bytes (truncated answer?)",
                    body.len()
                ),
                after: None,
            })
        }
        Err(e) => {
            let content_type = headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("no content type");
            let html = body.trim_ascii_start().starts_with(b"<") || content_type.contains("html");
            return Err(Failure::Fatal(if html {
                format!(
                    "answered HTML ({content_type}), not JSON: {}; --api must point at a randomuser.me-compatible \
                     API such as https://randomuser.me/api",
                    snippet(body)
                )
            } else {
                format!("answered invalid JSON ({e}): {}", snippet(body))
            }));
        }
    };
    let not_an_object = || {
        Failure::Fatal(format!(
            "answered JSON that is not an object: {}",
            snippet(body)
        ))
    };
    // (A struct would also take an array, field by field.)
    if !json.get().trim_start().starts_with('{') {
        return Err(not_an_object());
    }
    let top: Top = serde_json::from_str(json.get()).map_err(|_| not_an_object())?;
    if let Some(error) = top
        .error
        .and_then(|e| serde_json::from_str::<String>(e.get()).ok())
    {
        // randomuser.me's own hiccups ("Uh oh, something has gone wrong") pass.
        return Err(Failure::Retry {
            reason: format!("the API reported an error: {error:?}"),
            after: None,
        });
    }
    let users = top
        .results
        .filter(|r| r.get().trim_start().starts_with('['))
        .and_then(|r| serde_json::from_str::<Vec<&RawValue>>(r.get()).ok())
        .ok_or_else(|| {
            Failure::Fatal(format!(
                "answered JSON without a \"results\" list: {}; is --api a randomuser.me-compatible API?",
                snippet(body)
            ))
        })?;
    if users.is_empty() {
        return Err(Failure::Fatal("answered no users (\"results\": [])".into()));
    }
    // Every raw value borrows from `body`: its place is its offset there.
    let base = body.as_ptr() as usize;
    let spans = users
        .iter()
        .map(|u| {
            let start = u.get().as_ptr() as usize - base;
            start..start + u.get().len()
        })
        .collect();
    Ok(Users {
        body: body.to_vec(),
        spans,
    })
}

/// Exponential backoff with jitter: attempt 1 waits 125-250 ms, then doubles.
fn backoff(attempt: u32) -> Duration {
    let full = FIRST_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_WAIT);
    full.mul_f64(rand::random_range(0.5..=1.0))
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at
        .signed_duration_since(chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    Some(wait)
}

/// A reqwest error with its cause ("connection refused", "operation timed out").
fn describe(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// The start of a body, quoted, for messages.
fn snippet(body: &[u8]) -> String {
    const MAX: usize = 120;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]);
    let more = if body.len() > MAX { "..." } else { "" };
    if body.is_empty() {
        "an empty body".into()
    } else {
        format!("{text:?}{more}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn ok(body: &str) -> Result<Users, Failure> {
        parse(StatusCode::OK, &HeaderMap::new(), body.as_bytes())
    }

    fn fatal(r: Result<Users, Failure>) -> String {
        match r {
            Err(Failure::Fatal(m)) => m,
            other => panic!("not fatal: {other:?}"),
        }
    }

    #[test]
    fn urls_keep_the_api_query_and_set_paging() {
        let f = Fetcher::new(
            "http://h/api/?nat=fr&page=9",
            "s e".into(),
            Duration::from_secs(1),
            0,
        )
        .unwrap();
        assert_eq!(
            f.url(2, 50).as_str(),
            "http://h/api/?nat=fr&results=50&seed=s+e&page=2"
        );
        assert!(Fetcher::new("ftp://h", "s".into(), Duration::from_secs(1), 0).is_err());
    }

    #[test]
    fn users_come_out_of_results() {
        let users = ok(r#"{"results":[{"a":1}, {"a":"\u00e9"}],"info":{"seed":"x"}}"#).unwrap();
        assert_eq!(users.len(), 2);
        let texts: Vec<&[u8]> = users.iter().collect();
        assert_eq!(texts, [&br#"{"a":1}"#[..], br#"{"a":"\u00e9"}"#]);
        assert!(fatal(ok(r#"{"results":{"a":1}}"#)).contains("without a \"results\" list"));
    }

    #[test]
    fn html_is_fatal_and_says_so() {
        let m = fatal(ok("<!DOCTYPE html><html><body>Not here</body></html>"));
        assert!(
            m.contains("answered HTML") && m.contains("<!DOCTYPE html>") && m.contains("--api"),
            "{m}"
        );
    }

    #[test]
    fn truncated_json_is_retried() {
        let r = ok(r#"{"results":[{"a":1},{"a""#);
        assert!(
            matches!(r, Err(Failure::Retry { ref reason, .. }) if reason.contains("ends early")),
            "{r:?}"
        );
    }

    #[test]
    fn json_without_users_is_fatal() {
        assert!(fatal(ok(r#"{"users":[]}"#)).contains("without a \"results\" list"));
        assert!(fatal(ok(r#"{"results":[]}"#)).contains("no users"));
        assert!(fatal(ok("[1,2]")).contains("not an object"));
        assert!(fatal(ok("results")).contains("invalid JSON"));
    }

    #[test]
    fn statuses_retry_or_fail() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        for status in [429, 503] {
            let r = parse(StatusCode::from_u16(status).unwrap(), &headers, b"busy");
            assert_eq!(
                r.unwrap_err(),
                Failure::Retry {
                    reason: format!(
                        "answered {}: \"busy\"",
                        StatusCode::from_u16(status).unwrap()
                    ),
                    after: Some(Duration::from_secs(3))
                }
            );
        }
        assert!(matches!(
            parse(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b""),
            Err(Failure::Retry { after: None, .. })
        ));
        assert!(fatal(parse(StatusCode::NOT_FOUND, &HeaderMap::new(), b"nope")).contains("404"));
        assert!(matches!(
            ok(r#"{"error":"Uh oh"}"#),
            Err(Failure::Retry { .. })
        ));
    }

    #[test]
    fn retry_after_takes_an_http_date() {
        let mut headers = HeaderMap::new();
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(30))
            .to_rfc2822()
            .replace("+0000", "GMT");
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&soon).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for _ in 0..100 {
            let first = backoff(1);
            assert!(first >= FIRST_BACKOFF / 2 && first <= FIRST_BACKOFF);
            assert!(backoff(4) >= Duration::from_secs(1));
            assert!(backoff(40) <= MAX_WAIT);
        }
    }
}
