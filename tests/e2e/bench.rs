//! Measurements, not assertions: update latency and throughput through a 3-node loopback
//! cluster (to the leader and to followers) with the record API, and the time from the
//! acknowledgment until all three nodes answer the new address. Run with a release binary:
//! `cluster/bench/run.sh` (or `QUORUMDNS_BIN=target/release/quorumdns cargo test --release
//! --test e2e bench -- --ignored --nocapture`).

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Cluster, TOKEN, ZONE};

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(label: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{label:<48} n={:<5} p50={:>8.2} ms  p99={:>8.2} ms  max={:>8.2} ms",
        v.len(),
        pct(&v, 0.5).as_secs_f64() * 1e3,
        pct(&v, 0.99).as_secs_f64() * 1e3,
        v.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
}

fn addr_of(i: u32) -> [u8; 4] {
    [10, 77, (i / 256 % 256) as u8, (i % 256) as u8]
}

async fn put(http: &reqwest::Client, node: SocketAddr, name: &str, ip: [u8; 4]) -> bool {
    let url = format!("http://{node}/api/v1/zones/{ZONE}/records/{name}/A");
    let body = json!({"ttl": 60, "data": [format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])]});
    matches!(http.put(url).bearer_auth(TOKEN).json(&body).send().await, Ok(r) if r.status() == 200)
}

/// A raw DNS A query; true when the answer carries `ip` (rdlength 4 + the address bytes).
fn answers(sock: &UdpSocket, server: SocketAddr, qname: &str, ip: [u8; 4]) -> bool {
    let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in qname.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    if sock.send_to(&q, server).is_err() {
        return false;
    }
    let mut buf = [0u8; 1500];
    let Ok((n, _)) = sock.recv_from(&mut buf) else { return false };
    let needle = [0, 4, ip[0], ip[1], ip[2], ip[3]];
    buf[..n].windows(6).any(|w| w == needle)
}

async fn sequential(c: &Cluster, target: &[usize], n: u32, base: u32, label: &str) {
    let http = reqwest::Client::new();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("udp");
    sock.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let dns: Vec<SocketAddr> = c.live().iter().map(|i| c.node(*i).dns).collect();
    let (mut lat, mut vis) = (Vec::new(), Vec::new());
    for k in 0..n {
        let node = c.node(target[k as usize % target.len()]).http;
        let name = format!("b{}", k % 64);
        let ip = addr_of(base + k);
        let t0 = Instant::now();
        assert!(put(&http, node, &name, ip).await, "update failed");
        let acked = Instant::now();
        lat.push(acked - t0);
        let fqdn = format!("{name}.{ZONE}");
        for server in &dns {
            while !answers(&sock, *server, &fqdn, ip) {}
        }
        vis.push(acked.elapsed());
    }
    summary(&format!("{label}: update latency (sequential)"), lat);
    summary(&format!("{label}: ack -> all {} nodes answer", dns.len()), vis);
}

async fn throughput(c: &Cluster, target: &[usize], total: u32, clients: u32, base: u32, label: &str) {
    let http = reqwest::Client::new();
    let nodes: Arc<Vec<SocketAddr>> = Arc::new(target.iter().map(|i| c.node(*i).http).collect());
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..clients {
        let (http, nodes) = (http.clone(), nodes.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for k in (w..total).step_by(clients as usize) {
                let t = Instant::now();
                let ok = put(&http, nodes[k as usize % nodes.len()], &format!("t{w}"), addr_of(base + k)).await;
                assert!(ok, "update failed");
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("client task"));
    }
    let secs = t0.elapsed().as_secs_f64();
    println!("{label:<48} {total} updates, {clients} clients: {:>8.0} updates/s", f64::from(total) / secs);
    summary(&format!("{label}: latency under load"), lat);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run with a release binary, --ignored --nocapture"]
async fn bench_updates_through_a_three_node_cluster() {
    // BENCH_NODES (default 3) sets the cluster size, BENCH_CLIENTS the client counts of the
    // throughput runs (comma-separated, default 32).
    let env = |k: &str| std::env::var(k).ok();
    let nodes: u64 = env("BENCH_NODES").and_then(|s| s.parse().ok()).unwrap_or(3);
    let clients: Vec<u32> =
        env("BENCH_CLIENTS").unwrap_or_else(|| "32".into()).split(',').filter_map(|s| s.trim().parse().ok()).collect();
    let c = Cluster::start(nodes, 10_000).await;
    let leader = c.leader().await;
    let followers: Vec<usize> = c.live().into_iter().filter(|i| *i != leader).collect();
    let n: u32 = env("BENCH_N").and_then(|s| s.parse().ok()).unwrap_or(500);
    println!("{nodes} nodes");
    sequential(&c, &[leader], n, 0, "to leader").await;
    sequential(&c, &followers, n, 10_000, "to followers").await;
    for (k, cl) in clients.iter().enumerate() {
        let base = 20_000 + 100_000 * k as u32;
        throughput(&c, &[leader], n * 4, *cl, base, "to leader").await;
        throughput(&c, &followers, n * 4, *cl, base + 50_000, "to followers").await;
    }
}
