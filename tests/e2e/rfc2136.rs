//! RFC 2136 UPDATE with TSIG against a 3-node cluster of real processes, with real
//! clients: nsupdate (bind9-dnsutils) with hmac-sha256 and hmac-md5 keys, certbot's
//! dns-rfc2136 plugin client, and dnspython for messages no well-behaved client sends
//! (a replayed old message). Every update goes to a follower; dig on every node checks
//! the result and the serial.
//!
//! certbot and dnspython come from PyPI into a venv under the temp dir (created once,
//! reused; `support::clients::python`); set QUORUMDNS_PYTHON to a python that has them
//! to skip that.

use std::process::Command;

use reqwest::Method;
use serde_json::json;

use crate::support::clients::python;
use crate::support::{dig, eventually, set_a, Cluster, WAIT, ZONE};

const SHA256_SECRET: &str = "c2hhMjU2LXNlY3JldC1mb3ItdGhlLXVwZGF0ZS10ZXN0cw==";
const MD5_SECRET: &str = "bWQ1LXNlY3JldC1mb3ItdGhlLXVwZGF0ZS10ZXN0cw==";
const ACME_SECRET: &str = "YWNtZS1zZWNyZXQtZm9yLXRoZS11cGRhdGUtdGVzdHM=";

async fn add_key(c: &Cluster, name: &str, alg: &str, secret: &str, policy: serde_json::Value) {
    let body = json!({"name": name, "algorithm": alg, "secret": secret, "policy": policy});
    let (s, b) = c.node(0).api(Method::POST, "/api/v1/tsig", Some(body)).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["secret"], secret);
}

