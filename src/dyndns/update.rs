//! The update flow shared by every update endpoint: authenticate against this node's
//! replica, authorize each host, propose one command for all hosts, answer per host once
//! this node applied it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::Instrument;

use super::credential::CredentialCache;
use super::request::{Credentials, Hostnames};
use super::{Endpoint, ReturnCode};
use crate::dyndns::config::DyndnsConfig;
use crate::model::Fqdn;
use crate::service::{Service, SubmitError};
use crate::state::{AddrChange, Command, Event, Origin, UpdatePolicy, UpdateResult};

/// Who a credential proved to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Admin,
    /// A host's own update secret: may update that host only.
    Host(Fqdn),
    /// A user token: the user's hosts.
    User(String),
}

/// The dyndns front end of one node: the write service, policy and the credential cache.
pub struct Dyndns {
    pub svc: Arc<Service>,
    pub config: DyndnsConfig,
    pub cache: CredentialCache,
    /// When a refusal was last proposed per host (the anti-flood limit).
    refusals: Mutex<HashMap<Fqdn, Instant>>,
}

pub struct UpdateRequest {
    pub endpoint: Endpoint,
    pub hostnames: Option<Hostnames>,
    pub v4: AddrChange<Ipv4Addr>,
    pub v6: AddrChange<Ipv6Addr>,
    pub creds: Option<Credentials>,
    pub source: IpAddr,
    /// Whether the request arrived over TLS (directly, or through a trusted proxy that
    /// said so): recorded in the origin, shown as `tls_update_ipv4/ipv6`.
    pub tls: bool,
    pub agent: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// One code per hostname, in request order.
    Lines(Vec<ReturnCode>),
    /// No credentials at all: 401.
    Unauthorized,
    /// The cluster could not commit in time: 503 + Retry-After + `911`.
    Unavailable,
}

/// A credential this node could neither confirm nor refuse: it is behind and could not
/// catch up (no quorum, not a member yet). Answered with `911`, never `badauth`.
#[derive(Debug)]
struct Unverified;

/// A user token is `<id>.<secret>`; the id finds the hash without a scan.
pub fn split_token(token: &str) -> Option<(&str, &str)> {
    token.split_once('.').filter(|(id, s)| !id.is_empty() && !s.is_empty())
}

impl Dyndns {
    pub fn new(svc: Arc<Service>, config: DyndnsConfig) -> Arc<Self> {
        let cache = CredentialCache::new(config.credential_cache);
        Arc::new(Dyndns { svc, config, cache, refusals: Mutex::new(HashMap::new()) })
    }

    /// The policy that travels in `UpdateAddresses`. The rate limit is decided here, on
    /// the proposing node, from the replicated history ([`rate_limited`]), so the floor
    /// that apply enforces is off: apply's own check knows one timestamp only, and
    /// changing what apply decides for the same command bytes would make nodes of two
    /// releases disagree during a rolling upgrade.
    pub fn policy(&self) -> UpdatePolicy {
        UpdatePolicy { min_change_interval_ms: 0, history_limit: self.config.history_per_host }
    }

    /// Verifies a host secret against this node's replica.
    pub async fn verify_host(&self, fqdn: &Fqdn, secret: &str) -> bool {
        let hash = self.svc.read(|s| s.registry.hosts.get(fqdn).map(|h| h.secret_hash.clone()));
        match hash {
            Some(h) => self.cache.verify(fqdn.as_str(), secret, &h).await,
            None => false,
        }
    }

    /// Verifies a user token (`<id>.<secret>`); returns the user.
    pub async fn verify_user_token(&self, token: &str) -> Option<String> {
        let (id, secret) = split_token(token)?;
        let found = self.svc.read(|s| {
            let user = s.registry.tokens.get(id)?;
            let t = s.registry.users.get(user)?.tokens.get(id)?;
            Some((user.clone(), t.hash.clone()))
        });
        let (user, hash) = found?;
        self.cache.verify(&format!("token:{id}"), secret, &hash).await.then_some(user)
    }

    /// A bearer token of the management API: the admin token or a user token.
    pub async fn verify_bearer(&self, token: &str) -> Option<Principal> {
        if self.svc.is_admin_token(token.as_bytes()) {
            return Some(Principal::Admin);
        }
        self.verify_user_token(token).await.map(Principal::User)
    }

