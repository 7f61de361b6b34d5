//! What every e2e topic module shares, and the only place they import helpers from:
//! starting nodes and clusters ([`node`], [`cluster`]) from a typed configuration
//! ([`config`]), dig with typed results ([`dig`]), waiting for conditions ([`wait`]),
//! the real client programs ([`clients`]), other DNS servers ([`daemon`]) and raw RFC 2136
//! messages ([`update`]).
//! Topic modules never import from each other.

use std::time::Duration;

pub(crate) mod clients;
pub(crate) mod cluster;
pub(crate) mod config;
pub(crate) mod daemon;
pub(crate) mod dig;
pub(crate) mod node;
pub(crate) mod update;
pub(crate) mod wait;

pub(crate) use cluster::{add_tsig_keys, set_a, Cluster, Spec};
pub(crate) use config::{NodeConfig, Zone};
pub(crate) use dig::{dig, Dig, Flags, Rcode};
pub(crate) use node::{add, binary, free_port, Node};
pub(crate) use wait::{eventually, eventually_every};

/// The admin bearer token every test node gets (`QUORUMDNS_ADMIN_TOKEN`).
pub(crate) const TOKEN: &str = "test-admin-token-0123456789";
/// The zone every test node serves (the `serve --dev` zone).
pub(crate) const ZONE: &str = "dyn.example.test";
/// How long a cluster gets to converge, elect or catch up.
pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// Topic modules import shared helpers from `support` only, never from each other: a
/// helper two topics need moves here.
#[test]
fn topic_modules_import_only_from_support() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e");
    let mut offending = Vec::new();
    for entry in std::fs::read_dir(dir).expect("tests/e2e").map_while(Result::ok) {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") || path.ends_with("main.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a topic module");
        for (n, line) in text.lines().enumerate() {
            if line.split("crate::").skip(1).any(|rest| !rest.starts_with("support")) {
                offending.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(offending.is_empty(), "topic modules importing from each other:\n{}", offending.join("\n"));
}
