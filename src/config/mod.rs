//! Node configuration: a TOML file (unknown keys are errors, reported with line and
//! column), an embedded development default (`serve --dev`), and CLI overrides.
//! Secrets (admin token, cluster secret) come from files or the environment, never from
//! logs; docs/configuration.md describes every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::Fqdn;

mod dyndns;
mod http;
mod secrets;
pub use dyndns::DyndnsConfig;
pub use http::HttpConfig;
pub use secrets::{Secret, SecretError};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub node: NodeConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub cluster: ClusterConfig,
    #[serde(default)]
    pub dns: DnsConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub dyndns: DyndnsConfig,
    /// Public HTTP port: TLS, authentication failure limits.
    #[serde(default)]
    pub http: HttpConfig,
    /// Zones created when this node bootstraps the cluster (ignored if they exist).
    #[serde(default, rename = "zone")]
    pub zones: Vec<ZoneConfig>,
    /// TSIG keys (RFC 8945) for zone transfers; see docs/secondaries.md.
    #[serde(default, rename = "tsig_key")]
    pub tsig_keys: Vec<TsigKeyConfig>,
}

/// A TSIG key. The secret (base64, as `tsig-keygen`/`keymgr` print it) comes from
/// exactly one of `secret_file`, `secret_env` or, for tests only, `secret`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsigKeyConfig {
    pub name: Fqdn,
    /// hmac-sha256, hmac-sha384 or hmac-sha512.
    pub algorithm: String,
    pub secret: Option<String>,
    pub secret_file: Option<PathBuf>,
    pub secret_env: Option<String>,
}

impl std::fmt::Debug for TsigKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TsigKeyConfig({} {}, <secret redacted>)", self.name, self.algorithm)
    }
}

impl TsigKeyConfig {
    /// The key with its secret loaded and decoded.
    pub fn load(&self) -> Result<crate::dns::tsig::TsigKey, ConfigError> {
        use base64::Engine;
        let bad = |m: String| ConfigError::Invalid(format!("tsig_key {}: {m}", self.name));
        let algorithm = crate::model::tsig::Algorithm::parse(&self.algorithm).ok_or_else(|| {
            bad(format!("unsupported algorithm {:?} (hmac-md5, hmac-sha1, hmac-sha256/384/512)", self.algorithm))
        })?;
        let text = match (&self.secret, &self.secret_file, &self.secret_env) {
            (Some(s), None, None) => s.clone(),
            (None, Some(path), None) => std::fs::read_to_string(path)
                .map_err(|e| bad(format!("cannot read secret file {}: {e}", path.display())))?,
            (None, None, Some(var)) => {
                std::env::var(var).map_err(|_| bad(format!("environment variable {var} is not set")))?
            }
            _ => return Err(bad("give exactly one of secret, secret_file, secret_env".into())),
        };
        let secret = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| bad("secret is not valid base64".into()))?;
        if secret.len() < 16 {
            return Err(bad("secret shorter than 16 octets".into()));
        }
        Ok(crate::dns::tsig::TsigKey::new(self.name.clone(), algorithm, secret))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Unique, never reused, > 0.
    pub id: u64,
    pub data_dir: PathBuf,
    pub dns_addr: SocketAddr,
    pub http_addr: SocketAddr,
    /// Internal Raft RPC address: must not be the public HTTP port.
    pub raft_addr: SocketAddr,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// File holding the admin bearer token. `QUORUMDNS_ADMIN_TOKEN` overrides it.
    pub admin_token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// File holding the shared secret that authenticates Raft RPCs between nodes.
    /// `QUORUMDNS_CLUSTER_SECRET` overrides it.
    pub secret_file: Option<PathBuf>,
    /// Initialize a single-member cluster on first start. `false` for nodes that join an
    /// existing cluster (`cluster add`) or are initialized with `cluster init --member ...`.
    pub bootstrap: bool,
    pub heartbeat_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    pub rpc_timeout_ms: u64,
    /// How long a write may wait for commit and apply before the client gets 503.
    pub write_timeout_ms: u64,
    /// Build a Raft snapshot (and purge the log behind it) every this many entries.
    pub snapshot_every: u64,
    /// A node reports itself stale (metric `quorumdns_raft_stale`, `/readyz`) when it has
    /// not heard from a leader (as leader: from a quorum) for this long.
    pub stale_after_ms: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            secret_file: None,
            bootstrap: true,
            heartbeat_ms: 250,
            election_timeout_min_ms: 1000,
            election_timeout_max_ms: 2000,
            rpc_timeout_ms: 2000,
            write_timeout_ms: 5000,
            snapshot_every: 10_000,
            stale_after_ms: 3000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    pub tcp_idle_timeout_secs: u64,
    pub tcp_max_connections: usize,
    /// Open TCP connections per client address (0 = no limit).
    pub tcp_max_per_client: usize,
    /// A TCP connection is closed once it is this old, between messages (0 = no limit).
    pub tcp_max_lifetime_secs: u64,
    /// A TCP connection is closed after this many messages (0 = no limit).
    pub tcp_max_queries: usize,
    /// Microseconds a UDP loop waits for more queries to arrive before reading the next
    /// batch, when the last read found queries waiting and the batch was small (moderate
    /// load); 0 reads at once. See `dns::udp`.
    pub udp_coalesce_us: u64,
    /// RFC 5001 name server identifier of this node (printable, at most 128 octets).
    pub nsid: Option<String>,
    /// DNS cookies (RFC 7873/9018) with the cluster's replicated secret.
    pub cookies: bool,
    /// Answer UDP queries that carry a client cookie without a valid server cookie with
    /// BADCOOKIE (the client retries with the fresh cookie).
    pub require_cookies: bool,
    /// UDP response rate limiting: responses per second per (client prefix, answer);
    /// 0 disables it. See docs/security.md.
    pub rrl_responses_per_second: u32,
    pub rrl_burst: u32,
    /// Every Nth limited response is sent as TC=1 (or BADCOOKIE); 0 drops them all.
    pub rrl_slip: u32,
    pub rrl_ipv4_prefix: u8,
    pub rrl_ipv6_prefix: u8,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            tcp_idle_timeout_secs: 10,
            tcp_max_connections: 1024,
            tcp_max_per_client: 32,
            tcp_max_lifetime_secs: 120,
            tcp_max_queries: 0,
            udp_coalesce_us: crate::dns::server::DEFAULT_UDP_COALESCE_US,
            nsid: None,
            cookies: true,
            require_cookies: false,
            rrl_responses_per_second: 0,
            rrl_burst: 20,
            rrl_slip: 2,
            rrl_ipv4_prefix: 24,
            rrl_ipv6_prefix: 56,
        }
    }
}

