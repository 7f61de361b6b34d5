//! The dynamic DNS policies of issue 20 with real clients against the real binary: the
//! rate policy a dual-stack router survives (curl), the EGI bearer update URL (curl), update
//! URLs never taken from the Host header (curl, check-config, serve --dev), DNS Dynamo
//! codes (wget, curl), the address policy (curl), and the check-IP endpoints as ddclient
//! (`use=web`) and inadyn (`checkip-server`) use them.

use std::process::Command;

use reqwest::Method;
use serde_json::json;

use crate::support::clients::{run, tool};
use crate::support::{binary, Node, NodeConfig, TOKEN, ZONE};

fn a_records(node: &Node, name: &str) -> Vec<String> {
    node.dig(&[name, "A"]).answer_data("A")
}

async fn register(node: &Node, fqdn: &str) -> String {
    let (s, b) = node.api(Method::GET, &format!("/nic/register?fqdn={fqdn}"), None).await;
    assert_eq!(s, 200, "{b}");
    b["host"]["update_secret"].as_str().unwrap().to_string()
}

/// curl's body and, after a space, the HTTP status.
fn curl(args: &[&str]) -> String {
    let out = Command::new("curl").args(["-sS", "-w", " %{http_code}"]).args(args).output().expect("curl runs");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[tokio::test]
async fn a_dual_stack_client_and_a_router_reconnecting_twice_are_never_told_abuse() {
    // The default policy of the dev configuration: nothing about rates configured.
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_config(&NodeConfig::dev(dir.path()));
    let host = format!("router.{ZONE}");
    let secret = register(&node, &host).await;
    let update = |query: &str| curl(&[&format!("http://{host}:{secret}@{}/nic/update?{query}", node.http)]);
    // A client that sends IPv4 and IPv6 in separate requests, at boot and after two
    // PPPoE reconnects with new addresses.
    for (i, round) in ["boot", "reconnect", "reconnect again"].iter().enumerate() {
        let (v4, v6) = (format!("198.51.100.{}", 10 + i), format!("2001:db8::{}", 10 + i));
        assert!(update(&format!("myip={v4}")).starts_with(&format!("good {v4}")), "{round}: IPv4");
        assert_eq!(update(&format!("myipv6={v6}")), format!("good {v4},{v6} 200"), "{round}: IPv6");
        assert_eq!(a_records(&node, &host), [v4.as_str()], "{round}");
    }
    let (_, b) = node.api(Method::GET, &format!("/api/v1/hosts/{host}"), None).await;
    assert_eq!((b["abuse"].as_bool(), b["client_faults"].as_u64()), (Some(false), Some(0)), "{b}");
}

#[tokio::test]
async fn the_bearer_update_url_of_register_works_with_curl_and_a_user_token() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_config(&NodeConfig::dev(dir.path()).with_fixed_ports());
    let (s, _) = node.api(Method::POST, "/api/v1/users", Some(json!({"name": "vm-owner"}))).await;
    assert_eq!(s, 201);
    let (_, t) = node.api(Method::POST, "/api/v1/users/vm-owner/tokens", None).await;
    let token = t["token"].as_str().unwrap().to_string();
    let bearer = format!("Authorization: Bearer {token}");
    let out = curl(&["-H", &bearer, &node.url(&format!("/nic/register?fqdn=vm1.{ZONE}"))]);
    let body: serde_json::Value = serde_json::from_str(out.trim_end_matches(" 200")).expect(&out);
    let url = body["host"]["IPv4_update_url_bearer_auth"].as_str().unwrap();
    assert_eq!(url, node.url(&format!("/nic/update?hostname=vm1.{ZONE}&myip=${{myip}}")));
    // As the seed's users run it: the URL with the address filled in, the token as Bearer.
    let out = curl(&["-H", &bearer, &url.replace("${myip}", "192.0.2.61")]);
    assert_eq!(out, "good 192.0.2.61 200");
    assert_eq!(a_records(&node, &format!("vm1.{ZONE}")), ["192.0.2.61"]);
    // Another user's token may not update it; a made-up one is badauth.
    let (_, _) = node.api(Method::POST, "/api/v1/users", Some(json!({"name": "someone-else"}))).await;
    let (_, t) = node.api(Method::POST, "/api/v1/users/someone-else/tokens", None).await;
    let other = format!("Authorization: Bearer {}", t["token"].as_str().unwrap());
    assert_eq!(curl(&["-H", &other, &url.replace("${myip}", "192.0.2.62")]), "nohost 200");
    assert_eq!(curl(&["-H", "Authorization: Bearer made.up", &url.replace("${myip}", "192.0.2.63")]), "badauth 200");
    assert_eq!(a_records(&node, &format!("vm1.{ZONE}")), ["192.0.2.61"]);
}

