//! Zone transfers: AXFR and IXFR answers checked with hickory-proto, the ACL, TSIG.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use arc_swap::ArcSwap;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData as HRData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::*;
use crate::dns::tsig::{self, KeyRing, ResponseVerifier, TsigKey};
use crate::dns::xfr::{self, XfrConfig};
use crate::dns::{DnsServer, DnsServerConfig};
use crate::metrics::XFR_REQUESTS_TOTAL;
use crate::model::tsig::Algorithm;
use crate::model::ZoneTransfer;
use crate::state::Command;

const ORIGIN: &str = "xfr.test";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn create(origin: &str) -> Command {
    let o = fqdn(origin);
    Command::CreateZone {
        soa: SoaParams::defaults_for(&o),
        ns: vec![o.child("ns1").unwrap()],
        origin: o,
        ns_ttl: 3600,
        serial: None,
    }
}

fn set_a(name: &str, ips: &[[u8; 4]]) -> Command {
    Command::SetRecordSet {
        zone: fqdn(ORIGIN),
        name: fqdn(name),
        rtype: RType::A,
        ttl: 60,
        data: ips.iter().map(|ip| RData::A((*ip).into())).collect(),
    }
}

/// A zone with `hosts` A records, created through apply so it has a journal.
fn state_with(hosts: usize) -> State {
    let mut s = State::default();
    s.apply(&create(ORIGIN)).unwrap();
    let batch = (0..hosts)
        .map(|i| set_a(&format!("h{i}.{ORIGIN}"), &[[10, (i >> 16) as u8, (i >> 8) as u8, i as u8]]))
        .collect::<Vec<_>>();
    if !batch.is_empty() {
        s.apply(&Command::Batch(batch)).unwrap();
    }
    s
}

fn key() -> TsigKey {
    TsigKey::new(fqdn("xfr-key"), Algorithm::HmacSha256, SECRET.to_vec())
}

fn config(allow: &str, tsig: bool) -> XfrConfig {
    let t = ZoneTransfer {
        allow_transfer: vec![allow.parse().unwrap()],
        transfer_tsig: if tsig { vec![fqdn("xfr-key")] } else { vec![] },
        ..ZoneTransfer::default()
    };
    XfrConfig::with_keys(KeyRing::new([key()]), HashMap::from([(fqdn(ORIGIN), t)]))
}

fn xfr_query(qtype: RecordType, client_serial: Option<u32>) -> Vec<u8> {
    let mut m = query(&format!("{ORIGIN}."), qtype);
    m.metadata.recursion_desired = false;
    if let Some(serial) = client_serial {
        let n = Name::from_ascii(format!("{ORIGIN}.")).unwrap();
        let soa = SOA::new(n.clone(), n.clone(), serial, 0, 0, 0, 0);
        m.authorities.push(Record::from_rdata(n, 0, HRData::SOA(soa)));
    }
    bytes(&m)
}

/// Runs a transfer without sockets; returns the raw messages.
fn transfer(state: &State, cfg: &XfrConfig, q: &[u8], peer: &str) -> Vec<Vec<u8>> {
    let snap = DnsSnapshot::build(state);
    let job = xfr::prepare(&snap, cfg, q, peer.parse::<IpAddr>().unwrap(), tsig::now());
    let mut out = Vec::new();
    job.run(tsig::now(), &mut |m| {
        out.push(m);
        true
    });
    out
}

fn decode(msgs: &[Vec<u8>]) -> Vec<Record> {
    msgs.iter().flat_map(|m| Message::from_vec(m).expect("decodes").answers).collect()
}

fn serial_of(r: &Record) -> u32 {
    match &r.data {
        HRData::SOA(soa) => soa.serial,
        other => panic!("not an SOA: {other:?}"),
    }
}

fn counter(qtype: &str, outcome: &str) -> u64 {
    XFR_REQUESTS_TOTAL.with_label_values(&[qtype, outcome]).get()
}

#[test]
fn axfr_has_the_soa_first_and_last_and_every_record() {
    let state = state_with(5);
    let msgs = transfer(&state, &config("127.0.0.0/8", false), &xfr_query(RecordType::AXFR, None), "127.0.0.1");
    let rrs = decode(&msgs);
    let zone = &state.zones[&fqdn(ORIGIN)];
    assert_eq!(rrs.len(), zone.record_count() + 1, "every RR once, the SOA twice");
    assert_eq!(rrs[0].record_type(), RecordType::SOA);
    assert_eq!(rrs[rrs.len() - 1].record_type(), RecordType::SOA);
    assert_eq!(serial_of(&rrs[0]), zone.serial.0);
    assert_eq!(rrs.iter().filter(|r| r.record_type() == RecordType::A).count(), 5);
    let m = Message::from_vec(&msgs[0]).unwrap();
    assert!(m.metadata.authoritative);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
}

