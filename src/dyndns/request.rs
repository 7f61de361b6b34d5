//! Parsing of update requests: query string and form body merged into one parameter
//! list, then read into what the update flow needs. Nothing here touches state.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::address::{refused_by, AddressRule};
use super::{ReturnCode, MAX_HOSTNAMES};
use crate::model::Fqdn;
use crate::state::AddrChange;

/// Parameters in request order (query first, then the form body). Keys are compared
/// case-insensitively; the first occurrence wins.
#[derive(Debug, Default, Clone)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>, body: &[u8]) -> Params {
        let mut v: Vec<(String, String)> = Vec::new();
        for part in [query.unwrap_or("").as_bytes(), body] {
            v.extend(form_urlencoded_pairs(part));
        }
        Params(v)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

fn form_urlencoded_pairs(input: &[u8]) -> Vec<(String, String)> {
    // serde_urlencoded is what axum uses; go through it for identical decoding.
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(input).unwrap_or_default()
}

/// Why a request cannot be acted on at all: one answer for the whole request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    NumHost,
    BadSys,
    BadIp(String),
    /// An address the policy refuses (`[dyndns] refuse_addresses`); the rule's label.
    Refused(IpAddr, &'static str),
}

impl RequestError {
    pub fn code(&self) -> ReturnCode {
        match self {
            RequestError::NumHost => ReturnCode::NumHost,
            RequestError::BadSys => ReturnCode::BadSys,
            RequestError::BadIp(_) | RequestError::Refused(..) => ReturnCode::BadAgent,
        }
    }
}

/// Hostnames as given: each either a valid host name or the raw text (answered `notfqdn`).
pub type Hostnames = Vec<Result<Fqdn, String>>;

/// The `hostname` list (comma separated). `None` when absent or empty.
pub fn hostnames(p: &Params) -> Result<Option<Hostnames>, RequestError> {
    let Some(raw) = p.get("hostname").filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let names: Vec<&str> = raw.split(',').map(str::trim).collect();
    if names.len() > MAX_HOSTNAMES {
        return Err(RequestError::NumHost);
    }
    Ok(Some(names.into_iter().map(|n| host_name(n).ok_or_else(|| n.to_string())).collect()))
}

/// A host name: LDH labels only (no `_`, no `*`, no `-` at either end), at least two
/// labels.
pub fn host_name(raw: &str) -> Option<Fqdn> {
    let f = Fqdn::parse(raw).ok()?;
    let ldh = f
        .labels()
        .all(|l| l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !l.starts_with('-') && !l.ends_with('-'));
    (ldh && f.label_count() >= 2).then_some(f)
}

/// `system=`: dyndns2 knows `dyndns`, `statdns` and `custom`; all behave the same here.
pub fn check_system(p: &Params) -> Result<(), RequestError> {
    match p.get("system").map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("dyndns") | Some("statdns") | Some("custom") => Ok(()),
        Some(_) => Err(RequestError::BadSys),
    }
}

/// The addresses named by a request, first per family.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Addresses {
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<Ipv6Addr>,
}

impl Addresses {
    pub fn is_empty(&self) -> bool {
        self.v4.is_none() && self.v6.is_none()
    }

    pub fn from_ip(ip: IpAddr) -> Addresses {
        match ip {
            IpAddr::V4(v4) => Addresses { v4: Some(v4), v6: None },
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Addresses { v4: Some(v4), v6: None },
                None => Addresses { v4: None, v6: Some(v6) },
            },
        }
    }

    /// Families named are set, the others kept.
    pub fn set_or_keep(self) -> (AddrChange<Ipv4Addr>, AddrChange<Ipv6Addr>) {
        (self.v4.map_or(AddrChange::Keep, AddrChange::Set), self.v6.map_or(AddrChange::Keep, AddrChange::Set))
    }

    /// Families named are set, the others removed (nanodnsd).
    pub fn set_or_remove(self) -> (AddrChange<Ipv4Addr>, AddrChange<Ipv6Addr>) {
        (self.v4.map_or(AddrChange::Remove, AddrChange::Set), self.v6.map_or(AddrChange::Remove, AddrChange::Set))
    }
}

/// One address as clients send it: `/len` suffixes stripped, brackets around IPv6 too.
pub fn parse_ip(raw: &str) -> Option<IpAddr> {
    let s = raw.trim();
    let s = s.split_once('/').map_or(s, |(ip, _)| ip);
    let s = s.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(s);
    s.parse().ok()
}

