//! Commands (what a client asks for) and events (what apply decided happened).
//! Both are part of the replicated log and the on-disk format: add variants at the end,
//! never change the meaning of an existing one.

use serde::{Deserialize, Serialize};

use std::net::{Ipv4Addr, Ipv6Addr};

use super::registry::{AddrChange, Domain, HostPatch, Origin, Token, UpdatePolicy, UpdateResult};
use super::rfc2136::{AcmeAccount, Prereq, TsigKeyEntry, UpdateOp};
use super::session::{ClusterVersion, RequestId};
use crate::model::{Fqdn, RData, RType, RecordSpec, Serial, SoaParams, ZoneTransfer};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Create a zone with its SOA parameters and apex NS set.
    CreateZone {
        origin: Fqdn,
        soa: SoaParams,
        ns: Vec<Fqdn>,
        ns_ttl: u32,
        serial: Option<Serial>,
    },
    DeleteZone {
        origin: Fqdn,
    },
    /// Change the SOA parameters (not the serial).
    UpdateSoa {
        zone: Fqdn,
        soa: SoaParams,
    },
    /// Replace the record set (name, type) with exactly `data`; empty `data` deletes it.
    SetRecordSet {
        zone: Fqdn,
        name: Fqdn,
        rtype: RType,
        ttl: u32,
        data: Vec<RData>,
    },
    /// Add records to a set (created if missing); the TTL applies to the whole set.
    AddRecords {
        zone: Fqdn,
        name: Fqdn,
        rtype: RType,
        ttl: u32,
        data: Vec<RData>,
    },
    DeleteRecordSet {
        zone: Fqdn,
        name: Fqdn,
        rtype: RType,
    },
    /// Replace the whole contents of a zone (zone file import). The serial is taken if
    /// it moves forward (RFC 1982), else the current serial plus one.
    ReplaceZone {
        zone: Fqdn,
        soa: SoaParams,
        serial: Option<Serial>,
        records: Vec<RecordSpec>,
    },
    /// Several commands applied atomically: all or none. Of the registry commands only
    /// `UpdateAddresses` may appear in a batch.
    Batch(Vec<Command>),
    /// Set the zone's secondaries (transfer ACL, NOTIFY targets, IXFR window). Does not
    /// change the zone's data or serial.
    SetZoneTransfer {
        zone: Fqdn,
        transfer: ZoneTransfer,
    },
    /// Record that a Raft node id left the cluster; it can never be added again.
    RetireNode {
        id: u64,
    },
    /// Register a dynamic host `fqdn` (inside a zone, directly below a domain).
    RegisterHost {
        fqdn: Fqdn,
        owner: String,
        secret_hash: String,
        wildcard: bool,
        comment: String,
        ttl: Option<u32>,
        expire: Option<u32>,
        at: u64,
    },
    /// Remove a host and its records.
    UnregisterHost {
        fqdn: Fqdn,
    },
    /// Replace the update secret: the old one stops working when this is applied.
    SetHostSecret {
        fqdn: Fqdn,
        secret_hash: String,
    },
    UpdateHostSettings {
        fqdn: Fqdn,
        patch: HostPatch,
    },
    /// A dyndns update of one host. Never refused as a whole: refusals (rate limit, abuse
    /// flag, host gone) are outcomes recorded in the host's history.
    UpdateAddresses {
        fqdn: Fqdn,
        v4: AddrChange<Ipv4Addr>,
        v6: AddrChange<Ipv6Addr>,
        origin: Origin,
        policy: UpdatePolicy,
    },
    /// An update refused before proposing (wrong secret...): counted and recorded.
    RecordRefusedUpdate {
        fqdn: Fqdn,
        result: UpdateResult,
        origin: Origin,
        history_limit: u32,
    },
    /// Remove the addresses of hosts whose last refresh + expire <= `at`.
    ExpireHosts {
        at: u64,
        history_limit: u32,
    },
    CreateUser {
        name: String,
        comment: String,
        domains: Vec<Fqdn>,
        at: u64,
    },
    /// Delete a user with its tokens; its hosts stay (owned by nobody but the admin).
    DeleteUser {
        name: String,
    },
    AddToken {
        user: String,
        token: Token,
    },
    RevokeToken {
        user: String,
        id: String,
    },
    /// Create or replace a domain registry entry.
    SetDomain {
        domain: Domain,
    },
    DeleteDomain {
        name: Fqdn,
    },
    /// Create or replace a TSIG key (secret and UPDATE policy).
    SetTsigKey {
        key: TsigKeyEntry,
    },
    DeleteTsigKey {
        name: Fqdn,
    },
    /// An RFC 2136 UPDATE. Never refused as a whole: the RFC outcome (prerequisite
    /// failure, policy refusal...) is an rcode in `Event::DnsUpdated` and the history;
    /// nothing changes unless the rcode is NOERROR.
    DnsUpdate {
        zone: Fqdn,
        prereqs: Vec<Prereq>,
        updates: Vec<UpdateOp>,
        key: Option<Fqdn>,
        source: String,
        at: u64,
    },
    /// Register an acme-dns account (the password arrives hashed).
    AcmeRegister {
        account: AcmeAccount,
    },
    /// acme-dns `/update`: the account's TXT set becomes its two most recent values,
    /// removed again by `ExpireRecords` once `at + lifetime_ms` has passed.
    AcmeSetTxt {
        username: String,
        txt: Vec<u8>,
        ttl: u32,
        lifetime_ms: u64,
        at: u64,
    },
    /// Remove records with an automatic lifetime whose time is up at `at` (unix ms).
    ExpireRecords {
        at: u64,
    },
    /// Install a new DNS cookie server secret (RFC 7873/9018); the current one becomes
    /// the previous one, still accepted. Generated by the proposer, never by apply.
    SetCookieSecret {
        secret: crate::model::cookie::CookieKey,
        at: u64,
    },
    /// Independent commands that share one log entry (group commit, `raft::group`): each
    /// is applied as if it were its own entry at this index, with its own result. Last in
    /// the enum, so the encoding of every older variant is unchanged.
    Group(Vec<Command>),
    /// A client request with its identity (format 2): applied once however often it is
    /// proposed; a later copy answers the first outcome (`state::session`). `at` is the
    /// proposer's clock (unix ms), `deadline` when the proposer stops retrying.
    WithId {
        id: RequestId,
        at: u64,
        deadline: u64,
        command: Box<Command>,
    },
    /// Raise the data format the cluster writes (format 2), proposed by the leader once
    /// every member reports it understands it. Never lowers it.
    SetClusterVersion {
        version: ClusterVersion,
    },
}