#[test]
fn a_big_zone_is_sent_in_several_messages_of_at_most_64k() {
    let state = state_with(20_000);
    let msgs = transfer(&state, &config("127.0.0.0/8", false), &xfr_query(RecordType::AXFR, None), "127.0.0.1");
    assert!(msgs.len() > 5, "{} messages", msgs.len());
    assert!(msgs.iter().all(|m| m.len() <= 65535));
    let rrs = decode(&msgs);
    assert_eq!(rrs.len(), state.zones[&fqdn(ORIGIN)].record_count() + 1);
    assert_eq!(rrs.last().unwrap().record_type(), RecordType::SOA);
}

#[test]
fn ixfr_sends_the_difference_sequence_from_the_client_serial() {
    let mut state = state_with(2);
    let old = state.zones[&fqdn(ORIGIN)].serial.0;
    state.apply(&set_a(&format!("h0.{ORIGIN}"), &[[192, 0, 2, 9]])).unwrap();
    let new = state.zones[&fqdn(ORIGIN)].serial.0;
    let before = counter("IXFR", "ixfr");
    let rrs =
        decode(&transfer(&state, &config("127.0.0.0/8", false), &xfr_query(RecordType::IXFR, Some(old)), "127.0.0.1"));
    let summary: Vec<(RecordType, String)> = rrs
        .iter()
        .map(|r| {
            (
                r.record_type(),
                if r.record_type() == RecordType::SOA { serial_of(r).to_string() } else { r.data.to_string() },
            )
        })
        .collect();
    let soa = |s: u32| (RecordType::SOA, s.to_string());
    assert_eq!(
        summary,
        vec![
            soa(new),
            soa(old),
            (RecordType::A, "10.0.0.0".into()),
            soa(new),
            (RecordType::A, "192.0.2.9".into()),
            soa(new)
        ]
    );
    assert_eq!(counter("IXFR", "ixfr"), before + 1);
}

#[test]
fn ixfr_for_the_current_serial_is_one_soa_and_an_unknown_serial_gets_the_full_zone() {
    let state = state_with(3);
    let zone = &state.zones[&fqdn(ORIGIN)];
    let cfg = config("127.0.0.0/8", false);
    let current = decode(&transfer(&state, &cfg, &xfr_query(RecordType::IXFR, Some(zone.serial.0)), "127.0.0.1"));
    assert_eq!(current.len(), 1);
    assert_eq!(serial_of(&current[0]), zone.serial.0);
    let full = decode(&transfer(
        &state,
        &cfg,
        &xfr_query(RecordType::IXFR, Some(zone.serial.0.wrapping_sub(1000))),
        "127.0.0.1",
    ));
    assert_eq!(full.len(), zone.record_count() + 1);
}

#[test]
fn ixfr_over_udp_gets_the_single_soa_and_axfr_over_udp_is_refused() {
    let state = state_with(3);
    let snap = DnsSnapshot::build(&state);
    let ixfr = answer(&snap, &xfr_query(RecordType::IXFR, Some(1)), &QueryContext::udp()).unwrap();
    let m = Message::from_vec(&ixfr).unwrap();
    assert_eq!(m.answers.len(), 1);
    assert_eq!(serial_of(&m.answers[0]), state.zones[&fqdn(ORIGIN)].serial.0);
    let axfr = answer(&snap, &xfr_query(RecordType::AXFR, None), &QueryContext::udp()).unwrap();
    assert_eq!(Message::from_vec(&axfr).unwrap().metadata.response_code, ResponseCode::Refused);
}

#[test]
fn a_source_outside_the_acl_is_refused_and_counted() {
    let state = state_with(1);
    let before = counter("AXFR", "refused");
    let msgs = transfer(&state, &config("192.0.2.0/24", false), &xfr_query(RecordType::AXFR, None), "127.0.0.1");
    assert_eq!(msgs.len(), 1);
    let m = Message::from_vec(&msgs[0]).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert!(m.answers.is_empty());
    assert_eq!(counter("AXFR", "refused"), before + 1);
}

#[test]
fn tsig_signed_axfr_is_allowed_and_every_message_verifies() {
    let state = state_with(20_000);
    let mut q = xfr_query(RecordType::AXFR, None);
    let now = tsig::now();
    let request_mac = tsig::sign_request(&mut q, &key(), now);
    let msgs = transfer(&state, &config("192.0.2.0/24", true), &q, "127.0.0.1");
    assert!(msgs.len() > 1);
    let mut verifier = ResponseVerifier::new(Arc::new(key()), request_mac);
    for m in &msgs {
        verifier.verify(m, now).expect("each message is signed in sequence");
    }
    // A message tampered with, or out of order, fails.
    let mut verifier = ResponseVerifier::new(Arc::new(key()), vec![0; 32]);
    assert_eq!(verifier.verify(&msgs[0], now), Err(tsig::error::BADSIG));
}