#[tokio::test]
async fn update_urls_never_come_from_the_host_header_and_the_public_url_is_required() {
    // serve --dev derives the URL from its own listen address.
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let out = curl(&[
        "-H",
        "Host: evil.example.com",
        "-H",
        &format!("Authorization: Bearer {TOKEN}"),
        &node.url(&format!("/nic/register?fqdn=h.{ZONE}")),
    ]);
    assert!(!out.contains("evil"), "{out}");
    let body: serde_json::Value = serde_json::from_str(out.trim_end_matches(" 200")).expect(&out);
    let want = node.url(&format!("/nic/update?hostname=h.{ZONE}&myip=${{myip}}"));
    assert_eq!(body["host"]["IPv4_update_url_bearer_auth"], want.as_str());
    // A configured public URL is what every node hands out.
    let dir2 = tempfile::tempdir().unwrap();
    let node2 = Node::start_config(&NodeConfig::dev(dir2.path()));
    let (_, b) = node2.api(Method::GET, &format!("/nic/register?fqdn=h.{ZONE}"), None).await;
    let basic = b["host"]["IPv4_update_url_basic_auth"].as_str().unwrap();
    assert!(basic.ends_with(&format!("@update.{ZONE}/nic/update")) && basic.starts_with("https://"), "{basic}");
    // Outside --dev a configuration without one is refused, saying what to set.
    let file = dir2.path().join("no-public-url.toml");
    NodeConfig::dev(dir2.path()).with(|c| c.dyndns.public_url = None).write(&file);
    let out = Command::new(binary()).args(["check-config", "--config"]).arg(&file).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && text.contains("dyndns.public_url is required"), "{text}");
}

#[tokio::test]
async fn dns_dynamo_answers_nr_for_unknown_tokens_and_http_200_tf_when_throttled() {
    let dir = tempfile::tempdir().unwrap();
    let config = NodeConfig::dev(dir.path()).with(|c| {
        c.dyndns.min_update_interval_secs = Some(0);
        c.http.auth_fail_limit = Some(2);
        c.http.auth_fail_window_secs = Some(3600);
    });
    let node = Node::start_config(&config);
    let host = format!("home.{ZONE}");
    let secret = register(&node, &host).await;
    // The seed's client: wget -qO- <update URL>.
    let wget =
        |token: &str| run(Command::new(tool("wget")).args(["-qO-", &node.url(&format!("/u/{token}?ip=192.0.2.70"))]));
    assert_eq!(wget(&format!("ghost.{ZONE}.{secret}")), "NR", "no record of that token");
    assert_eq!(wget(&format!("{host}.wrong")), "NR");
    assert_eq!(wget(&format!("{host}.{secret}")), "UP,OK");
    assert_eq!(wget(&format!("{host}.still-wrong")), "NR");
    // Two failures for this host from this address: the right token too is refused for
    // now, with HTTP 200 and TF like every Dynamo code.
    assert_eq!(curl(&[&node.url(&format!("/u/{host}.{secret}?ip=192.0.2.71"))]), "TF 200");
    assert_eq!(a_records(&node, &host), ["192.0.2.70"]);
}

