//! Apply for the dynamic DNS registry: hosts, users, tokens, domains, history.
//! Deterministic like the rest of apply: times arrive in the command.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::command::{ApplyError, Command, Event, Family};
use super::machine::{check_record, State, Tracker};
use super::registry::{
    AddrChange, Domain, HistoryEntry, Host, HostPatch, Origin, Registry, UpdatePolicy, UpdateResult, ADMIN_OWNER,
};
use crate::model::{Fqdn, RData, RType, Serial};

/// Default TTL of host records.
pub(super) const DEFAULT_HOST_TTL: u32 = 60;

impl Registry {
    pub(super) fn record(&mut self, host: &Fqdn, entry: HistoryEntry, limit: u32) {
        if !self.hosts.contains_key(host) || limit == 0 {
            return;
        }
        let h = self.history.entry(host.clone()).or_default();
        h.push_back(entry);
        while h.len() > limit as usize {
            h.pop_front();
        }
    }

    pub(super) fn remove_hosts_in(&mut self, zone: &Fqdn) {
        let gone: Vec<Fqdn> = self.hosts.values().filter(|h| &h.zone == zone).map(|h| h.fqdn.clone()).collect();
        for f in gone {
            self.hosts.remove(&f);
            self.history.remove(&f);
        }
    }

    /// The domain a host directly below `parent` belongs to: a registered domain, or the
    /// zone apex itself (an implicit public domain).
    pub fn domain(&self, parent: &Fqdn, zone_apex: Option<&Fqdn>) -> Option<Domain> {
        self.domains.get(parent).cloned().or_else(|| zone_apex.filter(|z| *z == parent).map(Domain::implicit))
    }
}

