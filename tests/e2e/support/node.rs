//! One real `quorumdns` process: started on port 0 (addresses read from its own log
//! lines) or on ports picked up front, talked to with real clients: dig for DNS, HTTP for
//! the API.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::config::NodeConfig;
use super::dig::{dig, soa_serial, Dig};
use super::wait::eventually_blocking;
use super::{TOKEN, ZONE};

/// The binary under test. `QUORUMDNS_BIN` overrides Cargo's path (useful when several
/// worktrees share one target directory and may overwrite each other's binaries).
pub(crate) fn binary() -> PathBuf {
    std::env::var_os("QUORUMDNS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_quorumdns")))
}

/// The binary of the previous release, for the rolling-upgrade test: built by
/// `tests/upgrade-base.sh` (tests/run.sh runs it first) next to this tree's binary, or
/// given by `QUORUMDNS_UPGRADE_BASE_BIN`. Missing, the test fails and says how to build it.
pub(crate) fn base_binary() -> PathBuf {
    let path = std::env::var_os("QUORUMDNS_UPGRADE_BASE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| binary().parent().expect("the binary has a directory").join("quorumdns-upgrade-base"));
    assert!(
        path.is_file(),
        "the previous release's binary {} is missing: run tests/upgrade-base.sh (tests/run.sh does)",
        path.display()
    );
    path
}

/// A free port on 127.0.0.1 for both TCP and UDP (DNS needs both), chosen below the
/// kernel's ephemeral range (32768+): a node restarted after `kill -9` must get its old
/// ports back, and a port handed out by `bind(0)` elsewhere in the test run (another
/// node, an outgoing connection) could otherwise take it in between.
pub(crate) fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(0, 20_000 + (std::process::id() % 5_000) as u16, Ordering::SeqCst, Ordering::SeqCst);
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(port < 32_000, "ran out of test ports");
        let tcp = TcpListener::bind(("127.0.0.1", port));
        if tcp.is_ok() && UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub(crate) struct Node {
    child: Child,
    pub dns: SocketAddr,
    pub http: SocketAddr,
    pub logs: Arc<Mutex<Vec<String>>>,
    pub data_dir: PathBuf,
}

fn find(logs: &[String], key: &str) -> Option<SocketAddr> {
    logs.iter().find_map(|l| {
        let i = l.find(key)?;
        // The address ends at the first character that cannot be part of it (a JSON log
        // line continues with `"}`).
        let rest = &l[i + key.len()..];
        let end =
            rest.find(|c: char| !(c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']'))).unwrap_or(rest.len());
        rest[..end].parse().ok()
    })
}

impl Node {
    /// `serve --dev` on ephemeral ports with its data in `dir`.
    pub(crate) fn start(dir: &Path) -> Node {
        let mut cmd = Command::new(binary());
        cmd.args(["serve", "--dev", "--dns-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .args(["--raft-addr", "127.0.0.1:0", "--data-dir"])
            .arg(dir);
        Self::spawn(cmd, dir)
    }

    /// `serve --config` with `config`, written to `node.toml` in its data directory.
    pub(crate) fn start_config(config: &NodeConfig) -> Node {
        let dir = &config.node.data_dir;
        Self::spawn(Self::serve_command(config, &dir.join("node.toml")), dir)
    }

    /// Writes `config` to `file` (creating the data directory) and returns the `serve
    /// --config <file>` command for it.
    pub(crate) fn serve_command(config: &NodeConfig, file: &Path) -> Command {
        Self::serve_command_of(&binary(), config, file)
    }

    /// [`Self::serve_command`] of another binary (an older release).
    pub(crate) fn serve_command_of(bin: &Path, config: &NodeConfig, file: &Path) -> Command {
        std::fs::create_dir_all(&config.node.data_dir).expect("data dir");
        config.write(file);
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--config"]).arg(file);
        cmd
    }

    /// Starts `cmd` (a `serve` command line) and waits for its "node ready" line.
    pub(crate) fn spawn(cmd: Command, dir: &Path) -> Node {
        Self::spawn_with_log(cmd, dir, "info")
    }

    /// [`Node::spawn`] with this `RUST_LOG` filter.
    pub(crate) fn spawn_with_log(mut cmd: Command, dir: &Path, rust_log: &str) -> Node {
        let mut child = cmd
            .env("QUORUMDNS_ADMIN_TOKEN", TOKEN)
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the quorumdns binary starts");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let (dns, http) = eventually_blocking("node ready", Duration::from_secs(60), Duration::from_millis(20), || {
            let l = logs.lock().unwrap();
            if l.iter().any(|x| x.contains("node ready")) {
                let dns = find(&l, "dns listening on ").expect("dns address logged");
                let http = find(&l, "http listening on ").expect("http address logged");
                return Ok((dns, http));
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("node exited early ({status}):\n{}", l.join("\n"));
            }
            Err(format!("log so far:\n{}", l.join("\n")))
        });
        Node { child, dns, http, logs, data_dir: dir.to_path_buf() }
    }

    /// SIGKILL: no shutdown path runs, whatever was not on disk is gone.
    pub(crate) fn kill9(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.data_dir.clone()
    }

    /// SIGTERM and wait for a clean exit.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        eventually_blocking("the node to stop on SIGTERM", Duration::from_secs(30), Duration::from_millis(20), || {
            self.child.try_wait().ok().flatten()
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub(crate) fn dig(&self, args: &[&str]) -> Dig {
        dig(self.dns, args)
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    pub(crate) async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = reqwest::Client::new().request(method, self.url(path)).bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("HTTP request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, json)
    }

    pub(crate) fn serial(&self) -> u32 {
        self.try_serial().unwrap_or_else(|| panic!("no SOA serial from {}", self.dns))
    }

    /// The zone's SOA serial as this node answers it, if it answers one.
    pub(crate) fn try_serial(&self) -> Option<u32> {
        soa_serial(self.dns, ZONE)
    }

    /// Whether the log mentions `needle`.
    pub(crate) fn logged(&self, needle: &str) -> bool {
        self.logged_count(needle) > 0
    }

    /// How many log lines mention `needle`.
    pub(crate) fn logged_count(&self, needle: &str) -> usize {
        self.logs.lock().unwrap().iter().filter(|l| l.contains(needle)).count()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Adds `name` `rtype` with `data` (TTL 300) to the test zone through the API; the JSON
/// answer (`serial`...).
pub(crate) async fn add(node: &Node, name: &str, rtype: &str, data: &[&str]) -> serde_json::Value {
    let (status, body) = node
        .api(
            Method::POST,
            &format!("/api/v1/zones/{ZONE}/records"),
            Some(json!({"name": name, "type": rtype, "ttl": 300, "data": data})),
        )
        .await;
    assert_eq!(status, 200, "adding {name} {rtype}: {body}");
    body
}
