//! EDNS(0) options of the response (RFC 6891): COOKIE (RFC 7873/9018), NSID
//! (RFC 5001) and EXPIRE (RFC 7314, added by `answer` and `xfr` for a zone's SOA and
//! transfers). Unknown options and unknown flags in the query are ignored and never
//! echoed (RFC 6891 6.1.4, RFC 8906 8.2); only the DO bit is copied back (RFC 3225).

use std::net::IpAddr;
use std::sync::Arc;

use super::cookie::{CookieKeys, CookieStatus, OPTION_COOKIE};
use super::wire::Parsed;

pub const OPTION_NSID: u16 = 3;
/// RFC 7314: the query asks for the zone's expire timer.
pub const OPTION_EXPIRE: u16 = 9;
/// Longest NSID we send (config validation enforces it).
pub const MAX_NSID_LEN: usize = 128;
/// Extended RCODE BADCOOKIE (RFC 7873 8).
pub const BADCOOKIE: u16 = 23;

/// This node's EDNS behaviour, shared by every transport.
#[derive(Default)]
pub struct EdnsPolicy {
    /// RFC 5001 name server identifier, sent when a query asks for it.
    pub nsid: Option<Vec<u8>>,
    /// Cookie secrets (the cluster's); `None` disables cookies entirely.
    pub cookies: Option<Arc<CookieKeys>>,
    /// Answer UDP queries that carry a client cookie but no valid server cookie with
    /// BADCOOKIE and a fresh cookie (RFC 7873 5.2.3 option 2) instead of answering.
    pub require_cookies: bool,
}

impl std::fmt::Debug for EdnsPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EdnsPolicy(nsid: {:?}, cookies: {}, require: {})",
            self.nsid.as_ref().map(|n| String::from_utf8_lossy(n)),
            self.cookies.is_some(),
            self.require_cookies
        )
    }
}

/// Options to add to the response's OPT record, in a fixed buffer (no allocation).
pub struct OptBuf {
    buf: [u8; 4 + MAX_NSID_LEN + 4 + 24],
    len: usize,
}

impl Default for OptBuf {
    fn default() -> Self {
        OptBuf { buf: [0; 4 + MAX_NSID_LEN + 4 + 24], len: 0 }
    }
}

impl OptBuf {
    pub fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn push(&mut self, code: u16, parts: &[&[u8]]) {
        let data_len: usize = parts.iter().map(|p| p.len()).sum();
        let end = self.len + 4 + data_len;
        if end > self.buf.len() {
            return;
        }
        self.buf[self.len..self.len + 2].copy_from_slice(&code.to_be_bytes());
        self.buf[self.len + 2..self.len + 4].copy_from_slice(&(data_len as u16).to_be_bytes());
        let mut at = self.len + 4;
        for p in parts {
            self.buf[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        self.len = end;
    }
}

/// What the query's options mean for the answer.
pub struct EdnsReply {
    pub options: OptBuf,
    pub cookie: CookieStatus,
    /// An rcode that replaces normal processing (FORMERR for a malformed cookie,
    /// BADCOOKIE when cookies are required).
    pub forced: Option<u16>,
    /// The query carried an EXPIRE option (RFC 7314).
    pub want_expire: bool,
}

/// Whether the query's OPT carries an EXPIRE option.
pub fn wants_expire(parsed: &Parsed<'_>) -> bool {
    let Some(edns) = parsed.edns else { return false };
    let mut opts = edns.options;
    while opts.len() >= 4 {
        let code = u16::from_be_bytes([opts[0], opts[1]]);
        let len = u16::from_be_bytes([opts[2], opts[3]]) as usize;
        if code == OPTION_EXPIRE {
            return true;
        }
        opts = opts.get(4 + len..).unwrap_or_default();
    }
    false
}

/// Reads the query's options and prepares the response options.
pub fn prepare(
    parsed: &Parsed<'_>,
    policy: Option<&EdnsPolicy>,
    client: Option<IpAddr>,
    udp: bool,
    now: u32,
) -> EdnsReply {
    let mut reply =
        EdnsReply { options: OptBuf::default(), cookie: CookieStatus::Absent, forced: None, want_expire: false };
    let Some(edns) = parsed.edns else { return reply };
    reply.want_expire = wants_expire(parsed);
    let Some(policy) = policy else { return reply };
    let mut opts = edns.options;
    let mut want_nsid = false;
    let mut cookie_data: Option<&[u8]> = None;
    while opts.len() >= 4 {
        let code = u16::from_be_bytes([opts[0], opts[1]]);
        let len = u16::from_be_bytes([opts[2], opts[3]]) as usize;
        let Some(data) = opts.get(4..4 + len) else { break };
        match code {
            OPTION_NSID => want_nsid = true,
            // RFC 7873 5.2: with several COOKIE options, the first one counts.
            OPTION_COOKIE if cookie_data.is_none() => cookie_data = Some(data),
            _ => {}
        }
        opts = &opts[4 + len..];
    }
    if let (Some(data), Some(keys)) = (cookie_data, &policy.cookies) {
        reply.cookie = keys.check(data, client, now);
        match reply.cookie {
            CookieStatus::Malformed => reply.forced = Some(crate::model::rcode::FORMERR),
            CookieStatus::ClientOnly { client: c } | CookieStatus::Valid { client: c } => {
                if let Some(server) = client.and_then(|ip| keys.mint(&c, ip, now)) {
                    reply.options.push(OPTION_COOKIE, &[&c, &server]);
                    if udp && policy.require_cookies && !reply.cookie.is_valid() {
                        reply.forced = Some(BADCOOKIE);
                    }
                }
            }
            CookieStatus::Absent => {}
        }
    }
    if want_nsid {
        if let Some(nsid) = &policy.nsid {
            reply.options.push(OPTION_NSID, &[&nsid[..nsid.len().min(MAX_NSID_LEN)]]);
        }
    }
    reply
}
