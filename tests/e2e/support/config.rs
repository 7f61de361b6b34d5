//! The node configuration file as typed values, rendered to TOML in one place
//! ([`NodeConfig::render`]). It mirrors the keys of `src/config/` that the tests set;
//! a key left `None` (or an empty list) is not written, so the node's default applies.
//! [`NodeConfig::dev`] starts from `src/config/dev.toml` itself (what `serve --dev` runs).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::node::free_port;
use super::ZONE;

fn is_default<T: Default + PartialEq>(t: &T) -> bool {
    *t == T::default()
}

/// One node's configuration file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NodeConfig {
    pub node: NodeSection,
    #[serde(default, skip_serializing_if = "is_default")]
    pub cluster: ClusterSection,
    #[serde(default, skip_serializing_if = "is_default")]
    pub dns: DnsSection,
    #[serde(default, skip_serializing_if = "is_default")]
    pub dyndns: DyndnsSection,
    #[serde(default, skip_serializing_if = "is_default")]
    pub http: HttpSection,
    #[serde(default, skip_serializing_if = "is_default")]
    pub log: LogSection,
    #[serde(rename = "tsig_key", default, skip_serializing_if = "Vec::is_empty")]
    pub tsig_keys: Vec<TsigKey>,
    #[serde(rename = "zone", default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<Zone>,
}

/// `[node]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NodeSection {
    pub id: u64,
    pub data_dir: PathBuf,
    pub dns_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub raft_addr: SocketAddr,
}

impl Default for NodeSection {
    /// Node 1 on ephemeral loopback ports, data in the current directory.
    fn default() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        NodeSection { id: 1, data_dir: PathBuf::from("."), dns_addr: any, http_addr: any, raft_addr: any }
    }
}

/// `[cluster]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClusterSection {
    pub bootstrap: Option<bool>,
    pub heartbeat_ms: Option<u64>,
    pub election_timeout_min_ms: Option<u64>,
    pub election_timeout_max_ms: Option<u64>,
    pub rpc_timeout_ms: Option<u64>,
    pub write_timeout_ms: Option<u64>,
    pub snapshot_every: Option<u64>,
    pub stale_after_ms: Option<u64>,
}

/// `[dns]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DnsSection {
    pub nsid: Option<String>,
    pub tcp_idle_timeout_secs: Option<u64>,
    pub tcp_max_per_client: Option<usize>,
    pub tcp_max_lifetime_secs: Option<u64>,
    pub tcp_max_queries: Option<usize>,
    pub rrl_responses_per_second: Option<u32>,
    pub rrl_burst: Option<u32>,
    pub rrl_slip: Option<u32>,
    pub rrl_ipv4_prefix: Option<u8>,
}

/// `[dyndns]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DyndnsSection {
    pub public_url: Option<String>,
    pub min_update_interval_secs: Option<u64>,
    pub update_burst: Option<u32>,
    pub expire_sweep_interval_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<String>,
    /// `None`: the node's default (unspecified, loopback, multicast, broadcast).
    pub refuse_addresses: Option<Vec<String>>,
}

/// `[http]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpSection {
    pub auth_fail_limit: Option<u32>,
    pub auth_fail_window_secs: Option<u64>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_reload_interval_secs: Option<u64>,
    pub plain_addr: Option<SocketAddr>,
    pub acme_dns_open_registration: Option<bool>,
}

/// `[log]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogSection {
    pub format: Option<LogFormat>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    Json,
}

/// `[[tsig_key]]` (with the secret inline, which only tests do).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TsigKey {
    pub name: String,
    pub algorithm: String,
    pub secret: String,
}

/// `[[zone]]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Zone {
    pub name: String,
    pub ns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_transfer: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfer_tsig: Vec<String>,
    pub acme_dns: Option<bool>,
    pub acme_dns_txt_lifetime_secs: Option<u64>,
}

impl Zone {
    /// The test zone [`ZONE`] with its name server `ns1` and that name's address.
    pub(crate) fn test() -> Zone {
        Zone {
            name: ZONE.into(),
            ns: vec![format!("ns1.{ZONE}")],
            records: vec!["ns1 3600 IN A 127.0.0.1".into()],
            ..Zone::default()
        }
    }
}

impl NodeConfig {
    /// `src/config/dev.toml` (the `serve --dev` configuration) on ephemeral loopback
    /// ports, with its data in `data_dir`.
    pub(crate) fn dev(data_dir: &Path) -> NodeConfig {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/config/dev.toml");
        let text = std::fs::read_to_string(path).expect("src/config/dev.toml");
        let mut config: NodeConfig = toml::from_str(&text).expect("dev.toml has only keys NodeConfig knows");
        config.node = NodeSection { id: config.node.id, data_dir: data_dir.to_path_buf(), ..NodeSection::default() };
        // `serve --config` requires it (only `serve --dev` derives it); on port 0 the real
        // address is not known up front, so a name (see `with_fixed_ports` for a real one).
        config.dyndns.public_url = Some(format!("https://update.{ZONE}"));
        config
    }

    /// `self` on ports picked up front (`free_port`), with `dyndns.public_url` pointing
    /// at its HTTP port, so the update URLs it hands out reach it.
    pub(crate) fn with_fixed_ports(mut self) -> NodeConfig {
        let addr = |p| SocketAddr::from(([127, 0, 0, 1], p));
        let n = &mut self.node;
        (n.dns_addr, n.http_addr, n.raft_addr) = (addr(free_port()), addr(free_port()), addr(free_port()));
        self.dyndns.public_url = Some(format!("http://{}", n.http_addr));
        self
    }

    /// `self` as `edit` changes it.
    pub(crate) fn with(mut self, edit: impl FnOnce(&mut NodeConfig)) -> NodeConfig {
        edit(&mut self);
        self
    }

    /// The first `[[zone]]` table.
    pub(crate) fn zone_mut(&mut self) -> &mut Zone {
        self.zones.first_mut().expect("a [[zone]] table")
    }

    /// The TOML text of this configuration.
    pub(crate) fn render(&self) -> String {
        toml::to_string(self).expect("the configuration renders as TOML")
    }

    /// Writes [`NodeConfig::render`] to `path`.
    pub(crate) fn write(&self, path: &Path) {
        std::fs::write(path, self.render()).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}
