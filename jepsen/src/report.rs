//! Results: the checkers' verdicts (the one place that calls them), `summary.json`,
//! `summary.txt` (also printed) and `timeline.svg`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Value};

use crate::history::{Completed, Event, History, Op, OpResult, Outcome};

/// What the runner knows about a run besides its history.
pub struct RunInfo {
    pub nemesis: String,
    pub seed: u64,
    pub time_s: u64,
    pub wall_s: f64,
    pub clients: usize,
    pub leader_readers: usize,
    pub readers: usize,
    pub hosts: usize,
    pub converged_ms: Option<u64>,
}

/// Every checker's verdict as JSON (name, passed, anomalies...) and whether all passed.
/// The only use of the checker API.
pub fn verdicts(history: &History) -> (Vec<Value>, bool) {
    let results = crate::checker::check_all(history);
    let all_valid = !results.is_empty() && results.iter().all(|r| r.passed);
    let values = results.iter().map(|r| serde_json::to_value(r).unwrap_or(Value::Null)).collect();
    (values, all_valid)
}

/// A measurement of one checker's verdict (`None` when the checker did not run).
fn measured(checks: &[Value], checker: &str, name: &str) -> Option<u64> {
    checks.iter().find(|c| c["name"] == checker).and_then(|c| c["measurements"][name].as_u64())
}

#[derive(Default, Debug)]
struct Counts {
    operations: usize,
    writes: usize,
    acknowledged: usize,
    failed: usize,
    unknown: usize,
    reads: usize,
    reads_ok: usize,
    dns_reads_bracketed: usize,
    nemesis_faults: usize,
}

fn counts(history: &History, ops: &[Completed]) -> Counts {
    let mut c = Counts { operations: ops.len(), ..Counts::default() };
    for op in ops {
        match (&op.op, &op.outcome) {
            (Op::Write { .. }, o) => {
                c.writes += 1;
                match o {
                    Outcome::Ok(_) => c.acknowledged += 1,
                    Outcome::Fail(_) => c.failed += 1,
                    Outcome::Info(_) => c.unknown += 1,
                }
            }
            (_, o) => {
                c.reads += 1;
                if let Outcome::Ok(r) = o {
                    c.reads_ok += 1;
                    if matches!(r, OpResult::Read { serial: Some(_), .. }) && matches!(op.op, Op::DnsRead { .. }) {
                        c.dns_reads_bracketed += 1;
                    }
                }
            }
        }
    }
    c.nemesis_faults = history
        .events
        .iter()
        .filter(|e| matches!(e, Event::Nemesis { start: true, name, .. } if name != crate::nemesis::WIPE))
        .count();
    c
}

/// Kills (`kill` and `leader-churn` windows, from the kill to the restart) during which a
/// write was in flight whose request the replicated history holds more than once: (such
/// kills, all kills).
fn kills_with_duplicates(history: &History, ops: &[Completed]) -> (usize, usize) {
    use std::collections::{HashMap, HashSet};
    let mut duplicated: HashSet<&str> = HashSet::new();
    for e in &history.events {
        if let Event::HostHistory { entries, .. } = e {
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for entry in entries {
                if let Some(r) = crate::history::request_of_agent(&entry.user_agent) {
                    *seen.entry(r).or_default() += 1;
                }
            }
            duplicated.extend(seen.into_iter().filter(|(_, n)| *n > 1).map(|(r, _)| r));
        }
    }
    let in_flight: Vec<(u64, u64)> = ops
        .iter()
        .filter(|op| matches!(&op.op, Op::Write { request: Some(r), .. } if duplicated.contains(r.as_str())))
        .map(|op| (op.invoke_ns, op.complete_ns.unwrap_or(u64::MAX)))
        .collect();
    // Each kill's window: from its start to the restart (its stop).
    let mut kills: Vec<(u64, u64)> = Vec::new();
    for e in &history.events {
        match e {
            Event::Nemesis { time_ns, name, start: true, .. } if name == "kill" || name == "leader-churn" => {
                kills.push((*time_ns, u64::MAX))
            }
            Event::Nemesis { time_ns, name, start: false, .. } if name == "kill" || name == "leader-churn" => {
                if let Some(open) = kills.iter_mut().rev().find(|k| k.1 == u64::MAX) {
                    open.1 = *time_ns;
                }
            }
            _ => {}
        }
    }
    let hit = kills.iter().filter(|(s, e)| in_flight.iter().any(|(a, b)| a <= e && s <= b)).count();
    (hit, kills.len())
}

