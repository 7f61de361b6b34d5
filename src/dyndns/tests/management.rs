//! The management API around hosts: EGI fields, secret rotation, ownership, history, and
//! the OpenAPI document covering every route.

use axum::http::StatusCode;
use serde_json::json;

use super::fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_answers_exactly_the_egi_fields_with_a_one_time_secret() {
    let fx = Fixture::new().await;
    let b = fx.api("GET", "/nic/register?name=test&domain=dyn.test&comment=c1&wildcard=yes", None).await;
    assert_eq!(b["status"], "ok");
    assert_eq!(b["message"], "Host registered.");
    let host = b["host"].as_object().unwrap();
    let mut keys: Vec<&str> = host.keys().map(String::as_str).collect();
    keys.sort();
    let mut want = vec![
        "fqdn",
        "name",
        "domain",
        "wildcard",
        "comment",
        "available",
        "client_faults",
        "server_faults",
        "abuse_blocked",
        "abuse",
        "last_update_ipv4",
        "tls_update_ipv4",
        "ipv4",
        "last_update_ipv6",
        "tls_update_ipv6",
        "ipv6",
        "update_secret",
        "IPv4_update_url_basic_auth",
        "IPv4_update_url_bearer_auth",
    ];
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(b["host"]["fqdn"], "test.dyn.test");
    assert_eq!(b["host"]["name"], "test");
    assert_eq!(b["host"]["wildcard"], true);
    let secret = b["host"]["update_secret"].as_str().unwrap();
    assert!(b["host"]["IPv4_update_url_basic_auth"].as_str().unwrap().contains(&format!("test.dyn.test:{secret}@")));
    // Stored only as an argon2id hash.
    let stored = fx.svc.read(|s| s.registry.hosts.values().next().unwrap().secret_hash.clone());
    assert!(stored.starts_with("$argon2id$") && !stored.contains(secret));
    // The wildcard follows the host.
    fx.get("/nic/update?myip=192.0.2.50", Some(("test.dyn.test", secret)))
        .await
        .assert_text(StatusCode::OK, "good 192.0.2.50");
    assert!(fx.zone_for("*.test.dyn.test").is_some());
    let (s, e) = fx.api_as(ADMIN, "GET", "/nic/register?name=test&domain=dyn.test", None).await;
    assert_eq!((s, e["status"].as_str()), (409, Some("error")), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_stops_the_old_one_at_once() {
    let fx = Fixture::with(|c| c.min_update_interval_secs = 0).await;
    let old = fx.host("h.dyn.test").await;
    fx.get("/nic/update?myip=192.0.2.1", Some(("h.dyn.test", &old)))
        .await
        .assert_text(StatusCode::OK, "good 192.0.2.1");
    let b = fx.api("GET", "/nic/generate_secret?fqdn=h.dyn.test", None).await;
    let new = b["host"]["update_secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    fx.get("/nic/update?myip=192.0.2.2", Some(("h.dyn.test", &old))).await.assert_text(StatusCode::OK, "badauth");
    fx.get("/nic/update?myip=192.0.2.2", Some(("h.dyn.test", &new)))
        .await
        .assert_text(StatusCode::OK, "good 192.0.2.2");
    let b = fx.api("POST", "/api/v1/hosts/h.dyn.test/secret", None).await;
    let newer = b["update_secret"].as_str().unwrap();
    fx.get("/nic/update?myip=192.0.2.3", Some(("h.dyn.test", &new))).await.assert_text(StatusCode::OK, "badauth");
    fx.get("/nic/update?myip=192.0.2.3", Some(("h.dyn.test", newer)))
        .await
        .assert_text(StatusCode::OK, "good 192.0.2.3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_see_and_update_only_their_own_hosts() {
    let fx = Fixture::with(|c| c.min_update_interval_secs = 0).await;
    let alice = fx.user("alice").await;
    let bob = fx.user("bob").await;
    let (s, b) = fx.api_as(&alice, "GET", "/nic/register?fqdn=a.dyn.test", None).await;
    assert_eq!(s, 200, "{b}");
    let (_, hosts) = fx.api_as(&bob, "GET", "/nic/hosts", None).await;
    assert_eq!(hosts, json!({"status": "ok", "hosts": []}));
    let (s, _) = fx.api_as(&bob, "GET", "/api/v1/hosts/a.dyn.test", None).await;
    assert_eq!(s, 404, "no existence leak");
    let (s, _) = fx.api_as(&bob, "GET", "/api/v1/users", None).await;
    assert_eq!(s, 403);
    fx.get("/nic/update?hostname=a.dyn.test&myip=192.0.2.1", Some(("bob", &bob)))
        .await
        .assert_text(StatusCode::OK, "nohost");
    fx.get("/nic/update?hostname=a.dyn.test&myip=192.0.2.1", Some(("alice", &alice)))
        .await
        .assert_text(StatusCode::OK, "good 192.0.2.1");
    // A private domain is usable only by its users.
    fx.api("POST", "/api/v1/domains", Some(json!({"name": "dyn.test", "public": false, "owner": "alice"}))).await;
    let (s, _) = fx.api_as(&bob, "GET", "/nic/register?fqdn=b.dyn.test", None).await;
    assert_eq!(s, 403);
    let (_, d) = fx.api_as(&alice, "GET", "/nic/domains", None).await;
    assert_eq!(d["private"][0]["name"], "dyn.test", "{d}");
    // A revoked token is refused.
    let id = alice.split('.').next().unwrap();
    fx.api("DELETE", &format!("/api/v1/users/alice/tokens/{id}"), None).await;
    let (s, _) = fx.api_as(&alice, "GET", "/nic/hosts", None).await;
    assert_eq!(s, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_records_accepted_and_refused_updates_with_index_and_serial() {
    let fx = Fixture::with(|c| c.min_update_interval_secs = 0).await;
    let secret = fx.host("h.dyn.test").await;
    fx.get("/nic/update?myip=192.0.2.1", Some(("h.dyn.test", &secret)))
        .await
        .assert_text(StatusCode::OK, "good 192.0.2.1");
    fx.get("/nic/update?myip=192.0.2.1", Some(("h.dyn.test", "nope"))).await.assert_text(StatusCode::OK, "badauth");
    let h = fx.api("GET", "/api/v1/hosts/h.dyn.test/history", None).await;
    let entries = h["history"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{h}");
    assert_eq!(entries[0]["result"], "badauth");
    let good = &entries[1];
    assert_eq!(good["result"], "good");
    assert_eq!(good["new_ipv4"], "192.0.2.1");
    assert_eq!(good["old_ipv4"], serde_json::Value::Null);
    assert_eq!(good["source"], "203.0.113.77");
    assert_eq!(good["user_agent"], "component-test/1.0");
    assert_eq!(good["endpoint"], "nic_update");
    assert_eq!(good["serial"], fx.serial());
    assert!(good["index"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_every_route_of_the_router() {
    let fx = Fixture::new().await;
    let doc = fx.api("GET", "/api/v1/openapi.json", None).await;
    assert_eq!(doc["openapi"], "3.0.3");
    let sources = [include_str!("../../http/mod.rs"), include_str!("../../http/dyn_routes.rs")];
    let mut routes = 0;
    for src in sources {
        for chunk in src.split(".route(").skip(1) {
            let path = chunk.trim_start().trim_start_matches('"').split('"').next().unwrap();
            let methods = chunk.split(")\n").next().unwrap();
            for m in ["get", "post", "put", "patch", "delete"] {
                let used = methods.contains(&format!("{m}(")) || methods.contains(&format!(".{m}("));
                if used {
                    assert!(doc["paths"][path][m].is_object(), "{m} {path} missing from openapi.json");
                }
            }
            routes += 1;
        }
    }
    assert!(routes > 30, "found {routes} routes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_paths_queries_and_bodies_get_json_errors_like_every_other_error() {
    use axum::body::Body;
    use axum::http::Request;
    let fx = Fixture::new().await;
    let cases: [(&str, &str, Option<&str>); 5] = [
        ("DELETE", "/api/v1/cluster/nodes/not-a-number", None),
        ("POST", "/api/v1/cluster/nodes/-1/promote", None),
        ("POST", "/api/v1/cluster/init", Some("{\"members\": 5")),
        ("GET", "/nic/register?fqdn=x.dyn.test&ttl=-5", None),
        ("POST", "/api/v1/zones", Some("[]")),
    ];
    for (method, uri, body) in cases {
        let mut b = Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {ADMIN}"));
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        let a = fx.send(b.body(Body::from(body.unwrap_or_default().to_string())).unwrap()).await;
        assert!(a.status.is_client_error(), "{method} {uri}: {} {}", a.status, a.body);
        assert_eq!(a.headers["content-type"], "application/json", "{method} {uri}: {}", a.body);
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(v["error"], "bad_request", "{method} {uri}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{method} {uri}: {v}");
    }
}
