//! The clients. Writers send dyndns2 `/nic/update` with a never-used IPv4 per write to a
//! random node, each write tagged with a request id never used before (`op-<process>-<n>`,
//! as `User-Agent: quorumdns-jepsen/op-..` and `X-Request-Id`); leader readers read a host's A record through a node's linearizable
//! management GET; DNS readers query node after node: SOA, A, SOA. One task per client,
//! one operation in flight per process, a fresh process after an unknown outcome.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::cluster::{Cluster, NODES, ZONE};
use crate::dns;
use crate::history::{NodeId, Op, OpResult, AGENT_PREFIX};
use crate::recorder::Recorder;

pub const DNS_TIMEOUT: Duration = Duration::from_secs(1);

/// How a client operation ended.
pub enum Outcome {
    Ok(OpResult),
    /// Certainly without effect.
    Fail(String),
    /// May have taken effect.
    Info(String),
}

pub struct Workload {
    pub cluster: Arc<Cluster>,
    pub rec: Arc<Recorder>,
    pub hosts: Vec<String>,
    pub deadline: Instant,
    pub stop: Arc<AtomicBool>,
    next_value: AtomicU32,
}

impl Workload {
    pub fn new(cluster: Arc<Cluster>, rec: Arc<Recorder>, deadline: Instant) -> Arc<Self> {
        let hosts = cluster.host_names();
        Arc::new(Workload {
            cluster,
            rec,
            hosts,
            deadline,
            stop: Arc::new(AtomicBool::new(false)),
            next_value: AtomicU32::new(1),
        })
    }

    fn running(&self) -> bool {
        Instant::now() < self.deadline && !self.stop.load(Ordering::Relaxed)
    }

    /// An IPv4 address no write of this run used before (10.0.0.1, 10.0.0.2, ...), with its
    /// number.
    fn fresh_value(&self) -> (u32, String) {
        let n = self.next_value.fetch_add(1, Ordering::Relaxed);
        (n, Ipv4Addr::from(0x0A00_0000u32 + n).to_string())
    }

    /// One dyndns2 update. Definite refusals (the dyndns2 codes that are answered before
    /// anything reaches the log, 4xx, no TCP connection at all) are `Fail`; `911`/503,
    /// other 5xx, timeouts and broken connections are `Info`.
    /// `request` goes into the `User-Agent` (which quorumdns records in the host's
    /// history) and `X-Request-Id`.
    pub async fn write(&self, node: NodeId, host: &str, value: &str, request: Option<&str>) -> Outcome {
        let url = format!("{}/nic/update", self.cluster.http_base(node));
        let mut req = self
            .cluster
            .http
            .get(url)
            .query(&[("hostname", host), ("myip", value)])
            .basic_auth(host, Some(self.cluster.secret(host)));
        if let Some(r) = request {
            req = req.header(reqwest::header::USER_AGENT, format!("{AGENT_PREFIX}{r}")).header("X-Request-Id", r);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            // No connection was made: the request never left this process.
            Err(e) if e.is_connect() => return Outcome::Fail(format!("connect: {e}")),
            Err(e) => return Outcome::Info(format!("send: {e}")),
        };
        let status = resp.status().as_u16();
        let body = match resp.text().await {
            Ok(b) => b,
            Err(e) => return Outcome::Info(format!("{status}, body: {e}")),
        };
        classify_write(status, &body, value)
    }

    pub async fn leader_read(&self, node: NodeId, host: &str) -> Outcome {
        let label = host.strip_suffix(&format!(".{ZONE}")).unwrap_or(host);
        let path = format!("/api/v1/zones/{ZONE}/records?name={label}&type=A");
        match self.cluster.api(node, reqwest::Method::GET, &path, None).await {
            Ok((200, v)) => {
                let mut vals: Vec<String> = v["records"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|r| r["type"] == "A")
                    .flat_map(|r| r["data"].as_array().cloned().unwrap_or_default())
                    .filter_map(|d| d.as_str().map(String::from))
                    .collect();
                vals.sort();
                let value = if vals.is_empty() { None } else { Some(vals.join(",")) };
                Outcome::Ok(OpResult::Read { value, serial: None, serial_before: None })
            }
            // A read has no effect: whatever went wrong, it certainly did not take one.
            Ok((s, v)) => Outcome::Fail(format!("{s} {v}")),
            Err(e) => Outcome::Fail(e),
        }
    }

