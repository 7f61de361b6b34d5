//! A seeded random sequence of real UPDATE messages through a 3-node cluster of real
//! processes gives the same rcodes and the same zone, on every node, as the reference
//! model `quorumdns::state::update_model` (the one the apply property test uses).
//!
//! Each message goes to a random node (followers included) over UDP or TCP: adds, deletes
//! of an RRset, a name, an RR, all five prerequisite kinds (many failing), several changes
//! per message, the apex NS and SOA protection, and messages the server must refuse
//! before the log (unsigned, bad MAC, a key outside its policy). After each answer the
//! node that answered must have bumped its serial exactly when the model changed; at the
//! end every node's AXFR must equal the model. `QUORUMDNS_SEED=n` replays a run.

use std::net::SocketAddr;

use quorumdns::dns::tsig::{self, TsigKey};
use quorumdns::model::tsig::Algorithm;
use quorumdns::model::{zonefile, Fqdn};
use quorumdns::state::rfc2136::{rcode, Prereq, UpdateOp};
use quorumdns::state::update_model::{self as model, Model};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::json;

use crate::support::update::{exchange, message};
use crate::support::{add_tsig_keys, dig, Cluster, ZONE};

const MESSAGES: usize = 80;
const SECRET: &[u8] = b"update-model-secret-0123456789abcdef";
const NARROW_SECRET: &[u8] = b"update-model-narrow-0123456789abcdef";

/// The zone as `server` transfers it (AXFR, signed with `key`), as a model.
fn transferred(server: SocketAddr, key: &str) -> Model {
    let d = dig(server, &["-y", key, "+onesoa", ZONE, "AXFR"]);
    let zone = Fqdn::parse(ZONE).expect("zone name");
    // dig prints the transfer's TSIG RRs too (owner: the key, class ANY): not zone data.
    let text: String =
        d.raw.lines().filter(|l| l.split_whitespace().nth(3) != Some("TSIG")).map(|l| format!("{l}\n")).collect();
    assert!(
        text.lines().filter(|l| l.split_whitespace().nth(3) == Some("SOA")).count() == 1,
        "AXFR from {server}:\n{}",
        d.raw
    );
    let parsed = zonefile::parse(&text, &zone).unwrap_or_else(|e| panic!("AXFR from {server} parses: {e}\n{}", d.raw));
    model::of_records(parsed.records.into_iter().map(|r| (r.name, r.ttl, r.data)))
}

#[derive(Clone, Copy, Debug)]
enum Signer {
    Allowed,
    Narrow,
    Unsigned,
    WrongSecret,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_updates_through_any_node_match_the_reference_model_on_every_node() {
    let seed: u64 = std::env::var("QUORUMDNS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    println!("update_model seed: {seed} (QUORUMDNS_SEED={seed} replays it)");
    let mut rng = StdRng::seed_from_u64(seed);
    let c = Cluster::start(3, 10_000).await;
    let apex = Fqdn::parse(ZONE).expect("zone name");
    let b64 = |s: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
    let subdomain = json!([{"match": "subdomain", "name": ZONE}]);
    let acme_only = json!([{"match": "pattern", "name": "_acme-challenge.*", "types": ["TXT"]}]);
    add_tsig_keys(
        &c,
        &[("model-key", "hmac-sha256", SECRET, subdomain), ("narrow-key", "hmac-md5", NARROW_SECRET, acme_only)],
    )
    .await;
    let allowed = TsigKey::new(Fqdn::parse("model-key").unwrap(), Algorithm::HmacSha256, SECRET.to_vec());
    let narrow = TsigKey::new(Fqdn::parse("narrow-key").unwrap(), Algorithm::HmacMd5, NARROW_SECRET.to_vec());
    let wrong = TsigKey::new(
        Fqdn::parse("model-key").unwrap(),
        Algorithm::HmacSha256,
        b"not-the-secret-0123456789abcdef".to_vec(),
    );
    let axfr_key = format!("hmac-sha256:model-key:{}", b64(SECRET));
    let (s, b) = c
        .node(0)
        .api(Method::PUT, &format!("/api/v1/zones/{ZONE}/secondaries"), Some(json!({"transfer_tsig": ["model-key"]})))
        .await;
    assert_eq!(s, 200, "{b}");

    let serial0 = c.converged_serial().await;
    let mut expected = transferred(c.node(0).dns, &axfr_key);
    assert!(!expected.is_empty(), "the zone has its apex NS");
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..MESSAGES {
        let prereqs: Vec<Prereq> = (0..rng.gen_range(0..3))
            .map(|_| model::prereq(&apex, rng.gen(), rng.gen(), rng.gen_range(0..5), rng.gen()))
            .collect();
        let ops: Vec<UpdateOp> = (0..rng.gen_range(1..5))
            .map(|_| model::op(&apex, rng.gen(), rng.gen(), rng.gen(), rng.gen(), 60 * rng.gen_range(1..3)))
            .collect();
        let soa_add = rng.gen_ratio(1, 10);
        let signer = match rng.gen_range(0..20) {
            0 => Signer::Unsigned,
            1 => Signer::WrongSecret,
            2 => Signer::Narrow,
            _ => Signer::Allowed,
        };
        let mut msg = message(rng.gen(), &apex, &prereqs, &ops, soa_add);
        let key = match signer {
            Signer::Allowed => Some(&allowed),
            Signer::Narrow => Some(&narrow),
            Signer::WrongSecret => Some(&wrong),
            Signer::Unsigned => None,
        };
        if let Some(k) = key {
            tsig::sign_request(&mut msg, k, tsig::now());
        }
        let (want, next) = match signer {
            Signer::Allowed => model::apply(&apex, &expected, &prereqs, &ops),
            // The narrow key may only touch _acme-challenge TXT: these names never match.
            Signer::Narrow | Signer::Unsigned => (rcode::REFUSED, expected.clone()),
            Signer::WrongSecret => (rcode::NOTAUTH, expected.clone()),
        };
        let node = c.live()[rng.gen_range(0..3)];
        let tcp = rng.gen_bool(0.5);
        let server = c.node(node).dns;
        let before = c.node(node).serial();
        let got = tokio::task::block_in_place(|| exchange(server, &msg, tcp));
        let ctx = format!("seed {seed}, message {i} to node {node} over {} by {signer:?}:\n  prereqs {prereqs:?}\n  updates {ops:?}\n  soa_add {soa_add}", if tcp { "tcp" } else { "udp" });
        assert_eq!(rcode::name(got), rcode::name(want), "{ctx}");
        let after = c.node(node).serial();
        assert_eq!(
            after != before,
            next != expected,
            "serial bumped exactly when the zone changed ({before} -> {after}); {ctx}"
        );
        *counts.entry(format!("{signer:?} {}", rcode::name(got))).or_default() += 1;
        expected = next;
    }
    println!("outcomes: {counts:?}");
    assert!(counts.keys().filter(|k| k.starts_with("Allowed")).count() >= 3, "a mix of outcomes: {counts:?}");

    let serial = c.converged_serial().await;
    assert!(serial > serial0, "something changed over {MESSAGES} messages (seed {seed})");
    for i in c.live() {
        let got = transferred(c.node(i).dns, &axfr_key);
        assert_eq!(got, expected, "node {i}'s zone (AXFR) equals the model (seed {seed})");
    }
}
