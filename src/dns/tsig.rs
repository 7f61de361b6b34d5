//! TSIG (RFC 8945) over raw wire bytes: verify signed requests, sign responses (including
//! every message of a multi-message zone transfer, §5.3.1), and sign requests (NOTIFY,
//! tests; the DNS UPDATE work reuses the same calls).
//!
//! hmac-md5 and hmac-sha1 (the defaults of several ACME clients) and hmac-sha256/384/512
//! are offered. MACs are compared in constant time; truncated
//! MACs are not accepted. Key material is never printed (`Debug` is redacted).

use std::collections::HashMap;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Sha256, Sha384, Sha512};
use subtle::ConstantTimeEq;

use super::rr::{self, RrPos};
use crate::model::tsig::Algorithm;
use crate::model::Fqdn;

pub const TYPE_TSIG: u16 = 250;
const CLASS_ANY: u16 = 255;
/// Allowed clock difference, seconds (RFC 8945 §10 recommends 300).
pub const FUDGE: u16 = 300;

/// TSIG error codes (RFC 8945 §3).
pub mod error {
    pub const NOERROR: u16 = 0;
    pub const BADSIG: u16 = 16;
    pub const BADKEY: u16 = 17;
    pub const BADTIME: u16 = 18;
}

/// The MAC of `parts` under `secret` with `algorithm`.
fn mac(algorithm: Algorithm, secret: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(secret: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        // HMAC takes keys of any length: new_from_slice cannot fail here.
        let Ok(mut m) = <M as hmac::digest::KeyInit>::new_from_slice(secret) else { return Vec::new() };
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().to_vec()
    }
    match algorithm {
        Algorithm::HmacMd5 => run::<Hmac<Md5>>(secret, parts),
        Algorithm::HmacSha1 => run::<Hmac<Sha1>>(secret, parts),
        Algorithm::HmacSha256 => run::<Hmac<Sha256>>(secret, parts),
        Algorithm::HmacSha384 => run::<Hmac<Sha384>>(secret, parts),
        Algorithm::HmacSha512 => run::<Hmac<Sha512>>(secret, parts),
    }
}

/// A shared key. Its name is compared in lowercase wire form.
#[derive(Clone)]
pub struct TsigKey {
    pub name: Fqdn,
    pub algorithm: Algorithm,
    secret: Vec<u8>,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TsigKey({} {}, <redacted>)", self.name, self.algorithm.as_str())
    }
}

impl TsigKey {
    pub fn new(name: Fqdn, algorithm: Algorithm, secret: Vec<u8>) -> TsigKey {
        TsigKey { name, algorithm, secret }
    }
}

/// The keys this node knows, by lowercase wire name.
#[derive(Clone, Debug, Default)]
pub struct KeyRing(HashMap<Vec<u8>, Arc<TsigKey>>);

impl KeyRing {
    pub fn new(keys: impl IntoIterator<Item = TsigKey>) -> KeyRing {
        KeyRing(keys.into_iter().map(|k| (k.name.to_wire(), Arc::new(k))).collect())
    }
    pub fn get(&self, wire_name: &[u8]) -> Option<&Arc<TsigKey>> {
        self.0.get(wire_name)
    }
    /// Every key, in no particular order.
    pub fn keys_list(&self) -> Vec<TsigKey> {
        self.0.values().map(|k| TsigKey::clone(k)).collect()
    }
}

/// The TSIG RR of a message, parsed.
#[derive(Clone, Debug)]
pub struct TsigRr {
    /// Where the RR starts: everything before it is the signed message.
    pub start: usize,
    pub key_name: Vec<u8>,
    pub algorithm: Vec<u8>,
    pub time_signed: u64,
    pub fudge: u16,
    pub mac: Vec<u8>,
    pub original_id: u16,
    pub error: u16,
    pub other: Vec<u8>,
}

/// A TSIG RR that is not the last record, or does not parse: answer FORMERR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("misplaced or malformed TSIG record")]
pub struct MalformedTsig;

/// The TSIG RR, if the message has one.
pub fn find(msg: &[u8], layout: &rr::Layout) -> Result<Option<TsigRr>, MalformedTsig> {
    let Some(last) = layout.rrs.last() else { return Ok(None) };
    let tsigs = layout.rrs.iter().filter(|r| r.rtype == TYPE_TSIG).count();
    if tsigs == 0 {
        return Ok(None);
    }
    if tsigs > 1 || last.rtype != TYPE_TSIG || last.section != 2 {
        return Err(MalformedTsig);
    }
    parse_rr(msg, last).ok_or(MalformedTsig).map(Some)
}