impl Command {
    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::CreateZone { .. } => "create_zone",
            Command::DeleteZone { .. } => "delete_zone",
            Command::UpdateSoa { .. } => "update_soa",
            Command::SetRecordSet { .. } => "set_record_set",
            Command::AddRecords { .. } => "add_records",
            Command::DeleteRecordSet { .. } => "delete_record_set",
            Command::ReplaceZone { .. } => "replace_zone",
            Command::Batch(_) => "batch",
            Command::SetZoneTransfer { .. } => "set_zone_transfer",
            Command::RetireNode { .. } => "retire_node",
            Command::RegisterHost { .. } => "register_host",
            Command::UnregisterHost { .. } => "unregister_host",
            Command::SetHostSecret { .. } => "set_host_secret",
            Command::UpdateHostSettings { .. } => "update_host_settings",
            Command::UpdateAddresses { .. } => "update_addresses",
            Command::RecordRefusedUpdate { .. } => "record_refused_update",
            Command::ExpireHosts { .. } => "expire_hosts",
            Command::CreateUser { .. } => "create_user",
            Command::DeleteUser { .. } => "delete_user",
            Command::AddToken { .. } => "add_token",
            Command::RevokeToken { .. } => "revoke_token",
            Command::SetDomain { .. } => "set_domain",
            Command::DeleteDomain { .. } => "delete_domain",
            Command::SetTsigKey { .. } => "set_tsig_key",
            Command::DeleteTsigKey { .. } => "delete_tsig_key",
            Command::DnsUpdate { .. } => "dns_update",
            Command::AcmeRegister { .. } => "acme_register",
            Command::AcmeSetTxt { .. } => "acme_set_txt",
            Command::ExpireRecords { .. } => "expire_records",
            Command::SetCookieSecret { .. } => "set_cookie_secret",
            Command::Group(_) => "group",
            Command::WithId { command, .. } => command.kind(),
            Command::SetClusterVersion { .. } => "set_cluster_version",
        }
    }
}

