//! Real secondaries (BIND `named`, Knot `knotd`) fed by a quorumdns node: NOTIFY, then
//! IXFR for small changes, AXFR for a 100k-record zone; the transfer ACL and TSIG with
//! dig. The daemons run in the foreground as child processes with a temp dir and
//! ephemeral ports; tests/run.sh installs them (Debian: bind9, knot).
//!
//! The primaries are a list so the same configs serve one node and a 3-node cluster
//! (every node a primary, the last test).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::support::config::{ClusterSection, DyndnsSection, NodeSection, TsigKey};
use crate::support::daemon::Daemon;
use crate::support::dig::soa_serial;
use crate::support::{dig, eventually, free_port, Cluster, Node, NodeConfig, Zone, TOKEN, ZONE};

const KEY_B64: &str = "c2VjcmV0LXhmci1rZXktZm9yLXRlc3RzLTAxMjM0NTY3";
const WRONG_B64: &str = "d3Jvbmctc2VjcmV0LWZvci10ZXN0cy0wMTIzNDU2Nzg5";

fn named(dir: &Path, primaries: &[SocketAddr]) -> Daemon {
    let port = free_port();
    let d = dir.display();
    let prim: String = primaries.iter().map(|p| format!("{} port {}; ", p.ip(), p.port())).collect();
    let conf = format!(
        r#"options {{
  directory "{d}"; pid-file "{d}/named.pid"; session-keyfile "{d}/session.key";
  managed-keys-directory "{d}"; listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }};
  recursion no; dnssec-validation no; notify no; allow-transfer {{ any; }};
}};
controls {{ }};
zone "{ZONE}" {{ type secondary; primaries {{ {prim}}}; file "{d}/zone.db"; }};
"#
    );
    let path = dir.join("named.conf");
    std::fs::write(&path, conf).unwrap();
    // -d 3: xfrin says "got incremental response" for an IXFR at debug level 3.
    Daemon::spawn("named", &["-g", "-d", "3", "-n", "1", "-c", path.to_str().unwrap()], ([127, 0, 0, 1], port).into())
}

fn knotd(dir: &Path, primaries: &[SocketAddr]) -> Daemon {
    let port = free_port();
    let d = dir.display();
    let prim: Vec<String> = primaries.iter().map(|p| format!("{}@{}", p.ip(), p.port())).collect();
    let conf = format!(
        r#"server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
log:
  - target: stderr
    any: info
database:
    storage: "{d}"
remote:
  - id: primary
    address: [{prim}]
acl:
  - id: notify_from_primary
    address: 127.0.0.0/8
    action: notify
  - id: transfer_out
    address: 127.0.0.0/8
    action: transfer
template:
  - id: default
    storage: "{d}"
    file: "%s.zone"
zone:
  - domain: {ZONE}
    master: primary
    acl: [notify_from_primary, transfer_out]
"#,
        prim = prim.join(", ")
    );
    let path = dir.join("knot.conf");
    std::fs::write(&path, conf).unwrap();
    Daemon::spawn("knotd", &["-c", path.to_str().unwrap()], ([127, 0, 0, 1], port).into())
}

/// One primary with its data in `dir`, quick elections, the transfer key `xfr-key` and
/// the test zone.
fn node_config(dir: &Path) -> NodeConfig {
    NodeConfig {
        node: NodeSection { id: 1, data_dir: dir.to_path_buf(), ..NodeSection::default() },
        cluster: ClusterSection {
            heartbeat_ms: Some(100),
            election_timeout_min_ms: Some(300),
            election_timeout_max_ms: Some(600),
            // A debug build applying a 100k-record import on a loaded 2-core machine needs
            // more than the default 5 s.
            write_timeout_ms: Some(60_000),
            ..ClusterSection::default()
        },
        tsig_keys: vec![TsigKey { name: "xfr-key".into(), algorithm: "hmac-sha256".into(), secret: KEY_B64.into() }],
        zones: vec![Zone::test()],
        dyndns: DyndnsSection { public_url: Some(format!("https://update.{ZONE}")), ..DyndnsSection::default() },
        ..NodeConfig::default()
    }
}

async fn set_secondaries(node: &Node, notify: &[SocketAddr]) {
    let body =
        json!({"allow_transfer": ["127.0.0.0/8"], "notify": notify.iter().map(|a| a.to_string()).collect::<Vec<_>>()});
    let (s, b) = node.api(Method::PUT, &format!("/api/v1/zones/{ZONE}/secondaries"), Some(body)).await;
    assert_eq!(s, 200, "{b}");
}