fn parse_rr(msg: &[u8], r: &RrPos) -> Option<TsigRr> {
    let key_name = rr::read_name(msg, r.start)?;
    let (mut p, end) = r.rdata;
    let algorithm = rr::read_name(msg, p)?;
    p = rr::skip_name(msg, p)?;
    let field = |at: usize, len: usize| msg.get(at..at + len).filter(|_| at + len <= end);
    let t = field(p, 6)?;
    let time_signed = t.iter().fold(0u64, |acc, b| (acc << 8) | *b as u64);
    let u16_at = |at: usize| field(at, 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let fudge = u16_at(p + 6)?;
    let mac_len = u16_at(p + 8)? as usize;
    let mac = field(p + 10, mac_len)?.to_vec();
    p += 10 + mac_len;
    let original_id = u16_at(p)?;
    let error = u16_at(p + 2)?;
    let other_len = u16_at(p + 4)? as usize;
    let other = field(p + 6, other_len)?.to_vec();
    (p + 6 + other_len == end).then_some(())?;
    Some(TsigRr { start: r.start, key_name, algorithm, time_signed, fudge, mac, original_id, error, other })
}

/// The message as it was before the TSIG RR was added: ARCOUNT one less, original ID.
fn unsigned_prefix(msg: &[u8], t: &TsigRr) -> Vec<u8> {
    let mut m = msg[..t.start].to_vec();
    m[0..2].copy_from_slice(&t.original_id.to_be_bytes());
    let ar = u16::from_be_bytes([m[10], m[11]]).saturating_sub(1);
    m[10..12].copy_from_slice(&ar.to_be_bytes());
    m
}

fn time48(t: u64) -> [u8; 6] {
    let b = t.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// TSIG variables (RFC 8945 §4.3.3) in the order they are digested.
fn variables(key_name: &[u8], algorithm: &[u8], time: u64, fudge: u16, error: u16, other: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(key_name.len() + algorithm.len() + 24 + other.len());
    v.extend_from_slice(key_name);
    v.extend_from_slice(&CLASS_ANY.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(algorithm);
    v.extend_from_slice(&time48(time));
    v.extend_from_slice(&fudge.to_be_bytes());
    v.extend_from_slice(&error.to_be_bytes());
    v.extend_from_slice(&(other.len() as u16).to_be_bytes());
    v.extend_from_slice(other);
    v
}

fn mac_prefix(mac: &[u8]) -> Vec<u8> {
    let mut p = (mac.len() as u16).to_be_bytes().to_vec();
    p.extend_from_slice(mac);
    p
}

/// The outcome of checking a request's TSIG.
#[derive(Clone, Debug)]
pub enum Verified {
    /// No TSIG RR.
    Unsigned,
    /// Signed with a known key and a valid MAC, inside the time window.
    Valid { key: Arc<TsigKey>, request_mac: Vec<u8> },
    /// Signed, but refused: answer NOTAUTH with this TSIG error (RFC 8945 §5.2).
    Invalid { error: u16, tsig: TsigRr, key: Option<Arc<TsigKey>> },
}

/// Checks a request's TSIG. `now` is the current time in seconds since the epoch.
pub fn verify_request(msg: &[u8], tsig: Option<TsigRr>, keys: &KeyRing, now: u64) -> Verified {
    let Some(t) = tsig else { return Verified::Unsigned };
    let Some(key) = keys.get(&t.key_name).filter(|k| k.algorithm.wire() == t.algorithm).cloned() else {
        return Verified::Invalid { error: error::BADKEY, tsig: t, key: None };
    };
    let body = unsigned_prefix(msg, &t);
    let vars = variables(&t.key_name, &t.algorithm, t.time_signed, t.fudge, t.error, &t.other);
    let expected = mac(key.algorithm, &key.secret, &[&body, &vars]);
    if expected.len() != t.mac.len() || !bool::from(expected.ct_eq(&t.mac)) {
        return Verified::Invalid { error: error::BADSIG, tsig: t, key: Some(key) };
    }
    if now.abs_diff(t.time_signed) > t.fudge as u64 {
        return Verified::Invalid { error: error::BADTIME, tsig: t, key: Some(key) };
    }
    Verified::Valid { request_mac: t.mac, key }
}

/// Appends a TSIG RR to `msg` (whose ID is the original ID) and bumps ARCOUNT.
fn append_rr(msg: &mut Vec<u8>, key_name: &[u8], algorithm: &[u8], time: u64, mac: &[u8], error: u16, other: &[u8]) {
    let id = [msg[0], msg[1]];
    msg.extend_from_slice(key_name);
    msg.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    msg.extend_from_slice(&CLASS_ANY.to_be_bytes());
    msg.extend_from_slice(&0u32.to_be_bytes());
    let rdlen = algorithm.len() + 16 + mac.len() + other.len();
    msg.extend_from_slice(&(rdlen as u16).to_be_bytes());
    msg.extend_from_slice(algorithm);
    msg.extend_from_slice(&time48(time));
    msg.extend_from_slice(&FUDGE.to_be_bytes());
    msg.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    msg.extend_from_slice(mac);
    msg.extend_from_slice(&id);
    msg.extend_from_slice(&error.to_be_bytes());
    msg.extend_from_slice(&(other.len() as u16).to_be_bytes());
    msg.extend_from_slice(other);
    let ar = u16::from_be_bytes([msg[10], msg[11]]).saturating_add(1);
    msg[10..12].copy_from_slice(&ar.to_be_bytes());
}

/// Signs a request; returns its MAC (needed to verify the response).
pub fn sign_request(msg: &mut Vec<u8>, key: &TsigKey, now: u64) -> Vec<u8> {
    let (name, alg) = (key.name.to_wire(), key.algorithm.wire());
    let vars = variables(&name, &alg, now, FUDGE, error::NOERROR, &[]);
    let mac = mac(key.algorithm, &key.secret, &[msg, &vars]);
    append_rr(msg, &name, &alg, now, &mac, error::NOERROR, &[]);
    mac
}

/// Signs the messages of one response in order: the first with the request MAC and all
/// variables, the following ones with the previous MAC and the timers only (§5.3.1).
pub struct ResponseSigner {
    key: Arc<TsigKey>,
    prior_mac: Vec<u8>,
    first: bool,
}

impl ResponseSigner {
    pub fn new(key: Arc<TsigKey>, request_mac: Vec<u8>) -> Self {
        ResponseSigner { key, prior_mac: request_mac, first: true }
    }

    /// Signs one complete message (header counts final) in place.
    pub fn sign(&mut self, msg: &mut Vec<u8>, now: u64) {
        let (name, alg) = (self.key.name.to_wire(), self.key.algorithm.wire());
        let prior = mac_prefix(&self.prior_mac);
        let vars = if self.first {
            variables(&name, &alg, now, FUDGE, error::NOERROR, &[])
        } else {
            let mut timers = time48(now).to_vec();
            timers.extend_from_slice(&FUDGE.to_be_bytes());
            timers
        };
        let mac = mac(self.key.algorithm, &self.key.secret, &[&prior, msg, &vars]);
        append_rr(msg, &name, &alg, now, &mac, error::NOERROR, &[]);
        self.prior_mac = mac;
        self.first = false;
    }
}

/// Appends the TSIG RR of an error answer to a refused signed request (RFC 8945 §5.2.3):
/// unsigned for BADKEY/BADSIG, signed with the server's time for BADTIME.
pub fn append_error(msg: &mut Vec<u8>, error_code: u16, request: &TsigRr, key: Option<&TsigKey>, now: u64) {
    match key.filter(|_| error_code == error::BADTIME) {
        Some(key) => {
            let other = time48(now);
            let prior = mac_prefix(&request.mac);
            let vars = variables(&request.key_name, &request.algorithm, request.time_signed, FUDGE, error_code, &other);
            let mac = mac(key.algorithm, &key.secret, &[&prior, msg, &vars]);
            append_rr(msg, &request.key_name, &request.algorithm, request.time_signed, &mac, error_code, &other);
        }
        None => append_rr(msg, &request.key_name, &request.algorithm, request.time_signed, &[], error_code, &[]),
    }
}

/// Verifies the messages of a signed response in order (client side: tests, and the
/// NOTIFY/UPDATE clients). Returns the TSIG error on failure.
pub struct ResponseVerifier {
    key: Arc<TsigKey>,
    prior_mac: Vec<u8>,
    first: bool,
}

impl ResponseVerifier {
    pub fn new(key: Arc<TsigKey>, request_mac: Vec<u8>) -> Self {
        ResponseVerifier { key, prior_mac: request_mac, first: true }
    }

    pub fn verify(&mut self, msg: &[u8], now: u64) -> Result<(), u16> {
        let layout = rr::layout(msg).ok_or(error::BADSIG)?;
        let t = find(msg, &layout).map_err(|_| error::BADSIG)?.ok_or(error::BADSIG)?;
        if t.error != error::NOERROR {
            return Err(t.error);
        }
        let body = unsigned_prefix(msg, &t);
        let prior = mac_prefix(&self.prior_mac);
        let vars = if self.first {
            variables(&t.key_name, &t.algorithm, t.time_signed, t.fudge, t.error, &t.other)
        } else {
            let mut timers = time48(t.time_signed).to_vec();
            timers.extend_from_slice(&t.fudge.to_be_bytes());
            timers
        };
        let expected = mac(self.key.algorithm, &self.key.secret, &[&prior, &body, &vars]);
        if expected.len() != t.mac.len() || !bool::from(expected.ct_eq(&t.mac)) {
            return Err(error::BADSIG);
        }
        if now.abs_diff(t.time_signed) > t.fudge as u64 {
            return Err(error::BADTIME);
        }
        self.prior_mac = t.mac;
        self.first = false;
        Ok(())
    }
}

/// Seconds since the epoch, for TSIG times.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
