//! The dyndns2 dialect and its relatives (nanodnsd/Fritz!Box `/api/update`, DNS Dynamo
//! `/u/{token}`): request parsing, the update flow on the shared write path, and the
//! return codes whose `Display` is the wire string. docs/dyndns.md is the contract.

use std::fmt;
use std::net::IpAddr;

pub mod address;
pub mod config;
pub mod credential;
pub mod expiry;
pub mod request;
pub mod update;

pub use credential::CredentialCache;
pub use update::{Dyndns, Outcome};

/// More hostnames than this in one request answer `numhost`.
pub const MAX_HOSTNAMES: usize = 20;

/// One result line of a dyndns2 answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReturnCode {
    /// The update was committed and applied here; the host's addresses now.
    Good(Vec<IpAddr>),
    /// Nothing changed; the host's addresses.
    NoChg(Vec<IpAddr>),
    BadAuth,
    NotFqdn,
    NoHost,
    NumHost,
    /// Host flagged abusive (by an admin, or by the fault threshold): clients stop.
    Abuse,
    /// Address changes faster than the rate policy allows: retry after this many
    /// seconds. On the wire `911` (HTTP 503 + Retry-After), which clients retry.
    RateLimited(u64),
    /// Malformed request (an unparsable address, a missing User-Agent when required).
    BadAgent,
    /// The server could not apply the update (not a transient cluster problem).
    DnsErr,
    BadSys,
    /// The cluster could not commit in time: retry later.
    ServerError,
}

fn ips(f: &mut fmt::Formatter<'_>, word: &str, ips: &[IpAddr]) -> fmt::Result {
    f.write_str(word)?;
    for (i, ip) in ips.iter().enumerate() {
        f.write_str(if i == 0 { " " } else { "," })?;
        write!(f, "{ip}")?;
    }
    Ok(())
}

impl fmt::Display for ReturnCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReturnCode::Good(a) => ips(f, "good", a),
            ReturnCode::NoChg(a) => ips(f, "nochg", a),
            ReturnCode::BadAuth => f.write_str("badauth"),
            ReturnCode::NotFqdn => f.write_str("notfqdn"),
            ReturnCode::NoHost => f.write_str("nohost"),
            ReturnCode::NumHost => f.write_str("numhost"),
            ReturnCode::Abuse => f.write_str("abuse"),
            ReturnCode::RateLimited(_) => f.write_str("911"),
            ReturnCode::BadAgent => f.write_str("badagent"),
            ReturnCode::DnsErr => f.write_str("dnserr"),
            ReturnCode::BadSys => f.write_str("badsys"),
            ReturnCode::ServerError => f.write_str("911"),
        }
    }
}

impl ReturnCode {
    /// The metric label: the code without addresses.
    pub fn label(&self) -> &'static str {
        match self {
            ReturnCode::Good(_) => "good",
            ReturnCode::NoChg(_) => "nochg",
            ReturnCode::BadAuth => "badauth",
            ReturnCode::NotFqdn => "notfqdn",
            ReturnCode::NoHost => "nohost",
            ReturnCode::NumHost => "numhost",
            ReturnCode::Abuse => "abuse",
            ReturnCode::RateLimited(_) => "ratelimited",
            ReturnCode::BadAgent => "badagent",
            ReturnCode::DnsErr => "dnserr",
            ReturnCode::BadSys => "badsys",
            ReturnCode::ServerError => "911",
        }
    }

    /// The DNS Dynamo code for the same outcome (seed 004: every code is HTTP 200).
    pub fn dynamo(&self) -> &'static str {
        match self {
            ReturnCode::Good(_) => "UP,OK",
            ReturnCode::NoChg(_) => "NC",
            // "Calls to the API are too frequent ... This condition is temporary."
            ReturnCode::RateLimited(_) => "TF",
            // "There is no record of your token": a wrong secret says no more than that.
            ReturnCode::BadAuth | ReturnCode::NoHost => "NR",
            ReturnCode::BadAgent => "IN",
            _ => "ER",
        }
    }

    /// Seconds to wait before retrying, for codes that mean "later".
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ReturnCode::RateLimited(secs) => Some(*secs),
            _ => None,
        }
    }
}

/// The endpoint family an update came through (metrics, history, answer format).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/nic/update`, `/v3/update`, `/update`.
    Dyndns2,
    /// `/nic/delete`.
    Delete,
    /// `/api/update` (nanodnsd, Fritz!Box).
    Nanodnsd,
    /// `/u/{token}` (DNS Dynamo).
    Dynamo,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Dyndns2 => "nic_update",
            Endpoint::Delete => "nic_delete",
            Endpoint::Nanodnsd => "api_update",
            Endpoint::Dynamo => "token_path",
        }
    }
}

#[cfg(test)]
mod tests;
