//! `[dyndns]`: the update endpoints' policy. Every key has a default except `public_url`,
//! which only `serve --dev` may leave out (it then derives it from the listen address).

use serde::Deserialize;

use super::address::{default_refused, AddressRule};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DyndnsConfig {
    /// The sustained rate of address *changes* per host: on average one per this many
    /// seconds. `update_burst` changes may come back to back; a change beyond that within
    /// `update_burst × min_update_interval_secs` seconds is answered "retry later"
    /// (dyndns2: 503 + Retry-After + `911`; `/u/`: `TF`). 0 = no limit. `nochg` is never
    /// limited.
    pub min_update_interval_secs: u64,
    /// Address changes a host may make back to back (a dual-stack client sending IPv4 and
    /// IPv6 in separate requests, a router reconnecting...).
    pub update_burst: u32,
    /// Update history entries kept per host (at least `update_burst`: the rate limit
    /// counts changes in the replicated history, so every node decides alike).
    pub history_per_host: u32,
    /// Seconds between two expiry sweeps on the leader.
    pub expire_sweep_interval_secs: u64,
    /// Default `expire` (seconds) of new hosts; 0 = addresses never expire.
    pub default_expire_secs: u32,
    /// Keep verified credentials in memory (keyed HMAC), so argon2 is paid once per
    /// secret and node instead of once per update.
    pub credential_cache: bool,
    /// Peers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed (reverse
    /// proxies), as IPs or CIDRs.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A refused update (wrong secret...) of an existing host is written to its history
    /// at most once per this many seconds, so guessing cannot flood the log.
    pub refusal_record_interval_secs: u64,
    /// The base URL clients reach this service at (`https://dyn.example.org`), used in
    /// the update URLs of `/nic/register` answers. Required outside `serve --dev`; never
    /// taken from a request's Host header.
    pub public_url: Option<String>,
    /// The realm of `WWW-Authenticate: Basic`.
    pub realm: String,
    /// Refuse updates without a User-Agent with `badagent`.
    pub require_user_agent: bool,
    /// Addresses no update may publish: kinds (`unspecified`, `loopback`, `multicast`,
    /// `broadcast`, `link_local`, `private`, `documentation`) and networks (CIDRs).
    pub refuse_addresses: Vec<AddressRule>,
}

impl Default for DyndnsConfig {
    fn default() -> Self {
        DyndnsConfig {
            min_update_interval_secs: 60,
            update_burst: 10,
            history_per_host: 50,
            expire_sweep_interval_secs: 30,
            default_expire_secs: 0,
            credential_cache: true,
            trusted_proxies: Vec::new(),
            refusal_record_interval_secs: 10,
            public_url: None,
            realm: "quorumdns".into(),
            require_user_agent: false,
            refuse_addresses: default_refused(),
        }
    }
}

impl DyndnsConfig {
    /// Milliseconds of the rate limit's sliding window (0: no limit).
    pub fn rate_window_ms(&self) -> u64 {
        self.min_update_interval_secs.saturating_mul(u64::from(self.update_burst)).saturating_mul(1000)
    }

    /// What is wrong with the section, if anything.
    pub fn validate(&self) -> Result<(), String> {
        if self.expire_sweep_interval_secs == 0 || self.history_per_host > 10_000 {
            return Err("dyndns.expire_sweep_interval_secs must be positive and history_per_host at most 10000".into());
        }
        if self.min_update_interval_secs > 0 && (self.update_burst == 0 || self.update_burst > self.history_per_host) {
            return Err(format!(
                "dyndns.update_burst must be 1 to history_per_host ({}): the rate limit counts changes in the history",
                self.history_per_host
            ));
        }
        if let Some(url) = &self.public_url {
            check_public_url(url)?;
        }
        Ok(())
    }
}

/// `scheme://authority` with nothing after it (a trailing `/` is allowed).
fn check_public_url(url: &str) -> Result<(), String> {
    let bad =
        || format!("dyndns.public_url {url:?}: give http:// or https:// and a host, e.g. https://dyn.example.org");
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let ok_scheme = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    let ok_authority =
        !authority.is_empty() && !authority.contains(['/', '?', '#', '@', ' ']) && !authority.starts_with(':');
    if ok_scheme && ok_authority {
        Ok(())
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_a_scheme_and_an_authority() {
        for ok in ["https://dyn.example.org", "http://127.0.0.1:8053/", "https://[2001:db8::1]:8443"] {
            assert_eq!(check_public_url(ok), Ok(()), "{ok}");
        }
        for bad in ["dyn.example.org", "ftp://x", "https://", "https://a/b", "https://u:p@host", "https://h?x=1"] {
            assert!(check_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_burst_must_fit_in_the_history_it_is_counted_in() {
        let c = DyndnsConfig { update_burst: 60, history_per_host: 50, ..DyndnsConfig::default() };
        assert!(c.validate().is_err());
        let off = DyndnsConfig { min_update_interval_secs: 0, ..c };
        assert_eq!(off.validate(), Ok(()), "no limit, nothing to count");
        assert_eq!(DyndnsConfig::default().rate_window_ms(), 600_000);
    }
}
