//! The policies around updates (issue 20), through the real router: the rate policy and
//! its "retry later" answers, the brute-force throttle per (address, credential name),
//! Bearer tokens on the update endpoints, update URLs from the configured public URL,
//! the address policy, TLS in the origin, and the check-IP endpoints.

use axum::http::StatusCode;

use super::fixture::*;

/// Seconds of a `Retry-After` header.
fn retry_after(a: &Answer) -> u64 {
    a.header("retry-after").and_then(|v| v.parse().ok()).expect("a Retry-After in seconds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dual_stack_client_and_a_router_reconnecting_twice_get_good_every_time_by_default() {
    let fx = Fixture::new().await;
    let secret = fx.host("h.dyn.test").await;
    let auth = Some(("h.dyn.test", secret.as_str()));
    // IPv4 and IPv6 in separate requests (deSEC desec-stack#806), then two reconnects
    // with new addresses of both families.
    let steps = [
        ("myip=192.0.2.1", "good 192.0.2.1"),
        ("myipv6=2001:db8::1", "good 192.0.2.1,2001:db8::1"),
        ("myip=192.0.2.2", "good 192.0.2.2,2001:db8::1"),
        ("myipv6=2001:db8::2", "good 192.0.2.2,2001:db8::2"),
        ("myip=192.0.2.3", "good 192.0.2.3,2001:db8::2"),
        ("myipv6=2001:db8::3", "good 192.0.2.3,2001:db8::3"),
    ];
    for (query, want) in steps {
        fx.get(&format!("/nic/update?{query}"), auth).await.assert_text(StatusCode::OK, want);
    }
    assert_eq!(fx.faults("h.dyn.test"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_beyond_the_burst_are_answered_retry_later_in_every_dialect_and_never_abuse() {
    let fx = Fixture::with(|c| {
        c.min_update_interval_secs = 3600;
        c.update_burst = 2;
    })
    .await;
    let secret = fx.host("h.dyn.test").await;
    let auth = Some(("h.dyn.test", secret.as_str()));
    fx.get("/nic/update?myip=192.0.2.1", auth).await.assert_text(StatusCode::OK, "good 192.0.2.1");
    fx.get("/nic/update?myip=2001:db8::1", auth).await.assert_text(StatusCode::OK, "good 192.0.2.1,2001:db8::1");
    for _ in 0..3 {
        let r = fx.get("/nic/update?myip=192.0.2.1", auth).await;
        r.assert_text(StatusCode::OK, "nochg 192.0.2.1,2001:db8::1");
    }
    assert_eq!(fx.faults("h.dyn.test"), 0, "repeated nochg is never limited");
    let serial = fx.serial();
    // The third change within the window: 503 + Retry-After + 911, which clients retry.
    let r = fx.get("/nic/update?myip=192.0.2.2", auth).await;
    r.assert_text(StatusCode::SERVICE_UNAVAILABLE, "911");
    let wait = retry_after(&r);
    assert!((7000..=7200).contains(&wait), "until the first change leaves the 2 h window: {wait}");
    assert_eq!(fx.faults("h.dyn.test"), 1, "a refusal is a client fault");
    let r = fx.get("/nic/update?myip=192.0.2.3", auth).await;
    r.assert_text(StatusCode::SERVICE_UNAVAILABLE, "911");
    assert_eq!(fx.faults("h.dyn.test"), 1, "refusals are recorded at most once per interval");
    assert_eq!(fx.serial(), serial, "nothing changed");
    assert_eq!(fx.addrs("h.dyn.test").0, Some("192.0.2.1".parse().unwrap()));
    // The same refusal in the other dialects: nanodnsd (/api/update) and DNS Dynamo (TF,
    // HTTP 200 like every Dynamo code).
    let r = fx.get(&format!("/api/update?hostname=h.dyn.test&ipv4=192.0.2.4&token={secret}"), None).await;
    r.assert_text(StatusCode::SERVICE_UNAVAILABLE, "911");
    assert!(r.header("retry-after").is_some());
    fx.get(&format!("/u/h.dyn.test.{secret}?ip=192.0.2.4"), None).await.assert_text(StatusCode::OK, "TF");
    let h = fx.api("GET", "/api/v1/hosts/h.dyn.test/history", None).await;
    assert_eq!(h["history"][0]["result"], "ratelimited", "{h}");
    let b = fx.api("GET", "/api/v1/hosts/h.dyn.test", None).await;
    assert_eq!((b["abuse"].as_bool(), b["abuse_blocked"].as_bool()), (Some(false), Some(false)), "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grouped_request_with_one_limited_host_is_a_503_with_a_line_per_host() {
    let fx = Fixture::with(|c| {
        c.min_update_interval_secs = 3600;
        c.update_burst = 1;
    })
    .await;
    let token = fx.user("alice").await;
    for h in ["a", "b"] {
        let (s, b) = fx.api_as(&token, "GET", &format!("/nic/register?fqdn={h}.dyn.test"), None).await;
        assert_eq!(s, 200, "{b}");
    }
    let alice = Some(("alice", token.as_str()));
    fx.get("/nic/update?hostname=a.dyn.test&myip=192.0.2.1", alice).await.assert_text(StatusCode::OK, "good 192.0.2.1");
    let r = fx.get("/nic/update?hostname=a.dyn.test,b.dyn.test&myip=192.0.2.2", alice).await;
    r.assert_text(StatusCode::SERVICE_UNAVAILABLE, "911\ngood 192.0.2.2");
    assert!(retry_after(&r) > 3000);
    assert_eq!(fx.addrs("b.dyn.test").0, Some("192.0.2.2".parse().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secrets_throttle_only_that_name_from_that_address_with_an_answer_clients_retry() {
    let fx = Fixture::with_http(
        |c| {
            c.min_update_interval_secs = 0;
            // The mock peer is a trusted proxy: X-Forwarded-For names other clients.
            c.trusted_proxies = vec!["203.0.113.77/32".parse().unwrap()];
        },
        |h| {
            h.auth_fail_limit = 3;
            h.auth_fail_window_secs = 3600;
        },
    )
    .await;
    let secret = fx.host("h.dyn.test").await;
    let other = fx.host("other.dyn.test").await;
    for _ in 0..3 {
        fx.get("/nic/update?myip=192.0.2.1", Some(("h.dyn.test", "wrong")))
            .await
            .assert_text(StatusCode::OK, "badauth");
    }
    // The right secret of that host from that address is now refused unchecked, with an
    // answer inadyn, ddclient and routers retry (inadyn exits on 429 and on badauth).
    let r = fx.get("/nic/update?myip=192.0.2.1", Some(("h.dyn.test", &secret))).await;
    r.assert_text(StatusCode::SERVICE_UNAVAILABLE, "911");
    assert!((3590..=3600).contains(&retry_after(&r)), "{:?}", r.header("retry-after"));
    fx.get(&format!("/u/h.dyn.test.{secret}?ip=192.0.2.1"), None).await.assert_text(StatusCode::OK, "TF");
    assert_eq!(fx.addrs("h.dyn.test"), (None, None));
    // Another host's secret from the same address, the admin API, and the same host from
    // another address are not delayed.
    fx.get("/nic/update?myip=192.0.2.5", Some(("other.dyn.test", &other)))
        .await
        .assert_text(StatusCode::OK, "good 192.0.2.5");
    fx.api("GET", "/api/v1/hosts", None).await;
    let r = fx
        .get_with("/nic/update?myip=192.0.2.6", Some(("h.dyn.test", &secret)), &[("x-forwarded-for", "198.51.100.9")])
        .await;
    r.assert_text(StatusCode::OK, "good 192.0.2.6");

    // Bearer tokens count per token id: a guessed token never locks out the admin token.
    let alice = fx.user("alice").await;
    let id = alice.split('.').next().unwrap();
    for _ in 0..3 {
        let (s, _) = fx.api_as(&format!("{id}.wrong"), "GET", "/nic/hosts", None).await;
        assert_eq!(s, 401);
    }
    let (s, e) = fx.api_as(&alice, "GET", "/nic/hosts", None).await;
    assert_eq!((s, e["error"].as_str()), (429, Some("too_many_auth_failures")), "{e}");
    let (s, _) = fx.api_as(ADMIN, "GET", "/nic/hosts", None).await;
    assert_eq!(s, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_update_url_of_register_works_with_a_token_allowed_to_update_the_host() {
    let fx = Fixture::with(|c| c.min_update_interval_secs = 0).await;
    let alice = fx.user("alice").await;
    let bob = fx.user("bob").await;
    let (s, b) = fx.api_as(&alice, "GET", "/nic/register?fqdn=a.dyn.test", None).await;
    assert_eq!(s, 200, "{b}");
    let url = b["host"]["IPv4_update_url_bearer_auth"].as_str().unwrap();
    let path = url.strip_prefix(PUBLIC_URL).expect("the URL starts with the public URL");
    assert_eq!(path, "/nic/update?hostname=a.dyn.test&myip=${myip}");
    let uri = path.replace("${myip}", "192.0.2.30");
    fx.get_bearer(&uri, &alice).await.assert_text(StatusCode::OK, "good 192.0.2.30");
    fx.get_bearer(&uri.replace(".30", ".31"), &bob).await.assert_text(StatusCode::OK, "nohost");
    fx.get_bearer(&uri.replace(".30", ".32"), ADMIN).await.assert_text(StatusCode::OK, "good 192.0.2.32");
    let r = fx.get_bearer(&uri, "nosuch.token").await;
    r.assert_text(StatusCode::OK, "badauth");
    assert_eq!(fx.addrs("a.dyn.test").0, Some("192.0.2.32".parse().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_urls_come_from_the_public_url_never_from_the_host_header() {
    let fx = Fixture::new().await;
    let req = axum::http::Request::get("/nic/register?fqdn=h.dyn.test")
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("host", "evil.example.com")
        .body(axum::body::Body::empty())
        .unwrap();
    let a = fx.send(req).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let b: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    let secret = b["host"]["update_secret"].as_str().unwrap();
    assert_eq!(
        b["host"]["IPv4_update_url_basic_auth"],
        format!("https://h.dyn.test:{secret}@dyn.example.org/nic/update")
    );
    assert_eq!(
        b["host"]["IPv4_update_url_bearer_auth"],
        "https://dyn.example.org/nic/update?hostname=h.dyn.test&myip=${myip}"
    );
    assert!(!a.body.contains("evil"), "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addresses_no_host_should_publish_get_the_dialects_error_and_private_ones_are_fine() {
    let fx = Fixture::with(|c| {
        c.min_update_interval_secs = 0;
        c.trusted_proxies = vec!["203.0.113.77/32".parse().unwrap()];
    })
    .await;
    let secret = fx.host("h.dyn.test").await;
    let auth = Some(("h.dyn.test", secret.as_str()));
    for bad in ["0.0.0.0", "224.0.0.1", "255.255.255.255", "127.0.0.1", "::1", "ff02::1", "::", "192.0.2.1,::1"] {
        let r = fx.get(&format!("/nic/update?myip={bad}"), auth).await;
        r.assert_text(StatusCode::OK, "badagent");
    }
    let r = fx.get(&format!("/api/update?hostname=h.dyn.test&ipv4=192.0.2.1&ipv6=ff02::1&token={secret}"), None).await;
    r.assert_text(StatusCode::OK, "badagent");
    fx.get(&format!("/u/h.dyn.test.{secret}?ip=127.0.0.1"), None).await.assert_text(StatusCode::OK, "IN");
    // The client's own address is checked too (a proxy missing in trusted_proxies would
    // otherwise publish 127.0.0.1).
    let r = fx.get_with("/nic/update", auth, &[("x-forwarded-for", "127.0.0.1")]).await;
    r.assert_text(StatusCode::OK, "badagent");
    assert_eq!(fx.addrs("h.dyn.test"), (None, None), "nothing published");
    // Private ranges are allowed by default (EGI publishes 10.x in its own example).
    fx.get("/nic/update?myip=10.10.0.253,fd00::1", auth).await.assert_text(StatusCode::OK, "good 10.10.0.253,fd00::1");

    let strict = Fixture::with(|c| {
        c.min_update_interval_secs = 0;
        c.refuse_addresses = ["private", "198.51.100.0/24"].iter().map(|r| r.parse().unwrap()).collect();
    })
    .await;
    let secret = strict.host("h.dyn.test").await;
    let auth = Some(("h.dyn.test", secret.as_str()));
    strict.get("/nic/update?myip=10.1.2.3", auth).await.assert_text(StatusCode::OK, "badagent");
    strict.get("/nic/update?myip=198.51.100.5", auth).await.assert_text(StatusCode::OK, "badagent");
    strict.get("/nic/update?myip=127.0.0.1", auth).await.assert_text(StatusCode::OK, "good 127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_update_flags_follow_a_trusted_proxys_forwarded_proto_per_family() {
    let fx = Fixture::with(|c| {
        c.min_update_interval_secs = 0;
        c.trusted_proxies = vec!["203.0.113.77/32".parse().unwrap()];
    })
    .await;
    let secret = fx.host("h.dyn.test").await;
    let auth = Some(("h.dyn.test", secret.as_str()));
    let https = [("x-forwarded-for", "198.51.100.7"), ("x-forwarded-proto", "https")];
    fx.get_with("/nic/update?myip=192.0.2.1", auth, &https).await.assert_text(StatusCode::OK, "good 192.0.2.1");
    let plain = [("x-forwarded-for", "198.51.100.7"), ("x-forwarded-proto", "http")];
    let r = fx.get_with("/nic/update?myip=2001:db8::1", auth, &plain).await;
    r.assert_text(StatusCode::OK, "good 192.0.2.1,2001:db8::1");
    let hosts = fx.api("GET", "/nic/hosts", None).await;
    let h = &hosts["hosts"][0];
    assert_eq!((h["tls_update_ipv4"].as_bool(), h["tls_update_ipv6"].as_bool()), (Some(true), Some(false)), "{h}");
    let hist = fx.api("GET", "/api/v1/hosts/h.dyn.test/history", None).await;
    assert_eq!(hist["history"][1]["source"], "198.51.100.7", "{hist}");
    assert_eq!((hist["history"][1]["tls"].as_bool(), hist["history"][0]["tls"].as_bool()), (Some(true), Some(false)));

    // From a peer that is not a trusted proxy the header means nothing.
    let untrusting = Fixture::with(|c| c.min_update_interval_secs = 0).await;
    let secret = untrusting.host("h.dyn.test").await;
    let r = untrusting.get_with("/nic/update?myip=192.0.2.1", Some(("h.dyn.test", &secret)), &https).await;
    r.assert_text(StatusCode::OK, "good 192.0.2.1");
    let hosts = untrusting.api("GET", "/nic/hosts", None).await;
    assert_eq!(hosts["hosts"][0]["tls_update_ipv4"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkip_and_myip_tell_the_client_address_honouring_only_trusted_proxies() {
    let fx = Fixture::with(|c| c.trusted_proxies = vec!["203.0.113.77/32".parse().unwrap()]).await;
    let r = fx.get("/checkip", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        "<html><head><title>Current IP Check</title></head><body>Current IP Address: 203.0.113.77</body></html>\r\n"
    );
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let r = fx.get_with("/myip", None, &[("x-forwarded-for", "2001:db8::9")]).await;
    r.assert_text(StatusCode::OK, "2001:db8::9");
    let untrusting = Fixture::new().await;
    let r = untrusting.get_with("/myip", None, &[("x-forwarded-for", "198.51.100.1")]).await;
    r.assert_text(StatusCode::OK, "203.0.113.77");
    let metrics = fx.get("/metrics", None).await.body;
    assert!(metrics.contains(r#"quorumdns_checkip_requests_total{endpoint="myip",family="ipv6"}"#), "{metrics}");
}

#[test]
fn the_rate_window_counts_only_changes_within_it_and_says_when_one_leaves() {
    use crate::dyndns::update::rate_limited;
    use crate::state::UpdateResult::{BadAuth, Good, NoChange, RateLimited};
    let min = 60_000;
    let history = [(Good, 0), (NoChange, 10 * min), (Good, 5 * min), (RateLimited, 6 * min), (BadAuth, 7 * min)];
    // Two changes in the 10-minute window, burst 3: room for one more.
    assert_eq!(rate_limited(history.into_iter(), 8 * min, 10 * min, 3), None);
    // Burst 2: full until the change at 0 leaves the window at 10 min.
    assert_eq!(rate_limited(history.into_iter(), 8 * min, 10 * min, 2), Some(120));
    // At 10 min the change at 0 has left.
    assert_eq!(rate_limited(history.into_iter(), 10 * min, 10 * min, 2), None);
    // More changes than the burst (two nodes let one through each): the one whose
    // leaving makes room is waited for, not the oldest.
    let crowded = [(Good, 0), (Good, min), (Good, 2 * min)];
    assert_eq!(rate_limited(crowded.into_iter(), 3 * min, 10 * min, 2), Some(8 * 60));
    // A proposer clock ahead of ours: its change counts as within the window.
    assert_eq!(rate_limited([(Good, 20 * min)].into_iter(), 3 * min, 10 * min, 1), Some(27 * 60));
    assert_eq!(rate_limited(crowded.into_iter(), 3 * min, 0, 1), None, "window 0: no limit");
}
