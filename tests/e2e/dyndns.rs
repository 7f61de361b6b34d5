//! Real dynamic DNS clients against the real binary: ddclient (dyndns2, two hosts in one
//! grouped request), inadyn (custom provider), curl with userinfo, a Fritz!Box-style URL,
//! and expiry through the log. dig checks what DNS serves and the SOA serial.

use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::support::clients::{run, tool};
use crate::support::{eventually_every, Node, NodeConfig};

/// The dev node with address changes allowed every second, so each test step may change
/// the address.
fn fast(dir: &std::path::Path) -> NodeConfig {
    NodeConfig::dev(dir).with(|c| c.dyndns.min_update_interval_secs = Some(0))
}

fn a_records(node: &Node, name: &str) -> Vec<String> {
    node.dig(&[name, "A"]).answer_data("A")
}

async fn register(node: &Node, fqdn: &str) -> String {
    let (s, b) = node.api(Method::GET, &format!("/nic/register?fqdn={fqdn}"), None).await;
    assert_eq!(s, 200, "{b}");
    b["host"]["update_secret"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn ddclient_updates_two_hosts_in_one_request_then_gets_nochg() {
    let ddclient = tool("ddclient");
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_config(&fast(dir.path()));
    let (s, _) = node.api(Method::POST, "/api/v1/users", Some(json!({"name": "router"}))).await;
    assert_eq!(s, 201);
    let (_, t) = node.api(Method::POST, "/api/v1/users/router/tokens", None).await;
    let token = t["token"].as_str().unwrap().to_string();
    for h in ["a", "b"] {
        let resp = reqwest::Client::new()
            .post(node.url("/api/v1/hosts"))
            .bearer_auth(&token)
            .json(&json!({"name": h, "domain": "dyn.example.test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    }
    let conf = dir.path().join("ddclient.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon=0\nsyslog=no\nssl=no\nprotocol=dyndns2\nuse=ip, ip=198.51.100.23\nserver={}\nlogin=router\npassword='{token}'\na.dyn.example.test,b.dyn.example.test\n",
            node.http
        ),
    )
    .unwrap();
    let cache = dir.path().join("ddclient.cache");
    let ddc = |force: bool| {
        let mut c = Command::new(&ddclient);
        c.args(["-foreground", "-daemon=0", "-verbose", "-file"]).arg(&conf).arg("-cache").arg(&cache);
        if force {
            c.arg("-force");
        }
        run(&mut c)
    };
    let before = node.serial();
    let out = ddc(false);
    assert_eq!(out.matches("RECEIVE:  good 198.51.100.23").count(), 2, "one line per host:\n{out}");
    assert_eq!(out.matches("SENDING:  GET /nic/update").count(), 1, "one grouped request:\n{out}");
    assert!(out.contains("SUCCESS:  updating a.dyn.example.test: good"), "{out}");
    assert_eq!(a_records(&node, "a.dyn.example.test"), vec!["198.51.100.23"]);
    assert_eq!(a_records(&node, "b.dyn.example.test"), vec!["198.51.100.23"]);
    let after = node.serial();
    assert!(after > before, "serial {before} -> {after}");

    let out = ddc(true);
    assert_eq!(out.matches("RECEIVE:  nochg 198.51.100.23").count(), 2, "{out}");
    assert_eq!(node.serial(), after, "nochg keeps the serial");
}

#[tokio::test]
async fn inadyn_custom_provider_updates_then_gets_nochg() {
    let inadyn = tool("inadyn");
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_config(&fast(dir.path()));
    let secret = register(&node, "c.dyn.example.test").await;
    let conf = dir.path().join("inadyn.conf");
    std::fs::write(
        &conf,
        format!(
            "period = 60\ncustom quorumdns {{\n  ssl = false\n  username = c.dyn.example.test\n  password = {secret}\n  ddns-server = {}\n  ddns-path = \"/nic/update?hostname=%h&myip=%i\"\n  checkip-command = \"echo 203.0.113.9\"\n  hostname = c.dyn.example.test\n}}\n",
            node.http
        ),
    )
    .unwrap();
    let cache = dir.path().join("inadyn-cache");
    std::fs::create_dir_all(&cache).unwrap();
    let ina = || {
        let mut c = Command::new(&inadyn);
        c.args(["--once", "--force", "--foreground", "--no-pidfile", "-l", "debug", "-f"]).arg(&conf);
        c.arg(format!("--cache-dir={}", cache.display()));
        run(&mut c)
    };
    let before = node.serial();
    let out = ina();
    assert!(out.contains("good 203.0.113.9"), "{out}");
    assert!(out.contains("Successful alias table update for c.dyn.example.test"), "{out}");
    assert_eq!(a_records(&node, "c.dyn.example.test"), vec!["203.0.113.9"]);
    let after = node.serial();
    assert!(after > before);
    let out = ina();
    assert!(out.contains("nochg 203.0.113.9"), "{out}");
    assert_eq!(node.serial(), after);
}

#[tokio::test]
async fn curl_with_userinfo_and_a_fritzbox_url_with_the_token_in_the_query() {
    let dir = tempfile::tempdir().unwrap();
    // curl runs on the node's machine: its address is loopback, which the default policy
    // refuses to publish.
    let config = fast(dir.path()).with(|c| c.dyndns.refuse_addresses = Some(vec!["unspecified".into()]));
    let node = Node::start_config(&config);
    let secret = register(&node, "home.dyn.example.test").await;
    let curl = |url: String| run(Command::new("curl").args(["-sS", &url]));
    let out = curl(format!("http://home.dyn.example.test:{secret}@{}/nic/update?myip=192.0.2.77", node.http));
    assert_eq!(out, "good 192.0.2.77");
    assert_eq!(a_records(&node, "home.dyn.example.test"), vec!["192.0.2.77"]);
    // No myip: curl's own address.
    let out = curl(format!("http://home.dyn.example.test:{secret}@{}/nic/update", node.http));
    assert_eq!(out, "good 127.0.0.1");
    // Fritz!Box "user-defined provider": <domain>, <ipaddr>, <ip6addr>, <pass> substituted.
    let url = format!(
        "http://{}/api/update?hostname=home.dyn.example.test&ipv4=192.0.2.78&ipv6=2001:db8::78&token={secret}",
        node.http
    );
    assert_eq!(curl(url), "good 192.0.2.78,2001:db8::78");
    assert_eq!(node.dig(&["home.dyn.example.test", "AAAA"]).answer_data("AAAA"), vec!["2001:db8::78"]);
    // Wrong secret: badauth and nothing changes.
    let serial = node.serial();
    let out = curl(format!("http://home.dyn.example.test:wrong@{}/nic/update?myip=192.0.2.1", node.http));
    assert_eq!(out, "badauth");
    assert_eq!(node.serial(), serial);
    assert_eq!(a_records(&node, "home.dyn.example.test"), vec!["192.0.2.78"]);
}

#[tokio::test]
async fn expiry_removes_addresses_of_hosts_not_refreshed_and_keeps_refreshed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_config(&fast(dir.path()).with(|c| c.dyndns.expire_sweep_interval_secs = Some(1)));
    let mut secrets = Vec::new();
    for h in ["stale", "kept"] {
        let (s, b) = node
            .api(Method::POST, "/api/v1/hosts", Some(json!({"name": h, "domain": "dyn.example.test", "expire": 3})))
            .await;
        assert_eq!(s, 201, "{b}");
        secrets.push(b["update_secret"].as_str().unwrap().to_string());
    }
    let client = reqwest::Client::new();
    let update = |host: &str, secret: &str| {
        client
            .get(node.url("/nic/update?myip=192.0.2.90"))
            .basic_auth(format!("{host}.dyn.example.test"), Some(secret))
            .send()
    };
    for (h, s) in ["stale", "kept"].iter().zip(&secrets) {
        assert_eq!(update(h, s).await.unwrap().text().await.unwrap(), "good 192.0.2.90");
    }
    let serial = node.serial();
    // Keep refreshing one host (nochg goes through the log and resets its clock).
    let (limit, every) = (Duration::from_secs(30), Duration::from_millis(500));
    eventually_every("the stale host to expire", limit, every, async || {
        assert_eq!(update("kept", &secrets[1]).await.unwrap().text().await.unwrap(), "nochg 192.0.2.90");
        a_records(&node, "stale.dyn.example.test").is_empty().then_some(())
    })
    .await;
    assert!(node.serial() > serial, "expiry bumps the serial");
    assert_eq!(a_records(&node, "kept.dyn.example.test"), vec!["192.0.2.90"]);
    let (_, h) = node.api(Method::GET, "/api/v1/hosts/stale.dyn.example.test/history", None).await;
    assert_eq!(h["history"][0]["result"], "expired", "{h}");
    let metrics = reqwest::get(node.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"quorumdns_dyndns_updates_total{code="nochg",endpoint="nic_update"}"#), "{metrics}");
    assert!(metrics.contains("quorumdns_dyndns_update_duration_seconds_bucket"));
}
