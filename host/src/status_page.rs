//! The status page the admin endpoint serves at `/`: one server-rendered HTML
//! document with inline CSS and SVG, no framework and no external assets.
//!
//! It shows what `/api/status` has (active and earlier versions, swap
//! history and stalls, partitions, recent throughput, dead letters, whether
//! Kafka, the registry and Cassandra answer, with a banner while one does
//! not) and carries the deploy and rollback forms. Plugin names, versions, sources,
//! file names and error messages come from plugins and uploaders, so every
//! dynamic string goes through [`Esc`]; the `Content-Security-Policy` from
//! [`content_security_policy`] allows only this module's own inline style and
//! script, by hash, as a second line of defence.

mod fleet;

use sha2::{Digest, Sha256};
use sluice_pipeline::telemetry::live::{Bucket, DependencyState, LiveSnapshot};
use sluice_pipeline::{Stall, VersionEntry};
use std::collections::BTreeMap;
use std::fmt::{self, Write};
use std::sync::LazyLock;

/// The bucket width and count `live` keeps: 10 s over the last 10 minutes.
const BUCKET_SECS: u64 = 10;
const SLOTS: u64 = 60;
/// Dead-letter samples shown; `live` keeps a few more.
const SAMPLES_SHOWN: usize = 5;
/// Swap stalls shown, newest first.
const STALLS_SHOWN: usize = 20;

/// A plugin version, as the page shows it.
#[derive(Debug, Clone)]
pub struct PluginView {
    pub name: String,
    pub version: String,
    pub hash: String,
    pub source: String,
    /// Milliseconds since the epoch.
    pub since_ms: u64,
}

/// The outcome of a form submission, shown above everything else.
#[derive(Debug, Clone)]
pub struct Notice {
    pub ok: bool,
    pub text: String,
}

/// Everything the page shows, gathered by the admin endpoint.
#[derive(Debug, Clone)]
pub struct StatusView {
    /// Milliseconds since the epoch; times are shown relative to it.
    pub now_ms: u64,
    pub active: PluginView,
    /// Earlier versions kept for rollback, newest first: a rollback restores the first.
    pub previous: Vec<PluginView>,
    /// Activations, oldest first (as `SwapHistory` keeps them).
    pub versions: Vec<VersionEntry>,
    pub stalls: Vec<Stall>,
    pub live: LiveSnapshot,
    pub breaker_open: bool,
    /// Whether the host has an admin token; without one the forms are not offered.
    pub deploys_enabled: bool,
    /// Whether the page reloads itself.
    pub auto_refresh: bool,
    pub notice: Option<Notice>,
    /// The group, when this host shares a deploy log with it.
    pub fleet: Option<sluice_pipeline::fleet::FleetStatus>,
    /// A candidate running in the shadow of the active version.
    pub shadow: Option<sluice_pipeline::shadow::ShadowStatus>,
    /// Why this host does not run the group's shadow run, if it could not load it.
    pub shadow_error: Option<String>,
}

/// Writes its text HTML-escaped, for element content and quoted attributes alike.
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