    /// Basic/query credentials of an update: `host fqdn + secret`, `user + token`, or a
    /// bare secret with the (single) hostname naming the host; or a Bearer token.
    async fn authenticate(&self, c: &Credentials, first_host: Option<&Fqdn>) -> Option<Principal> {
        if c.bearer {
            return self.verify_bearer(&c.secret).await;
        }
        match &c.user {
            Some(u) if u.contains('.') => {
                let fqdn = super::request::host_name(u)?;
                self.verify_host(&fqdn, &c.secret).await.then_some(Principal::Host(fqdn))
            }
            Some(u) => {
                let user = self.verify_user_token(&c.secret).await?;
                (&user == u).then_some(Principal::User(user))
            }
            None => {
                if let Some(f) = first_host {
                    if self.verify_host(f, &c.secret).await {
                        return Some(Principal::Host(f.clone()));
                    }
                }
                self.verify_user_token(&c.secret).await.map(Principal::User)
            }
        }
    }

    /// [`Self::authenticate`], and when it fails, once more after a linearizable read
    /// barrier: a node that is behind (a new member catching up, a follower back from a
    /// partition, a node not yet added) may not know yet a host, user or secret the
    /// cluster already committed, and `badauth` is final for real clients (ddclient
    /// stops; the per-address throttle counts it). So a failure is only `Ok(None)` once
    /// this node is known to be current; if the barrier cannot complete (no quorum, not a
    /// member yet), the answer is `Err(Unverified)`: the client gets `911` and retries.
    async fn authenticate_confirmed(
        &self,
        c: &Credentials,
        first_host: Option<&Fqdn>,
    ) -> Result<Option<Principal>, Unverified> {
        if let Some(p) = self.authenticate(c, first_host).await {
            return Ok(Some(p));
        }
        let before = self.svc.applied_index();
        match self.svc.linearize().await {
            Ok(index) if index > before => {
                crate::metrics::AUTH_RECHECKS_TOTAL.with_label_values(&["caught_up"]).inc();
                Ok(self.authenticate(c, first_host).await)
            }
            Ok(_) => {
                crate::metrics::AUTH_RECHECKS_TOTAL.with_label_values(&["current"]).inc();
                Ok(None)
            }
            Err(e) => {
                crate::metrics::AUTH_RECHECKS_TOTAL.with_label_values(&["unavailable"]).inc();
                tracing::debug!(error = %e, "credential recheck: read barrier failed; answering 911");
                Err(Unverified)
            }
        }
    }

    /// The host a failed credential was aimed at, if it exists.
    fn target_of_failure(&self, c: &Credentials, first_host: Option<&Fqdn>) -> Option<Fqdn> {
        if c.bearer {
            return None;
        }
        let target = match &c.user {
            Some(u) if u.contains('.') => super::request::host_name(u),
            Some(_) => None,
            None => first_host.cloned(),
        }?;
        self.svc.read(|s| s.registry.hosts.contains_key(&target)).then_some(target)
    }

    /// Proposes a refusal record for `fqdn` unless one was proposed recently. Errors are
    /// ignored: the client's answer does not depend on the record.
    async fn record_refusal(&self, fqdn: &Fqdn, result: UpdateResult, origin: Origin) {
        let window = Duration::from_secs(self.config.refusal_record_interval_secs);
        {
            let mut map = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if map.get(fqdn).is_some_and(|t| now.duration_since(*t) < window) {
                return;
            }
            if map.len() > 100_000 {
                map.retain(|_, t| now.duration_since(*t) < window);
            }
            map.insert(fqdn.clone(), now);
        }
        let cmd = Command::RecordRefusedUpdate {
            fqdn: fqdn.clone(),
            result,
            origin,
            history_limit: self.config.history_per_host,
        };
        if let Err(e) = self.svc.submit(cmd).await {
            tracing::debug!(host = %fqdn, error = %e, "refusal not recorded");
        }
    }

    fn mark_refused(&self, fqdn: &Fqdn) {
        self.refusals.lock().unwrap_or_else(|e| e.into_inner()).insert(fqdn.clone(), Instant::now());
    }

    fn recently_refused(&self, fqdn: &Fqdn) -> bool {
        let window = Duration::from_secs(self.config.refusal_record_interval_secs);
        let map = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
        map.get(fqdn).is_some_and(|t| t.elapsed() < window)
    }

    pub async fn update(&self, req: UpdateRequest) -> Outcome {
        let span =
            tracing::info_span!("dyndns_update", endpoint = req.endpoint.as_str(), log_index = tracing::field::Empty);
        self.update_inner(req).instrument(span).await
    }