impl State {
    pub(super) fn apply_registry(&mut self, command: &Command, t: &mut Tracker) -> Result<(), ApplyError> {
        match command {
            Command::RegisterHost { fqdn, owner, secret_hash, wildcard, comment, ttl, expire, at } => {
                let host = self.new_host(fqdn, owner, secret_hash, *wildcard, comment, *ttl, *expire, *at)?;
                self.registry.hosts.insert(fqdn.clone(), host);
                self.sync_host_records(fqdn, t)?;
                t.events.push(Event::HostRegistered { fqdn: fqdn.clone() });
                Ok(())
            }
            Command::UnregisterHost { fqdn } => {
                let host = self.host(fqdn)?.clone();
                for name in host_names(&host) {
                    for rtype in [RType::A, RType::Aaaa] {
                        self.set_rrset(&host.zone, &name, rtype, 0, Vec::new(), t)?;
                    }
                }
                self.registry.hosts.remove(fqdn);
                self.registry.history.remove(fqdn);
                t.events.push(Event::HostUnregistered { fqdn: fqdn.clone() });
                Ok(())
            }
            Command::SetHostSecret { fqdn, secret_hash } => {
                self.host(fqdn)?;
                if let Some(h) = self.registry.hosts.get_mut(fqdn) {
                    h.secret_hash = secret_hash.clone();
                }
                t.events.push(Event::HostSecretChanged { fqdn: fqdn.clone() });
                Ok(())
            }
            Command::UpdateHostSettings { fqdn, patch } => self.patch_host(fqdn, patch, t),
            Command::UpdateAddresses { fqdn, v4, v6, origin, policy } => {
                self.update_addresses(fqdn, *v4, *v6, origin, *policy, t)
            }
            Command::RecordRefusedUpdate { fqdn, result, origin, history_limit } => {
                let Some(h) = self.registry.hosts.get_mut(fqdn) else {
                    return Ok(());
                };
                h.client_faults += 1;
                let (addrs, zone) = ((h.ipv4, h.ipv6), h.zone.clone());
                record_outcome(t, fqdn, zone, origin, addrs, addrs, *result, *history_limit);
                Ok(())
            }
            Command::ExpireHosts { at, history_limit } => {
                let due: Vec<Fqdn> =
                    self.registry.hosts.values().filter(|h| h.is_expired_at(*at)).map(|h| h.fqdn.clone()).collect();
                for fqdn in due {
                    let origin = Origin { at: *at, endpoint: "expiry".into(), ..Origin::default() };
                    self.set_addresses(&fqdn, None, None, t)?;
                    if let Some(h) = self.registry.hosts.get(&fqdn) {
                        let old = (h.ipv4, h.ipv6);
                        let entry = history(&origin, old, (None, None), UpdateResult::Expired, t.index);
                        t.history.push((fqdn.clone(), h.zone.clone(), entry, *history_limit));
                    }
                    if let Some(h) = self.registry.hosts.get_mut(&fqdn) {
                        h.ipv4 = None;
                        h.ipv6 = None;
                    }
                    t.events.push(Event::HostUpdated { fqdn, result: UpdateResult::Expired, ipv4: None, ipv6: None });
                }
                Ok(())
            }
            Command::CreateUser { name, comment, domains, at } => {
                if self.registry.users.contains_key(name) {
                    return Err(ApplyError::UserExists(name.clone()));
                }
                if !valid_user_name(name) {
                    return Err(ApplyError::InvalidData(format!("user name {name:?}: 1-64 of a-z 0-9 - _")));
                }
                let user = super::User {
                    name: name.clone(),
                    comment: comment.clone(),
                    domains: domains.clone(),
                    tokens: Default::default(),
                    created: *at,
                };
                self.registry.users.insert(name.clone(), user);
                t.events.push(Event::UserCreated { name: name.clone() });
                Ok(())
            }
            Command::DeleteUser { name } => {
                let user = self.registry.users.remove(name).ok_or_else(|| ApplyError::NoSuchUser(name.clone()))?;
                for id in user.tokens.keys() {
                    self.registry.tokens.remove(id);
                }
                for h in self.registry.hosts.values_mut().filter(|h| &h.owner == name) {
                    h.owner = ADMIN_OWNER.into();
                }
                t.events.push(Event::UserDeleted { name: name.clone() });
                Ok(())
            }
            Command::AddToken { user, token } => {
                if self.registry.tokens.contains_key(&token.id) {
                    return Err(ApplyError::InvalidData(format!("token id {} is taken", token.id)));
                }
                let u = self.registry.users.get_mut(user).ok_or_else(|| ApplyError::NoSuchUser(user.clone()))?;
                u.tokens.insert(token.id.clone(), token.clone());
                self.registry.tokens.insert(token.id.clone(), user.clone());
                t.events.push(Event::TokenAdded { user: user.clone(), id: token.id.clone() });
                Ok(())
            }
            Command::RevokeToken { user, id } => {
                let u = self.registry.users.get_mut(user).ok_or_else(|| ApplyError::NoSuchUser(user.clone()))?;
                u.tokens.remove(id).ok_or_else(|| ApplyError::NoSuchToken(id.clone()))?;
                self.registry.tokens.remove(id);
                t.events.push(Event::TokenRevoked { user: user.clone(), id: id.clone() });
                Ok(())
            }
            Command::SetDomain { domain } => {
                if self.zone_for(&domain.name).is_none() {
                    return Err(ApplyError::InvalidData(format!(
                        "domain {} is in no zone of this service",
                        domain.name
                    )));
                }
                if domain.name.is_wildcard() || domain.min_ttl > domain.max_ttl {
                    return Err(ApplyError::InvalidData("a domain is not a wildcard and min_ttl <= max_ttl".into()));
                }
                self.registry.domains.insert(domain.name.clone(), domain.clone());
                t.events.push(Event::DomainSet { name: domain.name.clone() });
                Ok(())
            }
            Command::DeleteDomain { name } => {
                self.registry.domains.remove(name).ok_or_else(|| ApplyError::NoSuchDomain(name.clone()))?;
                t.events.push(Event::DomainDeleted { name: name.clone() });
                Ok(())
            }
            other => Err(other.not_in_family(Family::Registry)),
        }
    }

    fn host(&self, fqdn: &Fqdn) -> Result<&Host, ApplyError> {
        self.registry.hosts.get(fqdn).ok_or_else(|| ApplyError::NoSuchHost(fqdn.clone()))
    }

