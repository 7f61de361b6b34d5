//! The real transports on loopback, port 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::watch;

use super::*;
use crate::dns::{DnsServer, DnsServerConfig};

async fn start(
    config: DnsServerConfig,
) -> (SocketAddr, watch::Sender<bool>, tokio::task::JoinHandle<std::io::Result<()>>) {
    let snap = Arc::new(ArcSwap::from_pointee(example_snapshot()));
    let server = DnsServer::bind_with("127.0.0.1:0".parse().unwrap(), snap, config).expect("bind");
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(server.run(rx));
    (addr, tx, task)
}

async fn read_framed(stream: &mut TcpStream) -> Message {
    let len = stream.read_u16().await.expect("length prefix") as usize;
    let mut buf = vec![0; len];
    stream.read_exact(&mut buf).await.expect("message");
    Message::from_vec(&buf).expect("decodes")
}

fn framed(m: &Message) -> Vec<u8> {
    let b = bytes(m);
    [(b.len() as u16).to_be_bytes().to_vec(), b].concat()
}

#[tokio::test]
async fn udp_and_pipelined_tcp_queries_are_answered_on_the_same_port() {
    let (addr, stop, task) = start(DnsServerConfig::default()).await;

    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.send_to(&bytes(&query("www.example.test.", RecordType::A)), addr).await.unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), udp.recv_from(&mut buf)).await.unwrap().unwrap();
    let m = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(m.answers.len(), 1);
    assert!(m.metadata.authoritative);

    // Two queries in one write: both answered, in order, on one connection.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut q1 = query("big.example.test.", RecordType::TXT);
    q1.metadata.id = 1;
    let mut q2 = query("nope.example.test.", RecordType::A);
    q2.metadata.id = 2;
    tcp.write_all(&[framed(&q1), framed(&q2)].concat()).await.unwrap();
    let r1 = tokio::time::timeout(Duration::from_secs(5), read_framed(&mut tcp)).await.unwrap();
    let r2 = tokio::time::timeout(Duration::from_secs(5), read_framed(&mut tcp)).await.unwrap();
    assert_eq!((r1.metadata.id, r1.answers.len(), r1.metadata.truncation), (1, 20, false));
    assert_eq!((r2.metadata.id, r2.metadata.response_code), (2, ResponseCode::NXDomain));

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn idle_tcp_connection_is_closed_after_the_timeout() {
    let config = DnsServerConfig { tcp_idle_timeout: Duration::from_millis(200), ..DnsServerConfig::default() };
    let (addr, _stop, _task) = start(config).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 1];
    // The server closes: read returns EOF (0) well before our own deadline.
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await.expect("closed by the server");
    assert_eq!(n.unwrap_or(0), 0);
}

#[tokio::test]
async fn connections_over_the_limit_are_closed() {
    let config = DnsServerConfig { max_tcp_connections: 1, ..DnsServerConfig::default() };
    let (addr, _stop, _task) = start(config).await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(&framed(&query("www.example.test.", RecordType::A))).await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), read_framed(&mut first)).await.unwrap();
    let mut second = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), second.read(&mut buf)).await.expect("closed");
    assert_eq!(n.unwrap_or(0), 0);
}