/// `dig AXFR` output lines that are records (not comments).
fn axfr_records(server: SocketAddr, extra: &[&str]) -> (Vec<String>, String) {
    let out = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string(), "+tcp", "+time=10", "+tries=1", "AXFR", ZONE])
        .args(extra)
        .output()
        .expect("dig runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let records = text.lines().filter(|l| !l.starts_with(';') && !l.trim().is_empty()).map(String::from).collect();
    (records, text)
}

#[tokio::test(flavor = "multi_thread")]
async fn bind_and_knot_follow_changes_by_notify_and_ixfr() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_config(&node_config(dir.path()));
    let primaries = [node.dns];
    let (bdir, kdir) = (dir.path().join("bind"), dir.path().join("knot"));
    std::fs::create_dir_all(&bdir).unwrap();
    std::fs::create_dir_all(&kdir).unwrap();
    set_secondaries(&node, &[]).await;
    let bind = named(&bdir, &primaries);
    let knot = knotd(&kdir, &primaries);
    set_secondaries(&node, &[bind.addr, knot.addr]).await;
    // RFC 7314: a transfer asked with EXPIRE carries the SOA's expire in its OPT record
    // (the secondaries below read such messages too).
    let (_, text) = axfr_records(node.dns, &["+expire", "+comments"]);
    assert!(text.contains("; EXPIRE: 1209600"), "{text}");
    let serial = node.serial();
    for s in [&bind, &knot] {
        let what = format!("initial transfer to {}:\n{}", s.addr, s.log_text());
        eventually(what, Duration::from_secs(30), async || soa_serial(s.addr, ZONE).filter(|x| *x == serial)).await;
    }

    for (i, ip) in ["198.51.100.1", "198.51.100.2"].iter().enumerate() {
        let path = format!("/api/v1/zones/{ZONE}/records/host{i}/A");
        let (s, b) = node.api(Method::PUT, &path, Some(json!({"ttl": 60, "data": [ip]}))).await;
        assert_eq!(s, 200, "{b}");
        let started = Instant::now();
        for s in [&bind, &knot] {
            let name = format!("host{i}.{ZONE}");
            let what = format!("{ip} at {}:\n{}", s.addr, s.log_text());
            eventually(what, Duration::from_secs(10), async || {
                (dig(s.addr, &[&name, "A"]).answer_data("A") == vec![ip.to_string()]).then_some(())
            })
            .await;
        }
        println!("change {i} visible on both secondaries after {:?}", started.elapsed());
    }
    let (b, k) = (bind.log_text(), knot.log_text());
    assert!(b.contains("got incremental response"), "BIND used IXFR:\n{b}");
    assert!(bdir.join("zone.db.jnl").exists(), "BIND journaled the incremental change");
    assert!(k.contains("IXFR, incoming"), "Knot used IXFR:\n{k}");
    let metrics = reqwest::get(node.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"quorumdns_xfr_requests_total{outcome="ixfr",qtype="IXFR"}"#), "{metrics}");
    assert!(metrics.contains(r#"quorumdns_notify_sent_total{result="acked"}"#), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zone_of_100k_records_reaches_the_secondary_complete() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_config(&node_config(dir.path()));
    let bdir = dir.path().join("bind");
    std::fs::create_dir_all(&bdir).unwrap();
    set_secondaries(&node, &[]).await;
    let bind = named(&bdir, &[node.dns]);
    set_secondaries(&node, &[bind.addr]).await;
    let first = node.serial();
    eventually("initial transfer", Duration::from_secs(30), async || {
        soa_serial(bind.addr, ZONE).filter(|x| *x == first)
    })
    .await;

    let mut zone = format!("$ORIGIN {ZONE}.\n@ 3600 IN SOA ns1 hostmaster 2000000000 3600 600 1209600 60\n@ 3600 IN NS ns1\nns1 3600 IN A 127.0.0.1\n");
    for i in 0..100_000u32 {
        zone.push_str(&format!("h{i} 300 IN A 10.{}.{}.{}\n", i >> 16, (i >> 8) & 255, i & 255));
    }
    let resp = reqwest::Client::new()
        .put(node.url(&format!("/api/v1/zones/{ZONE}/import")))
        .bearer_auth(TOKEN)
        .body(zone)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let serial = node.serial();
    assert_eq!(serial, 2_000_000_000);

    let started = Instant::now();
    let (primary, _) = axfr_records(node.dns, &[]);
    println!("AXFR of {} records from quorumdns with dig: {:?}", primary.len(), started.elapsed());
    assert_eq!(primary.len(), 100_000 + 3 + 1, "every record, SOA twice");

    let what = format!("serial {serial} on BIND:\n{}", bind.log_text());
    eventually(what, Duration::from_secs(60), async || soa_serial(bind.addr, ZONE).filter(|x| *x == serial)).await;
    let (copy, _) = axfr_records(bind.addr, &[]);
    assert_eq!(copy.len(), primary.len(), "the secondary has every record");
}

#[tokio::test(flavor = "multi_thread")]
async fn transfers_outside_the_acl_or_with_a_bad_tsig_are_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_config(&node_config(dir.path()).with(|c| {
        c.zone_mut().allow_transfer = vec!["192.0.2.0/24".into()];
        c.zone_mut().transfer_tsig = vec!["xfr-key".into()];
    }));

    let (records, text) = axfr_records(node.dns, &[]);
    assert!(records.is_empty() && text.contains("Transfer failed"), "unsigned from 127.0.0.1 is refused:\n{text}");
    let wrong = format!("hmac-sha256:xfr-key:{WRONG_B64}");
    let (records, text) = axfr_records(node.dns, &["-y", &wrong]);
    assert!(
        text.contains("BADSIG") && !records.iter().any(|l| l.contains("\tSOA\t")),
        "a wrong key transfers nothing:\n{text}"
    );

    // dig signs the request and checks the signature of every response message.
    let right = format!("hmac-sha256:xfr-key:{KEY_B64}");
    let (records, text) = axfr_records(node.dns, &["-y", &right]);
    assert!(!text.contains("failed") && !text.contains("verify"), "{text}");
    assert_eq!(records.iter().filter(|l| l.contains("\tSOA\t")).count(), 2, "{text}");
    let tsigs: Vec<&String> = records.iter().filter(|l| l.contains("\tTSIG\t")).collect();
    assert!(!tsigs.is_empty() && tsigs.iter().all(|l| l.contains(" NOERROR ")), "signed responses:\n{text}");

    let metrics = reqwest::get(node.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"quorumdns_xfr_requests_total{outcome="refused",qtype="AXFR"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"quorumdns_xfr_requests_total{outcome="bad_tsig",qtype="AXFR"} 1"#), "{metrics}");
    assert!(node.serial() > 0, "the node keeps serving");
}

/// A dyndns2 update through `node`, authenticated as the host.
async fn dyndns_update(node: &Node, fqdn: &str, secret: &str, ip: &str) -> String {
    let resp = reqwest::Client::new()
        .get(node.url(&format!("/nic/update?hostname={fqdn}&myip={ip}")))
        .basic_auth(fqdn, Some(secret))
        .send()
        .await
        .unwrap();
    resp.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_and_knot_secondaries_of_a_three_node_cluster_follow_dyndns_updates_across_a_leader_kill() {
    let mut c = Cluster::start(3, 10_000).await;
    let leader = c.leader().await;
    let primaries: Vec<SocketAddr> = c.specs.iter().map(|s| s.dns()).collect();
    let bdir = c.root.path().join("bind");
    std::fs::create_dir_all(&bdir).unwrap();
    let kdir = c.root.path().join("knot");
    std::fs::create_dir_all(&kdir).unwrap();
    set_secondaries(c.node(leader), &[]).await;
    let bind = named(&bdir, &primaries);
    let knot = knotd(&kdir, &primaries);
    set_secondaries(c.node(leader), &[bind.addr, knot.addr]).await;

    // Two hosts, one update each: the per-host rate limit stays out of the way.
    let mut secrets = Vec::new();
    for h in ["router0", "router1"] {
        let (s, b) = c.node(leader).api(Method::GET, &format!("/nic/register?fqdn={h}.{ZONE}"), None).await;
        assert_eq!(s, 200, "{b}");
        secrets.push(b["host"]["update_secret"].as_str().expect("one-time secret").to_string());
    }

    let follower = c.follower_of(leader);
    for (step, ip) in ["203.0.113.10", "203.0.113.11"].iter().enumerate() {
        if step == 1 {
            // The leader dies; the next update goes to a survivor and must still arrive.
            c.kill9(leader);
        }
        let via = if step == 0 { follower } else { c.follower_of(c.leader().await) };
        let fqdn = format!("router{step}.{ZONE}");
        let answer = dyndns_update(c.node(via), &fqdn, &secrets[step], ip).await;
        assert_eq!(answer.trim(), format!("good {ip}"));
        for s in [&bind, &knot] {
            let what = format!("{ip} on the secondary {} (step {step}):\n{}", s.addr, s.log_text());
            eventually(what, Duration::from_secs(20), async || {
                (dig(s.addr, &[&fqdn, "A"]).answer_data("A") == vec![ip.to_string()]).then_some(())
            })
            .await;
        }
    }
    let k = knot.log_text();
    assert!(k.contains("IXFR, incoming"), "Knot used IXFR for the small changes:\n{k}");
    let log = bind.log_text();
    assert!(log.contains("got incremental response"), "BIND used IXFR for the small changes:\n{log}");
}