const STYLE: &str = r#"
:root{--bg:#f4f5f7;--card:#fff;--line:#e2e5ea;--text:#1c2330;--muted:#5f6b7a;--blue:#2563eb;--green:#16a34a;--red:#dc2626;--grey:#9aa4b2}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
header{display:flex;align-items:center;gap:18px;padding:10px 24px;background:#141a24;color:#cbd2dc}
header .brand{font-weight:700;font-size:18px;color:#fff}
header .meta{flex:1;font-size:13px}
header a{color:#93c5fd}
main{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:14px;padding:14px 24px;max-width:1500px;margin:0 auto}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 16px;min-width:0}
.wide{grid-column:1/-1}
h2{margin:0 0 8px;font-size:12px;text-transform:uppercase;letter-spacing:.07em;color:var(--muted)}
h3{margin:12px 0 4px;font-size:13px;color:var(--muted)}
p{margin:4px 0}
table{width:100%;border-collapse:collapse;font-size:13px}
th{text-align:left;font-weight:600;color:var(--muted);border-bottom:1px solid var(--line);padding:3px 10px 3px 0}
td{border-bottom:1px solid #eef0f3;padding:3px 10px 3px 0;vertical-align:top}
tr:last-child td{border-bottom:0}
.n{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font:12px/1.4 ui-monospace,Menlo,Consolas,"DejaVu Sans Mono",monospace}
.muted{color:var(--muted)}
.big{font-size:22px;font-weight:650;overflow-wrap:anywhere}
.big .ver{color:var(--blue)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0 0}
dt{color:var(--muted)}
dd{margin:0;overflow-wrap:anywhere}
.pill{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;white-space:nowrap}
.good{background:#dcfce7;color:#166534}
.bad{background:#fee2e2;color:#991b1b}
.warn{background:#fef3c7;color:#92400e}
.info{background:#e0e7ff;color:#3730a3}
.notice{grid-column:1/-1;padding:10px 14px;border-radius:8px;white-space:pre-wrap;overflow-wrap:anywhere}
.notice.ok{background:#dcfce7;color:#14532d;border:1px solid #86efac}
.notice.err{background:#fee2e2;color:#7f1d1d;border:1px solid #fca5a5}
.series{display:grid;grid-template-columns:104px 84px 1fr 118px;align-items:center;gap:10px;padding:3px 0}
.series .num{font-size:18px;font-weight:650;text-align:right;font-variant-numeric:tabular-nums}
.series small{font-size:11px;color:var(--muted);font-weight:400}
.series svg{width:100%;height:34px;display:block;background:#f8f9fb;border-radius:3px}
.series .total{color:var(--muted);font-size:12px;text-align:right}
.axis{display:grid;grid-template-columns:198px 1fr 118px;gap:10px;color:var(--muted);font-size:11px}
.axis span:nth-child(2){display:flex;justify-content:space-between}
.hbar{width:100%;height:8px;display:block}
form.op{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:6px 0}
input,button{font:inherit;font-size:13px}
input[type=password],input[type=file]{padding:4px 6px;border:1px solid #c9d0da;border-radius:6px;background:#fff}
input[type=password]{width:150px}
button{padding:5px 14px;border-radius:6px;border:1px solid #1d4ed8;background:var(--blue);color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#b91c1c;border-color:#f3a6a6}
button:disabled{opacity:.45;cursor:not-allowed}
.err{white-space:pre-wrap;overflow-wrap:anywhere}
.nw{white-space:nowrap}
.hint{font-size:12px;color:var(--muted)}
.outage{font-weight:600}
.outage .detail{font-weight:400}
.deps{display:flex;flex-wrap:wrap;gap:6px 28px;align-items:center}
.dep .muted{font-size:12px}
"#;

// Reloads every 5 s like the <noscript> meta refresh, but not once a form is
// in use: a reload would wipe a typed token or a chosen file. Always reloads
// `/`, so a form's result page is never posted again.
const SCRIPT: &str = r#"
let busy = false;
document.addEventListener('focusin', (e) => {
  if (e.target.form) { busy = true; document.getElementById('paused').hidden = false; }
});
setInterval(() => { if (!busy) location.replace('/'); }, 5000);
"#;

/// The page's `Content-Security-Policy`: nothing but its own inline style and
/// script (by hash) and same-origin form posts; no framing (clickjacking).
pub fn content_security_policy() -> &'static str {
    static CSP: LazyLock<String> = LazyLock::new(|| {
        format!(
            "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; img-src data:; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            base64(&Sha256::digest(STYLE)),
            base64(&Sha256::digest(SCRIPT))
        )
    });
    &CSP
}

/// Standard base64 with padding (CSP hash sources); the crate has no base64 dependency.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Renders the whole page.
pub fn render(v: &StatusView) -> String {
    let mut o = String::with_capacity(32 << 10);
    page(&mut o, v).expect("writing to a String cannot fail");
    o
}

fn page(o: &mut String, v: &StatusView) -> fmt::Result {
    let a = &v.active;
    write!(
        o,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sluice · {}@{}</title><link rel=\"icon\" href=\"data:,\">",
        Esc(&a.name),
        Esc(&a.version)
    )?;
    if v.auto_refresh {
        // Without script the browser refreshes; with it, SCRIPT does (and pauses).
        o.push_str("<noscript><meta http-equiv=\"refresh\" content=\"5; url=/\"></noscript>");
    }
    write!(o, "<style>{STYLE}</style></head><body>")?;
    header(o, v)?;
    o.push_str("<main>");
    if let Some(n) = &v.notice {
        write!(
            o,
            "<div class=\"notice {}\" role=\"status\">{}</div>",
            if n.ok { "ok" } else { "err" },
            Esc(&n.text)
        )?;
    }
    outage_banners(o, v)?;
    dependencies_card(o, v)?;
    plugin_card(o, v)?;
    fleet::fleet_card(o, v)?;
    fleet::shadow_card(o, v)?;
    throughput_card(o, v)?;
    partitions_card(o, v)?;
    dead_letters_card(o, v)?;
    versions_card(o, v)?;
    o.push_str("</main>");
    if v.auto_refresh {
        write!(o, "<script>{SCRIPT}</script>")?;
    }
    o.push_str("</body></html>\n");
    Ok(())
}

fn header(o: &mut String, v: &StatusView) -> fmt::Result {
    write!(
        o,
        "<header><span class=\"brand\">Sluice</span><span class=\"meta\">status at {}",
        stamp(v.now_ms)
    )?;
    if v.auto_refresh {
        o.push_str(
            " · refreshes every 5 s <span id=\"paused\" hidden>· paused while you use a form \
             (<a href=\"/\">resume</a>)</span>",
        );
    } else {
        o.push_str(" · auto-refresh off (<a href=\"/\">turn on</a>)");
    }
    o.push_str(" · <a href=\"/api/status\">JSON</a> · <a href=\"/metrics\">metrics</a></span>");
    for (name, _) in down(v) {
        write!(
            o,
            "<span class=\"pill bad\">{} down</span>",
            Esc(&display_name(name))
        )?;
    }
    if v.breaker_open {
        o.push_str("<span class=\"pill bad\">breaker open: consumption held</span>");
    } else {
        o.push_str("<span class=\"pill good\">breaker closed</span>");
    }
    o.push_str("</header>");
    Ok(())
}

/// The dependencies the pipeline knows, in the order a record meets them.
const KNOWN_DEPENDENCIES: [&str; 3] = ["kafka", "registry", "cassandra"];

/// How the page names a dependency ("cassandra" -> "Cassandra").
fn display_name(name: &str) -> String {
    match name {
        "kafka" => "Kafka".into(),
        "registry" => "The schema registry".into(),
        "cassandra" => "Cassandra".into(),
        other => other.into(),
    }
}

/// Every dependency `live` has seen plus the known ones it has not (None),
/// known ones first in pipeline order, then any other by name.
fn dependencies(v: &StatusView) -> Vec<(&str, Option<&DependencyState>)> {
    let deps = &v.live.dependencies;
    let mut out: Vec<(&str, Option<&DependencyState>)> = KNOWN_DEPENDENCIES
        .iter()
        .map(|name| (*name, deps.get(*name)))
        .collect();
    out.extend(
        deps.iter()
            .filter(|(name, _)| !KNOWN_DEPENDENCIES.contains(&name.as_str()))
            .map(|(name, d)| (name.as_str(), Some(d))),
    );
    out
}

/// The dependencies that are down now.
fn down(v: &StatusView) -> Vec<(&str, &DependencyState)> {
    dependencies(v)
        .into_iter()
        .filter_map(|(name, d)| d.filter(|d| !d.up).map(|d| (name, d)))
        .collect()
}

fn attempts(n: u64) -> String {
    format!(
        "{} failed attempt{}",
        group(n),
        if n == 1 { "" } else { "s" }
    )
}

/// One banner per unreachable dependency, at the top of the page.
fn outage_banners(o: &mut String, v: &StatusView) -> fmt::Result {
    for (name, d) in down(v) {
        write!(
            o,
            "<div class=\"notice err outage\" role=\"alert\" id=\"outage-{}\">{} is unreachable since {} UTC \
             ({}): records are held, nothing is committed or dead-lettered",
            Esc(name),
            Esc(&display_name(name)),
            clock(d.since_ms),
            attempts(d.failures),
        )?;
        match &d.last_error {
            Some(e) => write!(
                o,
                "; <span class=\"detail\">last error: <code>{}</code></span>",
                Esc(e)
            )?,
            None => o.push('.'),
        }
        o.push_str("</div>");
    }
    Ok(())
}

/// One line: each dependency's state and since when; the banners above carry
/// the details of those that are down.
fn dependencies_card(o: &mut String, v: &StatusView) -> fmt::Result {
    o.push_str(
        "<section class=\"card wide\" id=\"dependencies\"><h2>Dependencies</h2><div class=\"deps\">",
    );
    for (name, d) in dependencies(v) {
        write!(
            o,
            "<span class=\"dep\"><b>{}</b> ",
            Esc(&display_name(name))
        )?;
        match d {
            None => o.push_str(
                "<span class=\"pill info\" title=\"No failed attempt since the host started\">\
                 no outage seen</span>",
            ),
            Some(d) => {
                write!(
                    o,
                    "<span class=\"pill {}\">{}</span> <span class=\"muted\" title=\"{}\">since {} ({})",
                    if d.up { "good" } else { "bad" },
                    if d.up { "up" } else { "down" },
                    stamp(d.since_ms),
                    clock(d.since_ms),
                    ago(v.now_ms, d.since_ms),
                )?;
                if !d.up {
                    write!(o, ", {}", attempts(d.failures))?;
                }
                o.push_str("</span>");
            }
        }
        o.push_str("</span>");
    }
    o.push_str(
        "</div><p class=\"hint\">Outages are retried without end: records wait, offsets stay \
         where they are, nothing is dead-lettered for them.</p></section>",
    );
    Ok(())
}

fn plugin_card(o: &mut String, v: &StatusView) -> fmt::Result {
    let a = &v.active;
    write!(
        o,
        "<section class=\"card\" id=\"plugin\"><h2>Active plugin</h2>\
         <div class=\"big\">{} <span class=\"ver\">{}</span></div><dl>\
         <dt>Hash</dt><dd><code>{}</code></dd>\
         <dt>Source</dt><dd><code>{}</code></dd>\
         <dt>Since</dt><dd>{} <span class=\"muted\">({})</span></dd></dl>",
        Esc(&a.name),
        Esc(&a.version),
        Esc(&a.hash),
        Esc(&a.source),
        stamp(a.since_ms),
        ago(v.now_ms, a.since_ms)
    )?;

    o.push_str("<h3>Roll back</h3>");
    let back = v.previous.first();
    if !v.deploys_enabled {
        o.push_str(
            "<p class=\"muted\">Deploys and rollbacks from this page are disabled: the host has no admin \
             token (set <code>admin.token</code> or <code>SLUICE_ADMIN_TOKEN</code>).</p>",
        );
    } else {
        if v.auto_refresh {
            o.push_str(
                "<noscript><p class=\"hint\">This page reloads every 5 s, which clears the forms: \
                 <a href=\"/?refresh=0\">turn auto-refresh off</a> first.</p></noscript>",
            );
        }
        o.push_str(
            "<form class=\"op\" method=\"post\" action=\"/ui/rollback\">\
             <input type=\"password\" name=\"token\" placeholder=\"admin token\" aria-label=\"admin token\" \
             autocomplete=\"off\" required>",
        );
        match back {
            Some(b) => write!(
                o,
                "<button class=\"secondary\" type=\"submit\">Roll back to {}@{}</button>",
                Esc(&b.name),
                Esc(&b.version)
            )?,
            None => o.push_str("<button type=\"submit\" disabled>Roll back</button>"),
        }
        o.push_str("</form>");
    }
    if back.is_none() {
        o.push_str("<p class=\"hint\">No earlier version is kept to roll back to.</p>");
    }

    if v.deploys_enabled {
        o.push_str(
            "<h3>Deploy a new version</h3>\
             <form class=\"op\" method=\"post\" action=\"/ui/deploy\" enctype=\"multipart/form-data\">\
             <input type=\"password\" name=\"token\" placeholder=\"admin token\" aria-label=\"admin token\" \
             autocomplete=\"off\" required>\
             <input type=\"file\" name=\"plugin\" accept=\".wasm,application/wasm\" aria-label=\"plugin component\" required>\
             <button type=\"submit\">Deploy</button></form>\
             <p class=\"hint\">Validated like any deploy (compiled, init, tried on recent records) before it goes live.</p>",
        );
    }
    o.push_str("</section>");
    Ok(())
}

/// A chart row: its label, its colour, and what it counts of a bucket.
type Series = (&'static str, &'static str, fn(&Bucket) -> u64);

/// A series' values per slot, oldest first; slot `SLOTS - 1` holds now.
fn slots(buckets: &[Bucket], now_s: u64, f: impl Fn(&Bucket) -> u64) -> Vec<u64> {
    let last = now_s / BUCKET_SECS * BUCKET_SECS;
    let first = last.saturating_sub((SLOTS - 1) * BUCKET_SECS);
    let mut out = vec![0; SLOTS as usize];
    for b in buckets
        .iter()
        .filter(|b| b.start >= first && b.start <= last)
    {
        out[((b.start - first) / BUCKET_SECS) as usize] += f(b);
    }
    out
}

fn throughput_card(o: &mut String, v: &StatusView) -> fmt::Result {
    let now_s = v.now_ms / 1000;
    let last = now_s / BUCKET_SECS * BUCKET_SECS;
    // The last minute is the last 6 buckets; the newest is still filling up.
    let minute_secs = ((now_s - last) + 5 * BUCKET_SECS).max(1) as f64;
    let series: [Series; 4] = [
        ("Records in", "#2563eb", |b| b.records_in),
        ("Rows written", "#16a34a", |b| b.rows_written),
        ("Dead letters", "#dc2626", |b| b.dead_letters),
        ("Filtered", "#9aa4b2", |b| b.filtered),
    ];
    o.push_str("<section class=\"card\" id=\"throughput\"><h2>Throughput, last 10 minutes</h2>");
    let mut totals = [0u64; 4];
    for (i, (label, color, f)) in series.iter().enumerate() {
        let values = slots(&v.live.buckets, now_s, f);
        let total: u64 = values.iter().sum();
        totals[i] = total;
        let minute: u64 = values[values.len() - 6..].iter().sum();
        write!(
            o,
            "<div class=\"series\"><span>{label}</span><span class=\"num\">{}<small>/s</small></span>",
            rate(minute as f64 / minute_secs)
        )?;
        sparkline(o, &values, last, color, label)?;
        write!(
            o,
            "<span class=\"total\">{} in 10 min</span></div>",
            group(total)
        )?;
    }
    o.push_str(
        "<div class=\"axis\"><span>rate over the last minute</span>\
         <span><span>−10 min</span><span>−5 min</span><span>now</span></span><span></span></div>",
    );
    let [records_in, rows, dead, _] = totals;
    if records_in > 0 {
        let pct = 100.0 * dead as f64 / records_in as f64;
        let class = if dead == 0 {
            "good"
        } else if pct < 1.0 {
            "warn"
        } else {
            "bad"
        };
        write!(
            o,
            "<p>Dead-letter rate <span class=\"pill {class}\">{pct:.2} %</span> of records in; \
             {} rows written per record in.</p>",
            ratio(rows as f64 / records_in as f64)
        )?;
    } else {
        o.push_str("<p class=\"muted\">No records in the last 10 minutes.</p>");
    }
    o.push_str("</section>");
    Ok(())
}

/// A bar per 10-second bucket; each bar's tooltip says when and how many.
fn sparkline(o: &mut String, values: &[u64], last: u64, color: &str, label: &str) -> fmt::Result {
    const W: u64 = 10;
    const H: f64 = 34.0;
    let max = values.iter().copied().max().unwrap_or(0);
    write!(
        o,
        "<svg viewBox=\"0 0 {} {H}\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"{label} per 10 s\">",
        W * values.len() as u64
    )?;
    for (i, &n) in values.iter().enumerate().filter(|(_, n)| **n > 0) {
        // At least 2 units tall, so that a single record stays visible next to a burst.
        let h = (n as f64 / max as f64 * (H - 2.0)).max(2.0);
        let start = last - (values.len() - 1 - i) as u64 * BUCKET_SECS;
        write!(
            o,
            "<rect x=\"{}\" y=\"{:.1}\" width=\"{}\" height=\"{h:.1}\" fill=\"{color}\"><title>{} · {}</title></rect>",
            i as u64 * W + 1,
            H - h,
            W - 2,
            clock(start * 1000),
            group(n)
        )?;
    }
    o.push_str("</svg>");
    Ok(())
}

/// "topic/partition" keys in topic order, then numeric partition order (not "t/10" before "t/2").
fn partition_order(key: &str) -> (&str, i64) {
    match key.rsplit_once('/') {
        Some((topic, p)) => (topic, p.parse().unwrap_or(i64::MAX)),
        None => (key, i64::MAX),
    }
}

fn partitions_card(o: &mut String, v: &StatusView) -> fmt::Result {
    o.push_str("<section class=\"card\" id=\"partitions\"><h2>Partitions</h2>");
    if v.live.partitions.is_empty() {
        o.push_str("<p class=\"muted\">No partition assigned or committed yet.</p></section>");
        return Ok(());
    }
    let mut rows: Vec<_> = v.live.partitions.iter().collect();
    rows.sort_by_key(|(k, _)| partition_order(k));
    o.push_str(
        "<table><thead><tr><th>Partition</th><th class=\"n\">Committed (next offset)</th>\
         <th class=\"n\">Lag</th></tr></thead><tbody>",
    );
    let mut total_lag = 0;
    for (key, p) in rows {
        total_lag += p.lag.unwrap_or(0).max(0);
        let lag = match p.lag {
            Some(0) => "<span class=\"pill good\">0</span>".to_string(),
            Some(n) => format!(
                "<span class=\"pill warn\">{}</span>",
                group(n.max(0) as u64)
            ),
            None => "<span class=\"muted\">–</span>".to_string(),
        };
        write!(
            o,
            "<tr><td><code>{}</code></td><td class=\"n mono\">{}</td><td class=\"n\">{lag}</td></tr>",
            Esc(key),
            p.committed.map_or("–".to_string(), |c| c.to_string())
        )?;
    }
    write!(
        o,
        "</tbody></table><p class=\"hint\">Total lag {} records (as librdkafka last reported).</p></section>",
        group(total_lag as u64)
    )
}

fn dead_letters_card(o: &mut String, v: &StatusView) -> fmt::Result {
    o.push_str("<section class=\"card\" id=\"dead-letters\"><h2>Dead letters</h2>");
    let by_reason = &v.live.dead_letters_by_reason;
    if by_reason.is_empty() {
        o.push_str("<p class=\"muted\">None since the host started.</p></section>");
        return Ok(());
    }
    let max = by_reason.values().copied().max().unwrap_or(1).max(1);
    let mut reasons: Vec<_> = by_reason.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    o.push_str(
        "<table><thead><tr><th>Reason</th><th class=\"n\">Since start</th><th></th></tr></thead><tbody>",
    );
    for (reason, n) in reasons {
        write!(
            o,
            "<tr><td><span class=\"pill bad\">{}</span></td><td class=\"n\">{}</td><td>\
             <svg class=\"hbar\" viewBox=\"0 0 100 8\" preserveAspectRatio=\"none\" aria-hidden=\"true\">\
             <rect width=\"{:.1}\" height=\"8\" rx=\"1\" fill=\"#dc2626\"/></svg></td></tr>",
            Esc(reason),
            group(*n),
            (*n as f64 / max as f64 * 100.0).max(1.0)
        )?;
    }
    o.push_str("</tbody></table><h3>Recent</h3>");
    o.push_str(
        "<table><thead><tr><th>When</th><th>Reason</th><th>Record</th><th>Error</th></tr></thead><tbody>",
    );
    for s in v.live.dead_letter_samples.iter().take(SAMPLES_SHOWN) {
        write!(
            o,
            "<tr><td class=\"nw\" title=\"{}\">{}</td><td class=\"nw\">{}</td><td class=\"nw\"><code>{}</code></td>\
             <td class=\"err mono\">{}</td></tr>",
            stamp(s.at_ms),
            ago(v.now_ms, s.at_ms),
            Esc(&s.reason),
            Esc(&s.source),
            Esc(&s.error)
        )?;
    }
    o.push_str("</tbody></table></section>");
    Ok(())
}

fn versions_card(o: &mut String, v: &StatusView) -> fmt::Result {
    o.push_str("<section class=\"card wide\" id=\"versions\"><h2>Versions</h2>");
    // Stalls name versions by hash; show them as the operator knows them.
    let names: BTreeMap<&str, String> = v
        .versions
        .iter()
        .map(|e| (e.hash.as_str(), format!("{}@{}", e.name, e.version)))
        .collect();
    let name_of = |hash: &str| {
        names
            .get(hash)
            .cloned()
            .unwrap_or_else(|| short(hash).to_string())
    };

    o.push_str("<h3>Kept for rollback (newest first)</h3>");
    if v.previous.is_empty() {
        o.push_str("<p class=\"muted\">None.</p>");
    } else {
        o.push_str("<table><thead><tr><th>#</th><th>Version</th><th>Hash</th><th>Source</th><th>Loaded</th></tr></thead><tbody>");
        for (i, p) in v.previous.iter().enumerate() {
            write!(
                o,
                "<tr><td>{}</td><td><b>{}@{}</b></td><td><code title=\"{}\">{}</code></td><td><code>{}</code></td><td>{} <span class=\"muted\">({})</span></td></tr>",
                i + 1,
                Esc(&p.name),
                Esc(&p.version),
                Esc(&p.hash),
                Esc(short(&p.hash)),
                Esc(&p.source),
                stamp(p.since_ms),
                ago(v.now_ms, p.since_ms)
            )?;
        }
        o.push_str("</tbody></table>");
    }

    o.push_str("<h3>Swap history (newest first)</h3>");
    o.push_str(
        "<table><thead><tr><th>Activated</th><th>Version</th><th>Hash</th><th>Source</th>\
         <th>First offset per partition</th></tr></thead><tbody>",
    );
    let newest = v.versions.len().saturating_sub(1);
    for (i, e) in v.versions.iter().enumerate().rev() {
        write!(
            o,
            "<tr><td>{} <span class=\"muted\">({})</span></td><td><b>{}@{}</b>{}</td>\
             <td><code title=\"{}\">{}</code></td><td><code>{}</code></td><td>",
            stamp(e.activated_at_ms),
            ago(v.now_ms, e.activated_at_ms),
            Esc(&e.name),
            Esc(&e.version),
            if i == newest {
                " <span class=\"pill info\">active</span>"
            } else {
                ""
            },
            Esc(&e.hash),
            Esc(short(&e.hash)),
            Esc(&e.source)
        )?;
        if e.first_offsets.is_empty() {
            // Workers note an activation at its first batch on each partition.
            o.push_str(
                "<span class=\"muted\" title=\"No batch has run under this activation yet\">none yet</span>",
            );
        }
        let mut offsets: Vec<_> = e.first_offsets.iter().collect();
        offsets.sort_by_key(|(k, _)| partition_order(k));
        for (j, (partition, offset)) in offsets.into_iter().enumerate() {
            write!(
                o,
                "{}<code>{}</code>&nbsp;@&nbsp;<code>{offset}</code>",
                if j == 0 { "" } else { ", " },
                Esc(partition)
            )?;
        }
        o.push_str("</td></tr>");
    }
    o.push_str("</tbody></table>");

    o.push_str("<h3>Swap stalls (last old-version batch to first new-version batch)</h3>");
    if v.stalls.is_empty() {
        o.push_str("<p class=\"muted\">No swap yet.</p>");
    } else {
        o.push_str(
            "<table><thead><tr><th>Partition</th><th>From</th><th>To</th><th class=\"n\">Stall</th></tr></thead><tbody>",
        );
        for s in v.stalls.iter().rev().take(STALLS_SHOWN) {
            write!(
                o,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"n\">{:.1} ms</td></tr>",
                Esc(&s.partition),
                Esc(&name_of(&s.from_hash)),
                Esc(&name_of(&s.to_hash)),
                s.millis
            )?;
        }
        o.push_str("</tbody></table>");
        if v.stalls.len() > STALLS_SHOWN {
            write!(
                o,
                "<p class=\"hint\">{} earlier stalls in /api/status.</p>",
                v.stalls.len() - STALLS_SHOWN
            )?;
        }
    }
    o.push_str("</section>");
    Ok(())
}

/// The first 12 hex digits, as the logs and the `plugin_active` metric show a hash.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

fn stamp(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64).map_or_else(
        || "?".into(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

fn clock(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map_or_else(|| "?".into(), |t| t.format("%H:%M:%S").to_string())
}

fn ago(now_ms: u64, at_ms: u64) -> String {
    let s = now_ms.saturating_sub(at_ms) / 1000;
    match s {
        0..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h {} min ago", s / 3600, s % 3600 / 60),
        _ => format!("{} d ago", s / 86_400),
    }
}

/// 1234567 -> "1,234,567".
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rate(per_s: f64) -> String {
    // Enough digits that a trickle of dead letters does not read as 0.0.
    if per_s >= 100.0 {
        group(per_s.round() as u64)
    } else if per_s >= 1.0 || per_s == 0.0 {
        format!("{per_s:.1}")
    } else {
        format!("{per_s:.2}")
    }
}

fn ratio(x: f64) -> String {
    format!("{x:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_pipeline::telemetry::live::{DeadLetterSample, PartitionProgress};

    const NOW_MS: u64 = 1_700_000_000_000;

    fn plugin(name: &str, version: &str, hash: &str) -> PluginView {
        PluginView {
            name: name.into(),
            version: version.into(),
            hash: hash.into(),
            source: "plugins/dist/flatten.wasm".into(),
            since_ms: NOW_MS - 90_000,
        }
    }

    fn up(since_ms: u64) -> DependencyState {
        DependencyState {
            up: true,
            since_ms,
            failures: 0,
            last_error: None,
        }
    }

    fn down(since_ms: u64, failures: u64, error: &str) -> DependencyState {
        DependencyState {
            up: false,
            since_ms,
            failures,
            last_error: Some(error.into()),
        }
    }

    fn view() -> StatusView {
        let entry = |name: &str, version: &str, hash: &str, offsets: &[(&str, i64)]| VersionEntry {
            name: name.into(),
            version: version.into(),
            hash: hash.into(),
            source: "admin upload".into(),
            activation: 0,
            activated_at_ms: NOW_MS - 60_000,
            first_offsets: offsets.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        };
        let now_s = NOW_MS / 1000;
        StatusView {
            now_ms: NOW_MS,
            active: plugin("flatten", "2.0.0", "bbbbbbbbbbbbbbbbbbbb"),
            previous: vec![plugin("flatten", "0.1.0", "aaaaaaaaaaaaaaaaaaaa")],
            versions: vec![
                entry(
                    "flatten",
                    "0.1.0",
                    "aaaaaaaaaaaaaaaaaaaa",
                    &[("t/0", 0), ("t/10", 0), ("t/2", 0)],
                ),
                entry("flatten", "2.0.0", "bbbbbbbbbbbbbbbbbbbb", &[("t/0", 40)]),
            ],
            stalls: vec![Stall {
                partition: "t/0".into(),
                from_hash: "aaaaaaaaaaaaaaaaaaaa".into(),
                to_hash: "bbbbbbbbbbbbbbbbbbbb".into(),
                millis: 12.5,
            }],
            live: LiveSnapshot {
                buckets: vec![
                    Bucket {
                        start: now_s / 10 * 10 - 20,
                        records_in: 30,
                        rows_written: 29,
                        dead_letters: 1,
                        filtered: 0,
                    },
                    // Older than ten minutes: not drawn.
                    Bucket {
                        start: now_s / 10 * 10 - 900,
                        records_in: 1000,
                        ..Bucket::default()
                    },
                ],
                partitions: [("t/10", 7, 0), ("t/2", 5, 3), ("t/0", 40, 0)]
                    .into_iter()
                    .map(|(k, c, l)| {
                        (
                            k.to_string(),
                            PartitionProgress {
                                committed: Some(c),
                                lag: Some(l),
                            },
                        )
                    })
                    .collect(),
                dead_letter_samples: vec![DeadLetterSample {
                    at_ms: NOW_MS - 5_000,
                    reason: "plugin-error".into(),
                    error: "field <script>alert('x')</script> & \"more\"".into(),
                    source: "t/0@3".into(),
                }],
                dead_letters_by_reason: [("plugin-error".to_string(), 1)].into_iter().collect(),
                dependencies: [("kafka".to_string(), up(NOW_MS - 300_000))]
                    .into_iter()
                    .collect(),
            },
            breaker_open: false,
            deploys_enabled: true,
            auto_refresh: true,
            notice: None,
            fleet: None,
            shadow: None,
            shadow_error: None,
        }
    }

    #[test]
    fn the_fleet_card_shows_every_host_and_escapes_their_texts() {
        use sluice_pipeline::fleet::log::{Activation, Answer, Decision, Member, Proposal};
        use sluice_pipeline::fleet::{DeployView, FleetStatus, MemberView};
        let member = |id: &str, host: &str, live: bool| MemberView {
            member: Member {
                member: id.into(),
                host: host.into(),
                pid: 1,
                seq: 2,
                name: "flatten".into(),
                version: "2.0.0".into(),
                hash: "b".repeat(64),
                partitions: vec!["t/0".into(), "t/1".into()],
                lag: 7,
                ready: true,
                admin: None,
                at_ms: NOW_MS,
                shadow: None,
                shadow_error: None,
            },
            last_seen_ms: if live { 1500 } else { 90_000 },
            live,
        };
        let mut v = view();
        v.fleet = Some(FleetStatus {
            shadow: None,
            log: "Kafka topics".into(),
            me: "a-1".into(),
            active: Some(Activation {
                seq: 2,
                proposal: "p2".into(),
                hash: "b".repeat(64),
                name: "flatten".into(),
                version: "2.0.0".into(),
                plugin_config: Default::default(),
                source: "admin upload".into(),
                by: "a-1".into(),
                at_ms: NOW_MS - 5_000,
                restores: None,
            }),
            members: vec![
                member("a-1", "alpha", true),
                member("b-2", "<b>beta</b>", false),
            ],
            recent_deploys: vec![DeployView {
                proposal: Proposal {
                    id: "p3".into(),
                    hash: "c".repeat(64),
                    name: "flatten".into(),
                    version: "3.0.0".into(),
                    size: 1,
                    plugin_config: Default::default(),
                    cql: vec![],
                    source: "admin upload".into(),
                    coordinator: "a-1".into(),
                    at_ms: NOW_MS - 1_000,
                    restores: None,
                },
                decision: Some(Decision {
                    proposal: "p3".into(),
                    activated: None,
                    reason: Some("host alpha rejected it".into()),
                    at_ms: NOW_MS,
                }),
                answers: vec![Answer {
                    proposal: "p3".into(),
                    member: "a-1".into(),
                    host: "alpha".into(),
                    accepted: false,
                    reason: Some("init: <script>x</script>".into()),
                    at_ms: NOW_MS,
                }],
            }],
            lagging: None,
            problems: vec![],
            history: Default::default(),
        });
        // The group's shadow run, with this host's counts and alpha's heartbeat.
        let counts = sluice_pipeline::shadow::ShadowCounts {
            compared: 12,
            different: 10,
            ..Default::default()
        };
        let f = v.fleet.as_mut().unwrap();
        f.members[0].member.shadow = Some(counts.clone());
        f.shadow = Some(sluice_pipeline::fleet::log::ShadowSpec {
            id: "s1".into(),
            hash: "c".repeat(64),
            name: "flatten".into(),
            version: "3.0.0".into(),
            source: "upload".into(),
            sample: 0.1,
            by: "<i>a-1</i>".into(),
            at_ms: NOW_MS,
        });
        v.shadow = Some(sluice_pipeline::shadow::ShadowStatus {
            name: "flatten".into(),
            version: "3.0.0".into(),
            hash: "c".repeat(64),
            source: "upload".into(),
            sample: 0.1,
            started_at_ms: NOW_MS - 1_000,
            counts,
            samples: vec![],
        });
        let html = render(&v);
        assert!(
            html.contains("The group's run, started by <code>&lt;i&gt;a-1&lt;/i&gt;</code>"),
            "{html}"
        );
        assert!(
            html.contains("<b>alpha</b> 12 compared, 10 different;"),
            "{html}"
        );
        assert!(
            !html.contains("beta&lt;/b&gt;</b> not running"),
            "a gone member is not listed"
        );
        assert!(html.contains("id=\"fleet\""), "{html}");
        assert!(html.contains("activation 2 by <code>a-1</code>"), "{html}");
        assert!(html.contains("alpha <span class=\"pill info\">this host</span>"));
        assert!(html.contains("&lt;b&gt;beta&lt;/b&gt;"));
        assert!(html.contains("<span class=\"pill\">gone</span>"));
        assert!(html.contains("init: &lt;script&gt;x&lt;/script&gt;"));
        assert_eq!(html.matches("<script").count(), 1);
    }

    #[test]
    fn a_group_shadow_run_this_host_cannot_load_is_shown_with_why() {
        use sluice_pipeline::fleet::log::{Member, ShadowSpec};
        use sluice_pipeline::fleet::{FleetStatus, MemberView};
        let member = |host: &str, shadow: bool, error: Option<&str>| MemberView {
            member: Member {
                member: format!("{host}-1"),
                host: host.into(),
                pid: 1,
                seq: 2,
                name: "flatten".into(),
                version: "2.0.0".into(),
                hash: "b".repeat(64),
                partitions: vec![],
                lag: 0,
                ready: true,
                admin: None,
                at_ms: NOW_MS,
                shadow: shadow.then(|| sluice_pipeline::shadow::ShadowCounts {
                    compared: 7,
                    different: 3,
                    ..Default::default()
                }),
                shadow_error: error.map(str::to_string),
            },
            last_seen_ms: 500,
            live: true,
        };
        let mut v = view();
        v.fleet = Some(FleetStatus {
            log: "Kafka topics".into(),
            me: "beta-1".into(),
            active: None,
            members: vec![
                member("alpha", true, None),
                member("beta", false, Some("init: no setting <x>")),
            ],
            recent_deploys: vec![],
            lagging: None,
            problems: vec![],
            history: Default::default(),
            shadow: Some(ShadowSpec {
                id: "s1".into(),
                hash: "c".repeat(64),
                name: "flatten".into(),
                version: "3.0.0".into(),
                source: "upload".into(),
                sample: 0.1,
                by: "alpha-1".into(),
                at_ms: NOW_MS,
            }),
        });
        v.shadow_error = Some("init: no setting <x>".into());
        let html = render(&v);
        assert!(html.contains("id=\"shadow\""), "{html}");
        assert!(
            html.contains("The group runs <b>flatten@3.0.0</b>")
                && html.contains("but not this host"),
            "{html}"
        );
        assert!(
            html.contains("This host cannot load the candidate (it tries again every 30 s): init: no setting &lt;x&gt;"),
            "{html}"
        );
        assert!(
            html.contains("<b>alpha</b> 7 compared, 3 different;"),
            "{html}"
        );
        assert!(
            html.contains("<b>beta</b> <span class=\"pill bad\">cannot load it</span> init: no setting &lt;x&gt;;"),
            "{html}"
        );
        // Without a group run, a host that runs none shows no card.
        v.fleet.as_mut().unwrap().shadow = None;
        assert!(!render(&v).contains("id=\"shadow\""));
    }

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            Esc("a<b>&\"c'd").to_string(),
            "a&lt;b&gt;&amp;&quot;c&#39;d"
        );
        assert_eq!(Esc("plain ünïcode").to_string(), "plain ünïcode");
        assert_eq!(Esc("").to_string(), "");
    }

    #[test]
    fn plugin_controlled_text_is_escaped() {
        let mut v = view();
        v.active.name = "<img src=x onerror=alert(1)>".into();
        v.versions[1].name = v.active.name.clone();
        v.active.source = "\"><script>alert(2)</script>".into();
        v.notice = Some(Notice {
            ok: false,
            text: "deploy rejected: init: <script>alert(3)</script>".into(),
        });
        let html = render(&v);
        // The page's own script is the only one.
        assert_eq!(html.matches("<script").count(), 1, "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(html.contains(
            "field &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;"
        ));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"));
        assert!(html.contains("init: &lt;script&gt;alert(3)&lt;/script&gt;"));
    }

    #[test]
    fn shows_versions_partitions_and_dead_letters() {
        let html = render(&view());
        assert!(html.contains("<meta http-equiv=\"refresh\" content=\"5; url=/\">"));
        assert!(html.contains("Roll back to flatten@0.1.0"));
        assert!(html.contains("action=\"/ui/deploy\""));
        // Partitions in numeric order.
        let (p0, p2, p10) = (
            html.find("<code>t/0</code></td>"),
            html.find("<code>t/2</code></td>"),
            html.find("<code>t/10</code></td>"),
        );
        assert!(p0 < p2 && p2 < p10, "{p0:?} {p2:?} {p10:?}");
        assert!(html.contains("t/0@3"));
        assert!(html.contains("12.5 ms"));
        // Only the bucket within ten minutes counts.
        assert!(html.contains("30 in 10 min"), "{html}");
        assert!(
            html.contains("3.33 %"),
            "1 dead letter in 30 records: {html}"
        );
    }

    #[test]
    fn an_unreachable_dependency_gets_a_banner_with_its_error_escaped() {
        let mut v = view();
        v.live.dependencies.insert(
            "cassandra".into(),
            down(
                NOW_MS - 65_000,
                12,
                "<script>alert('db')</script> & \"refused\"",
            ),
        );
        let html = render(&v);
        assert!(
            html.contains(
                "Cassandra is unreachable since 22:12:15 UTC (12 failed attempts): records are held, \
                 nothing is committed or dead-lettered; <span class=\"detail\">last error: \
                 <code>&lt;script&gt;alert(&#39;db&#39;)&lt;/script&gt; &amp; &quot;refused&quot;</code>"
            ),
            "{html}"
        );
        assert_eq!(
            html.matches("<script").count(),
            1,
            "only the page's own: {html}"
        );
        assert!(!html.contains("alert('db')"), "{html}");
        // Near the top: before every card, and named in the header.
        let banner = html.find("role=\"alert\"").unwrap();
        assert!(banner < html.find("id=\"plugin\"").unwrap());
        assert!(html.contains("<span class=\"pill bad\">Cassandra down</span>"));
        // The dependencies line says the same.
        assert!(
            html.contains(
                "<b>Cassandra</b> <span class=\"pill bad\">down</span> <span class=\"muted\" \
                 title=\"2023-11-14 22:12:15 UTC\">since 22:12:15 (1 min ago), 12 failed attempts</span>"
            ),
            "{html}"
        );
        assert!(html.contains("<b>Kafka</b> <span class=\"pill good\">up</span>"));
    }

    #[test]
    fn one_banner_per_outage_and_one_attempt_is_singular() {
        let mut v = view();
        v.live
            .dependencies
            .insert("kafka".into(), down(NOW_MS - 1_000, 1, "all brokers down"));
        v.live.dependencies.insert(
            "registry".into(),
            down(NOW_MS - 2_000, 3, "connection refused"),
        );
        // A name the page does not know is still shown, escaped.
        v.live
            .dependencies
            .insert("<b>dns</b>".into(), down(NOW_MS, 2, "x"));
        let html = render(&v);
        assert_eq!(html.matches("role=\"alert\"").count(), 3, "{html}");
        assert!(html.contains("Kafka is unreachable since 22:13:19 UTC (1 failed attempt):"));
        assert!(html.contains(
            "The schema registry is unreachable since 22:13:18 UTC (3 failed attempts):"
        ));
        assert!(
            html.contains("&lt;b&gt;dns&lt;/b&gt; is unreachable"),
            "{html}"
        );
        assert!(!html.contains("<b>dns</b>"), "{html}");
        // In the pipeline's order: Kafka, then the registry, then the others.
        let (k, r) = (
            html.find("Kafka is unreachable").unwrap(),
            html.find("The schema registry is unreachable").unwrap(),
        );
        assert!(k < r);
    }

    #[test]
    fn no_banner_while_everything_answers() {
        let mut v = view();
        // Came back: live keeps its last error, the page does not show it.
        let mut back = up(NOW_MS - 10_000);
        back.last_error = Some("old news".into());
        v.live.dependencies.insert("cassandra".into(), back);
        let html = render(&v);
        assert!(!html.contains("unreachable"), "{html}");
        assert!(!html.contains("role=\"alert\""));
        assert!(!html.contains("old news"));
        assert!(!html.contains(" down</span>"), "{html}");
        assert!(html.contains("<b>Cassandra</b> <span class=\"pill good\">up</span>"));
        // Never failed, so never reported: the registry's entry says so.
        assert!(html.contains("<b>The schema registry</b> <span class=\"pill info\""));
        assert!(html.contains("no outage seen"));
    }

    #[test]
    fn without_a_token_there_are_no_forms() {
        let mut v = view();
        v.deploys_enabled = false;
        v.auto_refresh = false;
        let html = render(&v);
        assert!(html.contains("disabled: the host has no admin token"));
        assert!(!html.contains("<form"));
        assert!(
            !html.contains("<script") && !html.contains("http-equiv"),
            "no refresh when turned off"
        );
    }

    #[test]
    fn csp_hashes_match_the_inline_style_and_script() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        let csp = content_security_policy();
        assert!(csp.contains(&format!("'sha256-{}'", base64(&Sha256::digest(SCRIPT)))));
        assert!(csp.contains("frame-ancestors 'none'"));
    }

    #[test]
    fn numbers_and_times_read_well() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1234567), "1,234,567");
        assert_eq!(ago(NOW_MS, NOW_MS - 42_000), "42 s ago");
        assert_eq!(
            ago(NOW_MS, NOW_MS - 3 * 3_600_000 - 60_000),
            "3 h 1 min ago"
        );
        assert_eq!(
            ago(NOW_MS, NOW_MS + 5_000),
            "0 s ago",
            "clock skew is not negative"
        );
        assert_eq!(stamp(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(rate(0.0), "0.0");
        assert_eq!(rate(0.04), "0.04");
        assert_eq!(rate(12.34), "12.3");
        assert_eq!(rate(1234.4), "1,234");
    }
}
