//! DNS cookies (RFC 7873) with interoperable server cookies (RFC 9018).
//!
//! Server cookie = version (1) | reserved (3 × 0) | timestamp (u32, unix seconds) |
//! hash (8 octets), hash = SipHash-2-4(key = cluster secret, client cookie | version |
//! reserved | timestamp | client IP). The secret is replicated through Raft
//! ([`crate::model::cookie::CookieSecrets`]), so every node of the cluster mints and
//! accepts the same cookies; the previous secret stays valid after a rotation.

use std::hash::Hasher;
use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use siphasher::sip::SipHasher24;

use crate::model::cookie::CookieSecrets;
use crate::state::{State, StateObserver};

/// EDNS option code of COOKIE.
pub const OPTION_COOKIE: u16 = 10;
pub const CLIENT_COOKIE_LEN: usize = 8;
pub const SERVER_COOKIE_LEN: usize = 16;
/// A server cookie older than this (or this far in the future) is not valid (RFC 9018 4.3).
pub const MAX_AGE_SECS: u32 = 3600;
pub const MAX_FUTURE_SECS: u32 = 300;

/// What the COOKIE option of a query says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieStatus {
    /// No COOKIE option.
    Absent,
    /// A wrong-sized option (RFC 7873 5.2.2): FORMERR.
    Malformed,
    /// A client cookie alone (5.2.3), or with a server cookie we cannot validate (5.2.4).
    ClientOnly { client: [u8; 8] },
    /// A server cookie we minted (with the current or previous secret) for this client.
    Valid { client: [u8; 8] },
}

impl CookieStatus {
    pub fn client(&self) -> Option<[u8; 8]> {
        match *self {
            CookieStatus::ClientOnly { client } | CookieStatus::Valid { client } => Some(client),
            _ => None,
        }
    }
    pub fn is_valid(&self) -> bool {
        matches!(self, CookieStatus::Valid { .. })
    }
}

/// The secrets as the DNS path sees them: swapped in by [`CookieObserver`].
#[derive(Default)]
pub struct CookieKeys {
    keys: ArcSwap<CookieSecrets>,
}

impl CookieKeys {
    pub fn new(secrets: CookieSecrets) -> Self {
        CookieKeys { keys: ArcSwap::from_pointee(secrets) }
    }

    pub fn set(&self, secrets: CookieSecrets) {
        self.keys.store(Arc::new(secrets));
    }

    pub fn current(&self) -> Option<[u8; 16]> {
        self.keys.load().current
    }

    /// Classifies the COOKIE option `data` (option payload) from `client_ip` at `now`.
    pub fn check(&self, data: &[u8], client_ip: Option<IpAddr>, now: u32) -> CookieStatus {
        let Some(client) = data.get(..CLIENT_COOKIE_LEN).and_then(|c| <[u8; 8]>::try_from(c).ok()) else {
            return CookieStatus::Malformed;
        };
        let server = &data[CLIENT_COOKIE_LEN..];
        // 8 octets of client cookie, then nothing or 8..=32 octets of server cookie.
        if !server.is_empty() && !(8..=32).contains(&server.len()) {
            return CookieStatus::Malformed;
        }
        let (Some(ip), Ok(server)) = (client_ip, <&[u8; SERVER_COOKIE_LEN]>::try_from(server)) else {
            return CookieStatus::ClientOnly { client };
        };
        if server[0] != 1 || server[1..4] != [0, 0, 0] {
            return CookieStatus::ClientOnly { client };
        }
        let ts = u32::from_be_bytes([server[4], server[5], server[6], server[7]]);
        // RFC 1982-style window around now, wrap-safe.
        let age = now.wrapping_sub(ts);
        let fresh = age <= MAX_AGE_SECS || ts.wrapping_sub(now) <= MAX_FUTURE_SECS;
        if !fresh {
            return CookieStatus::ClientOnly { client };
        }
        let keys = self.keys.load();
        let valid = [keys.current, keys.previous]
            .into_iter()
            .flatten()
            .any(|k| constant_eq(&mint_with(&k, &client, ts, ip)[8..], &server[8..]));
        if valid {
            CookieStatus::Valid { client }
        } else {
            CookieStatus::ClientOnly { client }
        }
    }

