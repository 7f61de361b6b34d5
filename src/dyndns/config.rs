//! `[dyndns]`: the update endpoints' policy. Every key has a default.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DyndnsConfig {
    /// Minimum seconds between two address *changes* of one host. A faster change is
    /// refused (`abuse` on dyndns2, `TF` on /u/) and counted in `client_faults`.
    /// Repeated `nochg` is never refused.
    pub min_update_interval_secs: u64,
    /// Update history entries kept per host.
    pub history_per_host: u32,
    /// Seconds between two expiry sweeps on the leader.
    pub expire_sweep_interval_secs: u64,
    /// Default `expire` (seconds) of new hosts; 0 = addresses never expire.
    pub default_expire_secs: u32,
    /// Keep verified credentials in memory (keyed HMAC), so argon2 is paid once per
    /// secret and node instead of once per update.
    pub credential_cache: bool,
    /// Peers whose `X-Forwarded-For` is believed (reverse proxies), as IPs or CIDRs.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A refused update (wrong secret...) of an existing host is written to its history
    /// at most once per this many seconds, so guessing cannot flood the log.
    pub refusal_record_interval_secs: u64,
    /// Base URL put into the update URLs of `/nic/register` answers; default: from the
    /// request's Host header, `http://` (`https://` when the port serves TLS).
    pub public_url: Option<String>,
    /// The realm of `WWW-Authenticate: Basic`.
    pub realm: String,
    /// Refuse updates without a User-Agent with `badagent`.
    pub require_user_agent: bool,
    /// Set by the node when the public port serves TLS: update URLs without
    /// `public_url` then say `https://`.
    #[serde(skip)]
    pub https: bool,
}

impl Default for DyndnsConfig {
    fn default() -> Self {
        DyndnsConfig {
            min_update_interval_secs: 10,
            history_per_host: 50,
            expire_sweep_interval_secs: 30,
            default_expire_secs: 0,
            credential_cache: true,
            trusted_proxies: Vec::new(),
            refusal_record_interval_secs: 10,
            public_url: None,
            realm: "quorumdns".into(),
            require_user_agent: false,
            https: false,
        }
    }
}

impl DyndnsConfig {
    /// What is wrong with the section, if anything.
    pub fn validate(&self) -> Result<(), String> {
        if self.expire_sweep_interval_secs == 0 || self.history_per_host > 10_000 {
            return Err("dyndns.expire_sweep_interval_secs must be positive and history_per_host at most 10000".into());
        }
        Ok(())
    }
}
