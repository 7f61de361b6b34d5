//! Malformed DNS packets get FORMERR or silence, never a crash, and the node keeps serving.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use crate::support::{Node, Rcode};

/// A valid query for `www.dyn.example.test A`, id 0x1234.
fn query() -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in ["www", "dyn", "example", "test"] {
        q.push(l.len() as u8);
        q.extend_from_slice(l.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// Sends over UDP; returns the response's rcode, or None when the server stayed silent.
fn udp_rcode(node: &Node, packet: &[u8]) -> Option<u8> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    sock.send_to(packet, node.dns).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).ok()?;
    assert!(n >= 12, "a response has at least a header");
    assert_eq!(&buf[..2], &packet[..2], "id echoed");
    assert!(buf[2] & 0x80 != 0, "QR set");
    Some(buf[3] & 0x0f)
}

const FORMERR: u8 = 1;

#[tokio::test]
async fn malformed_packets_get_formerr_or_are_dropped_and_the_node_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(dir.path());
    let good = query();

    // Truncated header: nothing to answer to.
    assert_eq!(udp_rcode(&node, &good[..7]), None);
    // QDCOUNT 0 and 2.
    let mut q0 = good[..12].to_vec();
    q0[5] = 0;
    assert_eq!(udp_rcode(&node, &q0), Some(FORMERR));
    let mut q2 = good.clone();
    q2[5] = 2;
    assert_eq!(udp_rcode(&node, &q2), Some(FORMERR));
    // A compression pointer loop in the question name.
    let mut looped = good[..12].to_vec();
    looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(udp_rcode(&node, &looped), Some(FORMERR));
    // Junk after the question.
    let mut junk = good.clone();
    junk.extend_from_slice(b"garbage!");
    assert_eq!(udp_rcode(&node, &junk), Some(FORMERR));
    // Name running past the end of the packet.
    let mut cut = good.clone();
    cut.truncate(20);
    assert_eq!(udp_rcode(&node, &cut), Some(FORMERR));
    // A response (QR=1) is never answered: no reflection loops.
    let mut resp = good.clone();
    resp[2] |= 0x80;
    assert_eq!(udp_rcode(&node, &resp), None);
    // Random junk of many sizes.
    let mut seed = 0x9e3779b9u32;
    for len in 0..300 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.send_to(&bytes, node.dns).unwrap();
    }

    // Over TCP: a bogus length prefix followed by junk, then a good query on a new connection.
    if let Ok(mut s) = TcpStream::connect(node.dns) {
        let _ = s.write_all(&[0xff, 0xff, 1, 2, 3]);
        drop(s);
    }
    let mut s = TcpStream::connect(node.dns).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut framed = (good.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&good);
    s.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    assert_eq!(body[3] & 0x0f, 3, "NXDOMAIN for www over TCP after the junk");

    assert!(node.is_running(), "still running");
    assert_eq!(udp_rcode(&node, &good), Some(3), "www does not exist in the fresh zone: NXDOMAIN");
    assert_eq!(node.dig(&["dyn.example.test", "SOA"]).rcode, Rcode::NoError);
}
