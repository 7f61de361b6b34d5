//! A real certificate through a 3-node cluster: pebble (the ACME test CA, Debian package
//! `pebble`) checks DNS-01 by asking a quorumdns node for the `_acme-challenge` TXT;
//! lego (`lego`, `--dns rfc2136`) sends the TXT as a TSIG-signed UPDATE to a follower
//! and removes it afterwards. pebble's HTTPS listener gets a throwaway self-signed
//! certificate made here with openssl (the Debian package does not ship pebble's test
//! certificates), which lego trusts through LEGO_CA_CERTIFICATES. certbot (with its
//! dns-rfc2136 plugin, from the venv tests/e2e/rfc2136.rs makes) does the same through
//! REQUESTS_CA_BUNDLE; and through the acme-dns API, with joohoi's acme-dns client library
//! (pyacmedns) as its manual hook, as acme-dns-certbot does (Debian's lego 4.9.1 is built
//! without lego's acme-dns provider).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use reqwest::Method;
use serde_json::json;

use crate::support::clients::python;
use crate::support::{dig, eventually, free_port, Cluster, WAIT, ZONE};

const LEGO_SECRET: &str = "bGVnby1zZWNyZXQtZm9yLXRoZS1hY21lLWNsaWVudC10ZXN0cw==";

/// A self-signed certificate for 127.0.0.1 (pebble's HTTPS listener): (cert, key).
fn tls_pair(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("pebble-cert.pem"), dir.join("pebble-key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    (cert, key)
}

/// pebble, killed on drop.
struct Pebble {
    child: Child,
    directory: String,
    ca: PathBuf,
    log: PathBuf,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pebble {
    /// Starts pebble resolving DNS-01 challenges at `dns` and waits for its listener.
    async fn start(dir: &Path, dns: SocketAddr) -> Pebble {
        let (cert, key) = tls_pair(dir);
        let port = free_port();
        let config = json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{}", free_port()),
            "certificate": cert, "privateKey": key,
            "httpPort": free_port(), "tlsPort": free_port(),
            "ocspResponderURL": "", "externalAccountBindingRequired": false,
        }});
        let path = dir.join("pebble.json");
        std::fs::write(&path, config.to_string()).expect("pebble config");
        let log = dir.join("pebble.log");
        let child = Command::new("pebble")
            .arg("-config")
            .arg(&path)
            .args(["-dnsserver", &dns.to_string()])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(std::fs::File::create(&log).expect("pebble log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble is installed (Debian package pebble)");
        let p = Pebble { child, directory: format!("https://127.0.0.1:{port}/dir"), ca: cert, log };
        eventually("pebble listens", WAIT, async || std::net::TcpStream::connect(("127.0.0.1", port)).ok()).await;
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A 3-node cluster with an `_acme-challenge.*` TXT key, and pebble resolving DNS-01 at
/// a follower: (cluster, the follower's DNS address, pebble, a temp dir).
async fn setup(key: &str, algorithm: &str, secret: &str) -> (Cluster, SocketAddr, Pebble, tempfile::TempDir) {
    let c = Cluster::start(3, 10_000).await;
    let policy = json!([{"match": "pattern", "name": "_acme-challenge.*", "types": ["TXT"]}]);
    let body = json!({"name": key, "algorithm": algorithm, "secret": secret, "policy": policy});
    let (s, b) = c.node(0).api(Method::POST, "/api/v1/tsig", Some(body)).await;
    assert_eq!(s, 201, "{b}");
    let f = c.follower_of(c.leader().await);
    let dns = c.node(f).dns;
    c.converged_serial().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // pebble asks the follower the client updates: it answered NOERROR after applying the TXT.
    let pebble = Pebble::start(dir.path(), dns).await;
    (c, dns, pebble, dir)
}

/// The certificate names `domain`; the challenge TXT is gone on every node; the history
/// has the present and the cleanup UPDATE of `key`.
async fn issued(c: &Cluster, cert_path: &Path, domain: &str, key: &str) {
    let cert = std::fs::read_to_string(cert_path).expect("the client wrote the certificate");
    assert!(cert.contains("BEGIN CERTIFICATE"), "{cert}");
    let text =
        Command::new("openssl").args(["x509", "-noout", "-text"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn();
    let text = text.and_then(|mut ch| {
        use std::io::Write;
        ch.stdin.take().expect("stdin").write_all(cert.as_bytes())?;
        ch.wait_with_output()
    });
    let text = String::from_utf8_lossy(&text.expect("openssl x509").stdout).to_string();
    assert!(text.contains(&format!("DNS:{domain}")), "the certificate names {domain}:\n{text}");
    let record = format!("_acme-challenge.{domain}");
    c.converged_serial().await;
    for i in c.live() {
        assert!(dig(c.node(i).dns, &[&record, "TXT"]).answer.is_empty(), "node {i} still serves the challenge");
    }
    let (_, h) = c.node(0).api(Method::GET, &format!("/api/v1/updates?key={key}"), None).await;
    let ok: Vec<_> = h["updates"]
        .as_array()
        .expect("updates")
        .iter()
        .filter(|e| e["rcode"] == "NOERROR" && e["changed"] == true)
        .collect();
    assert_eq!(ok.len(), 2, "present and cleanup: {h}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lego_gets_a_certificate_from_pebble_with_rfc2136_through_a_follower() {
    let (c, dns, pebble, dir) = setup("lego-key", "hmac-sha256", LEGO_SECRET).await;
    let domain = format!("www.{ZONE}");
    let out = tokio::task::block_in_place(|| {
        Command::new("timeout")
            .arg("180")
            .arg("lego")
            .args(["--accept-tos", "--email", "acme@example.test", "--server", &pebble.directory])
            .arg("--path")
            .arg(dir.path().join("lego"))
            .args([
                "--dns",
                "rfc2136",
                "--dns.disable-cp",
                "--dns.resolvers",
                &dns.to_string(),
                "--domains",
                &domain,
                "run",
            ])
            .env("LEGO_CA_CERTIFICATES", &pebble.ca)
            .env("RFC2136_NAMESERVER", dns.to_string())
            .env("RFC2136_TSIG_KEY", "lego-key")
            .env("RFC2136_TSIG_SECRET", LEGO_SECRET)
            .env("RFC2136_TSIG_ALGORITHM", "hmac-sha256.")
            .output()
            .expect("lego is installed (Debian package lego)")
    });
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "lego run:\n{text}\npebble:\n{}", pebble.log());
    issued(&c, &dir.path().join(format!("lego/certificates/{domain}.crt")), &domain, "lego-key").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certbot_certonly_gets_a_certificate_from_pebble_with_dns_rfc2136_through_a_follower() {
    let (c, dns, pebble, dir) = setup("certbot-key", "hmac-md5", LEGO_SECRET).await;
    let domain = format!("cb.{ZONE}");
    let ini = dir.path().join("rfc2136.ini");
    let creds = format!(
        "dns_rfc2136_server = {}\ndns_rfc2136_port = {}\ndns_rfc2136_name = certbot-key\ndns_rfc2136_secret = {LEGO_SECRET}\ndns_rfc2136_algorithm = HMAC-MD5\n",
        dns.ip(),
        dns.port()
    );
    std::fs::write(&ini, creds).expect("credentials");
    std::fs::set_permissions(&ini, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod 600");
    let py = python();
    let d = dir.path();
    let out = tokio::task::block_in_place(|| {
        Command::new("timeout")
            .arg("180")
            .arg(&py)
            .args([
                "-c",
                "import sys; from certbot.main import main; sys.exit(main())",
                "certonly",
                "--non-interactive",
                "--agree-tos",
                "--no-eff-email",
                "-m",
                "acme@example.test",
            ])
            .args([
                "--server",
                &pebble.directory,
                "--dns-rfc2136",
                "--dns-rfc2136-propagation-seconds",
                "1",
                "-d",
                &domain,
            ])
            .arg("--dns-rfc2136-credentials")
            .arg(&ini)
            .arg("--config-dir")
            .arg(d.join("cb-config"))
            .arg("--work-dir")
            .arg(d.join("cb-work"))
            .arg("--logs-dir")
            .arg(d.join("cb-logs"))
            .env("REQUESTS_CA_BUNDLE", &pebble.ca)
            .output()
            .expect("certbot runs")
    });
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "certbot certonly:\n{text}\npebble:\n{}", pebble.log());
    issued(&c, &d.join(format!("cb-config/live/{domain}/cert.pem")), &domain, "certbot-key").await;
}

/// certbot's manual hook as acme-dns-certbot (joohoi's) runs it, with joohoi's own acme-dns
/// client library (pyacmedns): the account is read from the storage file, the challenge
/// TXT set through the acme-dns API.
const ACME_DNS_HOOK: &str = r#"
import os
from pyacmedns import Client, Storage
storage = Storage(os.environ["ACMEDNS_STORAGE"])
account = storage.fetch(os.environ["CERTBOT_DOMAIN"])
Client(os.environ["ACMEDNS_URL"]).update_txt_record(account, os.environ["CERTBOT_VALIDATION"])
"#;

/// Registers an account for `domain` with pyacmedns into its storage file (open
/// registration, no token), as acme-dns-certbot does on its first run.
const ACME_DNS_REGISTER: &str = r#"
import os, sys
from pyacmedns import Client, Storage
storage = Storage(os.environ["ACMEDNS_STORAGE"])
account = Client(os.environ["ACMEDNS_URL"]).register_account(None)
storage.put(sys.argv[1], account)
storage.save()
print(account["fulldomain"])
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certbot_gets_a_certificate_from_pebble_through_the_acme_dns_api_with_joohois_client() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node =
        crate::support::Node::start_config(&crate::support::NodeConfig::dev(&dir.path().join("node")).with(|c| {
            c.zone_mut().acme_dns = Some(true);
            c.http.acme_dns_open_registration = Some(true);
        }));
    let pebble = Pebble::start(dir.path(), node.dns).await;
    let domain = format!("www.{ZONE}");
    let py = python();
    let (api, storage) = (node.url("/acme-dns"), dir.path().join("acmedns.json"));
    let out = Command::new(&py)
        .args(["-c", ACME_DNS_REGISTER, &domain])
        .env("ACMEDNS_URL", &api)
        .env("ACMEDNS_STORAGE", &storage)
        .output()
        .expect("python runs");
    assert!(out.status.success(), "register: {}", String::from_utf8_lossy(&out.stderr));
    let fulldomain = String::from_utf8_lossy(&out.stdout).trim().trim_end_matches('.').to_string();
    // The CNAME acme-dns users make once, from the challenge name to the account's name.
    let cname = json!({"name": format!("_acme-challenge.{domain}"), "type": "CNAME", "ttl": 60, "data": [format!("{fulldomain}.")]});
    let (s, b) = node.api(Method::POST, &format!("/api/v1/zones/{ZONE}/records"), Some(cname)).await;
    assert_eq!(s, 200, "{b}");
    let hook = dir.path().join("acme-dns-hook.py");
    std::fs::write(&hook, ACME_DNS_HOOK).expect("hook");
    let d = dir.path();
    let out = tokio::task::block_in_place(|| {
        Command::new("timeout")
            .arg("180")
            .arg(&py)
            .args(["-c", "import sys; from certbot.main import main; sys.exit(main())", "certonly"])
            .args(["--non-interactive", "--agree-tos", "--no-eff-email", "-m", "acme@example.test"])
            .args(["--server", &pebble.directory, "--manual", "--preferred-challenges", "dns", "-d", &domain])
            .arg("--manual-auth-hook")
            .arg(format!("{} {}", py.display(), hook.display()))
            .arg("--config-dir")
            .arg(d.join("cb-config"))
            .arg("--work-dir")
            .arg(d.join("cb-work"))
            .arg("--logs-dir")
            .arg(d.join("cb-logs"))
            .env("REQUESTS_CA_BUNDLE", &pebble.ca)
            .env("ACMEDNS_URL", &api)
            .env("ACMEDNS_STORAGE", &storage)
            .output()
            .expect("certbot runs")
    });
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "certbot certonly --manual:\n{text}\npebble:\n{}", pebble.log());
    let cert = std::fs::read_to_string(d.join(format!("cb-config/live/{domain}/cert.pem"))).expect("the certificate");
    assert!(cert.contains("BEGIN CERTIFICATE"), "{cert}");
    // The challenge went through the acme-dns API: its TXT is what the CNAME leads to.
    let txt = node.dig(&[&fulldomain, "TXT"]).answer_data("TXT");
    assert_eq!(txt.len(), 1, "{txt:?}");
}