    #[allow(clippy::too_many_arguments)]
    fn new_host(
        &self,
        fqdn: &Fqdn,
        owner: &str,
        secret_hash: &str,
        wildcard: bool,
        comment: &str,
        ttl: Option<u32>,
        expire: Option<u32>,
        at: u64,
    ) -> Result<Host, ApplyError> {
        if self.registry.hosts.contains_key(fqdn) {
            return Err(ApplyError::HostExists(fqdn.clone()));
        }
        if fqdn.is_wildcard() || fqdn.labels().any(|l| l.contains('_')) {
            return Err(ApplyError::InvalidData(format!("{fqdn} is not a host name (letters, digits, '-')")));
        }
        let zone = self.zone_for(fqdn).ok_or_else(|| ApplyError::NoSuchDomain(fqdn.clone()))?;
        let parent =
            fqdn.parent().filter(|_| fqdn != &zone.origin).ok_or_else(|| ApplyError::NoSuchDomain(fqdn.clone()))?;
        let domain = self
            .registry
            .domain(&parent, Some(&zone.origin))
            .ok_or_else(|| ApplyError::NoSuchDomain(parent.clone()))?;
        if owner != ADMIN_OWNER {
            let user = self.registry.users.get(owner).ok_or_else(|| ApplyError::NoSuchUser(owner.into()))?;
            if !domain.usable_by(Some(user)) {
                return Err(ApplyError::DomainNotAllowed { user: owner.into(), domain: domain.name.clone() });
            }
        }
        if zone.nodes.contains_key(fqdn) || zone.nodes.contains_key(&fqdn.wildcard_child()) {
            return Err(ApplyError::NameInUse(fqdn.clone()));
        }
        Ok(Host {
            fqdn: fqdn.clone(),
            zone: zone.origin.clone(),
            domain: parent,
            owner: owner.into(),
            secret_hash: secret_hash.into(),
            wildcard,
            ttl: domain.clamp_ttl(ttl.unwrap_or(DEFAULT_HOST_TTL)),
            comment: comment.into(),
            expire: expire.filter(|e| *e > 0),
            created: at,
            ..Host::default()
        })
    }

    fn patch_host(&mut self, fqdn: &Fqdn, p: &HostPatch, t: &mut Tracker) -> Result<(), ApplyError> {
        let host = self.host(fqdn)?;
        let zone_apex = host.zone.clone();
        let domain =
            self.registry.domain(&host.domain, Some(&zone_apex)).unwrap_or_else(|| Domain::implicit(&zone_apex));
        if let Some(owner) = &p.owner {
            if owner != ADMIN_OWNER && !self.registry.users.contains_key(owner) {
                return Err(ApplyError::NoSuchUser(owner.clone()));
            }
        }
        let old = host.clone();
        let mut h = old.clone();
        if let Some(c) = &p.comment {
            h.comment = c.clone();
        }
        h.wildcard = p.wildcard.unwrap_or(h.wildcard);
        h.ttl = p.ttl.map(|ttl| domain.clamp_ttl(ttl)).unwrap_or(h.ttl);
        h.expire = p.expire.map(|e| e.filter(|e| *e > 0)).unwrap_or(h.expire);
        h.abuse = p.abuse.unwrap_or(h.abuse);
        h.abuse_blocked = p.abuse_blocked.unwrap_or(h.abuse_blocked);
        h.owner = p.owner.clone().unwrap_or(h.owner);
        if h == old {
            return Ok(());
        }
        // Remove the wildcard's records first when it is switched off.
        if old.wildcard && !h.wildcard {
            for rtype in [RType::A, RType::Aaaa] {
                self.set_rrset(&old.zone, &old.fqdn.wildcard_child(), rtype, 0, Vec::new(), t)?;
            }
        }
        self.registry.hosts.insert(fqdn.clone(), h);
        self.sync_host_records(fqdn, t)?;
        t.events.push(Event::HostSettingsChanged { fqdn: fqdn.clone() });
        Ok(())
    }

