//! The zone and record API: every change through Raft, visible in DNS with a new serial;
//! bad input refused with a JSON error that names the problem, and nothing changed.

use reqwest::Method;
use serde_json::json;

use crate::support::{add, binary, Node, NodeConfig, Rcode, TOKEN, ZONE};

#[tokio::test]
async fn a_record_added_through_the_api_is_answered_with_a_serial_one_higher() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let before = node.serial();
    let body = add(&node, "host1", "A", &["198.51.100.7"]).await;
    assert_eq!(body["serial"], before + 1, "{body}");
    assert_eq!(node.serial(), before + 1);
    assert_eq!(node.dig(&["host1.dyn.example.test", "A"]).answer_data("A"), vec!["198.51.100.7"]);

    // Replacing with the same data is a no-op: no new serial.
    let path = format!("/api/v1/zones/{ZONE}/records/host1/A");
    let (s, b) = node.api(Method::PUT, &path, Some(json!({"ttl": 300, "data": ["198.51.100.7"]}))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["changed"], false);
    assert_eq!(node.serial(), before + 1);

    let (s, b) = node.api(Method::DELETE, &path, None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(node.serial(), before + 2);
    assert_eq!(node.dig(&["host1.dyn.example.test", "A"]).rcode, Rcode::NxDomain);
}