/// Reads every address parameter in `keys` (comma separated lists; empty values are
/// "not given", as Fritz!Box sends `ipv6=` when it has none).
pub fn addresses(p: &Params, keys: &[&str]) -> Result<Addresses, RequestError> {
    let mut out = Addresses::default();
    for (k, v) in &p.0 {
        if !keys.iter().any(|key| k.eq_ignore_ascii_case(key)) {
            continue;
        }
        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match parse_ip(item).map(Addresses::from_ip) {
                Some(a) => {
                    out.v4 = out.v4.or(a.v4);
                    out.v6 = out.v6.or(a.v6);
                }
                None => return Err(RequestError::BadIp(item.to_string())),
            }
        }
    }
    Ok(out)
}

/// Checks every address of `a` against the policy (`[dyndns] refuse_addresses`).
pub fn check_policy(a: &Addresses, rules: &[AddressRule]) -> Result<(), RequestError> {
    let ips = a.v4.map(IpAddr::V4).into_iter().chain(a.v6.map(IpAddr::V6));
    for ip in ips {
        if let Some(rule) = refused_by(rules, ip) {
            return Err(RequestError::Refused(ip, rule.label()));
        }
    }
    Ok(())
}

/// The dyndns2 address parameters and their aliases.
pub const DYNDNS2_IP_KEYS: &[&str] = &["myip", "myipv4", "myipv6", "ipv4", "ipv6", "ip"];

/// `offline=YES` (any case) asks to remove the addresses.
pub fn offline(p: &Params) -> bool {
    p.get("offline").is_some_and(|v| v.eq_ignore_ascii_case("yes"))
}

/// Credentials as sent: Basic auth or a Bearer token, else `username`/`password` in the
/// query or form, else a bare `token`/`password`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `None` (or `-`, which Fritz!Box users type into a field the server ignores) means
    /// the secret alone must identify the principal (with the hostname).
    pub user: Option<String>,
    pub secret: String,
    /// `Authorization: Bearer <token>`: the admin token or a user token (the EGI
    /// `IPv4_update_url_bearer_auth` form), never a host secret.
    pub bearer: bool,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("secret", &"<redacted>")
            .field("bearer", &self.bearer)
            .finish()
    }
}

impl Credentials {
    /// The name this credential claims, for the brute-force throttle (which counts
    /// failures per client address *and* name): the user (a host name or an account),
    /// else the first host name asked for, else the id of a token. Never the secret.
    pub fn claimed_name(&self, hostnames: Option<&Hostnames>) -> String {
        if let Some(u) = &self.user {
            return u.to_ascii_lowercase();
        }
        let token_id = || self.secret.split_once('.').map(|(id, _)| format!("token:{id}"));
        if self.bearer {
            return token_id().unwrap_or_else(|| "bearer".into());
        }
        let first = hostnames.and_then(|h| h.first()).map(|h| match h {
            Ok(f) => f.as_str().to_string(),
            Err(raw) => raw.to_ascii_lowercase(),
        });
        first.or_else(token_id).unwrap_or_default()
    }
}

pub fn basic_auth(header: Option<&str>) -> Option<Credentials> {
    use base64::Engine;
    let v = header?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, secret) = text.split_once(':')?;
    Some(Credentials { user: user_field(user), secret: secret.to_string(), bearer: false })
}

fn bearer_auth(header: Option<&str>) -> Option<Credentials> {
    let (scheme, token) = header?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| Credentials {
        user: None,
        secret: token.to_string(),
        bearer: true,
    })
}

fn user_field(u: &str) -> Option<String> {
    let u = u.trim();
    (!u.is_empty() && u != "-").then(|| u.to_string())
}

pub fn credentials(auth_header: Option<&str>, p: &Params) -> Option<Credentials> {
    if let Some(c) = basic_auth(auth_header).filter(|c| !c.secret.is_empty()) {
        return Some(c);
    }
    if let Some(c) = bearer_auth(auth_header) {
        return Some(c);
    }
    let secret = p.get("password").or_else(|| p.get("pass")).or_else(|| p.get("token")).filter(|s| !s.is_empty())?;
    let user = p.get("username").or_else(|| p.get("user")).and_then(user_field);
    Some(Credentials { user, secret: secret.to_string(), bearer: false })
}
