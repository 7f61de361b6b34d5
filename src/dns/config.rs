//! The `[dns]` section and the `[[tsig_key]]` entries of a node's configuration, owned by
//! the DNS subsystem with their defaults and checks; `config` composes them.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use super::cookie::CookieKeys;
use super::edns::{EdnsPolicy, MAX_NSID_LEN};
use super::rrl::RrlConfig;
use super::tsig::TsigKey;
use crate::model::tsig::Algorithm;
use crate::model::Fqdn;

/// Default of `dns.udp_coalesce_us`: at 40k queries/s it brings the server's CPU per
/// query from ~12.9 to ~10.2 µs (docs/performance.md, fifth round) for ~0.35 ms more
/// median latency at that load; below ~2.5k queries/s and at saturation it never waits.
pub const DEFAULT_UDP_COALESCE_US: u64 = 400;
/// The largest `dns.udp_coalesce_us` a config may set.
pub const MAX_UDP_COALESCE_US: u64 = 10_000;

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
            udp_coalesce_us: DEFAULT_UDP_COALESCE_US,
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
    pub fn edns_policy(&self, keys: Arc<CookieKeys>) -> EdnsPolicy {
        EdnsPolicy {
            nsid: self.nsid.as_ref().map(|n| n.as_bytes().to_vec()),
            cookies: self.cookies.then_some(keys),
            require_cookies: self.require_cookies,
        }
    }

    pub fn rrl(&self) -> RrlConfig {
        RrlConfig {
            responses_per_second: self.rrl_responses_per_second,
            burst: self.rrl_burst.max(1),
            slip: self.rrl_slip,
            ipv4_prefix: self.rrl_ipv4_prefix.min(32),
            ipv6_prefix: self.rrl_ipv6_prefix.min(128),
            ..RrlConfig::default()
        }
    }
}

impl DnsConfig {
    /// What is wrong with the section, if anything.
    pub fn validate(&self) -> Result<(), String> {
        if self.nsid.as_ref().is_some_and(|n| n.len() > MAX_NSID_LEN) {
            return Err("dns.nsid is longer than 128 octets".into());
        }
        if self.udp_coalesce_us > MAX_UDP_COALESCE_US {
            return Err(format!("dns.udp_coalesce_us is at most {MAX_UDP_COALESCE_US} (it delays answers under load)"));
        }
        Ok(())
    }
}

/// A `[[tsig_key]]` that cannot be loaded (the message names the key).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TsigKeyError(String);

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
    pub fn load(&self) -> Result<TsigKey, TsigKeyError> {
        use base64::Engine;
        let bad = |m: String| TsigKeyError(format!("tsig_key {}: {m}", self.name));
        let algorithm = Algorithm::parse(&self.algorithm).ok_or_else(|| {
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
        Ok(TsigKey::new(self.name.clone(), algorithm, secret))
    }
}
