//! Replicated data of the RFC 2136 UPDATE path: TSIG keys with their update policy,
//! records with an automatic lifetime (acme-dns TXT), acme-dns accounts and the bounded
//! history of UPDATE outcomes. Only [`super::State::apply`] changes it.
//!
//! TSIG secrets are in here because every node must verify MACs with them (inherent to
//! TSIG). They never appear in `Debug` output, logs or API listings.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::model::{Fqdn, RData, RType};

/// UPDATE history entries kept (all zones together).
pub const UPDATE_HISTORY_LIMIT: usize = 1000;

pub use crate::model::rcode;

/// One prerequisite (RFC 2136 §2.4). Types are raw codes: a type we do not store simply
/// never exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Prereq {
    /// Class ANY, type ANY: the name owns at least one RR.
    NameInUse(Fqdn),
    /// Class NONE, type ANY: the name owns no RR.
    NameNotInUse(Fqdn),
    /// Class ANY, type T: an RRset (name, T) exists.
    RrsetExists(Fqdn, u16),
    /// Class NONE, type T: no RRset (name, T) exists.
    RrsetNotExists(Fqdn, u16),
    /// Class IN: the RRset (name, T) is exactly these RRs (TTL ignored).
    RrsetEquals(Fqdn, RType, Vec<RData>),
}

impl Prereq {
    /// The owner name the prerequisite is about.
    pub fn name(&self) -> &Fqdn {
        match self {
            Prereq::NameInUse(n)
            | Prereq::NameNotInUse(n)
            | Prereq::RrsetExists(n, _)
            | Prereq::RrsetNotExists(n, _)
            | Prereq::RrsetEquals(n, _, _) => n,
        }
    }
}

/// One update RR (RFC 2136 §2.5). SOA updates are dropped by the parser (the serial is
/// ours; see docs/clients.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateOp {
    Add { name: Fqdn, ttl: u32, data: RData },
    DeleteRrset { name: Fqdn, rtype: RType },
    DeleteName { name: Fqdn },
    DeleteRr { name: Fqdn, data: RData },
}

impl UpdateOp {
    pub fn name(&self) -> &Fqdn {
        match self {
            UpdateOp::Add { name, .. }
            | UpdateOp::DeleteRrset { name, .. }
            | UpdateOp::DeleteName { name }
            | UpdateOp::DeleteRr { name, .. } => name,
        }
    }

    /// The record type touched; `None` for "every type" (delete a name).
    pub fn rtype(&self) -> Option<RType> {
        match self {
            UpdateOp::Add { data, .. } | UpdateOp::DeleteRr { data, .. } => Some(data.rtype()),
            UpdateOp::DeleteRrset { rtype, .. } => Some(*rtype),
            UpdateOp::DeleteName { .. } => None,
        }
    }

    /// Short presentation for history: `add x.example. 60 TXT "v"`.
    pub fn describe(&self) -> String {
        match self {
            UpdateOp::Add { name, ttl, data } => format!("add {name} {ttl} {} {data}", data.rtype()),
            UpdateOp::DeleteRrset { name, rtype } => format!("delete {name} {rtype}"),
            UpdateOp::DeleteName { name } => format!("delete {name}"),
            UpdateOp::DeleteRr { name, data } => format!("delete {name} {} {data}", data.rtype()),
        }
    }
}

/// How a policy rule matches owner names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameMatch {
    /// Exactly the rule's name.
    Exact,
    /// The rule's name and every name below it.
    Subdomain,
    /// The rule's name is a pattern over labels where `*` stands for one or more whole
    /// labels: `_acme-challenge.*` matches `_acme-challenge.www.example.test`.
    Pattern,
}

/// One grant: names matching (`match`, `name`) may be changed in records of `types`
/// (empty: any type, which "delete every RRset of a name" needs). Plain fields only: the
/// state is stored with bincode, which has no flattened or tagged enums.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRule {
    #[serde(rename = "match")]
    pub kind: NameMatch,
    pub name: String,
    #[serde(default)]
    pub types: Vec<RType>,
}

