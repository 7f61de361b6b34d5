//! Which addresses a host may publish (the `myip` policy, `[dyndns] refuse_addresses`),
//! and how an update's origin says it arrived over TLS (`tls_update_ipv4/ipv6`).
//!
//! The policy applies to every address an update would publish, named (`myip` and its
//! aliases, `ipv4`/`ipv6`, `ip`) or taken from the client: a `0.0.0.0` from a broken
//! script, or `127.0.0.1` from a reverse proxy missing in `trusted_proxies`, would
//! otherwise be served to the world.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::Deserialize;

/// A class of addresses the policy can refuse by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressKind {
    /// `0.0.0.0`, `::`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), shared address space
    /// (`100.64/10`, RFC 6598) and unique local IPv6 (`fc00::/7`).
    Private,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24` (RFC 5737), `2001:db8::/32`.
    Documentation,
}

const KINDS: [(AddressKind, &str); 7] = [
    (AddressKind::Unspecified, "unspecified"),
    (AddressKind::Loopback, "loopback"),
    (AddressKind::Multicast, "multicast"),
    (AddressKind::Broadcast, "broadcast"),
    (AddressKind::LinkLocal, "link_local"),
    (AddressKind::Private, "private"),
    (AddressKind::Documentation, "documentation"),
];

impl AddressKind {
    pub fn as_str(self) -> &'static str {
        KINDS.iter().find(|(k, _)| *k == self).map_or("unknown", |(_, n)| n)
    }

    pub fn contains(self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => self.contains_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => self.contains_v4(v4),
                None => self.contains_v6(v6),
            },
        }
    }

    fn contains_v4(self, ip: Ipv4Addr) -> bool {
        let o = ip.octets();
        match self {
            AddressKind::Unspecified => ip.is_unspecified(),
            AddressKind::Loopback => ip.is_loopback(),
            AddressKind::Multicast => ip.is_multicast(),
            AddressKind::Broadcast => ip.is_broadcast(),
            AddressKind::LinkLocal => ip.is_link_local(),
            AddressKind::Private => ip.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64),
            AddressKind::Documentation => ip.is_documentation(),
        }
    }

    fn contains_v6(self, ip: Ipv6Addr) -> bool {
        let s = ip.segments();
        match self {
            AddressKind::Unspecified => ip.is_unspecified(),
            AddressKind::Loopback => ip.is_loopback(),
            AddressKind::Multicast => ip.is_multicast(),
            AddressKind::Broadcast => false,
            AddressKind::LinkLocal => (s[0] & 0xffc0) == 0xfe80,
            AddressKind::Private => (s[0] & 0xfe00) == 0xfc00,
            AddressKind::Documentation => s[0] == 0x2001 && s[1] == 0x0db8,
        }
    }
}

/// One entry of `refuse_addresses`: a kind by name or a network in CIDR notation.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum AddressRule {
    Kind(AddressKind),
    Network(ipnet::IpNet),
}

impl FromStr for AddressRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some((kind, _)) = KINDS.iter().find(|(_, n)| n.eq_ignore_ascii_case(s)) {
            return Ok(AddressRule::Kind(*kind));
        }
        s.parse::<ipnet::IpNet>()
            .or_else(|_| s.parse::<IpAddr>().map(ipnet::IpNet::from))
            .map(AddressRule::Network)
            .map_err(|_| {
                let names: Vec<&str> = KINDS.iter().map(|(_, n)| *n).collect();
                format!("{s:?} is neither an address kind ({}) nor an address or CIDR", names.join(", "))
            })
    }
}

impl TryFrom<String> for AddressRule {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl fmt::Display for AddressRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressRule::Kind(k) => f.write_str(k.as_str()),
            AddressRule::Network(n) => write!(f, "{n}"),
        }
    }
}

impl AddressRule {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match self {
            AddressRule::Kind(k) => k.contains(ip),
            AddressRule::Network(n) => n.contains(&ip),
        }
    }

    /// The metric label of a refusal by this rule (a kind's name, or `network`).
    pub fn label(&self) -> &'static str {
        match self {
            AddressRule::Kind(k) => k.as_str(),
            AddressRule::Network(_) => "network",
        }
    }
}

/// The default policy: what no host should ever publish. Private ranges stay allowed
/// (the EGI service publishes 10.x addresses in its own example).
pub fn default_refused() -> Vec<AddressRule> {
    [AddressKind::Unspecified, AddressKind::Loopback, AddressKind::Multicast, AddressKind::Broadcast]
        .into_iter()
        .map(AddressRule::Kind)
        .collect()
}

/// The first rule of `rules` that refuses `ip`.
pub fn refused_by(rules: &[AddressRule], ip: IpAddr) -> Option<&AddressRule> {
    rules.iter().find(|r| r.contains(ip))
}

/// The replicated origin of an update names its source as text; an update that arrived
/// over TLS (directly, or through a trusted proxy that said so) carries this suffix.
/// Text, not a new field, so the replicated types (and formats) stay as they are.
const TLS_SUFFIX: &str = ";tls";

/// The origin text of an update from `ip`, over TLS or not.
pub fn source_text(ip: IpAddr, tls: bool) -> String {
    if tls {
        format!("{ip}{TLS_SUFFIX}")
    } else {
        ip.to_string()
    }
}

/// The address part of an origin text and whether the update came over TLS.
pub fn parse_source(text: &str) -> (&str, bool) {
    match text.strip_suffix(TLS_SUFFIX) {
        Some(addr) => (addr, true),
        None => (text, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_policy_refuses_what_no_host_should_publish_and_allows_private_ranges() {
        let rules = default_refused();
        for bad in ["0.0.0.0", "::", "127.0.0.1", "127.9.9.9", "::1", "224.0.0.1", "ff02::1", "255.255.255.255"] {
            assert!(refused_by(&rules, ip(bad)).is_some(), "{bad}");
        }
        assert!(refused_by(&rules, ip("::ffff:127.0.0.1")).is_some(), "a v4-mapped loopback");
        for ok in ["10.10.0.253", "192.168.1.2", "172.16.0.1", "100.64.0.1", "fd00::1", "192.0.2.1", "2001:db8::1"] {
            assert!(refused_by(&rules, ip(ok)).is_none(), "{ok}");
        }
    }

    #[test]
    fn rules_parse_from_kind_names_and_cidrs_and_say_what_they_are() {
        let r: AddressRule = "private".parse().unwrap();
        assert!(r.contains(ip("10.1.2.3")) && r.contains(ip("fd12::1")) && !r.contains(ip("8.8.8.8")));
        let n: AddressRule = "198.51.100.0/24".parse().unwrap();
        assert!(n.contains(ip("198.51.100.7")) && !n.contains(ip("198.51.101.7")));
        assert_eq!(n.label(), "network");
        let single: AddressRule = "2001:db8::5".parse().unwrap();
        assert!(single.contains(ip("2001:db8::5")) && !single.contains(ip("2001:db8::6")));
        let e = "bogus".parse::<AddressRule>().unwrap_err();
        assert!(e.contains("link_local") && e.contains("CIDR"), "{e}");
        let lk: AddressRule = "link_local".parse().unwrap();
        assert!(lk.contains(ip("169.254.1.1")) && lk.contains(ip("fe80::1")));
        let doc: AddressRule = "documentation".parse().unwrap();
        assert!(doc.contains(ip("203.0.113.9")) && doc.contains(ip("2001:db8::9")));
    }

    #[test]
    fn a_tls_source_round_trips_and_an_old_source_reads_as_plain() {
        assert_eq!(parse_source(&source_text(ip("192.0.2.1"), true)), ("192.0.2.1", true));
        assert_eq!(parse_source(&source_text(ip("2001:db8::1"), false)), ("2001:db8::1", false));
        assert_eq!(parse_source("198.51.100.4"), ("198.51.100.4", false));
    }
}
