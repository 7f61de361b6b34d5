//! RFC 2136 UPDATE messages on the wire, built by hand (so a test can send what no
//! well-behaved client would), and one exchange with a server over UDP or TCP.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use quorumdns::model::{Fqdn, RData};
use quorumdns::state::rfc2136::{Prereq, UpdateOp};

const CLASS_IN: u16 = 1;
const CLASS_NONE: u16 = 254;
const CLASS_ANY: u16 = 255;
const TYPE_ANY: u16 = 255;
const TYPE_SOA: u16 = 6;

fn rr(out: &mut Vec<u8>, name: &Fqdn, rtype: u16, class: u16, ttl: u32, data: Option<&RData>) {
    name.write_wire(out);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    let mut rdata = Vec::new();
    if let Some(d) = data {
        d.write_wire(&mut rdata);
    }
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&rdata);
}

/// An UPDATE message (RFC 2136 §2) for `zone`; `soa_add` appends an SOA update, which
/// the server must ignore (the serial is the cluster's).
pub(crate) fn message(id: u16, zone: &Fqdn, prereqs: &[Prereq], ops: &[UpdateOp], soa_add: bool) -> Vec<u8> {
    let mut m = Vec::with_capacity(512);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[5 << 3, 0]);
    let upcount = ops.len() + usize::from(soa_add);
    let prcount: usize = prereqs.iter().map(|p| if let Prereq::RrsetEquals(_, _, d) = p { d.len() } else { 1 }).sum();
    for count in [1, prcount, upcount, 0] {
        m.extend_from_slice(&(count as u16).to_be_bytes());
    }
    zone.write_wire(&mut m);
    m.extend_from_slice(&TYPE_SOA.to_be_bytes());
    m.extend_from_slice(&CLASS_IN.to_be_bytes());
    for p in prereqs {
        match p {
            Prereq::NameInUse(n) => rr(&mut m, n, TYPE_ANY, CLASS_ANY, 0, None),
            Prereq::NameNotInUse(n) => rr(&mut m, n, TYPE_ANY, CLASS_NONE, 0, None),
            Prereq::RrsetExists(n, t) => rr(&mut m, n, *t, CLASS_ANY, 0, None),
            Prereq::RrsetNotExists(n, t) => rr(&mut m, n, *t, CLASS_NONE, 0, None),
            Prereq::RrsetEquals(n, t, data) => data.iter().for_each(|d| rr(&mut m, n, t.code(), CLASS_IN, 0, Some(d))),
        }
    }
    for op in ops {
        match op {
            UpdateOp::Add { name, ttl, data } => rr(&mut m, name, data.rtype().code(), CLASS_IN, *ttl, Some(data)),
            UpdateOp::DeleteRrset { name, rtype } => rr(&mut m, name, rtype.code(), CLASS_ANY, 0, None),
            UpdateOp::DeleteName { name } => rr(&mut m, name, TYPE_ANY, CLASS_ANY, 0, None),
            UpdateOp::DeleteRr { name, data } => rr(&mut m, name, data.rtype().code(), CLASS_NONE, 0, Some(data)),
        }
    }
    if soa_add {
        // Our RData has no SOA variant: the SOA RDATA by hand.
        let mut rdata = Vec::new();
        zone.child("ns1").expect("label").write_wire(&mut rdata);
        zone.child("hostmaster").expect("label").write_wire(&mut rdata);
        for v in [4_000_000_000u32, 3600, 600, 86400, 60] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        zone.write_wire(&mut m);
        m.extend_from_slice(&TYPE_SOA.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m.extend_from_slice(&60u32.to_be_bytes());
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(&rdata);
    }
    m
}

/// Sends one message and returns the answer's rcode (no retry: UPDATE is not idempotent).
pub(crate) fn exchange(server: SocketAddr, msg: &[u8], tcp: bool) -> u16 {
    let timeout = Some(Duration::from_secs(15));
    let resp = if tcp {
        let mut s = TcpStream::connect(server).expect("tcp connect");
        s.set_read_timeout(timeout).expect("timeout");
        s.write_all(&(msg.len() as u16).to_be_bytes()).expect("tcp write");
        s.write_all(msg).expect("tcp write");
        let mut len = [0u8; 2];
        s.read_exact(&mut len).expect("tcp answer length");
        let mut buf = vec![0; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).expect("tcp answer");
        buf
    } else {
        let s = UdpSocket::bind("127.0.0.1:0").expect("udp bind");
        s.set_read_timeout(timeout).expect("timeout");
        s.send_to(msg, server).expect("udp send");
        let mut buf = vec![0; 65535];
        let n = s.recv(&mut buf).expect("udp answer (no retry)");
        buf.truncate(n);
        buf
    };
    assert!(resp.len() >= 12 && resp[..2] == msg[..2] && resp[2] & 0x80 != 0, "an UPDATE answer with our id");
    u16::from(resp[3] & 0x0f)
}
