//! Contract tests of the update endpoints through the real router (`oneshot`), on a
//! one-node Raft in a temp dir: exact status, headers and body of every answer.

mod fixture;
mod management;
mod policy;

use axum::http::StatusCode;
use fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_then_nochg_with_exact_bodies_and_one_serial_bump() {
    let fx = Fixture::new().await;
    let secret = fx.host("h.dyn.test").await;
    let s0 = fx.serial();
    let r = fx.get("/nic/update?hostname=h.dyn.test&myip=192.0.2.10", Some(("h.dyn.test", &secret))).await;
    r.assert_text(StatusCode::OK, "good 192.0.2.10");
    assert_eq!(fx.serial(), s0 + 1);
    let r = fx.get("/nic/update?hostname=h.dyn.test&myip=192.0.2.10", Some(("h.dyn.test", &secret))).await;
    r.assert_text(StatusCode::OK, "nochg 192.0.2.10");
    assert_eq!(fx.serial(), s0 + 1, "nochg never bumps the serial");
    // A second change right away is within the default burst.
    let r = fx.get("/v3/update?hostname=h.dyn.test&myip=192.0.2.11", Some(("h.dyn.test", &secret))).await;
    r.assert_text(StatusCode::OK, "good 192.0.2.11");
    assert_eq!(fx.serial(), s0 + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dual_stack_aliases_offline_and_client_address() {
    let fx = Fixture::with(|c| c.min_update_interval_secs = 0).await;
    let secret = fx.host("h.dyn.test").await;
    let auth = Some(("h.dyn.test", secret.as_str()));
    fx.get("/update?hostname=h.dyn.test&myip=192.0.2.11/24,2001:db8::1/64", auth)
        .await
        .assert_text(StatusCode::OK, "good 192.0.2.11,2001:db8::1");
    fx.get("/nic/update?myipv4=192.0.2.12", auth).await.assert_text(StatusCode::OK, "good 192.0.2.12,2001:db8::1");
    fx.get("/nic/update?ipv6=2001:db8::2", auth).await.assert_text(StatusCode::OK, "good 192.0.2.12,2001:db8::2");
    fx.get("/nic/update?ip=192.0.2.13", auth).await.assert_text(StatusCode::OK, "good 192.0.2.13,2001:db8::2");
    fx.get("/nic/update?offline=YES", auth).await.assert_text(StatusCode::OK, "good");
    assert_eq!(fx.addrs("h.dyn.test"), (None, None));
    // No myip: the peer address (the mock connect info is 203.0.113.77).
    fx.get("/nic/update", auth).await.assert_text(StatusCode::OK, "good 203.0.113.77");
    // POST with a form body.
    let r = fx.post_form("/nic/update", "hostname=h.dyn.test&myip=192.0.2.14", auth).await;
    r.assert_text(StatusCode::OK, "good 192.0.2.14");
    // Delete removes the named family.
    fx.get("/nic/delete?myip=192.0.2.14", auth).await.assert_text(StatusCode::OK, "good");
    assert_eq!(fx.addrs("h.dyn.test"), (None, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_credentials_get_401_with_basic_challenge() {
    let fx = Fixture::new().await;
    let r = fx.get("/nic/update?hostname=h.dyn.test&myip=192.0.2.1", None).await;
    r.assert_text(StatusCode::UNAUTHORIZED, "badauth");
    assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"quorumdns\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_has_its_code_and_changes_no_dns_data() {
    let fx = Fixture::with(|c| c.min_update_interval_secs = 0).await;
    let secret = fx.host("h.dyn.test").await;
    let other = fx.host("other.dyn.test").await;
    let auth = Some(("h.dyn.test", secret.as_str()));
    fx.get("/nic/update?myip=192.0.2.1", auth).await.assert_text(StatusCode::OK, "good 192.0.2.1");
    let serial = fx.serial();
    let zone = fx.zone();
    let many: Vec<String> = (0..21).map(|i| format!("h{i}.dyn.test")).collect();
    type Case<'a> = (String, Option<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        ("/nic/update?myip=192.0.2.2".into(), Some(("h.dyn.test", "wrong-secret")), "badauth"),
        ("/nic/update?myip=192.0.2.2".into(), Some(("nosuch.dyn.test", "whatever")), "badauth"),
        ("/nic/update?myip=192.0.2.2".into(), Some(("bob", "aaaa.bbbb")), "badauth"),
        ("/nic/update?myip=300.1.2.3".into(), auth, "badagent"),
        ("/nic/update?myip=192.0.2.2,banana".into(), auth, "badagent"),
        ("/nic/update?myip=192.0.2.2&system=weird".into(), auth, "badsys"),
        (format!("/nic/update?myip=192.0.2.2&hostname={}", many.join(",")), auth, "numhost"),
        (format!("/nic/update?myip=192.0.2.2&hostname={}.dyn.test", "a".repeat(64)), auth, "notfqdn"),
        ("/nic/update?myip=192.0.2.2&hostname=bad_name.dyn.test".into(), auth, "notfqdn"),
        ("/nic/update?myip=192.0.2.2&hostname=x%20y.dyn.test".into(), auth, "notfqdn"),
        ("/nic/update?myip=192.0.2.2&hostname=other.dyn.test".into(), auth, "nohost"),
        ("/nic/update?myip=192.0.2.2&hostname=ghost.dyn.test".into(), auth, "nohost"),
        (
            "/nic/update?myip=192.0.2.2&hostname=h.dyn.test,other.dyn.test".into(),
            Some(("other.dyn.test", other.as_str())),
            "nohost\ngood 192.0.2.2",
        ),
    ];
    for (uri, creds, want) in cases {
        let r = fx.get(&uri, creds).await;
        r.assert_text(StatusCode::OK, want);
        if want.contains("good") {
            continue;
        }
        assert_eq!(fx.serial(), serial, "{uri}: no serial change");
        assert_eq!(fx.zone_for("h.dyn.test"), zone.get("h.dyn.test").cloned(), "{uri}");
    }
    assert!(fx.faults("h.dyn.test") >= 1, "the wrong secret was counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flagged_host_gets_abuse() {
    let fx = Fixture::with(|c| c.min_update_interval_secs = 0).await;
    let secret = fx.host("h.dyn.test").await;
    fx.api("PATCH", "/api/v1/hosts/h.dyn.test", Some(serde_json::json!({"abuse_blocked": true}))).await;
    fx.get("/nic/update?myip=192.0.2.9", Some(("h.dyn.test", &secret))).await.assert_text(StatusCode::OK, "abuse");
    assert_eq!(fx.addrs("h.dyn.test"), (None, None));
    // DNS Dynamo has no abuse code: a blocked host is a general error there.
    fx.get(&format!("/u/h.dyn.test.{secret}?ip=192.0.2.9"), None).await.assert_text(StatusCode::OK, "ER");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_the_zone_cannot_take_gets_dnserr() {
    let fx = Fixture::with(|c| c.min_update_interval_secs = 0).await;
    let secret = fx.host("h.dyn.test").await;
    // An operator put a CNAME where the host's A record would go.
    let body = serde_json::json!({"ttl": 60, "data": ["elsewhere.example."]});
    fx.api("PUT", "/api/v1/zones/dyn.test/records/h/CNAME", Some(body)).await;
    fx.get("/nic/update?myip=192.0.2.9", Some(("h.dyn.test", &secret))).await.assert_text(StatusCode::OK, "dnserr");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_cannot_commit_answers_503_911_with_retry_after() {
    let fx = Fixture::with(|c| c.min_update_interval_secs = 0).await;
    let secret = fx.host("h.dyn.test").await;
    fx.svc.raft_node().shutdown().await.unwrap();
    let r = fx.get("/nic/update?myip=192.0.2.9", Some(("h.dyn.test", &secret))).await;
    r.assert_text(StatusCode::SERVICE_UNAVAILABLE, "911");
    assert_eq!(r.header("retry-after"), Some("5"));
    let r = fx.get(&format!("/u/h.dyn.test.{secret}?ip=192.0.2.8"), None).await;
    r.assert_text(StatusCode::SERVICE_UNAVAILABLE, "ER");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nanodnsd_style_removes_the_missing_family_and_takes_query_credentials() {
    let fx = Fixture::with(|c| c.min_update_interval_secs = 0).await;
    let secret = fx.host("h.dyn.test").await;
    let uri = format!("/api/update?hostname=h.dyn.test&ipv4=192.0.2.5&ipv6=2001:db8::5&token={secret}");
    fx.get(&uri, None).await.assert_text(StatusCode::OK, "good 192.0.2.5,2001:db8::5");
    let uri = format!("/api/update?hostname=h.dyn.test&ipv4=192.0.2.5&ipv6=&token={secret}");
    fx.get(&uri, None).await.assert_text(StatusCode::OK, "good 192.0.2.5");
    assert_eq!(fx.addrs("h.dyn.test"), (Some("192.0.2.5".parse().unwrap()), None));
    // dyndns2 with username/password in the query (routers that cannot do Basic auth).
    let uri = format!("/nic/update?username=h.dyn.test&password={secret}&myip=192.0.2.6");
    fx.get(&uri, None).await.assert_text(StatusCode::OK, "good 192.0.2.6");
    let uri = "/api/update?hostname=h.dyn.test&ipv4=192.0.2.5&token=wrong";
    fx.get(uri, None).await.assert_text(StatusCode::OK, "badauth");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_codes() {
    let fx = Fixture::with(|c| c.min_update_interval_secs = 0).await;
    let secret = fx.host("h.dyn.test").await;
    let u = format!("/u/h.dyn.test.{secret}");
    fx.get(&format!("{u}?ip=192.0.2.33"), None).await.assert_text(StatusCode::OK, "UP,OK");
    fx.get(&format!("{u}?ip=192.0.2.33"), None).await.assert_text(StatusCode::OK, "NC");
    fx.get(&format!("{u}?ip=1.2.3"), None).await.assert_text(StatusCode::OK, "IN");
    fx.get("/u/", None).await.assert_text(StatusCode::OK, "NT");
    fx.get("/u/nodot", None).await.assert_text(StatusCode::OK, "NT");
    // Seed 004: "There is no record of your token" — a wrong secret says no more.
    fx.get("/u/h.dyn.test.wrong", None).await.assert_text(StatusCode::OK, "NR");
    fx.get("/u/ghost.dyn.test.whatever", None).await.assert_text(StatusCode::OK, "NR");
    fx.post_form(&u, "ip=192.0.2.34", None).await.assert_text(StatusCode::OK, "UP,OK");
    fx.get(&u, None).await.assert_text(StatusCode::OK, "UP,OK");
    assert_eq!(fx.addrs("h.dyn.test").0, Some("203.0.113.77".parse().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_is_believed_only_from_trusted_proxies() {
    let fx = Fixture::with(|c| {
        c.min_update_interval_secs = 0;
        c.trusted_proxies = vec!["203.0.113.0/24".parse().unwrap()];
    })
    .await;
    let secret = fx.host("h.dyn.test").await;
    let r = fx
        .get_with("/nic/update", Some(("h.dyn.test", &secret)), &[("x-forwarded-for", "198.51.100.1, 203.0.113.5")])
        .await;
    r.assert_text(StatusCode::OK, "good 198.51.100.1");
    let untrusting = Fixture::with(|c| c.min_update_interval_secs = 0).await;
    let secret = untrusting.host("h.dyn.test").await;
    let r =
        untrusting.get_with("/nic/update", Some(("h.dyn.test", &secret)), &[("x-forwarded-for", "198.51.100.1")]).await;
    r.assert_text(StatusCode::OK, "good 203.0.113.77");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_token_updates_its_hosts_in_one_grouped_request() {
    let fx = Fixture::with(|c| c.min_update_interval_secs = 0).await;
    let token = fx.user("alice").await;
    for h in ["a", "b"] {
        let (s, b) = fx.api_as(&token, "GET", &format!("/nic/register?fqdn={h}.dyn.test"), None).await;
        assert_eq!(s, 200, "{b}");
    }
    fx.host("admins.dyn.test").await;
    let s0 = fx.serial();
    let r = fx
        .get("/nic/update?hostname=a.dyn.test,b.dyn.test,admins.dyn.test&myip=192.0.2.40", Some(("alice", &token)))
        .await;
    r.assert_text(StatusCode::OK, "good 192.0.2.40\ngood 192.0.2.40\nnohost");
    assert_eq!(fx.serial(), s0 + 1, "one entry, one bump");
    assert_eq!(fx.addrs("admins.dyn.test"), (None, None));
}
