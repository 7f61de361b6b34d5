//! TLS on the public HTTP port against the real binary: certificates made by `openssl req`,
//! a dyndns2 update by curl over https, plain HTTP on the TLS port refused, certificates
//! replaced (SIGHUP, changed files) and served without a restart, a broken certificate at
//! reload ignored, and a bad file at start named in the error.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::clients::{run, tool};
use crate::support::{binary, eventually, eventually_every, Node, NodeConfig, TOKEN, ZONE};

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl is installed");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The test CA of `dir` (made on first use): what clients trust.
fn ca(dir: &Path) -> PathBuf {
    if !dir.join("ca.crt").exists() {
        let subj = ["-subj", "/CN=quorumdns test CA"];
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"];
        openssl(&[&["req", "-x509"][..], &key, &subj, &["-keyout", "ca.key", "-out", "ca.crt"]].concat(), dir);
    }
    dir.join("ca.crt")
}

/// A certificate for 127.0.0.1 and localhost with serial `serial`, issued by the CA of
/// `dir`, written to `<name>.crt` and `<name>.key` there.
fn issued(dir: &Path, name: &str, serial: u32) -> (PathBuf, PathBuf) {
    ca(dir);
    let (crt, key, csr, ext) =
        (format!("{name}.crt"), format!("{name}.key"), format!("{name}.csr"), format!("{name}.ext"));
    std::fs::write(dir.join(&ext), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n").unwrap();
    let newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(&[&["req", "-new"][..], &newkey, &["-subj", "/CN=127.0.0.1", "-keyout", &key, "-out", &csr]].concat(), dir);
    let serial = serial.to_string();
    let sign = ["x509", "-req", "-in", &csr, "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", &serial, "-days", "2"];
    openssl(&[&sign[..], &["-extfile", &ext, "-out", &crt]].concat(), dir);
    (dir.join(crt), dir.join(key))
}

/// Puts `from` in place of `to` atomically, as certificate tooling does.
fn replace(from: &Path, to: &Path) {
    let tmp = to.with_extension("tmp");
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

/// The serial of the certificate the node presents, as `openssl x509 -serial` prints it.
fn served_serial(addr: std::net::SocketAddr) -> Option<String> {
    let script = format!(
        "openssl s_client -connect {addr} -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -serial"
    );
    let out = Command::new("sh").args(["-c", &script]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().strip_prefix("serial=").map(str::to_string)
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl").args(["-sS", "--max-time", "10"]).args(args).output().expect("curl runs");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn client(ca: &Path) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    reqwest::Client::builder().add_root_certificate(ca).build().unwrap()
}

fn metric(metrics: &str, series: &str) -> u64 {
    metrics.lines().find_map(|l| l.strip_prefix(series)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// The dev node with its data in `dir` serving HTTPS with `cert` and `key` (looked at for
/// changes every `reload_secs`), a plain-HTTP listener too, and no dyndns rate limit.
fn tls_config(dir: &Path, cert: &Path, key: &Path, reload_secs: u64) -> NodeConfig {
    NodeConfig::dev(dir).with(|c| {
        c.http.tls_cert = Some(cert.to_path_buf());
        c.http.tls_key = Some(key.to_path_buf());
        c.http.tls_reload_interval_secs = Some(reload_secs);
        c.http.plain_addr = Some(([127, 0, 0, 1], 0).into());
        c.dyndns.min_update_interval_secs = Some(0);
    })
}

type Pair = (PathBuf, PathBuf);

/// A temp dir with a CA, two certificates (`one`, `two`) with these serials, and the
/// paths of the pair the node is configured with (`live`, not written yet).
fn two_certificates(one: u32, two: u32) -> (tempfile::TempDir, [Pair; 2], Pair) {
    let certs = tempfile::tempdir().unwrap();
    let pairs = [issued(certs.path(), "one", one), issued(certs.path(), "two", two)];
    let live = (certs.path().join("live.crt"), certs.path().join("live.key"));
    (certs, pairs, live)
}

fn hangup(node: &Node) {
    let status = Command::new("kill").args(["-HUP", &node.pid().to_string()]).status().unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn dyndns_over_https_and_certificates_reloaded_on_sighup_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (certs, [(cert1, key1), (cert2, key2)], (cert, key)) = two_certificates(0x1001, 0x2002);
    replace(&cert1, &cert);
    replace(&key1, &key);
    let mut node = Node::start_config(&tls_config(dir.path(), &cert, &key, 0));
    let base = format!("https://{}", node.http);
    assert_eq!(served_serial(node.http).as_deref(), Some("1001"));

    // Register a host over https; the update URLs it hands out say https.
    let https = client(&ca(certs.path()));
    let fqdn = format!("tls.{ZONE}");
    let body = register(&https, &node, &fqdn).await;
    let secret = update_secret(&body);
    assert!(body.to_string().contains("https://"), "update URLs use https: {body}");

    // A dyndns2 update with curl over https, trusting only our certificate.
    let ca1 = ca(certs.path()).display().to_string();
    let out =
        curl(&["--cacert", &ca1, "-u", &format!("{fqdn}:{secret}"), &format!("{base}/nic/update?myip=192.0.2.55")]);
    assert_eq!(out, "good 192.0.2.55");
    assert_eq!(node.dig(&[&fqdn, "A"]).answer_data("A"), vec!["192.0.2.55"]);
    // Without the CA, curl refuses the self-signed certificate: it really is TLS.
    let out = curl(&["-o", "/dev/null", &format!("{base}/livez")]);
    assert!(out.contains("certificate"), "{out}");

    // Plain HTTP on the TLS port: a clear 400, and the node goes on.
    let out = curl(&["-w", "\n%{http_code}", &format!("http://{}/nic/update?myip=192.0.2.56", node.http)]);
    assert!(out.ends_with("\n400") && out.contains("https://"), "{out}");
    assert!(node.is_running());

    // New files and SIGHUP: the new certificate is served, no restart.
    replace(&cert2, &cert);
    replace(&key2, &key);
    hangup(&node);
    eventually("the new certificate", Duration::from_secs(20), async || {
        (served_serial(node.http)? == "2002").then_some(())
    })
    .await;
    let ca2 = ca1.clone();
    let out =
        curl(&["--cacert", &ca2, "-u", &format!("{fqdn}:{secret}"), &format!("{base}/nic/update?myip=192.0.2.57")]);
    assert_eq!(out, "good 192.0.2.57");

    // A broken certificate at reload: logged, counted, and the previous one stays.
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
        .unwrap();
    hangup(&node);
    let plain = eventually("the plain-http listener address", Duration::from_secs(5), async || {
        node.logs
            .lock()
            .unwrap()
            .iter()
            .find_map(|l| l.split("plain-http listener (no TLS) on ").nth(1).map(|a| a.trim().to_string()))
    })
    .await;
    let metrics_url = format!("http://{plain}/metrics");
    let every = Duration::from_millis(50);
    let metrics = eventually_every("the failed reload counted", Duration::from_secs(10), every, async || {
        let metrics = reqwest::get(&metrics_url).await.unwrap().text().await.unwrap();
        let failed = metric(&metrics, "quorumdns_http_tls_reloads_total{result=\"error\"} ") >= 1;
        failed.then_some(metrics.clone()).ok_or(metrics)
    })
    .await;
    assert_eq!(metric(&metrics, "quorumdns_http_tls_reloads_total{result=\"error\"} "), 1, "{metrics}");
    assert_eq!(metric(&metrics, "quorumdns_http_tls_reloads_total{result=\"ok\"} "), 1);
    assert!(metric(&metrics, "quorumdns_http_tls_handshakes_total{result=\"ok\"} ") >= 3);
    assert!(metric(&metrics, "quorumdns_http_tls_handshakes_total{result=\"plain_http\"} ") >= 1);
    // The log line is read by another thread than the one that counted it.
    eventually("the failed reload logged", Duration::from_secs(10), async || {
        node.logged("TLS certificate reload failed").then_some(())
    })
    .await;
    assert_eq!(served_serial(node.http).as_deref(), Some("2002"), "the previous certificate stays in service");
    let r = client(&ca(certs.path())).get(format!("{base}/livez")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(node.is_running());
}

/// Runs `serve` with `config`, written to `file`, which must fail; returns what it printed.
fn start_fails(config: &NodeConfig, file: &Path) -> String {
    config.write(file);
    let out = Command::new(binary())
        .args(["serve", "--config"])
        .arg(file)
        .env("QUORUMDNS_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(!out.status.success(), "serve started with a bad certificate");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn changed_certificate_files_are_picked_up_and_a_bad_file_at_start_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (certs, [(cert1, key1), (cert2, key2)], (cert, key)) = two_certificates(0x3003, 0x4004);

    // A key that does not belong to the certificate: the node does not start, and says
    // which files.
    let (file, bad) = (dir.path().join("bad.toml"), dir.path().join("bad"));
    let err = start_fails(&tls_config(&bad, &cert1, &key2, 0), &file);
    assert!(err.contains("http.tls_key") && err.contains(&key2.display().to_string()), "{err}");
    let missing = certs.path().join("missing.crt");
    let err = start_fails(&tls_config(&bad, &missing, &key1, 0), &file);
    assert!(err.contains("cannot read http.tls_cert") && err.contains(&missing.display().to_string()), "{err}");

    // Polling: replaced files are served without a signal.
    replace(&cert1, &cert);
    replace(&key1, &key);
    let ok = dir.path().join("ok");
    std::fs::create_dir_all(&ok).unwrap();
    let node = Node::start_config(&tls_config(&ok, &cert, &key, 1));
    assert_eq!(served_serial(node.http).as_deref(), Some("3003"));
    replace(&key2, &key);
    replace(&cert2, &cert);
    eventually("the replaced certificate", Duration::from_secs(20), async || {
        (served_serial(node.http)? == "4004").then_some(())
    })
    .await;
    assert!(node
        .logs
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("TLS certificate reloaded") && l.contains("file_change")));
}

/// Registers `fqdn` over https; the answer carries the host's update secret.
async fn register(https: &reqwest::Client, node: &Node, fqdn: &str) -> serde_json::Value {
    let r =
        https.get(format!("https://{}/nic/register?fqdn={fqdn}", node.http)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn update_secret(registered: &serde_json::Value) -> String {
    registered["host"]["update_secret"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn ddclient_and_inadyn_update_over_https_trusting_a_private_ca() {
    let (ddclient, inadyn) = (tool("ddclient"), tool("inadyn"));
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = issued(dir.path(), "node", 0x5005);
    let node = Node::start_config(&tls_config(dir.path(), &cert, &key, 0));
    let https = client(&ca(dir.path()));
    let (dd_host, ina_host) = (format!("ddc.{ZONE}"), format!("ina.{ZONE}"));
    let dd_secret = update_secret(&register(&https, &node, &dd_host).await);
    let ina_secret = update_secret(&register(&https, &node, &ina_host).await);

    let (ca_file, server) = (ca(dir.path()).display().to_string(), node.http);

    let ddclient_conf = format!(
        "daemon=0\nsyslog=no\nssl=yes\nssl_ca_file={ca_file}\nprotocol=dyndns2\nuse=ip, ip=198.51.100.31\n\
         server={server}\nlogin={dd_host}\npassword='{dd_secret}'\n{dd_host}\n"
    );
    let conf = dir.path().join("ddclient.conf");
    std::fs::write(&conf, ddclient_conf).unwrap();
    let cache = dir.path().join("ddclient.cache");
    let out = run(Command::new(&ddclient)
        .args(["-foreground", "-daemon=0", "-verbose", "-file"])
        .arg(&conf)
        .arg("-cache")
        .arg(&cache));
    assert!(out.contains("RECEIVE:  good 198.51.100.31"), "{out}");
    assert_eq!(node.dig(&[&dd_host, "A"]).answer_data("A"), vec!["198.51.100.31"]);

    let inadyn_conf = format!(
        "period = 60\nca-trust-file = {ca_file}\ncustom quorumdns {{\n  ssl = true\n  username = {ina_host}\n  \
         password = {ina_secret}\n  ddns-server = {server}\n  ddns-path = \"/nic/update?hostname=%h&myip=%i\"\n  \
         checkip-command = \"echo 203.0.113.19\"\n  hostname = {ina_host}\n}}\n"
    );
    let conf = dir.path().join("inadyn.conf");
    std::fs::write(&conf, inadyn_conf).unwrap();
    let cache = dir.path().join("inadyn-cache");
    std::fs::create_dir_all(&cache).unwrap();
    let once = ["--once", "--force", "--foreground", "--no-pidfile", "-l", "debug", "-f"];
    let out = run(Command::new(&inadyn).args(once).arg(&conf).arg(format!("--cache-dir={}", cache.display())));
    assert!(out.contains("good 203.0.113.19"), "{out}");
    assert_eq!(node.dig(&[&ina_host, "A"]).answer_data("A"), vec!["203.0.113.19"]);

    // Both came over TLS; an IPv6 update through the plain loopback listener did not.
    let plain = eventually("the plain-http listener address", Duration::from_secs(5), async || {
        node.logs
            .lock()
            .unwrap()
            .iter()
            .find_map(|l| l.split("plain-http listener (no TLS) on ").nth(1).map(|a| a.trim().to_string()))
    })
    .await;
    let out =
        curl(&["-u", &format!("{dd_host}:{dd_secret}"), &format!("http://{plain}/nic/update?myipv6=2001:db8::31")]);
    assert_eq!(out, "good 198.51.100.31,2001:db8::31");
    let hosts: serde_json::Value =
        https.get(format!("https://{server}/nic/hosts")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    let flags = |fqdn: &str| {
        let h = hosts["hosts"].as_array().unwrap().iter().find(|h| h["fqdn"] == fqdn).unwrap().clone();
        (h["tls_update_ipv4"].as_bool(), h["tls_update_ipv6"].as_bool())
    };
    assert_eq!(flags(&dd_host), (Some(true), Some(false)), "{hosts}");
    assert_eq!(flags(&ina_host), (Some(true), Some(false)), "{hosts}");
}

/// Runs the CLI's `zone list` against `server`; the exit status and what it printed.
fn zone_list(server: &str, cacert: Option<&Path>) -> (bool, String) {
    let mut cmd = Command::new(binary());
    cmd.args(["zone", "list", "--server", server]).env("QUORUMDNS_ADMIN_TOKEN", TOKEN).env_remove("QUORUMDNS_CACERT");
    if let Some(ca) = cacert {
        cmd.arg("--cacert").arg(ca);
    }
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test]
async fn the_cli_trusts_a_private_ca_given_with_cacert_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = issued(dir.path(), "node", 0x6006);
    let node = Node::start_config(&tls_config(dir.path(), &cert, &key, 0));
    let server = format!("https://{}", node.http);

    let (ok, out) = zone_list(&server, Some(&ca(dir.path())));
    assert!(ok, "{out}");
    assert!(out.contains(ZONE), "the zone is listed: {out}");

    // Without it, the private CA is not trusted: the certificate is refused.
    let (ok, out) = zone_list(&server, None);
    assert!(!ok, "{out}");
    assert!(out.contains("contacting"), "{out}");

    // Another CA's certificate as the trust anchor: refused as well.
    let other = tempfile::tempdir().unwrap();
    let (ok, out) = zone_list(&server, Some(&ca(other.path())));
    assert!(!ok, "{out}");

    // A file that is missing or holds no certificate is named in a clear error.
    let missing = dir.path().join("missing.pem");
    let (ok, out) = zone_list(&server, Some(&missing));
    assert!(!ok && out.contains("missing.pem"), "{out}");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let (ok, out) = zone_list(&server, Some(&empty));
    assert!(!ok && out.contains("empty.pem") && out.contains("no certificate"), "{out}");
}
