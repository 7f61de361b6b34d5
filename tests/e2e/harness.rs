//! Starts the real `quorumdns` binary on port 0 and talks to it with real clients: dig for
//! DNS, HTTP for the API. Addresses are read from the node's own log lines.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) const TOKEN: &str = "test-admin-token-0123456789";
pub(crate) const ZONE: &str = "dyn.example.test";

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

/// The binary under test. `QUORUMDNS_BIN` overrides Cargo's path (useful when several
/// worktrees share one target directory and may overwrite each other's binaries).
pub(crate) fn binary() -> PathBuf {
    std::env::var_os("QUORUMDNS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_quorumdns")))
}

impl Node {
    /// `serve --dev` on ephemeral ports with its data in `dir`.
    pub(crate) fn start(dir: &Path) -> Node {
        Self::start_with(dir, &[])
    }

    pub(crate) fn start_with(dir: &Path, extra: &[&str]) -> Node {
        let mut cmd = Command::new(binary());
        cmd.args(["serve", "--dev", "--dns-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .args(["--raft-addr", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(extra);
        Self::spawn(cmd, dir)
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
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            {
                let l = logs.lock().unwrap();
                if l.iter().any(|x| x.contains("node ready")) {
                    let dns = find(&l, "dns listening on ").expect("dns address logged");
                    let http = find(&l, "http listening on ").expect("http address logged");
                    drop(l);
                    return Node { child, dns, http, logs, data_dir: dir.to_path_buf() };
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("node exited early ({status}):\n{}", logs.lock().unwrap().join("\n"));
            }
            assert!(Instant::now() < deadline, "node not ready in 60 s:\n{}", logs.lock().unwrap().join("\n"));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `serve --config <file>` (addresses in the file should use port 0).
    pub(crate) fn start_with_config_file(dir: &Path, config: &Path) -> Node {
        let mut cmd = Command::new(binary());
        cmd.args(["serve", "--config"]).arg(config).arg("--data-dir").arg(dir);
        Self::spawn(cmd, dir)
    }

    /// The dev configuration plus `extra_toml` (e.g. a `[dyndns]` section), from a file,
    /// on ephemeral ports.
    pub(crate) fn start_with_config(dir: &Path, extra_toml: &str) -> Node {
        Self::start_with_dev_config(dir, |dev| format!("{dev}\n{extra_toml}\n"))
    }

    /// The dev configuration as `edit` changes it, from a file, on ephemeral ports.
    pub(crate) fn start_with_dev_config(dir: &Path, edit: impl FnOnce(&str) -> String) -> Node {
        let dev = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/config/dev.toml")).unwrap();
        let path = dir.join("node.toml");
        std::fs::write(&path, edit(&dev)).unwrap();
        let mut cmd = Command::new(binary());
        cmd.args(["serve", "--config"]).arg(&path);
        cmd.args(["--dns-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0"]);
        cmd.arg("--data-dir").arg(dir);
        Self::spawn(cmd, dir)
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
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            assert!(Instant::now() < deadline, "node did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
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
        let d = self.dig(&[ZONE, "SOA"]);
        d.answer
            .iter()
            .find(|r| r.rtype == "SOA")
            .and_then(|r| r.data.split_whitespace().nth(2))
            .and_then(|s| s.parse().ok())
    }

    /// Whether the log mentions `needle`.
    pub(crate) fn logged(&self, needle: &str) -> bool {
        self.logs.lock().unwrap().iter().any(|l| l.contains(needle))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Rr {
    pub name: String,
    pub ttl: u32,
    pub rtype: String,
    pub data: String,
}

/// What dig printed, parsed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dig {
    pub status: String,
    pub flags: Vec<String>,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    pub additional: Vec<Rr>,
    pub raw: String,
}

impl Dig {
    pub(crate) fn has_flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }
    pub(crate) fn answer_data(&self, rtype: &str) -> Vec<String> {
        let mut v: Vec<String> = self.answer.iter().filter(|r| r.rtype == rtype).map(|r| r.data.clone()).collect();
        v.sort();
        v
    }
}

fn parse_rr(line: &str) -> Option<Rr> {
    let mut it = line.split_whitespace();
    let name = it.next()?.to_string();
    let ttl = it.next()?.parse().ok()?;
    let _class = it.next()?;
    let rtype = it.next()?.to_string();
    let data = it.collect::<Vec<_>>().join(" ");
    Some(Rr { name, ttl, rtype, data })
}

pub(crate) fn dig(server: SocketAddr, args: &[&str]) -> Dig {
    let out = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string(), "+norecurse", "+time=3", "+tries=2"])
        .args(args)
        .output()
        .expect("dig is installed (bind9-dnsutils / dnsutils)");
    let raw = String::from_utf8_lossy(&out.stdout).to_string();
    let mut d = Dig { raw: raw.clone(), ..Default::default() };
    let mut section = "";
    for line in raw.lines() {
        if let Some(i) = line.find("status: ") {
            d.status = line[i + 8..].split(',').next().unwrap_or("").trim().to_string();
        }
        if let Some(rest) = line.strip_prefix(";; flags: ") {
            d.flags = rest.split(';').next().unwrap_or("").split_whitespace().map(String::from).collect();
        }
        if line.starts_with(";; ANSWER SECTION") {
            section = "answer";
        } else if line.starts_with(";; AUTHORITY SECTION") {
            section = "authority";
        } else if line.starts_with(";; ADDITIONAL SECTION") {
            section = "additional";
        } else if line.trim().is_empty() {
            section = "";
        } else if !line.starts_with(';') {
            if let Some(rr) = parse_rr(line) {
                match section {
                    "answer" => d.answer.push(rr),
                    "authority" => d.authority.push(rr),
                    "additional" => d.additional.push(rr),
                    _ => {}
                }
            }
        }
    }
    d
}

/// Polls `f` until it returns Some or the deadline passes.
pub(crate) async fn eventually<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
