//! The dynamic DNS registry inside the replicated state: hosts, users and their tokens,
//! domains, per-host update history. Only [`super::State::apply`] changes it.
//!
//! Secrets are stored as argon2id PHC strings computed by the HTTP node before proposing,
//! so apply never hashes (and never sees a secret).

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::model::{Fqdn, Serial};

/// The owner name of hosts and domains created with the admin token.
pub const ADMIN_OWNER: &str = "admin";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    pub hosts: BTreeMap<Fqdn, Host>,
    pub users: BTreeMap<String, User>,
    /// Token id -> user name, so a bearer token finds its hash without a scan.
    pub tokens: BTreeMap<String, String>,
    pub domains: BTreeMap<Fqdn, Domain>,
    pub history: BTreeMap<Fqdn, VecDeque<HistoryEntry>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    pub fqdn: Fqdn,
    /// The zone that holds the host's records.
    pub zone: Fqdn,
    /// The domain the host was registered under (its parent name).
    pub domain: Fqdn,
    pub owner: String,
    /// argon2id PHC string of the update secret.
    pub secret_hash: String,
    pub wildcard: bool,
    pub ttl: u32,
    pub comment: String,
    pub client_faults: u64,
    pub server_faults: u64,
    /// Set by the service or an admin; the owner may clear it.
    pub abuse: bool,
    /// Set and cleared by an admin only.
    pub abuse_blocked: bool,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// Unix ms of the last accepted update naming each family, and where it came from.
    pub last_update_ipv4: Option<u64>,
    pub last_update_ipv6: Option<u64>,
    pub source_ipv4: Option<String>,
    pub source_ipv6: Option<String>,
    /// Unix ms of the last update that changed an address (`good`): the rate limit.
    pub last_change: Option<u64>,
    /// Unix ms of the last accepted update (`good` or `nochg`): the expiry clock.
    pub last_seen: Option<u64>,
    /// Seconds without a refresh after which the addresses are removed.
    pub expire: Option<u32>,
    pub created: u64,
}

impl Host {
    pub fn is_expired_at(&self, at: u64) -> bool {
        match (self.expire, self.last_seen) {
            (Some(exp), Some(seen)) => {
                (self.ipv4.is_some() || self.ipv6.is_some()) && seen.saturating_add(u64::from(exp) * 1000) <= at
            }
            _ => false,
        }
    }

    /// The label left of the domain (EGI's `name`).
    pub fn name(&self) -> &str {
        let full = self.fqdn.as_str();
        full.strip_suffix(self.domain.as_str()).and_then(|s| s.strip_suffix('.')).unwrap_or(full)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub comment: String,
    /// Private domains this user may register hosts in (public ones are open to all).
    pub domains: Vec<Fqdn>,
    pub tokens: BTreeMap<String, Token>,
    pub created: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub id: String,
    /// argon2id PHC string of the token's secret part.
    pub hash: String,
    pub comment: String,
    pub created: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    pub name: Fqdn,
    pub public: bool,
    pub owner: String,
    pub comment: String,
    pub min_ttl: u32,
    pub max_ttl: u32,
}

impl Domain {
    /// A zone without a registry entry is a public domain of the admin, any TTL.
    pub fn implicit(zone: &Fqdn) -> Domain {
        Domain {
            name: zone.clone(),
            public: true,
            owner: ADMIN_OWNER.into(),
            comment: String::new(),
            min_ttl: 0,
            max_ttl: u32::MAX,
        }
    }

    pub fn clamp_ttl(&self, ttl: u32) -> u32 {
        ttl.clamp(self.min_ttl, self.max_ttl.max(self.min_ttl))
    }

    pub fn usable_by(&self, user: Option<&User>) -> bool {
        match user {
            None => true, // admin
            Some(u) => self.public || self.owner == u.name || u.domains.contains(&self.name),
        }
    }
}

/// What a client asked for one address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AddrChange<T> {
    Keep,
    Set(T),
    Remove,
}

/// Who asked, from where, when, through which endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// Unix ms, from the proposing node's clock.
    pub at: u64,
    pub endpoint: String,
    pub source: String,
    pub agent: String,
}

/// The answer recorded for one update attempt (the dyndns2 code it produced).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum UpdateResult {
    Good,
    NoChange,
    /// Refused: address changes more frequent than the minimum interval.
    RateLimited,
    /// Refused: the host is flagged `abuse` or `abuse_blocked`.
    Abuse,
    BadAuth,
    /// Refused: the host no longer exists when the entry is applied.
    NoHost,
    /// Addresses removed because the host was not refreshed within `expire`.
    Expired,
}

impl UpdateResult {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateResult::Good => "good",
            UpdateResult::NoChange => "nochg",
            UpdateResult::RateLimited => "ratelimited",
            UpdateResult::Abuse => "abuse",
            UpdateResult::BadAuth => "badauth",
            UpdateResult::NoHost => "nohost",
            UpdateResult::Expired => "expired",
        }
    }

    pub fn accepted(self) -> bool {
        matches!(self, UpdateResult::Good | UpdateResult::NoChange)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: u64,
    pub endpoint: String,
    pub source: String,
    pub agent: String,
    pub old_ipv4: Option<Ipv4Addr>,
    pub old_ipv6: Option<Ipv6Addr>,
    pub new_ipv4: Option<Ipv4Addr>,
    pub new_ipv6: Option<Ipv6Addr>,
    pub result: UpdateResult,
    pub index: u64,
    /// The zone serial after this entry (bumped or not).
    pub serial: Serial,
}

/// Per-request limits and policy that apply must know; they travel in the command so every
/// node decides the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdatePolicy {
    /// Minimum ms between two address changes of one host.
    pub min_change_interval_ms: u64,
    /// History entries kept per host.
    pub history_limit: u32,
}

impl UpdatePolicy {
    /// Whether a change stamped `at` comes too soon after the host's last change. An
    /// interval of 0 disables the limit: the stamps are the wall clocks of the nodes that
    /// took the requests, so of two concurrent updates (through one node or several) the
    /// one applied second can carry the earlier stamp, and `at < last + 0` refused it.
    pub fn too_soon(&self, last_change: Option<u64>, at: u64) -> bool {
        self.min_change_interval_ms > 0
            && last_change.is_some_and(|last| at < last.saturating_add(self.min_change_interval_ms))
    }
}

/// Changes to a host's settings; `None` leaves a field alone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPatch {
    pub comment: Option<String>,
    pub wildcard: Option<bool>,
    pub ttl: Option<u32>,
    /// `Some(None)` removes the expiry.
    pub expire: Option<Option<u32>>,
    pub abuse: Option<bool>,
    pub abuse_blocked: Option<bool>,
    pub owner: Option<String>,
}
