//! The status page's fleet card (the group's active version, every host of
//! the group, the last deploys with each host's answer) and shadow card.

use super::{ago, short, Esc, StatusView};
use std::fmt::{self, Write};

pub(super) fn fleet_card(o: &mut String, v: &StatusView) -> fmt::Result {
    let Some(f) = &v.fleet else {
        return Ok(());
    };
    o.push_str("<section class=\"card wide\" id=\"fleet\"><h2>Fleet</h2>");
    match &f.active {
        Some(a) => write!(
            o,
            "<p>Group version: <b>{}@{}</b> <code title=\"{}\">{}</code>, activation {} by <code>{}</code> ({}). \
             A deploy sent to any host below reaches all of them.</p>",
            Esc(&a.name),
            Esc(&a.version),
            Esc(&a.hash),
            Esc(short(&a.hash)),
            a.seq,
            Esc(&a.by),
            ago(v.now_ms, a.at_ms)
        )?,
        None => o.push_str("<p class=\"muted\">No activation in the group's log yet.</p>"),
    }
    if let Some(lagging) = &f.lagging {
        write!(
            o,
            "<div class=\"notice err\">This host could not take the group's version: {}</div>",
            Esc(lagging)
        )?;
    }
    o.push_str(
        "<table><thead><tr><th>Host</th><th>Member</th><th>Version</th><th>Partitions</th>\
         <th>Lag</th><th>Last seen</th><th>State</th></tr></thead><tbody>",
    );
    for m in &f.members {
        let state = match (m.live, m.member.ready) {
            (false, _) => "<span class=\"pill\">gone</span>",
            (true, true) => "<span class=\"pill ok\">ready</span>",
            (true, false) => "<span class=\"pill warn\">not ready</span>",
        };
        write!(
            o,
            "<tr><td>{}{}</td><td><code>{}</code></td><td>{}@{} <span class=\"muted\">(activation {})</span></td>\
             <td>{}</td><td>{}</td><td>{:.1} s ago</td><td>{}</td></tr>",
            Esc(&m.member.host),
            if m.member.member == f.me { " <span class=\"pill info\">this host</span>" } else { "" },
            Esc(&m.member.member),
            Esc(&m.member.name),
            Esc(&m.member.version),
            m.member.seq,
            Esc(&m.member.partitions.join(", ")),
            m.member.lag,
            m.last_seen_ms as f64 / 1e3,
            state
        )?;
    }
    o.push_str("</tbody></table>");
    if !f.recent_deploys.is_empty() {
        o.push_str(
            "<h3>Recent deploys (newest first)</h3><table><thead><tr><th>Proposed</th><th>Version</th>\
             <th>Outcome</th><th>Answers</th></tr></thead><tbody>",
        );
        for d in &f.recent_deploys {
            let outcome = match &d.decision {
                Some(dec) => match dec.activated {
                    Some(seq) => format!("<span class=\"pill ok\">activation {seq}</span>"),
                    None => format!(
                        "<span class=\"pill err\">rejected</span> {}",
                        Esc(dec.reason.as_deref().unwrap_or(""))
                    ),
                },
                None => "<span class=\"pill warn\">waiting for answers</span>".to_string(),
            };
            let answers: Vec<String> = d
                .answers
                .iter()
                .map(|a| {
                    format!(
                        "{} {}{}",
                        Esc(&a.host),
                        if a.accepted { "✓" } else { "✗" },
                        a.reason
                            .as_deref()
                            .map(|r| format!(": {}", Esc(r)))
                            .unwrap_or_default()
                    )
                })
                .collect();
            write!(
                o,
                "<tr><td>{}</td><td><b>{}@{}</b> <span class=\"muted\">from {}</span></td><td>{}</td><td>{}</td></tr>",
                ago(v.now_ms, d.proposal.at_ms),
                Esc(&d.proposal.name),
                Esc(&d.proposal.version),
                Esc(&d.proposal.source),
                outcome,
                answers.join("<br>")
            )?;
        }
        o.push_str("</tbody></table>");
    }
    for (tool, s) in &f.history {
        let n = |k: &str| s[k].as_u64().unwrap_or(0);
        let sum = |k: &str| {
            s[k].as_object()
                .map(|m| m.values().filter_map(|v| v.as_u64()).sum::<u64>())
                .unwrap_or(0)
        };
        write!(
            o,
            "<p>Last <code>host {}</code> ({}, {}): {} read, {} written ({} rows), {} filtered, {} dead-lettered, {} skipped{}.</p>",
            if tool == "replay" { "dlq replay" } else { "reprocess" },
            Esc(s["plugin"].as_str().unwrap_or("?")),
            ago(v.now_ms, s["at_ms"].as_u64().unwrap_or(0)),
            n("read"),
            n("written"),
            n("rows"),
            n("filtered"),
            sum("dead_lettered"),
            sum("skipped"),
            if s["interrupted"].as_bool() == Some(true) { ", interrupted (run it again to go on)" } else { "" }
        )?;
    }
    for p in &f.problems {
        write!(
            o,
            "<p class=\"muted\">Skipped control record: {}</p>",
            Esc(p)
        )?;
    }
    o.push_str("</section>");
    Ok(())
}