/// Prints the summary and, with `write`, writes it and the timeline into `dir`; true
/// when every checker passed.
pub fn report(dir: &Path, history: &History, info: Option<&RunInfo>, write: bool) -> bool {
    let ops = match history.completed() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("history is malformed: {e}");
            Vec::new()
        }
    };
    let (checks, valid) = verdicts(history);
    let c = counts(history, &ops);
    let duplicates = measured(&checks, "duplicate_request", "duplicated_requests");
    let reverts = measured(&checks, "revert", "reverts");
    let joins = measured(&checks, "joins", "joins").unwrap_or(0);
    let joins_failed = measured(&checks, "joins", "joins_failed").unwrap_or(0);
    let (kills_hit, kills) = kills_with_duplicates(history, &ops);
    let badauth = measured(&checks, "credentials", "badauth");
    let throttled = measured(&checks, "credentials", "throttled").unwrap_or(0);
    let converged_ms = info.and_then(|i| i.converged_ms).or_else(|| {
        history.events.iter().find_map(|e| match e {
            Event::Converged { after_heal_ms, .. } => *after_heal_ms,
            _ => None,
        })
    });
    let summary = json!({
        "nemesis": info.map(|i| i.nemesis.clone()),
        "seed": info.map(|i| i.seed),
        "time_s": info.map(|i| i.time_s),
        "wall_s": info.map(|i| (i.wall_s * 10.0).round() / 10.0),
        "clients": info.map(|i| i.clients),
        "leader_readers": info.map(|i| i.leader_readers),
        "dns_readers": info.map(|i| i.readers),
        "hosts": info.map(|i| i.hosts),
        "operations": c.operations,
        "writes": c.writes,
        "acknowledged": c.acknowledged,
        "failed": c.failed,
        "unknown": c.unknown,
        "reads": c.reads,
        "reads_ok": c.reads_ok,
        "dns_reads_bracketed": c.dns_reads_bracketed,
        "nemesis_faults": c.nemesis_faults,
        "converged_after_heal_ms": converged_ms,
        "duplicates": duplicates,
        "reverts": reverts,
        "joins": joins,
        "joins_failed": joins_failed,
        "badauth": badauth,
        "throttled": throttled,
        "kills": kills,
        "kills_with_duplicate_in_flight": kills_hit,
        "checkers": checks,
        "valid": valid,
    });
    let mut text = String::new();
    let row = |t: &mut String, k: &str, v: String| {
        let _ = writeln!(t, "  {k:<24} {v}");
    };
    let _ = writeln!(text, "quorumdns jepsen run: {}", dir.display());
    if let Some(i) = info {
        row(&mut text, "nemesis", i.nemesis.clone());
        row(&mut text, "seed", i.seed.to_string());
        row(&mut text, "duration", format!("{} s of load ({:.0} s wall)", i.time_s, i.wall_s));
        row(
            &mut text,
            "clients",
            format!(
                "{} writers, {} leader readers, {} DNS readers, {} hosts",
                i.clients, i.leader_readers, i.readers, i.hosts
            ),
        );
    }
    row(&mut text, "operations", c.operations.to_string());
    row(&mut text, "writes", c.writes.to_string());
    row(&mut text, "  acknowledged", c.acknowledged.to_string());
    row(&mut text, "  failed", c.failed.to_string());
    row(&mut text, "  unknown", c.unknown.to_string());
    row(
        &mut text,
        "reads",
        format!("{} ({} ok, {} DNS reads with a stable serial)", c.reads, c.reads_ok, c.dns_reads_bracketed),
    );
    row(&mut text, "nemesis faults", c.nemesis_faults.to_string());
    let or_unchecked = |v: Option<u64>| v.map_or_else(|| "not checked".to_string(), |n| n.to_string());
    row(&mut text, "duplicates", format!("{} requests applied more than once", or_unchecked(duplicates)));
    row(&mut text, "reverts", or_unchecked(reverts));
    row(
        &mut text,
        "badauth",
        format!("{} (and {throttled} writes throttled with 429 after them)", or_unchecked(badauth)),
    );
    if kills > 0 {
        row(
            &mut text,
            "kills",
            format!("{kills} ({kills_hit} with a write in flight, while down, that was applied twice)"),
        );
    }
    if joins > 0 {
        row(&mut text, "joins", format!("{} of {joins} succeeded", joins - joins_failed));
    }
    row(&mut text, "converged after heal", converged_ms.map(|m| format!("{m} ms")).unwrap_or_else(|| "NO".into()));
    let _ = writeln!(
        text,
        "table: | operations | acknowledged | unknown | faults | duplicates | reverts | joins ok | convergence |"
    );
    let _ = writeln!(
        text,
        "table: | {} | {} | {} | {} | {} | {} | {} | {} |",
        c.operations,
        c.acknowledged,
        c.unknown,
        c.nemesis_faults,
        or_unchecked(duplicates),
        or_unchecked(reverts),
        if joins > 0 { format!("{}/{joins}", joins - joins_failed) } else { "-".into() },
        converged_ms.map(|m| format!("{m} ms")).unwrap_or_else(|| "NO".into())
    );
    let _ = writeln!(text, "checkers:");
    for ch in summary["checkers"].as_array().into_iter().flatten() {
        let name = ch["name"].as_str().unwrap_or("?");
        let ok = ch["passed"].as_bool().unwrap_or(false);
        let n = ch["anomaly_count"].as_u64().unwrap_or(0);
        let _ = writeln!(
            text,
            "  {name:<32} {}{}",
            if ok { "ok" } else { "FAIL" },
            if n > 0 { format!(" ({n} anomalies)") } else { String::new() }
        );
        for a in ch["anomalies"].as_array().into_iter().flatten().take(5) {
            let _ = writeln!(text, "      {}", a.as_str().map(String::from).unwrap_or_else(|| a.to_string()));
        }
    }
    let _ = writeln!(text, "verdict: {}", if valid { "VALID" } else { "INVALID" });
    print!("{text}");
    if !write {
        return valid;
    }
    let _ = std::fs::write(dir.join("summary.txt"), &text);
    let _ = std::fs::write(dir.join("summary.json"), serde_json::to_string_pretty(&summary).unwrap_or_default());
    let _ = std::fs::write(dir.join("timeline.svg"), timeline_svg(history, &ops));
    valid
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Throughput (ok/fail/info completions per second) and p50/p99 latency of successful
/// operations per second, with the nemesis windows shaded. Hand-written SVG.
pub fn timeline_svg(history: &History, ops: &[Completed]) -> String {
    let end_s = history.events.last().map(|e| e.time_ns()).unwrap_or(0) as f64 / 1e9;
    let secs = end_s.ceil().max(1.0) as usize;
    let mut ok = vec![0usize; secs + 1];
    let mut fail = vec![0usize; secs + 1];
    let mut info = vec![0usize; secs + 1];
    let mut lat: Vec<Vec<f64>> = vec![Vec::new(); secs + 1];
    for op in ops {
        let Some(done) = op.complete_ns else { continue };
        let s = ((done / 1_000_000_000) as usize).min(secs);
        match op.outcome {
            Outcome::Ok(_) => {
                ok[s] += 1;
                lat[s].push((done - op.invoke_ns) as f64 / 1e6);
            }
            Outcome::Fail(_) => fail[s] += 1,
            Outcome::Info(_) => info[s] += 1,
        }
    }
    let p50: Vec<f64> = lat
        .iter_mut()
        .map(|l| {
            l.sort_by(|a, b| a.total_cmp(b));
            percentile(l, 0.5)
        })
        .collect();
    let p99: Vec<f64> = lat.iter().map(|l| percentile(l, 0.99)).collect();
    // Nemesis windows: each start to the next stop of the same name.
    let mut open: BTreeMap<String, (f64, String)> = BTreeMap::new();
    let mut windows = Vec::new();
    for e in &history.events {
        if let Event::Nemesis { time_ns, name, start, detail } = e {
            let t = *time_ns as f64 / 1e9;
            if *start {
                open.insert(name.clone(), (t, detail.clone()));
            } else if let Some((s, d)) = open.remove(name) {
                windows.push((s, t, format!("{name}: {d}")));
            }
        }
    }
    for (name, (s, d)) in open {
        windows.push((s, end_s, format!("{name}: {d}")));
    }

    let (w, left, right, panel_h, gap, top) = (1000.0, 60.0, 20.0, 200.0, 50.0, 40.0);
    let plot_w = w - left - right;
    let h = top + 2.0 * panel_h + gap + 50.0;
    let x = |t: f64| left + plot_w * t / secs as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let panels = [
        (
            "operations completed per second",
            top,
            vec![
                ("ok", "#2a9d3f", ok.iter().map(|v| *v as f64).collect::<Vec<_>>()),
                ("fail", "#d62728", fail.iter().map(|v| *v as f64).collect()),
                ("info (unknown)", "#ff9900", info.iter().map(|v| *v as f64).collect()),
            ],
        ),
        ("latency of ok operations (ms)", top + panel_h + gap, vec![("p50", "#1f77b4", p50), ("p99", "#9467bd", p99)]),
    ];
    for (title, y0, series) in &panels {
        let max = series.iter().flat_map(|(_, _, v)| v.iter().copied()).fold(1.0f64, f64::max) * 1.1;
        let y = |v: f64| y0 + panel_h - panel_h * v / max;
        for (a, b, label) in &windows {
            let _ = writeln!(
                s,
                r##"<rect x="{:.1}" y="{y0}" width="{:.1}" height="{panel_h}" fill="#888" fill-opacity="0.18"><title>{}</title></rect>"##,
                x(*a),
                (x(*b) - x(*a)).max(1.0),
                xml_escape(label)
            );
        }
        let _ = writeln!(
            s,
            r##"<rect x="{left}" y="{y0}" width="{plot_w}" height="{panel_h}" fill="none" stroke="#333"/>"##
        );
        let _ = writeln!(s, r##"<text x="{left}" y="{}" font-size="13">{title}</text>"##, y0 - 8.0);
        for i in 0..=4 {
            let v = max * i as f64 / 4.0;
            let _ = writeln!(s, r##"<text x="{}" y="{:.1}" text-anchor="end">{v:.0}</text>"##, left - 4.0, y(v) + 4.0);
            let _ = writeln!(
                s,
                r##"<line x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#ddd"/>"##,
                left + plot_w,
                y(v),
                y(v)
            );
        }
        for (n, (name, color, vals)) in series.iter().enumerate() {
            let pts: Vec<String> =
                vals.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", x(i as f64 + 0.5), y(*v))).collect();
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"/>"#,
                pts.join(" ")
            );
            let lx = left + plot_w - 300.0 + 100.0 * n as f64;
            let _ = writeln!(
                s,
                r#"<rect x="{lx}" y="{}" width="12" height="3" fill="{color}"/><text x="{}" y="{}">{name}</text>"#,
                y0 - 14.0,
                lx + 16.0,
                y0 - 10.0
            );
        }
    }
    let axis_y = top + 2.0 * panel_h + gap;
    let step = ((secs as f64 / 10.0).ceil() as usize).max(1);
    for t in (0..=secs).step_by(step) {
        let _ = writeln!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle">{t}s</text>"#, x(t as f64), axis_y + 14.0);
    }
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="{}">shaded: nemesis fault windows (hover for details)</text>"#,
        axis_y + 34.0
    );
    s.push_str("</svg>\n");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