    pub async fn dns_read(&self, node: NodeId, host: &str) -> Outcome {
        match dns::bracketed_read(self.cluster.dns_addr(node), ZONE, host, DNS_TIMEOUT).await {
            Ok((value, serial, before)) => Outcome::Ok(OpResult::Read { value, serial, serial_before: Some(before) }),
            Err(e) => Outcome::Fail(e),
        }
    }

    /// Runs `op` for process `p`, records it, and returns the process to use next.
    async fn step(&self, p: u64, node: NodeId, op: Op) -> u64 {
        self.rec.invoke(p, node, op.clone());
        let out = match &op {
            Op::Write { host, value, request } => self.write(node, host, value, request.as_deref()).await,
            Op::LeaderRead { host } => self.leader_read(node, host).await,
            Op::DnsRead { host } => self.dns_read(node, host).await,
        };
        match out {
            Outcome::Ok(r) => {
                self.rec.ok(p, node, r);
                p
            }
            Outcome::Fail(e) => {
                self.rec.fail(p, node, e);
                p
            }
            Outcome::Info(e) => {
                self.rec.info(p, node, e);
                self.rec.new_process()
            }
        }
    }

    pub async fn writer(self: Arc<Self>, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut p = self.rec.new_process();
        while self.running() {
            let host = self.hosts[rng.gen_range(0..self.hosts.len())].clone();
            let node = rng.gen_range(1..=NODES);
            let (n, value) = self.fresh_value();
            let request = Some(format!("op-{p}-{n}"));
            p = self.step(p, node, Op::Write { host, value, request }).await;
            tokio::time::sleep(Duration::from_millis(rng.gen_range(30..90))).await;
        }
    }

    pub async fn leader_reader(self: Arc<Self>, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut p = self.rec.new_process();
        while self.running() {
            let host = self.hosts[rng.gen_range(0..self.hosts.len())].clone();
            let node = rng.gen_range(1..=NODES);
            p = self.step(p, node, Op::LeaderRead { host }).await;
            tokio::time::sleep(Duration::from_millis(rng.gen_range(30..90))).await;
        }
    }

    /// Visits every node in turn.
    pub async fn dns_reader(self: Arc<Self>, seed: u64, first: NodeId) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut p = self.rec.new_process();
        let mut node = first;
        while self.running() {
            let host = self.hosts[rng.gen_range(0..self.hosts.len())].clone();
            p = self.step(p, node, Op::DnsRead { host }).await;
            node = node % NODES + 1;
            tokio::time::sleep(Duration::from_millis(rng.gen_range(20..60))).await;
        }
    }
}

/// The dyndns2 answer to an update of one host to `value` (docs/dyndns.md, "Answers").
pub fn classify_write(status: u16, body: &str, value: &str) -> Outcome {
    let line = body.lines().next().unwrap_or("").trim();
    let code = line.split_whitespace().next().unwrap_or("");
    match (status, code) {
        (200, "good") if line.split_whitespace().nth(1).is_some_and(|a| a.split(',').any(|a| a == value)) => {
            Outcome::Ok(OpResult::Written)
        }
        (200, "good") => Outcome::Info(format!("good without the written address: {line}")),
        // Refused before anything was proposed: credentials, names, parameters, the rate
        // limit (a refusal record may be logged, the address is not changed).
        (200, "badauth" | "nohost" | "notfqdn" | "numhost" | "abuse" | "badagent" | "badsys") => {
            Outcome::Fail(line.to_string())
        }
        (400..=499, _) => Outcome::Fail(format!("{status} {line}")),
        // 911 (503), other 5xx, `nochg` (impossible with unique values), `dnserr`, anything
        // unexpected: not known to be without effect.
        _ => Outcome::Info(format!("{status} {line}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dyndns2_answers_are_classified() {
        assert!(matches!(classify_write(200, "good 10.0.0.7", "10.0.0.7"), Outcome::Ok(_)));
        assert!(matches!(classify_write(200, "good 10.0.0.8", "10.0.0.7"), Outcome::Info(_)));
        assert!(matches!(classify_write(200, "badauth", "10.0.0.7"), Outcome::Fail(_)));
        assert!(matches!(classify_write(401, "badauth", "10.0.0.7"), Outcome::Fail(_)));
        assert!(matches!(classify_write(503, "911", "10.0.0.7"), Outcome::Info(_)));
        assert!(matches!(classify_write(500, "", "10.0.0.7"), Outcome::Info(_)));
        assert!(matches!(classify_write(200, "nochg 10.0.0.7", "10.0.0.7"), Outcome::Info(_)));
    }
}