#[test]
fn a_bad_tsig_gets_notauth_with_badsig_and_an_unknown_key_badkey() {
    let state = state_with(1);
    let before = counter("AXFR", "bad_tsig");
    let wrong = TsigKey::new(fqdn("xfr-key"), Algorithm::HmacSha256, b"another secret of enough length".to_vec());
    let unknown = TsigKey::new(fqdn("who"), Algorithm::HmacSha256, SECRET.to_vec());
    for (k, code) in [(wrong, tsig::error::BADSIG), (unknown, tsig::error::BADKEY)] {
        let mut q = xfr_query(RecordType::AXFR, None);
        tsig::sign_request(&mut q, &k, tsig::now());
        let msgs = transfer(&state, &config("127.0.0.0/8", true), &q, "127.0.0.1");
        assert_eq!(msgs.len(), 1);
        let m = &msgs[0];
        assert_eq!(m[3] & 0x0f, xfr::NOTAUTH as u8);
        let layout = crate::dns::rr::layout(m).unwrap();
        let t = tsig::find(m, &layout).unwrap().expect("a TSIG RR with the error");
        assert_eq!((t.error, t.mac.len()), (code, 0));
    }
    assert_eq!(counter("AXFR", "bad_tsig"), before + 2);
}

#[test]
fn a_key_swapped_into_the_shared_ring_may_transfer_a_zone_that_lists_it() {
    let state = state_with(1);
    let t = ZoneTransfer { transfer_tsig: vec![fqdn("xfr-key")], ..ZoneTransfer::default() };
    let cfg = XfrConfig::with_keys(KeyRing::default(), HashMap::from([(fqdn(ORIGIN), t)]));
    let signed = || {
        let mut q = xfr_query(RecordType::AXFR, None);
        tsig::sign_request(&mut q, &key(), tsig::now());
        q
    };
    let before = transfer(&state, &cfg, &signed(), "192.0.2.1");
    assert_eq!(before[0][3] & 0x0f, xfr::NOTAUTH as u8, "unknown key: BADKEY");
    // What KeyRingPublisher does when a replicated key is created.
    cfg.keys.store(Arc::new(KeyRing::new([key()])));
    let after = transfer(&state, &cfg, &signed(), "192.0.2.1");
    assert_eq!(after[0][3] & 0x0f, 0, "the key now verifies and the zone allows it");
    let unsigned = transfer(&state, &cfg, &xfr_query(RecordType::AXFR, None), "192.0.2.1");
    assert_eq!(unsigned[0][3] & 0x0f, 5, "unsigned from outside allow_transfer: REFUSED");
}

async fn read_raw(stream: &mut TcpStream) -> Vec<u8> {
    let len = stream.read_u16().await.expect("length prefix") as usize;
    let mut buf = vec![0; len];
    stream.read_exact(&mut buf).await.expect("message");
    buf
}

#[tokio::test]
async fn axfr_over_tcp_streams_the_zone_and_the_connection_stays_usable() {
    let state = state_with(3000);
    let snap = Arc::new(ArcSwap::from_pointee(DnsSnapshot::build(&state)));
    let cfg = DnsServerConfig { xfr: Arc::new(config("127.0.0.0/8", false)), ..DnsServerConfig::default() };
    let server = DnsServer::bind_with("127.0.0.1:0".parse().unwrap(), snap, cfg).unwrap();
    let addr: SocketAddr = server.local_addr();
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(server.run(rx));
    let mut s = TcpStream::connect(addr).await.unwrap();
    let q = xfr_query(RecordType::AXFR, None);
    s.write_all(&[(q.len() as u16).to_be_bytes().to_vec(), q].concat()).await.unwrap();
    let mut rrs = Vec::new();
    let mut soas = 0;
    while soas < 2 {
        let m = Message::from_vec(&read_raw(&mut s).await).unwrap();
        soas += m.answers.iter().filter(|r| r.record_type() == RecordType::SOA).count();
        rrs.extend(m.answers);
    }
    assert_eq!(rrs.len(), state.zones[&fqdn(ORIGIN)].record_count() + 1);
    // An ordinary query on the same connection after the transfer.
    let q = bytes(&query(&format!("h1.{ORIGIN}."), RecordType::A));
    s.write_all(&[(q.len() as u16).to_be_bytes().to_vec(), q].concat()).await.unwrap();
    let m = Message::from_vec(&read_raw(&mut s).await).unwrap();
    assert_eq!(m.answers.len(), 1);
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}