    fn update_addresses(
        &mut self,
        fqdn: &Fqdn,
        v4: AddrChange<Ipv4Addr>,
        v6: AddrChange<Ipv6Addr>,
        origin: &Origin,
        policy: UpdatePolicy,
        t: &mut Tracker,
    ) -> Result<(), ApplyError> {
        let Some(host) = self.registry.hosts.get(fqdn) else {
            t.events.push(Event::HostUpdated {
                fqdn: fqdn.clone(),
                result: UpdateResult::NoHost,
                ipv4: None,
                ipv6: None,
            });
            return Ok(());
        };
        let old = (host.ipv4, host.ipv6);
        let new = (resolve(v4, old.0), resolve(v6, old.1));
        let changed = new != old;
        let refusal = if host.abuse || host.abuse_blocked {
            Some(UpdateResult::Abuse)
        } else if changed && policy.too_soon(host.last_change, origin.at) {
            Some(UpdateResult::RateLimited)
        } else {
            None
        };
        let zone = host.zone.clone();
        if let Some(result) = refusal {
            if let Some(h) = self.registry.hosts.get_mut(fqdn) {
                h.client_faults += 1;
            }
            record_outcome(t, fqdn, zone, origin, old, old, result, policy.history_limit);
            return Ok(());
        }
        self.set_addresses(fqdn, new.0, new.1, t)?;
        if let Some(h) = self.registry.hosts.get_mut(fqdn) {
            (h.ipv4, h.ipv6) = new;
            if !matches!(v4, AddrChange::Keep) {
                h.last_update_ipv4 = Some(origin.at);
                h.source_ipv4 = Some(origin.source.clone());
            }
            if !matches!(v6, AddrChange::Keep) {
                h.last_update_ipv6 = Some(origin.at);
                h.source_ipv6 = Some(origin.source.clone());
            }
            h.last_seen = Some(origin.at);
            if changed {
                h.last_change = Some(origin.at);
            }
        }
        let result = if changed { UpdateResult::Good } else { UpdateResult::NoChange };
        record_outcome(t, fqdn, zone, origin, old, new, result, policy.history_limit);
        Ok(())
    }

    /// Writes the host's record sets for the given addresses (checked first, so either all
    /// sets change or none). The host itself is updated by the caller.
    fn set_addresses(
        &mut self,
        fqdn: &Fqdn,
        v4: Option<Ipv4Addr>,
        v6: Option<Ipv6Addr>,
        t: &mut Tracker,
    ) -> Result<(), ApplyError> {
        let host = self.host(fqdn)?.clone();
        let a: Vec<RData> = v4.into_iter().map(RData::A).collect();
        let aaaa: Vec<RData> = v6.into_iter().map(RData::Aaaa).collect();
        let zone = self.zones.get(&host.zone).ok_or_else(|| ApplyError::NoSuchZone(host.zone.clone()))?;
        for name in host_names(&host) {
            check_record(zone, &name, RType::A, &a)?;
            check_record(zone, &name, RType::Aaaa, &aaaa)?;
        }
        for name in host_names(&host) {
            self.set_rrset(&host.zone, &name, RType::A, host.ttl, a.clone(), t)?;
            self.set_rrset(&host.zone, &name, RType::Aaaa, host.ttl, aaaa.clone(), t)?;
        }
        Ok(())
    }

    fn sync_host_records(&mut self, fqdn: &Fqdn, t: &mut Tracker) -> Result<(), ApplyError> {
        let (v4, v6) = self.host(fqdn).map(|h| (h.ipv4, h.ipv6))?;
        self.set_addresses(fqdn, v4, v6, t)
    }
}

/// The owner names a host's addresses live at: the host, and `*.host` when wildcard.
fn host_names(h: &Host) -> Vec<Fqdn> {
    let mut names = vec![h.fqdn.clone()];
    if h.wildcard {
        names.push(h.fqdn.wildcard_child());
    }
    names
}

fn resolve<T: Copy>(change: AddrChange<T>, old: Option<T>) -> Option<T> {
    match change {
        AddrChange::Keep => old,
        AddrChange::Set(ip) => Some(ip),
        AddrChange::Remove => None,
    }
}

type Addrs = (Option<Ipv4Addr>, Option<Ipv6Addr>);

/// The outcome of one update attempt for `fqdn`: a history entry and a `HostUpdated`
/// event carrying the addresses the host has afterwards.
#[allow(clippy::too_many_arguments)]
fn record_outcome(
    t: &mut Tracker,
    fqdn: &Fqdn,
    zone: Fqdn,
    origin: &Origin,
    old: Addrs,
    new: Addrs,
    result: UpdateResult,
    history_limit: u32,
) {
    t.history.push((fqdn.clone(), zone, history(origin, old, new, result, t.index), history_limit));
    t.events.push(Event::HostUpdated { fqdn: fqdn.clone(), result, ipv4: new.0, ipv6: new.1 });
}

fn history(origin: &Origin, old: Addrs, new: Addrs, result: UpdateResult, index: u64) -> HistoryEntry {
    HistoryEntry {
        at: origin.at,
        endpoint: origin.endpoint.clone(),
        source: origin.source.clone(),
        agent: origin.agent.clone(),
        old_ipv4: old.0,
        old_ipv6: old.1,
        new_ipv4: new.0,
        new_ipv6: new.1,
        result,
        index,
        serial: Serial(0),
    }
}

pub(super) fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name != ADMIN_OWNER
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}