    async fn update_inner(&self, req: UpdateRequest) -> Outcome {
        let origin = Origin {
            at: crate::clock::unix_ms(),
            endpoint: req.endpoint.as_str().into(),
            source: super::address::source_text(req.source, req.tls),
            agent: req.agent.chars().take(200).collect(),
        };
        let Some(creds) = &req.creds else {
            return Outcome::Unauthorized;
        };
        let first = req.hostnames.as_ref().and_then(|h| h.first()).and_then(|h| h.as_ref().ok()).cloned();
        let confirmed = match self.authenticate_confirmed(creds, first.as_ref()).await {
            Ok(p) => p,
            Err(Unverified) => return Outcome::Unavailable,
        };
        let Some(principal) = confirmed else {
            let kind = if creds.bearer { "update_bearer" } else { "update_secret" };
            crate::metrics::AUTH_FAILURES_TOTAL.with_label_values(&[kind]).inc();
            if let Some(target) = self.target_of_failure(creds, first.as_ref()) {
                self.record_refusal(&target, UpdateResult::BadAuth, origin).await;
            }
            return Outcome::Lines(vec![ReturnCode::BadAuth]);
        };
        let hostnames: Hostnames = match (req.hostnames, &principal) {
            (Some(h), _) => h,
            (None, Principal::Host(f)) => vec![Ok(f.clone())],
            (None, _) => return Outcome::Lines(vec![ReturnCode::NotFqdn]),
        };
        // Decide per line what to do: answer now, or propose.
        let mut lines: Vec<Option<ReturnCode>> = Vec::with_capacity(hostnames.len());
        let mut proposals: Vec<Fqdn> = Vec::new();
        let policy = self.policy();
        for h in &hostnames {
            let Ok(fqdn) = h else {
                lines.push(Some(ReturnCode::NotFqdn));
                continue;
            };
            match self.precheck(&principal, fqdn, req.v4, req.v6, origin.at) {
                Precheck::Answer(code) => lines.push(Some(code)),
                Precheck::RateLimited(retry_after) => {
                    tracing::info!(host = %fqdn, retry_after, "address change refused by the rate policy");
                    self.record_refusal(fqdn, UpdateResult::RateLimited, origin.clone()).await;
                    lines.push(Some(ReturnCode::RateLimited(retry_after)));
                }
                Precheck::Propose => {
                    if !proposals.contains(fqdn) {
                        proposals.push(fqdn.clone());
                    }
                    lines.push(None);
                }
            }
        }
        if proposals.is_empty() {
            return Outcome::Lines(lines.into_iter().map(|l| l.unwrap_or(ReturnCode::DnsErr)).collect());
        }
        let mut cmds: Vec<Command> = proposals
            .iter()
            .map(|fqdn| Command::UpdateAddresses {
                fqdn: fqdn.clone(),
                v4: req.v4,
                v6: req.v6,
                origin: origin.clone(),
                policy,
            })
            .collect();
        let cmd = if cmds.len() == 1 { cmds.remove(0) } else { Command::Batch(cmds) };
        let results: HashMap<Fqdn, ReturnCode> = match self.svc.submit(cmd).await {
            Ok(c) => {
                tracing::Span::current().record("log_index", c.index);
                let fallback = self.config.min_update_interval_secs.max(1);
                let results: HashMap<Fqdn, ReturnCode> =
                    c.applied.events.iter().filter_map(|e| event_code(e, fallback)).collect();
                for (fqdn, code) in &results {
                    if *code == ReturnCode::Abuse {
                        self.mark_refused(fqdn);
                    }
                }
                results
            }
            // Raft stopped or no quorum: the client should retry (possibly elsewhere).
            Err(SubmitError::Unavailable(reason) | SubmitError::Internal(reason)) => {
                tracing::warn!(%reason, "update not committed in time");
                return Outcome::Unavailable;
            }
            Err(e) => {
                tracing::error!(error = %e, "update refused by the state machine");
                HashMap::new()
            }
        };
        let out = hostnames
            .iter()
            .zip(lines)
            .map(|(h, line)| match (line, h) {
                (Some(code), _) => code,
                (None, Ok(fqdn)) => results.get(fqdn).cloned().unwrap_or(ReturnCode::DnsErr),
                (None, Err(_)) => ReturnCode::NotFqdn,
            })
            .collect();
        Outcome::Lines(out)
    }