    /// A fresh server cookie for `client` at `ip`, minted with the current secret.
    pub fn mint(&self, client: &[u8; 8], ip: IpAddr, now: u32) -> Option<[u8; SERVER_COOKIE_LEN]> {
        self.current().map(|k| mint_with(&k, client, now, ip))
    }
}

/// RFC 9018 4.2/4.4: the server cookie for `client` from `ip` at timestamp `ts`.
pub fn mint_with(secret: &[u8; 16], client: &[u8; 8], ts: u32, ip: IpAddr) -> [u8; SERVER_COOKIE_LEN] {
    let mut out = [0u8; SERVER_COOKIE_LEN];
    out[0] = 1;
    out[4..8].copy_from_slice(&ts.to_be_bytes());
    let mut h = SipHasher24::new_with_key(secret);
    h.write(client);
    h.write(&out[..8]);
    match ip {
        IpAddr::V4(a) => h.write(&a.octets()),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => h.write(&v4.octets()),
            None => h.write(&a.octets()),
        },
    }
    out[8..].copy_from_slice(&h.finish().to_le_bytes());
    out
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Copies the replicated secrets into [`CookieKeys`] after every applied entry.
pub struct CookieObserver(pub Arc<CookieKeys>);

impl StateObserver for CookieObserver {
    fn state_changed(
        &self,
        state: &State,
        _changed_zones: Option<&std::collections::BTreeSet<crate::model::Fqdn>>,
        _applied_index: u64,
    ) {
        if **self.0.keys.load() != state.cookie_secrets {
            self.0.set(state.cookie_secrets.clone());
        }
    }
}

/// A new random secret for `SetCookieSecret` (the proposer draws it, never apply).
pub fn random_secret() -> [u8; 16] {
    use rand::RngCore;
    let mut s = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut s);
    s
}

pub fn unix_now() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as u32).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(cur: u8, prev: Option<u8>) -> CookieKeys {
        CookieKeys::new(CookieSecrets { current: Some([cur; 16]), previous: prev.map(|p| [p; 16]), set_at: 0 })
    }

    #[test]
    fn rfc9018_appendix_a_vectors() {
        // RFC 9018 A.1: client 2464c4abcf10c957, IPv4 198.51.100.100, timestamp 1559731985,
        // secret e5e973e5a6b2a43f48e7dc849e37bfcf.
        let secret: [u8; 16] = hex::decode("e5e973e5a6b2a43f48e7dc849e37bfcf").unwrap().try_into().unwrap();
        let client: [u8; 8] = hex::decode("2464c4abcf10c957").unwrap().try_into().unwrap();
        let c = mint_with(&secret, &client, 1559731985, "198.51.100.100".parse().unwrap());
        assert_eq!(hex::encode(c), "010000005cf79f111f8130c3eee29480");
    }

    #[test]
    fn minted_cookies_validate_and_rotation_keeps_the_previous_secret() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let client = [7u8; 8];
        let old = keys(1, None);
        let server = old.mint(&client, ip, 1000).unwrap();
        let data = [&client[..], &server[..]].concat();
        assert!(old.check(&data, Some(ip), 1000).is_valid());
        assert!(keys(2, Some(1)).check(&data, Some(ip), 1010).is_valid());
        assert!(!keys(3, Some(2)).check(&data, Some(ip), 1010).is_valid());
        // Another address, a stale or future timestamp: not valid.
        assert!(!old.check(&data, Some("192.0.2.8".parse().unwrap()), 1000).is_valid());
        assert!(!old.check(&data, Some(ip), 1000 + MAX_AGE_SECS + 1).is_valid());
        assert!(!old.check(&data, Some(ip), 1000 - MAX_FUTURE_SECS - 1).is_valid());
    }

    #[test]
    fn sizes() {
        let k = keys(1, None);
        let ip = Some("192.0.2.1".parse().unwrap());
        assert_eq!(k.check(&[1; 7], ip, 0), CookieStatus::Malformed);
        assert_eq!(k.check(&[1; 15], ip, 0), CookieStatus::Malformed);
        assert_eq!(k.check(&[1; 41], ip, 0), CookieStatus::Malformed);
        assert_eq!(k.check(&[1; 8], ip, 0), CookieStatus::ClientOnly { client: [1; 8] });
        assert_eq!(k.check(&[1; 40], ip, 0), CookieStatus::ClientOnly { client: [1; 8] });
    }
}