/// Runs nsupdate with `-y alg:name:secret` and the given script; (exit ok, stdout+stderr).
fn nsupdate(key: &str, script: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new("nsupdate")
        .args(["-y", key, "-t", "5"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("nsupdate is installed (bind9-dnsutils)");
    child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("script written");
    let out = child.wait_with_output().expect("nsupdate ran");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn answers(c: &Cluster, name: &str, rtype: &str) -> Vec<Vec<String>> {
    c.live().into_iter().map(|i| dig(c.node(i).dns, &[name, rtype]).answer_data(rtype)).collect()
}

/// Waits until every node has `serial` and answers `want` for (name, type).
async fn all_nodes_see(c: &Cluster, name: &str, rtype: &str, want: &[&str], serial: u32) {
    let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    eventually(format!("{name} {rtype} = {want:?} everywhere"), WAIT, async || {
        let ok = answers(c, name, rtype).iter().all(|a| *a == want)
            && c.live().iter().all(|i| c.node(*i).try_serial() == Some(serial));
        ok.then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nsupdate_on_a_follower_adds_replaces_and_deletes_with_sha256_and_md5_keys() {
    let c = Cluster::start(3, 10_000).await;
    let subdomain = json!([{"match": "subdomain", "name": ZONE, "types": []}]);
    add_key(&c, "sha-key", "hmac-sha256", SHA256_SECRET, subdomain.clone()).await;
    add_key(&c, "md5-key", "hmac-md5", MD5_SECRET, subdomain).await;
    let leader = c.leader().await;
    let f = c.follower_of(leader);
    let dns = c.node(f).dns;
    let server = format!("server {} {}\n", dns.ip(), dns.port());
    for (key, label) in
        [(format!("hmac-sha256:sha-key:{SHA256_SECRET}"), "s"), (format!("hmac-md5:md5-key:{MD5_SECRET}"), "m")]
    {
        let www = format!("www-{label}.{ZONE}");
        let txt = format!("txt-{label}.{ZONE}");
        // The md5 round lets nsupdate find the zone itself: a signed SOA query first.
        let zone_line = if label == "s" { format!("zone {ZONE}\n") } else { String::new() };
        let serial = c.converged_serial().await;
        let script = format!(
            "{server}{zone_line}update add {www} 60 A 192.0.2.10\nupdate add {txt} 60 TXT \"hello {label}\"\nsend\n"
        );
        let (ok, out) = nsupdate(&key, &script);
        assert!(ok, "add with {key}: {out}");
        all_nodes_see(&c, &www, "A", &["192.0.2.10"], serial + 1).await;
        all_nodes_see(&c, &txt, "TXT", &[&format!("\"hello {label}\"")], serial + 1).await;

        let script = format!("{server}{zone_line}update delete {www} A\nupdate add {www} 60 A 192.0.2.11\nupdate delete {txt} TXT \"hello {label}\"\nupdate add {txt} 60 TXT \"again\"\nsend\n");
        let (ok, out) = nsupdate(&key, &script);
        assert!(ok, "replace: {out}");
        all_nodes_see(&c, &www, "A", &["192.0.2.11"], serial + 2).await;
        all_nodes_see(&c, &txt, "TXT", &["\"again\""], serial + 2).await;

        let script = format!("{server}{zone_line}update delete {www} A\nupdate delete {txt}\nsend\n");
        let (ok, out) = nsupdate(&key, &script);
        assert!(ok, "delete: {out}");
        all_nodes_see(&c, &www, "A", &[], serial + 3).await;
        all_nodes_see(&c, &txt, "TXT", &[], serial + 3).await;
    }
    let (s, h) = c.node(f).api(Method::GET, "/api/v1/updates", None).await;
    assert_eq!(s, 200);
    let n = h["updates"].as_array().map(|a| a.len()).unwrap_or(0);
    assert_eq!(n, 6, "every UPDATE in the history: {h}");
    assert!(!h.to_string().contains(SHA256_SECRET), "no secret in the history");
    let (_, keys) = c.node(f).api(Method::GET, "/api/v1/tsig", None).await;
    assert!(!keys.to_string().contains(MD5_SECRET) && keys.to_string().contains("md5-key"), "{keys}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_prerequisites_policy_bad_mac_and_replays_change_nothing() {
    let c = Cluster::start(3, 10_000).await;
    add_key(&c, "sha-key", "hmac-sha256", SHA256_SECRET, json!([{"match": "subdomain", "name": ZONE}])).await;
    add_key(
        &c,
        "acme-key",
        "hmac-md5",
        ACME_SECRET,
        json!([{"match": "pattern", "name": "_acme-challenge.*", "types": ["TXT"]}]),
    )
    .await;
    let f = c.follower_of(c.leader().await);
    let dns = c.node(f).dns;
    let head = format!("server {} {}\nzone {ZONE}\n", dns.ip(), dns.port());
    let key = format!("hmac-sha256:sha-key:{SHA256_SECRET}");
    let (ok, out) = nsupdate(&key, &format!("{head}update add www.{ZONE} 60 A 192.0.2.1\nsend\n"));
    assert!(ok, "{out}");
    let serial = c.converged_serial().await;

    let cases = [
        (format!("prereq nxdomain www.{ZONE}\nupdate add x.{ZONE} 60 A 192.0.2.9\n"), "YXDOMAIN"),
        (format!("prereq yxdomain nothere.{ZONE}\nupdate add x.{ZONE} 60 A 192.0.2.9\n"), "NXDOMAIN"),
        (format!("prereq yxrrset www.{ZONE} AAAA\nupdate add x.{ZONE} 60 A 192.0.2.9\n"), "NXRRSET"),
        (format!("prereq nxrrset www.{ZONE} A\nupdate add x.{ZONE} 60 A 192.0.2.9\n"), "YXRRSET"),
        (format!("prereq yxrrset www.{ZONE} A 192.0.2.2\nupdate add x.{ZONE} 60 A 192.0.2.9\n"), "NXRRSET"),
        // The second half of an atomic message fails: the first half must not stay.
        (format!("update add x.{ZONE} 60 A 192.0.2.9\nupdate add x.{ZONE} 60 SSHFP 1 1 0123456789abcdef0123456789abcdef01234567\n"), "REFUSED"),
    ];
    for (body, rcode) in &cases {
        let (ok, out) = nsupdate(&key, &format!("{head}{body}send\n"));
        assert!(!ok && out.contains(rcode), "expected {rcode}:\n{body}\n{out}");
    }
    // A key used outside its policy.
    let acme = format!("hmac-md5:acme-key:{ACME_SECRET}");
    let (ok, out) = nsupdate(&acme, &format!("{head}update add www.{ZONE} 60 TXT \"no\"\nsend\n"));
    assert!(!ok && out.contains("REFUSED"), "{out}");
    let (ok, out) =
        nsupdate(&acme, &format!("{head}check-names no\nupdate add _acme-challenge.www.{ZONE} 60 A 192.0.2.1\nsend\n"));
    assert!(!ok && out.contains("REFUSED"), "{out}");
    // A wrong secret.
    let wrong = "hmac-sha256:sha-key:d3Jvbmctc2VjcmV0LWZvci10ZXN0cy0wMTIzNDU2Nzg5";
    let (ok, out) = nsupdate(wrong, &format!("{head}update add y.{ZONE} 60 A 192.0.2.9\nsend\n"));
    assert!(!ok && (out.contains("BADSIG") || out.contains("NOTAUTH")), "{out}");
    // A message signed an hour ago.
    let py = python();
    let out = Command::new(&py)
        .arg("-c")
        .arg(REPLAY)
        .args([dns.ip().to_string(), dns.port().to_string(), ZONE.into(), "sha-key".into(), SHA256_SECRET.into()])
        .output()
        .expect("python runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("rcode=NOTAUTH tsig_error=18 signed=True"), "{text}");

    assert_eq!(c.converged_serial().await, serial, "nothing changed");
    for i in c.live() {
        assert!(dig(c.node(i).dns, &[&format!("x.{ZONE}"), "A"]).answer.is_empty());
        assert!(dig(c.node(i).dns, &[&format!("y.{ZONE}"), "A"]).answer.is_empty());
        assert!(dig(c.node(i).dns, &[&format!("replay.{ZONE}"), "TXT"]).answer.is_empty());
    }
    // Failed prerequisites went through the log (every node lists them); the policy
    // refusals were answered before it, by the follower, which lists them from its ring.
    let (_, h) = c.node(c.follower_of(f)).api(Method::GET, "/api/v1/updates", None).await;
    assert!(h.to_string().contains("YXDOMAIN") && !h.to_string().contains("acme-key"), "{h}");
    let (_, h) = c.node(f).api(Method::GET, "/api/v1/updates", None).await;
    assert!(h.to_string().contains("YXDOMAIN") && h.to_string().contains("acme-key"), "{h}");
}

/// dnspython: an UPDATE signed with a time an hour old; the server must answer NOTAUTH
/// with TSIG error BADTIME (18), signed (RFC 8945 §5.2.3).
const REPLAY: &str = r#"
import sys, time, socket, dns.update, dns.tsigkeyring, dns.message, dns.tsig, dns.rcode
host, port, zone, name, secret = sys.argv[1:6]
kr = dns.tsigkeyring.from_text({name: ("hmac-sha256", secret)})
u = dns.update.UpdateMessage(zone)
u.add("replay." + zone + ".", 60, "TXT", '"x"')
real = time.time
time.time = lambda: real() - 3600
u.use_tsig(kr, keyname=name, algorithm="hmac-sha256")
wire = u.to_wire()
time.time = real
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(wire, (host, int(port)))
data, _ = s.recvfrom(65535)
r = dns.message.from_wire(data, keyring=False)
tsig = r.tsig[0] if r.tsig else None
print(f"rcode={dns.rcode.to_text(r.rcode())} tsig_error={tsig.error if tsig else None} signed={bool(tsig and len(tsig.mac) > 0)}")
"#;

/// certbot-dns-rfc2136's client as certbot drives it for a DNS-01 challenge: find the
/// zone with a signed SOA query, add the TXT, remove it. hmac-md5 is its default.
const CERTBOT: &str = r#"
import sys, dns.tsig
from certbot_dns_rfc2136._internal.dns_rfc2136 import _RFC2136Client
host, port, name, secret, record, value, action = sys.argv[1:8]
c = _RFC2136Client(host, int(port), name, secret, dns.tsig.HMAC_MD5, True, 5)
if action == "add":
    c.add_txt_record(record, value, 60)
else:
    c.del_txt_record(record, value)
print("ok", action)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certbot_dns_rfc2136_adds_and_cleans_up_its_challenge_through_a_follower() {
    let c = Cluster::start(3, 10_000).await;
    add_key(
        &c,
        "certbot-key",
        "hmac-md5",
        ACME_SECRET,
        json!([{"match": "pattern", "name": "_acme-challenge.*", "types": ["TXT"]}]),
    )
    .await;
    let f = c.follower_of(c.leader().await);
    let dns = c.node(f).dns;
    let record = format!("_acme-challenge.www.{ZONE}");
    let py = python();
    for (action, want) in [("add", vec!["\"token-123\""]), ("del", vec![])] {
        let serial = c.converged_serial().await;
        let out = Command::new(&py)
            .arg("-c")
            .arg(CERTBOT)
            .args([
                &dns.ip().to_string(),
                &dns.port().to_string(),
                "certbot-key",
                ACME_SECRET,
                &record,
                "token-123",
                action,
            ])
            .output()
            .expect("python runs");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "certbot {action}: {text}");
        let want: Vec<&str> = want.iter().map(|s| &**s).collect();
        all_nodes_see(&c, &record, "TXT", &want, serial + 1).await;
    }
}

/// Transfers dig asks for with `-y`: complete (both SOAs) or refused.
fn transfer_ok(dns: std::net::SocketAddr, key: Option<&str>, qtype: &str) -> (bool, String) {
    let mut args: Vec<&str> = Vec::new();
    if let Some(k) = key {
        args.extend(["-y", k]);
    }
    args.extend(["+tcp", ZONE, qtype]);
    let d = dig(dns, &args);
    let soas = d.raw.lines().filter(|l| l.split_whitespace().nth(3) == Some("SOA")).count();
    (soas >= 2 && !d.raw.contains("Transfer failed") && !d.raw.contains("verify"), d.raw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_created_through_the_api_authorizes_axfr_and_ixfr_on_a_follower() {
    let mut c = Cluster::start(3, 10_000).await;
    // No UPDATE policy: a transfer-only key, named in the zone's replicated transfer_tsig
    // list (BIND: allow-transfer { key xfr-key; }).
    add_key(&c, "xfr-key", "hmac-sha256", SHA256_SECRET, json!([])).await;
    add_key(&c, "other-key", "hmac-md5", MD5_SECRET, json!([])).await;
    let path = format!("/api/v1/zones/{ZONE}/secondaries");
    let (s, b) = c.node(0).api(Method::PUT, &path, Some(json!({"transfer_tsig": ["xfr-key"]}))).await;
    assert_eq!(s, 200, "{b}");
    let old = c.converged_serial().await;
    set_a(c.node(0), "xfr-host", "192.0.2.77").await;
    let serial = c.converged_serial().await;
    assert!(serial > old);
    let f = c.follower_of(c.leader().await);
    let dns = c.node(f).dns;
    let key = format!("hmac-sha256:xfr-key:{SHA256_SECRET}");
    let (ok, out) = transfer_ok(dns, Some(key.as_str()), "AXFR");
    assert!(ok && out.contains("192.0.2.77"), "signed AXFR from a follower:\n{out}");
    let ixfr = format!("IXFR={old}");
    let (ok, out) = transfer_ok(dns, Some(key.as_str()), &ixfr);
    assert!(ok && out.contains("192.0.2.77"), "signed IXFR from a follower:\n{out}");

    let wrong = "hmac-sha256:xfr-key:d3Jvbmctc2VjcmV0LWZvci10ZXN0cy0wMTIzNDU2Nzg5";
    let other = format!("hmac-md5:other-key:{MD5_SECRET}");
    let unknown = format!("hmac-sha256:no-such-key:{SHA256_SECRET}");
    for (what, k) in [
        ("unsigned", None),
        ("wrong secret", Some(wrong)),
        ("a key not in transfer_tsig", Some(other.as_str())),
        ("an unknown key", Some(unknown.as_str())),
    ] {
        let (ok, out) = transfer_ok(dns, k, "AXFR");
        assert!(!ok && !out.contains("192.0.2.77"), "{what} must be refused:\n{out}");
    }

    // Deleting the key through the API revokes it on every node.
    let (s, b) = c.node(0).api(Method::DELETE, "/api/v1/tsig/xfr-key", None).await;
    assert_eq!(s, 200, "{b}");
    eventually("the deleted key no longer transfers", WAIT, async || {
        (!transfer_ok(dns, Some(key.as_str()), "AXFR").0).then_some(())
    })
    .await;
    // And a restarted follower knows a replicated key from its log or snapshot.
    let (s, b) = c.node(0).api(Method::PUT, &path, Some(json!({"transfer_tsig": ["other-key"]}))).await;
    assert_eq!(s, 200, "{b}");
    c.converged_serial().await;
    let kill = c.follower_of(c.leader().await);
    c.kill9(kill);
    c.restart(kill);
    let dns = c.specs[kill].dns();
    eventually("a restarted node transfers with a replicated key", WAIT, async || {
        transfer_ok(dns, Some(other.as_str()), "AXFR").0.then_some(())
    })
    .await;
}
