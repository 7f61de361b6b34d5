//! The format-1 examples: values the first release (0228f28) can express, built only from
//! types it already had. Their encodings are that release's bytes (checked against a build
//! of 0228f28 when these fixtures were written), so never change an example here: a
//! different value means a different fixture, and the old fixture is what proves that
//! data written by the first release still reads.
//!
//! Everything is fixed (names, addresses, times), nothing comes from a clock or `Default`
//! of a type that could change.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use openraft::{CommittedLeaderId, EntryPayload, Membership};
use quorumdns::model::cookie::{CookieKey, CookieSecrets};
use quorumdns::model::{Fqdn, RData, RType, RecordSet, RecordSpec, Serial, SoaParams, Zone, ZoneTransfer};
use quorumdns::raft::types::{Entry, LogId, NodeInfo, Request, Response, StoredMembership};
use quorumdns::state::journal::{DiffRr, Journal, JournalEntry};
use quorumdns::state::rfc2136::{
    AcmeAccount, NameMatch, PolicyRule, Prereq, Rfc2136State, TsigKeyEntry, UpdateHistoryEntry, UpdateOp,
};
use quorumdns::state::{
    AddrChange, Applied, ApplyError, Command, Domain, Event, HistoryEntry, Host, HostPatch, Origin, Registry, State,
    Token, UpdatePolicy, UpdateResult, User,
};

/// Unix ms of the examples' "now".
pub(crate) const AT: u64 = 1_700_000_000_000;

pub(crate) fn name(s: &str) -> Fqdn {
    Fqdn::parse(s).expect("example names are valid")
}

pub(crate) fn zone() -> Fqdn {
    name("example.test")
}

fn host() -> Fqdn {
    name("home.dyn.example.test")
}

fn v4(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, last)
}

fn v6(last: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last)
}

pub(crate) fn soa() -> SoaParams {
    SoaParams {
        mname: name("ns1.example.test"),
        rname: name("hostmaster.example.test"),
        refresh: 3600,
        retry: 600,
        expire: 1_209_600,
        minimum: 60,
        ttl: 3600,
    }
}

/// One record of every `RData` variant.
pub(crate) fn every_rdata() -> Vec<RData> {
    vec![
        RData::A(v4(1)),
        RData::Aaaa(v6(1)),
        RData::Ns(name("ns1.example.test")),
        RData::Cname(name("www.example.test")),
        RData::Ptr(name("ptr.example.test")),
        RData::Mx { preference: 10, exchange: name("mail.example.test") },
        RData::Txt(vec![b"v=spf1 -all".to_vec(), b"second".to_vec()]),
        RData::Srv { priority: 1, weight: 2, port: 5060, target: name("sip.example.test") },
        RData::caa(0, "issue".into(), b"letsencrypt.org".to_vec().into_boxed_slice()),
    ]
}

fn origin() -> Origin {
    Origin { at: AT, endpoint: "/nic/update".into(), source: "198.51.100.7".into(), agent: "ddclient/3.11".into() }
}

fn token() -> Token {
    Token {
        id: "tok1".into(),
        hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        comment: "ci".into(),
        created: AT,
    }
}

fn domain() -> Domain {
    Domain {
        name: name("dyn.example.test"),
        public: false,
        owner: "alice".into(),
        comment: "home routers".into(),
        min_ttl: 30,
        max_ttl: 3600,
    }
}

fn tsig_key() -> TsigKeyEntry {
    TsigKeyEntry {
        name: name("update-key"),
        algorithm: "hmac-sha256".into(),
        secret: (0u8..32).collect(),
        policy: vec![
            PolicyRule { kind: NameMatch::Exact, name: "www.example.test".into(), types: vec![RType::A, RType::Aaaa] },
            PolicyRule { kind: NameMatch::Subdomain, name: "dyn.example.test".into(), types: vec![] },
            PolicyRule {
                kind: NameMatch::Pattern,
                name: "_acme-challenge.*.example.test".into(),
                types: vec![RType::Txt],
            },
        ],
        comment: "certbot".into(),
        created: AT,
    }
}