impl DnsConfig {
    /// The EDNS policy (NSID, cookies) of this node; `keys` are the replicated secrets.
    pub fn edns_policy(&self, keys: std::sync::Arc<crate::dns::cookie::CookieKeys>) -> crate::dns::edns::EdnsPolicy {
        crate::dns::edns::EdnsPolicy {
            nsid: self.nsid.as_ref().map(|n| n.as_bytes().to_vec()),
            cookies: self.cookies.then_some(keys),
            require_cookies: self.require_cookies,
        }
    }

    pub fn rrl(&self) -> crate::dns::rrl::RrlConfig {
        crate::dns::rrl::RrlConfig {
            responses_per_second: self.rrl_responses_per_second,
            burst: self.rrl_burst.max(1),
            slip: self.rrl_slip,
            ipv4_prefix: self.rrl_ipv4_prefix.min(32),
            ipv6_prefix: self.rrl_ipv6_prefix.min(128),
            ..crate::dns::rrl::RrlConfig::default()
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default)]
    pub format: LogFormat,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    pub name: Fqdn,
    pub ns: Vec<Fqdn>,
    #[serde(default = "default_ns_ttl")]
    pub ns_ttl: u32,
    /// SOA RNAME (mailbox as a name); default `hostmaster.<zone>`.
    pub rname: Option<Fqdn>,
    pub refresh: Option<u32>,
    pub retry: Option<u32>,
    pub expire: Option<u32>,
    pub minimum: Option<u32>,
    pub soa_ttl: Option<u32>,
    /// Static records to create with the zone, in zone file syntax, one per line,
    /// names relative to the zone (`www 300 IN A 192.0.2.1`).
    #[serde(default)]
    pub records: Vec<String>,
    /// Source networks allowed to AXFR/IXFR this zone from this node.
    #[serde(default)]
    pub allow_transfer: Vec<ipnet::IpNet>,
    /// TSIG key names (from `[[tsig_key]]`) allowed to transfer this zone.
    #[serde(default)]
    pub transfer_tsig: Vec<Fqdn>,
    /// Secondaries (`IP:port`) to NOTIFY after each change, when this node leads.
    #[serde(default)]
    pub notify: Vec<SocketAddr>,
    /// Serve the acme-dns API (`/acme-dns/register`, `/acme-dns/update`) with accounts
    /// below this zone (the first zone that sets it).
    #[serde(default)]
    pub acme_dns: bool,
    /// How long a TXT value set through `/acme-dns/update` lives after its last update
    /// before the leader's sweep removes it through the log (seconds; default 24 h).
    #[serde(default = "default_acme_txt_lifetime")]
    pub acme_dns_txt_lifetime_secs: u64,
}

fn default_ns_ttl() -> u32 {
    3600
}

fn default_acme_txt_lifetime() -> u64 {
    24 * 3600
}

/// Where `serve --dev` puts its data unless told otherwise.
pub const DEV_DATA_DIR: &str = "./quorumdns-data";
pub const DEV_ZONE: &str = "dyn.example.test";

/// CLI flags that override the file (or the dev defaults) in both modes.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub dns_addr: Option<SocketAddr>,
    pub http_addr: Option<SocketAddr>,
    pub raft_addr: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub udp_coalesce_us: Option<u64>,
}