#[tokio::test]
async fn addresses_no_host_should_publish_are_refused_and_private_ones_published() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_config(&NodeConfig::dev(dir.path()).with(|c| c.dyndns.min_update_interval_secs = Some(0)));
    let host = format!("vm.{ZONE}");
    let secret = register(&node, &host).await;
    let update = |query: &str| curl(&[&format!("http://{host}:{secret}@{}/nic/update?{query}", node.http)]);
    for refused in ["0.0.0.0", "224.0.0.251", "255.255.255.255", "127.0.0.1", "::1", "ff02::1", "::"] {
        assert_eq!(update(&format!("myip={refused}")), "badagent 200", "{refused}");
    }
    // curl's own address (no myip) is loopback here: refused as well.
    assert_eq!(update(""), "badagent 200");
    assert!(a_records(&node, &host).is_empty());
    assert_eq!(node.dig(&[&host, "AAAA"]).answer_data("AAAA"), Vec::<String>::new());
    assert_eq!(update("myip=10.10.0.253"), "good 10.10.0.253 200", "private ranges are fine (EGI's own example)");
    assert_eq!(a_records(&node, &host), ["10.10.0.253"]);
    let metrics = reqwest::get(node.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("quorumdns_dyndns_addresses_refused_total{rule=\"loopback\"} 3"), "{metrics}");
}

#[tokio::test]
async fn ddclient_use_web_and_inadyn_checkip_server_learn_their_address_from_the_node() {
    let dir = tempfile::tempdir().unwrap();
    // The clients run on the node's machine, so the address they are told is loopback:
    // allowed for this test.
    let config = NodeConfig::dev(dir.path()).with(|c| {
        c.dyndns.min_update_interval_secs = Some(0);
        c.dyndns.refuse_addresses = Some(vec!["unspecified".into()]);
    });
    let node = Node::start_config(&config);
    let (dd_host, ina_host) = (format!("ddc.{ZONE}"), format!("ina.{ZONE}"));
    let dd_secret = register(&node, &dd_host).await;
    let ina_secret = register(&node, &ina_host).await;
    let server = node.http;

    let conf = dir.path().join("ddclient.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon=0\nsyslog=no\nssl=no\nprotocol=dyndns2\nuse=web, web=http://{server}/checkip\n\
             server={server}\nlogin={dd_host}\npassword='{dd_secret}'\n{dd_host}\n"
        ),
    )
    .unwrap();
    let out = run(Command::new(tool("ddclient"))
        .args(["-foreground", "-daemon=0", "-verbose", "-file"])
        .arg(&conf)
        .arg("-cache")
        .arg(dir.path().join("ddclient.cache")));
    assert!(out.contains("RECEIVE:  good 127.0.0.1"), "{out}");
    assert_eq!(a_records(&node, &dd_host), ["127.0.0.1"]);

    let conf = dir.path().join("inadyn.conf");
    std::fs::write(
        &conf,
        format!(
            "period = 60\ncustom quorumdns {{\n  ssl = false\n  username = {ina_host}\n  password = {ina_secret}\n  \
             ddns-server = {server}\n  ddns-path = \"/nic/update?hostname=%h&myip=%i\"\n  \
             checkip-server = {server}\n  checkip-path = /myip\n  checkip-ssl = false\n  hostname = {ina_host}\n}}\n"
        ),
    )
    .unwrap();
    let cache = dir.path().join("inadyn-cache");
    std::fs::create_dir_all(&cache).unwrap();
    let once = ["--once", "--force", "--foreground", "--no-pidfile", "-l", "debug", "-f"];
    let out = run(Command::new(tool("inadyn")).args(once).arg(&conf).arg(format!("--cache-dir={}", cache.display())));
    assert!(out.contains("GET /myip"), "inadyn asked the node: {out}");
    assert!(out.contains("good 127.0.0.1"), "{out}");
    assert_eq!(a_records(&node, &ina_host), ["127.0.0.1"]);
}