fn acme_account() -> AcmeAccount {
    AcmeAccount {
        username: "0b7a3c52-7f1e-4d3e-9c41-1d5e3b6a2f90".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$cGFzcw".into(),
        subdomain: "d420c923-bbd7-4056-ab64-c3ca54c9b3cf".into(),
        fulldomain: name("d420c923-bbd7-4056-ab64-c3ca54c9b3cf.acme.example.test"),
        zone: zone(),
        created: AT,
        values_in_order: vec![b"first-token-value".to_vec(), b"second-token-value".to_vec()],
    }
}

fn set_a(ttl: u32) -> Command {
    Command::SetRecordSet {
        zone: zone(),
        name: name("www.example.test"),
        rtype: RType::A,
        ttl,
        data: vec![RData::A(v4(1))],
    }
}

/// One example of every format-1 `Command` variant, in declaration order.
pub(crate) fn commands() -> Vec<Command> {
    vec![
        Command::CreateZone {
            origin: zone(),
            soa: soa(),
            ns: vec![name("ns1.example.test"), name("ns2.example.test")],
            ns_ttl: 3600,
            serial: Some(Serial(2024010101)),
        },
        Command::DeleteZone { origin: zone() },
        Command::UpdateSoa { zone: zone(), soa: soa() },
        set_a(300),
        Command::AddRecords {
            zone: zone(),
            name: name("mx.example.test"),
            rtype: RType::Mx,
            ttl: 600,
            data: vec![every_rdata()[5].clone()],
        },
        Command::DeleteRecordSet { zone: zone(), name: name("old.example.test"), rtype: RType::Txt },
        Command::ReplaceZone {
            zone: zone(),
            soa: soa(),
            serial: None,
            records: every_rdata()
                .into_iter()
                .map(|data| RecordSpec { name: name("all.example.test"), ttl: 120, data })
                .collect(),
        },
        Command::Batch(vec![
            set_a(60),
            Command::DeleteRecordSet { zone: zone(), name: name("www.example.test"), rtype: RType::Aaaa },
        ]),
        Command::SetZoneTransfer {
            zone: zone(),
            transfer: ZoneTransfer {
                allow_transfer: vec!["192.0.2.0/24".parse().unwrap(), "2001:db8::/32".parse().unwrap()],
                transfer_tsig: vec![name("xfr-key")],
                notify: vec![SocketAddr::new(v4(53).into(), 53), SocketAddr::new(v6(53).into(), 5353)],
                journal_versions: Some(100),
            },
        },
        Command::RetireNode { id: 3 },
        Command::RegisterHost {
            fqdn: host(),
            owner: "alice".into(),
            secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$c2VjcmV0".into(),
            wildcard: true,
            comment: "router".into(),
            ttl: Some(60),
            expire: None,
            at: AT,
        },
        Command::UnregisterHost { fqdn: host() },
        Command::SetHostSecret { fqdn: host(), secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$bmV3".into() },
        Command::UpdateHostSettings {
            fqdn: host(),
            patch: HostPatch {
                comment: Some("moved".into()),
                wildcard: Some(false),
                ttl: None,
                expire: Some(None),
                abuse: Some(false),
                abuse_blocked: None,
                owner: Some("bob".into()),
            },
        },
        Command::UpdateAddresses {
            fqdn: host(),
            v4: AddrChange::Set(v4(7)),
            v6: AddrChange::Remove,
            origin: origin(),
            policy: UpdatePolicy { min_change_interval_ms: 5000, history_limit: 20 },
        },
        Command::RecordRefusedUpdate {
            fqdn: host(),
            result: UpdateResult::BadAuth,
            origin: origin(),
            history_limit: 20,
        },
        Command::ExpireHosts { at: AT, history_limit: 20 },
        Command::CreateUser {
            name: "alice".into(),
            comment: "admin of dyn".into(),
            domains: vec![name("dyn.example.test")],
            at: AT,
        },
        Command::DeleteUser { name: "bob".into() },
        Command::AddToken { user: "alice".into(), token: token() },
        Command::RevokeToken { user: "alice".into(), id: "tok1".into() },
        Command::SetDomain { domain: domain() },
        Command::DeleteDomain { name: name("dyn.example.test") },
        Command::SetTsigKey { key: tsig_key() },
        Command::DeleteTsigKey { name: name("update-key") },
        Command::DnsUpdate {
            zone: zone(),
            prereqs: vec![
                Prereq::NameInUse(name("www.example.test")),
                Prereq::NameNotInUse(name("new.example.test")),
                Prereq::RrsetExists(name("www.example.test"), 1),
                Prereq::RrsetNotExists(name("www.example.test"), 28),
                Prereq::RrsetEquals(name("www.example.test"), RType::A, vec![RData::A(v4(1))]),
            ],
            updates: vec![
                UpdateOp::Add { name: name("new.example.test"), ttl: 300, data: RData::Aaaa(v6(9)) },
                UpdateOp::DeleteRrset { name: name("www.example.test"), rtype: RType::Txt },
                UpdateOp::DeleteName { name: name("gone.example.test") },
                UpdateOp::DeleteRr { name: name("www.example.test"), data: RData::A(v4(1)) },
            ],
            key: Some(name("update-key")),
            source: "198.51.100.7".into(),
            at: AT,
        },
        Command::AcmeRegister { account: acme_account() },
        Command::AcmeSetTxt {
            username: "0b7a3c52-7f1e-4d3e-9c41-1d5e3b6a2f90".into(),
            txt: b"third-token-value".to_vec(),
            ttl: 60,
            lifetime_ms: 3_600_000,
            at: AT,
        },
        Command::ExpireRecords { at: AT },
        Command::SetCookieSecret { secret: CookieKey([0xab; 16]), at: AT },
        Command::Group(vec![
            Command::UpdateAddresses {
                fqdn: host(),
                v4: AddrChange::Keep,
                v6: AddrChange::Set(v6(7)),
                origin: origin(),
                policy: UpdatePolicy { min_change_interval_ms: 0, history_limit: 20 },
            },
            set_a(120),
        ]),
    ]
}

/// One example of every format-1 `Event` variant, in declaration order.
pub(crate) fn events() -> Vec<Event> {
    vec![
        Event::ZoneCreated { origin: zone(), serial: Serial(1) },
        Event::ZoneDeleted { origin: zone(), last_serial: Serial(4_294_967_295) },
        Event::SoaUpdated { zone: zone() },
        Event::RecordSetChanged {
            zone: zone(),
            name: name("www.example.test"),
            rtype: RType::A,
            old: vec![RData::A(v4(1))],
            new: vec![RData::A(v4(2)), RData::A(v4(3))],
            ttl: 300,
        },
        Event::ZoneReplaced { zone: zone() },
        Event::SerialBumped { zone: zone(), serial: Serial(2024010102) },
        Event::ZoneTransferChanged { zone: zone() },
        Event::NodeRetired { id: 3 },
        Event::HostRegistered { fqdn: host() },
        Event::HostUnregistered { fqdn: host() },
        Event::HostSecretChanged { fqdn: host() },
        Event::HostSettingsChanged { fqdn: host() },
        Event::HostUpdated { fqdn: host(), result: UpdateResult::Good, ipv4: Some(v4(7)), ipv6: None },
        Event::UserCreated { name: "alice".into() },
        Event::UserDeleted { name: "bob".into() },
        Event::TokenAdded { user: "alice".into(), id: "tok1".into() },
        Event::TokenRevoked { user: "alice".into(), id: "tok1".into() },
        Event::DomainSet { name: name("dyn.example.test") },
        Event::DomainDeleted { name: name("dyn.example.test") },
        Event::TsigKeySet { name: name("update-key") },
        Event::TsigKeyDeleted { name: name("update-key") },
        Event::DnsUpdated { zone: zone(), key: Some(name("update-key")), rcode: 8 },
        Event::AcmeRegistered { username: "0b7a3c52-7f1e-4d3e-9c41-1d5e3b6a2f90".into() },
        Event::RecordsExpired { zone: zone(), name: name("_acme-challenge.example.test"), rtype: RType::Txt },
        Event::CookieSecretRotated { at: AT },
    ]
}

/// One example of every format-1 `ApplyError` variant, in declaration order.
pub(crate) fn apply_errors() -> Vec<ApplyError> {
    let www = || name("www.example.test");
    vec![
        ApplyError::NoSuchZone(zone()),
        ApplyError::ZoneExists(zone()),
        ApplyError::ZoneOverlap { new: name("sub.example.test"), existing: zone() },
        ApplyError::OutOfZone { name: name("www.other.test"), zone: zone() },
        ApplyError::CnameConflict(www()),
        ApplyError::CnameAtApex(zone()),
        ApplyError::ApexNsRequired(zone()),
        ApplyError::TypeMismatch { expected: RType::A, found: RType::Aaaa },
        ApplyError::SoaNotARecordSet,
        ApplyError::InvalidData("a TXT character-string is at most 255 octets".into()),
        ApplyError::NestedBatch,
        ApplyError::MembershipInBatch,
        ApplyError::NoSuchHost(host()),
        ApplyError::HostExists(host()),
        ApplyError::NameInUse(www()),
        ApplyError::NoSuchDomain(name("dyn.example.test")),
        ApplyError::DomainNotAllowed { user: "bob".into(), domain: name("dyn.example.test") },
        ApplyError::NoSuchUser("carol".into()),
        ApplyError::UserExists("alice".into()),
        ApplyError::NoSuchToken("tok9".into()),
        ApplyError::NotInBatch("create_user".into()),
        ApplyError::NoSuchTsigKey(name("update-key")),
        ApplyError::NoSuchAcmeAccount("nobody".into()),
    ]
}

fn example_zone() -> Zone {
    let mut z = Zone::new(zone(), soa(), Serial(2024010102));
    for data in every_rdata() {
        let owner = if data.rtype() == RType::Ns { zone() } else { name("all.example.test") };
        let node = z.nodes.entry(owner).or_default();
        node.insert(data.rtype(), RecordSet::new(300, vec![data]));
    }
    z.nodes.entry(host()).or_default().insert(RType::A, RecordSet::new(60, vec![RData::A(v4(7))]));
    z
}

fn journal() -> Journal {
    let entry = JournalEntry {
        from: Serial(2024010101),
        from_soa: soa(),
        to: Serial(2024010102),
        to_soa: soa(),
        removed: vec![DiffRr { name: host(), ttl: 60, data: RData::A(v4(6)) }],
        added: vec![DiffRr { name: host(), ttl: 60, data: RData::A(v4(7)) }],
    };
    Journal { entries: VecDeque::from([Arc::new(entry)]), rr_count: 2 }
}

fn registry() -> Registry {
    let h = Host {
        fqdn: host(),
        zone: zone(),
        domain: name("dyn.example.test"),
        owner: "alice".into(),
        secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$c2VjcmV0".into(),
        wildcard: false,
        ttl: 60,
        comment: "router".into(),
        client_faults: 2,
        server_faults: 0,
        abuse: false,
        abuse_blocked: false,
        ipv4: Some(v4(7)),
        ipv6: None,
        last_update_ipv4: Some(AT),
        last_update_ipv6: None,
        source_ipv4: Some("198.51.100.7".into()),
        source_ipv6: None,
        last_change: Some(AT),
        last_seen: Some(AT),
        expire: Some(86_400),
        created: AT - 60_000,
    };
    let user = User {
        name: "alice".into(),
        comment: "admin of dyn".into(),
        domains: vec![name("dyn.example.test")],
        tokens: BTreeMap::from([("tok1".into(), token())]),
        created: AT - 120_000,
    };
    let history = HistoryEntry {
        at: AT,
        endpoint: "/nic/update".into(),
        source: "198.51.100.7".into(),
        agent: "ddclient/3.11".into(),
        old_ipv4: Some(v4(6)),
        old_ipv6: None,
        new_ipv4: Some(v4(7)),
        new_ipv6: None,
        result: UpdateResult::Good,
        index: 41,
        serial: Serial(2024010102),
    };
    let refused = HistoryEntry { result: UpdateResult::RateLimited, index: 42, ..history.clone() };
    Registry {
        hosts: BTreeMap::from([(host(), h)]),
        users: BTreeMap::from([("alice".into(), user)]),
        tokens: BTreeMap::from([("tok1".into(), "alice".into())]),
        domains: BTreeMap::from([(name("dyn.example.test"), domain())]),
        history: BTreeMap::from([(host(), VecDeque::from([history, refused]))]),
    }
}

fn rfc2136() -> Rfc2136State {
    let account = acme_account();
    Rfc2136State {
        keys: BTreeMap::from([(name("update-key"), tsig_key())]),
        keys_version: 3,
        history: VecDeque::from([UpdateHistoryEntry {
            index: 40,
            at: AT,
            zone: zone(),
            key: Some(name("update-key")),
            source: "198.51.100.7".into(),
            rcode: 0,
            changes: vec!["add new.example.test. 300 AAAA 2001:db8::9".into()],
            changed: true,
        }]),
        expiring: BTreeMap::from([((zone(), account.fulldomain.clone(), RType::Txt), AT + 3_600_000)]),
        acme_accounts: BTreeMap::from([(account.username.clone(), account)]),
    }
}

/// A state with something in every part format 1 has: zones, a retired serial, transfer
/// settings, a journal, retired nodes, a host with history, a user with a token, a domain,
/// a TSIG key, UPDATE history, an expiring record, an acme-dns account, cookie secrets.
pub(crate) fn state() -> State {
    State {
        zones: BTreeMap::from([(zone(), example_zone())]),
        retired_serials: BTreeMap::from([(name("gone.test"), Serial(7))]),
        transfer: BTreeMap::from([(
            zone(),
            ZoneTransfer {
                allow_transfer: vec!["192.0.2.0/24".parse().unwrap()],
                transfer_tsig: vec![name("xfr-key")],
                notify: vec![SocketAddr::new(v4(53).into(), 53)],
                journal_versions: None,
            },
        )]),
        journals: BTreeMap::from([(zone(), journal())]),
        retired_nodes: BTreeSet::from([3, 5]),
        registry: registry(),
        rfc2136: rfc2136(),
        cookie_secrets: CookieSecrets { current: Some([0xab; 16]), previous: Some([0xcd; 16]), set_at: AT },
        ..State::default()
    }
}

/// A log entry's payload.
pub(crate) fn request() -> Request {
    Request { command: set_a(300) }
}

/// What the state machine answers for an entry: a group of two with one refusal.
pub(crate) fn response() -> Response {
    let applied = Applied {
        events: vec![
            Event::RecordSetChanged {
                zone: zone(),
                name: name("www.example.test"),
                rtype: RType::A,
                old: vec![],
                new: vec![RData::A(v4(1))],
                ttl: 300,
            },
            Event::SerialBumped { zone: zone(), serial: Serial(2024010103) },
        ],
        serials: vec![(zone(), Serial(2024010103))],
    };
    Response { index: 42, result: Ok(applied.clone()), group: vec![Ok(applied), Err(ApplyError::NoSuchHost(host()))] }
}

pub(crate) fn log_id(term: u64, node: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, node), index)
}

