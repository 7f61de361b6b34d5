//! deploy/ is checked by tools, not only written: promtool for the alert rules and the
//! scrape config, the dashboard's and the alerts' metric names against src/metrics.rs,
//! systemd-analyze for the unit, YAML parsers for compose and Kubernetes, and every
//! metric constant described in docs/metrics.md.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::binary;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

/// The metric names src/metrics.rs declares (without the `quorumdns_` prefix).
fn declared_metrics() -> BTreeSet<String> {
    read("src/metrics.rs")
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("pub(crate) const ")
                .or_else(|| l.trim().strip_prefix("pub const "))?
                .split_once(": &str = \"")?
                .1
                .split('"')
                .next()
                .map(String::from)
        })
        .collect()
}

/// Every `quorumdns_*` metric a text refers to, as a declared name (histogram series
/// suffixes removed).
fn referenced_metrics(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("quorumdns_") {
        let tail = &rest[i + "quorumdns_".len()..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        let mut name = tail[..end].to_string();
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(s) = name.strip_suffix(suffix) {
                name = s.to_string();
            }
        }
        out.insert(name);
        rest = &tail[end..];
    }
    out
}

fn assert_all_declared(text: &str, what: &str) {
    let declared = declared_metrics();
    let referenced = referenced_metrics(text);
    assert!(!referenced.is_empty(), "{what} queries no quorumdns metric");
    // Process metrics come from the prometheus crate's process collector.
    let unknown: Vec<&String> =
        referenced.iter().filter(|m| !declared.contains(*m) && !m.starts_with("process_")).collect();
    assert!(unknown.is_empty(), "{what} uses metrics that src/metrics.rs does not declare: {unknown:?}");
}

#[test]
fn alert_rules_and_scrape_config_pass_promtool() {
    let dir = root().join("deploy/prometheus");
    run_ok(Command::new("promtool").args(["check", "rules"]).arg(dir.join("alerts.yml")), "promtool check rules");
    run_ok(Command::new("promtool").args(["check", "config"]).arg(dir.join("prometheus.yml")), "promtool check config");
    assert_all_declared(&read("deploy/prometheus/alerts.yml"), "alerts.yml");
    let alerts = read("deploy/prometheus/alerts.yml");
    for needed in ["NoLeader", "ApplyLag", "StaleNode", "UpdateErrorRatio", "ServfailRatio"] {
        assert!(alerts.contains(needed), "alerts.yml has no {needed} alert");
    }
}

#[test]
fn the_dashboard_parses_and_queries_only_declared_metrics() {
    let text = read("deploy/grafana/quorumdns.json");
    let dash: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON parses");
    let exprs: Vec<&str> = dash["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["expr"].as_str())
        .collect();
    assert!(exprs.len() >= 10, "only {} queries", exprs.len());
    assert_all_declared(&exprs.join("\n"), "the dashboard");
}

#[test]
fn every_metric_is_described_in_docs_metrics_md() {
    let doc = read("docs/metrics.md");
    let missing: Vec<String> =
        declared_metrics().into_iter().filter(|m| !doc.contains(&format!("quorumdns_{m}"))).collect();
    assert!(missing.is_empty(), "docs/metrics.md does not describe {missing:?}");
}

fn python_yaml_loads(path: &Path) -> String {
    let script = "import sys, yaml\nprint(' '.join(str(d.get('kind', 'doc')) for d in yaml.safe_load_all(open(sys.argv[1])) if d))";
    run_ok(Command::new("python3").args(["-c", script]).arg(path), &format!("parse {}", path.display()))
}

#[test]
fn compose_and_kubernetes_manifests_parse() {
    let kinds = python_yaml_loads(&root().join("deploy/kubernetes/quorumdns.yaml"));
    for kind in ["StatefulSet", "Service", "PodDisruptionBudget"] {
        assert!(kinds.contains(kind), "no {kind} in deploy/kubernetes: {kinds}");
    }
    python_yaml_loads(&root().join("deploy/compose.yaml"));
    for i in 1..=3 {
        let path = root().join(format!("deploy/compose/node{i}.toml"));
        run_ok(Command::new(binary()).args(["check-config", "--config"]).arg(&path), "check-config");
    }
}

#[test]
fn the_systemd_unit_verifies_and_its_example_config_loads() {
    run_ok(
        Command::new(binary()).args(["check-config", "--config"]).arg(root().join("deploy/systemd/quorumdns.toml")),
        "check-config",
    );
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        eprintln!("systemd-analyze not installed: unit not verified");
        return;
    }
    // Verify a copy whose ExecStart points at the binary under test (verify checks it exists).
    let dir = tempfile::tempdir().unwrap();
    let unit =
        read("deploy/systemd/quorumdns.service").replace("/usr/local/bin/quorumdns", &binary().display().to_string());
    let path = dir.path().join("quorumdns.service");
    std::fs::write(&path, unit).unwrap();
    let text = run_ok(Command::new("systemd-analyze").arg("verify").arg(&path), "systemd-analyze verify");
    assert!(!text.contains("quorumdns.service:"), "systemd-analyze complains:\n{text}");
}
