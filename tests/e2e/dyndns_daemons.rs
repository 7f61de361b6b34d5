//! inadyn 2.10 and ddclient 3.10 running as daemons, as routers and servers run them, and
//! what the service answers them when it cannot take an update right now: a burst of
//! wrong secrets from their address, a change faster than the rate policy, a cluster
//! without quorum. Each answer must be one the daemon retries (inadyn exits on `badauth`
//! and on HTTP 4xx: that was issue 20's "exiting!"), and each daemon must then update
//! without a restart.
//!
//! Both daemons learn their address from a file the test rewrites (inadyn
//! `checkip-command`, ddclient `use=cmd`), and are nudged instead of waiting for their
//! period: inadyn checks at once on SIGUSR2, ddclient runs a cycle on SIGHUP (and rereads
//! its configuration file, which is how its secret gets fixed).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::Method;

use crate::support::clients::{tool, Daemon};
use crate::support::{eventually_every, Cluster, Node, NodeConfig, WAIT, ZONE};

/// How often a waiting test nudges the daemons.
const NUDGE: Duration = Duration::from_millis(1000);

fn a_records(node: &Node, name: &str) -> Vec<String> {
    node.dig(&[name, "A"]).answer_data("A")
}

async fn register(node: &Node, fqdn: &str) -> String {
    let (s, b) = node.api(Method::GET, &format!("/nic/register?fqdn={fqdn}"), None).await;
    assert_eq!(s, 200, "{b}");
    b["host"]["update_secret"].as_str().unwrap().to_string()
}