fn membership() -> Membership<u64, NodeInfo> {
    let node = |i: u64| NodeInfo {
        raft_addr: format!("10.0.0.{i}:7000"),
        http_addr: format!("10.0.0.{i}:8080"),
        dns_addr: format!("10.0.0.{i}:53"),
    };
    Membership::new(
        vec![BTreeSet::from([1, 2, 3])],
        BTreeMap::from([(1, node(1)), (2, node(2)), (3, node(3)), (4, node(4))]),
    )
}

/// Raft log entries as the log store writes them: (fixture name, entry).
pub(crate) fn entries() -> Vec<(&'static str, Entry)> {
    vec![
        ("entry_normal", Entry { log_id: log_id(2, 1, 42), payload: EntryPayload::Normal(request()) }),
        ("entry_blank", Entry { log_id: log_id(3, 2, 43), payload: EntryPayload::Blank }),
        ("entry_membership", Entry { log_id: log_id(3, 2, 44), payload: EntryPayload::Membership(membership()) }),
    ]
}

/// The snapshot the state machine writes: (state, last applied, membership).
pub(crate) fn snapshot() -> (State, Option<LogId>, StoredMembership) {
    (state(), Some(log_id(3, 2, 45)), StoredMembership::new(Some(log_id(3, 2, 44)), membership()))
}