impl Config {
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: path.to_path_buf(), error })?;
        Config::from_toml(&text, path)
    }

    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: describe_toml_error(text, &e) })?;
        config.validate()?;
        Ok(config)
    }

    /// The embedded default for a first run: one node on loopback, one zone.
    pub fn dev() -> Config {
        let text = include_str!("dev.toml");
        toml::from_str(text).expect("the embedded dev config parses (tested)")
    }

    pub fn apply(mut self, o: &Overrides) -> Result<Config, ConfigError> {
        if let Some(a) = o.dns_addr {
            self.node.dns_addr = a;
        }
        if let Some(a) = o.http_addr {
            self.node.http_addr = a;
        }
        if let Some(a) = o.raft_addr {
            self.node.raft_addr = a;
        }
        if let Some(d) = &o.data_dir {
            self.node.data_dir = d.clone();
        }
        if let Some(us) = o.udp_coalesce_us {
            self.dns.udp_coalesce_us = us;
        }
        self.validate()?;
        Ok(self)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let n = &self.node;
        if n.id == 0 {
            return Err(ConfigError::Invalid("node.id must be greater than 0".into()));
        }
        if n.raft_addr == n.http_addr && n.raft_addr.port() != 0 {
            return Err(ConfigError::Invalid(
                "node.raft_addr must differ from node.http_addr: the Raft port is never the public port".into(),
            ));
        }
        let c = &self.cluster;
        if c.heartbeat_ms == 0 || c.election_timeout_min_ms <= c.heartbeat_ms {
            return Err(ConfigError::Invalid(
                "cluster.election_timeout_min_ms must be greater than cluster.heartbeat_ms (> 0)".into(),
            ));
        }
        if c.election_timeout_max_ms <= c.election_timeout_min_ms {
            return Err(ConfigError::Invalid(
                "cluster.election_timeout_max_ms must be greater than election_timeout_min_ms".into(),
            ));
        }
        if c.stale_after_ms <= c.heartbeat_ms {
            return Err(ConfigError::Invalid(
                "cluster.stale_after_ms must be greater than cluster.heartbeat_ms".into(),
            ));
        }
        if c.snapshot_every == 0 || c.write_timeout_ms == 0 || c.rpc_timeout_ms == 0 {
            return Err(ConfigError::Invalid(
                "cluster.snapshot_every, write_timeout_ms and rpc_timeout_ms must be positive".into(),
            ));
        }
        if self.dns.nsid.as_ref().is_some_and(|n| n.len() > crate::dns::edns::MAX_NSID_LEN) {
            return Err(ConfigError::Invalid("dns.nsid is longer than 128 octets".into()));
        }
        if self.dns.udp_coalesce_us > crate::dns::server::MAX_UDP_COALESCE_US {
            return Err(ConfigError::Invalid(format!(
                "dns.udp_coalesce_us is at most {} (it delays answers under load)",
                crate::dns::server::MAX_UDP_COALESCE_US
            )));
        }
        if self.http.tls_cert.is_some() != self.http.tls_key.is_some() {
            // Refuse rather than silently serve plain HTTP.
            return Err(ConfigError::Invalid(
                "http.tls_cert and http.tls_key go together: give both or neither".into(),
            ));
        }
        if self.http.plain_addr.is_some_and(|a| a == n.http_addr && a.port() != 0) {
            return Err(ConfigError::Invalid("http.plain_addr must differ from node.http_addr".into()));
        }
        let d = &self.dyndns;
        if d.expire_sweep_interval_secs == 0 || d.history_per_host > 10_000 {
            return Err(ConfigError::Invalid(
                "dyndns.expire_sweep_interval_secs must be positive and history_per_host at most 10000".into(),
            ));
        }
        for z in &self.zones {
            if z.ns.is_empty() {
                return Err(ConfigError::Invalid(format!("zone {} needs at least one ns", z.name)));
            }
            if let Some(k) = z.transfer_tsig.iter().find(|k| !self.tsig_keys.iter().any(|t| &t.name == *k)) {
                return Err(ConfigError::Invalid(format!(
                    "zone {}: transfer_tsig key {k} is not a [[tsig_key]]",
                    z.name
                )));
            }
            if z.acme_dns_txt_lifetime_secs == 0 || z.acme_dns_txt_lifetime_secs > 366 * 24 * 3600 {
                return Err(ConfigError::Invalid(format!(
                    "zone {}: acme_dns_txt_lifetime_secs must be 1 to 31622400",
                    z.name
                )));
            }
        }
        Ok(())
    }
}

/// toml's message already names the key; add the offending line so the operator sees it.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().to_string();
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let col = span.start - text[..span.start.min(text.len())].rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
            let src = text.lines().nth(line - 1).unwrap_or("").trim();
            format!("line {line}, column {col}: {msg} (in `{src}`)")
        }
        None => msg,
    }
}

#[cfg(test)]
mod tests;
