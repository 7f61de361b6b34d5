//! A rolling upgrade under write load: a 3-node cluster of the previous release (format
//! 1, built by tests/upgrade-base.sh from the repository's history) is upgraded to this
//! tree's binary one node at a time while a writer keeps changing records through every
//! node. While old and new binaries run together the cluster keeps writing format 1
//! (the new nodes write their snapshots and entries so that the old ones read them, and
//! refuse what only a newer format expresses: a name with escapes, format 3); once the
//! last node runs the new binary, the leader raises the cluster to this build's format,
//! requests carry ids and such names are taken. Nothing acknowledged may be lost on the
//! way, and a host registered under the old release keeps working.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::node::base_binary;
use crate::support::{eventually, eventually_every, Cluster, Node, TOKEN, WAIT, ZONE};

/// Acknowledged writes: (name, address).
type Acked = Arc<Mutex<Vec<(String, String)>>>;

/// Writes a fresh name through the nodes in turn until `stop`; keeps what was acknowledged.
fn start_writer(nodes: Vec<SocketAddr>, stop: Arc<AtomicBool>) -> (Acked, tokio::task::JoinHandle<usize>) {
    let acked: Acked = Arc::default();
    let sink = acked.clone();
    let task = tokio::spawn(async move {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
        let mut attempts = 0usize;
        while !stop.load(Ordering::SeqCst) {
            let i = attempts;
            attempts += 1;
            let (name, addr) = (format!("u{i}"), format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255));
            let node = nodes[i % nodes.len()];
            let url = format!("http://{node}/api/v1/zones/{ZONE}/records/{name}/A");
            let sent = client.put(url).bearer_auth(TOKEN).json(&json!({"ttl": 60, "data": [addr]})).send().await;
            match sent {
                Ok(r) if r.status().is_success() => sink.lock().expect("lock").push((name, addr)),
                // Refused (503 while a node restarts), unknown outcome or no connection:
                // not acknowledged, so nothing is expected of it.
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        attempts
    });
    (acked, task)
}

fn acked_count(acked: &Acked) -> usize {
    acked.lock().expect("lock").len()
}

/// Waits until `n` more writes than now were acknowledged.
async fn more_writes(acked: &Acked, n: usize, what: &str) {
    let target = acked_count(acked) + n;
    eventually(format!("{n} more acknowledged writes ({what})"), WAIT, async || {
        (acked_count(acked) >= target).then_some(())
    })
    .await;
}

/// This build's data format, which the cluster reaches once every member runs it.
const NEWEST: u64 = quorumdns::codec::FORMAT_VERSION as u64;
/// A name only format 3 expresses (RFC 2181 11: any octet in a label).
const ESCAPED: &str = "dot\\.label";

/// Puts an A record at `name` through `node`: the HTTP status and body.
async fn put_a(node: &Node, name: &str, addr: &str) -> (u16, Value) {
    let path = format!("/api/v1/zones/{ZONE}/records/{}/A", name.replace('\\', "%5C"));
    node.api(Method::PUT, &path, Some(json!({"ttl": 60, "data": [addr]}))).await
}

async fn format_version(node: &Node) -> Option<u64> {
    let (s, v) = node.api(Method::GET, "/api/v1/cluster", None).await;
    (s == 200).then(|| v["format_version"].as_u64()).flatten()
}

/// The A records of the zone as one node's API lists them: name -> addresses.
async fn records(node: &Node) -> std::collections::BTreeMap<String, Vec<String>> {
    let (s, v) = node.api(Method::GET, &format!("/api/v1/zones/{ZONE}/records?type=A&stale=true"), None).await;
    assert_eq!(s, 200, "{v}");
    let list = v["records"].as_array().or_else(|| v.as_array()).cloned().unwrap_or_default();
    list.iter()
        .filter(|r| r["type"] == "A")
        .map(|r| {
            let name = r["name"].as_str().unwrap_or_default().trim_end_matches('.').to_string();
            let data = r["data"].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect();
            (name, data)
        })
        .collect()
}

async fn nic_update(node: &Node, host: &str, secret: &str, ip: &str) -> String {
    let url = node.url(&format!("/nic/update?hostname={host}&myip={ip}"));
    let resp = reqwest::Client::new().get(url).basic_auth(host, Some(secret)).send().await.expect("http");
    resp.text().await.expect("body").trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_upgrades_one_node_at_a_time_under_write_load_and_loses_nothing() {
    let base = base_binary();
    let mut c = Cluster::builder(3)
        .binary(&base)
        .snapshot_every(40)
        .configure(|c| c.dyndns.min_update_interval_secs = Some(0))
        .start()
        .await;

    // The previous release does not report a data format at all.
    assert_eq!(format_version(c.node(0)).await, None, "node 1 runs the previous release");

    // A dynamic host registered under the old release.
    let host = format!("up.{ZONE}");
    let (s, v) = c.node(0).api(Method::GET, &format!("/nic/register?fqdn={host}"), None).await;
    assert!(s == 200 || s == 201, "register: {v}");
    let secret = v["host"]["update_secret"].as_str().expect("secret").to_string();
    assert_eq!(nic_update(c.node(1), &host, &secret, "192.0.2.10").await, "good 192.0.2.10");

    let stop = Arc::new(AtomicBool::new(false));
    let addrs: Vec<SocketAddr> = c.specs.iter().map(|s| s.http()).collect();
    let (acked, writer) = start_writer(addrs, stop.clone());
    more_writes(&acked, 30, "old release").await;

    for (step, i) in [1usize, 2, 0].into_iter().enumerate() {
        c.terminate(i);
        more_writes(&acked, 10, "one node down").await;
        c.restart(i);
        more_writes(&acked, 30, "after the restart on the new binary").await;
        if step < 2 {
            // Old members remain: the cluster must keep writing format 1, and a name the old
            // release cannot read is refused, not written.
            assert_eq!(format_version(c.node(i)).await, Some(1), "format raised while old members run");
            let (s, v) = put_a(c.node(i), ESCAPED, "192.0.2.99").await;
            assert_eq!(s, 422, "{v}");
            assert!(v.to_string().contains("data format 3"), "{v}");
        }
    }
    // Every member runs the new binary: the leader raises the cluster to this build's format.
    for i in 0..3 {
        let node = c.node(i);
        eventually(format!("format {NEWEST} on node {}", i + 1), WAIT, async || {
            (format_version(node).await == Some(NEWEST)).then_some(())
        })
        .await;
    }
    more_writes(&acked, 30, "newest format").await;
    let (s, v) = put_a(c.node(0), ESCAPED, "192.0.2.99").await;
    assert_eq!(s, 200, "a name with an escape once every member reads it: {v}");
    // A restart reads the newest format's log and snapshots back.
    c.kill9(2);
    more_writes(&acked, 10, "node 3 down").await;
    c.restart(2);
    more_writes(&acked, 10, "node 3 back").await;
    stop.store(true, Ordering::SeqCst);
    let attempts = writer.await.expect("writer");

    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= 150, "{} of {attempts} writes acknowledged", acked.len());
    let serial = c.converged_serial().await;
    for i in 0..3 {
        let node = c.node(i);
        let have =
            eventually_every(format!("node {} caught up", i + 1), WAIT, Duration::from_millis(200), async || {
                let have = records(node).await;
                let missing = acked.iter().filter(|(n, a)| have.get(&format!("{n}.{ZONE}")) != Some(&vec![a.clone()]));
                match missing.count() {
                    0 => Ok(have),
                    m => Err(format!("{m} acknowledged writes missing")),
                }
            })
            .await;
        assert!(have.len() >= acked.len());
    }
    // DNS answers them too (a sample, every node).
    for (name, addr) in acked.iter().step_by(25) {
        for i in 0..3 {
            let got = c.node(i).dig(&[&format!("{name}.{ZONE}"), "A"]).answer_data("A");
            assert_eq!(got, vec![addr.clone()], "{name} on node {} at serial {serial}", i + 1);
        }
    }
    for i in 0..3 {
        let d = c.node(i).dig(&[&format!("{ESCAPED}.{ZONE}"), "A"]);
        assert_eq!(d.answer_data("A"), vec!["192.0.2.99".to_string()], "node {}\n{}", i + 1, d.raw);
    }
    // The host registered under the old release still updates, through every node.
    for (i, ip) in ["192.0.2.11", "192.0.2.12", "192.0.2.13"].iter().enumerate() {
        assert_eq!(nic_update(c.node(i), &host, &secret, ip).await, format!("good {ip}"));
    }
}