/// Which part of apply handles a command. `Command::family` matches every variant without
/// a wildcard, and so does the dispatch in `apply`: a new command compiles only once it has
/// a family, and the batching and grouping rules follow from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Zones, their SOA, record sets, imports, transfer settings (`apply_zone`).
    Zone,
    /// `Batch`: all or nothing.
    Batch,
    /// `Group`: independent commands sharing one log entry.
    Group,
    /// Retired Raft node ids, the cluster's data format.
    Cluster,
    /// `WithId`: a request applied once.
    Request,
    /// The DNS cookie secret.
    Cookie,
    /// Dynamic hosts, users, tokens, domains (`apply_registry`).
    Registry,
    /// TSIG keys and RFC 2136 UPDATE (`apply_rfc2136`).
    Rfc2136,
    /// acme-dns accounts and records with a lifetime (`apply_acme`).
    Acme,
}

impl Command {
    pub fn family(&self) -> Family {
        match self {
            Command::CreateZone { .. }
            | Command::DeleteZone { .. }
            | Command::UpdateSoa { .. }
            | Command::SetRecordSet { .. }
            | Command::AddRecords { .. }
            | Command::DeleteRecordSet { .. }
            | Command::ReplaceZone { .. }
            | Command::SetZoneTransfer { .. } => Family::Zone,
            Command::Batch(_) => Family::Batch,
            Command::Group(_) => Family::Group,
            Command::RetireNode { .. } | Command::SetClusterVersion { .. } => Family::Cluster,
            Command::WithId { .. } => Family::Request,
            Command::SetCookieSecret { .. } => Family::Cookie,
            Command::RegisterHost { .. }
            | Command::UnregisterHost { .. }
            | Command::SetHostSecret { .. }
            | Command::UpdateHostSettings { .. }
            | Command::UpdateAddresses { .. }
            | Command::RecordRefusedUpdate { .. }
            | Command::ExpireHosts { .. }
            | Command::CreateUser { .. }
            | Command::DeleteUser { .. }
            | Command::AddToken { .. }
            | Command::RevokeToken { .. }
            | Command::SetDomain { .. }
            | Command::DeleteDomain { .. } => Family::Registry,
            Command::SetTsigKey { .. } | Command::DeleteTsigKey { .. } | Command::DnsUpdate { .. } => Family::Rfc2136,
            Command::AcmeRegister { .. } | Command::AcmeSetTxt { .. } | Command::ExpireRecords { .. } => Family::Acme,
        }
    }

    /// Whether the command may be part of a `Batch` (membership and nested batches are
    /// refused with their own errors): zone commands, the cookie secret, and of the
    /// registry only address updates.
    pub fn batchable(&self) -> bool {
        match self.family() {
            Family::Zone | Family::Cookie | Family::Batch | Family::Group => true,
            Family::Cluster => matches!(self, Command::RetireNode { .. }),
            Family::Registry => matches!(self, Command::UpdateAddresses { .. }),
            Family::Rfc2136 | Family::Acme | Family::Request => false,
        }
    }

    /// The refusal of a family's apply handed a command of another family (a dispatch bug;
    /// deterministic like every refusal).
    pub(super) fn not_in_family(&self, family: Family) -> ApplyError {
        ApplyError::InvalidData(format!("{} is not a {family:?} command", self.kind()))
    }
}