/// The sum of the node's `quorumdns_dyndns_updates_total` samples with this code.
async fn answered(node: &Node, code: &str) -> f64 {
    let text = reqwest::get(node.url("/metrics")).await.unwrap().text().await.unwrap();
    let prefix = format!("quorumdns_dyndns_updates_total{{code=\"{code}\",");
    text.lines().filter(|l| l.starts_with(&prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

/// A client's address, in the file its daemon reads it from.
struct AddressFile(PathBuf);

impl AddressFile {
    fn new(dir: &Path, name: &str, ip: &str) -> AddressFile {
        let f = AddressFile(dir.join(format!("{name}.ip")));
        f.set(ip);
        f
    }

    fn set(&self, ip: &str) {
        std::fs::write(&self.0, format!("{ip}\n")).unwrap();
    }
}

/// inadyn in daemon mode (custom provider, dyndns2 path) for `host` at `server`.
fn inadyn(dir: &Path, server: std::net::SocketAddr, host: &str, secret: &str, ip: &AddressFile) -> Daemon {
    let conf = dir.join("inadyn.conf");
    std::fs::write(
        &conf,
        format!(
            "period = 600\ncustom quorumdns {{\n  ssl = false\n  username = {host}\n  password = {secret}\n  \
             ddns-server = {server}\n  ddns-path = \"/nic/update?hostname=%h&myip=%i\"\n  \
             checkip-command = \"cat {}\"\n  hostname = {host}\n}}\n",
            ip.0.display()
        ),
    )
    .unwrap();
    let cache = dir.join("inadyn-cache");
    std::fs::create_dir_all(&cache).unwrap();
    let mut cmd = Command::new(tool("inadyn"));
    cmd.args(["--foreground", "--no-pidfile", "-l", "debug", "-f"]).arg(&conf);
    cmd.arg(format!("--cache-dir={}", cache.display()));
    Daemon::spawn("inadyn", cmd, dir.join("inadyn.log"), inadyn_idle)
}

/// Whether inadyn handles signals (it installs its handlers before its first address
/// check) and waits between checks: a signal during a request interrupts its read of the
/// answer.
fn inadyn_idle(d: &Daemon) -> bool {
    let out = d.output();
    let sent = out.rfind("Sending alias table update");
    let settled =
        ["DDNS server response", "Will retry again", "Error", "Failed"].iter().filter_map(|m| out.rfind(m)).max();
    out.contains("Current IP#") && sent.is_none_or(|s| settled.is_some_and(|e| e > s))
}

/// ddclient's configuration file for `host` at `server` with `secret` (re-read every cycle).
fn ddclient_conf(conf: &Path, server: std::net::SocketAddr, host: &str, secret: &str, ip: &AddressFile) {
    // min-interval/min-error-interval 0: ddclient itself would skip a second change within
    // 30 s, and a retry after a failure within 5 minutes.
    std::fs::write(
        conf,
        format!(
            "daemon=60\nsyslog=no\nssl=no\nmin-interval=0\nmin-error-interval=0\nprotocol=dyndns2\n\
             use=cmd, cmd='cat {}'\nserver={server}\nlogin={host}\npassword='{secret}'\n{host}\n",
            ip.0.display()
        ),
    )
    .unwrap();
}

/// ddclient in daemon mode, in the foreground, with `conf`.
fn ddclient(dir: &Path, conf: &Path) -> Daemon {
    let mut cmd = Command::new(tool("ddclient"));
    cmd.args(["-foreground", "-verbose", "-file"]).arg(conf).arg("-cache").arg(dir.join("ddclient.cache"));
    // ddclient's HUP handler is in place once it sleeps (it says so in its command line).
    Daemon::spawn("ddclient", cmd, dir.join("ddclient.log"), |d| d.cmdline().contains("sleeping"))
}

/// Nudges `daemon` with `signal` until `node` answers `ip` for `host`; the daemon must
/// stay up throughout.
async fn nudge_until_served(node: &Node, daemon: &mut Daemon, signal: &str, host: &str, ip: &str) {
    let what = format!("{host} A {ip} through the still running daemon");
    eventually_every(what, WAIT, NUDGE, async || {
        daemon.assert_running();
        if a_records(node, host) == [ip] {
            return Ok(());
        }
        daemon.nudge(signal);
        Err(format!("{:?}; daemon output:\n{}", a_records(node, host), daemon.output()))
    })
    .await;
}

/// Nudges `daemon` until the node's count of `code` answers passes `before`.
async fn nudge_until_answered(node: &Node, daemon: &mut Daemon, signal: &str, code: &str, before: f64) {
    eventually_every(format!("the daemon answered {code}"), WAIT, NUDGE, async || {
        daemon.assert_running();
        if answered(node, code).await > before {
            return Ok(());
        }
        daemon.nudge(signal);
        Err(daemon.output())
    })
    .await;
}

#[tokio::test]
async fn inadyn_and_ddclient_daemons_recover_from_a_burst_of_wrong_secrets_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = NodeConfig::dev(dir.path()).with(|c| {
        c.dyndns.min_update_interval_secs = Some(0);
        c.http.auth_fail_limit = Some(3);
        c.http.auth_fail_window_secs = Some(5);
    });
    let node = Node::start_config(&config);
    let (ina_host, dd_host, other_host) = (format!("ina.{ZONE}"), format!("ddc.{ZONE}"), format!("other.{ZONE}"));
    let ina_secret = register(&node, &ina_host).await;
    let dd_secret = register(&node, &dd_host).await;
    let other_secret = register(&node, &other_host).await;

    // inadyn with the right secret; someone else at its address (one NAT) guesses.
    let ina_ip = AddressFile::new(dir.path(), "ina", "203.0.113.10");
    let mut ina = inadyn(dir.path(), node.http, &ina_host, &ina_secret, &ina_ip);
    nudge_until_served(&node, &mut ina, "USR2", &ina_host, "203.0.113.10").await;
    let curl = |user: &str, secret: &str| {
        let url = format!("http://{user}:{secret}@{}/nic/update?myip=192.0.2.99", node.http);
        let out = Command::new("curl").args(["-sS", "-w", " %{http_code}", &url]).output().expect("curl runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let burst: Vec<String> = (0..5).map(|_| curl(&ina_host, "guessed-wrong")).collect();
    assert_eq!(burst, ["badauth 200", "badauth 200", "badauth 200", "911 503", "911 503"], "throttled after 3");
    // Another host's secret from the same address, and the admin API, are not delayed.
    assert_eq!(curl(&other_host, &other_secret), "good 192.0.2.99 200");
    assert_eq!(node.api(Method::GET, "/api/v1/hosts", None).await.0, 200);
    // inadyn's next update meets the throttle: a temporary error, it keeps running...
    ina_ip.set("203.0.113.11");
    eventually_every("inadyn to be told to retry", WAIT, NUDGE, async || {
        ina.assert_running();
        if ina.count("[503 Service Unavailable] 911") > 0 && ina.count("Will retry again") > 0 {
            return Ok(());
        }
        ina.nudge("USR2");
        Err(ina.output())
    })
    .await;
    // ...and updates once the guesses left the sliding window.
    nudge_until_served(&node, &mut ina, "USR2", &ina_host, "203.0.113.11").await;
    assert_eq!(ina.count("exiting"), 0, "{}", ina.output());

    // ddclient with a wrong secret of its own: badauth, then the throttle; it keeps going.
    let dd_ip = AddressFile::new(dir.path(), "ddc", "198.51.100.20");
    let conf = dir.path().join("ddclient.conf");
    ddclient_conf(&conf, node.http, &dd_host, "an-old-secret", &dd_ip);
    let throttled = answered(&node, "throttled").await;
    let mut dd = ddclient(dir.path(), &conf);
    nudge_until_answered(&node, &mut dd, "HUP", "throttled", throttled).await;
    assert!(dd.count("badauth") >= 1, "{}", dd.output());
    // The secret fixed in its configuration: the same process updates.
    ddclient_conf(&conf, node.http, &dd_host, &dd_secret, &dd_ip);
    nudge_until_served(&node, &mut dd, "HUP", &dd_host, "198.51.100.20").await;
    assert_eq!(a_records(&node, &ina_host), ["203.0.113.11"]);
}

#[tokio::test]
async fn inadyn_and_ddclient_daemons_retry_a_rate_limited_change_and_then_update() {
    let dir = tempfile::tempdir().unwrap();
    // One change per host per 15 s: the second change of each daemon comes too soon.
    let config = NodeConfig::dev(dir.path()).with(|c| {
        c.dyndns.min_update_interval_secs = Some(15);
        c.dyndns.update_burst = Some(1);
    });
    let node = Node::start_config(&config);
    let (ina_host, dd_host) = (format!("ina.{ZONE}"), format!("ddc.{ZONE}"));
    let ina_secret = register(&node, &ina_host).await;
    let dd_secret = register(&node, &dd_host).await;

    let ina_ip = AddressFile::new(dir.path(), "ina", "203.0.113.20");
    let mut ina = inadyn(dir.path(), node.http, &ina_host, &ina_secret, &ina_ip);
    nudge_until_served(&node, &mut ina, "USR2", &ina_host, "203.0.113.20").await;
    ina_ip.set("203.0.113.21");
    eventually_every("inadyn to be told to retry", WAIT, NUDGE, async || {
        ina.assert_running();
        if ina.count("[503 Service Unavailable] 911") > 0 {
            return Ok(());
        }
        ina.nudge("USR2");
        Err(ina.output())
    })
    .await;
    nudge_until_served(&node, &mut ina, "USR2", &ina_host, "203.0.113.21").await;
    assert_eq!(ina.count("abuse"), 0, "{}", ina.output());

    let dd_ip = AddressFile::new(dir.path(), "ddc", "198.51.100.30");
    let conf = dir.path().join("ddclient.conf");
    ddclient_conf(&conf, node.http, &dd_host, &dd_secret, &dd_ip);
    let mut dd = ddclient(dir.path(), &conf);
    nudge_until_served(&node, &mut dd, "HUP", &dd_host, "198.51.100.30").await;
    let limited = answered(&node, "ratelimited").await;
    dd_ip.set("198.51.100.31");
    nudge_until_answered(&node, &mut dd, "HUP", "ratelimited", limited).await;
    nudge_until_served(&node, &mut dd, "HUP", &dd_host, "198.51.100.31").await;

    // Both refusals are in the hosts' histories as rate limited, and no host is flagged.
    for host in [&ina_host, &dd_host] {
        let (_, h) = node.api(Method::GET, &format!("/api/v1/hosts/{host}/history"), None).await;
        let results: Vec<&str> = h["history"].as_array().unwrap().iter().filter_map(|e| e["result"].as_str()).collect();
        assert!(results.contains(&"ratelimited"), "{host}: {results:?}");
        let (_, b) = node.api(Method::GET, &format!("/api/v1/hosts/{host}"), None).await;
        assert_eq!(b["abuse"], false, "{b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inadyn_and_ddclient_daemons_survive_a_quorum_loss_and_then_update() {
    // A write that cannot commit is answered 911 after 3 s, well within inadyn's 10 s
    // wait for an answer.
    let mut c = Cluster::builder(3)
        .configure(|c| {
            c.dyndns.min_update_interval_secs = Some(0);
            c.cluster.write_timeout_ms = Some(3000);
        })
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let n = c.leader().await;
    let (ina_host, dd_host) = (format!("ina.{ZONE}"), format!("ddc.{ZONE}"));
    let ina_secret = register(c.node(n), &ina_host).await;
    let dd_secret = register(c.node(n), &dd_host).await;
    let server = c.node(n).http;

    let ina_ip = AddressFile::new(dir.path(), "ina", "203.0.113.40");
    let mut ina = inadyn(dir.path(), server, &ina_host, &ina_secret, &ina_ip);
    nudge_until_served(c.node(n), &mut ina, "USR2", &ina_host, "203.0.113.40").await;
    let dd_ip = AddressFile::new(dir.path(), "ddc", "198.51.100.40");
    let conf = dir.path().join("ddclient.conf");
    ddclient_conf(&conf, server, &dd_host, &dd_secret, &dd_ip);
    let mut dd = ddclient(dir.path(), &conf);
    nudge_until_served(c.node(n), &mut dd, "HUP", &dd_host, "198.51.100.40").await;

    // The two other nodes go: the node the daemons talk to cannot commit.
    let others: Vec<usize> = c.live().into_iter().filter(|i| *i != n).collect();
    for i in &others {
        c.kill9(*i);
    }
    let unavailable = answered(c.node(n), "911").await;
    ina_ip.set("203.0.113.41");
    dd_ip.set("198.51.100.41");
    eventually_every("inadyn to be told to retry", WAIT, NUDGE, async || {
        ina.assert_running();
        if ina.count("[503 Service Unavailable] 911") > 0 {
            return Ok(());
        }
        ina.nudge("USR2");
        Err(ina.output())
    })
    .await;
    let after_inadyn = answered(c.node(n), "911").await;
    assert!(after_inadyn > unavailable);
    nudge_until_answered(c.node(n), &mut dd, "HUP", "911", after_inadyn).await;

    // Quorum back: both update without a restart.
    for i in &others {
        c.restart(*i);
    }
    nudge_until_served(c.node(n), &mut ina, "USR2", &ina_host, "203.0.113.41").await;
    nudge_until_served(c.node(n), &mut dd, "HUP", &dd_host, "198.51.100.41").await;
    c.all_answer("ina", "203.0.113.41").await;
    c.all_answer("ddc", "198.51.100.41").await;
}