    /// What this node's replica already tells about one host line.
    fn precheck(
        &self,
        principal: &Principal,
        fqdn: &Fqdn,
        v4: AddrChange<Ipv4Addr>,
        v6: AddrChange<Ipv6Addr>,
        at: u64,
    ) -> Precheck {
        let fresh_ms = self.config.min_update_interval_secs.saturating_mul(1000);
        let (window_ms, burst) = (self.config.rate_window_ms(), self.config.update_burst);
        let view = self.svc.read(|s| {
            s.registry.hosts.get(fqdn).map(|h| {
                let allowed = match principal {
                    Principal::Admin => true,
                    Principal::Host(f) => f == fqdn,
                    Principal::User(u) => &h.owner == u,
                };
                let new4 = match v4 {
                    AddrChange::Keep => h.ipv4,
                    AddrChange::Set(ip) => Some(ip),
                    AddrChange::Remove => None,
                };
                let new6 = match v6 {
                    AddrChange::Keep => h.ipv6,
                    AddrChange::Set(ip) => Some(ip),
                    AddrChange::Remove => None,
                };
                let changed = (new4, new6) != (h.ipv4, h.ipv6);
                let blocked = h.abuse || h.abuse_blocked;
                let changes = s.registry.history.get(fqdn).into_iter().flatten();
                let limited =
                    if changed { rate_limited(changes.map(|e| (e.result, e.at)), at, window_ms, burst) } else { None };
                let fresh = h.last_seen.is_some_and(|l| at < l.saturating_add(fresh_ms));
                (allowed, changed, blocked, limited, fresh, addrs(h.ipv4, h.ipv6))
            })
        });
        match view {
            None | Some((false, ..)) => Precheck::Answer(ReturnCode::NoHost),
            // Flagged, and a refusal was recorded moments ago: do not write again.
            Some((_, _, true, ..)) if self.recently_refused(fqdn) => Precheck::Answer(ReturnCode::Abuse),
            // Flagged: apply refuses it and records the attempt.
            Some((_, _, true, ..)) => Precheck::Propose,
            Some((_, _, _, Some(retry_after), ..)) => Precheck::RateLimited(retry_after),
            // Unchanged and refreshed within the interval: nothing to write.
            Some((_, false, _, _, true, a)) => Precheck::Answer(ReturnCode::NoChg(a)),
            Some(_) => Precheck::Propose,
        }
    }
}

/// The rate policy: a change is refused while the host already made `burst` changes
/// within the sliding window of `window_ms` before `at` (0: no limit). The changes are
/// the `good` entries of its replicated history, `(result, time)` pairs, so every node
/// decides alike. The answer is the seconds until a change leaves the window.
pub fn rate_limited(
    history: impl Iterator<Item = (UpdateResult, u64)>,
    at: u64,
    window_ms: u64,
    burst: u32,
) -> Option<u64> {
    if window_ms == 0 {
        return None;
    }
    let mut times: Vec<u64> =
        history.filter(|(r, t)| *r == UpdateResult::Good && t.saturating_add(window_ms) > at).map(|(_, t)| t).collect();
    let burst = usize::try_from(burst).unwrap_or(usize::MAX);
    if times.len() < burst {
        return None;
    }
    times.sort_unstable();
    // The change whose leaving makes room: with n >= burst in the window, the
    // (n - burst)-th oldest.
    let frees = times[times.len() - burst].saturating_add(window_ms).saturating_sub(at);
    Some(frees.div_ceil(1000).max(1))
}

enum Precheck {
    Answer(ReturnCode),
    /// Refused by the rate policy: retry after this many seconds.
    RateLimited(u64),
    Propose,
}

fn addrs(v4: Option<Ipv4Addr>, v6: Option<Ipv6Addr>) -> Vec<IpAddr> {
    v4.map(IpAddr::V4).into_iter().chain(v6.map(IpAddr::V6)).collect()
}

/// The answer for one host from what apply said. `RateLimited` from apply only comes
/// from a proposer that set apply's own floor (a node of an older release).
fn event_code(e: &Event, rate_fallback_secs: u64) -> Option<(Fqdn, ReturnCode)> {
    let Event::HostUpdated { fqdn, result, ipv4, ipv6 } = e else {
        return None;
    };
    let code = match result {
        UpdateResult::Good => ReturnCode::Good(addrs(*ipv4, *ipv6)),
        UpdateResult::NoChange => ReturnCode::NoChg(addrs(*ipv4, *ipv6)),
        UpdateResult::RateLimited => ReturnCode::RateLimited(rate_fallback_secs),
        UpdateResult::Abuse => ReturnCode::Abuse,
        UpdateResult::NoHost => ReturnCode::NoHost,
        UpdateResult::BadAuth => ReturnCode::BadAuth,
        UpdateResult::Expired => ReturnCode::DnsErr,
    };
    Some((fqdn.clone(), code))
}