/// Past-tense facts produced by apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    ZoneCreated {
        origin: Fqdn,
        serial: Serial,
    },
    ZoneDeleted {
        origin: Fqdn,
        last_serial: Serial,
    },
    SoaUpdated {
        zone: Fqdn,
    },
    RecordSetChanged {
        zone: Fqdn,
        name: Fqdn,
        rtype: RType,
        old: Vec<RData>,
        new: Vec<RData>,
        ttl: u32,
    },
    ZoneReplaced {
        zone: Fqdn,
    },
    SerialBumped {
        zone: Fqdn,
        serial: Serial,
    },
    ZoneTransferChanged {
        zone: Fqdn,
    },
    NodeRetired {
        id: u64,
    },
    HostRegistered {
        fqdn: Fqdn,
    },
    HostUnregistered {
        fqdn: Fqdn,
    },
    HostSecretChanged {
        fqdn: Fqdn,
    },
    HostSettingsChanged {
        fqdn: Fqdn,
    },
    /// The outcome of one update attempt (or expiry) for one host.
    HostUpdated {
        fqdn: Fqdn,
        result: UpdateResult,
        ipv4: Option<Ipv4Addr>,
        ipv6: Option<Ipv6Addr>,
    },
    UserCreated {
        name: String,
    },
    UserDeleted {
        name: String,
    },
    TokenAdded {
        user: String,
        id: String,
    },
    TokenRevoked {
        user: String,
        id: String,
    },
    DomainSet {
        name: Fqdn,
    },
    DomainDeleted {
        name: Fqdn,
    },
    TsigKeySet {
        name: Fqdn,
    },
    TsigKeyDeleted {
        name: Fqdn,
    },
    /// The outcome of one RFC 2136 UPDATE (rcode as in the DNS response).
    DnsUpdated {
        zone: Fqdn,
        key: Option<Fqdn>,
        rcode: u16,
    },
    AcmeRegistered {
        username: String,
    },
    RecordsExpired {
        zone: Fqdn,
        name: Fqdn,
        rtype: RType,
    },
    /// The cookie secret was rotated (the secret itself is not in the event).
    CookieSecretRotated {
        at: u64,
    },
    /// The cluster's data format was raised (format 2).
    ClusterVersionSet {
        version: ClusterVersion,
    },
}

/// Why apply refused a command. Refusals change nothing and are deterministic, so every
/// node refuses the same command the same way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApplyError {
    #[error("zone {0} does not exist")]
    NoSuchZone(Fqdn),
    #[error("zone {0} already exists")]
    ZoneExists(Fqdn),
    #[error("zone {new} overlaps existing zone {existing}")]
    ZoneOverlap { new: Fqdn, existing: Fqdn },
    #[error("{name} is not inside zone {zone}")]
    OutOfZone { name: Fqdn, zone: Fqdn },
    #[error("a CNAME cannot coexist with other data at {0}")]
    CnameConflict(Fqdn),
    #[error("the zone apex {0} cannot hold a CNAME")]
    CnameAtApex(Fqdn),
    #[error("the apex NS set of {0} cannot be empty")]
    ApexNsRequired(Fqdn),
    #[error("record data of type {found} given for a {expected} record set")]
    TypeMismatch { expected: RType, found: RType },
    #[error("SOA is managed through the zone, not as a record set")]
    SoaNotARecordSet,
    #[error("{0}")]
    InvalidData(String),
    #[error("nested batches are not allowed")]
    NestedBatch,
    #[error("cluster membership commands cannot be batched")]
    MembershipInBatch,
    #[error("host {0} does not exist")]
    NoSuchHost(Fqdn),
    #[error("host {0} already exists")]
    HostExists(Fqdn),
    #[error("{0} already holds records that are not a dynamic host")]
    NameInUse(Fqdn),
    #[error("domain {0} does not exist")]
    NoSuchDomain(Fqdn),
    #[error("user {user} may not use domain {domain}")]
    DomainNotAllowed { user: String, domain: Fqdn },
    #[error("user {0} does not exist")]
    NoSuchUser(String),
    #[error("user {0} already exists")]
    UserExists(String),
    #[error("token {0} does not exist")]
    NoSuchToken(String),
    #[error("{0} cannot be part of a batch")]
    NotInBatch(String),
    #[error("TSIG key {0} does not exist")]
    NoSuchTsigKey(Fqdn),
    #[error("acme-dns account {0} does not exist")]
    NoSuchAcmeAccount(String),
    /// A request whose deadline is long past the log's clock: its proposer gave up, and
    /// whether it was applied is no longer remembered (format 2). Retry it as a new one.
    #[error("request {0} arrived after its deadline; send it again")]
    RequestExpired(RequestId),
}
