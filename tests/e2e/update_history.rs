//! Every UPDATE shows in `GET /api/v1/updates`, also those refused before the log:
//! unsigned, BADSIG, BADKEY, BADTIME and a key outside its policy. Those are answered by
//! the node they reached, leave the Raft log as it was (a flood of them must not grow it)
//! and are listed by that node from its in-memory ring, with key (or none), source,
//! the changes asked and the result; accepted UPDATEs are in the replicated history on
//! every node.

use quorumdns::dns::tsig::{self, TsigKey};
use quorumdns::model::tsig::Algorithm;
use quorumdns::model::{Fqdn, RData};
use quorumdns::state::rfc2136::UpdateOp;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::update::{exchange, message};
use crate::support::{add_tsig_keys, Cluster, ZONE};

type Case = (&'static str, Option<(TsigKey, u64)>, u16, &'static str, Option<&'static str>, Option<&'static str>);

const SECRET: &[u8] = b"history-secret-0123456789abcdef!";
const NARROW_SECRET: &[u8] = b"history-narrow-0123456789abcdef!";

async fn last_log_index(c: &Cluster, i: usize) -> u64 {
    let (s, v) = c.node(i).api(Method::GET, "/api/v1/cluster", None).await;
    assert_eq!(s, 200, "{v}");
    v["this_node"]["last_log_index"].as_u64().expect("last_log_index")
}

fn add_www(n: u8) -> Vec<u8> {
    let zone = Fqdn::parse(ZONE).unwrap();
    let op = UpdateOp::Add { name: zone.child("www").unwrap(), ttl: 60, data: RData::A([192, 0, 2, n].into()) };
    message(u16::from(n), &zone, &[], &[op], false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_updates_are_in_the_history_of_the_node_that_answered_and_not_in_the_log() {
    let c = Cluster::start(3, 10_000).await;
    let b64 = |s: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
    let subdomain = json!([{"match": "subdomain", "name": ZONE}]);
    let acme_only = json!([{"match": "pattern", "name": "_acme-challenge.*", "types": ["TXT"]}]);
    add_tsig_keys(
        &c,
        &[("hist-key", "hmac-sha256", SECRET, subdomain), ("narrow-key", "hmac-sha256", NARROW_SECRET, acme_only)],
    )
    .await;
    let leader = c.leader().await;
    let f = c.follower_of(leader);
    let serial = c.converged_serial().await;
    let log_before = last_log_index(&c, leader).await;

    let key =
        |name: &str, secret: &[u8]| TsigKey::new(Fqdn::parse(name).unwrap(), Algorithm::HmacSha256, secret.to_vec());
    let now = tsig::now();
    // (what, signing key and time, rcode, reason, TSIG error, key in the history)
    let cases: [Case; 5] = [
        ("unsigned", None, 5, "unsigned", None, None),
        (
            "badsig",
            Some((key("hist-key", b"not-the-secret-0123456789abcdef"), now)),
            9,
            "bad_tsig",
            Some("BADSIG"),
            Some("hist-key"),
        ),
        ("badkey", Some((key("no-such-key", SECRET), now)), 9, "bad_tsig", Some("BADKEY"), Some("no-such-key")),
        ("badtime", Some((key("hist-key", SECRET), now - 3600)), 9, "bad_tsig", Some("BADTIME"), Some("hist-key")),
        ("policy", Some((key("narrow-key", NARROW_SECRET), now)), 5, "policy", None, Some("narrow-key")),
    ];
    for (n, (what, signer, want, ..)) in cases.iter().enumerate() {
        let mut msg = add_www(n as u8 + 1);
        if let Some((k, at)) = signer {
            tsig::sign_request(&mut msg, k, *at);
        }
        // Both transports: the ring is fed by the one UPDATE handler.
        let rc = tokio::task::block_in_place(|| exchange(c.node(f).dns, &msg, n % 2 == 0));
        assert_eq!(rc, *want, "{what}");
    }
    // A flood of bad UPDATEs: answered, not proposed.
    for n in 0..50u8 {
        let rc = tokio::task::block_in_place(|| exchange(c.node(f).dns, &add_www(n), false));
        assert_eq!(rc, 5, "unsigned flood");
    }
    assert_eq!(last_log_index(&c, leader).await, log_before, "refused UPDATEs did not reach the Raft log");
    assert_eq!(c.converged_serial().await, serial, "nothing changed");

    let (s, h) = c.node(f).api(Method::GET, "/api/v1/updates", None).await;
    assert_eq!(s, 200, "{h}");
    let entries = h["updates"].as_array().expect("updates").clone();
    let rejected: Vec<&Value> = entries.iter().filter(|e| e["replicated"] == false).collect();
    assert_eq!(rejected.len(), 55, "every refused UPDATE listed: {h}");
    for (n, (what, _, want, reason, tsig_error, key)) in cases.iter().enumerate() {
        let e = rejected[n];
        assert_eq!(e["rejected"], *reason, "{what}: {e}");
        assert_eq!(e["rcode"], if *want == 5 { "REFUSED" } else { "NOTAUTH" }, "{what}: {e}");
        assert_eq!(e["tsig_error"].as_str(), *tsig_error, "{what}: {e}");
        assert_eq!(e["key"].as_str(), *key, "{what}: {e}");
        assert_eq!(e["zone"], ZONE, "{what}: {e}");
        assert!(e["source"].as_str().is_some_and(|s| s.starts_with("127.0.0.1:")), "{what}: {e}");
        let change = format!("add www.{ZONE}. 60 A 192.0.2.{}", n + 1);
        assert!(
            e["changes"][0]
                .as_str()
                .is_some_and(|c| c.starts_with(&change.replace(". 60", " 60")) || c.starts_with(&change)),
            "{what}: {e}"
        );
        assert_eq!(e["changed"], false);
    }
    assert!(
        !h.to_string().contains(&b64(SECRET)) && !h.to_string().contains(&b64(NARROW_SECRET)),
        "no secret in the history"
    );
    let (_, only) = c.node(f).api(Method::GET, "/api/v1/updates?key=narrow-key", None).await;
    assert_eq!(only["updates"].as_array().map(Vec::len), Some(1), "filter by key: {only}");

    // An accepted UPDATE is in the replicated history, on every node; the refused ones
    // only on the node that answered them.
    let mut msg = add_www(9);
    tsig::sign_request(&mut msg, &key("hist-key", SECRET), tsig::now());
    assert_eq!(tokio::task::block_in_place(|| exchange(c.node(f).dns, &msg, true)), 0);
    let serial = c.converged_serial().await;
    for i in c.live() {
        let (_, h) = c.node(i).api(Method::GET, "/api/v1/updates", None).await;
        let all = h["updates"].as_array().expect("updates");
        let replicated: Vec<&Value> = all.iter().filter(|e| e["replicated"] == true).collect();
        assert_eq!(replicated.len(), 1, "node {i}: {h}");
        assert_eq!(
            (replicated[0]["rcode"].as_str(), replicated[0]["key"].as_str()),
            (Some("NOERROR"), Some("hist-key"))
        );
        assert_eq!(replicated[0]["changed"], true);
        let local = all.len() - replicated.len();
        assert_eq!(
            local,
            if i == f { 55 } else { 0 },
            "node {i} lists only the refusals it answered (serial {serial})"
        );
    }
}