#[tokio::test]
async fn zones_can_be_created_listed_exported_imported_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let (s, b) =
        node.api(Method::POST, "/api/v1/zones", Some(json!({"name": "second.test", "ns": ["ns1.second.test."]}))).await;
    assert_eq!(s, 201, "{b}");
    let (_, list) = node.api(Method::GET, "/api/v1/zones", None).await;
    let names: Vec<&str> = list["zones"].as_array().unwrap().iter().map(|z| z["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["dyn.example.test", "second.test"]);
    assert_eq!(node.dig(&["second.test", "SOA"]).rcode, Rcode::NoError);

    // Import through the CLI, export through the CLI, and compare what DNS serves.
    let zonefile = dir.path().join("second.zone");
    std::fs::write(
        &zonefile,
        "$ORIGIN second.test.\n$TTL 120\n@ IN SOA ns1 hostmaster 2025010100 3600 600 86400 30\n@ IN NS ns1\nns1 IN A 192.0.2.53\nwww IN A 192.0.2.80\n",
    )
    .unwrap();
    let bin = binary();
    let server = node.url("");
    let out = std::process::Command::new(&bin)
        .args(["zone", "import", "--zone", "second.test", "--server", &server])
        .arg(&zonefile)
        .env("QUORUMDNS_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let soa = node.dig(&["second.test", "SOA"]);
    assert!(soa.answer[0].data.contains(" 2025010100 "), "imported serial is served: {}", soa.raw);
    assert_eq!(node.dig(&["www.second.test", "A"]).answer_data("A"), vec!["192.0.2.80"]);
    let out = std::process::Command::new(&bin)
        .args(["zone", "export", "--zone", "second.test", "--server", &server])
        .env("QUORUMDNS_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("www.second.test. 120 IN A 192.0.2.80"), "{text}");

    let (s, _) = node.api(Method::DELETE, "/api/v1/zones/second.test", None).await;
    assert_eq!(s, 200);
    assert_eq!(node.dig(&["www.second.test", "A"]).rcode, Rcode::Refused);
}

#[tokio::test]
async fn bad_api_input_gets_a_json_error_naming_the_problem_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let serial = node.serial();
    let records = format!("/api/v1/zones/{ZONE}/records");
    let cases: Vec<(Method, String, Option<serde_json::Value>, u16, &str)> = vec![
        (
            Method::POST,
            records.clone(),
            Some(json!({"name": "h", "type": "A", "data": ["300.1.2.3"]})),
            422,
            "300.1.2.3",
        ),
        (Method::POST, records.clone(), Some(json!({"name": "h", "type": "BOGUS", "data": ["x"]})), 400, "BOGUS"),
        (
            Method::POST,
            records.clone(),
            Some(json!({"name": "a..b", "type": "A", "data": ["192.0.2.1"]})),
            400,
            "empty label",
        ),
        (
            Method::POST,
            records.clone(),
            Some(json!({"name": "h.other.test.", "type": "A", "data": ["192.0.2.1"]})),
            422,
            "not inside zone",
        ),
        (Method::POST, records.clone(), Some(json!({"name": "h", "type": "A", "data": []})), 400, "at least one"),
        (
            Method::POST,
            records.clone(),
            Some(json!({"name": "h", "type": "A", "data": ["192.0.2.1"], "extra": 1})),
            422,
            "extra",
        ),
        (Method::POST, records.clone(), Some(json!({"name": "@", "type": "CNAME", "data": ["x.test."]})), 409, "apex"),
        (Method::DELETE, format!("/api/v1/zones/{ZONE}/records/@/NS"), None, 409, "NS"),
        (
            Method::POST,
            "/api/v1/zones/nope.test/records".into(),
            Some(json!({"name": "h", "type": "A", "data": ["192.0.2.1"]})),
            404,
            "nope.test",
        ),
        (
            Method::POST,
            "/api/v1/zones".into(),
            Some(json!({"name": "sub.dyn.example.test", "ns": ["ns1.dyn.example.test."]})),
            409,
            "overlaps",
        ),
        (Method::POST, "/api/v1/zones".into(), Some(json!({"name": "x.test", "ns": []})), 400, "name server"),
        (Method::PUT, format!("/api/v1/zones/{ZONE}/import"), Some(json!("not a zone file")), 422, "zone file"),
    ];
    for (method, path, body, want, needle) in cases {
        let (status, json) = node.api(method.clone(), &path, body.clone()).await;
        assert_eq!(status, want, "{method} {path} {body:?} -> {json}");
        let msg = json["message"].as_str().unwrap_or_else(|| panic!("JSON error body for {path}: {json}"));
        assert!(json["error"].is_string(), "{json}");
        assert!(msg.contains(needle), "{method} {path}: message {msg:?} should name {needle:?}");
    }
    assert_eq!(node.serial(), serial, "nothing changed");

    // No token or a wrong one: 401.
    let resp = reqwest::Client::new().get(node.url("/api/v1/zones")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp =
        reqwest::Client::new().get(node.url("/api/v1/zones")).bearer_auth("wrong-token-000000").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let body = reqwest::Client::new()
        .post(node.url(&records))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(body.status(), 400);
}

#[tokio::test]
async fn health_and_metrics_endpoints_answer() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let ready = reqwest::get(node.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], true, "{body}");
    node.dig(&["www.dyn.example.test", "A"]);
    let metrics = reqwest::get(node.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("quorumdns_dns_queries_total"), "{metrics}");
    assert!(metrics.contains("quorumdns_raft_applied_index"));
}

/// A zone import has its own deadline: a big zone takes far longer to commit and apply
/// than an update, and must not get 503 (then 409 on the retry) while it still commits.
/// Here the update deadline is 1 ms, which no 20,000-record import meets (nor the
/// configured zone the node creates at its first start, which has the same longer deadline).
#[tokio::test]
async fn a_big_import_is_not_held_to_the_update_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_config(&NodeConfig::dev(dir.path()).with(|c| c.cluster.write_timeout_ms = Some(1)));
    let mut zone = String::from(
        "$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n",
    );
    for i in 0..20_000 {
        zone.push_str(&format!("h{i} IN A 10.{}.{}.{}\n", i >> 16, (i >> 8) & 255, i & 255));
    }
    let resp = reqwest::Client::new()
        .put(node.url("/api/v1/zones/big.test/import"))
        .bearer_auth(TOKEN)
        .body(zone)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert_eq!(status, 200, "{}", resp.text().await.unwrap());
    assert_eq!(node.dig(&["h19999.big.test", "A"]).answer[0].data, "10.0.78.31");
}