pub(super) fn shadow_card(o: &mut String, v: &StatusView) -> fmt::Result {
    let group = v
        .fleet
        .as_ref()
        .and_then(|f| f.shadow.as_ref().map(|g| (f, g)));
    let Some(s) = &v.shadow else {
        // The group runs one that this host could not load: say so here,
        // or the only sign of it is an ERROR line in this host's log.
        if let Some((f, spec)) = group {
            write!(
                o,
                "<section class=\"card wide\" id=\"shadow\"><h2>Shadow run</h2>\
                 <p>The group runs <b>{}@{}</b> <code title=\"{}\">{}</code> in the shadow of the \
                 active version (started by <code>{}</code>), but not this host.</p>",
                Esc(&spec.name),
                Esc(&spec.version),
                Esc(&spec.hash),
                Esc(short(&spec.hash)),
                Esc(&spec.by)
            )?;
            if let Some(e) = &v.shadow_error {
                write!(
                    o,
                    "<div class=\"notice err\">This host cannot load the candidate (it tries again \
                     every 30 s): {}</div>",
                    Esc(e)
                )?;
            }
            members_shadow(o, f)?;
            o.push_str("</section>");
        }
        return Ok(());
    };
    let c = &s.counts;
    write!(
        o,
        "<section class=\"card wide\" id=\"shadow\"><h2>Shadow run</h2>\
         <p><b>{}@{}</b> <code title=\"{}\">{}</code> sees {:.0}% of the records and writes nothing \
         (since {}). Promote with <code>host plugin promote</code>, stop with <code>host plugin discard</code>.</p>\
         <p>{} compared: {} same, <b>{} different</b>, {} candidate failed, {} candidate filtered, \
         {} active failed, {} skipped.</p>",
        Esc(&s.name),
        Esc(&s.version),
        Esc(&s.hash),
        Esc(short(&s.hash)),
        s.sample * 100.0,
        ago(v.now_ms, s.started_at_ms),
        c.compared,
        c.same,
        c.different,
        c.candidate_failed,
        c.candidate_filtered,
        c.active_failed,
        c.skipped
    )?;
    if let Some((f, spec)) = group {
        write!(
            o,
            "<p>The group's run, started by <code>{}</code>: every member runs it on its own \
             partitions; the counts above and the samples below are this host's.</p>",
            Esc(&spec.by)
        )?;
        members_shadow(o, f)?;
    }
    if !s.samples.is_empty() {
        o.push_str(
            "<table><thead><tr><th>Record</th><th>Kind</th><th>Column</th><th>Active</th>\
             <th>Candidate</th></tr></thead><tbody>",
        );
        for d in &s.samples {
            if d.columns.is_empty() {
                write!(
                    o,
                    "<tr><td><code>{}</code></td><td>{}</td><td colspan=\"3\">{}</td></tr>",
                    Esc(&d.record),
                    d.kind,
                    Esc(d.detail.as_deref().unwrap_or(""))
                )?;
            }
            for col in &d.columns {
                write!(
                    o,
                    "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    Esc(&d.record),
                    d.kind,
                    Esc(&col.column),
                    Esc(col.active.as_deref().unwrap_or("(none)")),
                    Esc(col.candidate.as_deref().unwrap_or("(none)"))
                )?;
            }
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>");
    Ok(())
}

/// Each live member's counts of the group's shadow run, or why it does not run it.
fn members_shadow(o: &mut String, f: &sluice_pipeline::fleet::FleetStatus) -> fmt::Result {
    o.push_str("<p>Per live member:");
    for m in f.members.iter().filter(|m| m.live) {
        let host = Esc(&m.member.host);
        match (&m.member.shadow, &m.member.shadow_error) {
            (Some(mc), _) => write!(
                o,
                " <b>{host}</b> {} compared, {} different;",
                mc.compared, mc.different
            )?,
            (None, Some(e)) => write!(
                o,
                " <b>{host}</b> <span class=\"pill bad\">cannot load it</span> {};",
                Esc(e)
            )?,
            (None, None) => write!(o, " <b>{host}</b> not running it;")?,
        }
    }
    o.push_str("</p>");
    Ok(())
}