impl PolicyRule {
    pub fn matches_name(&self, name: &Fqdn) -> bool {
        let rule = self.name.trim_end_matches('.');
        match self.kind {
            NameMatch::Exact => Fqdn::parse(rule).is_ok_and(|r| &r == name),
            NameMatch::Subdomain => Fqdn::parse(rule).is_ok_and(|r| name.is_in(&r)),
            NameMatch::Pattern => {
                let p: Vec<&str> = rule.split('.').collect();
                let n: Vec<&str> = name.labels().collect();
                labels_match(&p, &n)
            }
        }
    }

    pub fn allows(&self, op: &UpdateOp) -> bool {
        self.matches_name(op.name())
            && match op.rtype() {
                Some(t) => self.types.is_empty() || self.types.contains(&t),
                None => self.types.is_empty(),
            }
    }
}

fn labels_match(p: &[&str], n: &[&str]) -> bool {
    match p.split_first() {
        None => n.is_empty(),
        Some((&"*", rest)) => (1..=n.len()).any(|k| labels_match(rest, &n[k..])),
        Some((l, rest)) => n.first().is_some_and(|x| x.eq_ignore_ascii_case(l)) && labels_match(rest, &n[1..]),
    }
}

/// A TSIG key managed through the API, replicated to every node.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TsigKeyEntry {
    pub name: Fqdn,
    /// `hmac-md5`, `hmac-sha1`, `hmac-sha256`, `hmac-sha384` or `hmac-sha512`.
    pub algorithm: String,
    pub secret: Vec<u8>,
    /// What the key may change with UPDATE; empty: nothing.
    pub policy: Vec<PolicyRule>,
    pub comment: String,
    pub created: u64,
}

impl std::fmt::Debug for TsigKeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TsigKeyEntry({} {}, <secret redacted>, {:?})", self.name, self.algorithm, self.policy)
    }
}

impl TsigKeyEntry {
    pub fn allows(&self, op: &UpdateOp) -> bool {
        self.policy.iter().any(|r| r.allows(op))
    }
}

/// The outcome of one UPDATE, as kept in the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateHistoryEntry {
    pub index: u64,
    pub at: u64,
    pub zone: Fqdn,
    pub key: Option<Fqdn>,
    pub source: String,
    pub rcode: u16,
    /// The update RRs as asked (what was asked is more useful than what changed when a
    /// request was refused).
    pub changes: Vec<String>,
    /// Whether the zone changed (its serial was bumped).
    pub changed: bool,
}

/// An acme-dns account: `username` and the argon2id hash of its password (hashed before
/// proposing); it may set the TXT RRset of `fulldomain` (`<subdomain>.<zone>`) only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcmeAccount {
    pub username: String,
    pub password_hash: String,
    pub subdomain: String,
    pub fulldomain: Fqdn,
    pub zone: Fqdn,
    pub created: u64,
    /// The current TXT values, oldest first.
    #[serde(default)]
    pub values_in_order: Vec<Vec<u8>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rfc2136State {
    pub keys: BTreeMap<Fqdn, TsigKeyEntry>,
    /// Bumped on every key change, so observers rebuild their key ring only then.
    pub keys_version: u64,
    pub history: VecDeque<UpdateHistoryEntry>,
    /// Records removed by `ExpireRecords` once `at >= expires` (unix ms), keyed by
    /// (zone, name, rtype).
    pub expiring: BTreeMap<(Fqdn, Fqdn, RType), u64>,
    pub acme_accounts: BTreeMap<String, AcmeAccount>,
}

impl Rfc2136State {
    pub(super) fn record(&mut self, entry: UpdateHistoryEntry) {
        self.history.push_back(entry);
        while self.history.len() > UPDATE_HISTORY_LIMIT {
            self.history.pop_front();
        }
    }
}
