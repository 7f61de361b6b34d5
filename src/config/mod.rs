//! Node configuration: a TOML file (unknown keys are errors, reported with line and
//! column), an embedded development default (`serve --dev`), and CLI overrides.
//! Secrets (admin token, cluster secret) come from files or the environment, never from
//! logs; docs/configuration.md describes every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use crate::dns::config::{DnsConfig, TsigKeyConfig};
use crate::model::{zonefile, Fqdn, RData, SoaParams};
use crate::state::Command;

pub use crate::dyndns::config::DyndnsConfig;
pub use crate::http::config::HttpConfig;
pub use crate::raft::config::ClusterConfig;
use crate::secret::SecretError;

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

impl ZoneConfig {
    /// The command that creates a configured zone with its static records, atomically.
    pub fn command(&self) -> Result<Command, ConfigError> {
        let z = self;
        let d = SoaParams::defaults_for(&z.name);
        let soa = SoaParams {
            mname: z.ns.first().cloned().unwrap_or(d.mname),
            rname: z.rname.clone().unwrap_or(d.rname),
            refresh: z.refresh.unwrap_or(d.refresh),
            retry: z.retry.unwrap_or(d.retry),
            expire: z.expire.unwrap_or(d.expire),
            minimum: z.minimum.unwrap_or(d.minimum),
            ttl: z.soa_ttl.unwrap_or(d.ttl),
        };
        let mut cmds = vec![Command::CreateZone {
            origin: z.name.clone(),
            soa: soa.clone(),
            ns: z.ns.clone(),
            ns_ttl: z.ns_ttl,
            serial: None,
        }];
        if !z.records.is_empty() {
            // Parse the static records as a zone file fragment under a synthetic SOA.
            let text = format!(
                "$ORIGIN {origin}\n@ {ttl} IN SOA {soa}\n{records}\n",
                origin = z.name.to_dotted(),
                ttl = soa.ttl,
                soa = soa.presentation(crate::model::Serial(1)),
                records = z.records.join("\n")
            );
            let parsed =
                zonefile::parse(&text, &z.name).map_err(|e| ConfigError::Invalid(format!("zone {}: {e}", z.name)))?;
            let mut records = parsed.records;
            records.extend(z.ns.iter().map(|ns| crate::model::RecordSpec {
                name: z.name.clone(),
                ttl: z.ns_ttl,
                data: RData::Ns(ns.clone()),
            }));
            cmds.push(Command::ReplaceZone {
                zone: z.name.clone(),
                soa,
                serial: Some(crate::model::Serial(1)),
                records,
            });
        }
        Ok(if cmds.len() == 1 { cmds.remove(0) } else { Command::Batch(cmds) })
    }
}

impl Config {
    /// The acme-dns zone: the first `[[zone]]` with `acme_dns = true`.
    pub fn acme_dns(&self) -> crate::http::acme_dns::AcmeDnsSettings {
        let zone = self.zones.iter().find(|z| z.acme_dns);
        crate::http::acme_dns::AcmeDnsSettings {
            zone: zone.map(|z| z.name.clone()),
            txt_lifetime_ms: zone.map(|z| z.acme_dns_txt_lifetime_secs.saturating_mul(1000)),
        }
    }
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
        self.cluster.validate().map_err(ConfigError::Invalid)?;
        self.dns.validate().map_err(ConfigError::Invalid)?;
        self.http.validate().map_err(ConfigError::Invalid)?;
        // Across sections: the plain listener is a second port, never the TLS one.
        if self.http.plain_addr.is_some_and(|a| a == n.http_addr && a.port() != 0) {
            return Err(ConfigError::Invalid("http.plain_addr must differ from node.http_addr".into()));
        }
        self.dyndns.validate().map_err(ConfigError::Invalid)?;
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
